"""What the book's chapters call: the tables, boxes and sentences of a page, and its files.

Every figure notebook saves its claims ledger at its end (:func:`save_claims`; columns as in
docs/CONTRACTS.md), and the last chapters read them back (:func:`load_claims`,
:func:`unique_claims`, :func:`verdict_counts`, :func:`two_layer_table`), with the paper-scale
records (:func:`record_note`, :func:`record_verdicts`), the build times, the profiles and the
benchmark. The prose of a page takes its verdicts from the ledger (:func:`verdict_phrase`,
:func:`agreement_sentences`), so it says what was computed. The build driver that executes the
chapters is ``valint.book``.

Environment variables read here (``valint.book`` sets them for the chapters it executes):

``VALINT_BOOK_SOURCE``
    the book's source tree (the repository root).
``VALINT_BOOK_GENERATED``
    where executed notebooks, claims and build times go; default ``<source>/book/generated``.

The authors' per-seed numbers of Figs. 3b, 4b and 5 (PAPER.md §10) ship inside the package, in
``valint/data/authors/`` (:data:`AUTHORS_DATA_DIR`, read by :func:`authors_per_seed`).
"""
from __future__ import annotations

import html
import json
import os
import math
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import get_args

import pandas as pd

from valint.claims import LEDGER_COLUMNS, SAME_CLAIM, Verdict
from valint.config import PROFILE_NAMES


NOTEBOOK_ORDER: tuple[str, ...] = (
    "fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "statistics", "agreement", "report",
    "rerun", "teaching",
)
"""The chapters, in the order they are executed. ``agreement`` (our paper-scale records beside
the authors' numbers) follows the figure chapters and the statistics; ``report``, ``rerun``
and ``teaching`` come last because they read what the others wrote (claims, build times)."""

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

TEXT_COLUMNS: tuple[str, ...] = ("paper", "as_published", "measured", "effect", "margin", "method")
"""Ledger columns read back as text; an empty one (no published test, no margin) stays ''."""

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The source tree this package was imported from; the default book source."""

AUTHORS_DATA_DIR = Path(__file__).resolve().parent / "data" / "authors"
"""The authors' per-seed numbers of Figs. 3b, 4b and 5 (PAPER.md §10), shipped as package data
with their source note ``SOURCE.md``."""

AUTHORS_FILES: dict[str, str] = {
    "fig3b": "fig3b_authors_per_seed.csv",
    "fig4b": "fig4b_authors_per_seed.csv",
    "fig5": "fig5_authors_per_seed.csv",
}
"""The shipped CSV of each figure for which the authors published per-seed numbers."""

_VERDICT_COLOURS: dict[str, str] = {
    "holds": "background-color: #d9f2d9",
    "fails": "background-color: #f8d7d7",
    "inconclusive": "background-color: #fcefc7",
}


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


def authors_per_seed(figure: str) -> pd.DataFrame:
    """The authors' published per-seed numbers of one figure, as shipped with the package.

    Read from ``valint/data/authors/`` (:data:`AUTHORS_FILES`; the source note ``SOURCE.md``
    beside them names the paper and the release they were read from, PAPER.md §10). The frame
    is the CSV as shipped: conditions as the authors labelled them ("Frozen", "ISR", "Oracle";
    ``valint.stats`` compares labels case-insensitively) and the column ``replicate``, a
    position in the authors' list and **not a seed** (PAPER.md §8). It deliberately has no
    ``seed`` column, so that no function that pairs or clusters by seed can be called on it:
    the authors' numbers are analysed unpaired.

    Args:
        figure: ``"fig3b"``, ``"fig4b"`` or ``"fig5"``.

    Returns:
        Fig. 3b: ``isr_train_transitions, replicate, isr_test_mse``; Fig. 4b: ``condition,
        replicate, ood_reward``; Fig. 5: ``layout, condition, replicate, ood_reward``.
    """
    if figure not in AUTHORS_FILES:
        raise ValueError(f"the authors published per-seed numbers for {', '.join(AUTHORS_FILES)}"
                         f" only; got {figure!r}")
    frame = pd.read_csv(AUTHORS_DATA_DIR / AUTHORS_FILES[figure])
    assert "seed" not in frame.columns, "the authors' lists carry no seed identity (PAPER.md §8)"
    return frame


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
    profile); the verdict; which way and how far the deciding contrast points (``effect``).

    Args:
        claims: a claims ledger, as from ``load_claims``.
    """
    (figure, claim, claim_id, paper, as_published, measured, margin, method, n_seeds, profile,
     verdict, effect) = (_escaped(claims, column) for column in
                         ("figure", "claim", "claim_id", "paper", "as_published", "measured",
                          "margin", "method", "n_seeds", "profile", "verdict", "effect"))
    margin_note = margin.where(margin == "", "<br>margin: " + margin)
    shown = pd.DataFrame({
        "Figure": figure,
        "Claim": claim + "<br><code>" + claim_id + "</code>",
        "Paper": paper,
        "Paper's test, our data": as_published.where(as_published != "", "\u2013"),
        "Ours": measured + margin_note + "<br><em>" + method + "</em>",
        "Run": n_seeds + " seeds, " + profile,
        "Verdict": verdict,
        "Direction and size": effect.where(effect != "", "\u2013"),
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
    missing; a note naming both hashes when a part was made by earlier science code declared
    bit for bit the same (``valint.provenance.SAME_SCIENCE``); a warning box naming both hashes
    when a part was made by other science code; a note that no record exists yet when it is
    empty.
    """
    from IPython.display import HTML

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
               "statistics below use what is recorded so far (a claim that needs an unrecorded "
               "condition reads 'not measured').") if record.missing else ""
    training = pd.to_numeric(parts["training_s"], errors="coerce")
    trained = (f" The training batches behind them took {training.sum() / 3600:.2f} h of worker "
               "time when they were trained (each batch once; some were trained for another "
               "figure's record that shares them)." if training.notna().any() else "")
    boxes = [_admonition("note", "Paper-scale record",
                         f"{len(parts)} part(s), {hours:.2f} h of wall time: {lines}."
                         f"{trained}{missing}")]
    carried = record.carried_codes
    if carried:
        boxes.append(_admonition(
            "note", "Made by earlier code that computes the same numbers",
            f"Parts of this record were made by science code {', '.join(carried)}; this "
            f"build's code is {record.science_code}. The change between them was declared to "
            "leave this figure's numbers bit for bit identical in "
            "<code>valint.provenance.SAME_SCIENCE</code>, and the test suite re-checks that "
            "declaration on every build: with the earlier science modules swapped in, this "
            "figure's smoke tables and long traces of its world come out the same to the bit. "
            "The record is therefore shown as current."))
    stale = record.stale_codes
    if stale:
        boxes.append(_admonition(
            "warning", "This record was made by other code",
            f"Parts of this record were made by science code {', '.join(stale)} (commit "
            f"{', '.join(sorted({html.escape(str(c))[:10] for c in parts['git_commit']}))}); the "
            f"current code is {record.science_code}. A refactoring changes that hash as surely "
            "as a change of the science does, so the numbers may or may not differ from what the "
            "current code gives: check out that commit to reproduce them exactly, or re-record "
            "the figure to refresh them."))
    return HTML("".join(boxes))


def glue_profile(prof, seeds: Sequence[int]) -> None:
    """Glue what the note at the top of a chapter says: the profile's name, the seeds per
    condition and the profile's deviations from the paper's protocol (``Profile.deviations``)."""
    from myst_nb import glue

    glue("profile", prof.name, display=False)
    glue("n_seeds", len(seeds), display=False)
    glue("deviations", " ".join(prof.deviations) or "none: this is the protocol of the paper.",
         display=False)


def glue_numbers(prefix: str, numbers: Mapping[str, float]) -> None:
    """Glue each number of a mapping as ``prefix + name`` for the sentences of a page."""
    from myst_nb import glue

    for name, value in numbers.items():
        glue(prefix + name, float(value), display=False)


def isr_error_by_part_numbers(error_by_part: pd.DataFrame) -> dict[str, float]:
    """The numbers that the Fig. 3 chapter quotes about the ISR's error along phase 1.

    Args:
        error_by_part: the Fig. 3 ``isr_error_by_part`` table (``valint.isr_errors``).

    Returns:
        ``first_mse``, ``last_train_mse``, ``held_out_mse`` (means over seeds of the first and
        last training part and of the held-out part), ``first_goals`` and ``held_out_goals``
        (their shares of goal steps), and from
        ``stats.held_out_vs_last_train_part_test``: ``difference``, ``relative``,
        ``relative_low``, ``relative_high`` and ``p_value``.
    """
    from valint import stats

    summary = stats.isr_error_by_part_summary(error_by_part)
    train, held_out = summary[summary["split"] == "train"], summary[summary["split"] == "test"]
    test = stats.held_out_vs_last_train_part_test(error_by_part).iloc[0]
    return {
        "first_mse": train["mse"].iloc[0], "last_train_mse": train["mse"].iloc[-1],
        "held_out_mse": held_out["mse"].iloc[0], "first_goals": train["goal_fraction"].iloc[0],
        "held_out_goals": held_out["goal_fraction"].iloc[0], "difference": test["estimate"],
        "relative": test["relative_change"], "relative_low": test["relative_ci_low"],
        "relative_high": test["relative_ci_high"], "p_value": test["p_value"],
    }


def show_record(record, plot) -> None:
    """The "At the paper's scale" section of a chapter, from its record (``valint.records``).

    Shows :func:`record_note`; then, when anything is recorded, the figure drawn from the
    recorded tables, the claims computed from them and the record's parts.

    Args:
        record: a ``valint.records.Record``.
        plot: ``plot(tables)`` returns the figure (or a list of figures) of the recorded tables.
    """
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(record_note(record))
    if record.empty:
        return
    figures = plot(record.tables)
    for fig in figures if isinstance(figures, (list, tuple)) else [figures]:
        display(fig)
        plt.close(fig)
    display(claims_table(record.claims()))
    display(show_table(record.parts, precision=1))


def claim_check(result) -> Path:
    """Show a re-run's claims ledger (``FigureResult.claims``) and save it for the reproduction
    report (:func:`save_claims`); returns the saved file."""
    from IPython.display import display

    display(claims_table(result.claims))
    return save_claims(result.claims, result.figure)


def show_provenance(result) -> None:
    """What made a re-run's numbers: the provenance of ``run_figure`` (versions, commit,
    configuration key, profile, wall time, device), then every run behind the tables with the
    provenance stored when it was trained (``FigureResult.runs``)."""
    from IPython.display import display

    from valint.provenance import provenance_frame

    display(show_table(provenance_frame(result.provenance())))
    display(show_table(result.runs, precision=1))


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


def paper_scale_summary(recorded: pd.DataFrame) -> str:
    """The report's headline: how many of the book's claims (``claims.DISTINCT_CLAIMS``, each
    counted once whichever chapters this build executed) have a paper-scale verdict, and which.

    Args:
        recorded: ``record_verdicts()``, one row per recorded claim.
    """
    from valint.claims import DISTINCT_CLAIMS

    n_claims = len(DISTINCT_CLAIMS)
    unique = unique_claims(recorded) if len(recorded) else recorded
    if unique.empty:
        return (f"None of the {n_claims} claims has a paper-scale record yet, so every verdict "
                "below comes from this build's re-run.")
    unmeasured = unique[unique["n_seeds"].astype(int) == 0]
    unique = unique[unique["n_seeds"].astype(int) > 0]
    counts = verdict_counts(unique)
    figures = ", ".join(sorted(set(unique["figure"])))
    incomplete = sorted(set(unique.loc[unique["missing"] != "", "figure"]))
    text = (f"At the paper's scale, {len(unique)} of the {n_claims} claims have a record "
            f"({figures}): {_count(counts['holds'], 'holds', 'hold')}, "
            f"{_count(counts['fails'], 'fails', 'fail')} and "
            f"{_count(counts['inconclusive'], 'is inconclusive', 'are inconclusive')}.")
    undecided = undecided_sentence(unique)
    if undecided:
        text += " " + undecided
    if incomplete:
        text += (f" The records of {', '.join(incomplete)} are not complete yet; their verdicts "
                 "rest on what is recorded so far.")
    stale = sorted(set(unique.loc[unique["stale"].astype(bool), "figure"])) if "stale" in unique else []
    if stale:
        text += (f" The records of {', '.join(stale)} were made by earlier science code that "
                 "computes other numbers than the current code; their verdicts stand for that "
                 "code until the figures are re-recorded.")
    if len(unmeasured):
        more = "1 more claim" if len(unmeasured) == 1 else f"{len(unmeasured)} more claims"
        verb, pronoun = ("has", "it") if len(unmeasured) == 1 else ("have", "them")
        text += (f" {more} ({', '.join(sorted(set(unmeasured['figure'])))}) {verb} a record in "
                 f"progress that cannot measure {pronoun} yet: it lacks "
                 + "; ".join(sorted(set(unmeasured["missing"]))) + ".")
    return text


def _count(n: int, singular: str, plural: str) -> str:
    """``n`` and the verb that agrees with it: "1 holds", "3 hold"."""
    return f"{n} {singular if n == 1 else plural}"


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
    records) and this build's re-run, each with the direction and size of its deciding contrast
    (the ledger's ``effect``), verdicts coloured (the reproduction report).

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
            scale_effect = str(rec.get("effect", "") or "")
            run = f"{rec['n_seeds']} seeds" + (", stale" if bool(rec["stale"]) else "") + (
                ", incomplete" if rec["missing"] else "")
        else:
            scale, run, scale_effect = "not recorded", "", ""
        rows.append({
            "Figure": html.escape(str(row.figure)),
            "Claim": html.escape(str(row.claim)) + "<br><code>" + html.escape(str(row.claim_id))
            + "</code>",
            "Paper": html.escape(str(row.paper)),
            "Paper scale": scale,
            "Paper scale: direction and size": html.escape(scale_effect) or "\u2013",
            "Record": html.escape(run),
            "This build": str(row.verdict),
            "This build: direction and size": html.escape(str(getattr(row, "effect", "") or ""))
            or "\u2013",
            "Re-run": html.escape(f"{row.n_seeds} seeds, {row.profile}"),
        })
    shown = pd.DataFrame(rows, columns=["Figure", "Claim", "Paper", "Paper scale",
                                        "Paper scale: direction and size", "Record",
                                        "This build", "This build: direction and size", "Re-run"])
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
    return HTML(f"<p>{setting}</p>" + styled.to_html() + _gradient_html(data.get("gradient_step")))


def _gradient_html(gradients: dict | None) -> str:
    """The benchmark's three ways of computing one PPO minibatch gradient, as a paragraph and a
    table (nothing when the benchmark predates them)."""
    if gradients is None:
        return ""
    rows = pd.DataFrame(gradients["rows"]).rename(columns={
        "label": "gradient by", "ms": "ms per minibatch", "gflops": "GFLOP/s", "vs_kernel": "× kernel's time"})
    text = (f"One PPO minibatch gradient of {gradients['runs']} runs x {gradients['batch']} samples on "
            f"{gradients['threads']} thread (forward, loss, backward; no optimizer step), computed by "
            "the hand-written stacked kernel valint trains with, by <code>torch.func.vmap(grad(loss))"
            "</code> and by plain autograd on the stacked weights, from the same network table and "
            "the same loss (<code>valint.ppo.ppo_loss</code>):")
    table = show_table(rows[["gradient by", "ms per minibatch", "GFLOP/s", "× kernel's time"]], precision=2)
    return f"<p>{text}</p>" + table.to_html()


def _escaped(claims: pd.DataFrame, column: str) -> pd.Series:
    """A ledger column as HTML-escaped text, for cells that also carry markup."""
    return claims[column].astype(str).map(html.escape)


def _check_claim_columns(claims: pd.DataFrame, where: str) -> None:
    missing = [column for column in LEDGER_COLUMNS if column not in claims.columns]
    if missing:
        raise ValueError(f"claims of {where} lack the column(s) {missing} (docs/CONTRACTS.md)")


def rule_change_text(claim_id: str, verdict: str, first_verdict: str | None) -> str:
    """Say plainly that a claim's rule was written after a record had been judged, and show both
    verdicts (``valint.claims.RULE_CHANGES``); "" for a claim whose rule never changed.

    Args:
        claim_id: the claim.
        verdict: its verdict under the rule now in force.
        first_verdict: its verdict under the first rule (None where that cannot be computed).
    """
    from valint.claims import RULE_CHANGES

    change = RULE_CHANGES.get(claim_id)
    if change is None:
        return ""
    first = "cannot be computed here" if first_verdict is None else f"gives {first_verdict}"
    return (f"The rule that decides {claim_id} was written on {change.written}, after the first "
            f"paper-scale record had been judged by the first rule ({change.first_rule}). A "
            f"rule chosen after seeing a result is weaker evidence than one fixed before it. "
            f"Why it changed: {change.why}. Under the rule now in force ({change.rule}) the "
            f"claim {verdict}; the first rule {first}.")


def rule_changes_table(figures: Sequence[str] | None = None) -> pd.DataFrame:
    """Every verdict rule written after a paper-scale record had been judged
    (``valint.claims.RULE_CHANGES``), with both rules' verdicts on the committed record.

    Returns:
        One row per changed rule: claim_id, written, first_rule, first_verdict, rule, verdict
        ("not recorded" where the figure has no record).
    """
    from valint import records
    from valint.claims import RULE_CHANGES, first_rule_verdicts

    rows = []
    for claim_id, change in RULE_CHANGES.items():
        figure = claim_id.split("_")[0]
        if figures is not None and figure not in figures:
            continue
        record = records.load_record(figure)
        if record.empty:
            first = now = "not recorded"
        else:
            now = str(record.claims().set_index("claim_id").loc[claim_id, "verdict"])
            first = first_rule_verdicts(figure, record.tables).get(claim_id, "not computable")
        rows.append({"claim_id": claim_id, "written": change.written,
                     "first_rule": change.first_rule, "first_verdict": first,
                     "rule": change.rule, "verdict": now})
    return pd.DataFrame(rows, columns=["claim_id", "written", "first_rule", "first_verdict",
                                       "rule", "verdict"])


def _t_text(row) -> str:
    from valint.claims import _format_statistic

    return _format_statistic(row)


def mixed_vs_paired_sentences(paired: pd.DataFrame, mixed: pd.DataFrame, *,
                              alpha: float = 0.05) -> str:
    """Compare the paired seed contrasts and the mixed model of Fig. 5, per contrast, in words:
    whether their t statistics agree (within 5 %), whether they reach the same decision at
    ``alpha``, and whether the mixed fit is degenerate (``stats.mixed_model_condition_layout``).

    Args:
        paired: ``stats.seed_contrast_tests``.
        mixed: ``stats.mixed_model_condition_layout``.
    """
    by_contrast = mixed.set_index("contrast")
    sentences = []
    for row in paired.itertuples():
        if row.contrast not in by_contrast.index:
            continue
        fit = by_contrast.loc[row.contrast]
        t_paired, t_mixed = float(row.statistic), float(fit["statistic"])
        same_decision = (row.p_value < alpha) == (fit["p_value"] < alpha)
        close = (math.isfinite(t_paired) and math.isfinite(t_mixed)
                 and abs(t_mixed - t_paired) <= 0.05 * abs(t_paired))
        words = (f"For {row.contrast} the paired test gives {_t_text(paired.loc[row.Index])} and "
                 f"the mixed model {_t_text(fit)}: ")
        if not (math.isfinite(t_paired) and math.isfinite(t_mixed)):
            words += "at least one of them is no test here (one seed, or no spread)."
        else:
            words += "their t statistics agree within 5 %" if close else "their t statistics differ"
            words += (", and both reach the same decision at " if same_decision else
                      ", and they reach different decisions at ") + f"{alpha}."
        if not bool(fit["converged"]):
            words += (" The mixed fit did not converge, which makes the claims inconclusive "
                      "(the rule asks both analyses to agree).")
        elif bool(fit.get("degenerate", False)):
            reasons = []
            if bool(fit["boundary"]):
                reasons.append("its seed x condition variance is estimated at "
                               f"{float(fit['seed_condition_variance']):.2g} (on the boundary)")
            if not bool(fit["hessian_pd"]):
                reasons.append("its Hessian is not positive definite")
            words += (f" The mixed fit is degenerate ({'; '.join(reasons)}), so it is shown but "
                      "does not decide the verdict.")
        sentences.append(words)
    return " ".join(sentences)


def per_layout_sentences(per_layout: pd.DataFrame, *, alpha: float = 0.05) -> str:
    """Say, per contrast of ``stats.per_layout_t_tests`` (paired by seed, Holm over layouts),
    in which layouts the difference is significant after Holm's correction and which way it
    points, and where it is not, with the estimate and its unadjusted 95 % interval."""
    sentences = []
    for contrast, rows in per_layout.groupby("contrast", sort=False):
        if not rows["p_value"].notna().any():
            sentences.append(f"For {contrast}, no layout can be tested here (one seed, or no "
                             "spread).")
            continue
        significant = rows[rows["p_holm"] < alpha]
        other = rows[~(rows["p_holm"] < alpha)]

        def listed(frame):
            return ", ".join(
                f"{r.layout} ({r.estimate:+.3g}, 95% CI {r.ci_low:+.3g} to {r.ci_high:+.3g}, "
                f"Holm p = {r.p_holm:.2g})" for r in frame.itertuples())

        if other.empty:
            text = (f"For {contrast}, every one of the {len(rows)} layouts differs after Holm's "
                    f"correction at {alpha}: {listed(significant)}.")
        elif significant.empty:
            text = (f"For {contrast}, no layout differs after Holm's correction at {alpha}: "
                    f"{listed(other)}.")
        else:
            text = (f"For {contrast}, {len(significant)} of the {len(rows)} layouts differ after "
                    f"Holm's correction at {alpha}: {listed(significant)}; the others do not: "
                    f"{listed(other)}.")
        unadjusted = rows[(rows["p_value"] < alpha) & ~(rows["p_holm"] < alpha)]
        if len(unadjusted):
            text += (" Before the correction, p < " f"{alpha} also in "
                     + ", ".join(unadjusted["layout"]) + ".")
        sentences.append(text)
    return " ".join(sentences)


def reference_sentences(references: pd.DataFrame, value: str = "goals per episode") -> str:
    """Say, per condition of ``stats.phase2_references``, how its last phase-2 window compares
    with the end of phase 1 (the verdict's reference) and with the oracle over the same window
    (descriptive), each with its 95 % interval."""
    sentences = []
    for condition, rows in references.groupby("condition", sort=False):
        parts = []
        for row in rows.itertuples():
            if not math.isfinite(row.relative_change):
                parts.append(f"{row.estimate:+.3g} against {row.reference}")
                continue
            side = "above" if row.relative_change > 0 else "below"
            parts.append(f"{abs(row.relative_change):.0%} {side} the {row.reference} (95% CI "
                         f"{row.relative_ci_low:+.0%} to {row.relative_ci_high:+.0%})")
        sentences.append(f"With condition {condition}, {value} over the last phase-2 window lie "
                         + " and ".join(parts) + ".")
    return " ".join(sentences)


def fig7_phase1_length_study(curves: pd.DataFrame, profile: str) -> dict:
    """The "Re-run it yourself" chapter's check of a profile's Fig. 7 phase 1 on the record.

    The length is chosen on the record's seeds ``config.PHASE1_LENGTH_CHOSEN_ON[profile]``
    (``stats.choose_phase1_length``) and tested on the record's runs of the seeds the profile
    runs (``stats.phase1_length_check``), lengths in steps of 2 rollouts of the paper's PPO.

    Returns:
        ``by_length`` (``stats.phase1_learning_by_length`` on the seeds chosen on; None for a
        profile whose length was not chosen from the record), ``check`` (the one-row check, or
        None), ``steps`` (the profile's phase-1 length) and ``sentence``.
    """
    from valint import stats
    from valint.config import PAPER, PHASE1_LENGTH_CHOSEN_ON, PROFILES

    prof = PROFILES[profile]
    steps = prof.prosocial_phase1_rollouts * prof.prosocial_ppo.n_steps
    chosen_on = PHASE1_LENGTH_CHOSEN_ON.get(profile)
    if chosen_on is None:
        return {"by_length": None, "check": None, "steps": steps, "sentence": (
            f"The profile {profile} does not take its Fig. 7 phase 1 ({steps:,} steps) from the "
            "record, so there is nothing to check here; build this chapter with the profile "
            "quick to see the check.")}
    lengths = [r * PAPER.prosocial_ppo.n_steps
               for r in range(4, PAPER.prosocial_phase1_rollouts + 1, 2)]
    by_length = stats.phase1_learning_by_length(curves, lengths, seeds=chosen_on)
    check = stats.phase1_length_check(curves, lengths, chosen_on=chosen_on,
                                      run_seeds=range(prof.n_seeds), profile_steps=steps)
    row = check.iloc[0]
    found = row["chosen_steps"] is not None and row["chosen_steps"] == row["chosen_steps"]
    chosen = f"{int(row['chosen_steps']):,} steps" if found else "no length"
    sentence = (
        f"Chosen on the record's seeds {row['chosen_on']}, which the profile {profile} does not "
        f"run, the rule gives {chosen}; the profile's phase 1 is {steps:,} steps"
        f"{'' if row['matches'] else ', which is not the rule' + chr(39) + 's answer'}. Cut at "
        f"that length, {row['test_learned']} of the record's {row['test_seeds']} runs of the "
        f"seeds the profile runs ({row['run_seeds']}) had learned to help (weakest one-sided "
        f"p = {row['test_max_p_value']:.2g}): a test of the length on seeds it was not chosen "
        "on. A run of the profile replays these runs' first steps (the same PPO and world; "
        "only the stacking of seeds, and with it the last bits, may differ).")
    return {"by_length": by_length, "check": check, "steps": steps, "sentence": sentence}


def _ppo_steps(prof, n_seeds: int) -> int:
    """PPO environment steps of a Fig. 7 run of ``n_seeds`` seeds under ``prof``."""
    from valint.figures import plan_figure
    from valint.plan import workload

    runs = workload(plan_figure("fig7", prof, seeds=n_seeds).plan)
    return int((runs["rollouts"] * runs["n_steps"]).sum())


def fig7_phase2_length_study(curves: pd.DataFrame, profile: str) -> dict:
    """The "Re-run it yourself" chapter's resampling of the Fig. 7 record's phase 2.

    Every recorded run's phase 2 is cut after shorter lengths (steps of 2 rollouts, and the
    profile's), and both claims are judged on every group of as many of the record's seeds
    as the profile runs (``claims.fig7_verdicts_by_phase2_length``).

    Returns:
        ``by_length`` (None where the record has fewer seeds than the profile, or the profile
        fewer than two), ``steps`` (the profile's phase-2 length) and ``sentence``.
    """
    from valint import claims, stats
    from valint.config import PAPER, PROFILES

    prof = PROFILES[profile]
    steps = prof.prosocial_phase2_rollouts * prof.prosocial_ppo.n_steps
    recorded = int(curves["seed"].nunique())
    n_seeds = prof.n_seeds
    if not 2 <= n_seeds <= recorded:
        return {"by_length": None, "steps": steps, "sentence": (
            f"The profile {profile} runs {n_seeds} seeds and the record holds {recorded}: there "
            "are no groups of that size to cut from it.")}
    lengths = sorted({r * PAPER.prosocial_ppo.n_steps
                      for r in range(2, PAPER.prosocial_phase2_rollouts + 1, 2)} | {steps})
    by_length = claims.fig7_verdicts_by_phase2_length(curves, lengths, n_seeds=n_seeds)
    at = by_length[by_length["env_steps"] == steps].set_index("claim_id")
    groups = int(at["groups"].iloc[0])
    phase1 = PAPER.prosocial_phase1_rollouts * PAPER.prosocial_ppo.n_steps
    counts = "; ".join(
        f"{claim_id}: {int(at.loc[claim_id, 'holds'])} hold, {int(at.loc[claim_id, 'fails'])} "
        f"fail, {int(at.loc[claim_id, 'inconclusive'])} inconclusive"
        for claim_id in at.index)
    sentence = (
        f"These are resamples, not new runs: the {groups} groups of {n_seeds} out of the "
        f"record's {recorded} seeds overlap, and every recorded run had the full phase 1 of "
        f"{phase1:,} steps, where the profile {profile} trains "
        f"{prof.prosocial_phase1_rollouts * prof.prosocial_ppo.n_steps:,}. Cut at the profile's "
        f"phase 2 of {steps:,} steps, the groups give {counts}. ")
    reliable = stats.shortest_reliable_length(claims.fig7_phase2_summary(by_length),
                                              passed="decided", of="groups")
    if reliable is None:
        sentence += "At none of the lengths tried does every group get a verdict on both claims."
    elif reliable <= steps:
        sentence += (f"Every group gets a verdict (holds or fails) on both claims from "
                     f"{reliable:,} steps of phase 2 on.")
    else:
        rollouts = -(-reliable // prof.prosocial_ppo.n_steps)
        longer = prof.with_overrides(prosocial_phase2_rollouts=rollouts)
        sentence += (
            f"Every group gets a verdict (holds or fails) on both claims from {reliable:,} steps "
            f"of phase 2 on; a phase 2 of {rollouts} rollouts would make the figure train "
            f"{_ppo_steps(longer, n_seeds) / _ppo_steps(prof, n_seeds):.2f} times the PPO steps "
            "it trains now.")
    return {"by_length": by_length, "steps": steps, "sentence": sentence}


def undecided_sentence(claims: pd.DataFrame) -> str:
    """Every claim of a ledger that fails or is inconclusive, with the direction and size of
    its deciding contrast (the ledger's ``effect``): "fig6_reward_hacking fails: goals per
    episode +40% (...)."; "" when every claim holds."""
    undecided = claims[claims["verdict"] != "holds"]
    return " ".join(
        f"{row.claim_id} {row.verdict if row.verdict == 'fails' else 'is inconclusive'}: "
        f"{getattr(row, 'effect', '') or 'no effect recorded'}." for row in undecided.itertuples())


def robustness_sentence(summary: pd.DataFrame) -> str:
    """What the Fig. 7 robustness table says about the two unreported choices, computed: the
    variants of the world whose helping ended phase 1 above a random learner's level and those
    where it did not (``valint.figures.fig7_robustness_summary``)."""
    last = [column for column in summary.columns if column.startswith("sixth")][-1]
    rose = summary[summary[last] > summary["random_learner"]]
    flat = summary.drop(rose.index)

    def variants(frame: pd.DataFrame) -> str:
        return ", ".join(f"{r.layout_rule} with {r.obs_scale} inputs" for r in frame.itertuples())

    if flat.empty:
        return ("In this build every variant ended phase 1 above its random level, so at this "
                "scale the result does not hinge on these two choices.")
    text = f"In this build helping ended phase 1 at or below the random level in {variants(flat)}"
    if len(rose):
        text += f", and above it in {variants(rose)}"
    return (text + ": where it did not rise, phase 1 left nothing to internalize, so Figure 7 "
            "depends on these choices.")
