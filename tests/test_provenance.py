"""Tests for the provenance record shown next to every result."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import valint
import valint.provenance as provenance_module
from valint.provenance import PACKAGES, git_state, package_version, provenance, provenance_frame
from valint.store import ResultsStore, config_key

REPO_ROOT = Path(valint.__file__).resolve().parent.parent
HEX40 = re.compile(r"[0-9a-f]{40}")


def test_provenance_has_all_fields() -> None:
    record = provenance(profile="smoke", config_key="abc", wall_time_s=1.25, device="cpu: test")
    expected = {
        "profile",
        "config_key",
        "wall_time_s",
        "timestamp_utc",
        "valint_version",
        "science_code",
        "python_version",
        "platform",
        "git_commit",
        "git_dirty",
        "torch_num_threads",
        "device",
        *(f"{name}_version" for name in PACKAGES),
    }
    assert set(record) == expected
    assert (record["profile"], record["config_key"]) == ("smoke", "abc")
    assert (record["wall_time_s"], record["device"]) == (1.25, "cpu: test")
    assert record["valint_version"] == valint.__version__
    assert record["numpy_version"] == np.__version__
    assert record["pandas_version"] == metadata.version("pandas")
    assert isinstance(record["torch_num_threads"], int) and record["torch_num_threads"] >= 1
    assert json.loads(json.dumps(record)) == record


def test_provenance_timestamp_is_utc() -> None:
    stamp = datetime.fromisoformat(provenance(profile="smoke")["timestamp_utc"])
    assert stamp.utcoffset() == timedelta(0)


def test_provenance_package_version_reports_missing_package() -> None:
    assert package_version("valint-no-such-distribution") == "not installed"
    assert package_version("numpy") == np.__version__


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_provenance_git_commit_matches_repository_head() -> None:
    head = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    if head.returncode != 0:
        pytest.skip("the package does not sit in a git checkout")
    record = provenance(profile="smoke")
    assert HEX40.fullmatch(record["git_commit"])
    assert record["git_commit"] == head.stdout.strip()
    assert isinstance(record["git_dirty"], bool)


def test_provenance_git_state_outside_checkout_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "__init__.py").write_text("")
    assert git_state(tmp_path) == ("unknown", "unknown")
    assert git_state(tmp_path / "missing") == ("unknown", "unknown")


def test_provenance_outside_checkout_does_not_raise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(provenance_module, "_PACKAGE_DIR", tmp_path)
    record = provenance(profile="smoke")
    assert (record["git_commit"], record["git_dirty"]) == ("unknown", "unknown")


def test_provenance_without_git_executable_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provenance_module.shutil, "which", lambda name: None)
    assert git_state() == ("unknown", "unknown")


def test_provenance_git_failure_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise subprocess.TimeoutExpired(cmd="git", timeout=10)

    monkeypatch.setattr(provenance_module.subprocess, "run", broken)
    assert git_state() == ("unknown", "unknown")


def test_provenance_default_device_names_cuda_or_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert re.fullmatch(r"cpu: .+, \d+ cores", provenance(profile="smoke")["device"])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "NVIDIA H100")
    assert provenance(profile="smoke")["device"] == "cuda:NVIDIA H100"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"profile": ""}, "profile"),
        ({"profile": "smoke", "wall_time_s": -1.0}, "wall_time_s"),
        ({"profile": "smoke", "wall_time_s": float("nan")}, "wall_time_s"),
    ],
)
def test_provenance_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        provenance(**kwargs)


def test_provenance_frame_has_one_row_per_item() -> None:
    record = provenance(profile="quick", wall_time_s=2.0)
    frame = provenance_frame(record)
    assert list(frame.columns) == ["item", "value"]
    assert frame["item"].tolist() == list(record)
    values = dict(zip(frame["item"], frame["value"]))
    assert values["profile"] == "quick"
    assert values["wall_time_s"] == "2.0"
    assert values["config_key"] == "not recorded"
    assert all(isinstance(v, str) for v in frame["value"])
    assert isinstance(frame, pd.DataFrame)


def test_provenance_is_kept_by_results_store(tmp_path: Path) -> None:
    config = {"profile": "smoke", "seed": 0}
    record = provenance(profile="smoke", config_key=config_key(config), wall_time_s=0.5)
    store = ResultsStore(tmp_path)
    store.put(config, {"x": np.zeros(1)}, provenance=record)
    sidecar = json.loads(store.sidecar_for(config).read_text())
    assert sidecar["provenance"] == record


def test_science_code_hash_covers_the_science_modules_and_keys_every_run(tmp_path, monkeypatch):
    from valint import experiments
    from valint import provenance as prov
    from valint.config import SMOKE

    assert re.fullmatch(r"[0-9a-f]{16}", prov.science_code_hash("grid"))
    assert provenance(profile="smoke", science_code="abc")["science_code"] == "abc"
    assert provenance(profile="smoke")["science_code"] == prov.science_codes()
    key = experiments.phase1_config("grid", "random-3", 0, SMOKE)
    assert key["code"] == prov.science_code_hash("grid")
    assert experiments.phase1_config("prosocial", "authors", 0, SMOKE)["code"] == prov.science_code_hash("prosocial")
    # A copy of the package whose ppo.py differs by one byte hashes differently.
    copy = tmp_path / "valint"
    copy.mkdir()
    for name in prov.SCIENCE_MODULES:
        (copy / f"{name}.py").write_bytes((REPO_ROOT / "valint" / f"{name}.py").read_bytes())
    monkeypatch.setattr(prov, "_PACKAGE_DIR", copy)
    prov.science_code_hash.cache_clear()
    try:
        same = prov.science_code_hash("grid")
        (copy / "ppo.py").write_bytes((copy / "ppo.py").read_bytes() + b"\n")
        prov.science_code_hash.cache_clear()
        changed = prov.science_code_hash("grid")
    finally:
        prov.science_code_hash.cache_clear()
    assert same == key["code"]
    assert changed != same
    # The statistics and the claims do not make numbers of the tables; they are not hashed.
    assert not {"stats", "claims", "plots", "book", "config"} & set(prov.SCIENCE_MODULES)


@pytest.mark.parametrize("world, other", [("prosocial", "grid"), ("envs", "prosocial")])
def test_changing_one_world_leaves_the_other_worlds_code_and_records_current(tmp_path, monkeypatch, world, other):
    """Each run is keyed by the modules its world executes (``WORLD_MODULES``): a change to the
    two-agent world (``prosocial.py``) leaves the code of the single-agent world, and so the
    records of Figs. 1-6, current; a change to the single-agent world (``envs.py``) leaves
    Fig. 7's."""
    from valint import provenance as prov
    from valint.records import load_record

    module = world
    copy = tmp_path / "valint"
    copy.mkdir()
    for name in prov.SCIENCE_MODULES:
        (copy / f"{name}.py").write_bytes((REPO_ROOT / "valint" / f"{name}.py").read_bytes())
    figures = {"grid": ["fig1", "fig3", "fig4", "fig5", "fig6"], "prosocial": ["fig7"]}
    before = {f: load_record(f).stale_codes for f in figures[other]}
    kept = prov.science_code_hash(other)
    touched = "grid" if module == "envs" else "prosocial"
    changed_world = prov.science_code_hash(touched)
    monkeypatch.setattr(prov, "_PACKAGE_DIR", copy)
    prov.science_code_hash.cache_clear()
    try:
        (copy / f"{module}.py").write_bytes((copy / f"{module}.py").read_bytes() + b"\n# changed\n")
        assert prov.science_code_hash(other) == kept
        assert prov.science_code_hash(touched) != changed_world
        assert {f: load_record(f).stale_codes for f in figures[other]} == before
    finally:
        prov.science_code_hash.cache_clear()
