"""Tests of the throughput benchmark and the sweep-duration estimate (valint/bench.py)."""
from __future__ import annotations

import functools
import json
import math

import pytest

from valint import bench
from valint.config import PPOConfig

TINY = PPOConfig(n_steps=64, batch_size=32, n_epochs=1)


def test_flops_per_env_step_of_the_paper_setting() -> None:
    flops = bench.flops_per_env_step(PPOConfig())
    assert flops["per_step"] == flops["forward"] + 10 * (flops["forward"] + flops["backward"])
    assert 44e6 < flops["per_step"] < 46e6


def test_the_ceiling_times_every_product_of_a_minibatch() -> None:
    from valint.envs import N_ACTIONS, OBS_SHAPE
    from valint.ppo import policy_flops

    products, flops = bench.minibatch_products(3, 4)
    per_sample = policy_flops(OBS_SHAPE, N_ACTIONS)
    assert flops == 3 * 4 * (per_sample["forward"] + per_sample["backward"])
    assert len(products) == 10 and products[0][-1] is None and all(p[-1] is not None for p in products[1:])
    ceiling = bench.gemm_ceiling(1, n_runs=2, batch=4, seconds=0.05)
    assert math.isfinite(ceiling) and ceiling > 0


def test_run_bench_report_is_json_and_text() -> None:
    report = bench.run_bench(1, with_sb3=False, config=TINY, device="cpu")
    json.dumps(report, default=str)
    assert [(row["runs"], row["threads"]) for row in report["results"]] == [(1, 1), (bench.TEN_RUNS, 1)]
    for row in report["results"]:
        assert row["env_steps_per_s"] > 0
        assert row["training_gflops"] == pytest.approx(row["env_steps_per_s"] * report["flops_per_env_step"] / 1e9)
        assert 0 < row["fraction_of_peak"] < 1
        assert row["fraction_of_ceiling"] == pytest.approx(
            row["fraction_of_peak"] * report["matmul_peak_gflops_1_thread"] / report["gemm_ceiling_gflops_1_thread"])
    assert report["matmul_peak_gflops_1_thread"] > 0 and report["max_rss_mb"] > 0
    assert report["ceiling_env_steps_per_s_per_core"] == pytest.approx(
        report["gemm_ceiling_gflops_1_thread"] * 1e9 / report["flops_per_env_step"])
    text = bench.format_report(report)
    assert "valint, 10 runs" in text and "GFLOP/s" in text and "ceiling" in text


def test_main_prints_json_writes_it_and_rejects_bad_arguments(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(bench, "run_bench", functools.partial(bench.run_bench, config=TINY, device="cpu"))
    out = tmp_path / "generated" / "bench.json"
    assert bench.main(["--rollouts", "1", "--no-sb3", "--no-load", "--json", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert json.loads(out.read_text())["results"][0]["runs"] == printed["results"][0]["runs"] == 1
    assert bench.main(["--rollouts", "0"]) == 2
    assert "--rollouts" in capsys.readouterr().err


def test_missing_sb3_says_how_to_install_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "sb3_available", lambda: False)
    report = bench.run_bench(1, config=TINY, device="cpu")
    assert report["sb3"] is None and report["ratios"] == {}
    assert "pip install -e '.[bench]'" in bench.format_report(report)


@pytest.mark.slow
def test_under_load_rows_train_the_figure_idle_and_beside_busy_processes() -> None:
    from test_plan import MICRO

    rows = bench.executor_under_load("fig1", MICRO, seeds=2, n_busy=1)
    assert [(r["setup"], r["load"]) for r in rows] == [
        (setup, load) for load in ("idle", "1 busy processes") for setup, _ in bench.LOAD_SETUPS
    ]
    for row in rows:
        assert row["wall_s"] > 0 and row["cpu_s"] > 0 and row["env_steps"] == 2 * (2 + 3 * 1) * 64
        if row["load"] == "idle":
            assert row["fraction_of_idle"] == 1.0
    assert "under load" in bench.format_load(rows, "fig1", "micro")
