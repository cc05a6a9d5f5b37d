"""The command line: bad input is refused in one line before anything is written; a smoke run
writes the tidy tables and the claims ledger (project issue 2, issue 6)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
