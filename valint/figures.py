"""The registry of figures: each figure's parameters, plan and tables in one place.

``FIGURES[name]`` is a :class:`FigureSpec`. Its ``plan`` turns a profile, the seeds and the
figure's parameters into the batches of runs it trains (``valint.plan``: phase 1, ISR, phase 2
per condition, PAPER.md §5-§6), and its ``tables`` reads the tidy tables of docs/CONTRACTS.md
from the stored runs. :func:`run_figure` executes the plan (``valint.executors``: in-process,
local worker processes or Dask) and then builds the tables; ``valint.bench.estimate_duration``
prices the same plan, and the command line and the notebooks validate their parameters here,
so adding a parameter or a condition touches one place.

Data sharing the protocol allows (PAPER.md §6): one phase-1 run per seed and world serves every
figure that starts from it (Figs. 1b, 3 and 4a share the 3-wall phase 1; Figs. 4b, 5 and 6 the
1-wall one); Fig. 3b trains ISRs on the first n transitions of that phase 1; the "frozen"
learner of Fig. 5 never sees the OOD map, so one frozen run per seed is evaluated on all five
maps. Phase-2 runs of one seed share their environment's random numbers across conditions
(common random numbers), which makes condition contrasts less noisy.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from valint import claims
from valint.claims import ClaimRules
from valint.config import LAYOUT_RULES, OBS_SCALES, PAPER, PAY_MODES, ISRConfig, Profile, check_choice, check_int, get_profile
from valint.envs import LAYOUT_NAMES
from valint.experiments import Phase2Run, default_store, isr_weights, state_of, transitions_of, world_obs_scale
from valint.executors import execute_plan
from valint.isr_errors import ERROR_BY_PART_COLUMNS, isr_error_by_part
from valint.paths import check_store_env
from valint.plan import Phase1Batch, Plan, Stage, isr_stage, load_stage, phase1_stage, phase2_stage
from valint.store import ResultsStore


@dataclass(frozen=True)
class Param:
    """One parameter of a figure: its default and the values it allows."""

    name: str
    default: Any
    choices: tuple[Any, ...] = ()
    """Allowed values; empty for an integer parameter (``minimum``) or None."""
    minimum: int | None = None
    """For an integer parameter: the least allowed value; None is allowed too (the profile's)."""
    maximum: int | None = None
    """For an integer parameter: the largest allowed value (None: no bound)."""
    help: str = ""

    def check(self, value: Any) -> Any:
        if self.choices:
            check_choice(self.name, value, self.choices)
        elif value is not None:
            check_int(self.name, value, minimum=self.minimum if self.minimum is not None else 0,
                      maximum=self.maximum)
        return value


@dataclass(frozen=True)
class FigurePlan:
    """What a figure trains (``plan``), and how its tables are read from the store."""

    plan: Plan
    tables: Callable[[ResultsStore], dict[str, pd.DataFrame]]
    phase2: tuple[Stage, ...] = ()
    """The phase-2 stages whose learners ``FigureResult.agents`` keeps."""


@dataclass(frozen=True)
class FigureSpec:
    """One figure of the paper: its parameters and its plan (PAPER.md §2, §5)."""

    name: str
    title: str
    params: tuple[Param, ...]
    build: Callable[..., FigurePlan]
    """``build(profile, seeds, **params)`` returns the figure's :class:`FigurePlan`."""
    claims: Callable[..., pd.DataFrame]
    """``claims(tables, profile=..., rules=...)``: the figure's ledger (``valint.claims``)."""
    tables: tuple[str, ...] = ()
    """The names of the tidy tables its plan reads (docs/CONTRACTS.md), each written as
    ``<name>.csv`` by the command line."""
    covers: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    """What a complete paper-scale record holds besides the ten seeds: (table, column, values);
    the columns covered in one table must hold every combination of their values, e.g. every
    condition of Fig. 5 in every OOD layout, which is recorded in parts."""
    world: str = "grid"
    """The world every run of the figure trains in: ``grid`` (PAPER.md §3) or ``prosocial``
    (§7); its science modules make the figure's code hash (``valint.provenance.WORLD_MODULES``)."""

    @property
    def science_code(self) -> str:
        """The current code hash of the figure's runs (``valint.provenance.science_code_hash``)."""
        from valint.provenance import science_code_hash

        return science_code_hash(self.world)

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}


_PAY = "how the ISR pays: add, gate or replace (PAPER.md §5)"


def _pay(default: str) -> Param:
    return Param("isr_pay", default, PAY_MODES, help=_PAY)


def _curves(phase1: dict, runs: Sequence[Phase2Run], results: Sequence[dict], value: str) -> pd.DataFrame:
    """Learning curves across both phases (docs/CONTRACTS.md)."""
    frames = []
    for seed, (_, payload) in phase1.items():
        c = payload["curves"].copy()
        c.insert(0, "seed", seed)
        c.insert(1, "condition", "oracle")
        c.insert(2, "phase", 1)
        c["internal_reward"] = np.nan
        frames.append(c)
    for run, payload in zip(runs, results):
        p1 = phase1[run.seed][1]["curves"]
        c = payload["curves"].copy()
        c["episode"] += int(p1["episode"].max())
        c["env_steps"] += int(p1["env_steps"].max())
        c.insert(0, "seed", run.seed)
        c.insert(1, "condition", run.condition)
        c.insert(2, "phase", 2)
        if run.condition != "isr":
            c["internal_reward"] = np.nan
        frames.append(c)
    out = pd.concat(frames, ignore_index=True).rename(columns={"goals_per_episode": value})
    cols = ["seed", "condition", "phase", "episode", "env_steps", value, "internal_reward", "return"]
    return out[cols]


def _ood_table(runs: Sequence[Phase2Run], results: Sequence[dict]) -> pd.DataFrame:
    rows = []
    for run, payload in zip(runs, results):
        for _, row in payload["evaluation"].iterrows():
            rows.append({"seed": run.seed, "condition": run.condition, "layout": row["layout"],
                         "ood_reward": float(row["ood_reward"])})
    return pd.DataFrame(rows, columns=["seed", "condition", "layout", "ood_reward"])


def _runs_of(stage: Stage) -> list[Phase2Run]:
    return [r for batch in stage for r in batch.runs]


def _fig1(profile: Profile, seeds: Sequence[int]) -> FigurePlan:
    """Fig. 1b: phase 1 in 3-wall mazes, then oracle / none / isr (PAPER.md §5)."""
    phase1 = phase1_stage("grid", "random-3", seeds, profile)
    isrs = isr_stage(phase1, profile.isr)
    runs = [Phase2Run(s, c, "random-3", "add") for s in seeds for c in ("oracle", "none", "isr")]
    phase2 = phase2_stage("grid", phase1, isrs, runs, profile.phase2_rollouts)

    def tables(store: ResultsStore) -> dict[str, pd.DataFrame]:
        return {"curves": _curves(load_stage(phase1, store), _runs_of(phase2), load_stage(phase2, store),
                                  "goals_per_episode")}

    return FigurePlan(Plan().add(phase1, isrs, phase2), tables, (phase2,))


def _fig3(profile: Profile, seeds: Sequence[int]) -> FigurePlan:
    """Fig. 3: the ISR's held-out error over training (3a) and over data size (3b)."""
    phase1 = phase1_stage("grid", "random-3", seeds, profile)
    curve_isrs = isr_stage(phase1, profile.isr_curve)
    sized_isrs = isr_stage(phase1, profile.isr_data_size, profile.isr_data_sizes)

    def tables(store: ResultsStore) -> dict[str, pd.DataFrame]:
        curve_payloads = [(batch, batch.load(store)) for batch in curve_isrs]
        curve = pd.concat(
            [p["curve"].assign(seed=s) for batch, loaded in curve_payloads for (s, _), p in zip(batch.grid(), loaded)],
            ignore_index=True,
        )[["seed", "draws", "split", "mse"]]
        rows = [
            (s, int(p["final"]["isr_train_transitions"].iloc[0]), float(p["final"]["isr_test_mse"].iloc[0]), n)
            for batch in sized_isrs for (s, n), p in zip(batch.grid(), batch.load(store))
        ]
        rows.sort(key=lambda row: (profile.isr_data_sizes.index(row[3]), seeds.index(row[0])))
        data_size = pd.DataFrame(
            [r[:3] for r in rows], columns=["seed", "isr_train_transitions", "isr_test_mse"]
        )
        return {"isr_curve": curve, "isr_data_size": data_size,
                "isr_error_by_part": _isr_error_by_part(curve_payloads, store)}

    return FigurePlan(Plan().add(phase1, curve_isrs, sized_isrs), tables)


def _isr_error_by_part(curve_payloads: Sequence[tuple[Any, list[dict]]], store: ResultsStore) -> pd.DataFrame:
    """Fig. 3a's ISRs' error on each tenth of their phase 1 (``valint.isr_errors``), per seed,
    from the ISR batches and the payloads already loaded for the curve."""
    frames = []
    for batch, payloads in curve_payloads:
        phase1 = batch.phase1.load(store)
        for (seed, _), payload in zip(batch.grid(), payloads):
            part = isr_error_by_part(transitions_of(phase1[seed][1]), isr_weights(payload),
                                     test_fraction=batch.isr.test_fraction,
                                     obs_scale=world_obs_scale(batch.phase1.world, batch.phase1.layout,
                                                               network="isr"))
            frames.append(part.assign(seed=seed))
    return pd.concat(frames, ignore_index=True)[["seed", *ERROR_BY_PART_COLUMNS]]


def _fig4(profile: Profile, seeds: Sequence[int], *, isr_pay: str, ood_layout: str) -> FigurePlan:
    """Fig. 4: 4a as Fig. 1b; 4b frozen / isr / oracle evaluated in an OOD layout."""
    fig1 = _fig1(profile, seeds)
    phase1 = phase1_stage("grid", "random-1", seeds, profile)
    isrs = isr_stage(phase1, profile.isr)
    runs = [Phase2Run(s, "frozen", "random-1", "add", (ood_layout,)) for s in seeds]
    runs += [Phase2Run(s, c, ood_layout, isr_pay, (ood_layout,)) for s in seeds for c in ("isr", "oracle")]
    phase2 = phase2_stage("grid", phase1, isrs, runs, profile.phase2_rollouts)

    def tables(store: ResultsStore) -> dict[str, pd.DataFrame]:
        out = fig1.tables(store)
        out["curves"] = out["curves"][out["curves"]["condition"].isin(["oracle", "none", "isr"])]
        out["ood"] = _ood_table(_runs_of(phase2), load_stage(phase2, store))
        return out

    plan = Plan(list(fig1.plan.batches)).add(phase1, isrs, phase2)
    return FigurePlan(plan, tables, fig1.phase2 + (phase2,))


FIG5_CONDITIONS: dict[str, tuple[str, ...]] = {
    "all": claims.OOD_CONDITIONS,
    "frozen": ("frozen",),
    "isr+oracle": ("isr", "oracle"),
}
"""The ``conditions`` of a Fig. 5 run. A paper-scale record is made of parts that each fit in a
working session (issue 16): phase 1 with ``frozen`` (one learner per seed, evaluated in every
chosen layout) as one part, ``isr+oracle`` in one layout per part. Each part trains exactly
the batches that the whole figure trains for it, so the parts' runs are the figure's runs."""


def _fig5(profile: Profile, seeds: Sequence[int], *, isr_pay: str, layout: str, conditions: str) -> FigurePlan:
    """Fig. 5: frozen / isr / oracle in each OOD layout after a long phase 2, from the best
    phase-1 checkpoint (``conditions`` selects a part of them, :data:`FIG5_CONDITIONS`)."""
    layouts = LAYOUT_NAMES if layout == "all" else (layout,)
    wanted = FIG5_CONDITIONS[conditions]
    phase1 = phase1_stage("grid", "random-1", seeds, profile)
    isrs = isr_stage(phase1, profile.isr) if "isr" in wanted else None
    runs = [Phase2Run(s, "frozen", "random-1", isr_pay, tuple(layouts)) for s in seeds if "frozen" in wanted]
    runs += [Phase2Run(s, c, x, isr_pay, (x,)) for s in seeds for x in layouts for c in ("isr", "oracle")
             if c in wanted]
    phase2 = phase2_stage("grid", phase1, isrs, runs, profile.long_phase2_rollouts, start="best")

    def tables(store: ResultsStore) -> dict[str, pd.DataFrame]:
        by_seed = load_stage(phase1, store)
        checkpoints = pd.DataFrame({"seed": list(seeds), "best_step": [int(by_seed[s][1]["best_step"]) for s in seeds]})
        return {"ood": _ood_table(_runs_of(phase2), load_stage(phase2, store)), "checkpoints": checkpoints}

    return FigurePlan(Plan().add(phase1, *([isrs] if isrs else []), phase2), tables, (phase2,))


def _fig6(profile: Profile, seeds: Sequence[int], *, isr_pay: str, layout: str, isr_draws: int | None) -> FigurePlan:
    """Fig. 6: an under-trained ISR paying a learner alone; its internal reward over phase 2."""
    isr = profile.isr_undertrained if isr_draws is None else ISRConfig(
        **(asdict(profile.isr_undertrained) | {"max_draws": isr_draws})
    )
    phase1 = phase1_stage("grid", "random-1", seeds, profile)
    isrs = isr_stage(phase1, isr)
    phase2 = phase2_stage("grid", phase1, isrs, [Phase2Run(s, "isr", layout, isr_pay) for s in seeds],
                          profile.long_phase2_rollouts, start="best")

    def tables(store: ResultsStore) -> dict[str, pd.DataFrame]:
        frames = [p["curves"].assign(seed=r.seed) for r, p in zip(_runs_of(phase2), load_stage(phase2, store))]
        curves = pd.concat(frames, ignore_index=True)[
            ["seed", "episode", "env_steps", "internal_reward", "goals_per_episode"]
        ]
        models = [p for batch in isrs for p in batch.load(store)]
        isr_quality = pd.DataFrame(
            {"seed": list(seeds), "isr_test_mse": [float(p["final"]["isr_test_mse"].iloc[0]) for p in models]}
        )
        return {"curves": curves, "isr_quality": isr_quality}

    return FigurePlan(Plan().add(phase1, isrs, phase2), tables, (phase2,))


def _fig7(profile: Profile, seeds: Sequence[int], *, isr_pay: str, layout_rule: str, obs_scale: str) -> FigurePlan:
    """Fig. 7: the two-agent world; oracle / none / isr after a phase 1 of helping."""
    from valint.prosocial import variant_name

    variant = variant_name(layout_rule, obs_scale)
    prosocial = replace(profile, ppo=profile.prosocial_ppo)
    phase1 = phase1_stage("prosocial", variant, seeds, prosocial)
    isrs = isr_stage(phase1, profile.isr_prosocial)
    runs = [Phase2Run(s, c, variant, isr_pay) for s in seeds for c in ("oracle", "none", "isr")]
    phase2 = phase2_stage("prosocial", phase1, isrs, runs, profile.prosocial_phase2_rollouts)

    def tables(store: ResultsStore) -> dict[str, pd.DataFrame]:
        return {"curves": _curves(load_stage(phase1, store), _runs_of(phase2), load_stage(phase2, store),
                                  "partner_goals_per_episode")}

    return FigurePlan(Plan().add(phase1, isrs, phase2), tables, (phase2,))


ISR_DRAWS_MAX = PAPER.phase1_steps
"""The most training draws ``isr_draws`` may ask of Fig. 6's ISR: the transitions of a paper-scale
phase 1 (PAPER.md §6). The ISR draws at most one epoch of its training split, so a larger cap
would train the same ISR under another store key."""


FIGURES: dict[str, FigureSpec] = {
    spec.name: spec
    for spec in (
        FigureSpec("fig1", "Learning and unlearning with an ISR", (), _fig1, claims.claims_fig1,
                   tables=("curves",)),
        FigureSpec("fig3", "How well the ISR learns the social reward", (), _fig3, claims.claims_fig3,
                   tables=("isr_curve", "isr_data_size", "isr_error_by_part")),
        FigureSpec(
            "fig4", "Generalizing to a new layout", (
                _pay("add"),
                Param("ood_layout", "random-5", ("random-5", *LAYOUT_NAMES), help="the OOD layout of Fig. 4b"),
            ), _fig4, claims.claims_fig4, tables=("curves", "ood"),
        ),
        FigureSpec(
            "fig5", "Out-of-distribution layouts", (
                _pay("gate"),
                Param("layout", "all", ("all", *LAYOUT_NAMES), help="one OOD layout, or all five"),
                Param("conditions", "all", tuple(FIG5_CONDITIONS),
                      help="all, frozen (with phase 1) or isr+oracle: a part of a record"),
            ), _fig5, claims.claims_fig5, tables=("ood", "checkpoints"),
            covers=(("ood", "condition", FIG5_CONDITIONS["all"]), ("ood", "layout", LAYOUT_NAMES)),
        ),
        FigureSpec(
            "fig6", "Reward hacking by an under-trained ISR", (
                _pay("gate"),
                Param("layout", "x", LAYOUT_NAMES, help="the layout of phase 2"),
                Param("isr_draws", None, minimum=1, maximum=ISR_DRAWS_MAX,
                      help="training draws of the ISR (default: the profile's)"),
            ), _fig6, claims.claims_fig6, tables=("curves", "isr_quality"),
        ),
        FigureSpec(
            "fig7", "Internalizing a prosocial value", (
                _pay("replace"),
                Param("layout_rule", "authors", LAYOUT_RULES, help="how layouts are drawn (PAPER.md §7)"),
                Param("obs_scale", "raw", OBS_SCALES, help="the observations' scale (PAPER.md §7)"),
            ), _fig7, claims.claims_fig7, tables=("curves",), world="prosocial",
        ),
    )
}
"""Every figure that trains, by name."""

FIGURE_NAMES = tuple(FIGURES)


def spec_of(figure: str) -> FigureSpec:
    """The registered figure ``figure``; a clear error names the allowed ones."""
    check_choice("figure", figure, FIGURE_NAMES)
    return FIGURES[figure]


def figure_claims(figure: str, tables: Mapping[str, pd.DataFrame], *, profile: str,
                  rules: ClaimRules = ClaimRules()) -> pd.DataFrame:
    """The claims ledger of one figure (PAPER.md §2), from its :class:`FigureSpec`.

    Args:
        figure: a name in :data:`FIGURES`.
        tables: The figure's tidy tables (``FigureResult.tables``, docs/CONTRACTS.md).
        profile: Name of the run profile ("paper", "quick", "smoke").
        rules: Verdict thresholds.

    Returns:
        The ledger rows (``valint.claims.LEDGER_COLUMNS``).
    """
    return spec_of(figure).claims(tables, profile=profile, rules=rules)


def validate(figure: str, profile: str | Profile, seeds: Any, seed_offset: Any, params: Mapping[str, Any]) -> tuple:
    """Check every parameter before any work starts; returns (profile, seeds, params)."""
    spec = spec_of(figure)
    prof = get_profile(profile)
    n = prof.n_seeds if seeds is None else check_int("seeds", seeds, minimum=1, maximum=1000)
    offset = check_int("seed_offset", seed_offset, minimum=0, maximum=10**9)
    allowed = {p.name: p for p in spec.params}
    merged = spec.defaults
    for key, value in params.items():
        if key not in allowed:
            names = ", ".join(sorted(allowed)) or "none"
            raise ValueError(f"{figure} takes no parameter {key!r}; its parameters are: {names}")
        merged[key] = allowed[key].check(value)
    return prof, tuple(range(offset, offset + n)), merged


def plan_figure(figure: str, profile: str | Profile = "quick", *, seeds: int | None = None,
                seed_offset: int = 0, **params: Any) -> FigurePlan:
    """The validated plan of one figure (what :func:`run_figure` trains and prices)."""
    prof, seed_list, merged = validate(figure, profile, seeds, seed_offset, params)
    return FIGURES[figure].build(prof, list(seed_list), **merged)


@dataclass
class FigureResult:
    """What ``run_figure`` returns: the figure's tidy tables and its claims ledger."""

    figure: str
    profile: Profile
    seeds: tuple[int, ...]
    params: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    claims: pd.DataFrame
    wall_time_s: float
    agents: dict[tuple[int, str, str], dict[str, np.ndarray]] = field(default_factory=dict, repr=False)
    """Final phase-2 learner state per (seed, condition, layout), e.g. to animate an episode."""
    runs: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    """The provenance stored with every run behind the tables (``ResultsStore.runs_table``)."""

    @property
    def config(self) -> dict[str, Any]:
        """The figure's full configuration: figure, profile, seeds and parameters."""
        return {"figure": self.figure, "profile": asdict(self.profile), "seeds": list(self.seeds), "params": self.params}

    def provenance(self) -> dict[str, Any]:
        """Package versions, commit, configuration key, profile, wall time and device."""
        from valint.provenance import provenance
        from valint.store import config_key

        return provenance(profile=self.profile.name, science_code=spec_of(self.figure).science_code,
                          config_key=config_key(self.config), wall_time_s=self.wall_time_s)


def _as_store(store: ResultsStore | str | Path | None) -> ResultsStore:
    if store is None:
        check_store_env()
        return default_store()
    return store if isinstance(store, ResultsStore) else ResultsStore(Path(store))


def run_figure(
    figure: str,
    profile: str | Profile = "quick",
    *,
    seeds: int | None = None,
    seed_offset: int = 0,
    store: ResultsStore | str | Path | None = None,
    progress: bool = True,
    executor: str = "auto",
    workers: int | None = None,
    scheduler: str | None = None,
    threads: int = 1,
    **params: Any,
) -> FigureResult:
    """Run (or load) everything one figure needs and return its tables and claims.

    Args:
        figure: a name in :data:`FIGURES` (fig1, fig3, fig4, fig5, fig6, fig7).
        profile: paper, quick or smoke (``valint.config``).
        seeds: number of seeds (default: the profile's).
        seed_offset: the first seed; seeds are ``seed_offset ... seed_offset + seeds - 1``.
        store: the results store (default ``$VALINT_RESULTS`` or ``results/``).
        progress: show progress on stderr (batches done; a bar per batch in-process).
        executor, workers, scheduler, threads: where the plan runs
            (``valint.executors.execute_plan``).
        **params: the figure's own parameters (its :class:`FigureSpec`'s ``params``).

    Returns:
        A ``FigureResult`` with tidy tables (docs/CONTRACTS.md) and the claims ledger.
    """
    prof, seed_list, merged = validate(figure, profile, seeds, seed_offset, params)
    store = _as_store(store)
    started = time.perf_counter()
    figure_plan = FIGURES[figure].build(prof, list(seed_list), **merged)
    pending = figure_plan.plan.pending(store)
    if _showing(progress) and pending and prof.name != "smoke":
        print(_forecast(figure, prof.name, len(seed_list), pending, executor, workers, scheduler, threads),
              file=sys.stderr)
    with _batch_bar(len(pending), figure, progress) as bar:
        execute_plan(figure_plan.plan, store, executor=executor, workers=workers, scheduler=scheduler,
                     threads=threads, on_done=lambda _name: bar.update(1))
    reader = _ReadOnce(store.root)
    tables = figure_plan.tables(reader)
    agents = {
        (run.seed, run.condition, run.layout): state_of(payload, "final")
        for stage in figure_plan.phase2 for run, payload in zip(_runs_of(stage), load_stage(stage, reader))
    }
    store.used.extend(reader.used)
    runs = store.runs_table(reader.used)
    claims = figure_claims(figure, tables, profile=prof.name)
    return FigureResult(figure, prof, seed_list, merged, tables, claims, time.perf_counter() - started, agents, runs)


class _ReadOnce(ResultsStore):
    """The store as the tables see it: each entry is read and verified once.

    Every phase-2 batch reads its seeds' phase-1 entries (at the paper's scale about 48 MB each,
    the transitions), and the tables and ``FigureResult.agents`` read the phase-2 entries again;
    this view keeps what it has read for the duration of one ``run_figure``. A run that is
    missing (a corrupt entry removed on reading) is still trained and written as usual.
    """

    def __init__(self, root: str | Path) -> None:
        super().__init__(root)
        self._read: dict[str, dict[str, Any]] = {}

    def get(self, config: Mapping[str, Any]) -> dict[str, Any] | None:
        from valint.store import config_key

        key = config_key(config)
        if key not in self._read:
            payload = super().get(config)
            if payload is None:
                return None
            self._read[key] = payload
        else:
            self._note(key)
        return self._read[key]


def _showing(progress: bool) -> bool:
    import os

    return progress and os.environ.get("VALINT_PROGRESS", "1") != "0"


def _forecast(figure: str, profile: str, n_seeds: int, pending: list, executor: str, workers: int | None,
              scheduler: str | None, threads: int = 1) -> str:
    """One line, before training: how long the pending batches should take on this machine."""
    from valint.bench import price_batches, schedule_seconds
    from valint.executors import resolve_executor

    _, n, _ = resolve_executor(executor, workers, scheduler, len(pending))
    seconds = schedule_seconds(pending, price_batches(pending, threads=threads), n)
    where = "in this process" if n == 1 else f"on {n} worker processes"
    return (f"{figure} ({profile}, {n_seeds} seeds): {len(pending)} batches to train, about "
            f"{_duration(seconds)} {where} on this machine when nothing else runs")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _batch_bar(total: int, figure: str, enabled: bool):
    from tqdm import tqdm

    show = _showing(enabled) and total > 0
    return tqdm(total=total, desc=f"{figure}: batches", unit="batch", disable=not show, leave=False)


def fig7_robustness(
    profile: str | Profile = "quick",
    *,
    store: ResultsStore | str | Path | None = None,
    progress: bool = True,
    executor: str = "auto",
    workers: int | None = None,
    scheduler: str | None = None,
) -> pd.DataFrame:
    """Phase 1 of Fig. 7 under both layout rules and both observation scales (PAPER.md §7).

    The "How robust is this result?" section of the Fig. 7 chapter: the same learner (the
    profile's prosocial PPO, seeds ``0 .. robustness_seeds - 1``) trained with the social
    reward for ``robustness_rollouts`` rollouts in each of the four variants of the world
    (``authors`` or ``goal-branch`` layouts, ``raw`` or ``1/255`` inputs). Runs are stored
    like any phase 1, so the ``authors`` raw runs are shared with Fig. 7 itself when the
    lengths agree.

    Returns:
        One row per variant, seed and sixth of phase 1 (by episodes): layout_rule, obs_scale,
        seed, sixth (1..6), episodes, partner_goals_per_episode (mean over the sixth's
        episodes); plus, per layout rule, the partner goals per episode of a uniformly random
        learner (``random_learner``, from ``valint.prosocial.random_learner_partner_goals``).
    """
    from valint.prosocial import random_learner_partner_goals, variant_name

    prof = get_profile(profile)
    store = _as_store(store)
    short = replace(prof, ppo=prof.prosocial_ppo, prosocial_phase1_rollouts=prof.robustness_rollouts)
    seeds = list(range(prof.robustness_seeds))
    random_level = {rule: random_learner_partner_goals(rule) for rule in LAYOUT_RULES}
    variants = [(rule, scale) for rule in LAYOUT_RULES for scale in OBS_SCALES]
    batches = {v: Phase1Batch("prosocial", variant_name(*v), tuple(seeds), short) for v in variants}
    plan = Plan(list(batches.values()))
    with _batch_bar(len(plan.pending(store)), "fig7 robustness", progress) as bar:
        execute_plan(plan, store, executor=executor, workers=workers, scheduler=scheduler,
                     on_done=lambda _name: bar.update(1))
    rows = []
    for (rule, scale), batch in batches.items():
        for seed, (_, payload) in batch.load(store).items():
            curve = payload["curves"]
            sixth = np.minimum(6 * (curve["episode"].to_numpy() - 1) // len(curve), 5) + 1
            means = curve.groupby(sixth)["goals_per_episode"].agg(["mean", "size"])
            for k, row in means.iterrows():
                rows.append({
                    "layout_rule": rule, "obs_scale": scale, "seed": seed, "sixth": int(k),
                    "episodes": int(row["size"]), "partner_goals_per_episode": float(row["mean"]),
                    "random_learner": random_level[rule],
                })
    return pd.DataFrame(rows)


def fig7_robustness_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The robustness table of the Fig. 7 chapter, one row per variant of the world.

    Args:
        table: from :func:`fig7_robustness`.

    Returns:
        Columns layout_rule, obs_scale, random_learner, then the partner goals per episode of
        each sixth of phase 1 (``sixth 1`` ... ``sixth 6``, mean over seeds), and ``change``
        (last sixth minus first).
    """
    wide = table.pivot_table(
        index=["layout_rule", "obs_scale", "random_learner"], columns="sixth",
        values="partner_goals_per_episode", aggfunc="mean",
    )
    wide.columns = [f"sixth {k}" for k in wide.columns]
    wide["change"] = wide.iloc[:, -1] - wide.iloc[:, 0]
    return wide.reset_index()


def fig7_random_learner(n_copies: int = 100, episodes: int = 100) -> pd.DataFrame:
    """How often a uniformly random learner helps in each layout rule of the two-agent world,
    beside the level of the authors' world (PAPER.md §7).

    Args:
        n_copies: world copies, each its own seed.
        episodes: episodes per copy (the default gives 10,000 episodes per rule).

    Returns:
        One row per layout rule: layout_rule, episodes, mean, ci_low, ci_high (95 %, normal
        approximation over episodes, which are independent draws of the world), authors_low,
        authors_high (:data:`valint.prosocial.AUTHORS_RANDOM_LEARNER`).
    """
    from valint.prosocial import AUTHORS_RANDOM_LEARNER, random_learner_episodes

    rows = []
    for rule in LAYOUT_RULES:
        goals = random_learner_episodes(rule, n_copies=n_copies, episodes=episodes).ravel()
        half = 1.96 * goals.std(ddof=1) / np.sqrt(goals.size)
        rows.append({"layout_rule": rule, "episodes": goals.size, "mean": goals.mean(),
                     "ci_low": goals.mean() - half, "ci_high": goals.mean() + half,
                     "authors_low": AUTHORS_RANDOM_LEARNER[0], "authors_high": AUTHORS_RANDOM_LEARNER[1]})
    return pd.DataFrame(rows)
