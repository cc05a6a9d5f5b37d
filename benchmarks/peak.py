"""What the machine allows: its matrix-multiply peak and the ceiling of the network's products.

- :func:`matmul_peak`: the best float32 ``torch.mm`` rate of 1024 x 1024 matrices, on one
  thread and on all cores;
- :func:`gemm_ceiling`: the policy network's own matrix products for one minibatch of ten runs,
  in the trainer's layout, timed alone. valint's trainer cannot run faster than this rate
  allows, so it bounds its ratio to Stable-Baselines3 (``benchmarks.throughput``).
"""
from __future__ import annotations

import time
from collections.abc import Callable

import torch

from valint.bench import TEN_RUNS
from valint.config import PPOConfig
from valint.nets import torch_threads

PEAK_SIZE = 1024
"""Side of the square matrices whose product measures the peak."""


def best_rate(work: Callable[[], object], flops: float, threads: int, seconds: float) -> float:
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


def matmul_peak(threads: int, *, seconds: float = 1.0, size: int = PEAK_SIZE) -> float:
    """Best float32 ``torch.mm`` rate, in GFLOP/s, of ``size``-square matrices on ``threads``."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen)
    b = torch.randn(size, size, generator=gen)
    out = torch.empty(size, size)
    return best_rate(lambda: torch.mm(a, b, out=out), 2.0 * size**3, threads, seconds)


def minibatch_products(n_runs: int, batch: int) -> tuple[list[tuple], int]:
    """Operands of the matrix products of one minibatch step of ``n_runs`` stacked policies.

    Returns:
        One ``(x, w, b, dy, y, dw, dx)`` tuple per layer of the policy's table
        (``valint.networks.policy_network(...).products``; random inputs, empty outputs; ``dx``
        is None for the first layer, whose input needs no gradient), and the FLOPs of one pass
        over them: ``n_runs * batch`` times a sample's forward + backward FLOPs
        (``Network.flops``).
    """
    from valint.envs import N_ACTIONS, OBS_SHAPE
    from valint.networks import policy_network

    gen = torch.Generator().manual_seed(0)
    products, flops = [], 0
    for i, (_, positions, fan_in, fan_out) in enumerate(policy_network(N_ACTIONS).products(OBS_SHAPE)):
        rows = batch * positions
        x = torch.randn(n_runs, rows, fan_in, generator=gen)
        w = torch.randn(n_runs, fan_in, fan_out, generator=gen)
        b = torch.randn(n_runs, 1, fan_out, generator=gen)
        dy = torch.randn(n_runs, rows, fan_out, generator=gen)
        dx = None if i == 0 else torch.empty_like(x)
        products.append((x, w, b, dy, torch.empty_like(dy), torch.empty_like(w), dx))
        flops += 2 * n_runs * rows * fan_in * fan_out * (2 if dx is None else 3)
    return products, flops


def gemm_ceiling(threads: int, *, n_runs: int = TEN_RUNS, batch: int | None = None, seconds: float = 1.0) -> float:
    """GFLOP/s of the policy network's own matrix products, timed alone, on ``threads``.

    One PPO minibatch of ``n_runs`` stacked runs: every layer's forward product (``baddbmm``)
    and both backward products (weight gradient ``x^T dy`` and input gradient ``dy W^T``; the
    first layer needs none), in the shapes and layouts the trainer uses, back to back on reused
    buffers; the best of five spells of ``seconds / 5`` (as :func:`matmul_peak`). The gap
    between it and the trainer's training GFLOP/s is what everything else costs (gathers,
    activations, the optimizer, the environment, the caches refilled between products).

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

    return best_rate(one_pass, flops, threads, seconds)
