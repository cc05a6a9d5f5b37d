"""How long training takes: ``python -m valint bench`` and :func:`estimate_duration`.

:func:`estimate_duration` turns a short measurement into the expected wall time of a figure's
sweep, so that a ``paper``-profile run can say how long it will take before it starts: it prices
the figure's own plan (``valint.plan.workload``).

:func:`executor_under_load` trains one figure idle and beside busy processes (a laptop with a
browser open), once with the default executor and once in one process with a thread per core.

``python -m valint bench`` prints both kinds of rows: the throughput rows, measured by the
top-level package ``benchmarks`` (valint against the machine's matrix-multiply peak,
Stable-Baselines3 and the three ways of computing a PPO gradient, PAPER.md §4, §10), which ships
beside ``valint`` in a checkout and in an install of it, and the under-load rows of this module.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from valint.config import PPOConfig, Profile, check_int

TEN_RUNS = 10
"""The batch of the paper's sweeps: ten seeds per condition (PAPER.md §6)."""


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


def _probe_ppo(
    world: str,
    layouts: Sequence[str],
    conditions: Sequence[str],
    config: PPOConfig,
    device: str | None,
    *,
    phase: int = 1,
    pay_modes: Sequence[str] | None = None,
) -> tuple[float, float]:
    """Seconds per acting step and per minibatch update of stacked runs, one per layout.

    A phase-2 probe pays its isr runs with an untrained ISR, so that each acting step costs
    the ISR's forward pass as in ``valint.experiments`` (PAPER.md §5).
    """
    from valint.experiments import LearnerEnv, make_world, world_obs_scale, world_shape
    from valint.isr import init_isr
    from valint.ppo import BatchedPPO

    obs_shape, n_actions = world_shape(world)
    n_runs = len(layouts)
    probe = replace(config, n_steps=4 * config.batch_size, n_epochs=1)
    seeds = list(range(n_runs))
    world_batch = make_world(world, list(layouts), seeds)
    isr_params = None
    if phase == 2 and "isr" in conditions:
        partner = getattr(world_batch, "partner_view_pos", None) is not None
        isr_params = init_isr(seeds, obs_shape[-1] + (2 if partner else 1))
    agent = BatchedPPO(seeds, obs_shape, n_actions, probe, device=device,
                       obs_scale=world_obs_scale(world, layouts[0]))
    env = LearnerEnv(
        world_batch, conditions=list(conditions), phase=phase, pay_modes=pay_modes, isr_params=isr_params,
        isr_obs_scale=world_obs_scale(world, layouts[0], network="isr"),
    )
    agent.update(agent.collect_rollout(env))
    start = time.perf_counter()
    rollout = agent.collect_rollout(env)
    acting = (time.perf_counter() - start) / probe.n_steps
    start = time.perf_counter()
    agent.update(rollout)
    return acting, (time.perf_counter() - start) / 4


def _probe_evaluation(layout: str, n_runs: int, n_episodes: int, device: str | None) -> float:
    """Seconds of ``valint.experiments.evaluate_greedy`` on one layout: ``n_episodes`` greedy
    episodes of each of ``n_runs`` runs (Figs. 4b, 5)."""
    from valint.experiments import Phase2Run, evaluate_greedy, world_shape
    from valint.ppo import BatchedPPO

    obs_shape, n_actions = world_shape("grid")
    agent = BatchedPPO(list(range(n_runs)), obs_shape, n_actions, PPOConfig(), device=device)
    runs = [Phase2Run(seed, "oracle", layout, eval_layouts=(layout,)) for seed in range(n_runs)]
    start = time.perf_counter()
    evaluate_greedy(agent, runs, n_episodes)
    return time.perf_counter() - start


def _spread(items: Sequence[tuple], most: int) -> list[tuple]:
    """At most ``most`` of ``items``, evenly spaced over them in sorted order, so that a probe
    keeps a batch's mix of kinds (sorting first stops a batch's period from aliasing)."""
    items = sorted(items)
    if len(items) <= most:
        return items
    return [items[round(i * (len(items) - 1) / (most - 1))] for i in range(most)]


def _random_transitions(n_runs: int, size: int) -> list:
    """Phase-1-shaped random transitions for the ISR probes: views, actions, and a reward of 0.4
    on one step in ten (the same draws on every call)."""
    import numpy as np

    from valint.isr import Transitions

    rng = np.random.default_rng(0)
    return [
        Transitions(
            rng.integers(0, 11, (size, 9, 9, 4)).astype(np.uint8),
            rng.integers(0, 3, size),
            np.where(rng.random(size) < 0.1, 0.4, 0.0).astype(np.float32),
        )
        for _ in range(n_runs)
    ]


def _probe_isr(config: Any, n_runs: int, device: str | None) -> float:
    """Seconds per ISR gradient step of ``n_runs`` stacked ISRs."""
    from valint.isr import train_isr

    n_steps = 200
    size = 2 * n_steps * config.batch_size
    data = _random_transitions(n_runs, size)
    probe = replace(config, epochs=1, max_draws=n_steps * config.batch_size, eval_every=10**9, test_fraction=0.0)
    train_isr(data, list(range(n_runs)), replace(probe, max_draws=10 * config.batch_size), device=device)
    start = time.perf_counter()
    train_isr(data, list(range(n_runs)), probe, device=device)
    return (time.perf_counter() - start) / n_steps


def _probe_isr_evaluation(n_runs: int, device: str | None) -> float:
    """Seconds per transition of the ISR's MSE points (``valint.isr.train_isr``'s train sample
    and held-out split), for ``n_runs`` stacked ISRs: two short trainings that differ only in
    how often they evaluate, timed, their difference divided by the extra transitions."""
    from valint.config import ISRConfig
    from valint.isr import train_isr

    size, steps, often, rarely = 4096, 20, 5, 20
    data = _random_transitions(n_runs, size)
    config = ISRConfig(test_fraction=0.5, max_draws=steps)
    seconds = []
    for every in (rarely, often):
        start = time.perf_counter()
        train_isr(data, list(range(n_runs)), replace(config, eval_every=every), device=device)
        seconds.append(time.perf_counter() - start)
    per_eval = _isr_eval_transitions(size // 2, size // 2)
    extra = (_isr_evaluations(steps, often) - _isr_evaluations(steps, rarely)) * per_eval * n_runs
    return max(seconds[1] - seconds[0], 0.0) / extra


def _isr_eval_transitions(n_train: int, n_test: int) -> int:
    """Transitions of one MSE point of an ISR: its fixed train sample and its held-out split."""
    import inspect

    from valint.isr import train_isr

    sample = inspect.signature(train_isr).parameters["eval_sample"].default
    return min(sample, n_train) + n_test


def _isr_evaluations(steps: int, every: int) -> int:
    """MSE points of an ISR of ``steps`` gradient steps: at the start, every ``every`` steps
    and at the end."""
    return 1 + (steps - 1) // every + 1


def _isr_evaluation_seconds(batch: Any, rows: Any, device: str | None, probes: dict) -> float:
    """Seconds of the train and held-out MSE points of an ISR batch (Fig. 3a's curve): for
    the paper's ISR of Fig. 4 they cost about as much as its training."""
    config = batch.isr
    full = batch.phase1.rollouts * batch.phase1.profile.ppo.n_steps
    n_test = int(round(full * config.test_fraction))
    key = ("isr-evaluation",)
    if key not in probes:
        probes[key] = _probe_isr_evaluation(1, device)
    transitions = 0
    for (_, n), steps in zip(batch.grid(), rows["isr_steps"].astype(int)):
        n_train = full - n_test if n is None else n - int(round(n * config.test_fraction))
        transitions += _isr_evaluations(int(steps), config.eval_every) * _isr_eval_transitions(n_train, n_test)
    return transitions * probes[key]


def _evaluation_seconds(batch: Any, device: str | None, probes: dict) -> float:
    """Seconds of a grid phase-2 batch's greedy evaluation: every layout, every episode."""
    n_episodes = batch.phase1.profile.eval_episodes
    per_layout = {x: sum(x in r.eval_layouts for r in batch.runs) for r in batch.runs for x in r.eval_layouts}
    if not per_layout:
        return 0.0
    probe_runs, probe_episodes = min(max(per_layout.values()), TEN_RUNS), min(n_episodes, 10)
    key = ("evaluation", probe_runs, probe_episodes)
    if key not in probes:
        probes[key] = _probe_evaluation(min(per_layout), probe_runs, probe_episodes, device)
    per_episode = probes[key] / (probe_runs * probe_episodes)
    return sum(per_episode * n * n_episodes for n in per_layout.values())


def price_batches(
    batches: Sequence[Any],
    *,
    device: str | None = None,
    threads: int = 1,
    log: Callable[[str], None] | None = None,
) -> list[float]:
    """Expected seconds of each batch of a plan, trained alone in one process.

    Each kind of batch is priced from a short measurement (a few seconds in all) of this
    machine's acting step, minibatch update and ISR step at the batch's size, up to ten runs;
    larger batches are priced per run, from ten of their runs spread over the batch. A phase-2
    probe trains the batch's own conditions and layouts, its isr runs paid by an (untrained)
    ISR at every step, and a grid batch adds its greedy evaluation episodes (Figs. 4b, 5). An
    ISR batch adds its train and held-out MSE points, priced per transition.

    Args:
        batches: ``valint.plan.Batch`` objects (a plan's ``batches``, or its pending ones).
        device: where they will train (``valint.nets.select_device``).
        threads: torch threads per batch, as the executor will give each (default 1, the
            executors' ``DEFAULT_THREADS``); the probes run on that many.
        log: called with one line per priced batch.

    Returns:
        Seconds per batch, in the order given.
    """
    from valint.nets import torch_threads

    threads = check_int("threads", threads, minimum=1, maximum=256)
    with torch_threads(threads):
        return _price_batches(batches, device, log)


def _price_batches(batches: Sequence[Any], device: str | None, log: Callable[[str], None] | None) -> list[float]:
    import pandas as pd

    prices = []
    probes: dict[tuple, Any] = {}
    for batch in batches:
        rows = pd.DataFrame(batch.workload())
        n_runs = len(rows)
        if batch.kind in ("phase1", "phase2"):
            world = batch.world
            cfg = batch.profile.ppo if batch.kind == "phase1" else batch.phase1.profile.ppo
            if batch.kind == "phase1":
                layout = "random-3" if world == "grid" else batch.layout
                runs = [(layout, "oracle", "add")] * min(n_runs, TEN_RUNS)
            else:
                runs = _spread([(r.layout, r.condition, r.pay_mode) for r in batch.runs], TEN_RUNS)
            key = ("ppo", batch.kind, world, tuple(runs), cfg)
            if key not in probes:
                layouts, conditions, pay_modes = (list(x) for x in zip(*runs))
                probes[key] = _probe_ppo(world, layouts, conditions, cfg, device,
                                         phase=1 if batch.kind == "phase1" else 2, pay_modes=pay_modes)
            acting, minibatch = probes[key]
            per_rollout = cfg.n_steps * acting + cfg.n_epochs * cfg.n_minibatches * minibatch
            seconds = int(rows["rollouts"].max()) * per_rollout * n_runs / len(runs)
            if batch.kind == "phase2" and world == "grid":
                seconds += _evaluation_seconds(batch, device, probes)
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
            seconds += _isr_evaluation_seconds(batch, rows, device, probes)
            if log is not None:
                log(f"ISR: {n_runs} models, up to {steps[-1]:,} steps ~ {seconds:,.0f} s")
        prices.append(seconds)
    return prices


def schedule_seconds(batches: Sequence[Any], prices: Sequence[float], workers: int) -> float:
    """Wall seconds of ``batches`` on ``workers`` processes, scheduled as the local executor does.

    ``valint.executors`` submits every batch whose dependencies are done, in plan order, and a
    free worker takes the next submitted one; a dependency outside ``batches`` counts as done
    (it is stored). With one worker this is the sum of the prices; with many, the longest chain
    of dependent batches and the largest batch bound it from below.

    Args:
        batches: ``valint.plan.Batch`` objects in plan order.
        prices: seconds of each (:func:`price_batches`).
        workers: worker processes (at least 1).

    Returns:
        Seconds from the first submission to the last batch done.
    """
    workers = check_int("workers", workers, minimum=1, maximum=4096)
    if len(prices) != len(batches):
        raise ValueError(f"prices: {len(prices)} prices for {len(batches)} batches")
    index = {batch: i for i, batch in enumerate(batches)}
    finish: dict[int, float] = {}
    queue: list[int] = []
    submitted: set[int] = set()
    running: list[tuple[float, int]] = []
    now = 0.0
    while len(finish) < len(batches):
        for i, batch in enumerate(batches):
            deps = [index[d] for d in batch.deps if d in index]
            if i not in submitted and all(d in finish for d in deps):
                submitted.add(i)
                queue.append(i)
        while queue and len(running) < workers:
            i = queue.pop(0)
            running.append((now + float(prices[i]), i))
        running.sort()
        now, i = running.pop(0)
        finish[i] = now
    return now


def estimate_duration(
    profile: str | Profile,
    figure: str,
    *,
    n_seeds: int | None = None,
    device: str | None = None,
    workers: int = 1,
    log: Callable[[str], None] | None = None,
    **params: Any,
) -> float:
    """Expected wall seconds of a figure's training from an empty store, before it starts.

    Prices the figure's own plan (``valint.figures.plan_figure``, :func:`valint.plan.workload`:
    every PPO run-rollout and ISR gradient step it trains when nothing is stored yet) with
    :func:`price_batches`, then schedules the batches on ``workers`` processes as the local
    executor does (:func:`schedule_seconds`). On a machine that other programs share, expect
    more.

    Args:
        profile: ``paper``, ``quick``, ``smoke`` or a :class:`valint.config.Profile`.
        figure: a registered figure (``valint.figures.FIGURES``).
        n_seeds: seeds of the sweep (default: the profile's).
        device: where the sweep will train (``valint.nets.select_device``).
        workers: worker processes (default 1: the training time in one process).
        log: called with one line per priced batch.
        **params: the figure's parameters, as for ``run_figure``.

    Returns:
        Seconds.
    """
    from valint.figures import plan_figure

    if n_seeds is not None:
        check_int("n_seeds", n_seeds, minimum=1)
    check_int("workers", workers, minimum=1, maximum=4096)
    batches = plan_figure(figure, profile, seeds=n_seeds, **params).plan.batches
    return schedule_seconds(batches, price_batches(batches, device=device, log=log), workers)


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m valint bench``."""
    parser = argparse.ArgumentParser(
        prog="python -m valint bench",
        description="Measure training throughput against the machine's matmul peak and Stable-Baselines3, "
        "one PPO gradient by valint's kernel, torch.func and autograd, and a figure's training under load.",
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
    if importlib.util.find_spec("benchmarks") is None:
        print("valint: error: the throughput rows are measured by the package `benchmarks` beside "
              "`valint` in the repository, which this Python cannot import; run the command from a "
              "checkout, or install the project (pip install -e '.[bench]')", file=sys.stderr)
        return 1
    from benchmarks import throughput

    report = throughput.run_bench(
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
        print(throughput.format_report(report))
        if "under_load" in report:
            print(format_load(report["under_load"]["rows"], args.load_figure, args.load_profile))
    if args.out is not None:
        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return 0
