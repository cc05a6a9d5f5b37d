"""The registry and the plans (valint/figures.py, valint/plan.py; issue 13).

A figure's plan is the single description of what it trains: the duration estimate prices it,
the executors run it, and the tables are read from what it stored. These tests check that the
plan, its workload and what training actually writes agree for every figure and parameter.
"""
from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass

import pandas as pd
import pytest

from valint import bench
from valint.config import PAPER, SMOKE, ISRConfig, PPOConfig
from valint.envs import EPISODE_STEPS, LAYOUT_NAMES
from valint.figures import FIGURE_NAMES, FIGURES, plan_figure, run_figure, validate
from valint.nets import torch_threads
from valint.prosocial import MAX_STEPS
from valint.plan import WORKLOAD_COLUMNS, Plan, batch_name, chunks, workload
from valint.store import ResultsStore, config_key

MICRO = SMOKE.with_overrides(
    ppo=PPOConfig(learning_rate=5e-4, n_steps=64, batch_size=32, n_epochs=1),
    prosocial_ppo=PPOConfig(learning_rate=5e-4, n_steps=64, batch_size=32, n_epochs=1),
    phase1_rollouts=2,
    phase2_rollouts=1,
    long_phase2_rollouts=1,
    prosocial_phase1_rollouts=2,
    prosocial_phase2_rollouts=2,
    eval_episodes=2,
    checkpoint_every=64,
    checkpoint_window=3,
    isr=ISRConfig(eval_every=20, max_draws=30),
    isr_curve=ISRConfig(learning_rate=3e-5, batch_size=10, eval_every=10, max_draws=40),
    isr_data_size=ISRConfig(learning_rate=3e-5, eval_every=20, max_draws=30),
    isr_undertrained=ISRConfig(eval_every=5, max_draws=10),
    isr_prosocial=ISRConfig(batch_size=10, epochs=1, test_fraction=0.0, max_draws=30),
    isr_data_sizes=(64, 128),
    seeds_per_batch=1,
)
"""A profile that trains every code path of every figure in about a second per figure."""


def _variants() -> list[tuple[str, dict]]:
    """Every figure at its defaults, and every value of every parameter, one at a time."""
    out = []
    for name, spec in FIGURES.items():
        out.append((name, {}))
        for param in spec.params:
            values = param.choices or (1, 7)
            out += [(name, {param.name: v}) for v in values if v != param.default]
    return out


VARIANTS = _variants()
EPISODE = {"grid": EPISODE_STEPS, "prosocial": MAX_STEPS}


def test_every_figure_with_an_experiment_is_registered_once() -> None:
    assert FIGURE_NAMES == ("fig1", "fig3", "fig4", "fig5", "fig6", "fig7")
    for name, spec in FIGURES.items():
        assert spec.name == name and spec.title
        assert len({p.name for p in spec.params}) == len(spec.params)


def test_chunks_split_seeds_in_order() -> None:
    assert chunks(range(5), 2) == [(0, 1), (2, 3), (4,)]
    assert chunks([7], 3) == [(7,)]


@pytest.mark.parametrize(("figure", "params"), VARIANTS, ids=[f"{f}-{p}" for f, p in VARIANTS])
def test_plan_is_well_formed_and_its_workload_counts_its_runs(figure: str, params: dict) -> None:
    plan = plan_figure(figure, "paper", **params).plan
    keys = [config_key(c) for b in plan.batches for c in b.configs()]
    assert len(keys) == len(set(keys)), "two batches train the same run"
    for i, batch in enumerate(plan.batches):
        assert all(dep in plan.batches[:i] for dep in batch.deps), "a batch is planned before what it needs"
        assert len(batch.workload()) == len(batch.configs())
        assert len(batch.seeds) <= PAPER.seeds_per_batch
    table = workload(plan)
    assert list(table.columns) == WORKLOAD_COLUMNS and len(table) == len(keys)
    # the workload's rollouts are the ones in the runs' own store keys
    for batch in plan.batches:
        rows = batch.workload()
        for config, row in zip(batch.configs(), rows):
            if config["kind"] in ("phase1", "phase2"):
                assert config["rollouts"] == row["rollouts"]


def test_plans_take_seeds_per_batch_from_the_profile_only() -> None:
    paper = plan_figure("fig1", "paper").plan
    assert [b.seeds for b in paper.batches if b.kind == "phase1"] == [(0, 1, 2, 3, 4), (5, 6, 7, 8, 9)]
    quick = plan_figure("fig1", "quick").plan
    assert [b.seeds for b in quick.batches if b.kind == "phase1"] == [(0, 1, 2), (3, 4)]


def test_validation_names_the_parameter_and_its_values() -> None:
    with pytest.raises(ValueError, match="layout"):
        validate("fig5", "smoke", None, 0, {"layout": "nowhere"})
    with pytest.raises(ValueError, match="takes no parameter 'layout'"):
        validate("fig1", "smoke", None, 0, {"layout": "x"})
    with pytest.raises(ValueError, match="isr_draws"):
        validate("fig6", "smoke", None, 0, {"isr_draws": "many"})
    with pytest.raises(ValueError, match="figure"):
        validate("fig2", "smoke", None, 0, {})


TRAINED = [
    ("fig1", {}), ("fig3", {}), ("fig4", {"ood_layout": "x"}), ("fig5", {"layout": "all"}),
    ("fig6", {"isr_draws": 7}), ("fig7", {"layout_rule": "goal-branch", "obs_scale": "1/255"}),
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Every figure trained at the micro profile, each into its own store."""
    out = {}
    with torch_threads(1):
        for figure, params in TRAINED:
            root = tmp_path_factory.mktemp(f"plan-{figure}")
            result = run_figure(figure, MICRO, seeds=2, store=root, progress=False, executor="inprocess", **params)
            out[figure] = (root, result, params)
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("figure", "params"), TRAINED, ids=[f for f, _ in TRAINED])
def test_training_writes_exactly_the_planned_runs_with_the_planned_steps(trained, figure, params) -> None:
    root, result, _ = trained[figure]
    plan = plan_figure(figure, MICRO, seeds=2, **params).plan
    planned = {config_key(c): c for b in plan.batches for c in b.configs()}
    stored = set(ResultsStore(root).keys())
    assert stored == set(planned), "training wrote runs the plan does not price, or missed some"
    table = workload(plan)
    store = ResultsStore(root)
    for batch, (_, group) in zip(plan.batches, table.groupby("batch", sort=False)):
        for config, (_, row) in zip(batch.configs(), group.iterrows()):
            payload = store.get(config)
            if config["kind"] in ("phase1", "phase2"):
                # curves log each finished episode at the step it ended
                total, episode = row["rollouts"] * row["n_steps"], EPISODE[row["world"]]
                assert total - episode < int(payload["curves"]["env_steps"].max()) <= total
            else:
                curve = payload["curve"]
                draws = int(curve["draws"].max())
                assert math.ceil(draws / config["isr"]["batch_size"]) == row["isr_steps"]
    # the tables are read back from the store only: a second call trains nothing
    before = {k: (root / f"{k}.npz").stat().st_mtime_ns for k in stored}
    again = run_figure(figure, MICRO, seeds=2, store=root, progress=False, executor="inprocess", **params)
    assert {k: (root / f"{k}.npz").stat().st_mtime_ns for k in stored} == before
    for name, frame in result.tables.items():
        pd.testing.assert_frame_equal(frame, again.tables[name], check_exact=True)


@pytest.mark.slow
def test_estimate_duration_prices_every_batch_of_the_plan() -> None:
    lines: list[str] = []
    seconds = bench.estimate_duration("smoke", "fig4", log=lines.append)
    assert math.isfinite(seconds) and seconds > 0
    plan = plan_figure("fig4", "smoke").plan
    assert len(lines) == len(plan.batches)
    assert sum(line.startswith("PPO") for line in lines) == sum(b.kind != "isr" for b in plan.batches)
    with pytest.raises(ValueError, match="figure"):
        bench.estimate_duration("smoke", "fig2")
    with pytest.raises(ValueError, match="layout"):
        bench.estimate_duration("smoke", "fig5", layout="nowhere")


@dataclass(frozen=True)
class _Job:
    """A stand-in for a plan's batch: a name and the batches it needs."""

    name: str
    deps: tuple = ()


def test_the_schedule_runs_ready_batches_in_plan_order_on_free_workers() -> None:
    """Fig. 4's shape: two phase-1 batches, an ISR after each, then phase 2 on them."""
    p1a, p1b = _Job("p1a"), _Job("p1b")
    isr_a, isr_b = _Job("isr_a", (p1a,)), _Job("isr_b", (p1b,))
    p2a, p2b, p2c = _Job("p2a", (isr_a,)), _Job("p2b", (isr_b,)), _Job("p2c", (isr_b,))
    jobs = [p1a, isr_a, p2a, p1b, isr_b, p2b, p2c]
    prices = [10.0, 1.0, 30.0, 10.0, 1.0, 5.0, 12.0]
    assert bench.schedule_seconds(jobs, prices, 1) == pytest.approx(sum(prices))
    # two workers: p1a, p1b together (10); isr_a, isr_b (11); p2a on one (41), p2b then p2c on the other (28)
    assert bench.schedule_seconds(jobs, prices, 2) == pytest.approx(41.0)
    # enough workers: the longest chain of dependent batches
    assert bench.schedule_seconds(jobs, prices, 8) == pytest.approx(10 + 1 + 30)
    # a dependency that is not pending (already stored) does not wait
    assert bench.schedule_seconds([p2a, p2b], [30.0, 5.0], 2) == pytest.approx(30.0)
    with pytest.raises(ValueError, match="workers"):
        bench.schedule_seconds(jobs, prices, 0)
    with pytest.raises(ValueError, match="prices"):
        bench.schedule_seconds(jobs, prices[:-1], 2)


@pytest.mark.slow
def test_a_figure_says_how_long_it_will_train_before_it_starts(tmp_path, capsys, monkeypatch) -> None:
    """Live re-runs print a forecast of the pending batches; a stored figure prints none."""
    from valint import figures

    monkeypatch.delenv("VALINT_PROGRESS", raising=False)
    batches = plan_figure("fig3", "smoke").plan.batches
    line = figures._forecast("fig3", "smoke", 2, batches, "inprocess", None, None)
    assert line.startswith(f"fig3 (smoke, 2 seeds): {len(batches)} batches to train, about ")
    assert "in this process" in line
    two = figures._forecast("fig3", "smoke", 2, batches, "local", 2, None)
    assert "on 2 worker processes" in two
    single = bench.price_batches(batches)
    assert len(single) == len(batches) and all(math.isfinite(x) and x > 0 for x in single)


def test_a_parameter_is_declared_once_and_reaches_the_plan() -> None:
    """fig5 layout=x trains 3 runs per seed (frozen, isr, oracle); layout=all 11."""
    one = workload(plan_figure("fig5", "paper", layout="x").plan)
    every = workload(plan_figure("fig5", "paper").plan)
    assert (one["kind"] == "phase2").sum() == 3 * 10
    assert (every["kind"] == "phase2").sum() == 11 * 10
    assert json.dumps(FIGURES["fig5"].defaults) == json.dumps({"isr_pay": "gate", "layout": "all", "conditions": "all"})
    assert list(itertools.chain.from_iterable([p.name] for p in FIGURES["fig6"].params)) == [
        "isr_pay", "layout", "isr_draws"]


def test_fig5_parts_train_exactly_the_runs_of_the_whole_figure() -> None:
    """Phase 1 with frozen, then isr+oracle per layout: together the figure's runs, no more, and
    each batch the same stack as in the whole figure (so its bits are the same)."""
    def batches(**params):
        return {batch_name(b): b.configs() for b in plan_figure("fig5", "paper", **params).plan.batches}

    whole = batches()
    frozen = batches(conditions="frozen")
    assert {b.split(":")[0] for b in frozen} == {"phase1", "phase2"}
    parts = dict(frozen)
    for layout in LAYOUT_NAMES:
        part = batches(layout=layout, conditions="isr+oracle")
        assert {c["run"]["condition"] for b, cs in part.items() if b.startswith("phase2") for c in cs} == {"isr", "oracle"}
        parts |= part
    assert parts == whole
    with pytest.raises(ValueError, match="conditions='isr' is not allowed; choose one of 'all', 'frozen', 'isr\\+oracle'"):
        validate("fig5", "paper", None, 0, {"conditions": "isr"})


def test_a_phase2_batch_is_priced_with_its_own_conditions_and_evaluation(monkeypatch) -> None:
    """The probe of a phase-2 batch trains its conditions (isr paid by an ISR) and adds evaluation."""
    calls = []

    def probe(world, layouts, conditions, config, device, *, phase=1, pay_modes=None):
        calls.append((phase, tuple(layouts), tuple(conditions)))
        return 1e-3, 1e-2

    monkeypatch.setattr(bench, "_probe_ppo", probe)
    monkeypatch.setattr(bench, "_probe_evaluation", lambda layout, n_runs, n_episodes, device: 0.005 * n_runs * n_episodes)
    batches = plan_figure("fig4", "paper").plan.batches
    phase2 = [b for b in batches if b.kind == "phase2"]
    prices = [bench.price_batches([b])[0] for b in phase2]
    assert len(calls) == len(phase2)
    for batch, price, (phase, layouts, conditions) in zip(phase2, prices, calls):
        assert phase == 2 and len(conditions) == min(len(batch.runs), bench.TEN_RUNS)
        assert set(conditions) == {r.condition for r in batch.runs}
        assert set(layouts) == {r.layout for r in batch.runs}
        cfg = PAPER.ppo
        training = batch.rollouts * (cfg.n_steps * 1e-3 + cfg.n_epochs * cfg.n_minibatches * 1e-2)
        training *= len(batch.runs) / len(conditions)
        evaluation = 0.005 * PAPER.eval_episodes * sum(len(r.eval_layouts) for r in batch.runs)
        assert price == pytest.approx(training + evaluation)
    assert any("isr" in c for _, _, c in calls)


def test_an_isr_batch_is_priced_with_its_mse_points(monkeypatch) -> None:
    """An ISR batch costs its gradient steps and its train and held-out MSE points: for the
    paper's Fig. 4 ISR (batch 1, a point every 1,000 steps) 110 points of 2,048 + 12,083
    transitions per run."""
    monkeypatch.setattr(bench, "_probe_isr", lambda config, n_runs, device: 1e-3)
    monkeypatch.setattr(bench, "_probe_isr_evaluation", lambda n_runs, device: 1e-6)
    isr = next(b for b in plan_figure("fig4", "paper").plan.batches if b.kind == "isr")
    steps = int(workload(Plan([isr]))["isr_steps"].iloc[0])
    assert steps == 108_749 and PAPER.isr.eval_every == 1000
    n_test = round(59 * 2048 * PAPER.isr.test_fraction)
    assert bench.price_batches([isr])[0] == pytest.approx(steps * 1e-3 + len(isr.seeds) * 110 * (2048 + n_test) * 1e-6)


def test_the_isr_evaluation_probe_measures_a_positive_cost() -> None:
    with torch_threads(1):
        per_transition = bench._probe_isr_evaluation(2, None)
    assert math.isfinite(per_transition) and 0 < per_transition < 1e-3
