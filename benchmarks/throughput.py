"""Training throughput, the report of ``python -m valint bench`` (PAPER.md §4, §10).

The paper's learner is PPO with Stable-Baselines3 defaults on the 7x7 world of PAPER.md §3;
the authors' Stable-Baselines3 + MiniGrid pipeline trains at about 400 environment steps per
second on one CPU core (PAPER.md §10), which made their figures take hours. :func:`run_bench`
measures, side by side in one process (other programs on the machine slow every measurement
alike):

- the machine's float32 matrix-multiply peak, on one thread and on all cores, and the ceiling of
  the network's own matrix products (``benchmarks.peak``);
- this project's batched trainer (``valint.ppo.BatchedPPO``) on the paper's setting (3 random
  walls, the caregiver present, ``PPOConfig()`` defaults), for one run and for ten runs trained
  together, on one torch thread by default (per-core figures; ``--threads`` changes it: on a
  machine shared with other busy programs, more threads than free cores can make small
  operations many times slower while threads wait for each other);
- the same setting in Stable-Baselines3 PPO + the MiniGrid environment, when the ``bench``
  extra is installed (``benchmarks.sb3``);
- the training arithmetic those step rates amount to, against the peak;
- one PPO minibatch gradient of ten runs by the hand-written kernel, by ``torch.func`` and by
  autograd (``benchmarks.gradients``).

Training arithmetic is counted from the policy's layer table (``valint.networks``,
``Network.flops``): a layer with a ``(fan_in, fan_out)`` matrix applied at ``P`` places (output
pixels of a convolution, 1 for a dense layer) costs ``2 P fan_in fan_out`` FLOPs forward and
twice that backward (the first convolution needs no input gradient: once). One environment step
costs one forward pass while acting plus ``n_epochs`` forward and backward passes in the
update::

    flops_per_step = F + n_epochs * (F + B)

with ``F`` = 1.46 MFLOP and ``B`` = 2.89 MFLOP for PAPER.md §4's network, i.e. about 45 MFLOP
with 10 epochs. Bias additions, activations, the optimizer and the environment are not counted.
"""
from __future__ import annotations

import os
import resource
import sys
import time
from typing import Any

from valint.bench import TEN_RUNS
from valint.config import PPOConfig
from valint.nets import select_device, torch_threads

from benchmarks.gradients import LABELS, METHODS, time_gradients
from benchmarks.peak import PEAK_SIZE, gemm_ceiling, matmul_peak
from benchmarks.sb3 import BENCH_SEED, sb3_available, time_sb3


def flops_per_env_step(config: PPOConfig) -> dict[str, float]:
    """Training arithmetic per environment step of PAPER.md §4's network (module docstring)."""
    from valint.envs import N_ACTIONS, OBS_SHAPE
    from valint.networks import policy_network

    flops = policy_network(N_ACTIONS).flops(OBS_SHAPE)
    total = flops["forward"] + config.n_epochs * (flops["forward"] + flops["backward"])
    return {"forward": float(flops["forward"]), "backward": float(flops["backward"]), "per_step": float(total)}


def time_valint(
    n_runs: int, n_rollouts: int, *, device: str | None = None, config: PPOConfig | None = None
) -> float:
    """Wall seconds of ``n_rollouts`` PPO rollouts + updates of ``n_runs`` stacked runs in the
    paper's setting (3 random walls, caregiver present, ``PPOConfig()`` unless given)."""
    from valint.envs import N_ACTIONS, OBS_SHAPE
    from valint.experiments import LearnerEnv, make_world
    from valint.ppo import BatchedPPO

    seeds = list(range(BENCH_SEED, BENCH_SEED + n_runs))
    agent = BatchedPPO(seeds, OBS_SHAPE, N_ACTIONS, config or PPOConfig(), device=device)
    env = LearnerEnv(
        make_world("grid", ["random-3"] * n_runs, seeds), conditions=["oracle"] * n_runs, phase=1
    )
    start = time.perf_counter()
    agent.learn(env, n_rollouts)
    return time.perf_counter() - start


def max_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (``getrusage`` max RSS)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024.0 if sys.platform != "darwin" else kib / 2**20


def run_bench(
    n_rollouts: int = 2,
    *,
    threads: int = 1,
    repeats: int = 1,
    device: str | None = None,
    with_sb3: bool = True,
    config: PPOConfig | None = None,
) -> dict[str, Any]:
    """Measure everything of the module docstring; the best of ``repeats`` interleaved rounds.

    Args:
        n_rollouts: PPO rollouts of 2,048 steps per run in each measurement.
        threads: torch threads for the training measurements (per-core figures divide by it).
        repeats: rounds; each round measures every item once, so that a slow spell caused by
            another program hits all of them.
        device: where valint trains (``valint.nets.select_device``); Stable-Baselines3 always
            runs on the CPU, as the authors ran it, and so do the gradient rows.
        with_sb3: measure Stable-Baselines3 when it is installed.
        config: the PPO settings of valint's runs (PAPER.md §4's ``PPOConfig()`` by default;
            Stable-Baselines3 always runs the paper's).

    Returns:
        A JSON-able dict (``valint.bench.main`` prints it with ``--json``).
    """
    from valint.provenance import package_version, provenance

    dev = select_device(device)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    config = config or PPOConfig()
    flops = flops_per_env_step(config)
    steps_per_run = n_rollouts * config.n_steps
    sb3 = with_sb3 and sb3_available()
    best: dict[str, float] = {}
    rss: dict[str, float] = {}
    gradient_s = {name: float("inf") for name in METHODS}
    for _ in range(repeats):
        best["peak_1"] = max(best.get("peak_1", 0.0), matmul_peak(1))
        best["peak_all"] = max(best.get("peak_all", 0.0), matmul_peak(cores))
        best["ceiling_1"] = max(best.get("ceiling_1", 0.0), gemm_ceiling(1))
        for name, seconds in time_gradients(1, n_runs=TEN_RUNS, batch=PPOConfig().batch_size).items():
            gradient_s[name] = min(gradient_s[name], seconds)
        with torch_threads(threads):
            for n_runs in (1, TEN_RUNS):
                seconds = time_valint(n_runs, n_rollouts, device=str(dev), config=config)
                key = f"valint_{n_runs}"
                best[key] = max(best.get(key, 0.0), n_runs * steps_per_run / seconds)
                rss[key] = max_rss_mb()
            if sb3:
                sb3_steps = n_rollouts * PPOConfig().n_steps
                best["sb3_1"] = max(best.get("sb3_1", 0.0), sb3_steps / time_sb3(n_rollouts))
                rss["sb3_1"] = max_rss_mb()

    def entry(key: str, n_runs: int, pipeline: str, n_threads: int) -> dict[str, Any]:
        sps = best[key]
        gflops = sps * flops["per_step"] / 1e9
        per_core = n_threads if dev.type == "cpu" or pipeline != "valint" else None
        return {
            "pipeline": pipeline,
            "runs": n_runs,
            "threads": n_threads,
            "env_steps_per_s": sps,
            "env_steps_per_s_per_core": None if per_core is None else sps / per_core,
            "training_gflops": gflops,
            "fraction_of_peak": None if per_core is None else gflops / per_core / best["peak_1"],
            # the ceiling is valint's own layout of the products: no yardstick for other pipelines
            "fraction_of_ceiling": (
                None if per_core is None or pipeline != "valint" else gflops / per_core / best["ceiling_1"]
            ),
            "max_rss_mb_after": rss[key],
        }

    results = [
        entry("valint_1", 1, "valint", threads),
        entry(f"valint_{TEN_RUNS}", TEN_RUNS, "valint", threads),
    ]
    ratios: dict[str, float | None] = {}
    if sb3:
        results.append(entry("sb3_1", 1, "stable-baselines3 + minigrid", threads))
        for n_runs in (1, TEN_RUNS):
            ratios[f"valint_{n_runs}_runs_vs_sb3_per_core"] = best[f"valint_{n_runs}"] / best["sb3_1"]
    return {
        "setting": "PAPER.md §4: 7x7 world, 3 random walls, caregiver present, PPOConfig() defaults",
        "rollouts_per_run": n_rollouts,
        "steps_per_rollout": config.n_steps,
        "epochs": config.n_epochs,
        "env_steps_per_run": steps_per_run,
        "repeats": repeats,
        "threads": threads,
        "cores": cores,
        "device": str(dev),
        "flops_per_env_step": flops["per_step"],
        "flops_forward_per_sample": flops["forward"],
        "flops_backward_per_sample": flops["backward"],
        "matmul_peak_gflops_1_thread": best["peak_1"],
        "matmul_peak_gflops_all_cores": best["peak_all"],
        "gemm_ceiling_gflops_1_thread": best["ceiling_1"],
        "ceiling_env_steps_per_s_per_core": best["ceiling_1"] * 1e9 / flops["per_step"],
        "results": results,
        "ratios": ratios,
        "gradient_step": gradient_rows(gradient_s, TEN_RUNS, PPOConfig().batch_size, flops),
        "sb3": package_version("stable-baselines3") if sb3 else None,
        "max_rss_mb": max_rss_mb(),
        "provenance": provenance(profile="bench"),
    }


def gradient_rows(seconds: dict[str, float], n_runs: int, batch: int, flops: dict[str, float]) -> dict[str, Any]:
    """The gradient rows of the report: per method, milliseconds per minibatch gradient, the
    GFLOP/s of its matrix products and its time over the hand-written kernel's."""
    work = n_runs * batch * (flops["forward"] + flops["backward"])
    return {
        "runs": n_runs,
        "batch": batch,
        "threads": 1,
        "rows": [
            {"method": name, "label": LABELS[name], "ms": seconds[name] * 1e3,
             "gflops": work / seconds[name] / 1e9, "vs_kernel": seconds[name] / seconds["kernel"]}
            for name in METHODS
        ],
    }


def format_report(report: dict[str, Any]) -> str:
    """The bench results as a few lines of text."""
    per_step = report["flops_per_env_step"] / 1e6
    lines = [
        f"valint bench: {report['setting']}",
        f"  {report['rollouts_per_run']} rollout(s) of {report['steps_per_rollout']:,} steps per run, "
        f"best of {report['repeats']} round(s); "
        f"device {report['device']}, {report['threads']} torch thread(s), {report['cores']} core(s)",
        f"  matmul peak (torch.mm float32, {PEAK_SIZE}^3): {report['matmul_peak_gflops_1_thread']:.1f} GFLOP/s "
        f"on 1 thread, {report['matmul_peak_gflops_all_cores']:.1f} GFLOP/s on {report['cores']} core(s)",
        f"  training arithmetic: {per_step:.1f} MFLOP per env step "
        f"(forward {report['flops_forward_per_sample'] / 1e6:.2f} + {report['epochs']} x (forward + backward "
        f"{report['flops_backward_per_sample'] / 1e6:.2f}) MFLOP)",
        "",
        f"  {'pipeline':<34}{'env steps/s':>12}{'per core':>10}{'GFLOP/s':>9}{'of peak':>9}{'max RSS':>10}",
    ]
    for row in report["results"]:
        name = f"{row['pipeline']}, {row['runs']} run{'s' if row['runs'] > 1 else ''}"
        per_core = row["env_steps_per_s_per_core"]
        share = row["fraction_of_peak"]
        lines.append(
            f"  {name:<34}{row['env_steps_per_s']:>12,.0f}"
            f"{'n/a' if per_core is None else f'{per_core:,.0f}':>10}"
            f"{row['training_gflops']:>9.1f}"
            f"{'n/a' if share is None else f'{share:.0%}':>9}"
            f"{row['max_rss_mb_after']:>7.0f} MB"
        )
    lines.append("")
    if report["sb3"] is None:
        lines.append(
            "  Stable-Baselines3 is not installed, so there is no comparison: the 'bench' extra is "
            "missing; install it with  pip install -e '.[bench]'"
        )
    else:
        ratios = report["ratios"]
        lines.append(
            f"  valint / Stable-Baselines3 {report['sb3']} per core: "
            f"{ratios['valint_1_runs_vs_sb3_per_core']:.1f}x (1 run), "
            f"{ratios[f'valint_{TEN_RUNS}_runs_vs_sb3_per_core']:.1f}x ({TEN_RUNS} runs)"
        )
    ceiling, bound = report["gemm_ceiling_gflops_1_thread"], report["ceiling_env_steps_per_s_per_core"]
    lines.append(
        f"  ceiling: the network's matrix products alone, as valint lays them out ({TEN_RUNS} runs, one "
        f"minibatch, 1 thread), run at {ceiling:.1f} GFLOP/s ({ceiling / report['matmul_peak_gflops_1_thread']:.0%} "
        f"of peak), so on the CPU valint cannot exceed {bound:,.0f} env steps/s per core here"
    )
    if report["sb3"] is not None:
        sb3 = next(row for row in report["results"] if row["pipeline"].startswith("stable-baselines3"))
        three = 3 * sb3["env_steps_per_s_per_core"]
        lines.append(f"  3x Stable-Baselines3 would be {three:,.0f} env steps/s per core: {three / bound:.0%} of that ceiling")
    lines.append(f"  peak memory of this process (max RSS): {report['max_rss_mb']:.0f} MB")
    lines.append("")
    lines.append(format_gradients(report["gradient_step"]))
    return "\n".join(lines)


def format_gradients(gradients: dict[str, Any]) -> str:
    """The gradient rows as text: kernel, torch.func and autograd side by side."""
    lines = [
        f"  one PPO minibatch gradient ({gradients['runs']} runs x {gradients['batch']} samples, "
        f"{gradients['threads']} thread; forward, loss, backward; no optimizer step)",
        f"  {'method':<40}{'ms':>8}{'GFLOP/s':>9}{'x kernel':>10}",
    ]
    for row in gradients["rows"]:
        lines.append(f"  {row['label']:<40}{row['ms']:>8.2f}{row['gflops']:>9.1f}{row['vs_kernel']:>10.2f}")
    return "\n".join(lines)
