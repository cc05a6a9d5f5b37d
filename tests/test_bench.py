"""Tests of ``python -m valint bench``: the throughput rows (benchmarks/) and the under-load rows
(valint/bench.py)."""
from __future__ import annotations

import functools
import json
import math

import pytest

import torch

from benchmarks import gradients, peak, sb3, throughput
from valint import bench
from valint.config import PPOConfig

TINY = PPOConfig(n_steps=64, batch_size=32, n_epochs=1)


@pytest.fixture
def untimed_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fixed numbers for the matmul peak, the GEMM ceiling and the gradient rows.

    For tests of the report's plumbing: test_run_bench_report_is_json_and_text measures them for
    real, and each measurement costs seconds that these tests would only repeat.
    """
    monkeypatch.setattr(throughput, "matmul_peak", lambda threads: 40.0 * threads)
    monkeypatch.setattr(throughput, "gemm_ceiling", lambda threads: 20.0 * threads)
    monkeypatch.setattr(throughput, "time_gradients",
                        lambda threads, **_: {name: 0.1 for name in gradients.METHODS})


def test_flops_per_env_step_of_the_paper_setting() -> None:
    flops = throughput.flops_per_env_step(PPOConfig())
    assert flops["per_step"] == flops["forward"] + 10 * (flops["forward"] + flops["backward"])
    assert 44e6 < flops["per_step"] < 46e6


def test_the_ceiling_times_every_product_of_a_minibatch() -> None:
    from valint.envs import N_ACTIONS, OBS_SHAPE
    from valint.networks import policy_network

    products, flops = peak.minibatch_products(3, 4)
    per_sample = policy_network(N_ACTIONS).flops(OBS_SHAPE)
    assert flops == 3 * 4 * (per_sample["forward"] + per_sample["backward"])
    assert len(products) == 10 and products[0][-1] is None and all(p[-1] is not None for p in products[1:])
    ceiling = peak.gemm_ceiling(1, n_runs=2, batch=4, seconds=0.05)
    assert math.isfinite(ceiling) and ceiling > 0


def test_run_bench_report_is_json_and_text() -> None:
    report = throughput.run_bench(1, with_sb3=False, config=TINY, device="cpu")
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
    assert [row["method"] for row in report["gradient_step"]["rows"]] == list(gradients.METHODS)
    assert report["gradient_step"]["rows"][0]["vs_kernel"] == 1.0
    assert all(row["ms"] > 0 for row in report["gradient_step"]["rows"])
    text = throughput.format_report(report)
    assert "valint, 10 runs" in text and "GFLOP/s" in text and "ceiling" in text
    assert "torch.func vmap(grad(loss))" in text and "torch autograd" in text and "x kernel" in text


@pytest.mark.parametrize("ent_coef", [0.0, 0.01])
def test_the_three_gradients_of_the_bench_agree(ent_coef: float) -> None:
    case = gradients.minibatch(3, 16, seed=4)
    config = PPOConfig(ent_coef=ent_coef)
    computed = {
        name: {k: v.clone() for k, v in gradients.GRADIENTS[name](case, config)().items()}
        for name in gradients.METHODS
    }
    assert any(float(v.abs().max()) > 0 for v in computed["kernel"].values())
    for name in ("torch.func", "autograd"):
        assert computed[name].keys() == computed["kernel"].keys()
        for key, value in computed["kernel"].items():
            torch.testing.assert_close(computed[name][key], value, atol=1e-6, rtol=1e-4, msg=f"{name} {key}")


def test_time_gradients_times_every_method() -> None:
    seconds = gradients.time_gradients(1, n_runs=2, batch=8, seconds=0.15)
    assert list(seconds) == list(gradients.METHODS)
    assert all(math.isfinite(s) and s > 0 for s in seconds.values())


def test_main_without_the_benchmarks_package_says_where_it_lives(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "benchmarks" else find_spec(name, *a))
    assert bench.main(["--no-load"]) == 1
    assert "benchmarks" in capsys.readouterr().err


def test_sb3_model_is_the_policy_table() -> None:
    pytest.importorskip("stable_baselines3")
    from torch import nn

    from valint.envs import N_ACTIONS, OBS_SHAPE
    from valint.networks import policy_network

    policy = sb3.make_sb3_model().policy
    extractor, mlp = policy.features_extractor, policy.mlp_extractor
    layers = (
        [m for m in extractor.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        + [m for m in mlp.policy_net if isinstance(m, nn.Linear)] + [policy.action_net]
        + [m for m in mlp.value_net if isinstance(m, nn.Linear)] + [policy.value_net]
    )
    shapes = [
        (4 * m.in_channels, m.out_channels) if isinstance(m, nn.Conv2d) else (m.in_features, m.out_features)
        for m in layers
    ]
    table = policy_network(N_ACTIONS).shapes(OBS_SHAPE)
    assert shapes == list(table.values())
    n_weights = sum(fan_in * fan_out + fan_out for fan_in, fan_out in table.values())
    assert sum(p.numel() for p in policy.parameters()) == n_weights
    activations = [type(m) for m in mlp.policy_net if not isinstance(m, nn.Linear)]
    assert activations == [nn.Tanh, nn.Tanh]


def test_main_prints_json_writes_it_and_rejects_bad_arguments(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, untimed_kernels: None
) -> None:
    monkeypatch.setattr(throughput, "run_bench", functools.partial(throughput.run_bench, config=TINY, device="cpu"))
    out = tmp_path / "generated" / "bench.json"
    assert bench.main(["--rollouts", "1", "--no-sb3", "--no-load", "--json", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert json.loads(out.read_text())["results"][0]["runs"] == printed["results"][0]["runs"] == 1
    assert bench.main(["--rollouts", "0"]) == 2
    assert "--rollouts" in capsys.readouterr().err


def test_missing_sb3_says_how_to_install_the_extra(
        monkeypatch: pytest.MonkeyPatch, untimed_kernels: None) -> None:
    monkeypatch.setattr(throughput, "sb3_available", lambda: False)
    report = throughput.run_bench(1, config=TINY, device="cpu")
    assert report["sb3"] is None and report["ratios"] == {}
    assert "pip install -e '.[bench]'" in throughput.format_report(report)


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
