"""Paper-scale records: what ``python -m valint record`` wrote, merged for the book (issue 16).

A figure at the paper's protocol (PAPER.md §6) takes hours, longer than one working session, so
its record is made of **parts**: each part is one complete ``run`` of the paper profile over a
group of seeds (and, for Fig. 5, one layout), written by the command line into its own folder::

    records/paper/<figure>/<part>/   e.g. records/paper/fig4/seeds-0-9/
        <table>.csv ...              the figure's tidy per-seed tables (docs/CONTRACTS.md)
        claims.csv, claims.json      the claims ledger of that part
        provenance.json              commit, science-code hash, versions, device, CPU, wall
                                     time and peak memory of the run
        runs.csv                     every run behind the tables, with its stored provenance
        manifest.json                size and sha256 of every other file of the part

Nothing in a record is edited by hand, and no model weights are kept. A chapter merges the parts
it finds (:func:`load_record`), recomputes the verdicts from the merged per-seed tables in an
executed cell, and says which seeds or layouts are still missing; :func:`check_record`
verifies each part's files against its manifest and recomputes its verdicts from its own tables.

The writer (:func:`write_outputs`, for ``run --out`` as for a part) never deletes what it did
not write: it writes a new folder, or replaces one that holds exactly the files of an earlier
output of the same figure (:func:`replaceable_files`), and nothing else.
"""
from __future__ import annotations

import hashlib
import json
import os
import resource
import secrets
import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from valint.claims import absent_combinations
from valint.config import PAPER, check_choice
from valint.figures import FIGURE_NAMES, figure_claims, spec_of
from valint.provenance import provenance, same_science_codes

RECORDS_ROOT = Path(__file__).resolve().parent.parent / "records" / "paper"
"""Where the committed records live: ``records/paper/`` in the repository."""

RESULT_FILES = ("claims.csv", "claims.json", "provenance.json")
"""Files of a part besides its tables."""

RUNS_FILE = "runs.csv"
"""The runs behind a part's tables, each with the provenance stored when it was trained
(``ResultsStore.runs_table``); parts written before it existed lack it."""

MANIFEST_FILE = "manifest.json"
"""The list of every other file of an output folder, with its size and sha256."""

MANIFEST_FORMAT = "valint-output-manifest"
"""The ``format`` field of a manifest (version 1: ``files`` maps a name to ``size``, ``sha256``)."""


def file_entry(path: Path) -> dict[str, Any]:
    """A file's line in a manifest: its size in bytes and the sha256 of its bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"size": Path(path).stat().st_size, "sha256": digest.hexdigest()}


def manifest_of(folder: Path) -> dict[str, Any]:
    """The manifest of a folder's files as they are now (every plain file but the manifest).

    Raises:
        ValueError: the folder holds something that is not a plain file (a folder, a link).
    """
    files = {}
    for path in sorted(Path(folder).iterdir()):
        if path.name == MANIFEST_FILE:
            continue
        if path.is_symlink() or not path.is_file():
            raise ValueError(f"{path} is not a plain file")
        files[path.name] = file_entry(path)
    return {"format": MANIFEST_FORMAT, "version": 1, "files": files}


def write_manifest(folder: Path) -> Path:
    """Write ``manifest.json`` of a folder from its current files (atomically)."""
    folder = Path(folder)
    data = json.dumps(manifest_of(folder), indent=2, sort_keys=True) + "\n"
    temporary = folder / f".{MANIFEST_FILE}.{secrets.token_hex(8)}.tmp"
    try:
        temporary.write_text(data, encoding="utf-8")
        os.replace(temporary, folder / MANIFEST_FILE)
    finally:
        temporary.unlink(missing_ok=True)
    return folder / MANIFEST_FILE


def read_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """The files a folder's manifest lists: name -> {size, sha256}.

    Raises:
        FileNotFoundError: the folder has no manifest.
        ValueError: the manifest is not one (unparseable, or another format).
    """
    manifest = json.loads((Path(folder) / MANIFEST_FILE).read_text(encoding="utf-8"))
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or manifest.get("format") != MANIFEST_FORMAT or not all(
            isinstance(v, dict) and set(v) == {"size", "sha256"} for v in files.values()):
        raise ValueError(f"{MANIFEST_FILE} is not a {MANIFEST_FORMAT}")
    return files


def legacy_files(figure: str) -> frozenset[str]:
    """The files the writer wrote before outputs carried a manifest: the figure's tables as CSV
    (``FigureSpec.tables``), the ledger, the provenance and the runs."""
    tables = {f"{name}.csv" for name in spec_of(figure).tables}
    return frozenset(tables | set(RESULT_FILES) | {RUNS_FILE})


def replaceable_files(folder: Path, figure: str) -> list[str]:
    """The files of an existing output folder that the writer may remove to replace it.

    A folder may be replaced only when everything in it is a plain file an earlier output of
    ``figure`` wrote: the files its manifest lists, unchanged, and the manifest; or, for a folder
    written before manifests (no ``manifest.json``), a ``provenance.json`` naming ``figure`` and
    nothing but :func:`legacy_files`. An empty folder holds nothing to lose.

    Returns:
        The names of the folder's files (all of them), to remove one by one.

    Raises:
        ValueError: the folder may not be replaced; the message says why, naming a file.
    """
    folder = Path(folder)
    entries = sorted(folder.iterdir())
    odd = [p.name for p in entries if p.is_symlink() or not p.is_file()]
    if odd:
        raise ValueError(f"holds {odd[0]!r}, which is not a file valint writes")
    names = {p.name for p in entries}
    if not names:
        return []
    if MANIFEST_FILE in names:
        try:
            listed = read_manifest(folder)
        except (OSError, ValueError) as err:
            raise ValueError(f"holds a {MANIFEST_FILE} that cannot be read ({err})") from None
        extra = sorted(names - set(listed) - {MANIFEST_FILE})
        if extra:
            raise ValueError(f"holds {extra[0]!r}, which valint did not write")
        for name in sorted(names & set(listed)):
            if file_entry(folder / name) != listed[name]:
                raise ValueError(f"holds {name!r}, changed since valint wrote it")
        return sorted(names)
    extra = sorted(names - legacy_files(figure))
    if extra:
        raise ValueError(f"holds {extra[0]!r}, which valint did not write")
    try:
        written_for = json.loads((folder / "provenance.json").read_text(encoding="utf-8")).get("figure")
    except (OSError, ValueError, AttributeError):
        written_for = None
    if written_for != figure:
        raise ValueError(f"holds files that no output of {figure} with a provenance.json explains")
    return sorted(names)


def check_output_folder(out: Path, figure: str, *, name: str = "--out",
                        store: Path | None = None) -> Path:
    """Refuse, before any work, an output folder the writer could not fill without deleting
    what it did not write (:func:`replaceable_files`): also the working directory or a folder
    above it, a link, and a folder that holds the results store (which a replacement would
    delete) or would hold it once made.

    Args:
        out: the output folder.
        figure: the figure whose output it is to receive.
        name: the parameter, as the message should name it.
        store: the results store's folder, if it may not lie inside ``out``.

    Raises:
        ValueError: one line naming ``name``.
    """
    from valint.paths import check_folder, is_within

    out = check_folder(name, out)
    shown = str(out)
    if is_within(Path.cwd(), out):
        raise ValueError(f"{name}={shown!r} is the working directory or holds it; name a new folder")
    if store is not None and is_within(store, out):
        raise ValueError(f"{name}={shown!r} holds the results store {str(store)!r}, which replacing "
                         "the output would delete; put them apart")
    if out.is_symlink():
        raise ValueError(f"{name}={shown!r} is a link; name a folder")
    if out.is_dir():
        try:
            replaceable_files(out, figure)
        except ValueError as err:
            raise ValueError(f"{name}={shown!r} {err}; name a new folder or empty this one") from None
    return out


def write_outputs(result: Any, out: Path) -> Path:
    """Write a ``FigureResult`` as the command line does: tables, ledger, provenance, manifest.

    The folder is assembled beside ``out`` and renamed into place, so a part is never
    half-written: either the whole folder is there or none of it. An existing ``out`` is only
    replaced when :func:`replaceable_files` allows it, and then only its own files are removed.

    Args:
        result: what ``valint.figures.run_figure`` returned.
        out: the folder to write.

    Returns:
        ``out``.

    Raises:
        ValueError: ``out`` exists and holds something the writer did not write (nothing is
            written then).
        OSError: the system refused a write (a full disk); ``out`` is then as it was.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file, not a folder")
    if out.is_dir():
        replaceable_files(out, result.figure)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, table in result.tables.items():
            table.to_csv(work / f"{name}.csv", index=False)
        result.claims.to_csv(work / "claims.csv", index=False)
        runs = getattr(result, "runs", None)
        if runs is not None:
            runs.to_csv(work / RUNS_FILE, index=False)
        (work / "claims.json").write_text(
            json.dumps(result.claims.to_dict(orient="records"), indent=2) + "\n")
        prov = provenance(profile=result.profile.name, science_code=spec_of(result.figure).science_code,
                          wall_time_s=result.wall_time_s)
        prov |= {
            "figure": result.figure,
            "seeds": list(result.seeds),
            "params": result.params,
            "peak_memory_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
        (work / "provenance.json").write_text(json.dumps(prov, indent=2, default=str) + "\n")
        write_manifest(work)
        _move_into_place(work, out, result.figure)
    finally:
        if work.exists():
            shutil.rmtree(work)
    return out


def _move_into_place(work: Path, out: Path, figure: str) -> None:
    """Rename the finished folder ``work`` to ``out``. An existing ``out`` is moved aside first
    and, once ``work`` is in place, emptied file by file of what :func:`replaceable_files`
    allowed; should anything else have appeared in it meanwhile, it is kept and named."""
    if not out.exists():
        os.rename(work, out)
        return
    owned = replaceable_files(out, figure)
    old = out.parent / f".{out.name}.old-{secrets.token_hex(4)}"
    os.rename(out, old)
    try:
        os.rename(work, out)
    except OSError:
        os.rename(old, out)
        raise
    for name in owned:
        (old / name).unlink(missing_ok=True)
    try:
        old.rmdir()
    except OSError:
        warnings.warn(f"the previous {out} held files written meanwhile; they are kept in {old}",
                      RuntimeWarning, stacklevel=3)


def part_name(seeds: Sequence[int], params: Mapping[str, Any], defaults: Mapping[str, Any]) -> str:
    """The folder name of a part: its seed range and every parameter that is not the default.

    >>> part_name(range(0, 10), {"layout": "x", "isr_pay": "gate"}, {"layout": "all", "isr_pay": "gate"})
    'layout-x_seeds-0-9'
    """
    seeds = list(seeds)
    changed = [f"{key}-{str(value).replace(' ', '')}" for key, value in sorted(params.items())
               if defaults.get(key) != value]
    return "_".join([*changed, f"seeds-{seeds[0]}-{seeds[-1]}"])


@dataclass(frozen=True)
class Record:
    """A figure's paper-scale record, merged over its parts."""

    figure: str
    parts: pd.DataFrame
    """One row per part: part, seeds, params, science_code, git_commit, timestamp_utc, device,
    wall_time_s, peak_memory_mib."""
    tables: dict[str, pd.DataFrame]
    """The parts' tables, concatenated (a row repeated by two parts is kept once)."""
    missing: str
    """What the record still lacks for the paper's protocol ("" when complete)."""

    @property
    def empty(self) -> bool:
        """No part has been recorded."""
        return self.parts.empty

    @property
    def science_code(self) -> str:
        """The current code hash of the figure's runs (its world's science modules)."""
        return spec_of(self.figure).science_code

    @property
    def stale_codes(self) -> list[str]:
        """Science-code hashes of parts made by code that may compute other numbers than the
        current code of the figure's world: neither that code nor declared the same for this
        figure (``SAME_SCIENCE``)."""
        same = same_science_codes(self.science_code, self.figure)
        return sorted({c for c in self.parts["science_code"] if c not in same})

    @property
    def carried_codes(self) -> list[str]:
        """Science-code hashes of parts made by earlier code that is declared to compute the
        same numbers of this figure as the current code (``valint.provenance.SAME_SCIENCE``)."""
        current = self.science_code
        same = same_science_codes(current, self.figure)
        return sorted({c for c in self.parts["science_code"] if c in same and c != current})

    def claims(self) -> pd.DataFrame:
        """The claims ledger recomputed from the merged per-seed tables (profile ``paper``)."""
        return figure_claims(self.figure, self.tables, profile="paper")


PART_COLUMNS = ("part", "seeds", "params", "science_code", "git_commit", "timestamp_utc",
                "device", "wall_time_s", "peak_memory_mib", "training_s")


def _part_row(path: Path) -> dict[str, Any]:
    prov = json.loads((path / "provenance.json").read_text(encoding="utf-8"))
    seeds = prov.get("seeds", [])
    return {
        "part": path.name,
        "seeds": f"{min(seeds)}-{max(seeds)}" if seeds else "",
        "params": ", ".join(f"{k}={v}" for k, v in sorted(prov.get("params", {}).items())),
        **{key: prov.get(key, "not recorded") for key in PART_COLUMNS[3:-1]},
        "training_s": training_seconds(path),
    }


def training_seconds(path: Path) -> float | str:
    """The wall time the training batches behind a part took when they were trained, each batch
    counted once (from :data:`RUNS_FILE`; batches that ran side by side add up, so this is
    worker time). A batch may have been trained for another part or figure that shares it.
    "not recorded" for a part without the file. The runs of one batch share its wall time,
    commit and size (each run's own timestamp is when it was stored)."""
    file = Path(path) / RUNS_FILE
    if not file.exists():
        return "not recorded"
    runs = pd.read_csv(file)
    seconds = pd.to_numeric(runs["wall_time_s"], errors="coerce")
    batches = runs.assign(wall_time_s=seconds).dropna(subset=["wall_time_s"]).drop_duplicates(
        ["kind", "git_commit", "wall_time_s", "batch_runs"])
    return round(float(batches["wall_time_s"].sum()), 1)


def part_folders(figure: str, root: Path | None = None) -> list[Path]:
    """The complete parts of a figure's record, sorted by name (a part is a folder holding every
    file of :data:`RESULT_FILES`; temporary folders of an interrupted write are skipped)."""
    check_choice("figure", figure, FIGURE_NAMES)
    folder = (RECORDS_ROOT if root is None else Path(root)) / figure
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and all((p / name).exists() for name in RESULT_FILES))


def _missing(figure: str, tables: Mapping[str, pd.DataFrame]) -> str:
    """What the merged tables lack: the paper's ten seeds, and what the figure's spec ``covers``."""
    if not tables:
        return "every part: no paper-scale run of this figure is recorded yet"
    expected = set(range(PAPER.n_seeds))
    seeds = set().union(*(set(t["seed"]) for t in tables.values() if "seed" in t))
    gaps = []
    if expected - seeds:
        gaps.append("seeds " + ", ".join(map(str, sorted(expected - seeds))))
    covered: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for table, column, values in spec_of(figure).covers:
        covered.setdefault(table, []).append((column, tuple(values)))
    for table, columns in covered.items():
        gaps += _absent_combinations(tables.get(table), columns)
    return "; ".join(gaps)


def _absent_combinations(table: pd.DataFrame | None, columns: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    """What a table lacks of every combination of its covered values, in words: "layouts T, U"
    for one column; "isr in layouts T, U" per value of the first column for two
    (:func:`valint.claims.absent_combinations`)."""
    (first, firsts), *rest = columns
    if not rest:
        present = set() if table is None else set(table[first])
        absent = [v for v in firsts if v not in present]
        return [f"{first}s " + ", ".join(sorted(absent))] if absent else []
    (second, seconds), = rest
    return [f"{value} in {second}s " + ", ".join(sorted(absent))
            for value, absent in absent_combinations(table, first, firsts, second, seconds).items()]


def load_record(figure: str, root: Path | None = None) -> Record:
    """Merge the parts of a figure's record (module docstring).

    Args:
        figure: one of ``valint.figures.FIGURES``.
        root: the records folder (default :data:`RECORDS_ROOT`).

    Returns:
        The :class:`Record`; with no part, empty tables and ``missing`` saying so.
    """
    parts = part_folders(figure, root)
    frames: dict[str, list[pd.DataFrame]] = {}
    for path in parts:
        for csv in sorted(path.glob("*.csv")):
            if csv.name not in ("claims.csv", RUNS_FILE):
                frames.setdefault(csv.stem, []).append(pd.read_csv(csv))
    tables = {name: pd.concat(group, ignore_index=True).drop_duplicates(ignore_index=True)
              for name, group in frames.items()}
    rows = [_part_row(p) for p in parts]
    return Record(figure, pd.DataFrame(rows, columns=list(PART_COLUMNS)), tables,
                  _missing(figure, tables))


CHECK_COLUMNS = ("part", "item", "recorded", "found", "agree")
"""The columns of :func:`check_record`: one row per file and per claim of each part."""


def part_candidates(figure: str, root: Path | None = None) -> list[Path]:
    """Every folder under a figure's record, complete or not, sorted by name (the temporary
    folders of an interrupted write, whose names start with a dot, are left out)."""
    check_choice("figure", figure, FIGURE_NAMES)
    folder = (RECORDS_ROOT if root is None else Path(root)) / figure
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _describe_file(entry: Mapping[str, Any]) -> str:
    return f"{entry['size']} bytes, sha256 {entry['sha256'][:12]}"


def _file_rows(path: Path) -> list[dict[str, Any]]:
    """One row per file of a part: present, unchanged and listed by its manifest, or not."""
    def row(item: str, recorded: str, found: str, agree: bool = False) -> dict[str, Any]:
        return {"part": path.name, "item": item, "recorded": recorded, "found": found, "agree": agree}

    try:
        listed = read_manifest(path)
    except FileNotFoundError:
        return [row(MANIFEST_FILE, "the sha256 of every file of the part", "no manifest")]
    except (OSError, ValueError) as err:
        return [row(MANIFEST_FILE, "the sha256 of every file of the part", f"unreadable ({err})")]
    present = {p.name: p for p in path.iterdir() if p.name != MANIFEST_FILE}
    rows = []
    for name in sorted(set(listed) | set(present)):
        if name not in present:
            rows.append(row(name, _describe_file(listed[name]), "missing"))
        elif name not in listed:
            rows.append(row(name, "not in the manifest", "extra"))
        elif present[name].is_symlink() or not present[name].is_file():
            rows.append(row(name, _describe_file(listed[name]), "not a plain file"))
        else:
            actual = file_entry(present[name])
            same = actual == listed[name]
            rows.append(row(name, _describe_file(listed[name]),
                            _describe_file(actual) if same else f"changed: {_describe_file(actual)}", same))
    return rows


def _read_table(path: Path) -> pd.DataFrame | str:
    """A CSV file of a part, or why it cannot be read."""
    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as err:
        return f"unreadable ({type(err).__name__}: {err})"


def _claim_rows(figure: str, path: Path) -> list[dict[str, Any]]:
    """One row per claim of a part: the verdict in its ledger and the one its tables give now;
    a missing or unreadable ledger or table is one failing row naming the file."""
    def row(item: str, recorded: str, found: str, agree: bool = False) -> dict[str, Any]:
        return {"part": path.name, "item": item, "recorded": recorded, "found": found, "agree": agree}

    from valint.claims import RULE_CHANGES, first_rule_verdicts

    read = {csv.name: _read_table(csv) for csv in sorted(path.glob("*.csv"))}
    broken = [row(name, "a readable CSV", frame) for name, frame in read.items() if isinstance(frame, str)]
    if broken:
        return broken
    tables = {name[:-4]: frame for name, frame in read.items() if name not in ("claims.csv", RUNS_FILE)}
    try:
        again = figure_claims(figure, tables, profile="paper").set_index("claim_id")["verdict"]
    except (KeyError, ValueError, TypeError, IndexError) as err:
        return [row("tables", "the claims recomputed", f"cannot be recomputed ({type(err).__name__}: {err})")]
    if "claims.csv" not in read:
        return [row("claims.csv", "the part's claims ledger", f"missing ({len(again)} claims recomputed)")]
    ledger = read["claims.csv"]
    if not {"claim_id", "verdict"} <= set(ledger.columns):
        return [row("claims.csv", "columns claim_id and verdict", f"columns {list(ledger.columns)}")]
    ledger = ledger.set_index("claim_id")
    recorded = ledger["verdict"]
    if recorded.index.duplicated().any():
        return [row("claims.csv", "one row per claim", "a claim listed twice")]
    first = first_rule_verdicts(figure, tables)
    rows = []
    for claim_id in sorted(set(recorded.index) | set(again.index)):
        said, now = recorded.get(claim_id, "absent"), again.get(claim_id, "absent")
        change = RULE_CHANGES.get(claim_id)
        method = str(ledger.loc[claim_id, "method"]) if "method" in ledger and claim_id in ledger.index else ""
        if change is not None and claim_id in recorded.index and claim_id in first and change.marker not in method:
            rows.append(row(f"claim {claim_id}", said,
                            f"{first[claim_id]} (first rule; the rule now in force gives {now})",
                            said == first[claim_id]))
        else:
            rows.append(row(f"claim {claim_id}", said, now, said == now))
    return rows


def check_record(figure: str, root: Path | None = None) -> pd.DataFrame:
    """Verify every part of a figure's record: its files against its manifest (every missing,
    extra or changed file, and a part without manifest, fails), and its verdicts recomputed
    from its own tables against its ledger (a missing or unreadable ledger or table fails).

    Args:
        figure: one of ``valint.figures.FIGURES``.
        root: the records folder (default :data:`RECORDS_ROOT`), e.g. a copy of it.

    A ledger row written before its claim's rule was replaced (``valint.claims.RULE_CHANGES``:
    its ``method`` lacks the new rule's marker) is compared with the verdict of the rule it was
    judged by, the first one; ``current`` gives the verdict of the rule now in force.

    Returns:
        One row per part and item (a file, or ``claim <id>``): part, item, recorded, found,
        agree; empty when the figure has no part. A claim judged by its first rule says so in
        ``found``, with the verdict of the rule now in force.
    """
    rows = []
    for path in part_candidates(figure, root):
        rows += _file_rows(path) + _claim_rows(figure, path)
    return pd.DataFrame(rows, columns=list(CHECK_COLUMNS))


def add_manifest(folder: Path, figure: str) -> Path:
    """Give a part written before manifests its ``manifest.json``, from its files as they are.

    A maintainer's step, for parts whose files are known good (their verdicts agree): the part
    must have no manifest yet and hold only what the writer wrote then (:func:`replaceable_files`);
    no other file is touched.

    Raises:
        ValueError: the part already has a manifest, or holds a file the writer did not write.
    """
    folder = Path(folder)
    if (folder / MANIFEST_FILE).exists():
        raise ValueError(f"{folder} already has a {MANIFEST_FILE}")
    try:
        replaceable_files(folder, figure)
    except ValueError as err:
        raise ValueError(f"{folder} {err}") from None
    return write_manifest(folder)


def add_missing_manifests(figure: str, root: Path | None = None) -> list[Path]:
    """:func:`add_manifest` for every part of a figure's record that has none, once its verdicts
    recomputed from its tables agree with its ledger (``record FIG --check --write-manifest``).

    Returns:
        The manifests written.

    Raises:
        ValueError: a part without manifest whose verdicts disagree, whose files cannot be read,
            or that holds a file the writer did not write; the parts before it keep theirs.
    """
    written = []
    for path in part_candidates(figure, root):
        if (path / MANIFEST_FILE).exists():
            continue
        failing = [r for r in _claim_rows(figure, path) if not r["agree"]]
        if failing:
            raise ValueError(f"{path}: {failing[0]['item']} is {failing[0]['found']!r}, the ledger says "
                             f"{failing[0]['recorded']!r}; no manifest written")
        written.append(add_manifest(path, figure))
    return written
