"""Training throughput: ``python -m valint bench`` (PAPER.md §4, §10).

The paper's learner is PPO with Stable-Baselines3 defaults on the 7x7 world of PAPER.md §3;
the authors' Stable-Baselines3 + MiniGrid pipeline trains at about 400 environment steps per
second on one CPU core (PAPER.md §10), which made their figures take hours. This module
measures, side by side in one process (other programs on the machine slow every measurement
alike):

- the machine's float32 matrix-multiply peak (``torch.mm`` of 1024 x 1024 matrices), on one
  thread and on all cores;
- this project's batched trainer (``valint.ppo.BatchedPPO``) on the paper's setting (3 random
  walls, the caregiver present, ``PPOConfig()`` defaults), for one run and for ten runs
  trained together, on one torch thread by default (per-core figures; ``--threads`` changes it:
  on a machine shared with other busy programs, more threads than free cores can make small
  operations many times slower while threads wait for each other);
- the same setting in Stable-Baselines3 PPO + the MiniGrid environment, when the ``bench``
  extra is installed (``pip install -e '.[bench]'``);
- the training arithmetic those step rates amount to, against the peak;
- the ceiling: the network's own matrix products for one minibatch of ten runs, in the
  trainer's layout, timed alone (:func:`gemm_ceiling`). The trainer cannot run faster than
  this rate allows, so it bounds its ratio to Stable-Baselines3.

Training arithmetic is counted analytically from the layer shapes
(``valint.ppo.policy_flops``): a layer with a ``(fan_in, fan_out)`` matrix applied at ``P``
places (output pixels of a convolution, 1 for a dense layer) costs ``2 P fan_in fan_out`` FLOPs
forward and twice that backward (the first convolution needs no input gradient: once). One
environment step costs one forward pass while acting plus ``n_epochs`` forward and backward
passes in the update::

    flops_per_step = F + n_epochs * (F + B)

with ``F`` = 1.46 MFLOP and ``B`` = 2.89 MFLOP for PAPER.md §4's network, i.e. about 45 MFLOP
with 10 epochs. Bias additions, activations, the optimizer and the environment are not counted.

:func:`estimate_duration` turns a short measurement into the expected wall time of a figure's
sweep, so that a ``paper``-profile run can say how long it will take before it starts.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from valint.config import PPOConfig, Profile, check_int
from valint.nets import select_device, torch_threads

BENCH_SEED = 0
"""First seed of the benchmark runs."""
TEN_RUNS = 10
"""The batch of the paper's sweeps: ten seeds per condition (PAPER.md §6)."""
PEAK_SIZE = 1024
"""Side of the square matrices whose product measures the peak."""


# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------


def matmul_peak(threads: int, *, seconds: float = 1.0, size: int = PEAK_SIZE) -> float:
    """Best float32 ``torch.mm`` rate, in GFLOP/s, of ``size``-square matrices on ``threads``.

    The best of five spells of ``seconds / 5``: a spell slowed by another program does not
    count.
    """
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen)
    b = torch.randn(size, size, generator=gen)
    out = torch.empty(size, size)
    return _best_rate(lambda: torch.mm(a, b, out=out), 2.0 * size**3, threads, seconds)


def _best_rate(work: Callable[[], object], flops: float, threads: int, seconds: float) -> float:
    """GFLOP/s of ``work`` (``flops`` per call) on ``threads``: after one warm-up call, the best
    of five spells of ``seconds / 5``, so that a spell slowed by another program does not count."""
    with torch_threads(threads):
        work()
        best = 0.0
        for _ in range(5):
            count, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < seconds / 5:
                work()
                count += 1
            best = max(best, flops * count / elapsed / 1e9)
        return best


def minibatch_products(n_runs: int, batch: int) -> tuple[list[tuple], int]:
    """Operands of the matrix products of one minibatch step of ``n_runs`` stacked policies.

    Returns:
        One ``(x, w, b, dy, y, dw, dx)`` tuple per layer of ``valint.ppo.policy_products``
        (random inputs, empty outputs; ``dx`` is None for the first convolution), and the FLOPs
        of one pass over them: ``n_runs * batch`` times a sample's forward + backward FLOPs
        (``valint.ppo.policy_flops``).
    """
    from valint.envs import N_ACTIONS, OBS_SHAPE
    from valint.ppo import policy_products

    gen = torch.Generator().manual_seed(0)
    products, flops = [], 0
    for name, positions, fan_in, fan_out in policy_products(OBS_SHAPE, N_ACTIONS):
        rows = batch * positions
        x = torch.randn(n_runs, rows, fan_in, generator=gen)
        w = torch.randn(n_runs, fan_in, fan_out, generator=gen)
        b = torch.randn(n_runs, 1, fan_out, generator=gen)
        dy = torch.randn(n_runs, rows, fan_out, generator=gen)
        dx = None if name == "conv1" else torch.empty_like(x)
        products.append((x, w, b, dy, torch.empty_like(dy), torch.empty_like(w), dx))
        flops += 2 * n_runs * rows * fan_in * fan_out * (2 if dx is None else 3)
    return products, flops


def gemm_ceiling(threads: int, *, n_runs: int = TEN_RUNS, batch: int | None = None, seconds: float = 1.0) -> float:
    """GFLOP/s of the policy network's own matrix products, timed alone, on ``threads``.

    One PPO minibatch of ``n_runs`` stacked runs: every layer's forward product (``baddbmm``)
    and both backward products (weight gradient ``x^T dy`` and input gradient ``dy W^T``; the
    first convolution needs none), in the shapes and layouts the trainer uses
    (``valint.ppo.policy_products``), back to back on reused buffers; the best of five spells of
    ``seconds / 5`` (as :func:`matmul_peak`). This is the ceiling of valint's trainer on this machine: the gap between it
    and the trainer's training GFLOP/s is what everything else costs (gathers, activations, the
    optimizer, the environment, the caches refilled between products).

    Args:
        threads: torch threads.
        n_runs: stacked runs (the ten seeds of a condition by default).
        batch: samples per run; ``PPOConfig().batch_size`` (64) by default.
        seconds: measuring time.
    """
    products, flops = minibatch_products(n_runs, batch or PPOConfig().batch_size)

    def one_pass() -> None:
        for x, w, b, dy, y, dw, dx in products:
            torch.baddbmm(b, x, w, out=y)
            torch.bmm(x.transpose(1, 2), dy, out=dw)
            if dx is not None:
                torch.bmm(dy, w.transpose(1, 2), out=dx)

    return _best_rate(one_pass, flops, threads, seconds)


def flops_per_env_step(config: PPOConfig) -> dict[str, float]:
    """Training arithmetic per environment step of PAPER.md §4's network (module docstring)."""
    from valint.envs import N_ACTIONS, OBS_SHAPE
    from valint.ppo import policy_flops

    flops = policy_flops(OBS_SHAPE, N_ACTIONS)
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


def sb3_available() -> bool:
    """Whether Stable-Baselines3 (the ``bench`` extra) is installed."""
    return importlib.util.find_spec("stable_baselines3") is not None


def make_sb3_model(seed: int = BENCH_SEED) -> Any:
    """Stable-Baselines3 PPO on the MiniGrid world with its caregiver, as the authors ran it.

    One ``valint.envs.SocialGridEnv`` (3 random walls) wrapped in ``valint.social.Caregiver``,
    ``ActorCriticCnnPolicy`` with PAPER.md §4's body as its features extractor (Conv 4->16->32->64
    2x2 ReLU, Linear 2304->128 ReLU), actor and critic heads of [64, 64] Tanh, learning rate 1e-4,
    2,048 steps per rollout, minibatches of 64, 10 epochs, everything else SB3's defaults.
    """
    from stable_baselines3 import PPO
    from stable_baselines3.common.policies import ActorCriticCnnPolicy
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
    from torch import nn

    from valint.envs import SocialGridEnv
    from valint.social import Caregiver

    class PaperCnn(BaseFeaturesExtractor):
        """PAPER.md §4's convolutional body on SB3's channels-first image batches."""

        def __init__(self, observation_space: Any, features_dim: int = 128) -> None:
            super().__init__(observation_space, features_dim)
            channels = observation_space.shape[0]
            self.cnn = nn.Sequential(
                nn.Conv2d(channels, 16, 2), nn.ReLU(),
                nn.Conv2d(16, 32, 2), nn.ReLU(),
                nn.Conv2d(32, 64, 2), nn.ReLU(),
                nn.Flatten(),
            )
            with torch.no_grad():
                n_flat = self.cnn(torch.zeros(1, *observation_space.shape)).shape[1]
            self.linear = nn.Sequential(nn.Linear(n_flat, features_dim), nn.ReLU())

        def forward(self, observations: torch.Tensor) -> torch.Tensor:
            return self.linear(self.cnn(observations))

    env = Caregiver(SocialGridEnv("random-3"), present=True)
    return PPO(
        ActorCriticCnnPolicy,
        env,
        learning_rate=1e-4,
        n_steps=2048,
        batch_size=64,
        n_epochs=10,
        seed=seed,
        device="cpu",
        verbose=0,
        policy_kwargs={
            "features_extractor_class": PaperCnn,
            "features_extractor_kwargs": {"features_dim": 128},
            "net_arch": {"pi": [64, 64], "vf": [64, 64]},
            "activation_fn": nn.Tanh,
        },
    )


def time_sb3(n_rollouts: int) -> float:
    """Wall seconds of ``n_rollouts`` rollouts + updates of :func:`make_sb3_model`."""
    model = make_sb3_model()
    start = time.perf_counter()
    model.learn(total_timesteps=n_rollouts * model.n_steps)
    return time.perf_counter() - start


def max_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (``getrusage`` max RSS)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024.0 if sys.platform != "darwin" else kib / 2**20


# ---------------------------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------------------------


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
            runs on the CPU, as the authors ran it.
        with_sb3: measure Stable-Baselines3 when it is installed.
        config: the PPO settings of valint's runs (PAPER.md §4's ``PPOConfig()`` by default;
            Stable-Baselines3 always runs the paper's).

    Returns:
        A JSON-able dict (``main`` prints it with ``--json``).
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
    for _ in range(repeats):
        best["peak_1"] = max(best.get("peak_1", 0.0), matmul_peak(1))
        best["peak_all"] = max(best.get("peak_all", 0.0), matmul_peak(cores))
        best["ceiling_1"] = max(best.get("ceiling_1", 0.0), gemm_ceiling(1))
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
        "sb3": package_version("stable-baselines3") if sb3 else None,
        "max_rss_mb": max_rss_mb(),
        "provenance": provenance(profile="bench"),
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
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Under load: a laptop with a browser open
# ---------------------------------------------------------------------------------------------


LOAD_SETUPS = (
    ("default executor (auto, 1 thread per batch)", {"executor": "auto", "threads": 1}),
    ("one process, a thread per core", {"executor": "inprocess", "threads": None}),
)
"""What the under-load rows compare: the default executor, and one process with a torch thread
team as wide as the machine (how every figure ran before ``valint.executors``)."""


def _busy_processes(n: int) -> list[Any]:
    """``n`` single-threaded processes that spin until killed: the load of a busy laptop."""
    import subprocess

    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def executor_under_load(
    figure: str = "fig4",
    profile: str | Profile = "smoke",
    *,
    seeds: int | None = None,
    n_busy: int | None = None,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Wall time of one figure's training idle and beside ``n_busy`` spinning processes.

    Each measurement trains the figure from a fresh, empty store, once per setup of
    :data:`LOAD_SETUPS`, idle and then loaded, interleaved, so a slow spell of the machine hits
    both setups. ``n_busy`` defaults to one busy process per usable core (a loaded laptop).

    Returns:
        One row per setup and load: setup, load (``idle`` or ``N busy processes``), wall_s,
        env_steps (of the figure's plan), env_steps_per_s, cpu_s (this process and its
        workers), fraction_of_idle (env_steps_per_s over the same setup's idle rate).
    """
    import tempfile

    from valint.executors import usable_cores
    from valint.figures import plan_figure, run_figure
    from valint.plan import workload

    cores = usable_cores()
    n_busy = cores if n_busy is None else check_int("n_busy", n_busy, minimum=0, maximum=256)
    steps_table = workload(plan_figure(figure, profile, seeds=seeds).plan)
    env_steps = int((steps_table["rollouts"] * steps_table["n_steps"]).sum())
    rows = []
    for loaded in (False, True):
        for setup, options in LOAD_SETUPS:
            threads = options["threads"] or cores
            busy = _busy_processes(n_busy) if loaded else []
            try:
                with tempfile.TemporaryDirectory() as root:
                    before = _cpu_seconds()
                    started = time.perf_counter()
                    run_figure(figure, profile, seeds=seeds, store=root, progress=False,
                               executor=options["executor"], threads=threads)
                    wall = time.perf_counter() - started
            finally:
                spent_busy = _stop(busy)
            cpu = _cpu_seconds() - before - spent_busy
            rows.append({
                "setup": setup, "load": f"{n_busy} busy processes" if loaded else "idle",
                "threads": threads, "wall_s": wall, "env_steps": env_steps,
                "env_steps_per_s": env_steps / wall, "cpu_s": cpu,
            })
            if log is not None:
                log(f"{setup}, {rows[-1]['load']}: {wall:.1f} s")
    idle = {r["setup"]: r["env_steps_per_s"] for r in rows if r["load"] == "idle"}
    for row in rows:
        row["fraction_of_idle"] = row["env_steps_per_s"] / idle[row["setup"]]
    return rows


def _stop(processes: list[Any]) -> float:
    """Kill the busy processes; returns the CPU seconds they used (not the figure's)."""
    import psutil

    spent = 0.0
    for process in processes:
        try:
            times = psutil.Process(process.pid).cpu_times()
            spent += times.user + times.system
        except psutil.Error:
            pass
        process.kill()
        process.wait()
    return spent


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (the worker processes)."""
    self_usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return self_usage.ru_utime + self_usage.ru_stime + children.ru_utime + children.ru_stime


def format_load(rows: list[dict[str, Any]], figure: str, profile: str) -> str:
    """The under-load rows as text."""
    lines = [f"  under load: {figure} at the {profile} profile from an empty store",
             f"  {'setup':<46}{'load':>20}{'wall s':>9}{'CPU s':>8}{'of idle':>9}"]
    for row in rows:
        lines.append(f"  {row['setup']:<46}{row['load']:>20}{row['wall_s']:>9.1f}{row['cpu_s']:>8.1f}"
                     f"{row['fraction_of_idle']:>9.0%}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# How long a figure will take
# ---------------------------------------------------------------------------------------------


def _probe_ppo(world: str, layout: str, n_runs: int, config: PPOConfig, device: str | None) -> tuple[float, float]:
    """Seconds per acting step and per minibatch update of ``n_runs`` stacked runs."""
    from valint.experiments import LearnerEnv, make_world, world_shape
    from valint.ppo import BatchedPPO

    obs_shape, n_actions = world_shape(world)
    probe = replace(config, n_steps=4 * config.batch_size, n_epochs=1)
    seeds = list(range(n_runs))
    agent = BatchedPPO(seeds, obs_shape, n_actions, probe, device=device)
    env = LearnerEnv(make_world(world, [layout] * n_runs, seeds), conditions=["oracle"] * n_runs, phase=1)
    agent.update(agent.collect_rollout(env))
    start = time.perf_counter()
    rollout = agent.collect_rollout(env)
    acting = (time.perf_counter() - start) / probe.n_steps
    start = time.perf_counter()
    agent.update(rollout)
    return acting, (time.perf_counter() - start) / 4


def _probe_isr(config: Any, n_runs: int, device: str | None) -> float:
    """Seconds per ISR gradient step of ``n_runs`` stacked ISRs."""
    import numpy as np

    from valint.isr import Transitions, train_isr

    rng = np.random.default_rng(0)
    n_steps = 200
    size = 2 * n_steps * config.batch_size
    data = [
        Transitions(
            rng.integers(0, 11, (size, 9, 9, 4)).astype(np.uint8),
            rng.integers(0, 3, size),
            np.where(rng.random(size) < 0.1, 0.4, 0.0).astype(np.float32),
        )
        for _ in range(n_runs)
    ]
    probe = replace(config, epochs=1, max_draws=n_steps * config.batch_size, eval_every=10**9, test_fraction=0.0)
    train_isr(data, list(range(n_runs)), replace(probe, max_draws=10 * config.batch_size), device=device)
    start = time.perf_counter()
    train_isr(data, list(range(n_runs)), probe, device=device)
    return (time.perf_counter() - start) / n_steps


def estimate_duration(
    profile: str | Profile,
    figure: str,
    *,
    n_seeds: int | None = None,
    device: str | None = None,
    log: Callable[[str], None] | None = None,
    **params: Any,
) -> float:
    """Expected seconds of a figure's training in one process, before it starts.

    Prices the figure's own plan (``valint.figures.plan_figure``, :func:`valint.plan.workload`:
    every PPO run-rollout and ISR gradient step it trains when nothing is stored yet) with a
    short measurement (a few seconds) of this machine's acting step, minibatch update and ISR
    step at the batch sizes of the plan, up to ten runs; larger batches are priced per run.
    Evaluation episodes and held-out ISR evaluations are not counted, so the estimate is a
    little low; worker processes divide it by up to the number of batches that can run at once.

    Args:
        profile: ``paper``, ``quick``, ``smoke`` or a :class:`valint.config.Profile`.
        figure: a registered figure (``valint.figures.FIGURES``).
        n_seeds: seeds of the sweep (default: the profile's).
        device: where the sweep will train (``valint.nets.select_device``).
        log: called with one line per priced batch.
        **params: the figure's parameters, as for ``run_figure``.

    Returns:
        Seconds.
    """
    import pandas as pd

    from valint.figures import plan_figure

    if n_seeds is not None:
        check_int("n_seeds", n_seeds, minimum=1)
    figure_plan = plan_figure(figure, profile, seeds=n_seeds, **params)
    total = 0.0
    probes: dict[tuple, Any] = {}
    for batch in figure_plan.plan.batches:
        rows = pd.DataFrame(batch.workload())
        n_runs = len(rows)
        if batch.kind in ("phase1", "phase2"):
            world = batch.world
            cfg = batch.profile.ppo if batch.kind == "phase1" else batch.phase1.profile.ppo
            probe_runs = min(n_runs, TEN_RUNS)
            key = ("ppo", world, probe_runs, cfg)
            if key not in probes:
                layout = "random-3" if world == "grid" else rows["layout"].iloc[0]
                probes[key] = _probe_ppo(world, layout, probe_runs, cfg, device)
            acting, minibatch = probes[key]
            per_rollout = cfg.n_steps * acting + cfg.n_epochs * cfg.n_minibatches * minibatch
            seconds = int(rows["rollouts"].max()) * per_rollout * n_runs / probe_runs
            if log is not None:
                log(f"PPO {batch.kind} {world} {rows['layout'].iloc[0]}: {n_runs} runs x "
                    f"{int(rows['rollouts'].max())} rollouts ~ {seconds:,.0f} s")
        else:
            config = batch.isr
            steps = sorted(rows["isr_steps"].astype(int))
            seconds, done = 0.0, 0
            for i, until in enumerate(steps):
                active = len(steps) - i
                key = ("isr", config.batch_size, min(active, TEN_RUNS))
                if key not in probes:
                    probes[key] = _probe_isr(config, min(active, TEN_RUNS), device)
                seconds += (until - done) * probes[key] * active / min(active, TEN_RUNS)
                done = until
            if log is not None:
                log(f"ISR: {n_runs} models, up to {steps[-1]:,} steps ~ {seconds:,.0f} s")
        total += seconds
    return total


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m valint bench``."""
    parser = argparse.ArgumentParser(
        prog="python -m valint bench",
        description="Measure training throughput against the machine's matmul peak and Stable-Baselines3.",
    )
    parser.add_argument("--rollouts", type=int, default=2, help="PPO rollouts of 2,048 steps per run (default 2)")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved rounds; the best counts (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads while training (default 1: per core)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: $VALINT_DEVICE, else a GPU if any)")
    parser.add_argument("--no-sb3", action="store_true", help="skip the Stable-Baselines3 comparison")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--out", default=None, help="also write the JSON object to this file")
    parser.add_argument("--no-load", action="store_true",
                        help="skip the under-load rows (a figure trained idle and beside busy processes)")
    parser.add_argument("--load-figure", default="fig4", help="the figure of the under-load rows (default fig4)")
    parser.add_argument("--load-profile", default="smoke", help="its profile (default smoke)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m valint bench``: measure, print, optionally write JSON."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        check_int("--rollouts", args.rollouts, minimum=1, maximum=1000)
        check_int("--repeats", args.repeats, minimum=1, maximum=100)
        check_int("--threads", args.threads, minimum=1, maximum=1024)
    except ValueError as err:
        print(f"valint: error: {err}", file=sys.stderr)
        return 2
    if not args.no_load:
        from valint.figures import validate

        try:
            validate(args.load_figure, args.load_profile, None, 0, {})
        except ValueError as err:
            print(f"valint: error: {err}", file=sys.stderr)
            return 2
    report = run_bench(
        args.rollouts, threads=args.threads, repeats=args.repeats, device=args.device, with_sb3=not args.no_sb3
    )
    if not args.no_load:
        report["under_load"] = {
            "figure": args.load_figure, "profile": args.load_profile,
            "rows": executor_under_load(args.load_figure, args.load_profile),
        }
    text = json.dumps(report, indent=2, default=str)
    if args.json:
        print(text)
    else:
        print(format_report(report))
        if "under_load" in report:
            print(format_load(report["under_load"]["rows"], args.load_figure, args.load_profile))
    if args.out is not None:
        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return 0
