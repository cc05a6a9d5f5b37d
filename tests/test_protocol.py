"""Protocol tests of ``valint/experiments.py`` (issue 11, item 6; PAPER.md §3-§6).

What is checked here is the protocol, not the learning: which world each learner trains in
(the ``frozen`` condition, PAPER.md §5), how the OOD evaluation scores (PAPER.md §6, last
line), the best-checkpoint rule of Fig. 5 (PAPER.md §6), the ISR's held-out split
(PAPER.md §4) and the runs table that a figure page shows (issue 11).

The figure-level tests share one results store, filled once per module by ``protocol``:
fig1, fig4, fig5 and fig6 with one seed under ``TINY``, a profile far smaller than ``smoke``
(rollouts of 64 steps), while spies record the worlds built for training, the Phase2Run lists
and the states phase 2 starts from.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

import valint.isr as isr_module
from valint import experiments, plan
from valint.figures import run_figure
from valint.config import SMOKE, ISRConfig, PPOConfig
from valint.envs import EPISODE_STEPS, LAYOUT_NAMES, N_ACTIONS, OBS_SHAPE, SocialGridBatch, parse_layout
from valint.experiments import (
    Phase2Run,
    evaluate_greedy,
    isr_config_key,
    phase1_config,
    phase2_config,
    state_of,
    world_seed,
)
from valint.isr import Transitions, balanced_draws, predict, stack_isr, train_isr
from valint.nets import torch_threads
from valint.ppo import BatchedPPO
from valint.provenance import science_code_hash
from valint.store import ResultsStore, config_key

LEFT, RIGHT, FORWARD = 0, 1, 2
GOAL_PAY, MOVE_COST = 0.4, -0.045
"""The caregiver's scale of PAPER.md §3 and §6, written out here rather than imported."""

TINY = SMOKE.with_overrides(
    ppo=PPOConfig(learning_rate=5e-4, n_steps=64, batch_size=32, n_epochs=1),
    phase1_rollouts=5,
    phase2_rollouts=1,
    long_phase2_rollouts=1,
    eval_episodes=3,
    # 110 is not a multiple of the 64-step rollout: the checks fall inside rollouts, at 110 and
    # 220 steps of 320, so the best state is never the final one.
    checkpoint_every=110,
    checkpoint_window=3,
    isr=ISRConfig(eval_every=20, max_draws=60),
    isr_undertrained=ISRConfig(eval_every=5, max_draws=10),
)
SEED = 0


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """One intra-op thread: these networks are tiny, and a thread team on two shared cores
    spends far more time waiting than computing."""
    with torch_threads(1):
        yield


# ---------------------------------------------------------------------------------------------
# One store for the figure-level tests, filled under spies
# ---------------------------------------------------------------------------------------------


@dataclass
class Spy:
    """What the protocol did, per figure."""

    figure: str = ""
    worlds: dict[int, list[str]] = field(default_factory=dict)
    """id(world) -> the layout of each copy, for every world built by ``make_world``."""
    envs: list[dict] = field(default_factory=list)
    """One row per learner environment: figure, phase, conditions, layouts."""
    phase2_runs: list[dict] = field(default_factory=list)
    """One row per ``run_phase2`` call: figure, runs, start."""
    loaded: list[dict] = field(default_factory=list)
    """One row per ``BatchedPPO.load_run_states`` call: figure, states (copies)."""


@pytest.fixture(scope="module")
def protocol(tmp_path_factory, one_torch_thread):
    root = tmp_path_factory.mktemp("protocol-store")
    spy = Spy()
    real_make_world = experiments.make_world
    real_run_phase2 = experiments.run_phase2
    real_load = BatchedPPO.load_run_states

    def make_world(world, layouts, seeds):
        out = real_make_world(world, layouts, seeds)
        spy.worlds[id(out)] = [str(x) for x in layouts]
        return out

    class LearnerEnv(experiments.LearnerEnv):
        def __init__(self, world, *, conditions, phase, **kwargs):
            super().__init__(world, conditions=conditions, phase=phase, **kwargs)
            spy.envs.append({
                "figure": spy.figure, "phase": phase, "conditions": list(conditions),
                "layouts": spy.worlds[id(world)],
            })

    def run_phase2(world, runs, *args, start="final", **kwargs):
        envs_before = len(spy.envs)
        out = real_run_phase2(world, runs, *args, start=start, **kwargs)
        if len(spy.envs) > envs_before:  # a call that trained, not one that read the store
            spy.phase2_runs.append({"figure": spy.figure, "runs": list(runs), "start": start})
        return out

    def load_run_states(self, states):
        spy.loaded.append({"figure": spy.figure, "states": [{k: np.array(v) for k, v in s.items()} for s in states]})
        return real_load(self, states)

    results = {}
    store = ResultsStore(root)  # one object: each figure's runs table must list only its own runs
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(experiments, "make_world", make_world)
        mp.setattr(experiments, "LearnerEnv", LearnerEnv)
        mp.setattr(experiments, "run_phase2", run_phase2)
        mp.setattr(plan, "run_phase2", run_phase2)
        mp.setattr(BatchedPPO, "load_run_states", load_run_states)
        for name, figure, params in (
            ("fig1", "fig1", {}),
            ("fig4", "fig4", {}),
            ("fig5", "fig5", {"layout": "all"}),
            ("fig6", "fig6", {}),
            ("fig1 again", "fig1", {}),
        ):
            spy.figure = name
            results[name] = run_figure(
                figure, TINY, seeds=1, store=store, progress=False, executor="inprocess", **params
            )
    return {"root": root, "spy": spy, "results": results}


def _phase1_payload(root: Path, layout: str) -> dict:
    payload = ResultsStore(root).get(phase1_config("grid", layout, SEED, TINY))
    assert payload is not None, f"no phase-1 entry for {layout}"
    return payload


def _sidecar(root: Path, short_key: str) -> dict:
    (path,) = root.glob(f"{short_key}*.json")
    return json.loads(path.read_text())


def _training_layouts(spy: Spy, figure: str, phase: int) -> dict[str, set[str]]:
    """Per condition, the layouts of every world copy it trained in."""
    seen: dict[str, set[str]] = {}
    for env in spy.envs:
        if env["figure"] == figure and env["phase"] == phase:
            for condition, layout in zip(env["conditions"], env["layouts"], strict=True):
                seen.setdefault(condition, set()).add(layout)
    return seen


# ---------------------------------------------------------------------------------------------
# 1. The frozen learner never sees the OOD layout before evaluation (PAPER.md §5, §6)
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_fig4_frozen_trains_in_the_training_layout_and_meets_the_ood_layout_only_in_evaluation(protocol):
    """Fig. 4b (PAPER.md §5, §6): phase 1 and the frozen learner's phase 2 run in "random-1"
    with the caregiver; only the isr and oracle learners train in the 5-wall OOD layouts, and
    all three are evaluated there."""
    spy = protocol["spy"]
    assert _training_layouts(spy, "fig4", 1) == {"oracle": {"random-1"}}
    assert _training_layouts(spy, "fig4", 2) == {
        "frozen": {"random-1"}, "isr": {"random-5"}, "oracle": {"random-5"},
    }
    (call,) = [c for c in spy.phase2_runs if c["figure"] == "fig4" and any(r.condition == "frozen" for r in c["runs"])]
    by_condition = {r.condition: r for r in call["runs"]}
    assert by_condition["frozen"].layout == "random-1"
    assert all(r.eval_layouts == ("random-5",) for r in call["runs"])
    ood = protocol["results"]["fig4"].tables["ood"]
    assert sorted(ood["condition"]) == ["frozen", "isr", "oracle"]
    assert set(ood["layout"]) == {"random-5"}


@pytest.mark.slow
def test_fig5_frozen_trains_once_in_the_training_layout_and_is_evaluated_on_every_map(protocol):
    """Fig. 5 (PAPER.md §5, §6): one frozen learner per seed trains in "random-1" and is
    evaluated zero-shot on all five maps; the isr and oracle learners train in their own map."""
    spy = protocol["spy"]
    assert not _training_layouts(spy, "fig5", 1), "fig5 reuses the stored 1-wall phase 1"
    seen = _training_layouts(spy, "fig5", 2)
    assert seen["frozen"] == {"random-1"}
    assert seen["isr"] == seen["oracle"] == set(LAYOUT_NAMES)
    frozen_copies = sum(
        c == "frozen" for e in spy.envs if e["figure"] == "fig5" and e["phase"] == 2 for c in e["conditions"]
    )
    assert frozen_copies == 1
    runs = [r for c in spy.phase2_runs if c["figure"] == "fig5" for r in c["runs"]]
    for run in runs:
        if run.condition == "frozen":
            assert run.layout == "random-1" and set(run.eval_layouts) == set(LAYOUT_NAMES)
        else:
            assert run.eval_layouts == (run.layout,) and run.layout in LAYOUT_NAMES
    ood = protocol["results"]["fig5"].tables["ood"]
    assert set(ood.loc[ood["condition"] == "frozen", "layout"]) == set(LAYOUT_NAMES)
    for condition in ("isr", "oracle"):
        assert sorted(ood.loc[ood["condition"] == condition, "layout"]) == sorted(LAYOUT_NAMES)


# ---------------------------------------------------------------------------------------------
# 2. Evaluation: greedy actions, the caregiver's scale (PAPER.md §6)
# ---------------------------------------------------------------------------------------------


def _agent_preferring(actions: list[int], margin: float = 0.01) -> BatchedPPO:
    """One learner per entry whose logits are constant, ``margin`` higher for that action:
    greedy play always takes it, sampling would take it only about a third of the time."""
    agent = BatchedPPO(list(range(len(actions))), OBS_SHAPE, N_ACTIONS, TINY.ppo, device="cpu")
    with torch.no_grad():
        agent.params["pi_out.w"].zero_()
        agent.params["pi_out.b"].zero_()
        for r, a in enumerate(actions):
            agent.params["pi_out.b"][r, 0, a] = margin
    return agent


def _always_forward_return(seed: int, layout: str, n_episodes: int) -> tuple[float, int]:
    """Mean return of an always-forward learner over the evaluation episodes, counted by hand:
    every step is a forward move, +0.4 where it reaches the goal and -0.045 otherwise."""
    seeds = [world_seed(seed, 3, e) for e in range(n_episodes)]
    world = SocialGridBatch([parse_layout(layout)] * n_episodes, seeds)
    world.reset()
    goals = np.zeros(n_episodes)
    for _ in range(EPISODE_STEPS):
        goals += world.step(np.full(n_episodes, FORWARD)).goal_reached
    returns = GOAL_PAY * goals + MOVE_COST * (EPISODE_STEPS - goals)
    return float(returns.mean()), int(goals.sum())


def test_evaluation_is_greedy_and_uses_the_caregivers_scale_for_every_condition():
    """PAPER.md §6: "Evaluation episodes (4b, 5) use the greedy action and the caregiver's
    reward scale" (+0.4 per goal, -0.045 per forward move), whatever the phase-2 condition;
    turns are free (PAPER.md §3)."""
    n_episodes = 20
    agent = _agent_preferring([FORWARD, FORWARD, FORWARD, RIGHT, FORWARD])
    runs = [
        Phase2Run(0, "isr", "x", "gate", ("x",)),
        Phase2Run(0, "none", "x", "add", ("x",)),
        Phase2Run(0, "oracle", "x", "add", ("x",)),
        Phase2Run(0, "frozen", "random-1", "add", ("x", "plus")),
        Phase2Run(0, "isr", "plus", "add", ("plus",)),
    ]
    before = {k: v.clone() for k, v in agent.params.items()}
    table = evaluate_greedy(agent, runs, n_episodes)
    got = {(int(r.run), r.layout): r.ood_reward for r in table.itertuples()}
    assert set(got) == {(0, "x"), (1, "x"), (2, "x"), (3, "x"), (3, "plus"), (4, "plus")}

    for layout, forward_runs in (("x", (0, 1, 2)), ("plus", (4,))):
        expected, goals = _always_forward_return(0, layout, n_episodes)
        assert goals > 0, "the check needs goals to tell 0.4 per goal from other scales"
        for r in forward_runs:
            assert got[(r, layout)] == pytest.approx(expected, abs=1e-6), (runs[r].condition, layout)
    # the turning learner: greedy play never moves, and turns cost nothing
    assert got[(3, "x")] == 0.0 and got[(3, "plus")] == 0.0

    again = evaluate_greedy(agent, runs, n_episodes)
    assert again.equals(table)
    for k, v in agent.params.items():
        assert torch.equal(v, before[k]), f"evaluation changed {k}"


def test_evaluation_plays_the_argmax_of_the_learners_own_network():
    """PAPER.md §6: greedy evaluation with a learner's real network (not constant logits): the
    scores equal a hand-played greedy episode (``BatchedPPO.act_greedy``) counted at +0.4 per
    goal and -0.045 per forward move that does not reach it (PAPER.md §3)."""
    n_episodes, seeds = 10, [3, 4]
    agent = BatchedPPO(seeds, OBS_SHAPE, N_ACTIONS, TINY.ppo, device="cpu")
    with torch.no_grad():  # spread the logits so that no greedy choice is a near tie
        agent.params["pi_out.w"].mul_(300.0)
    runs = [Phase2Run(s, "none", "U", "add", ("U",)) for s in seeds]
    table = evaluate_greedy(agent, runs, n_episodes)
    world = SocialGridBatch(
        [parse_layout("U")] * (len(seeds) * n_episodes),
        [world_seed(s, 3, e) for s in seeds for e in range(n_episodes)],
    )
    obs = world.reset()
    returns, moves = np.zeros(len(seeds) * n_episodes), []
    for _ in range(EPISODE_STEPS):
        actions = agent.act_greedy(obs.reshape(len(seeds), n_episodes, *obs.shape[1:])).reshape(-1)
        out = world.step(actions)
        returns += np.where(out.goal_reached, GOAL_PAY, np.where(actions == FORWARD, MOVE_COST, 0.0))
        moves.append(actions)
        obs = out.obs
    assert len(np.unique(np.concatenate(moves))) > 1, "the check needs a learner that does not repeat one action"
    expected = returns.reshape(len(seeds), n_episodes).mean(axis=1)
    np.testing.assert_allclose(table["ood_reward"].to_numpy(), expected, rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# 3. The best-checkpoint rule of Fig. 5 and which state phase 2 starts from (PAPER.md §6)
# ---------------------------------------------------------------------------------------------


def _check_steps(profile, total_steps: int) -> list[int]:
    """Where the rule looks (PAPER.md §6): every multiple of ``checkpoint_every``, during the
    rollout that reaches it."""
    return list(range(profile.checkpoint_every, total_steps + 1, profile.checkpoint_every))


def _updates_before(step: int, profile) -> int:
    """Adam steps of the weights in use at environment step ``step``: those of the updates
    after every rollout finished before the one that holds the step."""
    return (step - 1) // profile.ppo.n_steps * profile.ppo.n_epochs * profile.ppo.n_minibatches


@pytest.mark.slow
def test_phase1_keeps_the_best_checkpoint_by_the_mean_return_of_the_last_episodes(protocol):
    """PAPER.md §6, Fig. 5: "the best phase-1 checkpoint (mean return of the last 100 episodes,
    checked every 10k steps) is kept". Recomputed here from the phase-1 episode curve: the
    episodes finished by the check (one ending at the check included)."""
    payload = _phase1_payload(protocol["root"], "random-1")
    total = TINY.phase1_rollouts * TINY.ppo.n_steps
    checks = _check_steps(TINY, total)
    assert checks == [110, 220]
    curve = payload["curves"]
    best, expected = -np.inf, 0
    for step in checks:
        finished = curve[curve["env_steps"] <= step]
        score = finished["return"].tail(TINY.checkpoint_window).mean()
        if score > best:
            best, expected = score, step
    assert int(payload["best_step"]) == expected
    best_state, final_state = state_of(payload, "best"), state_of(payload, "final")
    updates_per_rollout = TINY.ppo.n_epochs * TINY.ppo.n_minibatches
    assert float(best_state["adam_steps"]) == _updates_before(expected, TINY)
    assert float(final_state["adam_steps"]) == TINY.phase1_rollouts * updates_per_rollout
    assert any(not np.array_equal(best_state[k], final_state[k]) for k in best_state if k.startswith("w/"))


def test_the_best_checkpoint_is_the_weights_that_played_the_scored_episodes(tmp_path, monkeypatch):
    """PAPER.md §6: the candidate at a check is the weights in use at that moment, the weights
    that chose the actions of the rollout holding the check, not the weights after the update
    that follows it. The weights of every rollout are captured as they act and compared with
    the stored best checkpoint bit for bit; the final update is never a candidate."""
    profile = TINY.with_overrides(phase1_rollouts=7)
    scripted = iter([1.0, 3.0, 2.0, 0.5])
    monkeypatch.setattr(experiments.EpisodeLog, "recent_return",
                        lambda self, window: np.full(self.n_runs, next(scripted)))
    acting: list[dict[str, np.ndarray]] = []
    real_collect = BatchedPPO.collect_rollout

    def collect_rollout(self, env):
        acting.append(self.run_state(0))
        return real_collect(self, env)

    monkeypatch.setattr(BatchedPPO, "collect_rollout", collect_rollout)
    (payload,) = experiments.run_phase1("grid", "random-1", [SEED], profile, ResultsStore(tmp_path),
                                        progress=False)
    assert len(acting) == profile.phase1_rollouts
    assert int(payload["best_step"]) == 220
    best = state_of(payload, "best")
    played = acting[(220 - 1) // profile.ppo.n_steps]
    after_update = acting[(220 - 1) // profile.ppo.n_steps + 1]
    assert set(best) == set(played)
    assert all(np.array_equal(best[k], played[k]) for k in best)
    assert any(not np.array_equal(best[k], after_update[k]) for k in best if k.startswith("w/"))


def test_best_checkpoint_is_the_highest_score_at_the_checks_not_the_last_one(tmp_path, monkeypatch):
    """PAPER.md §6, Fig. 5: the rule scores the last ``checkpoint_window`` episodes at each
    check and keeps the learner of the highest score, wherever it falls. The scores are
    scripted here (1, 3, 2, 0.5), so the best is the second of four checks."""
    profile = TINY.with_overrides(phase1_rollouts=7)
    checks = _check_steps(profile, profile.phase1_rollouts * profile.ppo.n_steps)
    assert checks == [110, 220, 330, 440]
    scripted, calls = iter([1.0, 3.0, 2.0, 0.5]), []

    def recent_return(self, window):
        calls.append((self.env_steps, window))
        return np.full(self.n_runs, next(scripted))

    monkeypatch.setattr(experiments.EpisodeLog, "recent_return", recent_return)
    (payload,) = experiments.run_phase1("grid", "random-1", [SEED], profile, ResultsStore(tmp_path), progress=False)
    assert calls == [(step, profile.checkpoint_window) for step in checks]
    assert int(payload["best_step"]) == 220
    assert float(state_of(payload, "best")["adam_steps"]) == _updates_before(220, profile)


def test_resuming_a_batch_with_one_run_missing_stores_the_bits_of_an_uninterrupted_run(tmp_path):
    """A batch's runs share floating-point sums, so a run's last bits depend on its batch mates.
    When one run of a stored two-run batch is lost, the resumed run must equal, bit for bit, the
    run of the uninterrupted batch: phase 1 and the ISR are both checked."""
    store = ResultsStore(tmp_path)
    seeds = [SEED, SEED + 1]
    first = experiments.run_phase1("grid", "random-1", seeds, TINY, store, progress=False)
    configs = [phase1_config("grid", "random-1", s, TINY) for s in seeds]
    isrs = experiments.run_isr(configs, first, TINY.isr, store)
    lost = [config_key(configs[1]), config_key(isr_config_key(configs[1], TINY.isr, None))]
    for key in lost:
        for path in tmp_path.glob(f"{key[:12]}*"):
            path.unlink()
    assert store.get(configs[1]) is None
    again = experiments.run_phase1("grid", "random-1", seeds, TINY, store, progress=False)
    isrs_again = experiments.run_isr(configs, again, TINY.isr, store)
    for before, after in ((first[1], again[1]), (isrs[1], isrs_again[1])):
        arrays = [k for k, v in before.items() if isinstance(v, np.ndarray)]
        assert arrays and all(np.array_equal(before[k], after[k]) for k in arrays)


@pytest.mark.slow
@pytest.mark.parametrize("figure, layout, start", [
    ("fig1", "random-3", "final"),
    ("fig4", "random-1", "final"),
    ("fig5", "random-1", "best"),
    ("fig6", "random-1", "best"),
])
def test_phase2_starts_from_the_best_checkpoint_in_fig5_and_fig6_only(protocol, figure, layout, start):
    """PAPER.md §6: Figs. 5 and 6 continue from the best phase-1 checkpoint; Figs. 1b and 4
    from the end of phase 1. Checked in the store key (``start``) and in the weights that the
    phase-2 learners were actually loaded with."""
    root, spy = protocol["root"], protocol["spy"]
    result = protocol["results"][figure]
    phase2 = result.runs[result.runs["kind"] == "phase2"]
    assert len(phase2) > 0
    configs = [_sidecar(root, key)["config"] for key in phase2["key"]]
    if figure == "fig4":  # fig4 also shows the fig1 runs, which start from the 3-wall phase 1
        configs = [c for c in configs if c["phase1"]["layout"] == layout]
    assert configs and {c["start"] for c in configs} == {start}
    payload = _phase1_payload(root, layout)
    wanted = state_of(payload, start)
    loads = [s for call in spy.loaded if call["figure"] == figure for s in call["states"]]
    assert loads, f"{figure} trained no phase 2"
    # the fig1 runs that fig4 shows were trained (and spied on) under fig1 already
    for state in loads:
        assert set(state) == set(wanted)
        for k, v in wanted.items():
            assert np.array_equal(state[k], v), f"{figure}: phase 2 did not start from the {start} state ({k})"


# ---------------------------------------------------------------------------------------------
# 4. The ISR's held-out split (PAPER.md §4)
# ---------------------------------------------------------------------------------------------


def _transitions(n: int, seed: int, goal_share: float = 0.3) -> Transitions:
    """Random views; on goal steps the goal is in front of the agent and it moves forward."""
    rng = np.random.default_rng(seed)
    obs = rng.integers(0, 3, (n, 9, 9, 4)).astype(np.uint8)
    obs[..., 3] = 0
    goal = rng.random(n) < goal_share
    actions = rng.integers(0, 2, n)
    actions[goal] = FORWARD
    obs[goal, 3, 4] = (8, 1, 0, 1)
    return Transitions(obs, actions, np.where(goal, 0.4, 0.0).astype(np.float32))


def _with_rows_from(data: Transitions, other: Transitions, rows: slice) -> Transitions:
    obs, actions, targets = data.obs.copy(), data.actions.copy(), data.targets.copy()
    obs[rows], actions[rows], targets[rows] = other.obs[rows], other.actions[rows], other.targets[rows]
    return Transitions(obs, actions, targets)


ISR_SMALL = ISRConfig(eval_every=25)
N_DATA, N_TRAIN = 200, 180  # test_fraction 0.1: the last 20 transitions are held out


def test_balanced_draws_come_from_the_training_indices_half_of_them_goal_steps():
    """PAPER.md §4: class-balanced sampling with replacement from the training split, each draw
    a goal step with probability 1/2."""
    data = _transitions(N_DATA, 1, goal_share=0.1)
    train, test = data.split(0.1)
    assert np.array_equal(train, np.arange(N_TRAIN)) and np.array_equal(test, np.arange(N_TRAIN, N_DATA))
    draws = balanced_draws(data.targets, train, 4000, np.random.default_rng(0))
    assert draws.min() >= 0 and draws.max() < N_TRAIN
    assert 0.45 < (data.targets[draws] > 0).mean() < 0.55


def test_isr_trains_only_on_the_first_k_training_transitions_and_tests_on_the_last_tenth(monkeypatch):
    """PAPER.md §4 and Fig. 3b: the ISR draws only from the chronological training split (the
    first k of it with ``train_sizes``), and every size is tested on the same held-out set,
    the last ``test_fraction`` of the whole dataset."""
    calls = []
    real = isr_module.balanced_draws

    def spy(targets, train_index, n_draws, rng):
        out = real(targets, train_index, n_draws, rng)
        calls.append((np.array(train_index), np.array(out)))
        return out

    monkeypatch.setattr(isr_module, "balanced_draws", spy)
    data = _transitions(N_DATA, 2)
    sizes = [50, 100, None]
    result = train_isr([data] * 3, [0, 1, 2], ISR_SMALL, train_sizes=sizes, device="cpu")
    assert len(calls) == 3
    for (index, draws), k in zip(calls, sizes):
        assert np.array_equal(index, np.arange(N_TRAIN if k is None else k))
        assert draws.min() >= 0 and draws.max() < (N_TRAIN if k is None else k)
    assert result.final["isr_train_transitions"].tolist() == [50, 100, N_TRAIN]
    held_out = slice(N_TRAIN, N_DATA)
    for r in range(3):
        n_held_out = N_DATA - N_TRAIN
        pred = predict(stack_isr([result.params[r]] * n_held_out), data.obs[held_out], data.actions[held_out])
        by_hand = float(np.mean((pred.astype(np.float64) - data.targets[held_out]) ** 2))
        assert result.final["isr_test_mse"].iloc[r] == pytest.approx(by_hand, rel=1e-5, abs=1e-9)
    # every size's held-out curve is measured on the same schedule of draws
    test_points = result.curve[result.curve["split"] == "test"]
    assert {r: len(g) for r, g in test_points.groupby("run")} == {0: 3, 1: 5, 2: 9}


def test_held_out_and_unused_transitions_never_change_the_trained_isr():
    """PAPER.md §4, §9: the held-out split is only evaluated, never trained on (the original
    took an optimizer step on each test sample); with ``train_sizes`` (Fig. 3b) transitions
    after the first k do not count either. Changing them leaves the weights bit-identical."""
    data, noise = _transitions(N_DATA, 3), _transitions(N_DATA, 4, goal_share=0.9)
    other_test = _with_rows_from(data, noise, slice(N_TRAIN, N_DATA))
    other_tail = _with_rows_from(data, noise, slice(60, N_TRAIN))
    # one dataset per call: a run's last bits may depend on its place in a stacked batch
    def trained(dataset: Transitions, size: int | None):
        result = train_isr([dataset], [5], ISR_SMALL, train_sizes=[size], device="cpu")
        return result.params[0], float(result.final["isr_test_mse"].iloc[0])

    (full, mse_full), (full_other, mse_full_other) = trained(data, None), trained(other_test, None)
    (short, mse_short), (short_other, mse_short_other) = trained(data, 60), trained(other_tail, 60)
    for k in full:
        assert np.array_equal(full[k], full_other[k]), f"held-out data changed {k}"
        assert np.array_equal(short[k], short_other[k]), f"unused training data changed {k}"
    assert mse_full != mse_full_other, "the held-out data must matter to the held-out MSE"
    assert mse_short == mse_short_other


def test_evaluating_the_isr_never_changes_its_weights():
    """PAPER.md §4: the MSE points of Fig. 3a are measurements only; evaluating after every
    step or never gives the same final weights, bit for bit."""
    data = _transitions(N_DATA, 5)
    often = train_isr([data], [7], ISRConfig(eval_every=1), device="cpu")
    never = train_isr([data], [7], ISRConfig(eval_every=10**6), device="cpu")
    assert len(often.curve) > 100 and len(never.curve) == 4  # draws 0 and the end, train and test
    for k, v in often.params[0].items():
        assert np.array_equal(v, never.params[0][k]), f"evaluation changed {k}"
    assert often.final["isr_test_mse"].iloc[0] == never.final["isr_test_mse"].iloc[0]


# ---------------------------------------------------------------------------------------------
# 5. The runs table of a figure (issue 11)
# ---------------------------------------------------------------------------------------------


def _fig1_keys() -> dict[str, tuple[str, int, str]]:
    """The store keys (12 hex digits) of every run behind Fig. 1 with one seed, built from the
    protocol's configs: kind, seed, condition."""
    p1 = phase1_config("grid", "random-3", SEED, TINY)
    isr = isr_config_key(p1, TINY.isr, None)
    keys = {config_key(p1)[:12]: ("phase1", SEED, "oracle"), config_key(isr)[:12]: ("isr", SEED, "")}
    for condition in ("oracle", "none", "isr"):
        run = Phase2Run(SEED, condition, "random-3", "add")
        cfg = phase2_config(run, dict(p1, use_best=False), isr, TINY.phase2_rollouts, TINY)
        keys[config_key(cfg)[:12]] = ("phase2", SEED, condition)
    return keys


@pytest.mark.slow
def test_runs_table_lists_every_run_behind_fig1_with_its_science_code(protocol):
    """Issue 11: ``FigureResult.runs`` lists every phase-1, ISR and phase-2 run a figure used,
    with the science-code hash it was made with; loading them all back lists the same runs."""
    first, again = protocol["results"]["fig1"], protocol["results"]["fig1 again"]
    expected = _fig1_keys()
    table = first.runs
    assert len(table) == len(expected) == 5
    got = {row.key: (row.kind, int(row.seed), row.condition) for row in table.itertuples()}
    assert got == expected
    assert (table["science_code"] == science_code_hash("grid")).all()
    assert set(again.runs["key"]) == set(table["key"])
    assert (again.runs["science_code"] == science_code_hash("grid")).all()
    # the second call loaded every run instead of training it: nothing had to be rebuilt
    assert not [e for e in protocol["spy"].envs if e["figure"] == "fig1 again"]
    stamps = dict(zip(table["key"], table["timestamp_utc"]))
    assert dict(zip(again.runs["key"], again.runs["timestamp_utc"])) == stamps
    for key in table["key"]:
        assert len(list(protocol["root"].glob(f"{key}*.npz"))) == 1


@pytest.mark.slow
@pytest.mark.parametrize("figure, counts", [
    ("fig4", {"phase1": 2, "isr": 2, "phase2": 6}),  # the fig1 runs it shows, and its own
    ("fig5", {"phase1": 1, "isr": 1, "phase2": 11}),  # one frozen, isr and oracle per map
    ("fig6", {"phase1": 1, "isr": 1, "phase2": 1}),
])
def test_runs_table_of_the_other_figures_counts_their_runs(protocol, figure, counts):
    """Issue 11: each figure lists the runs behind its own tables, even when they were made for
    another figure (fig4 shows the fig1 runs; fig5 and fig6 share fig4's 1-wall phase 1), and
    nothing that an earlier figure used through the same store."""
    table = protocol["results"][figure].runs
    assert table["key"].is_unique
    assert table["kind"].value_counts().to_dict() == counts
    assert (table["science_code"] == science_code_hash("grid")).all()
    assert set(table["seed"]) == {SEED}
