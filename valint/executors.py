"""Where a plan runs: in this process, in local worker processes, or on a Dask cluster.

Every executor runs the same batches (``valint.plan``) with the same number of torch threads
per batch (one by default), so the results are the same bits whichever ran them. Workers share
the results store through the filesystem: a batch writes its runs there atomically and the
figure's tables are read back from it, so the store must be a filesystem that every worker
sees (a local disk for local workers, a shared filesystem such as NFS or Lustre for a cluster).
A batch whose runs are all stored is skipped, so an interrupted run, local or distributed,
resumes where it stopped.

Why one thread per batch: a torch parallel region waits for its slowest thread, so when another
process takes a core (a browser, a notebook server, a second job), a two-thread team stalls at
every operation; single-threaded batches in separate processes share the cores fairly instead
(``python -m valint bench`` measures both, idle and under load).
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

from valint.config import check_choice, check_int
from valint.plan import Batch, Plan, batch_name
from valint.store import ResultsStore

EXECUTORS = ("auto", "inprocess", "local", "dask")
"""``auto``: local workers when more than one core is free, else in-process; ``dask``: a
``distributed`` scheduler (``scheduler=`` or ``$VALINT_SCHEDULER``), or a ``LocalCluster`` of
``workers`` processes when no address is given."""
SCHEDULER_ENV = "VALINT_SCHEDULER"
"""Environment variable holding a Dask scheduler address, e.g. ``tcp://10.0.0.5:8786``."""
DEFAULT_THREADS = 1
"""Torch threads per batch under every executor."""
SCHEDULER_TIMEOUT_S = 5.0
"""How long :func:`check_scheduler` waits for a Dask scheduler to accept a connection."""


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, else ``os.cpu_count``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def run_batch(batch: Batch, store_root: str, threads: int = DEFAULT_THREADS, *_deps: object) -> str:
    """Train one batch into the store at ``store_root`` with ``threads`` torch threads.

    The function every executor calls (``_deps`` lets Dask order a batch after the batches it
    needs). Returns the batch's name.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        batch.run(ResultsStore(Path(store_root)), progress=False)
    finally:
        torch.set_num_threads(previous)
    return batch_name(batch)


def check_executor(executor: str, workers: int | None, threads: int) -> tuple[int | None, int]:
    """Validate the executor's parameters before any work; returns (workers, threads)."""
    check_choice("executor", executor, EXECUTORS)
    threads = check_int("threads", threads, minimum=1, maximum=256)
    if workers is not None:
        workers = check_int("workers", workers, minimum=1, maximum=4096)
    return workers, threads


def scheduler_in_use(executor: str, scheduler: str | None) -> str | None:
    """The Dask scheduler address that ``executor`` will connect to, if any (``scheduler``, else
    ``$VALINT_SCHEDULER``); None for the in-process and local executors."""
    if executor not in ("auto", "dask"):
        return None
    return scheduler or os.environ.get(SCHEDULER_ENV) or None


def check_scheduler(address: str, *, name: str = "scheduler",
                    timeout_s: float = SCHEDULER_TIMEOUT_S) -> str:
    """Refuse, before any work, a Dask scheduler address that is malformed or not answering.

    The address is ``[PROTOCOL://]HOST:PORT`` (``tcp://10.0.0.5:8786``). The check opens a TCP
    connection to it (a closed port is refused at once), then makes Dask's own handshake with
    what listens there, each waiting at most ``timeout_s`` seconds, and closes the connection:
    a port that accepts connections for something else than Dask is refused too. It runs its
    own event loop, so it is for the command line, not for a running notebook kernel.

    Raises:
        ValueError: one line naming ``name``, with what went wrong.
    """
    import asyncio
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or port is None:
        raise ValueError(f"{name}={address!r} must look like tcp://HOST:PORT")
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as err:
        reason = err.strerror or str(err) or type(err).__name__
        raise ValueError(f"{name}={address!r} does not answer ({reason}); is its scheduler "
                         "running?") from None
    try:
        asyncio.run(_handshake(address, timeout_s))
    except Exception as err:  # noqa: BLE001 - whatever answered, it is not a Dask scheduler
        reason = (f"no Dask handshake within {timeout_s:g} s" if isinstance(err, TimeoutError)
                  else " ".join(f"{type(err).__name__}: {err}".split())[:120])
        raise ValueError(f"{name}={address!r} answers, but not as a Dask scheduler ({reason})") from None
    return address


async def _handshake(address: str, timeout_s: float) -> None:
    """Connect to a Dask server with its own protocol (the handshake included), then leave; a
    server that never answers the handshake is given up after ``timeout_s``."""
    import asyncio

    from distributed.comm import connect

    comm = await asyncio.wait_for(connect(address, timeout=timeout_s), timeout_s)
    await comm.close()


PARENT_POLL_S = 1.0
"""How often a local worker checks that the process that started it is still there, where the
kernel cannot signal its death (not Linux)."""
_PR_SET_PDEATHSIG = 1
"""``prctl`` option: the signal a Linux process receives when its parent ends."""


def _worker_init(threads: int, parent: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    _die_with_parent()
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True,
                     name="valint-parent-watch").start()


def _die_with_parent() -> None:
    """On Linux, ask the kernel to kill this worker the moment its parent ends, so that not one
    more run is stored after a run was killed; elsewhere the watcher thread alone ends it, within
    :data:`PARENT_POLL_S`. The pool is created and shut down by one thread of the parent, whose end
    is what the kernel reports."""
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return


def _exit_with_parent(parent: int) -> None:
    """End this local worker once the process that started it is gone (killed, or a notebook
    kernel restarted): an orphan would otherwise go on training a batch that nobody reads, then
    wait for work forever, holding a core and its memory. Stored runs are written atomically, so
    leaving mid-batch loses that batch only (POSIX: the orphan's parent id changes)."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def _ready(batch: Batch, done: set[Batch], pending: set[Batch]) -> bool:
    return all(d in done or d not in pending for d in batch.deps)


def execute_plan(
    plan: Plan,
    store: ResultsStore,
    *,
    executor: str = "auto",
    workers: int | None = None,
    scheduler: str | None = None,
    threads: int = DEFAULT_THREADS,
    on_done: Callable[[str], None] | None = None,
) -> list[str]:
    """Train every batch of ``plan`` that the store lacks, respecting dependencies.

    Args:
        plan: from ``valint.figures.plan_figure``.
        store: the results store; every worker opens the same directory.
        executor: one of :data:`EXECUTORS`.
        workers: worker processes (local or ``LocalCluster``); default: the usable cores.
        scheduler: a Dask scheduler address; default ``$VALINT_SCHEDULER``.
        threads: torch threads per batch.
        on_done: called with each finished batch's name.

    Returns:
        The names of the batches trained, in order of completion.
    """
    workers, threads = check_executor(executor, workers, threads)
    pending = plan.pending(store)
    if not pending:
        return []
    executor, n, scheduler = resolve_executor(executor, workers, scheduler, len(pending))
    if executor == "inprocess":
        return _in_process(pending, store, threads, on_done)
    if executor == "local":
        return _local(pending, store, threads, n, on_done)
    return _dask(pending, store, threads, n, scheduler, on_done)


def resolve_executor(
    executor: str, workers: int | None, scheduler: str | None, n_pending: int
) -> tuple[str, int, str | None]:
    """The executor that ``auto`` stands for here, how many batches it trains at once, and the
    Dask scheduler address (``scheduler``, else ``$VALINT_SCHEDULER``, else none).

    For a Dask scheduler the count is ``workers`` or this machine's cores: the cluster's own
    size is not known before it is asked.
    """
    scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
    cores = usable_cores()
    if executor == "auto":
        executor = "dask" if scheduler else ("local" if cores > 1 and n_pending > 1 else "inprocess")
    if executor == "inprocess":
        return executor, 1, scheduler
    if executor == "local":
        return executor, max(1, min(workers or cores, n_pending)), scheduler
    return executor, workers or cores, scheduler


def _in_process(
    pending: Sequence[Batch], store: ResultsStore, threads: int, on_done: Callable[[str], None] | None
) -> list[str]:
    names = []
    for batch in pending:
        names.append(run_batch(batch, str(store.root), threads))
        if on_done is not None:
            on_done(names[-1])
    return names


def _local(
    pending: Sequence[Batch], store: ResultsStore, threads: int, n_workers: int,
    on_done: Callable[[str], None] | None,
) -> list[str]:
    import multiprocessing

    todo, done, names = list(pending), set(), []
    waiting = set(pending)
    running: dict[Future, Batch] = {}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(n_workers, mp_context=context, initializer=_worker_init,
                             initargs=(threads, os.getpid())) as pool:
        while todo or running:
            for batch in [b for b in todo if _ready(b, done, waiting)]:
                todo.remove(batch)
                running[pool.submit(run_batch, batch, str(store.root), threads)] = batch
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                batch = running.pop(future)
                names.append(future.result())
                done.add(batch)
                if on_done is not None:
                    on_done(names[-1])
    return names


def _dask(
    pending: Sequence[Batch], store: ResultsStore, threads: int, n_workers: int, scheduler: str | None,
    on_done: Callable[[str], None] | None,
) -> list[str]:
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
            env={"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)},
        )
        client = Client(cluster)
    try:
        futures = {}
        for batch in pending:
            deps = [futures[d] for d in batch.deps if d in futures]
            futures[batch] = client.submit(
                run_batch, batch, str(Path(store.root).resolve()), threads, *deps,
                key=batch_name(batch).replace(":", "-").replace(" ", "_"), pure=False, retries=2,
            )
        names = []
        for future in as_completed(list(futures.values())):
            names.append(future.result())
            if on_done is not None:
                on_done(names[-1])
        return names
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
