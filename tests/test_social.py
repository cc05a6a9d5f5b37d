"""Tests of valint.social: the caregiver's reward per condition and the ISR's pay modes, with
values worked out by hand from PAPER.md §1, §3, §4 and §5."""
from __future__ import annotations

import numpy as np
import pytest

from valint import social

# Four steps of one run each: a goal step (R_e = 0: the move onto the goal pays R_s instead of
# the cost), a blocked or plain forward move (R_e = -0.045), a turn (R_e = 0) and a forward move
# on which the ISR predicts just above the 0.2 gate.
ENV_REWARD = np.array([0.0, -0.045, 0.0, -0.045], np.float32)
GOAL = np.array([True, False, False, False])
ISR = np.array([0.35, 0.05, 0.0, 0.21], np.float32)


def reward(condition: str, phase: int, mode: str = "add") -> np.ndarray:
    return social.condition_reward(condition, env_reward=ENV_REWARD, goal_reached=GOAL,
                                   internal_reward=ISR, pay_mode=mode, phase=phase)


@pytest.mark.parametrize("condition", ["oracle", "none", "isr", "frozen"])
def test_phase1_pays_the_caregivers_reward_whatever_the_condition(condition):
    np.testing.assert_allclose(reward(condition, 1), [0.4, -0.045, 0.0, -0.045])


def test_phase2_caregiver_stays_for_oracle_and_frozen_and_leaves_for_none():
    np.testing.assert_allclose(reward("oracle", 2), [0.4, -0.045, 0.0, -0.045])
    # frozen keeps training with the caregiver (PAPER.md §5: the name is a misnomer).
    np.testing.assert_allclose(reward("frozen", 2), [0.4, -0.045, 0.0, -0.045])
    # none: the goal pays nothing, the costs remain.
    np.testing.assert_allclose(reward("none", 2), [0.0, -0.045, 0.0, -0.045])


def test_caregiver_presence_per_condition_and_phase():
    assert [social.caregiver_present(c, 1) for c in social.CONDITIONS] == [1.0] * 4
    assert {c: social.caregiver_present(c, 2) for c in social.CONDITIONS} == {
        "oracle": 1.0, "none": 0.0, "isr": 0.0, "frozen": 1.0}
    with pytest.raises(ValueError, match="condition='absent' is not allowed"):
        social.caregiver_present("absent", 2)


def test_isr_pay_add_gate_replace_by_hand():
    # add: R_e + R_i on every step, no external 0.4.
    np.testing.assert_allclose(reward("isr", 2, "add"), [0.35, 0.005, 0.0, 0.165], atol=1e-7)
    # gate: R_i where R_i > 0.2, else R_e (0.21 passes, 0.05 does not).
    np.testing.assert_allclose(reward("isr", 2, "gate"), [0.35, -0.045, 0.0, 0.21], atol=1e-7)
    # replace: R_i alone.
    np.testing.assert_allclose(reward("isr", 2, "replace"), [0.35, 0.05, 0.0, 0.21], atol=1e-7)


def test_gate_threshold_is_strict_at_0_2():
    at = social.isr_pay(np.array([-0.045], np.float32), np.array([0.2], np.float32), "gate")
    above = social.isr_pay(np.array([-0.045], np.float32), np.array([0.2001], np.float32),
                           "gate")
    assert social.ISR_GATE_THRESHOLD == 0.2
    np.testing.assert_allclose(at, [-0.045])
    np.testing.assert_allclose(above, [0.2001])


def test_mixed_conditions_and_pay_modes_in_one_batch():
    conditions = np.array(["oracle", "none", "isr", "isr"])
    modes = np.array(["add", "add", "gate", "replace"])
    env = np.array([0.0, 0.0, -0.045, -0.045], np.float32)
    goal = np.array([True, True, False, False])
    internal = np.array([0.3, 0.3, 0.1, 0.1], np.float32)
    got = social.condition_reward(conditions, env_reward=env, goal_reached=goal,
                                  internal_reward=internal, pay_mode=modes, phase=2)
    np.testing.assert_allclose(got, [0.4, 0.0, -0.045, 0.1], atol=1e-7)


def test_utility_is_the_mdp_sr_formula():
    # U = R_e + P R_s + (1 - P) R_i
    present = social.utility(ENV_REWARD, GOAL, ISR, 1.0)
    absent = social.utility(ENV_REWARD, GOAL, ISR, 0.0)
    np.testing.assert_allclose(present, [0.4, -0.045, 0.0, -0.045])
    np.testing.assert_allclose(absent, ENV_REWARD + ISR, atol=1e-7)


def test_unknown_pay_mode_names_the_parameter():
    with pytest.raises(ValueError, match="isr_pay='double' is not allowed"):
        social.isr_pay(ENV_REWARD, ISR, "double")
