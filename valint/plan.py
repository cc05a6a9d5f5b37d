"""A figure's work as a plan: batches of runs with store keys and dependencies (PAPER.md §6).

The protocol of every figure is the same small graph: phase 1 with the caregiver, then the ISR
trained on phase 1's transitions, then phase 2 per condition (with its greedy evaluation). A
*batch* is a set of runs trained together as one stack (``valint.ppo.BatchedPPO`` or
``valint.isr.train_isr``); a *stage* is one step of the protocol for all seeds of a figure,
split into batches of at most ``Profile.seeds_per_batch`` seeds. The split depends on the
profile and the seeds only, never on where the plan runs, so a batch is the same stack of runs
in-process, in a worker process or on a Dask cluster, and gives the same bits
(``valint.executors``).

Every batch knows the store keys of its runs (:meth:`Batch.configs`), so a batch whose runs are
all stored is skipped, and what it would train (:meth:`Batch.workload`), so that
``valint.bench.estimate_duration`` prices exactly what runs.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from valint.config import ISRConfig, Profile
from valint.experiments import (
    Phase2Run,
    isr_config_key,
    phase1_config,
    phase2_config,
    run_isr,
    run_phase1,
    run_phase2,
)
from valint.store import ResultsStore, config_key

WORKLOAD_COLUMNS = ["batch", "kind", "world", "layout", "runs", "rollouts", "n_steps", "isr_steps"]
"""Columns of :func:`workload`: one row per run of a batch."""


def chunks(seeds: Sequence[int], size: int) -> list[tuple[int, ...]]:
    """Consecutive groups of at most ``size`` seeds, in order."""
    seeds = tuple(int(s) for s in seeds)
    return [seeds[i:i + size] for i in range(0, len(seeds), size)]


@dataclass(frozen=True)
class Phase1Batch:
    """Phase 1 with the caregiver for a group of seeds in one world (PAPER.md §6).

    ``profile`` is the profile the runs train with (Fig. 7 passes its own PPO settings in it).
    """

    world: str
    layout: str
    seeds: tuple[int, ...]
    profile: Profile
    kind = "phase1"

    @property
    def deps(self) -> tuple[Batch, ...]:
        return ()

    @property
    def rollouts(self) -> int:
        return int(phase1_config(self.world, self.layout, 0, self.profile)["rollouts"])

    def configs(self) -> list[dict]:
        return [phase1_config(self.world, self.layout, s, self.profile) for s in self.seeds]

    def run(self, store: ResultsStore, *, progress: bool = False) -> None:
        run_phase1(self.world, self.layout, list(self.seeds), self.profile, store, progress=progress)

    def load(self, store: ResultsStore, *, progress: bool = False) -> dict[int, tuple[dict, dict]]:
        """Per seed, (phase-1 config, payload); trains what the store lacks."""
        payloads = run_phase1(self.world, self.layout, list(self.seeds), self.profile, store, progress=progress)
        return {s: (c, p) for s, c, p in zip(self.seeds, self.configs(), payloads)}

    def workload(self) -> list[dict]:
        n_steps = self.profile.ppo.n_steps
        return [
            {"kind": self.kind, "world": self.world, "layout": self.layout, "runs": 1,
             "rollouts": self.rollouts, "n_steps": n_steps, "isr_steps": 0}
            for _ in self.seeds
        ]


@dataclass(frozen=True)
class ISRBatch:
    """The ISRs of a phase-1 batch: one per seed, or one per seed and data size (Fig. 3b).

    ``sizes`` lists phase-1 lengths in transitions (``valint.experiments.run_isr``); empty
    means one ISR per seed on the whole phase 1. Runs are ordered size-major, as ``run_isr``
    receives them.
    """

    phase1: Phase1Batch
    isr: ISRConfig
    sizes: tuple[int, ...] = ()
    kind = "isr"

    @property
    def deps(self) -> tuple[Batch, ...]:
        return (self.phase1,)

    @property
    def seeds(self) -> tuple[int, ...]:
        return self.phase1.seeds

    def grid(self) -> list[tuple[int, int | None]]:
        """(seed, size) of every ISR, in training order."""
        if not self.sizes:
            return [(s, None) for s in self.seeds]
        return [(s, n) for n in self.sizes for s in self.seeds]

    def configs(self) -> list[dict]:
        phase1 = dict(zip(self.seeds, self.phase1.configs()))
        return [isr_config_key(phase1[s], self.isr, n) for s, n in self.grid()]

    def run(self, store: ResultsStore, *, progress: bool = False) -> None:
        self.load(store)

    def load(self, store: ResultsStore, *, progress: bool = False) -> list[dict]:
        """The ISR payloads in :meth:`grid` order; trains what the store lacks."""
        phase1 = self.phase1.load(store, progress=progress)
        grid = self.grid()
        return run_isr(
            [phase1[s][0] for s, _ in grid], [phase1[s][1] for s, _ in grid], self.isr, store,
            n_transitions=None if not self.sizes else [n for _, n in grid],
        )

    def by_seed(self, store: ResultsStore) -> dict[int, tuple[dict, dict]]:
        """Per seed, (ISR config, payload) of the whole-phase-1 ISR."""
        assert not self.sizes, "by_seed is for one ISR per seed"
        return {s: (c, p) for (s, _), c, p in zip(self.grid(), self.configs(), self.load(store))}

    def workload(self) -> list[dict]:
        full = self.phase1.rollouts * self.phase1.profile.ppo.n_steps
        return [
            {"kind": self.kind, "world": self.phase1.world, "layout": self.phase1.layout, "runs": 1,
             "rollouts": 0, "n_steps": 0, "isr_steps": isr_gradient_steps(self.isr, full if n is None else n)}
            for _, n in self.grid()
        ]


def isr_gradient_steps(isr: ISRConfig, n_transitions: int) -> int:
    """Gradient steps of one ISR on a phase 1 of ``n_transitions`` (``valint.isr.train_isr``)."""
    n_train = n_transitions - int(round(n_transitions * isr.test_fraction))
    draws = isr.epochs * n_train
    if isr.max_draws is not None:
        draws = min(draws, isr.max_draws)
    return draws // isr.batch_size


@dataclass(frozen=True)
class Phase2Batch:
    """Phase 2 of a group of seeds, every condition of the figure, then greedy evaluation.

    Runs resume from the ``start`` (``final`` or ``best``) phase-1 state of their seed; isr runs
    are paid by the seed's ISR from ``isr``.
    """

    world: str
    phase1: Phase1Batch
    isr: ISRBatch | None
    runs: tuple[Phase2Run, ...]
    rollouts: int
    start: str = "final"
    kind = "phase2"

    @property
    def deps(self) -> tuple[Batch, ...]:
        return (self.phase1,) if self.isr is None else (self.phase1, self.isr)

    @property
    def seeds(self) -> tuple[int, ...]:
        return self.phase1.seeds

    def configs(self) -> list[dict]:
        phase1 = dict(zip(self.seeds, self.phase1.configs()))
        isrs = {} if self.isr is None else dict(zip(self.isr.seeds, self.isr.configs()))
        return [
            phase2_config(
                run, dict(phase1[run.seed], use_best=self.start == "best"), isrs.get(run.seed),
                self.rollouts, self.phase1.profile,
            )
            for run in self.runs
        ]

    def run(self, store: ResultsStore, *, progress: bool = False) -> None:
        self.load(store, progress=progress)

    def load(self, store: ResultsStore, *, progress: bool = False) -> list[dict]:
        """The phase-2 payloads, one per run in order; trains what the store lacks."""
        phase1 = self.phase1.load(store, progress=progress)
        isrs = {} if self.isr is None else self.isr.by_seed(store)
        return run_phase2(
            self.world, list(self.runs), phase1, isrs, self.rollouts, self.phase1.profile, store,
            start=self.start, progress=progress,
        )

    def workload(self) -> list[dict]:
        n_steps = self.phase1.profile.ppo.n_steps
        return [
            {"kind": self.kind, "world": self.world, "layout": run.layout, "runs": 1,
             "rollouts": self.rollouts, "n_steps": n_steps, "isr_steps": 0}
            for run in self.runs
        ]


Batch = Phase1Batch | ISRBatch | Phase2Batch


def batch_name(batch: Batch) -> str:
    """A short readable name that is unique within a plan: kind, world, layout, seeds, key."""
    seeds = f"{batch.seeds[0]}-{batch.seeds[-1]}" if len(batch.seeds) > 1 else f"{batch.seeds[0]}"
    layout = batch.phase1.layout if batch.kind != "phase1" else batch.layout
    digest = config_key({"configs": batch.configs()})[:10]
    return f"{batch.kind}:{layout}:seeds {seeds}:{digest}"


@dataclass(frozen=True)
class Stage:
    """One step of the protocol for every seed of a figure, as batches of seeds."""

    batches: tuple[Batch, ...]

    def __iter__(self) -> Iterator[Batch]:
        return iter(self.batches)


def phase1_stage(world: str, layout: str, seeds: Sequence[int], profile: Profile) -> Stage:
    """Phase 1 of every seed, :attr:`Profile.seeds_per_batch` seeds per batch."""
    return Stage(tuple(Phase1Batch(world, layout, g, profile) for g in chunks(seeds, profile.seeds_per_batch)))


def isr_stage(phase1: Stage, isr: ISRConfig, sizes: Sequence[int] = ()) -> Stage:
    """One ISR per phase-1 run (and per data size when ``sizes`` is given)."""
    return Stage(tuple(ISRBatch(b, isr, tuple(int(n) for n in sizes)) for b in phase1))


def phase2_stage(
    world: str, phase1: Stage, isr: Stage | None, runs: Sequence[Phase2Run], rollouts: int, *, start: str = "final"
) -> Stage:
    """Phase 2 of ``runs``: one batch per phase-1 batch of their seeds and per training layout.

    Splitting by layout lets Fig. 5's five maps train in parallel; it never separates the
    conditions of one seed in one layout, which share their environment's random numbers.
    """
    batches = []
    isr_batches = [None] * len(phase1.batches) if isr is None else list(isr)
    for p1, isr_batch in zip(phase1, isr_batches):
        mine = [r for r in runs if r.seed in p1.seeds]
        for layout in dict.fromkeys(r.layout for r in mine):
            group = tuple(r for r in mine if r.layout == layout)
            batches.append(Phase2Batch(world, p1, isr_batch, group, int(rollouts), start))
    return Stage(tuple(batches))


def load_stage(stage: Stage, store: ResultsStore) -> Any:
    """What a stage's batches hold, merged: a dict by seed (phase 1), or a list in order."""
    parts = [b.load(store) for b in stage]
    if parts and isinstance(parts[0], dict):
        return {k: v for part in parts for k, v in part.items()}
    return [x for part in parts for x in part]


@dataclass
class Plan:
    """The batches of a figure in an order that respects their dependencies."""

    batches: list[Batch] = field(default_factory=list)

    def add(self, *stages: Stage) -> Plan:
        for stage in stages:
            for batch in stage:
                if batch not in self.batches:
                    for dep in batch.deps:
                        assert dep in self.batches, f"{batch_name(batch)} planned before its dependency"
                    self.batches.append(batch)
        return self

    def pending(self, store: ResultsStore) -> list[Batch]:
        """The batches with a run the store lacks (a file check; ``get`` verifies later)."""
        return [b for b in self.batches if not all(store.path_for(c).exists() for c in b.configs())]


def workload(plan: Plan) -> pd.DataFrame:
    """What a plan trains when nothing is stored: one row per run (:data:`WORKLOAD_COLUMNS`).

    ``rollouts`` x ``n_steps`` is a PPO run's environment steps; ``isr_steps`` an ISR's
    gradient steps.
    """
    rows = [{"batch": batch_name(b), **row} for b in plan.batches for row in b.workload()]
    return pd.DataFrame(rows, columns=WORKLOAD_COLUMNS)
