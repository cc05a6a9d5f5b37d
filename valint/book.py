"""Build the book: execute the chapter notebooks with papermill, then run Jupyter Book 1.

The chapters of the book are the notebooks in ``notebooks/``. ``build_book`` executes each of
them with papermill, injecting the run ``profile`` (``paper``, ``quick`` or ``smoke``; see
PAPER.md §6 for the paper's scale), into ``book/generated/<name>.ipynb``, and then builds the
HTML with ``jupyter-book build`` with execution turned off and warnings treated as errors.

The module also holds the small readers the last two chapters use: the claims ledger that every
figure notebook saves at its end (``save_claims`` / ``load_claims``; columns as in
docs/CONTRACTS.md), the build times, the profiles and the benchmark.

Environment variables read here:

``VALINT_BOOK_SOURCE``
    the book's source tree (the repository root); set by ``build_book`` for the notebooks.
``VALINT_BOOK_GENERATED``
    where executed notebooks, claims and build times go; default ``<source>/book/generated``.
"""
from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import get_args

import nbformat
import pandas as pd

from valint.claims import LEDGER_COLUMNS, SAME_CLAIM, Verdict
from valint.config import PROFILE_NAMES

NOTEBOOK_ORDER: tuple[str, ...] = (
    "fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "statistics", "report", "rerun",
    "teaching",
)
"""The chapters, in the order they are executed. ``report``, ``rerun`` and ``teaching`` come
last because they read what the others wrote (claims, build times)."""

BUILD_TIME_COLUMNS: tuple[str, ...] = (
    "notebook", "profile", "wall_time_s", "cores", "load_avg_1min", "store_entries_before",
    "store_entries_written",
)
"""Columns of ``build_times.csv``: the chapter, the profile it ran with, its wall time, the
CPU cores this process could use, the machine's 1-minute load average when the chapter finished
(its own kernel included), and the entries of the results store before it ran and those it
added (0 when everything it needed was already stored, so its time is no training time)."""

VERDICTS: tuple[str, ...] = get_args(Verdict)
"""The verdicts a claim can get: holds, fails, inconclusive (valint.claims)."""

TEXT_COLUMNS: tuple[str, ...] = ("paper", "as_published", "measured", "margin", "method")
"""Ledger columns read back as text; an empty one (no published test, no margin) stays ''."""

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The source tree this package was imported from; the default book source."""

KERNEL_NAME = "python3"
"""The Jupyter kernel the chapters run in: ipykernel's own spec, which starts this interpreter."""

KERNEL_ENVIRONMENT: dict[str, str] = {"TQDM_DISABLE": "1", "VALINT_PROGRESS": "0"}
"""Set for every executed chapter: progress bars belong in a terminal, not in a page."""

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
_VERDICT_COLOURS: dict[str, str] = {
    "holds": "background-color: #d9f2d9",
    "fails": "background-color: #f8d7d7",
    "inconclusive": "background-color: #fcefc7",
}


class BookBuildError(RuntimeError):
    """A chapter could not be executed or the book could not be built."""


def check_profile(profile: str) -> str:
    """Return ``profile`` if it names a run profile, else raise a one-line ``ValueError``.

    Args:
        profile: ``"paper"``, ``"quick"`` or ``"smoke"`` (PAPER.md §6 is ``paper``).
    """
    if profile not in PROFILE_NAMES:
        allowed = ", ".join(PROFILE_NAMES)
        raise ValueError(f"--profile must be one of {allowed}; got {profile!r}")
    return profile


def source_root() -> Path:
    """The book's source tree: ``$VALINT_BOOK_SOURCE`` when set, else the repository root."""
    return Path(os.environ.get("VALINT_BOOK_SOURCE", REPO_ROOT))


def generated_dir() -> Path:
    """Where executed chapters, claims and build times live.

    ``$VALINT_BOOK_GENERATED`` when set, else ``<source_root()>/book/generated``.
    """
    configured = os.environ.get("VALINT_BOOK_GENERATED")
    return Path(configured) if configured else source_root() / "book" / "generated"


def paper_data_dir() -> Path:
    """Where the authors' per-seed CSVs are read from (PAPER.md §10): ``$VALINT_PAPER_DATA``
    when set, else ``shared/paper/`` beside the repository. They are never copied into it."""
    configured = os.environ.get("VALINT_PAPER_DATA")
    return Path(configured) if configured else source_root() / ".." / "shared" / "paper"


def save_claims(claims: pd.DataFrame, figure: str) -> Path:
    """Save one figure's claims ledger for the reproduction report.

    Every figure notebook calls this in its last cell.

    Args:
        claims: the ledger of ``valint.claims`` (columns ``LEDGER_COLUMNS``, docs/CONTRACTS.md).
        figure: the chapter name, e.g. ``"fig4"``.

    Returns:
        The path written, ``<generated_dir()>/claims/<figure>.csv``.
    """
    _check_claim_columns(claims, figure)
    path = generated_dir() / "claims" / f"{figure}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    claims.loc[:, list(LEDGER_COLUMNS)].to_csv(path, index=False)
    return path


def load_claims(directory: Path | None = None) -> pd.DataFrame:
    """Read every saved claims ledger into one table, in chapter order.

    Args:
        directory: the folder of ``<figure>.csv`` files; default ``<generated_dir()>/claims``.

    Returns:
        One row per claim, columns ``LEDGER_COLUMNS``; no rows when nothing was saved.
    """
    folder = generated_dir() / "claims" if directory is None else Path(directory)
    frames = []
    for path in sorted(folder.glob("*.csv")):
        frame = pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=False,
                            na_values={c: [""] for c in LEDGER_COLUMNS if c not in TEXT_COLUMNS})
        _check_claim_columns(frame, path.name)
        if len(frame):
            frames.append(frame.loc[:, list(LEDGER_COLUMNS)])
    if not frames:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in LEDGER_COLUMNS})
    claims = pd.concat(frames, ignore_index=True)
    position = {name: i for i, name in enumerate(NOTEBOOK_ORDER)}
    order = claims["figure"].map(position).fillna(len(position))
    return claims.assign(_order=order).sort_values(["_order", "claim_id"], kind="stable").drop(
        columns="_order").reset_index(drop=True)


def unique_claims(claims: pd.DataFrame) -> pd.DataFrame:
    """The ledger with each claim once: a row that repeats another claim's test on the same
    runs (``valint.claims.SAME_CLAIM``, e.g. Fig. 4a's unlearning is Fig. 1b's) is dropped when
    the claim it repeats is present.

    Args:
        claims: a claims ledger, as from ``load_claims``.
    """
    present = set(claims["claim_id"])
    repeats = [c for c, same in SAME_CLAIM.items() if c in present and same in present]
    return claims[~claims["claim_id"].isin(repeats)].reset_index(drop=True)


def verdict_phrase(claims: pd.DataFrame, claim_id: str) -> str:
    """A claim's verdict as words for a sentence of the page: "holds", "fails" or "is
    inconclusive", so that the prose says what the ledger computed, whatever it computed.

    Args:
        claims: a claims ledger (``FigureResult.claims``).
        claim_id: the claim, e.g. ``"fig4_isr_no_loss"``.

    Raises:
        ValueError: if the ledger has no such claim (naming the claims it has).
    """
    match = claims.loc[claims["claim_id"] == claim_id, "verdict"]
    if match.empty:
        raise ValueError(f"claim_id={claim_id!r} is not in this ledger; it holds "
                         f"{', '.join(map(repr, claims['claim_id']))}")
    verdict = str(match.iloc[0])
    return "is inconclusive" if verdict == "inconclusive" else verdict


def agreement_sentences(analyses: pd.DataFrame, *, alpha: float = 0.05) -> str:
    """Say in words, per contrast, which analyses find a difference at ``alpha`` and which do
    not (``valint.stats.fig5_analyses``), so that a page never states an agreement that its
    numbers do not show.

    Returns:
        One sentence per contrast, e.g. "For frozen - isr all 5 analyses find a difference at
        0.05." or "For isr - oracle, 3 analyses find a difference at 0.05 (…) and 2 do not
        (…)."
    """
    sentences = []
    for contrast, rows in analyses.groupby("contrast", sort=False):
        significant = rows["p_value"] < alpha
        yes = list(rows.loc[significant, "analysis"])
        no = list(rows.loc[~significant, "analysis"])
        if not no:
            sentences.append(f"For {contrast} all {len(yes)} analyses find a difference at {alpha}.")
        elif not yes:
            sentences.append(f"For {contrast} none of the {len(no)} analyses finds a difference "
                             f"at {alpha}.")
        else:
            sentences.append(
                f"For {contrast}, {len(yes)} of the {len(rows)} analyses find a difference at "
                f"{alpha} ({'; '.join(yes)}) and {len(no)} "
                f"{'does' if len(no) == 1 else 'do'} not ({'; '.join(no)})."
            )
    return " ".join(sentences)


def verdict_counts(claims: pd.DataFrame) -> dict[str, int]:
    """Number of claims per verdict, with every verdict present (zero when absent).

    Args:
        claims: a claims ledger, as from ``load_claims``.
    """
    unknown = set(claims["verdict"]) - set(VERDICTS)
    if unknown:
        raise ValueError(f"unknown verdicts {sorted(unknown)}; expected one of {VERDICTS}")
    return {verdict: int((claims["verdict"] == verdict).sum()) for verdict in VERDICTS}


P_VALUE_COLUMNS = ("p_value", "p_holm", "p_welch", "p_student")
"""Columns shown with three significant digits, so that a small p is never printed as 0.00."""


def show_table(frame: pd.DataFrame, *, precision: int = 2):
    """A table for a page: no index, the theme's table style, floats to ``precision`` digits.

    p-values are shown to three significant digits; missing values read "–" (a dash), not
    ``nan``.
    """
    p_columns = [c for c in frame.columns if c in P_VALUE_COLUMNS]
    return (frame.style.hide(axis="index").format(precision=precision, na_rep="\u2013")
            .format("{:.3g}", subset=p_columns, na_rep="\u2013")
            .set_table_attributes('class="dataframe"'))


def claims_table(claims: pd.DataFrame):
    """The claims ledger as a table for a page, one row per claim, verdicts coloured.

    Columns: the figure; the claim in the paper's words with its ``claim_id`` below; the
    paper's numbers; the paper's own test re-run on our data; our sound test, with the
    equivalence margin (for claims of no difference) and the method below; the run (seeds and
    profile); the verdict.

    Args:
        claims: a claims ledger, as from ``load_claims``.
    """
    (figure, claim, claim_id, paper, as_published, measured, margin, method, n_seeds, profile,
     verdict) = (_escaped(claims, column) for column in
                 ("figure", "claim", "claim_id", "paper", "as_published", "measured", "margin",
                  "method", "n_seeds", "profile", "verdict"))
    margin_note = margin.where(margin == "", "<br>margin: " + margin)
    shown = pd.DataFrame({
        "Figure": figure,
        "Claim": claim + "<br><code>" + claim_id + "</code>",
        "Paper": paper,
        "Paper's test, our data": as_published.where(as_published != "", "\u2013"),
        "Ours": measured + margin_note + "<br><em>" + method + "</em>",
        "Run": n_seeds + " seeds, " + profile,
        "Verdict": verdict,
    })
    return show_table(shown).map(lambda verdict: _VERDICT_COLOURS.get(verdict, ""),
                                 subset=["Verdict"])


def _admonition(kind: str, title: str, body: str) -> str:
    """An admonition box as HTML (the theme styles Sphinx's admonition classes)."""
    return (f'<div class="admonition {kind}"><p class="admonition-title">{html.escape(title)}'
            f'</p><p>{body}</p></div>')


def record_note(record):
    """What a chapter can say about its paper-scale record (``valint.records.Record``).

    A note naming the parts, their date, commit, machine and wall time and what is still
    missing; a warning box naming both hashes when a part was made by other science code than
    the current one; a note that no record exists yet when it is empty.
    """
    from IPython.display import HTML

    from valint.provenance import science_code_hash

    if record.empty:
        return HTML(_admonition("note", "No paper-scale record yet",
                           f"This figure has no recorded run at the paper's protocol yet "
                           f"(missing: {html.escape(record.missing)}). Make one with "
                           f"<code>python -m valint record {record.figure}</code>; the section "
                           "below re-runs the figure at this build's profile."))
    parts = record.parts
    hours = pd.to_numeric(parts["wall_time_s"], errors="coerce").sum() / 3600
    lines = "; ".join(
        f"<code>{html.escape(str(r.part))}</code> on {html.escape(str(r.timestamp_utc))[:10]}, "
        f"commit {html.escape(str(r.git_commit))[:10]}, {html.escape(str(r.device))}"
        for r in parts.itertuples())
    missing = (f" Still missing for the paper's protocol: {html.escape(record.missing)}; the "
               "statistics below use the seeds recorded so far.") if record.missing else ""
    boxes = [_admonition("note", "Paper-scale record",
                         f"{len(parts)} part(s), {hours:.2f} h of computing: {lines}.{missing}")]
    stale = record.stale_codes
    if stale:
        boxes.append(_admonition(
            "warning", "This record was made by other code",
            f"Parts of this record were made by science code {', '.join(stale)}; the current "
            f"code is {science_code_hash()}. Its numbers may differ from what the current code "
            "gives; re-record the figure to refresh them."))
    return HTML("".join(boxes))


def record_verdicts(figures: Sequence[str] | None = None) -> pd.DataFrame:
    """The paper-scale verdicts of every recorded figure, recomputed from the records' tables.

    Returns:
        The merged claims ledger of every figure that has a record (``LEDGER_COLUMNS``) plus
        ``stale`` (made by other science code) and ``missing`` (what the record still lacks).
    """
    from valint import records
    from valint.figures import FIGURE_NAMES

    frames = []
    for figure in figures or FIGURE_NAMES:
        record = records.load_record(figure)
        if record.empty:
            continue
        frames.append(record.claims().assign(stale=bool(record.stale_codes),
                                             missing=record.missing))
    if not frames:
        return pd.DataFrame(columns=[*LEDGER_COLUMNS, "stale", "missing"])
    return pd.concat(frames, ignore_index=True)


def paper_scale_summary(recorded: pd.DataFrame, n_claims: int) -> str:
    """The report's headline: how many claims have a paper-scale verdict, and which verdicts.

    Args:
        recorded: ``record_verdicts()``, one row per recorded claim.
        n_claims: how many claims the book checks in all.
    """
    unique = unique_claims(recorded) if len(recorded) else recorded
    if unique.empty:
        return (f"None of the {n_claims} claims has a paper-scale record yet, so every verdict "
                "below comes from this build's re-run.")
    counts = verdict_counts(unique)
    figures = ", ".join(sorted(set(unique["figure"])))
    incomplete = sorted(set(unique.loc[unique["missing"] != "", "figure"]))
    text = (f"At the paper's scale, {len(unique)} of the {n_claims} claims have a record "
            f"({figures}): {counts['holds']} hold, {counts['fails']} fail and "
            f"{counts['inconclusive']} are inconclusive.")
    if incomplete:
        text += (f" The records of {', '.join(incomplete)} are not complete yet; their verdicts "
                 "rest on the seeds recorded so far.")
    return text


def stale_records_note(recorded: pd.DataFrame):
    """A warning box listing every record made by other science code than the current one,
    or nothing when there is none."""
    from IPython.display import HTML

    stale = sorted(set(recorded.loc[recorded["stale"].astype(bool), "figure"])) if len(
        recorded) else []
    if not stale:
        return None
    return HTML(_admonition("warning", "Stale records",
                            f"The paper-scale records of {', '.join(stale)} were made by other "
                            "science code than this build's; their chapters name both hashes."))


def two_layer_table(rerun: pd.DataFrame, recorded: pd.DataFrame):
    """One row per claim: the paper's number, the verdict at the paper's scale (from the
    records) and this build's re-run, verdicts coloured (the reproduction report).

    Args:
        rerun: this build's claims (``unique_claims(load_claims())``).
        recorded: the paper-scale claims (``record_verdicts()``).
    """
    paper_scale = recorded.set_index("claim_id") if len(recorded) else pd.DataFrame(
        columns=["verdict", "n_seeds", "stale", "missing"])
    rows = []
    for row in rerun.itertuples():
        if row.claim_id in paper_scale.index:
            rec = paper_scale.loc[row.claim_id]
            scale = str(rec["verdict"])
            run = f"{rec['n_seeds']} seeds" + (", stale" if bool(rec["stale"]) else "") + (
                ", incomplete" if rec["missing"] else "")
        else:
            scale, run = "not recorded", ""
        rows.append({
            "Figure": html.escape(str(row.figure)),
            "Claim": html.escape(str(row.claim)) + "<br><code>" + html.escape(str(row.claim_id))
            + "</code>",
            "Paper": html.escape(str(row.paper)),
            "Paper scale": scale,
            "Record": html.escape(run),
            "This build": str(row.verdict),
            "Re-run": html.escape(f"{row.n_seeds} seeds, {row.profile}"),
        })
    shown = pd.DataFrame(rows, columns=["Figure", "Claim", "Paper", "Paper scale", "Record",
                                        "This build", "Re-run"])
    return show_table(shown).map(lambda v: _VERDICT_COLOURS.get(v, ""),
                                 subset=["Paper scale", "This build"])


def profiles_in(claims: pd.DataFrame) -> str:
    """The profiles that produced ``claims``, as text for a sentence ("paper and quick")."""
    names = sorted(set(claims["profile"].astype(str)))
    if not names:
        return "no profile (no claims were saved)"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def profiles_table():
    """What each run profile changes relative to the paper, one row per deviation.

    Read from ``valint.config.PROFILES``, so the book cannot disagree with the code.
    """
    from valint.config import PROFILES

    rows = []
    for name, profile in PROFILES.items():
        deviations = profile.deviations or ("none: this is the protocol of the paper",)
        rows += [{"Profile": name, "Departure from the paper": text} for text in deviations]
    return show_table(pd.DataFrame(rows))


def rerun_commands(profile: str):
    """The papermill command that re-runs each chapter on its own, as a shell code block.

    Each command is followed by a comment with the chapter's other parameters and their
    defaults, as papermill reads them from the notebook's ``parameters`` cell.

    Args:
        profile: the profile to put in the commands.
    """
    import papermill
    from IPython.display import Markdown

    check_profile(profile)
    lines = []
    for name in NOTEBOOK_ORDER:
        source = source_root() / "notebooks" / f"{name}.ipynb"
        if not source.exists():
            continue
        parameters = papermill.inspect_notebook(str(source))
        others = [f"{key} = {spec['default']}" for key, spec in parameters.items()
                  if key != "profile"]
        lines.append(shlex.join(["papermill", f"notebooks/{name}.ipynb", f"{name}.out.ipynb",
                                 "-p", "profile", profile]))
        if others:
            lines.append("#   other parameters: " + "; ".join(others))
    return Markdown("```bash\n" + "\n".join(lines) + "\n```")


def load_build_times(path: Path | None = None) -> pd.DataFrame:
    """The wall time of every chapter in the latest build (columns ``BUILD_TIME_COLUMNS``).

    Missing values (NaN) in a column mean the file was written before that column existed.

    Args:
        path: the CSV file; default ``<generated_dir()>/build_times.csv``.
    """
    path = generated_dir() / "build_times.csv" if path is None else Path(path)
    if not path.exists():
        return pd.DataFrame({column: pd.Series(dtype=str if column in ("notebook", "profile")
                                               else float) for column in BUILD_TIME_COLUMNS})
    times = pd.read_csv(path)
    for column in BUILD_TIME_COLUMNS:  # a file written before a column existed
        if column not in times:
            times[column] = float("nan")
    return times.loc[:, list(BUILD_TIME_COLUMNS)]


def build_times_table(times: pd.DataFrame):
    """The build times (as from ``load_build_times``) as a table for a page."""
    shown = times.rename(columns={
        "notebook": "Chapter", "profile": "Profile", "wall_time_s": "Wall time (s)",
        "cores": "Cores", "load_avg_1min": "Load (1 min)",
        "store_entries_before": "Stored runs before", "store_entries_written": "Runs stored",
    })
    counts = ["Cores", "Stored runs before", "Runs stored"]
    return show_table(shown, precision=1).format("{:.0f}", subset=counts, na_rep="\u2013")


def total_minutes(times: pd.DataFrame) -> float:
    """Sum of the chapters' wall times in minutes (``times`` as from ``load_build_times``)."""
    return float(times["wall_time_s"].sum()) / 60.0


def bench_table(path: Path | None = None) -> pd.DataFrame | None:
    """The pipelines measured by ``python -m valint bench --json``, one row each, or None.

    Columns: ``pipeline``, ``runs`` (trained as one batch), ``threads``,
    ``env_steps_per_s_per_core``, ``vs_sb3`` (ratio to the Stable-Baselines3 pipeline per core,
    NaN without it), ``training_gflops``, ``fraction_of_peak`` (of the one-thread matmul peak
    measured in the same invocation) and ``max_rss_mb_after``.

    Args:
        path: the JSON file; default ``<generated_dir()>/bench.json``.
    """
    data = _load_bench(path)
    return None if data is None else _bench_rows(data)


def _load_bench(path: Path | None) -> dict | None:
    path = generated_dir() / "bench.json" if path is None else Path(path)
    return json.loads(path.read_text()) if path.exists() else None


def _bench_rows(data: dict) -> pd.DataFrame:
    results = pd.DataFrame(data["results"])
    sb3 = results.loc[results["pipeline"].str.startswith("stable-baselines3"),
                      "env_steps_per_s_per_core"]
    results["vs_sb3"] = (results["env_steps_per_s_per_core"] / sb3.iloc[0]
                         if len(sb3) else float("nan"))
    if "fraction_of_ceiling" not in results:
        results["fraction_of_ceiling"] = float("nan")
    return results[["pipeline", "runs", "threads", "env_steps_per_s_per_core", "vs_sb3",
                    "training_gflops", "fraction_of_peak", "fraction_of_ceiling", "max_rss_mb_after"]]


def bench_summary(path: Path | None = None):
    """The benchmark of this build for a page: the setting in a sentence, then
    :func:`bench_table`; or a note saying that the benchmark was not run.

    Args:
        path: the JSON file; default ``<generated_dir()>/bench.json``.
    """
    from IPython.display import HTML, Markdown

    data = _load_bench(path)
    if data is None:
        return Markdown("The benchmark (`python -m valint bench --json`) was not run in this "
                        "build, so there are no speed measurements to show.")
    table = _bench_rows(data)
    measured = data.get("provenance", {}).get("timestamp_utc", "at an unrecorded time")
    setting = (
        f"Measured {html.escape(str(measured))} on {html.escape(str(data['device']))} "
        f"({data['cores']} cores): {data['rollouts_per_run']} rollouts of "
        f"{data['steps_per_rollout']:,} environment steps per run, {data['epochs']} epochs, "
        f"{data['flops_per_env_step'] / 1e6:.1f} MFLOP of training arithmetic per environment "
        f"step; matrix-multiply peak {data['matmul_peak_gflops_1_thread']:.0f} GFLOP/s on one "
        f"thread, {data['matmul_peak_gflops_all_cores']:.0f} GFLOP/s on all cores; peak memory "
        f"{data['max_rss_mb']:.0f} MB.")
    if "gemm_ceiling_gflops_1_thread" in data:
        setting += (
            f" The network's matrix products alone, as valint lays them out for one minibatch of "
            f"ten runs, reach {data['gemm_ceiling_gflops_1_thread']:.0f} GFLOP/s on one thread: "
            f"on the CPU valint cannot train faster than {data['ceiling_env_steps_per_s_per_core']:,.0f} "
            f"environment steps per second per core on this machine (\"share of ceiling\").")
    shown = table.rename(columns={
        "env_steps_per_s_per_core": "env steps/s per core",
        "vs_sb3": "× Stable-Baselines3",
        "training_gflops": "training GFLOP/s",
        "fraction_of_peak": "share of matmul peak",
        "fraction_of_ceiling": "share of ceiling",
        "max_rss_mb_after": "max RSS (MB)",
    })
    styled = show_table(shown, precision=1).format(
        "{:.0%}", subset=["share of matmul peak", "share of ceiling"], na_rep="–")
    return HTML(f"<p>{setting}</p>" + styled.to_html())


def build_book(
    *,
    profile: str = "quick",
    source_dir: Path | str = REPO_ROOT,
    out_dir: Path | str | None = None,
    seeds: int | None = None,
    notebooks: Sequence[str] | None = None,
    keep_going: bool = False,
    bench: bool | None = None,
) -> Path:
    """Execute the chapters with papermill and build the HTML book with Jupyter Book 1.

    Args:
        profile: run profile injected into every chapter (``paper``, ``quick``, ``smoke``).
        source_dir: the book's source tree, holding ``_config.yml``, ``_toc.yml``, ``book/``
            and ``notebooks/``.
        out_dir: where ``jupyter-book`` writes ``_build/``; default ``source_dir``.
        seeds: number of seeds per condition, injected into chapters that declare a ``seeds``
            parameter; ``None`` keeps the profile's number.
        notebooks: chapters to execute, by name (``notebooks/<name>.ipynb``); default all of
            ``NOTEBOOK_ORDER``. Chapters not executed keep the pages of an earlier build;
            chapters that were never executed are left out of this build's table of contents.
        keep_going: execute the remaining chapters after one fails, then report every failure.
        bench: run ``python -m valint bench`` first, on the still idle machine, so that the
            "re-run it yourself" chapter shows this machine's throughput; default: for every
            profile but ``smoke``. Without the optional extra ``bench`` the Stable-Baselines3
            side of the comparison is skipped, and the page says so.

    Returns:
        The folder of the HTML book (``<out_dir>/_build/html``).

    Raises:
        ValueError: ``profile`` or ``seeds`` is invalid.
        BookBuildError: a chapter is missing or fails, or ``jupyter-book build`` fails.
    """
    check_profile(profile)
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1):
        raise ValueError(f"--seeds must be a positive integer; got {seeds!r}")
    source = Path(source_dir).resolve()
    out = source if out_dir is None else Path(out_dir).resolve()
    names = list(NOTEBOOK_ORDER if notebooks is None else notebooks)
    missing = [name for name in names if not (source / "notebooks" / f"{name}.ipynb").exists()]
    if missing:
        listed = ", ".join(f"notebooks/{name}.ipynb" for name in missing)
        raise BookBuildError(f"missing chapter notebook(s) in {source}: {listed}")
    _check_kernel()

    generated = source / "book" / "generated"
    generated.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(generated / "failed", ignore_errors=True)
    if notebooks is None:
        shutil.rmtree(generated / "claims", ignore_errors=True)

    if bench if bench is not None else profile != "smoke":
        _run_bench(generated / "bench.json")

    failures: list[str] = []
    with _kernel_environment(source, generated):
        for name in names:
            message = _execute_chapter(name, source, generated, profile=profile, seeds=seeds)
            if message is None:
                continue
            if not keep_going:
                raise BookBuildError(message)
            print(message, file=sys.stderr)
            failures.append(message)
    if failures:
        raise BookBuildError(f"{len(failures)} chapter(s) failed; the book was not built:\n"
                             + "\n".join(failures))

    html_dir = _run_jupyter_book(source, out, generated)
    print(f"The book is at {html_dir / 'index.html'}")
    return html_dir


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m valint book``: execute the chapters and build the book.

    Args:
        argv: the arguments after ``book``; default ``sys.argv[1:]``.

    Returns:
        The exit status: 0 when the book was built, 1 when a chapter or the build failed,
        2 for invalid arguments.
    """
    parser = argparse.ArgumentParser(
        prog="python -m valint book",
        description="Execute every chapter notebook with papermill and build the Jupyter Book.")
    parser.add_argument("--profile", default="quick",
                        help=f"run profile, one of {', '.join(PROFILE_NAMES)} (default: quick)")
    parser.add_argument("--only", nargs="+", metavar="CHAPTER",
                        help="execute only these chapters (" + ", ".join(NOTEBOOK_ORDER)
                        + "); the others keep the pages of the last build")
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds per condition, overriding the profile's number")
    parser.add_argument("--keep-going", action="store_true",
                        help="execute the remaining chapters after a failure, then report all")
    parser.add_argument("--bench", action=argparse.BooleanOptionalAction, default=None,
                        help="measure training throughput first for the 're-run it yourself' "
                        "chapter (default: yes, except with --profile smoke)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.only or ()) - set(NOTEBOOK_ORDER))
    try:
        check_profile(args.profile)
        if unknown:
            raise ValueError(f"--only takes chapters among {', '.join(NOTEBOOK_ORDER)}; "
                             f"got {', '.join(unknown)}")
        notebooks = None if args.only is None else [n for n in NOTEBOOK_ORDER if n in args.only]
        build_book(profile=args.profile, seeds=args.seeds, notebooks=notebooks,
                   keep_going=args.keep_going, bench=args.bench)
    except ValueError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    except BookBuildError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    return 0


def _run_bench(path: Path) -> None:
    """Run the benchmark in a fresh process (its own thread settings) and save its JSON."""
    from valint.bench import sb3_available

    # the under-load rows train a figure four times beside spinning processes: minutes that a
    # build does not spend; `python -m valint bench` shows them
    command = [sys.executable, "-m", "valint", "bench", "--no-load", "--out", str(path)]
    if not sb3_available():
        print("The optional extra 'bench' (Stable-Baselines3) is not installed; the benchmark "
              "skips the side-by-side comparison (pip install -e '.[bench]').", file=sys.stderr)
        command.append("--no-sb3")
    path.unlink(missing_ok=True)
    print("Measuring training throughput (python -m valint bench) ...", flush=True)
    done = subprocess.run(command, check=False)
    if done.returncode != 0:
        raise BookBuildError(f"python -m valint bench failed with exit status {done.returncode}")


def _escaped(claims: pd.DataFrame, column: str) -> pd.Series:
    """A ledger column as HTML-escaped text, for cells that also carry markup."""
    return claims[column].astype(str).map(html.escape)


def _check_claim_columns(claims: pd.DataFrame, where: str) -> None:
    missing = [column for column in LEDGER_COLUMNS if column not in claims.columns]
    if missing:
        raise ValueError(f"claims of {where} lack the column(s) {missing} (docs/CONTRACTS.md)")


def _check_kernel() -> None:
    """Make sure the ``python3`` kernel runs this interpreter, so chapters see this environment.

    jupyter_client replaces a bare ``python``/``python3`` in a kernel command by
    ``sys.executable``; any other command would run another Python.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        command = KernelSpecManager().get_kernel_spec(KERNEL_NAME).argv[0]
    except NoSuchKernel as error:
        raise BookBuildError(f"no Jupyter kernel named {KERNEL_NAME!r}: install ipykernel "
                             "into this environment") from error
    bare = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info)}
    if command not in bare and Path(command).resolve() != Path(sys.executable).resolve():
        raise BookBuildError(f"the {KERNEL_NAME!r} kernel runs {command}, not {sys.executable}; "
                             "remove that kernel spec or install ipykernel into this environment")


@contextlib.contextmanager
def _kernel_environment(source: Path, generated: Path) -> Iterator[None]:
    """Set the variables the chapter kernels inherit, and restore them afterwards."""
    package_root = str(Path(__file__).resolve().parents[1])
    python_path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    updates = {
        **KERNEL_ENVIRONMENT,
        "VALINT_BOOK_SOURCE": str(source),
        "VALINT_BOOK_GENERATED": str(generated),
        "VALINT_RESULTS": os.environ.get("VALINT_RESULTS", str(source / "results")),
        "PYTHONPATH": python_path,
    }
    saved = {key: os.environ.get(key) for key in [*updates, "MPLBACKEND"]}
    os.environ.update(updates)
    # ipykernel picks the inline backend only when MPLBACKEND is unset; otherwise figures
    # would never reach the pages.
    os.environ.pop("MPLBACKEND", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _execute_chapter(name: str, source: Path, generated: Path, *, profile: str,
                     seeds: int | None) -> str | None:
    """Execute one chapter into ``generated``; return an error message, or None on success."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook = source / "notebooks" / f"{name}.ipynb"
    output = generated / f"{name}.ipynb"
    declared = papermill.inspect_notebook(str(notebook))
    if "profile" not in declared:
        return f"{notebook}: its parameters cell does not declare `profile`"
    parameters: dict[str, object] = {"profile": profile}
    if seeds is not None:
        if "seeds" in declared:
            parameters["seeds"] = seeds
        else:
            print(f"{name}: has no `seeds` parameter; --seeds does not apply to it")
    print(f"{name}: executing with profile {profile} ...", flush=True)
    store = Path(os.environ.get("VALINT_RESULTS", source / "results"))
    entries_before = _store_entries(store)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=parameters,
                                   kernel_name=KERNEL_NAME, progress_bar=False, cwd=str(source))
    except PapermillExecutionError as error:
        failed = generated / "failed" / output.name
        failed.parent.mkdir(parents=True, exist_ok=True)
        output.replace(failed)
        return (f"chapter {name} ({notebook}) failed in cell {error.exec_count}: "
                f"{error.ename}: {error.evalue}\n  the executed notebook is at {failed}")
    wall_time_s = time.perf_counter() - start
    _tag_parameter_cells(output)
    _report_stderr(name, output)
    _record_build_time(generated / "build_times.csv", {
        "notebook": name, "profile": profile, "wall_time_s": round(wall_time_s, 2),
        "cores": _usable_cores(), "load_avg_1min": round(os.getloadavg()[0], 2),
        "store_entries_before": entries_before,
        "store_entries_written": _store_entries(store) - entries_before,
    })
    print(f"{name}: done in {wall_time_s:.1f} s", flush=True)
    return None


def _tag_parameter_cells(path: Path) -> None:
    """Hide papermill's injected cell from the page and collapse the parameters cell."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
        if "parameters" in tags and "hide-input" not in tags:
            tags.append("hide-input")
    nbformat.write(notebook, path)


def _report_stderr(name: str, path: Path) -> None:
    """Print the first line of everything a chapter wrote to stderr (the pages drop it)."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                first = next((line for line in output["text"].splitlines() if line.strip()), "")
                print(f"{name}: stderr (not shown in the page): {first}", file=sys.stderr)


def _store_entries(store: Path) -> int:
    """The number of entries in the results store at ``store`` (0 when it does not exist)."""
    return sum(1 for _ in store.glob("*.npz")) if store.is_dir() else 0


def _usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _record_build_time(path: Path, row: dict[str, object]) -> None:
    """Replace the row of ``row["notebook"]`` in the build-times table, keeping the others.

    Args:
        path: the CSV file.
        row: one value per column of ``BUILD_TIME_COLUMNS``.
    """
    times = load_build_times(path)
    times = times[times["notebook"] != row["notebook"]]
    row = pd.DataFrame({column: [row[column]] for column in BUILD_TIME_COLUMNS})
    times = pd.concat([times, row], ignore_index=True) if len(times) else row
    position = {chapter: i for i, chapter in enumerate(NOTEBOOK_ORDER)}
    times = times.assign(_order=times["notebook"].map(position).fillna(len(position)))
    times.sort_values("_order", kind="stable").drop(columns="_order").to_csv(path, index=False)


def _table_of_contents(source: Path, generated: Path, build: Path) -> Path:
    """The ``_toc.yml`` to build with: the source's, less chapters that were never executed."""
    import yaml

    toc_path = source / "_toc.yml"
    toc = yaml.safe_load(toc_path.read_text())
    absent: list[str] = []
    for part in toc.get("parts", []):
        kept = []
        for chapter in part.get("chapters", []):
            page = chapter.get("file", "")
            is_chapter = Path(page).parent == generated.relative_to(source)
            if is_chapter and not (source / f"{page}.ipynb").exists():
                absent.append(Path(page).name)
            else:
                kept.append(chapter)
        part["chapters"] = kept
    if not absent:
        return toc_path
    toc["parts"] = [part for part in toc["parts"] if part["chapters"]]
    print("warning: these chapters were never executed and are left out of this build: "
          + ", ".join(absent), file=sys.stderr)
    build.mkdir(parents=True, exist_ok=True)
    partial = build / "_toc.partial.yml"
    partial.write_text(yaml.safe_dump(toc, sort_keys=False))
    return partial


def _run_jupyter_book(source: Path, out: Path, generated: Path) -> Path:
    """Run ``jupyter-book build`` (execution off, warnings as errors); return the HTML folder."""
    executable = Path(sys.executable).with_name("jupyter-book")
    command_name = str(executable) if executable.exists() else shutil.which("jupyter-book")
    if command_name is None:
        raise BookBuildError("`jupyter-book` is not installed in this environment")
    toc = _table_of_contents(source, generated, out / "_build")
    command = [command_name, "build", str(source), "--path-output", str(out), "--toc", str(toc),
               "--all", "-W", "-n", "--keep-going"]
    print("Building the book: " + shlex.join(command), flush=True)
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    log = _ANSI_ESCAPE.sub("", completed.stdout + completed.stderr)
    (out / "_build").mkdir(parents=True, exist_ok=True)
    (out / "_build" / "jupyter-book.log").write_text(log)
    if completed.returncode != 0:
        problems = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
        shown = "\n".join(problems[:30] or log.splitlines()[-30:])
        raise BookBuildError(f"jupyter-book build failed (exit {completed.returncode}); full "
                             f"log in {out / '_build' / 'jupyter-book.log'}:\n{shown}")
    return out / "_build" / "html"

