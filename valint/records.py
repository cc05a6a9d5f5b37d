"""Paper-scale records: what ``python -m valint record`` wrote, merged for the book (issue 16).

A figure at the paper's protocol (PAPER.md §6) takes hours, longer than one working session, so
its record is made of **parts**: each part is one complete ``run`` of the paper profile over a
group of seeds (and, for Fig. 5, one layout), written by the command line into its own folder::

    records/paper/<figure>/<part>/   e.g. records/paper/fig4/seeds-0-9/
        <table>.csv ...              the figure's tidy per-seed tables (docs/CONTRACTS.md)
        claims.csv, claims.json      the claims ledger of that part
        provenance.json              commit, science-code hash, versions, device, CPU, wall
                                     time and peak memory of the run

Nothing in a record is edited by hand, and no model weights are kept. A chapter merges the parts
it finds (:func:`load_record`), recomputes the verdicts from the merged per-seed tables in an
executed cell, and says which seeds or layouts are still missing; :func:`check_record`
recomputes each part's verdicts from its own tables and compares them with its ledger.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from valint.claims import absent_combinations
from valint.config import PAPER, check_choice
from valint.figures import FIGURE_NAMES, figure_claims, spec_of
from valint.provenance import provenance, same_science_codes, science_code_hash

RECORDS_ROOT = Path(__file__).resolve().parent.parent / "records" / "paper"
"""Where the committed records live: ``records/paper/`` in the repository."""

RESULT_FILES = ("claims.csv", "claims.json", "provenance.json")
"""Files of a part besides its tables."""

RUNS_FILE = "runs.csv"
"""The runs behind a part's tables, each with the provenance stored when it was trained
(``ResultsStore.runs_table``); parts written before it existed lack it."""


def write_outputs(result: Any, out: Path) -> Path:
    """Write a ``FigureResult`` as the command line does: tables, ledger and provenance.

    The folder is assembled beside ``out`` and renamed into place, so a part is never
    half-written: either the whole folder is there or none of it.

    Args:
        result: what ``valint.figures.run_figure`` returned.
        out: the folder to write (replaced if it exists).

    Returns:
        ``out``.
    """
    out = Path(out)
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
        prov = provenance(profile=result.profile.name, wall_time_s=result.wall_time_s)
        prov |= {
            "figure": result.figure,
            "seeds": list(result.seeds),
            "params": result.params,
            "peak_memory_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
        (work / "provenance.json").write_text(json.dumps(prov, indent=2, default=str) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(work, out)
    finally:
        if work.exists():
            shutil.rmtree(work)
    return out


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
    def stale_codes(self) -> list[str]:
        """Science-code hashes of parts made by code that may compute other numbers than the
        current code: neither the current code nor declared the same (``SAME_SCIENCE``)."""
        same = same_science_codes()
        return sorted({c for c in self.parts["science_code"] if c not in same})

    @property
    def carried_codes(self) -> list[str]:
        """Science-code hashes of parts made by earlier code that is declared to compute the
        same numbers as the current code (``valint.provenance.SAME_SCIENCE``)."""
        current, same = science_code_hash(), same_science_codes()
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


def check_record(figure: str, root: Path | None = None) -> pd.DataFrame:
    """Recompute each part's verdicts from its own tables and compare them with its ledger.

    A ledger row written before its claim's rule was replaced (``valint.claims.RULE_CHANGES``:
    its ``method`` lacks the new rule's marker) is compared with the verdict of the rule it was
    judged by, the first one; ``current`` gives the verdict of the rule now in force.

    Returns:
        One row per part and claim: part, claim_id, rule ("current" or "first rule"),
        recorded, recomputed (by that rule), agree, current.
    """
    from valint.claims import RULE_CHANGES, first_rule_verdicts

    rows = []
    for path in part_folders(figure, root):
        tables = {csv.stem: pd.read_csv(csv) for csv in sorted(path.glob("*.csv"))
                  if csv.name not in ("claims.csv", RUNS_FILE)}
        ledger = pd.read_csv(path / "claims.csv", keep_default_na=False).set_index("claim_id")
        recorded = ledger["verdict"]
        again = figure_claims(figure, tables, profile="paper").set_index("claim_id")["verdict"]
        first = first_rule_verdicts(figure, tables)
        for claim_id in sorted(set(recorded.index) | set(again.index)):
            a, b = recorded.get(claim_id, "absent"), again.get(claim_id, "absent")
            change = RULE_CHANGES.get(claim_id)
            old_rule = (change is not None and claim_id in recorded.index and claim_id in first
                        and change.marker not in str(ledger.loc[claim_id, "method"]))
            then = first[claim_id] if old_rule else b
            rows.append({"part": path.name, "claim_id": claim_id,
                         "rule": "first rule" if old_rule else "current", "recorded": a,
                         "recomputed": then, "agree": a == then, "current": b})
    return pd.DataFrame(rows, columns=["part", "claim_id", "rule", "recorded", "recomputed",
                                       "agree", "current"])
