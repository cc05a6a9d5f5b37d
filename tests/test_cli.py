"""The command line: bad input is refused in one line before anything is written; a smoke run
writes the tidy tables and the claims ledger (project issue 2, issue 6)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]


def run_cli(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "valint", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "VALINT_PROGRESS": "0", "PYTHONPATH": str(REPO), **env},
        timeout=600,
    )


BAD_INPUTS = [
    (["run", "fig9", "--profile", "smoke"], "figure='fig9'", "'fig1'"),
    (["run", "fig4", "--profile", "huge"], "profile='huge'", "'paper', 'quick', 'smoke'"),
    (["run", "fig4", "--profile", "smoke", "--seeds", "0"], "seeds=0", ">= 1"),
    (["run", "fig4", "--profile", "smoke", "--seeds", "-3"], "seeds=-3", ">= 1"),
    (["run", "fig4", "--profile", "smoke", "--seeds", "two"], "--seeds='two'", "integer"),
    (["run", "fig4", "--profile", "smoke", "--seed-offset", "-1"], "seed_offset=-1", ">= 0"),
    (["run", "fig5", "--profile", "smoke", "--param", "layout=nowhere"], "layout='nowhere'", "'plus'"),
    (["run", "fig4", "--profile", "smoke", "--param", "isr_pay=double"], "isr_pay='double'", "'gate'"),
    (["run", "fig4", "--profile", "smoke", "--param", "ood_layout=moon"], "ood_layout='moon'", "'random-5'"),
    (["run", "fig1", "--profile", "smoke", "--param", "layout=x"], "fig1 takes no parameter 'layout'", "none"),
    (["run", "fig6", "--profile", "smoke", "--param", "isr_draws=0"], "isr_draws=0", ">= 1"),
    (["run", "fig4", "--profile", "smoke", "--param", "isr_pay"], "NAME=VALUE", "--param"),
    (["run", "fig6", "--profile", "smoke", "--param", "isr_draws=-5"], "isr_draws=-5", ">= 1 and <= 120832"),
    (["run", "fig6", "--profile", "smoke", "--param", "isr_draws=1000000"], "isr_draws=1000000", "<= 120832"),
    (["run", "fig1", "--profile", "smoke", "--store", ""], "--store must not be empty", "working directory"),
    (["run", "fig1", "--profile", "smoke", "--out", ""], "--out must not be empty", "working directory"),
    (["run", "fig1", "--profile", "smoke", "--out", "."], "--out='.'", "working directory"),
    (["run", "fig1", "--profile", "smoke", "--scheduler", ""], "--scheduler must not be empty", "this machine"),
    (["run", "fig1", "--profile", "smoke", "--scheduler", "nowhere"], "--scheduler='nowhere'", "tcp://HOST:PORT"),
    (["record", "fig1", "--records", ""], "--records must not be empty", "working directory"),
]


def _main_in_process(args: list[str]) -> int:
    from valint.__main__ import main

    try:
        return main(args)
    except SystemExit as exit_:
        return exit_.code


@pytest.mark.parametrize(("args", "names", "allowed"), BAD_INPUTS)
def test_cli_bad_input_exits_with_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys, args, names, allowed):
    """Each refusal, through the command line's own entry point in this process (a process per
    input spent five seconds each importing the same libraries; the test below runs one)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VALINT_PROGRESS", "0")
    assert _main_in_process(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert names in lines[0] and allowed in lines[0], lines[0]
    assert list(tmp_path.iterdir()) == [], "a refused command must write nothing"


def test_cli_process_refuses_bad_input_with_exit_status_2(tmp_path):
    args, names, allowed = BAD_INPUTS[6]
    result = run_cli(args, tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and names in lines[0] and allowed in lines[0], result.stderr
    assert list(tmp_path.iterdir()) == [], "a refused command must write nothing"


@pytest.mark.slow
def test_cli_smoke_run_writes_tables_claims_and_provenance(tmp_path):
    result = run_cli(["run", "fig1", "--profile", "smoke", "--out", "out"], tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    assert {"curves.csv", "claims.csv", "claims.json", "provenance.json"} <= {p.name for p in out.iterdir()}
    claims = json.loads((out / "claims.json").read_text())
    assert claims and {"claim_id", "paper", "measured", "verdict"} <= set(claims[0])
    assert all(c["verdict"] in {"holds", "fails", "inconclusive"} for c in claims)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["profile"] == "smoke" and prov["seeds"] == [0, 1]


class _Result:
    """What ``run_figure`` returns, as far as the command line reads it (a Fig. 1 smoke run)."""

    figure, seeds, params, wall_time_s = "fig1", (0,), {}, 0.5
    profile = type("P", (), {"name": "smoke"})()
    tables = {"curves": pd.DataFrame({"seed": [0], "goals_per_episode": [0.5]})}
    claims = pd.DataFrame({"claim_id": ["fig1_none_unlearns"], "verdict": ["inconclusive"]})
    runs = pd.DataFrame({"key": ["0" * 12]})


@pytest.fixture
def fake_training(monkeypatch, tmp_path):
    """The command line in this process, in ``tmp_path``, with ``run_figure`` replaced by a
    stand-in that trains nothing and records its calls."""
    import valint.figures

    calls = []

    def run_figure(*args, **kwargs):
        calls.append(kwargs["store"].root)
        return _Result()

    monkeypatch.setattr(valint.figures, "run_figure", run_figure)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VALINT_PROGRESS", "0")
    monkeypatch.delenv("VALINT_RESULTS", raising=False)
    monkeypatch.delenv("VALINT_SCHEDULER", raising=False)
    return calls


def _one_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_out_into_a_folder_of_the_users_refuses_before_training_and_deletes_nothing(
        fake_training, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("a user's file")
    assert _main_in_process(["run", "fig1", "--profile", "smoke", "--out", "mine"]) == 2
    line = _one_line(capsys)
    assert "--out='mine'" in line and "'thesis.tex'" in line
    assert fake_training == [] and (mine / "thesis.tex").read_text() == "a user's file"


def test_out_as_the_working_directory_or_above_it_is_refused(fake_training, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("kept")
    work = tmp_path / "sub"
    work.mkdir()
    os.chdir(work)
    for out in (".", "..", str(tmp_path)):
        assert _main_in_process(["run", "fig1", "--profile", "smoke", "--out", out]) == 2
        assert "--out=" in _one_line(capsys)
    assert fake_training == [] and (tmp_path / "notes.txt").read_text() == "kept"


def test_out_holding_the_store_is_refused_before_training(fake_training, tmp_path, capsys):
    assert _main_in_process(["run", "fig1", "--profile", "smoke", "--out", "o",
                             "--store", "o/store"]) == 2
    assert "holds the results store" in _one_line(capsys) and fake_training == []
    assert list(tmp_path.iterdir()) == []


def test_out_written_by_an_earlier_output_is_replaced_and_carries_a_manifest(
        fake_training, tmp_path, capsys):
    from valint.records import MANIFEST_FILE, read_manifest

    args = ["run", "fig1", "--profile", "smoke", "--out", "o", "--store", "s"]
    assert _main_in_process(args) == 0
    listed = read_manifest(tmp_path / "o")
    assert sorted(listed) == ["claims.csv", "claims.json", "curves.csv", "provenance.json", "runs.csv"]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == sorted([*listed, MANIFEST_FILE])
    assert _main_in_process(args) == 0
    (tmp_path / "o" / "claims.csv").write_text("edited by hand")
    assert _main_in_process(args) == 2
    assert "'claims.csv', changed since valint wrote it" in _one_line(capsys)
    assert (tmp_path / "o" / "claims.csv").read_text() == "edited by hand"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


@pytest.mark.parametrize("where", ["store", "out"])
def test_a_path_that_is_a_file_is_refused_before_training(fake_training, tmp_path, capsys, where):
    (tmp_path / "f").write_text("a file")
    args = {"store": ["--store", "f/x"], "out": ["--out", "f"]}[where]
    assert _main_in_process(["run", "fig1", "--profile", "smoke", *args]) == 2
    line = _one_line(capsys)
    assert f"--{where}=" in line and "is a file" in line and fake_training == []
    assert (tmp_path / "f").read_text() == "a file"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc, which no one can write")
def test_a_store_that_cannot_be_written_is_refused_before_training(fake_training, capsys):
    assert _main_in_process(["run", "fig1", "--profile", "smoke", "--store", "/proc/valint-store"]) == 2
    assert "--store='/proc/valint-store' cannot be written" in _one_line(capsys)
    assert fake_training == []


def test_an_empty_store_variable_is_refused_not_the_working_directory(fake_training, tmp_path,
                                                                      monkeypatch, capsys):
    monkeypatch.setenv("VALINT_RESULTS", "")
    assert _main_in_process(["run", "fig1", "--profile", "smoke"]) == 2
    assert "VALINT_RESULTS must not be empty" in _one_line(capsys)
    assert fake_training == [] and list(tmp_path.iterdir()) == []
    from valint.figures import _as_store

    with pytest.raises(ValueError, match="VALINT_RESULTS must not be empty"):
        _as_store(None)


def test_a_scheduler_that_does_not_answer_is_refused_within_seconds(fake_training, capsys):
    import socket
    import time

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    started = time.perf_counter()
    assert _main_in_process(["run", "fig1", "--profile", "smoke",
                             "--scheduler", f"tcp://127.0.0.1:{port}"]) == 2
    assert time.perf_counter() - started < 10
    line = _one_line(capsys)
    assert f"--scheduler='tcp://127.0.0.1:{port}' does not answer" in line and fake_training == []


def test_a_full_disk_while_writing_ends_in_one_line_that_says_what_is_kept(
        fake_training, tmp_path, monkeypatch, capsys):
    import errno

    import valint.records

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(valint.records, "write_outputs", full)
    assert _main_in_process(["run", "fig1", "--profile", "smoke", "--out", "o", "--store", "s"]) == 1
    line = _one_line(capsys)
    assert "No space left on device" in line and "kept in s/" in line and "run the same command again" in line
    monkeypatch.setattr(valint.figures, "run_figure", full)
    assert _main_in_process(["run", "fig1", "--profile", "smoke", "--out", "o", "--store", "s"]) == 1
    line = _one_line(capsys)
    assert "training stopped" in line and "kept in s/" in line and "resume" in line


def test_the_command_line_removes_old_temporaries_of_the_store_and_nothing_else(
        fake_training, tmp_path):
    store = tmp_path / "s"
    store.mkdir()
    old = store / f".{'a' * 64}.{'0' * 16}.tmp"
    young = store / f".{'b' * 64}.{'1' * 16}.tmp"
    other = store / "notes.tmp"
    folder = store / f".{'c' * 64}.{'2' * 16}.tmp"
    for path in (old, young, other):
        path.write_bytes(b"x")
    folder.mkdir()
    an_hour_ago = time.time() - 3600
    for path in (old, other, folder):
        os.utime(path, (an_hour_ago, an_hour_ago))
    assert _main_in_process(["run", "fig1", "--profile", "smoke", "--out", "o", "--store", "s"]) == 0
    assert not old.exists() and young.exists() and other.exists() and folder.is_dir()


def test_a_negative_integer_parameter_is_an_integer():
    from valint.__main__ import _figure_param

    assert _figure_param("isr_draws=-5") == ("isr_draws", -5)
    assert _figure_param("isr_draws=+7") == ("isr_draws", 7)
    assert _figure_param("layout=4 rooms") == ("layout", "4 rooms")
    assert _figure_param("layout=-x") == ("layout", "-x")
