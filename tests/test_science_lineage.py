"""Declared bit-identical refactorings of the science code (``valint.provenance.SAME_SCIENCE``).

A paper-scale record names the science code that made it; a refactoring changes that hash as
surely as a change of the science does. A declaration in ``SAME_SCIENCE`` lets the records of
the earlier code stand for the current one, and these tests are its evidence: while the
declared ``code`` is the current code, the earlier science modules are taken from git, swapped
into a copy of this checkout, and both copies are fingerprinted (``science_fingerprint.py``)
side by side on this machine.
"""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from valint import pages, provenance
from valint.figures import FIGURES
from valint.provenance import SAME_SCIENCE, WORLD_MODULES, SameScience, hash_modules, science_code_hash
from valint.records import Record

REPO = Path(__file__).resolve().parents[1]
FINGERPRINT = Path(__file__).resolve().parent / "science_fingerprint.py"
HEX = set("0123456789abcdef")


def _is_hex(text: str, length: int) -> bool:
    return len(text) == length and set(text) <= HEX


def test_declarations_are_well_formed():
    codes = [same.code for same in SAME_SCIENCE]
    assert len(set(codes)) == len(codes), "a science code is declared twice"
    for same in SAME_SCIENCE:
        assert _is_hex(same.code, 16) and _is_hex(same.same_as, 16), same
        assert same.code != same.same_as, same
        assert _is_hex(same.commit, 40), same
        assert same.changed and len(set(same.changed)) == len(same.changed), same
        assert same.why.strip(), same


def test_same_science_follows_chains_both_ways(monkeypatch):
    chain = (
        SameScience("b" * 16, "a" * 16, "0" * 40, ("envs",), "first"),
        SameScience("c" * 16, "b" * 16, "0" * 40, ("ppo",), "second"),
    )
    monkeypatch.setattr(provenance, "SAME_SCIENCE", chain)
    assert provenance.same_science_codes("a" * 16) == {"a" * 16, "b" * 16, "c" * 16}
    assert provenance.same_science_codes("c" * 16) == {"a" * 16, "b" * 16, "c" * 16}
    assert provenance.same_science_codes("d" * 16) == {"d" * 16}


def test_a_record_of_declared_code_is_carried_and_other_code_is_stale(monkeypatch):
    current = science_code_hash("grid")
    declared = (SameScience(current, "a" * 16, "0" * 40, ("envs",), "test"),)
    monkeypatch.setattr(provenance, "SAME_SCIENCE", declared)
    parts = pd.DataFrame({"science_code": [current, "a" * 16, "f" * 16]})
    record = Record(figure="fig1", parts=parts, tables={}, missing="")
    assert record.stale_codes == ["f" * 16]
    assert record.carried_codes == ["a" * 16]
    monkeypatch.setattr(provenance, "SAME_SCIENCE", ())
    assert record.stale_codes == ["a" * 16, "f" * 16]
    assert record.carried_codes == []


def test_the_chapter_notes_a_carried_record_and_warns_of_a_stale_one(monkeypatch):
    current = science_code_hash("grid")
    monkeypatch.setattr(provenance, "SAME_SCIENCE",
                        (SameScience(current, "a" * 16, "0" * 40, ("envs",), "test"),))
    row = {"part": "seeds-0-9", "timestamp_utc": "2026-12-05", "git_commit": "8aa9089abc",
           "device": "cpu", "wall_time_s": 60.0, "training_s": 60.0}
    carried = Record("fig1", pd.DataFrame([{**row, "science_code": "a" * 16}]), {}, "")
    note = pages.record_note(carried).data
    assert "computes the same numbers" in note and "a" * 16 in note and current in note
    assert "made by other code" not in note
    stale = Record("fig1", pd.DataFrame([{**row, "science_code": "f" * 16}]), {}, "")
    note = pages.record_note(stale).data
    assert "This record was made by other code" in note and "f" * 16 in note
    assert "computes the same numbers" not in note


def test_a_declaration_for_some_figures_carries_only_their_records(monkeypatch):
    """A change can leave some figures' numbers unchanged and not others' (the best-checkpoint
    rule is read by Figs. 5 and 6 only): a declaration naming figures carries their records
    and leaves the others' stale."""
    current = science_code_hash("grid")
    monkeypatch.setattr(provenance, "SAME_SCIENCE", (
        SameScience(current, "a" * 16, "0" * 40, ("experiments",), "test", figures=("fig1", "fig4")),))
    parts = pd.DataFrame({"science_code": ["a" * 16]})
    assert Record("fig1", parts, {}, "").stale_codes == []
    assert Record("fig4", parts, {}, "").carried_codes == ["a" * 16]
    assert Record("fig5", parts, {}, "").stale_codes == ["a" * 16]
    assert Record("fig5", parts, {}, "").carried_codes == []


def _current_world(code: str) -> str | None:
    """The world whose current science code is ``code``, if any."""
    return next((world for world in WORLD_MODULES if science_code_hash(world) == code), None)


def _git_show(commit: str, path: str) -> bytes | None:
    """The file at ``path`` in ``commit``, or None when git, the commit or the file is missing."""
    git = shutil.which("git")
    if git is None:
        return None
    done = subprocess.run([git, "-C", str(REPO), "show", f"{commit}:{path}"],
                          capture_output=True, check=False)
    return done.stdout if done.returncode == 0 else None


@pytest.fixture(scope="module")
def declaration() -> tuple[SameScience, dict[str, bytes]]:
    """The declaration for the current code and the science modules of its earlier commit."""
    current = [same for same in SAME_SCIENCE if _current_world(same.code) is not None]
    if not current:
        pytest.skip(f"no refactoring is declared for the current science code "
                    f"({provenance.science_codes()}): there is nothing to re-check")
    same = current[0]
    old_provenance = _git_show(same.commit, "valint/provenance.py")
    if old_provenance is None:
        pytest.skip(f"commit {same.commit[:10]} is not in this clone (a shallow clone?), so "
                    "its modules cannot be compared")
    modules = next(ast.literal_eval(node.value) for node in ast.parse(old_provenance).body
                   if isinstance(node, ast.Assign)
                   and getattr(node.targets[0], "id", None) == "SCIENCE_MODULES")
    sources = {name: _git_show(same.commit, f"valint/{name}.py") for name in modules}
    assert all(source is not None for source in sources.values()), sources.keys()
    return same, sources


def test_the_declared_commit_is_the_earlier_code_and_only_the_named_modules_changed(declaration):
    """The earlier commit's science modules hash (by that commit's own rule, every module of its
    ``SCIENCE_MODULES``) to ``same_as``, and of the modules of the declared code's world exactly
    the named ones differ."""
    same, old = declaration
    assert hash_modules(old.items()) == same.same_as
    package = REPO / "valint"
    modules = WORLD_MODULES[_current_world(same.code)]
    changed = {name for name in modules if old.get(name) != (package / f"{name}.py").read_bytes()}
    assert changed == set(same.changed)
    assert set(same.figures) <= set(FIGURES)


def _fingerprint(tree: Path, work: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(tree), "VALINT_PROGRESS": "0",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(FINGERPRINT), str(work)], cwd=work.parent,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(process: subprocess.Popen, tree: Path) -> dict[str, str]:
    stdout, stderr = process.communicate(timeout=900)
    assert process.returncode == 0, stderr[-3000:]
    result = json.loads(stdout.strip().splitlines()[-1])
    assert Path(result["valint"]) == (tree / "valint").resolve(), result["valint"]
    return result["digests"]


@pytest.mark.slow
def test_the_declared_refactoring_computes_the_same_bits(declaration, tmp_path):
    same, old = declaration
    earlier = tmp_path / "earlier"
    shutil.copytree(REPO / "valint", earlier / "valint",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in same.changed:
        target = earlier / "valint" / f"{name}.py"
        if name in old:
            target.write_bytes(old[name])
    (tmp_path / "now").mkdir()
    (tmp_path / "then").mkdir()
    runs = [_fingerprint(REPO, tmp_path / "now" / "work"),
            _fingerprint(earlier, tmp_path / "then" / "work")]
    now, then = _result(runs[0], REPO), _result(runs[1], earlier)
    assert len(now) > 20 and set(now) == set(then)
    world = _current_world(same.code)
    figures = same.figures or tuple(f for f, spec in FIGURES.items() if spec.world == world)
    traces = ("grid",) if world == "grid" else ("prosocial", "random learner")
    checked = sorted(key for key in now
                     if key.split("/")[0] in figures or key.startswith(traces))
    assert len(checked) >= 10, checked
    differ = [key for key in checked if now[key] != then[key]]
    assert not differ, f"the declared change altered these results: {differ}"
