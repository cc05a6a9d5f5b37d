"""The caregiver and the MDP with social rewards (MDP-SR), PAPER.md §1, §4, §5.

The learner's utility is

    U = R_e + P * R_s + (1 - P) * R_i

with R_e the world's own reward (an effort cost per forward move), R_s the caregiver's social
reward, P = 1 while the caregiver is present and 0 once it has left, and R_i the internalized
social reward (ISR) model's prediction. The worlds (``valint.envs``, ``valint.prosocial``)
report R_e and whether the goal was reached; everything social is computed here, by small
array functions that the experiments and the registered gymnasium environments share.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from valint.config import CONDITIONS, PAY_MODES, check_choice

SOCIAL_REWARD = 0.4
"""R_s: the caregiver's reward for reaching the goal (single agent) or for the partner reaching
its goal (prosocial world), PAPER.md §3, §7."""

ISR_GATE_THRESHOLD = 0.2
"""In pay mode ``gate`` the ISR pays only where its prediction exceeds this (PAPER.md §4)."""


def social_reward(goal_reached: np.ndarray, caregiver_present: np.ndarray | float) -> np.ndarray:
    """P * R_s: 0.4 on a goal step while the caregiver is present, 0 otherwise.

    Args:
        goal_reached: ``(R,)`` bool, the social event of this step.
        caregiver_present: P, a scalar or ``(R,)`` array of 0/1.

    Returns:
        ``(R,)`` float32.
    """
    return (SOCIAL_REWARD * np.asarray(goal_reached, np.float32) * caregiver_present).astype(
        np.float32
    )


def utility(
    env_reward: np.ndarray,
    goal_reached: np.ndarray,
    internal_reward: np.ndarray | float,
    caregiver_present: np.ndarray | float,
) -> np.ndarray:
    """U = R_e + P * R_s + (1 - P) * R_i (PAPER.md §1); the ``add`` pay mode when P = 0."""
    p = np.asarray(caregiver_present, np.float32)
    return (
        np.asarray(env_reward, np.float32)
        + social_reward(goal_reached, p)
        + (1.0 - p) * np.asarray(internal_reward, np.float32)
    ).astype(np.float32)


def isr_pay(env_reward: np.ndarray, internal_reward: np.ndarray, mode: str) -> np.ndarray:
    """The reward of a learner whose caregiver has left and whose ISR pays (PAPER.md §4).

    Args:
        env_reward: R_e, ``(R,)``.
        internal_reward: R_i = ISR(s, a), ``(R,)``.
        mode: ``add`` (Figs. 1b, 4): R_e + R_i on every step; ``gate`` (Figs. 5, 6): R_i where
            R_i > 0.2, else R_e; ``replace`` (Fig. 7): R_i.

    Returns:
        ``(R,)`` float32.
    """
    check_choice("isr_pay", mode, PAY_MODES)
    r_e = np.asarray(env_reward, np.float32)
    r_i = np.asarray(internal_reward, np.float32)
    if mode == "add":
        return r_e + r_i
    if mode == "gate":
        return np.where(r_i > ISR_GATE_THRESHOLD, r_i, r_e).astype(np.float32)
    return r_i.copy()


def caregiver_present(condition: str, phase: int) -> float:
    """P for a condition and phase (PAPER.md §5).

    The caregiver is present throughout phase 1. In phase 2 it stays for ``oracle`` and for
    ``frozen`` (the "frozen" agent keeps training with the caregiver in the training layouts,
    never sees the OOD layout, and is tested zero-shot), and leaves for ``none`` and ``isr``.
    """
    check_choice("condition", condition, CONDITIONS)
    if phase == 1:
        return 1.0
    return 1.0 if condition in ("oracle", "frozen") else 0.0


def condition_reward(
    condition: np.ndarray | str,
    *,
    env_reward: np.ndarray,
    goal_reached: np.ndarray,
    internal_reward: np.ndarray,
    pay_mode: np.ndarray | str,
    phase: int,
) -> np.ndarray:
    """The reward each run receives in a phase, given its condition (PAPER.md §5).

    Args:
        condition: one condition or ``(R,)`` conditions.
        env_reward: R_e, ``(R,)``.
        goal_reached: ``(R,)`` bool.
        internal_reward: the ISR's R_i for each run (ignored where no ISR pays), ``(R,)``.
        pay_mode: the ISR pay mode, one or ``(R,)``.
        phase: 1 (caregiver present) or 2.

    Returns:
        ``(R,)`` float32.
    """
    n = len(env_reward)
    conditions = np.broadcast_to(np.asarray(condition), (n,))
    modes = np.broadcast_to(np.asarray(pay_mode), (n,))
    present = np.array([caregiver_present(str(c), phase) for c in conditions], np.float32)
    reward = np.asarray(env_reward, np.float32) + social_reward(goal_reached, present)
    if phase == 2:
        for mode in np.unique(modes[conditions == "isr"]):
            rows = (conditions == "isr") & (modes == mode)
            reward[rows] = isr_pay(env_reward[rows], internal_reward[rows], str(mode))
    return reward


class Caregiver(gym.Wrapper):
    """Adds the caregiver's social reward P * R_s to a world's effort cost R_e.

    With ``present=True`` the step reward is R_e + R_s (phase 1 and the oracle); with
    ``present=False`` it is R_e alone (the caregiver has left and nothing replaces it).
    """

    def __init__(self, env: gym.Env, *, present: bool = True) -> None:
        super().__init__(env)
        if not isinstance(present, bool):
            raise ValueError(f"caregiver_present={present!r} must be True or False")
        self.present = present

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        r_s = float(social_reward(np.array([info["goal_reached"]]), float(self.present))[0])
        info = dict(info, social_reward=r_s, caregiver_present=self.present)
        return obs, float(reward) + r_s, terminated, truncated, info


def make_social_grid(*, caregiver_present: bool = True, **kwargs: Any) -> gym.Env:
    """``valint/SocialGrid-v0`` and ``valint/SocialGridLayout-v0``: the world of PAPER.md §3
    with its caregiver."""
    from valint.envs import SocialGridEnv

    return Caregiver(SocialGridEnv(**kwargs), present=caregiver_present)


def make_prosocial(*, caregiver_present: bool = True, **kwargs: Any) -> gym.Env:
    """``valint/Prosocial-v0``: the two-agent world of PAPER.md §7 with the shared reward."""
    from valint.prosocial import ProsocialEnv

    return Caregiver(ProsocialEnv(**kwargs), present=caregiver_present)


def register_envs() -> None:
    """Register the gymnasium ids (idempotent)."""
    specs = {
        "valint/SocialGrid-v0": ("valint.social:make_social_grid", {"layout": "random-3"}),
        "valint/SocialGridLayout-v0": ("valint.social:make_social_grid", {"layout": "plus"}),
        "valint/Prosocial-v0": ("valint.social:make_prosocial", {}),
    }
    for env_id, (entry_point, kwargs) in specs.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, kwargs=kwargs)
