"""Executors (valint/executors.py; issue 13): the same batches give the same bits in-process,
in local worker processes and on a Dask LocalCluster, and a killed worker loses nothing."""
from __future__ import annotations

import os
import signal
import threading
import time

import pandas as pd
import psutil
import pytest

from valint.executors import EXECUTORS, check_executor, execute_plan
from valint.figures import plan_figure, run_figure
from valint.nets import torch_threads
from valint.store import ResultsStore

from test_plan import MICRO

pytestmark = pytest.mark.slow


def _tables_equal(a, b) -> None:
    assert a.tables.keys() == b.tables.keys()
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], check_exact=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Fig. 4 (phase 1, ISR, phase 2 with evaluation, in two worlds) trained in this process."""
    root = tmp_path_factory.mktemp("inprocess")
    with torch_threads(1):
        result = run_figure("fig4", MICRO, seeds=2, store=root, progress=False, executor="inprocess")
    return root, result


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_every_executor_gives_the_same_bits(reference, tmp_path, executor) -> None:
    root, expected = reference
    result = run_figure("fig4", MICRO, seeds=2, store=tmp_path, progress=False, executor=executor, workers=2)
    _tables_equal(expected, result)
    assert set(ResultsStore(tmp_path).keys()) == set(ResultsStore(root).keys())
    for key in ResultsStore(root).keys():
        mine, theirs = (r / f"{key}.npz" for r in (tmp_path, root))
        assert _arrays(mine) == _arrays(theirs), f"run {key} differs"


def _arrays(path) -> dict:
    """The stored arrays of an entry, as bytes (provenance, which holds wall times, left out)."""
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        return {name: data[name].tobytes() for name in data.files if name != "manifest.json"}


def test_a_stored_plan_is_not_run_again(tmp_path) -> None:
    plan = plan_figure("fig1", MICRO, seeds=2).plan
    store = ResultsStore(tmp_path)
    first = execute_plan(plan, store, executor="inprocess")
    assert len(first) == len(plan.batches)
    assert execute_plan(plan, store, executor="local", workers=2) == []
    assert plan.pending(store) == []


def test_bad_executor_parameters_are_named() -> None:
    assert set(EXECUTORS) == {"auto", "inprocess", "local", "dask"}
    with pytest.raises(ValueError, match="executor"):
        check_executor("threads", None, 1)
    with pytest.raises(ValueError, match="workers"):
        check_executor("local", 0, 1)
    with pytest.raises(ValueError, match="threads"):
        check_executor("local", 2, "two")


def _spawned_workers() -> list[psutil.Process]:
    """The LocalCluster's worker processes: this process's children running a worker."""
    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            if any("spawn" in part or "distributed" in part for part in child.cmdline()):
                out.append(child)
        except psutil.Error:
            continue
    return out


def test_a_killed_worker_loses_no_finished_batch(tmp_path) -> None:
    """SIGKILL one LocalCluster worker once the first runs are stored: every run stored before
    the kill stays as it was, the run completes, and its tables equal an uninterrupted run's."""
    with torch_threads(1):
        uninterrupted = run_figure("fig1", "smoke", store=tmp_path / "clean", progress=False, executor="inprocess")
    root = tmp_path / "killed"
    store = ResultsStore(root)
    seen: dict[str, int] = {}
    killed: list[int] = []

    def kill_when_first_runs_are_stored() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            keys = list(store.keys())
            workers = _spawned_workers()
            if keys and workers:
                for key in keys:
                    seen[key] = os.stat(root / f"{key}.npz").st_ino
                os.kill(workers[0].pid, signal.SIGKILL)
                killed.append(workers[0].pid)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_when_first_runs_are_stored, daemon=True)
    killer.start()
    result = run_figure("fig1", "smoke", store=root, progress=False, executor="dask", workers=2)
    killer.join(timeout=5)
    assert killed, "no worker was killed: the run finished before any run was stored"
    assert len(seen) < len(list(store.keys())), "the kill came after the last run"
    for key, inode in seen.items():
        assert os.stat(root / f"{key}.npz").st_ino == inode, f"finished run {key} was trained again"
    _tables_equal(uninterrupted, result)
    again = run_figure("fig1", "smoke", store=root, progress=False, executor="dask", workers=2)
    _tables_equal(uninterrupted, again)


def test_a_scheduler_address_is_checked_in_seconds() -> None:
    """A Dask scheduler passes; a closed port, a port where something else listens and a
    malformed address are refused, each within seconds."""
    import socket
    import time

    from distributed import LocalCluster

    from valint.executors import check_scheduler, scheduler_in_use

    with LocalCluster(n_workers=0, processes=False, protocol="tcp", dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://")
        assert check_scheduler(address) == address
        assert check_scheduler(address.removeprefix("tcp://")) == address.removeprefix("tcp://")
    started = time.perf_counter()
    with pytest.raises(ValueError, match="does not answer"):
        check_scheduler(address, timeout_s=2.0)
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        with pytest.raises(ValueError, match="not as a Dask scheduler"):
            check_scheduler(f"tcp://127.0.0.1:{other.getsockname()[1]}", timeout_s=1.0)
    assert time.perf_counter() - started < 8
    for bad in ("tcp://host", "tcp://:8786", "tcp://host:port"):
        with pytest.raises(ValueError, match="must look like tcp://HOST:PORT"):
            check_scheduler(bad)
    assert scheduler_in_use("local", address) is None
    assert scheduler_in_use("auto", address) == address
