"""The protocol of one run (PAPER.md §5, §6): phase 1 with the caregiver, ISR training,
phase 2 per condition, greedy evaluation out of distribution.

A *run* is one learner: a seed, a world and, in phase 2, a condition (and a layout for Fig. 5).
The runs passed to one call are trained together as one stacked batch
(``valint.ppo.BatchedPPO``), and each finished run is written to the results store under a key
derived from its full configuration, so a repeated call is instant and an interrupted sweep
resumes with the runs it had not finished. Which runs a figure needs, and how they are batched,
is the figure's plan (``valint.figures``, ``valint.plan``).
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from valint.config import ISRConfig, Profile
from valint.envs import EPISODE_STEPS, N_ACTIONS, OBS_SHAPE, SocialGridBatch, parse_layout
from valint.isr import Transitions, predict, stack_isr, train_isr
from valint.ppo import IMAGE_OBS_SCALE, BatchedPPO, StepOutcome
from valint.provenance import science_code_hash
from valint.social import SOCIAL_REWARD, condition_reward
from valint.store import ResultsStore

PHASE2_STREAM = 100
"""Offset of the phase-2 action and shuffle generators (``BatchedPPO(stream_offset=...)``)."""
WORLD_SEED_STRIDE = {1: 0, 2: 1_000_003, 3: 2_000_003}
"""Environment seeds of phase 1, phase 2 and evaluation are ``seed * 7919 + stride + i``."""


def world_seed(seed: int, purpose: int, index: int = 0) -> int:
    """A deterministic, distinct environment seed per run seed, purpose and copy."""
    return int(seed) * 7919 + WORLD_SEED_STRIDE[purpose] + int(index)


# ---------------------------------------------------------------------------------------------
# Environments as the learner sees them
# ---------------------------------------------------------------------------------------------


@dataclass
class EpisodeLog:
    """Per-episode records of every run: goals, return and internal reward (PAPER.md §9: goals
    per episode are logged directly)."""

    n_runs: int
    rows: list[tuple] = field(default_factory=list)
    goals: np.ndarray = field(init=False)
    returns: np.ndarray = field(init=False)
    internal: np.ndarray = field(init=False)
    episodes: np.ndarray = field(init=False)
    env_steps: int = 0

    def __post_init__(self) -> None:
        self.goals = np.zeros(self.n_runs)
        self.returns = np.zeros(self.n_runs)
        self.internal = np.zeros(self.n_runs)
        self.episodes = np.zeros(self.n_runs, dtype=int)

    def record(self, goal: np.ndarray, reward: np.ndarray, internal: np.ndarray, done: np.ndarray) -> None:
        self.env_steps += 1
        self.goals += goal
        self.returns += reward
        self.internal += internal
        for r in np.flatnonzero(done):
            self.episodes[r] += 1
            self.rows.append(
                (r, int(self.episodes[r]), self.env_steps, self.goals[r], self.returns[r], self.internal[r])
            )
        self.goals[done] = 0.0
        self.returns[done] = 0.0
        self.internal[done] = 0.0

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            self.rows,
            columns=["run", "episode", "env_steps", "goals_per_episode", "return", "internal_reward"],
        )

    def recent_return(self, window: int) -> np.ndarray:
        """Mean return of each run's last ``window`` episodes (the best-checkpoint rule, Fig. 5)."""
        frame = self.frame()
        if frame.empty:
            return np.full(self.n_runs, -np.inf)
        tail = frame.groupby("run").tail(window).groupby("run")["return"].mean()
        return tail.reindex(range(self.n_runs)).fillna(-np.inf).to_numpy()


class LearnerEnv:
    """One world copy per run, with the reward each run's condition gives (PAPER.md §5).

    Phase 1 records every transition for the ISR (target = max(reward, 0)). ``on_step`` is
    called after every step, once its episodes are logged, while the weights that chose the
    step's actions are still in use: the moment the authors' best-checkpoint callback runs
    (PAPER.md §6).
    """

    def __init__(
        self,
        world: Any,
        *,
        conditions: Sequence[str],
        phase: int,
        pay_modes: Sequence[str] | None = None,
        isr_params: Any = None,
        isr_obs_scale: float = 1.0,
        record: bool = False,
        on_step: Callable[[], None] | None = None,
    ) -> None:
        self.world = world
        self.on_step = on_step
        self.conditions = np.asarray(conditions)
        self.pay_modes = np.asarray(pay_modes if pay_modes is not None else ["add"] * len(conditions))
        self.phase = phase
        self.isr_params = isr_params
        self.isr_obs_scale = isr_obs_scale
        self.isr_runs = (self.conditions == "isr") & (phase == 2)
        self.log = EpisodeLog(len(conditions))
        self.record = record
        self.buffer: list[tuple] = []
        self._obs: np.ndarray | None = None
        self._partner_cells: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        self._obs = self.world.reset()
        self._partner_cells = getattr(self.world, "partner_view_pos", None)
        if callable(self._partner_cells):
            self._partner_cells = self._partner_cells()
        return self._obs

    def step(self, actions: np.ndarray) -> StepOutcome:
        before, cells_before = self._obs, self._partner_cells
        out = self.world.step(actions)
        partner_actions = getattr(out, "partner_action", None)
        internal = np.zeros(len(actions), np.float32)
        if self.isr_runs.any():
            internal = predict(
                self.isr_params, before, actions, partner_actions, cells_before, obs_scale=self.isr_obs_scale
            )
            internal = np.where(self.isr_runs, internal, 0.0).astype(np.float32)
        reward = condition_reward(
            self.conditions,
            env_reward=out.effort_cost,
            goal_reached=out.goal_reached,
            internal_reward=internal,
            pay_mode=self.pay_modes,
            phase=self.phase,
        )
        if self.record:
            self.buffer.append(
                (before, actions.copy(), np.maximum(reward, 0.0), partner_actions, cells_before)
            )
        self.log.record(out.goal_reached, reward, internal, out.truncated)
        self._obs = out.obs
        self._partner_cells = getattr(out, "partner_view_pos", None)
        if self.on_step is not None:
            self.on_step()
        return StepOutcome(out.obs, reward, out.truncated, out.final_obs)

    def transitions(self, run: int) -> Transitions:
        """Run r's recorded transitions, in order."""
        obs = np.stack([b[0][run] for b in self.buffer])
        actions = np.array([b[1][run] for b in self.buffer], dtype=np.int64)
        targets = np.array([b[2][run] for b in self.buffer], dtype=np.float32)
        if self.buffer and self.buffer[0][3] is not None:
            partner = np.array([b[3][run] for b in self.buffer], dtype=np.int64)
            cells = np.stack([b[4][run] for b in self.buffer]).astype(np.int64)
            return Transitions(obs, actions, targets, partner, cells)
        return Transitions(obs, actions, targets)


# ---------------------------------------------------------------------------------------------
# Worlds
# ---------------------------------------------------------------------------------------------


def make_world(world: str, layouts: Sequence[str], seeds: Sequence[int]) -> Any:
    """The batched twin of a world: ``grid`` (PAPER.md §3) or ``prosocial`` (§7).

    A prosocial world's layout names its variant (``valint.prosocial.variant_name``: layout
    rule and observation scale), one for all copies.
    """
    if world == "prosocial":
        from valint.prosocial import ProsocialBatch, parse_variant

        assert len(set(layouts)) == 1, f"one prosocial variant per batch, got {sorted(set(layouts))}"
        layout_rule, obs_scale = parse_variant(layouts[0])
        return ProsocialBatch(list(seeds), layout_rule=layout_rule, obs_scale=obs_scale)
    return SocialGridBatch([parse_layout(x) for x in layouts], list(seeds))


def world_shape(world: str) -> tuple[tuple[int, int, int], int]:
    """Observation shape and number of actions of a world."""
    if world == "prosocial":
        from valint import prosocial

        return prosocial.OBS_SHAPE, prosocial.N_ACTIONS
    return OBS_SHAPE, N_ACTIONS


def world_obs_scale(world: str, layout: str, *, network: str = "policy") -> float:
    """The factor the ``policy`` or the ``isr`` network applies to a world's observations.

    Single-agent world: 1/255 for the policy (SB3's image scaling, PAPER.md §4) and the raw
    codes for the ISR (PAPER.md §4). Two-agent world: the variant's scale for both networks,
    raw by default (PAPER.md §7).
    """
    if world == "prosocial":
        from valint.prosocial import OBS_SCALE_BY_NAME, parse_variant

        return OBS_SCALE_BY_NAME[parse_variant(layout)[1]]
    return IMAGE_OBS_SCALE if network == "policy" else 1.0


# ---------------------------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------------------------


def _progress_bar(total: int, desc: str, enabled: bool):
    from tqdm import tqdm  # plain text: notebooks need no widget library

    show = enabled and os.environ.get("VALINT_PROGRESS", "1") != "0"
    return tqdm(total=total, desc=desc, unit="step", unit_scale=True, disable=not show, leave=False)


# ---------------------------------------------------------------------------------------------
# Phase 1
# ---------------------------------------------------------------------------------------------


def phase1_config(world: str, layout: str, seed: int, profile: Profile) -> dict:
    """Everything that determines a phase-1 run (its store key).

    ``code`` is the hash of the science modules a run of this world executes
    (:func:`valint.provenance.science_code_hash`); every ISR and phase-2 key nests this config,
    so no cached run outlives a change to the code that made it.
    """
    rollouts = profile.prosocial_phase1_rollouts if world == "prosocial" else profile.phase1_rollouts
    return {
        "kind": "phase1",
        "code": science_code_hash(world),
        "world": world,
        "layout": layout,
        "seed": int(seed),
        "ppo": asdict(profile.ppo),
        "rollouts": rollouts,
        "checkpoint_every": profile.checkpoint_every,
        "checkpoint_window": profile.checkpoint_window,
    }


def run_phase1(
    world: str, layout: str, seeds: Sequence[int], profile: Profile, store: ResultsStore, *, progress: bool
) -> list[dict]:
    """Phase 1 of every seed: the learner with its caregiver (PAPER.md §6).

    The seeds are trained as one batch. When the store lacks any of their runs, the whole
    batch is trained again and only the missing runs are stored, so a resumed batch gives the
    bits of an uninterrupted one (a run's last bits depend on its batch mates).

    Returns, per seed, the store payload: the final policy and Adam state (``final/...``), the best
    checkpoint (``best/...``, Figs. 5 and 6; :func:`best_checkpoint_hook`), the step it was taken
    at (``best_step``), the episode curve and the transitions the ISR learns from.
    """
    configs = [phase1_config(world, layout, s, profile) for s in seeds]
    results = [store.get(c) for c in configs]
    missing = [i for i, r in enumerate(results) if r is None]
    if missing:
        obs_shape, n_actions = world_shape(world)
        rollouts = configs[0]["rollouts"]
        started = time.perf_counter()
        agent = BatchedPPO(list(seeds), obs_shape, n_actions, profile.ppo,
                           obs_scale=world_obs_scale(world, layout))
        env = LearnerEnv(
            make_world(world, [layout] * len(seeds), [world_seed(s, 1) for s in seeds]),
            conditions=["oracle"] * len(seeds),
            phase=1,
            record=True,
        )
        best = best_checkpoint_hook(agent, env.log, profile.checkpoint_every, profile.checkpoint_window)
        env.on_step = best.check
        steps_per = profile.ppo.n_steps
        with _progress_bar(rollouts * steps_per * len(seeds), f"phase 1 ({world}, {layout})", progress) as bar:
            agent.learn(env, rollouts, progress=lambda n: bar.update(n * len(seeds)))
        wall = time.perf_counter() - started
        curves = env.log.frame()
        for i in missing:
            data = env.transitions(i)
            payload: dict[str, Any] = {f"final/{k}": v for k, v in agent.run_state(i).items()}
            payload |= {f"best/{k}": v for k, v in best.state[i].items()}
            payload["best_step"] = np.array(best.step[i])
            payload["curves"] = curves[curves["run"] == i].drop(columns="run").reset_index(drop=True)
            payload["obs"], payload["actions"], payload["targets"] = data.obs, data.actions, data.targets
            if data.partner_actions is not None:
                payload["partner_actions"], payload["partner_cells"] = data.partner_actions, data.partner_cells
            store.put(configs[i], payload, provenance=_provenance(profile, configs[i], wall, len(seeds)))
            results[i] = store.get(configs[i])
            assert results[i] is not None, f"the store did not keep {configs[i]}"
    return results


@dataclass
class BestCheckpoint:
    """The best phase-1 checkpoint of every run of a batch so far (PAPER.md §6, Figs. 5, 6).

    Attributes:
        state: per run, the learner state (weights and Adam) of its best check so far; the
            initial state until a check scores above minus infinity.
        score: per run, that check's mean return of the recent episodes.
        step: per run, the environment step of that check (0 before any).
    """

    agent: BatchedPPO
    log: EpisodeLog
    every: int
    window: int
    state: list[dict[str, np.ndarray]]
    score: np.ndarray
    step: np.ndarray

    def check(self) -> None:
        """At every ``every``-th environment step, score each run by the mean return of its
        last ``window`` finished episodes (those ending at this step included) and, where the
        score beats its best, keep the weights in use now: the weights that played them."""
        done = self.log.env_steps
        if done % self.every:
            return
        score = self.log.recent_return(self.window)
        for r in np.flatnonzero(score > self.score):
            self.score[r] = score[r]
            self.state[r] = self.agent.run_state(r)
            self.step[r] = done


def best_checkpoint_hook(agent: BatchedPPO, log: EpisodeLog, every: int, window: int) -> BestCheckpoint:
    """The authors' best-checkpoint rule (PAPER.md §6): call ``check`` after every environment
    step of phase 1, during the rollout, so the candidate at each mark is the weights in use
    at that moment; the update that ends phase 1 is never a candidate."""
    n = len(agent.seeds)
    return BestCheckpoint(agent, log, every, window, [agent.run_state(r) for r in range(n)],
                          np.full(n, -np.inf), np.zeros(n, dtype=int))


def _provenance(profile: Profile, config: dict, wall: float, batch: int) -> dict:
    from valint.provenance import provenance
    from valint.store import config_key

    phase1 = config if config["kind"] == "phase1" else config["phase1"]
    prov = provenance(profile=profile.name, science_code=phase1["code"],
                      config_key=config_key(config), wall_time_s=wall)
    prov["batch_runs"] = batch
    return prov


def transitions_of(payload: dict) -> Transitions:
    """The phase-1 transitions saved with a phase-1 run."""
    return Transitions(
        payload["obs"],
        payload["actions"],
        payload["targets"],
        payload.get("partner_actions"),
        payload.get("partner_cells"),
    )


def state_of(payload: dict, which: str) -> dict[str, np.ndarray]:
    """The ``final`` or ``best`` learner state saved with a phase-1 run."""
    prefix = f"{which}/"
    return {k[len(prefix):]: v for k, v in payload.items() if k.startswith(prefix)}


# ---------------------------------------------------------------------------------------------
# ISR
# ---------------------------------------------------------------------------------------------


def isr_config_key(phase1: dict, isr: ISRConfig, n_transitions: int | None) -> dict:
    """Everything that determines one trained ISR."""
    return {"kind": "isr", "phase1": phase1, "isr": asdict(isr), "n_transitions": n_transitions}


def run_isr(
    phase1_configs: Sequence[dict],
    phase1_payloads: Sequence[dict],
    isr: ISRConfig,
    store: ResultsStore,
    *,
    n_transitions: Sequence[int | None] | None = None,
) -> list[dict]:
    """Train (or load) one ISR per phase-1 run (and data size, Fig. 3b), stacked (PAPER.md §4).

    When the store lacks any of them, all are trained again as one stack and only the missing
    ones are stored, so a resumed batch gives the bits of an uninterrupted one.

    ``n_transitions[i]`` (Fig. 3b) stands for a phase 1 of that many steps, as the paper's
    "PPO for 10k ... 120k steps": the ISR trains on the first ``n - round(n * test_fraction)``
    transitions, what that shorter run's chronological split would have trained on, and every
    size of a seed is tested on the same held-out set, the last ``test_fraction`` of the whole
    phase 1 (the held-out set of Fig. 3a).

    Returns, per ISR, the payload: weights (``isr/...``), its train/test curve and its final
    held-out MSE.
    """
    sizes = list(n_transitions) if n_transitions is not None else [None] * len(phase1_configs)
    configs = [isr_config_key(c, isr, n) for c, n in zip(phase1_configs, sizes)]
    results = [store.get(c) for c in configs]
    missing = [i for i, r in enumerate(results) if r is None]
    if missing:
        started = time.perf_counter()
        datasets = [transitions_of(payload) for payload in phase1_payloads]
        train_sizes = [
            None if size is None else int(size) - int(round(int(size) * isr.test_fraction))
            for size in sizes
        ]
        seeds = [config["seed"] for config in phase1_configs]
        first = phase1_configs[0]
        obs_scale = world_obs_scale(first["world"], first["layout"], network="isr")
        trained = train_isr(datasets, seeds, isr, train_sizes=train_sizes, obs_scale=obs_scale)
        wall = time.perf_counter() - started
        for i in missing:
            payload: dict[str, Any] = {f"isr/{k}": v for k, v in trained.params[i].items()}
            payload["curve"] = trained.curve[trained.curve["run"] == i].drop(columns="run").reset_index(drop=True)
            payload["final"] = trained.final[trained.final["run"] == i].drop(columns="run").reset_index(drop=True)
            store.put(configs[i], payload, provenance=_provenance(_profile_stub(), configs[i], wall, len(configs)))
            results[i] = store.get(configs[i])
    return results


def _profile_stub() -> Profile:
    return Profile(name="isr")


def isr_weights(payload: dict) -> dict[str, np.ndarray]:
    """The ISR weights saved in an ISR payload."""
    return {k[len("isr/"):]: v for k, v in payload.items() if k.startswith("isr/")}


# ---------------------------------------------------------------------------------------------
# Phase 2 and evaluation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase2Run:
    """One phase-2 learner (PAPER.md §5).

    Attributes:
        seed: the phase-1 seed it continues from.
        condition: oracle / none / isr / frozen. "frozen" keeps training with the caregiver in
            the training layouts, never sees the OOD layout, and is evaluated zero-shot on it.
        layout: where phase 2 is trained.
        pay_mode: how the ISR pays (isr only).
        eval_layouts: layouts for greedy evaluation after phase 2 (Figs. 4b, 5).
    """

    seed: int
    condition: str
    layout: str
    pay_mode: str = "add"
    eval_layouts: tuple[str, ...] = ()


def phase2_config(run: Phase2Run, phase1: dict, isr: dict | None, rollouts: int, profile: Profile) -> dict:
    """Everything that determines a phase-2 run (its store key)."""
    return {
        "kind": "phase2",
        "run": asdict(run),
        "phase1": phase1,
        "start": "best" if phase1.get("use_best") else "final",
        "isr": isr if run.condition == "isr" else None,
        "rollouts": rollouts,
        "eval_episodes": profile.eval_episodes,
    }


def run_phase2(
    world: str,
    runs: Sequence[Phase2Run],
    phase1: dict[int, tuple[dict, dict]],
    isrs: dict[int, tuple[dict, dict]],
    rollouts: int,
    profile: Profile,
    store: ResultsStore,
    *,
    start: str = "final",
    progress: bool,
) -> list[dict]:
    """Phase 2 of every run: the caregiver leaves (or not), then greedy OOD evaluation.

    Args:
        world: ``grid`` or ``prosocial``.
        runs: the phase-2 learners.
        phase1: per seed, (phase-1 config, phase-1 payload).
        isrs: per seed, (ISR config, ISR payload).
        rollouts: phase-2 length in rollouts.
        start: ``final`` or ``best`` phase-1 state (``best`` for Figs. 5, 6).

    Returns:
        Per run, the payload: its phase-2 curve, final weights and evaluation table.
    """
    configs = []
    for run in runs:
        p1 = dict(phase1[run.seed][0], use_best=start == "best")
        configs.append(phase2_config(run, p1, isrs.get(run.seed, (None,))[0], rollouts, profile))
    results = [store.get(c) for c in configs]
    # Adam's bias correction depends on the step count, which all runs of a batch share; best
    # checkpoints (Fig. 5) can differ in it, so runs are batched by the step count they resume at.
    # A group with any run missing from the store is trained whole, so that a resumed batch
    # gives the bits of an uninterrupted one; only its missing runs are stored.
    groups: dict[float, list[int]] = {}
    for i, run in enumerate(runs):
        steps = float(state_of(phase1[run.seed][1], start)["adam_steps"])
        groups.setdefault(steps, []).append(i)
    for group in groups.values():
        if all(results[i] is not None for i in group):
            continue
        payloads, wall = _train_phase2(
            world, [runs[i] for i in group], phase1, isrs, rollouts, profile, start, progress
        )
        for i, payload in zip(group, payloads):
            if results[i] is None:
                store.put(configs[i], payload, provenance=_provenance(profile, configs[i], wall, len(group)))
                results[i] = store.get(configs[i])
    return results


def _train_phase2(
    world: str,
    todo: Sequence[Phase2Run],
    phase1: dict[int, tuple[dict, dict]],
    isrs: dict[int, tuple[dict, dict]],
    rollouts: int,
    profile: Profile,
    start: str,
    progress: bool,
) -> tuple[list[dict], float]:
    """Train one batch of phase-2 runs that resume at the same Adam step.

    Returns:
        One payload per run, and the batch's wall time in seconds.
    """
    obs_shape, n_actions = world_shape(world)
    started = time.perf_counter()
    layout = todo[0].layout
    agent = BatchedPPO(
        [r.seed for r in todo], obs_shape, n_actions, profile.ppo, stream_offset=PHASE2_STREAM,
        obs_scale=world_obs_scale(world, layout),
    )
    agent.load_run_states([state_of(phase1[r.seed][1], start) for r in todo])
    isr_params = None
    if any(r.condition == "isr" for r in todo):
        template = next(isr_weights(isrs[r.seed][1]) for r in todo if r.condition == "isr")
        isr_params = stack_isr(
            [
                isr_weights(isrs[r.seed][1]) if r.condition == "isr" else {k: np.zeros_like(v) for k, v in template.items()}
                for r in todo
            ]
        )
    env = LearnerEnv(
        make_world(world, [r.layout for r in todo], [world_seed(r.seed, 2) for r in todo]),
        conditions=[r.condition for r in todo],
        phase=2,
        pay_modes=[r.pay_mode for r in todo],
        isr_params=isr_params,
        isr_obs_scale=world_obs_scale(world, layout, network="isr"),
    )
    with _progress_bar(rollouts * profile.ppo.n_steps * len(todo), f"phase 2 ({world})", progress) as bar:
        agent.learn(env, rollouts, progress=lambda n: bar.update(n * len(todo)))
    evaluation = evaluate_greedy(agent, todo, profile.eval_episodes) if world == "grid" else pd.DataFrame()
    wall = time.perf_counter() - started
    curves = env.log.frame()
    payloads = []
    for r in range(len(todo)):
        payload: dict[str, Any] = {f"final/{k}": v for k, v in agent.run_state(r).items()}
        payload["curves"] = curves[curves["run"] == r].drop(columns="run").reset_index(drop=True)
        payload["evaluation"] = (
            evaluation[evaluation["run"] == r].drop(columns="run").reset_index(drop=True)
            if not evaluation.empty
            else pd.DataFrame({"layout": pd.Series(dtype=str), "ood_reward": pd.Series(dtype=float)})
        )
        payloads.append(payload)
    return payloads, wall


def evaluate_greedy(agent: BatchedPPO, runs: Sequence[Phase2Run], n_episodes: int) -> pd.DataFrame:
    """Mean return of ``n_episodes`` greedy episodes per run and evaluation layout (Figs. 4b, 5).

    Returns count the caregiver's scale: +0.4 per goal and -0.045 per forward move
    (PAPER.md §6), whatever the run's condition was in phase 2.

    Returns:
        Columns run, layout, ood_reward.
    """
    rows = []
    layouts = sorted({x for r in runs for x in r.eval_layouts})
    for layout in layouts:
        which = [i for i, r in enumerate(runs) if layout in r.eval_layouts]
        if not which:
            continue
        seeds = [world_seed(runs[i].seed, 3, e) for i in which for e in range(n_episodes)]
        world = SocialGridBatch([parse_layout(layout)] * len(seeds), seeds)
        obs = world.reset()
        params = {k: v.detach()[which] for k, v in agent.params.items()}
        sub = _GreedyView(params)
        total = np.zeros(len(seeds))
        for _ in range(EPISODE_STEPS):
            actions = sub.act(obs.reshape(len(which), n_episodes, *obs.shape[1:])).reshape(-1)
            out = world.step(actions)
            total += out.effort_cost + SOCIAL_REWARD * out.goal_reached
            obs = out.obs
        per_run = total.reshape(len(which), n_episodes).mean(axis=1)
        rows += [{"run": i, "layout": layout, "ood_reward": float(v)} for i, v in zip(which, per_run)]
    return pd.DataFrame(rows, columns=["run", "layout", "ood_reward"])


class _GreedyView:
    """Greedy actions of a subset of a batch's runs."""

    def __init__(self, params: dict) -> None:
        self.params = params

    def act(self, obs: np.ndarray) -> np.ndarray:
        import torch

        from valint.ppo import policy_forward

        with torch.no_grad():
            logits, _ = policy_forward(self.params, torch.from_numpy(obs))
        return logits.argmax(dim=-1).numpy()


# ---------------------------------------------------------------------------------------------
# The results store
# ---------------------------------------------------------------------------------------------


def default_store() -> ResultsStore:
    """The store at ``$VALINT_RESULTS`` or ``results/`` in the working directory."""
    return ResultsStore(Path(os.environ.get("VALINT_RESULTS", "results")))
