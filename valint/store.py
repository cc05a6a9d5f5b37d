"""Content-addressed results store: one file per run, written atomically, verified on read.

Every run of the protocol (PAPER.md §6) is cached under a key derived from its full
configuration. Re-executing a notebook with the same parameters then reads its results back
instead of training again, and an interrupted sweep resumes where it stopped: a run killed at
any point, even by SIGKILL, leaves either a complete entry or none.

File format (store format version 1). An entry for the key ``<key>`` (64 hex digits) is

* ``<key>.npz``: an uncompressed zip archive, readable by :func:`numpy.load`, holding
  ``manifest.json`` (format version, key, config, provenance and how to rebuild each payload
  item) and one ``.npy`` member per numeric array (written with ``allow_pickle=False``). The
  archive comment is ``valint-sha256:<digest>``, the sha256 of the whole file with the digest
  replaced by 64 ``0`` characters, so a flipped or missing byte anywhere in the file is found.
* ``<key>.json``: a human-readable sidecar with the key, the config, the provenance and one
  line per payload item. It is not needed to read the entry back and is written after the
  entry, so a run killed between the two writes may leave an entry without its sidecar. Every
  read of a valid entry checks its sidecar and writes it again from the entry when it is
  missing, unparseable or names another key or config (a broken one is reported with a
  :class:`SidecarRepairedWarning`).

Both files are first written to a hidden temporary file ``.<key>.<random>.tmp`` in the store
directory, flushed and fsync'ed, then moved into place with :func:`os.replace`. A temporary file
left behind by a killed writer never matches an entry name, so reads ignore it; it is removed
only by :meth:`ResultsStore.clean_temporaries` (which the command line calls before it trains,
for files older than a few minutes), because a temporary file may belong to a writer that is
still running. A path named like an entry that is not a file (a folder) is reported and read
as no entry; it is never removed. Nothing is ever unpickled, so a cache file cannot execute code.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import time
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

STORE_FORMAT_VERSION = 1
"""Version of the on-disk format; part of every key, so a new format never reads an old entry."""

_DIGEST_PREFIX = b"valint-sha256:"
_DIGEST_PLACEHOLDER = _DIGEST_PREFIX + b"0" * 64
_MANIFEST = "manifest.json"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_ENTRY_NAME = re.compile(r"^([0-9a-f]{64})\.npz$")
_TEMP_NAME = re.compile(r"^\.[0-9a-f]{64}\.[0-9a-f]{16}\.tmp$")
_NUMPY_KINDS = "biufcmM"
_MASKED_ARRAYS = (pd.arrays.IntegerArray, pd.arrays.FloatingArray, pd.arrays.BooleanArray)

Payload = Mapping[str, Any]


class CorruptEntryWarning(RuntimeWarning):
    """An entry failed its checksum or could not be parsed; it is removed and recomputed."""


class SidecarRepairedWarning(RuntimeWarning):
    """An entry's JSON sidecar was unreadable or did not match the entry; it is written again."""


class _CorruptEntry(Exception):
    """Internal signal: the entry being read is not a valid store entry."""


def _check_jsonable(value: Any, where: str) -> None:
    """Raise TypeError unless ``value`` is nested dicts/lists/tuples of JSON scalars.

    Args:
        value: The value to check.
        where: Dotted path of ``value`` inside its container, used in the error message.

    Raises:
        TypeError: Naming the offending key when a value or a dict key has another type.
    """
    if value is None or isinstance(value, (str, bool, int, float)):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"key {key!r} in {where or 'the top level'} must be a str, "
                    f"got {type(key).__name__}"
                )
            _check_jsonable(item, f"{where}.{key}" if where else key)
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_jsonable(item, f"{where}[{i}]")
        return
    raise TypeError(
        f"{where or 'value'!s} has unsupported type {type(value).__name__}; allowed are "
        "dict, list, tuple, str, int, float, bool and None"
    )


def _canonical_json(value: Any) -> str:
    """Serialize an already checked value deterministically (sorted keys, no spaces)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def config_key(config: Mapping[str, Any]) -> str:
    """Return the stable key of a run configuration.

    The key is the sha256 of the canonical JSON (sorted keys, no whitespace) of
    ``{"config": config, "valint_store_format": STORE_FORMAT_VERSION}``. Key order does not
    matter; tuples hash like lists; ``1``, ``1.0`` and ``True`` give different keys.

    Args:
        config: The full configuration of one run (PAPER.md §6): nested dicts with str keys,
            lists, tuples, str, int, float, bool and None.

    Returns:
        64 lowercase hex digits.

    Raises:
        TypeError: If ``config`` is not a mapping, or a key or value has another type; the
            message names the offending key as a dotted path.
    """
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping, got {type(config).__name__}")
    _check_jsonable(config, "")
    material = {"config": config, "valint_store_format": STORE_FORMAT_VERSION}
    return hashlib.sha256(_canonical_json(material).encode("ascii")).hexdigest()


def _json_dtype(dtype: Any) -> dict[str, Any]:
    """Describe a column dtype so that :func:`_dtype_from_json` rebuilds it exactly."""
    if isinstance(dtype, np.dtype):
        return {"numpy": dtype.str}
    if isinstance(dtype, pd.StringDtype):
        na = "nan" if dtype.na_value is np.nan else "NA"
        return {"string": dtype.storage, "na": na}
    return {"pandas": str(dtype)}


def _dtype_from_json(spec: Mapping[str, Any]) -> Any:
    """Inverse of :func:`_json_dtype`."""
    if "numpy" in spec:
        return np.dtype(spec["numpy"])
    if "string" in spec:
        na_value = np.nan if spec["na"] == "nan" else pd.NA
        return pd.StringDtype(storage=spec["string"], na_value=na_value)
    return pd.api.types.pandas_dtype(spec["pandas"])


class _Writer:
    """Collects the members of one entry and names its arrays ``a<n>.npy``."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def add_array(self, array: np.ndarray, where: str) -> str:
        """Queue ``array`` as a ``.npy`` member and return the member name."""
        if array.dtype.hasobject:
            raise TypeError(f"{where}: arrays of dtype object cannot be stored without pickle")
        if isinstance(array, np.ma.MaskedArray):
            raise TypeError(f"{where}: masked arrays are not supported; store data and mask")
        member = f"a{len(self.arrays)}.npy"
        self.arrays[member] = np.asarray(array)
        return member


def _encode_values(values: pd.Series | pd.Index, writer: _Writer, where: str) -> dict[str, Any]:
    """Encode one column (or index) losslessly.

    Numpy dtypes are stored bit-exactly as ``.npy``; pandas string columns as a JSON list with
    ``null`` for missing values; object columns of str, int, float, bool and None as a JSON list
    (which keeps None and NaN apart); nullable integer, float and boolean columns as data plus a
    mask.
    """
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        raise TypeError(f"{where}: categorical columns are not supported; use .astype(str)")
    if isinstance(dtype, np.dtype) and dtype.kind in _NUMPY_KINDS:
        array = values.to_numpy(copy=True)
        return {"dtype": _json_dtype(dtype), "npy": writer.add_array(array, where)}
    if isinstance(dtype, pd.StringDtype):
        items = [item if isinstance(item, str) else None for item in values]
        return {"dtype": _json_dtype(dtype), "strings": items}
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        items = []
        for item in values:
            if not (item is None or isinstance(item, (str, bool, int, float))):
                raise TypeError(
                    f"{where}: object column holds {type(item).__name__} {item!r}; only str, "
                    "int, float, bool and None are supported"
                )
            items.append(float(item) if isinstance(item, float) else item)
        return {"dtype": _json_dtype(dtype), "objects": items}
    if isinstance(values.array, _MASKED_ARRAYS):
        masked = values.array
        fill = False if dtype.numpy_dtype.kind == "b" else 0
        data = masked.to_numpy(dtype=dtype.numpy_dtype, na_value=fill)
        mask = np.asarray(masked.isna(), dtype=bool)
        return {
            "dtype": _json_dtype(dtype),
            "npy": writer.add_array(data, where),
            "mask": writer.add_array(mask, where),
        }
    raise TypeError(f"{where}: columns of dtype {dtype} are not supported")


def _decode_values(spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Any:
    """Rebuild the array-like that :func:`_encode_values` described."""
    dtype = _dtype_from_json(spec["dtype"])
    if "strings" in spec:
        return pd.array(spec["strings"], dtype=dtype)
    if "objects" in spec:
        out = np.empty(len(spec["objects"]), dtype=object)
        out[:] = spec["objects"]
        return out
    data = arrays[spec["npy"]]
    if "mask" in spec:
        array_type = {"b": pd.arrays.BooleanArray, "f": pd.arrays.FloatingArray}.get(
            dtype.numpy_dtype.kind, pd.arrays.IntegerArray
        )
        return array_type(data, arrays[spec["mask"]])
    if data.dtype != dtype:
        raise _CorruptEntry(f"array {spec['npy']} has dtype {data.dtype}, manifest says {dtype}")
    return data


def _encode_index(index: pd.Index, writer: _Writer, where: str) -> dict[str, Any]:
    """Encode a frame's row or column index (a RangeIndex compactly, others as values)."""
    if isinstance(index, pd.MultiIndex):
        raise TypeError(f"{where}: MultiIndex is not supported; reset_index() first")
    _check_jsonable(index.name, f"{where}.name")
    if isinstance(index, pd.RangeIndex):
        return {"range": [index.start, index.stop, index.step], "name": index.name}
    return {"values": _encode_values(index, writer, where), "name": index.name}


def _decode_index(spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> pd.Index:
    """Inverse of :func:`_encode_index`."""
    if "range" in spec:
        return pd.RangeIndex(*spec["range"], name=spec["name"])
    values = _decode_values(spec["values"], arrays)
    return pd.Index(values, dtype=_dtype_from_json(spec["values"]["dtype"]), name=spec["name"])


def _encode_item(value: Any, writer: _Writer, where: str) -> dict[str, Any]:
    """Describe one payload value; arrays go to ``writer``, the rest into the manifest."""
    if isinstance(value, pd.DataFrame):
        columns = [
            _encode_values(value.iloc[:, i], writer, f"{where}[column {label!r}]")
            for i, label in enumerate(value.columns)
        ]
        return {
            "kind": "frame",
            "columns": columns,
            "column_index": _encode_index(value.columns, writer, f"{where}.columns"),
            "index": _encode_index(value.index, writer, f"{where}.index"),
        }
    if isinstance(value, np.ndarray):
        return {"kind": "array", "npy": writer.add_array(value, where)}
    if isinstance(value, np.generic):
        return {"kind": "scalar", "npy": writer.add_array(np.asarray(value), where)}
    if isinstance(value, pd.Series):
        raise TypeError(f"{where}: store a Series as a DataFrame (series.to_frame())")
    _check_jsonable(value, where)
    return {"kind": "json", "value": value}


def _decode_item(spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Any:
    """Inverse of :func:`_encode_item`."""
    kind = spec["kind"]
    if kind == "array":
        return arrays[spec["npy"]]
    if kind == "scalar":
        return arrays[spec["npy"]][()]
    if kind == "json":
        return spec["value"]
    if kind == "frame":
        index = _decode_index(spec["index"], arrays)
        columns = _decode_index(spec["column_index"], arrays)
        # Explicit Series dtypes stop pandas from inferring `str` for object columns of str.
        data = {
            i: pd.Series(
                _decode_values(column, arrays),
                index=index,
                dtype=_dtype_from_json(column["dtype"]),
                copy=False,
            )
            for i, column in enumerate(spec["columns"])
        }
        frame = pd.DataFrame(data, index=index, copy=False)
        frame.columns = columns
        return frame
    raise _CorruptEntry(f"unknown item kind {kind!r}")


def _describe(value: Any) -> str:
    """One line on a payload value for the human-readable sidecar."""
    if isinstance(value, pd.DataFrame):
        return f"DataFrame with {len(value)} rows and columns {[str(c) for c in value.columns]}"
    if isinstance(value, (np.ndarray, np.generic)):
        return f"{value.dtype} array of shape {tuple(value.shape)}"
    return f"JSON {type(value).__name__}"


def _npy_bytes(array: np.ndarray) -> bytes:
    """Serialize an array to the ``.npy`` format without pickle."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _pack(manifest: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> bytes:
    """Build the bytes of one entry: the zip archive with its whole-file sha256 comment."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        members = {_MANIFEST: json.dumps(manifest, separators=(",", ":")).encode("utf-8")}
        members.update((name, _npy_bytes(array)) for name, array in arrays.items())
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=_ZIP_DATE), data)
        zf.comment = _DIGEST_PLACEHOLDER
    body = buffer.getvalue()
    assert body.endswith(_DIGEST_PLACEHOLDER), "the zip comment must be the last bytes"
    digest = hashlib.sha256(body).hexdigest().encode("ascii")
    return body[: -len(_DIGEST_PLACEHOLDER)] + _DIGEST_PREFIX + digest


def _unpack(data: bytes, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify the checksum of an entry and decode it.

    Returns:
        The payload (in its original order) and the manifest.

    Raises:
        _CorruptEntry: If the file fails its checksum or cannot be parsed.
    """
    n = len(_DIGEST_PLACEHOLDER)
    stored = data[-n:]
    if len(data) < n or not stored.startswith(_DIGEST_PREFIX):
        raise _CorruptEntry("checksum trailer missing (truncated file?)")
    actual = hashlib.sha256(data[:-n] + _DIGEST_PLACEHOLDER).hexdigest().encode("ascii")
    if stored[len(_DIGEST_PREFIX) :] != actual:
        raise _CorruptEntry("sha256 checksum mismatch")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            manifest = json.loads(zf.read(_MANIFEST))
            if manifest.get("format_version") != STORE_FORMAT_VERSION:
                raise _CorruptEntry(f"format version {manifest.get('format_version')!r}")
            if manifest.get("key") != key:
                raise _CorruptEntry(f"entry holds key {manifest.get('key')!r}")
            arrays = {
                name: np.lib.format.read_array(io.BytesIO(zf.read(name)), allow_pickle=False)
                for name in zf.namelist()
                if name != _MANIFEST
            }
        payload = {name: _decode_item(spec, arrays) for name, spec in manifest["items"]}
    except _CorruptEntry:
        raise
    except (zipfile.BadZipFile, ValueError, KeyError, TypeError, OSError) as err:
        raise _CorruptEntry(f"{type(err).__name__}: {err}") from err
    return payload, manifest


def _sidecar_bytes(key: str, config: Any, provenance: Any, payload: Payload) -> bytes:
    """The bytes of an entry's human-readable JSON sidecar (module docstring)."""
    sidecar = {
        "key": key,
        "config": config,
        "provenance": provenance,
        "payload": {name: _describe(value) for name, value in payload.items()},
    }
    return (json.dumps(sidecar, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _sidecar_problem(path: Path, manifest: Mapping[str, Any]) -> str | None:
    """What is wrong with the sidecar at ``path`` of the entry described by ``manifest``:
    None when it parses and names the entry's key, config and provenance; "missing" when there
    is none; otherwise the reason."""
    try:
        sidecar = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError) as err:
        return f"unreadable ({type(err).__name__}: {err})"
    if not isinstance(sidecar, dict):
        return "not a JSON object"
    for field in ("key", "config", "provenance"):
        if _canonical_json(sidecar.get(field)) != _canonical_json(manifest.get(field)):
            return f"its {field} differs from the entry's"
    return None


def _fsync_dir(directory: Path) -> None:
    """Make a completed rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes, key: str) -> None:
    """Write ``data`` to ``path`` so that readers see the old file, or the new one, in full.

    The bytes go to a uniquely named temporary file in the same directory, are flushed and
    fsync'ed, and the file is then moved into place with :func:`os.replace`.
    """
    temp = path.parent / f".{key}.{secrets.token_hex(8)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


class ResultsStore:
    """A directory of results, one immutable entry per run configuration.

    Typical use, which makes a re-run instant and resumes an interrupted sweep::

        store = ResultsStore("results")
        result = store.get(config)
        if result is None:
            result = run(config)
            store.put(config, result, provenance=provenance(profile="smoke"))

    Writing the same key twice (for example from two processes at once) is harmless: both
    writes complete and the last :func:`os.replace` wins. Runs are deterministic given their
    config (PAPER.md §6), so both writers hold the same results.

    Args:
        root: The store directory; created on the first :meth:`put`.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.used: list[str] = []
        """Keys of the entries read or written through this object, in order of use."""

    def _note(self, key: str) -> None:
        self.used.append(key)

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.root)!r})"

    def path_for(self, config: Mapping[str, Any]) -> Path:
        """Return the path of the entry for ``config`` (which need not exist)."""
        return self.root / f"{config_key(config)}.npz"

    def sidecar_for(self, config: Mapping[str, Any]) -> Path:
        """Return the path of the human-readable JSON sidecar of ``config``'s entry."""
        return self.root / f"{config_key(config)}.json"

    def keys(self) -> Iterator[str]:
        """Yield the keys of the entries on disk, sorted; temporary files are never listed.

        The entries are not verified here; :meth:`get` does that.
        """
        if not self.root.is_dir():
            return
        names = sorted(p.name for p in self.root.iterdir())
        for name in names:
            match = _ENTRY_NAME.match(name)
            if match:
                yield match.group(1)

    def __contains__(self, config: object) -> bool:
        """Whether a valid entry exists for ``config``; same as ``get(config) is not None``.

        A corrupt entry is reported, removed and counted as absent, as in :meth:`get`.
        """
        if not isinstance(config, Mapping):
            return False
        return self.get(config) is not None

    def get(self, config: Mapping[str, Any]) -> dict[str, Any] | None:
        """Read the results of ``config``, verifying their checksum.

        Args:
            config: The run configuration, as given to :meth:`put`.

        Returns:
            The payload as put, in the same order, or None when there is no entry. Arrays and
            DataFrames come back with the same dtypes and bits; JSON values come back as JSON
            parses them (tuples become lists).

        Warns:
            CorruptEntryWarning: If the entry fails its checksum or cannot be parsed; the
                message names the file. The entry is removed and None is returned, so the
                caller recomputes it.
        """
        key = config_key(config)
        path = self.root / f"{key}.npz"
        try:
            with open(path, "rb") as handle:
                data = handle.read()
                identity = os.fstat(handle.fileno())
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            warnings.warn(
                f"results store entry {path} is a folder, not a file; it is read as no entry "
                "(and kept: remove it to let the run be stored)",
                CorruptEntryWarning,
                stacklevel=2,
            )
            return None
        try:
            payload, manifest = _unpack(data, key)
        except _CorruptEntry as err:
            warnings.warn(
                f"results store entry {path} is corrupt ({err}); it has been removed and will "
                "be recomputed",
                CorruptEntryWarning,
                stacklevel=2,
            )
            self._remove_if_same(path, identity)
            return None
        self._repair_sidecar(key, manifest, payload)
        self._note(key)
        return payload

    def _repair_sidecar(self, key: str, manifest: Mapping[str, Any], payload: Payload) -> None:
        """Write the sidecar of a valid entry again when it is missing or broken; a broken one
        is reported. A sidecar that cannot be written is reported and left as it is."""
        sidecar = self.root / f"{key}.json"
        problem = _sidecar_problem(sidecar, manifest)
        if problem is None:
            return
        if problem != "missing":
            warnings.warn(
                f"results store sidecar {sidecar} is {problem}; it is written again from its entry",
                SidecarRepairedWarning,
                stacklevel=3,
            )
        data = _sidecar_bytes(key, manifest.get("config"), manifest.get("provenance"), payload)
        try:
            _write_atomic(sidecar, data, key)
        except OSError as err:
            warnings.warn(f"results store sidecar {sidecar} could not be written again ({err})",
                          SidecarRepairedWarning, stacklevel=3)

    @staticmethod
    def _remove_if_same(path: Path, identity: os.stat_result) -> None:
        """Remove ``path`` unless a concurrent writer has already replaced it with a new file."""
        try:
            current = os.stat(path)
        except FileNotFoundError:
            return
        if (current.st_ino, current.st_dev) == (identity.st_ino, identity.st_dev):
            path.unlink(missing_ok=True)

    def put(
        self,
        config: Mapping[str, Any],
        payload: Payload,
        *,
        provenance: Mapping[str, Any] | None = None,
    ) -> Path:
        """Write the results of ``config`` atomically, with a JSON sidecar.

        Args:
            config: The full run configuration (see :func:`config_key`).
            payload: Named results. Values may be numpy arrays (any numeric, bool, datetime or
                fixed-width string dtype, any shape), numpy scalars, pandas DataFrames (numeric,
                bool, datetime, string or str-object columns, nullable Int/Float/boolean;
                not categorical, not MultiIndex; ``attrs`` are not kept) and JSON values
                (dict with str keys, list, tuple, str, int, float, bool, None).
            provenance: JSON metadata on how the results were made, e.g.
                :func:`valint.provenance.provenance`; kept in the entry and the sidecar.

        Returns:
            The path of the entry.

        Raises:
            TypeError: If the config, a payload value or the provenance has an unsupported
                type; the message names the offending key. Nothing is written then.
        """
        key = config_key(config)
        if not isinstance(payload, Mapping):
            raise TypeError(f"payload must be a mapping, got {type(payload).__name__}")
        provenance = {} if provenance is None else dict(provenance)
        _check_jsonable(provenance, "provenance")
        writer = _Writer()
        items = []
        for name, value in payload.items():
            if not isinstance(name, str):
                raise TypeError(f"payload key {name!r} must be a str, got {type(name).__name__}")
            items.append([name, _encode_item(value, writer, name)])
        manifest = {
            "format": "valint-results",
            "format_version": STORE_FORMAT_VERSION,
            "key": key,
            "config": config,
            "provenance": provenance,
            "items": items,
        }
        entry = _pack(manifest, writer.arrays)
        sidecar_bytes = _sidecar_bytes(key, config, provenance, payload)
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"{key}.npz"
        _write_atomic(path, entry, key)
        _write_atomic(self.root / f"{key}.json", sidecar_bytes, key)
        self._note(key)
        return path

    def runs_table(self, keys: Iterable[str]) -> pd.DataFrame:
        """Who made each of these entries: one row per distinct key, from its JSON sidecar.

        The provenance stored with each run (issue 11: a page shows the runs behind its numbers,
        not only the build that showed them). A missing or unreadable sidecar gives a row of
        "not recorded".

        Returns:
            Columns ``key`` (12 hex digits), ``kind`` (phase1, isr, phase2), ``seed``,
            ``condition``, ``science_code``, ``git_commit``, ``timestamp_utc``, ``device``,
            ``wall_time_s`` (of the batch the run was trained in), ``batch_runs``.
        """
        rows = []
        for key in dict.fromkeys(keys):
            try:
                sidecar = json.loads((self.root / f"{key}.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                sidecar = {}
            config = sidecar.get("config", {})
            prov = sidecar.get("provenance", {})
            run = config.get("run", {})
            phase1 = config.get("phase1", config)
            rows.append(
                {
                    "key": key[:12],
                    "kind": config.get("kind", "not recorded"),
                    "seed": run.get("seed", phase1.get("seed")),
                    "condition": run.get("condition", "oracle" if config.get("kind") == "phase1" else ""),
                    **{
                        name: prov.get(name, "not recorded")
                        for name in ("science_code", "git_commit", "timestamp_utc", "device",
                                     "wall_time_s", "batch_runs")
                    },
                }
            )
        return pd.DataFrame(
            rows,
            columns=["key", "kind", "seed", "condition", "science_code", "git_commit",
                     "timestamp_utc", "device", "wall_time_s", "batch_runs"],
        )

    def clean_temporaries(self, *, min_age_s: float = 3600.0) -> list[Path]:
        """Remove temporary files left behind by killed writers.

        Reads ignore temporary files, so this only frees disk space. A temporary file younger
        than ``min_age_s`` may belong to a writer that is still running and is kept; only plain
        files named as this store names its temporary files (``.<key>.<16 hex>.tmp``) are
        ever removed.

        Args:
            min_age_s: Minimum age in seconds (by modification time) of a file to remove.

        Returns:
            The removed paths.
        """
        if not self.root.is_dir():
            return []
        removed = []
        now = time.time()
        for path in self.root.iterdir():
            if not _TEMP_NAME.match(path.name) or path.is_symlink() or not path.is_file():
                continue
            try:
                if now - path.stat().st_mtime >= min_age_s:
                    path.unlink()
                    removed.append(path)
            except FileNotFoundError:
                continue
        return removed
