"""Same configuration, same numbers; a killed sweep resumes to the same numbers (issue 6)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import psutil
import pytest

from valint.records import RUNS_FILE
from valint.store import ResultsStore

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _command(store: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "valint", "run", "fig1", "--profile", "smoke",
        "--store", str(store), "--out", str(out),
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "VALINT_PROGRESS": "0", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "2"}


def _run(store: Path, out: Path) -> None:
    subprocess.run(_command(store, out), check=True, env=_env(), capture_output=True, timeout=600)


def _tables(out: Path) -> dict[str, pd.DataFrame]:
    """The tables a run wrote; its runs file is provenance (when and how long each run trained)."""
    return {p.name: pd.read_csv(p) for p in sorted(out.glob("*.csv")) if p.name != RUNS_FILE}


def _assert_same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[dict[str, pd.DataFrame], int]:
    """The uninterrupted run's tables, and how many entries its store holds when done."""
    root = tmp_path_factory.mktemp("reference")
    _run(root / "store", root / "out")
    return _tables(root / "out"), len(list(ResultsStore(root / "store").keys()))


def _n_entries(store: Path) -> int:
    return len(list(ResultsStore(store).keys()))


def _assert_every_entry_complete(store: Path) -> None:
    """Every entry on disk reads back whole (no checksum warning): nothing is half-written."""
    entries = ResultsStore(store)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for key in entries.keys():
            sidecar = store / f"{key}.json"
            if not sidecar.exists():
                continue
            config = json.loads(sidecar.read_text())["config"]
            assert entries.get(config) is not None, key


def test_smoke_figure_is_bit_identical_across_processes(tmp_path, reference):
    tables, _ = reference
    _run(tmp_path / "store", tmp_path / "out")
    _assert_same(_tables(tmp_path / "out"), tables)
    curves = tables["curves.csv"]
    assert len(curves) > 0 and curves["goals_per_episode"].notna().all()


def test_sigkill_then_resume_gives_the_uninterrupted_numbers(tmp_path, reference):
    """Kill the run twice, each time as soon as it stored a new entry (in phase 1, then in a
    later stage): the store must then hold some but not all of the run's entries, every one of
    them whole, and the resumed run must give the uninterrupted numbers.

    The kill follows the first new entry at once: the batches of a smoke stage finish within a
    quarter of a second of each other, so a later kill could find the whole run stored (CI saw
    ``(4, 10, 10)`` with a random delay of up to 0.2 s and workers that outlived their parent by
    up to a second)."""
    tables, total = reference
    store = tmp_path / "store"
    for attempt in range(2):
        before = _n_entries(store)
        proc = subprocess.Popen(
            [*_command(store, tmp_path / f"killed{attempt}"), "--executor", "local", "--workers", "2"],
            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 300
        while _n_entries(store) == before and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the run finished before it could be killed"
        workers = psutil.Process(proc.pid).children(recursive=True)
        assert workers, "the local executor started no worker process"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        # its workers notice that their parent is gone and end, instead of training on unseen
        _, orphans = psutil.wait_procs(workers, timeout=15)
        assert not orphans, f"worker processes outlived the killed run: {orphans}"
        held = _n_entries(store)
        assert before < held < total, (before, held, total)
        _assert_every_entry_complete(store)
    _run(store, tmp_path / "resumed")
    _assert_same(_tables(tmp_path / "resumed"), tables)
