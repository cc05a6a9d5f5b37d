"""Tests for the results store: exact round trips, stable keys, checksums, atomic writes."""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.extra import numpy as hnp

import valint
import valint.store as store_module
from valint.store import CorruptEntryWarning, ResultsStore, SidecarRepairedWarning, config_key

REPO_ROOT = Path(valint.__file__).resolve().parent.parent
ENTRY_OR_SIDECAR = re.compile(r"^[0-9a-f]{64}\.(npz|json)$")
TEMPORARY = re.compile(r"^\.[0-9a-f]{64}\.[0-9a-f]{16}\.tmp$")


def _assert_arrays_identical(actual: np.ndarray, expected: np.ndarray) -> None:
    """Same type, dtype, shape and bytes (so NaN payloads and -0.0 count)."""
    assert type(actual) is np.ndarray
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    assert np.ascontiguousarray(actual).tobytes() == np.ascontiguousarray(expected).tobytes()


def _assert_frames_identical(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal values, dtypes, column order and index; float columns equal bit for bit."""
    pd.testing.assert_frame_equal(actual, expected, check_exact=True)
    assert list(actual.dtypes) == list(expected.dtypes)
    assert list(actual.columns) == list(expected.columns)
    for i in range(expected.shape[1]):
        column = expected.iloc[:, i]
        if isinstance(column.dtype, np.dtype) and column.dtype.kind in "fc":
            _assert_arrays_identical(actual.iloc[:, i].to_numpy(), column.to_numpy())


def _mixed_frame() -> pd.DataFrame:
    """A frame with the column types the protocol produces, NaNs and awkward floats included."""
    frame = pd.DataFrame(
        {
            "seed": np.array([0, 1, 2, 3], dtype=np.int64),
            "episode": np.array([1, 2, 3, 4], dtype=np.int32),
            "layout": ["plus", "x", None, "4 rooms"],
            "caregiver_present": [True, False, True, False],
            "ood_reward": [0.1, np.nan, -0.0, 5e-324],
            "isr_test_mse": np.array([1.5, np.inf, -np.inf, 1 / 3], dtype=np.float32),
            "pixels": np.array([0, 255, 7, 128], dtype=np.uint8),
            "goals": pd.array([1, None, 3, 4], dtype="Int64"),
            "when": np.array(["2024-01-01", "NaT", "2024-03-01", "2024-04-01"], dtype="M8[s]"),
            7: [1.0, 2.0, 3.0, 4.0],
        },
        index=pd.Index(["a", "b", "c", "d"], name="run"),
    )
    frame["note"] = pd.Series(["x", None, np.nan, 3], index=frame.index, dtype=object)
    return frame


@pytest.mark.parametrize(
    "array",
    [
        np.arange(24, dtype=np.float64).reshape(2, 3, 4) / 7,
        np.array([np.nan, -0.0, np.inf, 1e-45], dtype=np.float32),
        np.arange(256, dtype=np.uint8).reshape(16, 16),
        np.array([-(2**63), 2**63 - 1], dtype=np.int64),
        np.array([[True, False], [False, True]]),
        np.array(3.5, dtype=np.float16),
        np.zeros((0, 5), dtype=np.int16),
        np.arange(12, dtype=np.float64).reshape(3, 4).T,
        np.array([1 + 2j, np.nan], dtype=np.complex128),
        np.array(["2024-01-01", "NaT"], dtype="M8[ns]"),
    ],
    ids=lambda a: f"{a.dtype}{a.shape}",
)
def test_store_round_trips_arrays_bit_exact(tmp_path: Path, array: np.ndarray) -> None:
    store = ResultsStore(tmp_path)
    store.put({"case": "array"}, {"values": array})
    _assert_arrays_identical(store.get({"case": "array"})["values"], array)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    array=hnp.arrays(
        dtype=hnp.scalar_dtypes(),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    )
)
def test_store_round_trips_any_numeric_array(
    tmp_path_factory: pytest.TempPathFactory, array: np.ndarray
) -> None:
    store = ResultsStore(tmp_path_factory.mktemp("hypothesis"))
    store.put({"case": "hypothesis"}, {"values": array})
    _assert_arrays_identical(store.get({"case": "hypothesis"})["values"], array)


def test_store_round_trips_dataframe_exactly(tmp_path: Path) -> None:
    frame = _mixed_frame()
    store = ResultsStore(tmp_path)
    store.put({"case": "frame"}, {"ood": frame})
    _assert_frames_identical(store.get({"case": "frame"})["ood"], frame)


def test_store_round_trips_frame_edge_cases(tmp_path: Path) -> None:
    frames = {
        "empty": pd.DataFrame(),
        "no_rows": pd.DataFrame(
            {"a": np.array([], dtype=np.float32), "b": pd.Series([], dtype=str)}
        ),
        "duplicate_labels": pd.DataFrame([[1, 2.5], [3, 4.5]], columns=["x", "x"]),
        "range_index": pd.DataFrame({"v": [1.0, 2.0]}, index=pd.RangeIndex(10, 14, 2, name="step")),
        "float_index": pd.DataFrame({"v": [1, 2]}, index=pd.Index([0.5, np.nan])),
    }
    store = ResultsStore(tmp_path)
    store.put({"case": "edges"}, frames)
    out = store.get({"case": "edges"})
    assert list(out) == list(frames)
    for name, frame in frames.items():
        _assert_frames_identical(out[name], frame)


def test_store_round_trips_json_metadata_in_order(tmp_path: Path) -> None:
    payload = {
        "zeta": {"nested": [1, 2.5, "three", None, True]},
        "alpha": "text",
        "count": 7,
        "ratio": 0.1,
        "scalar": np.float32(0.25),
        "items": [1, 2],
    }
    store = ResultsStore(tmp_path)
    store.put({"case": "json"}, payload)
    out = store.get({"case": "json"})
    assert list(out) == list(payload)
    assert out["zeta"] == payload["zeta"]
    assert (out["alpha"], out["count"], out["ratio"], out["items"]) == ("text", 7, 0.1, [1, 2])
    assert type(out["count"]) is int
    assert out["scalar"] == np.float32(0.25) and out["scalar"].dtype == np.float32


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"objects": np.array([{"a": 1}], dtype=object)}, "objects"),
        ({"meta": {"when": object()}}, r"meta\.when"),
        ({"df": pd.DataFrame({"c": pd.Categorical(["a"])})}, "categorical"),
        ({"series": pd.Series([1.0])}, "to_frame"),
        ({"masked": np.ma.masked_array([1.0], mask=[True])}, "masked"),
    ],
)
def test_store_put_rejects_unsupported_values(tmp_path: Path, payload: dict, message: str) -> None:
    store = ResultsStore(tmp_path / "results")
    with pytest.raises(TypeError, match=message):
        store.put({"case": "bad"}, payload)
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


def test_store_files_hold_no_pickle(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    path = store.put({"case": "pickle"}, {"x": np.arange(3.0), "df": _mixed_frame()})
    with np.load(path, allow_pickle=False) as npz:
        for name in npz.files:
            npz[name]


def test_config_key_ignores_key_order() -> None:
    a = {"profile": "smoke", "seed": 3, "ppo": {"lr": 3e-4, "n_steps": 2048}}
    b = {"ppo": {"n_steps": 2048, "lr": 3e-4}, "seed": 3, "profile": "smoke"}
    assert config_key(a) == config_key(b)
    assert re.fullmatch(r"[0-9a-f]{64}", config_key(a))


def test_config_key_is_sha256_of_documented_canonical_json() -> None:
    canonical = b'{"config":{"profile":"smoke","seed":0},"valint_store_format":1}'
    assert config_key({"seed": 0, "profile": "smoke"}) == hashlib.sha256(canonical).hexdigest()


def test_config_key_changes_with_any_value() -> None:
    base = {"seed": 0, "layouts": ["plus", "x"], "ppo": {"lr": 3e-4}}
    keys = {
        config_key(base),
        config_key({**base, "seed": 1}),
        config_key({**base, "seed": 0.0}),
        config_key({**base, "seed": False}),
        config_key({**base, "layouts": ["x", "plus"]}),
        config_key({**base, "ppo": {"lr": 3.0001e-4}}),
        config_key({**base, "extra": None}),
    }
    assert len(keys) == 7
    assert config_key({**base, "layouts": ("plus", "x")}) == config_key(base)


def test_config_key_includes_store_format_version(monkeypatch: pytest.MonkeyPatch) -> None:
    before = config_key({"seed": 0})
    monkeypatch.setattr(store_module, "STORE_FORMAT_VERSION", 2)
    assert config_key({"seed": 0}) != before


@pytest.mark.parametrize(
    ("config", "name"),
    [
        ({"ppo": {"lr": np.float32(1e-3)}}, r"ppo\.lr"),
        ({"layouts": ["plus", Path("x")]}, r"layouts\[1\]"),
        ({"isr": {"sizes": {3, 4}}}, r"isr\.sizes"),
        ({"ppo": {1: 2}}, r"key 1 in ppo"),
    ],
)
def test_config_key_rejects_bad_type_naming_key(config: dict, name: str) -> None:
    with pytest.raises(TypeError, match=name):
        config_key(config)


def test_store_get_returns_none_when_absent(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "not" / "yet")
    assert store.get({"seed": 0}) is None
    assert {"seed": 0} not in store
    assert list(store.keys()) == []
    path = store.put({"seed": 0}, {"x": np.ones(2)})
    assert path == store.path_for({"seed": 0}) and path.is_file()
    assert {"seed": 0} in store and {"seed": 1} not in store
    assert list(store.keys()) == [config_key({"seed": 0})]


def test_store_sidecar_holds_config_and_provenance(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    config = {"profile": "smoke", "seed": 0}
    store.put(config, {"x": np.ones(3, dtype=np.float32)}, provenance={"git_commit": "abc"})
    sidecar = json.loads(store.sidecar_for(config).read_text())
    assert sidecar["key"] == config_key(config)
    assert sidecar["config"] == config
    assert sidecar["provenance"] == {"git_commit": "abc"}
    assert "float32" in sidecar["payload"]["x"]
    store.sidecar_for(config).unlink()
    assert store.get(config)["x"].tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("broken", [b"{\"key\": ", b"[]", b'{"key": "other"}'],
                         ids=["truncated", "not-an-object", "other-key"])
def test_store_reports_a_broken_sidecar_and_writes_it_again(tmp_path: Path, broken: bytes) -> None:
    store = ResultsStore(tmp_path)
    config = {"profile": "smoke", "seed": 0}
    store.put(config, {"x": np.ones(3, dtype=np.float32)}, provenance={"git_commit": "abc"})
    sidecar = store.sidecar_for(config)
    good = sidecar.read_bytes()
    sidecar.write_bytes(broken)
    with pytest.warns(SidecarRepairedWarning, match=re.escape(str(sidecar))):
        assert store.get(config)["x"].tolist() == [1.0, 1.0, 1.0]
    assert sidecar.read_bytes() == good
    assert store.runs_table([config_key(config)])["git_commit"].tolist() == ["abc"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store.get(config)


def test_store_reads_an_entry_path_that_is_a_folder_as_no_entry(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    config = {"seed": 0}
    folder = store.path_for(config)
    folder.mkdir()
    (folder / "a user's file").write_text("kept")
    with pytest.warns(CorruptEntryWarning, match="is a folder"):
        assert store.get(config) is None
    assert (folder / "a user's file").read_text() == "kept"
    temporary_folder = tmp_path / f".{config_key(config)}.{'0' * 16}.tmp"
    temporary_folder.mkdir()
    assert store.clean_temporaries(min_age_s=0) == [] and temporary_folder.is_dir()


def _flip_byte(path: Path, position: int) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", [0.0, 0.1, 0.5, 0.999, 1.0])
def test_store_get_detects_flipped_byte(tmp_path: Path, where: float) -> None:
    store = ResultsStore(tmp_path)
    config = {"case": "flip"}
    path = store.put(config, {"x": np.arange(1000.0), "df": _mixed_frame()})
    size = path.stat().st_size
    _flip_byte(path, min(int(where * size), size - 1))
    with pytest.warns(CorruptEntryWarning, match=re.escape(str(path))):
        assert store.get(config) is None
    assert not path.exists()
    store.put(config, {"x": np.arange(1000.0)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _assert_arrays_identical(store.get(config)["x"], np.arange(1000.0))


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.99])
def test_store_get_detects_truncated_entry(tmp_path: Path, keep: float) -> None:
    store = ResultsStore(tmp_path)
    config = {"case": "truncate"}
    path = store.put(config, {"x": np.arange(1000.0)})
    data = path.read_bytes()
    path.write_bytes(data[: int(keep * len(data))])
    with pytest.warns(CorruptEntryWarning, match=r"recomputed") as record:
        assert config not in store
    assert path.name in str(record[0].message)
    assert not path.exists()
    store.put(config, {"x": np.arange(3.0)})
    assert store.get(config)["x"].tolist() == [0.0, 1.0, 2.0]


def test_store_get_rejects_entry_under_wrong_name(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    source = store.put({"seed": 0}, {"x": np.zeros(2)})
    target = store.path_for({"seed": 1})
    target.write_bytes(source.read_bytes())
    with pytest.warns(CorruptEntryWarning, match="entry holds key"):
        assert store.get({"seed": 1}) is None
    assert store.get({"seed": 0}) is not None


def test_store_ignores_and_cleans_leftover_temporaries(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    config = {"case": "temp"}
    key = config_key(config)
    leftover = tmp_path / f".{key}.{'0' * 16}.tmp"
    leftover.write_bytes(b"PK\x03\x04 half a zip")
    assert store.get(config) is None
    assert list(store.keys()) == []
    assert store.clean_temporaries() == []
    store.put(config, {"x": np.ones(1)})
    assert store.get(config)["x"].tolist() == [1.0]
    assert store.clean_temporaries(min_age_s=0) == [leftover]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{key}.json", f"{key}.npz"]


def test_store_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(src: object, dst: object) -> None:
        raise OSError("disk full")

    store = ResultsStore(tmp_path)
    monkeypatch.setattr(store_module.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        store.put({"case": "fail"}, {"x": np.ones(3)})
    assert list(tmp_path.iterdir()) == []


def test_store_concurrent_writers_of_same_key_are_harmless(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    config = {"case": "race"}
    payload = {"x": np.arange(50_000, dtype=np.float64), "df": _mixed_frame()}
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(3):
                store.put(config, payload)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    out = store.get(config)
    _assert_arrays_identical(out["x"], payload["x"])
    _assert_frames_identical(out["df"], payload["df"])
    assert len(list(tmp_path.iterdir())) == 2


def _sweep_payload(i: int) -> dict:
    """Results of sweep run ``i``: large enough (2 MB) that a kill often lands mid-write."""
    values = np.arange(250_000, dtype=np.float64) * (i + 1) / 3
    frame = pd.DataFrame({"seed": np.full(100, i), "ood_reward": np.linspace(-1.0, 1.0, 100) * i})
    return {"values": values, "ood": frame, "run": i}


_SWEEP_RUNS = 60
_SWEEP_SCRIPT = """
import sys
import numpy as np
import pandas as pd
from valint.store import ResultsStore

{payload_source}

if sys.argv[2:] == ["block-in-fsync"]:
    import os
    import time

    def _blocking_fsync(fd):
        print("in-write", flush=True)
        time.sleep(600)

    os.fsync = _blocking_fsync

store = ResultsStore(sys.argv[1])
print("ready", flush=True)
for i in range({runs}):
    if store.get({{"run": i}}) is None:
        store.put({{"run": i}}, _sweep_payload(i))
"""


def _check_store_after_kill(store: ResultsStore) -> int:
    """Every entry on disk reads back exactly; return the number of leftover temporaries."""
    names = [p.name for p in store.root.iterdir()]
    temporaries = [n for n in names if TEMPORARY.match(n)]
    assert all(ENTRY_OR_SIDECAR.match(n) or TEMPORARY.match(n) for n in names), names
    on_disk = set(store.keys())
    assert on_disk == {n[:-4] for n in names if n.endswith(".npz")}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(_SWEEP_RUNS):
            config = {"run": i}
            out = store.get(config)
            assert (out is not None) == (config_key(config) in on_disk)
            if out is not None:
                expected = _sweep_payload(i)
                _assert_arrays_identical(out["values"], expected["values"])
                _assert_frames_identical(out["ood"], expected["ood"])
                assert out["run"] == i
    return len(temporaries)


def _start_sweep(root: Path, *args: str) -> subprocess.Popen:
    """Start the sweep script on ``root`` in a fresh interpreter; it prints "ready" first."""
    script = _SWEEP_SCRIPT.format(
        payload_source=textwrap.dedent(inspect.getsource(_sweep_payload)), runs=_SWEEP_RUNS
    )
    path = os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])
    return subprocess.Popen(
        [sys.executable, "-c", script, str(root), *args],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": path},
        text=True,
    )


def _kill(process: subprocess.Popen) -> None:
    """SIGKILL a running sweep and reap it."""
    assert process.poll() is None, "the sweep finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


def test_store_survives_sigkill_at_random_points(tmp_path: Path) -> None:
    """Kill a sweep at random moments, resume it, and never read a half-written entry.

    Leftover temporary files are ignored by reads and removed by ``clean_temporaries``.
    """
    store = ResultsStore(tmp_path / "results")
    rng = random.Random(20240601)
    for _ in range(4):
        process = _start_sweep(store.root)
        try:
            assert process.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.05, 0.4))
            _kill(process)
        finally:
            process.kill()
            process.wait()
            process.stdout.close()
        _check_store_after_kill(store)
    done = set(store.keys())
    assert 0 < len(done) < _SWEEP_RUNS

    process = _start_sweep(store.root, "block-in-fsync")
    try:
        assert process.stdout.readline().strip() == "ready"
        assert process.stdout.readline().strip() == "in-write"
        _kill(process)
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
    assert _check_store_after_kill(store) >= 1
    assert set(store.keys()) == done

    process = _start_sweep(store.root)
    assert process.wait(timeout=60) == 0
    process.stdout.close()
    _check_store_after_kill(store)
    assert len(list(store.keys())) == _SWEEP_RUNS
    store.clean_temporaries(min_age_s=0)
    assert not any(TEMPORARY.match(p.name) for p in store.root.iterdir())
    store.put({"run": "after"}, {"x": np.ones(2)})
    assert store.get({"run": "after"})["x"].tolist() == [1.0, 1.0]
