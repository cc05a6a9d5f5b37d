"""Does the re-run agree with the original? Our paper-scale numbers beside the authors'.

The authors published per-seed numbers for three panels (PAPER.md §10): the ISR's held-out MSE
per data size (Fig. 3b), the OOD reward per condition (Fig. 4b) and per layout and condition
(Fig. 5). Each such group is a **cell**. Per cell, this module sets the ten seeds of this
project's committed paper-scale record (``valint.records``) beside the authors' ten values
(``valint.pages.authors_per_seed``) and asks two questions:

- Do the means differ beyond chance? A Welch t-test of ours - theirs, unpaired: the authors'
  ``replicate`` is a list position, not a seed, and our seeds share nothing with theirs
  (PAPER.md §8), with Holm's correction over all the cells of the comparison.
- Are they shown equivalent? Two one-sided Welch tests (TOST) at a margin fixed before looking
  at the data, :data:`MARGIN_FRACTION` of the authors' mean; and, per cell, the narrowest
  symmetric margin the data could establish (the largest absolute end of the 90 % Welch
  interval), so that "not shown equivalent" can be read as a lack of power where it is one.

The spread of the seeds is compared as well (:func:`spread_table`, a Brown–Forsythe test), the
known protocol differences that can move a cell are listed with the code that made each record
(:func:`protocol_differences`), and what can still be compared for the figures without
published per-seed numbers is said in :func:`uncompared_figures`.

Every function is pure: it takes tidy frames (or the records) and returns a tidy frame. Column
names follow docs/CONTRACTS.md.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats as sps

from valint import pages, records, stats
from valint.provenance import same_science_codes

MARGIN_FRACTION = 0.10
"""The equivalence margin of a cell, as a fraction of the authors' mean, fixed before the
comparison was made: the same ±10 % that the claims ledger uses for its claims of no difference
(``valint.claims.ClaimRules``), a difference small enough not to change any reading of the
paper's figures."""

ALPHA = 0.05
"""Significance level of every test here (each one-sided test of TOST included)."""

COMPARED: tuple[str, ...] = ("3b", "4b", "5")
"""The panels with published per-seed numbers (PAPER.md §10), in the chapter's order."""

_RECORD_OF = {"3b": "fig3", "4b": "fig4", "5": "fig5"}
_AUTHORS_OF = {"3b": "fig3b", "4b": "fig4b", "5": "fig5"}
_MEASURE = {"3b": "isr_test_mse", "4b": "ood_reward", "5": "ood_reward"}
_CONDITIONS = ("frozen", "isr", "oracle")
_LAYOUTS = ("plus", "x", "U", "T", "4 rooms")

VALUE_COLUMNS: tuple[str, ...] = ("figure", "cell", "order", "measure", "source", "value")
"""Columns of :func:`comparison_values`: the panel ("3b", "4b", "5"), the cell's label, its
position in the chapter, the measured column (``isr_test_mse`` or ``ood_reward``), ``source``
("ours" or "authors") and one value per seed (ours) or list position (theirs)."""

FIRST_ROLLOUT_STEPS = 2_048
"""Steps of the first PPO rollout (PAPER.md §4): the episodes a learner plays before its first
update, with its initial policy."""



# ---------------------------------------------------------------------------------------------
# The values of each cell
# ---------------------------------------------------------------------------------------------


def comparison_values(ours: Mapping[str, pd.DataFrame],
                      authors: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Both runs' per-seed values of every cell, one row per value (columns :data:`VALUE_COLUMNS`).

    Cells: Fig. 3b per data size (matched by rank: our largest set holds 108,749 transitions,
    the authors' 108,748), Fig. 4b per condition, Fig. 5 per layout and condition. A panel
    missing from ``ours`` (no record yet) or from ``authors`` gives no cells.

    Args:
        ours: per panel ("3b", "4b", "5"), this project's table: ``isr_data_size`` (Fig. 3b) or
            ``ood`` (Figs. 4b, 5), as in docs/CONTRACTS.md.
        authors: per panel, the authors' CSV as ``valint.pages.authors_per_seed`` returns it.

    Returns:
        One row per value; ``order`` numbers the cells in the chapter's order.
    """
    frames = []
    order = 0
    for panel in COMPARED:
        if panel not in ours or panel not in authors or ours[panel].empty:
            continue
        measure = _MEASURE[panel]
        for label, mine, theirs in _cells(panel, ours[panel], authors[panel]):
            for source, values in (("ours", mine), ("authors", theirs)):
                frames.append(pd.DataFrame({"figure": panel, "cell": label, "order": order,
                                            "measure": measure, "source": source,
                                            "value": np.asarray(values, dtype=float)}))
            order += 1
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in VALUE_COLUMNS})
    return pd.concat(frames, ignore_index=True)[list(VALUE_COLUMNS)]


def _cells(panel: str, ours: pd.DataFrame, authors: pd.DataFrame):
    """(label, our values, their values) of each cell of one panel, in the chapter's order."""
    if panel == "3b":
        mine, theirs = sorted(ours["isr_train_transitions"].unique()), sorted(
            authors["isr_train_transitions"].unique())
        if len(mine) != len(theirs) or any(abs(a - b) > 0.001 * b for a, b in zip(mine, theirs)):
            raise ValueError(f"Fig. 3b data sizes do not match: ours {mine}, the authors' {theirs}")
        for a, b in zip(mine, theirs):
            label = f"{a:,} transitions" + ("" if a == b else f" (theirs {b:,})")
            yield (label, ours.loc[ours["isr_train_transitions"] == a, "isr_test_mse"],
                   authors.loc[authors["isr_train_transitions"] == b, "isr_test_mse"])
        return
    mine_c = ours.assign(condition=ours["condition"].str.lower())
    theirs_c = authors.assign(condition=authors["condition"].str.lower())
    layouts = _LAYOUTS if panel == "5" else (None,)
    for layout in layouts:
        for condition in _CONDITIONS:
            a = mine_c[mine_c["condition"] == condition]
            b = theirs_c[theirs_c["condition"] == condition]
            if layout is not None:
                a, b = a[a["layout"] == layout], b[b["layout"] == layout]
            if a.empty or b.empty:
                continue
            label = condition if layout is None else f"{layout} · {condition}"
            yield label, a["ood_reward"], b["ood_reward"]


def recorded_values(root=None) -> pd.DataFrame:
    """:func:`comparison_values` of the committed paper-scale records and the shipped authors'
    numbers (``records/paper/``, ``valint/data/authors/``).

    Args:
        root: the records folder (default ``valint.records.RECORDS_ROOT``).
    """
    ours, authors = {}, {}
    for panel in COMPARED:
        record = records.load_record(_RECORD_OF[panel], root)
        table = "isr_data_size" if panel == "3b" else "ood"
        if not record.empty and table in record.tables:
            ours[panel] = record.tables[table]
        authors[panel] = pages.authors_per_seed(_AUTHORS_OF[panel])
    return comparison_values(ours, authors)


# ---------------------------------------------------------------------------------------------
# Means: difference, Holm, equivalence
# ---------------------------------------------------------------------------------------------

AGREEMENT_COLUMNS: tuple[str, ...] = (
    "figure", "cell", "measure", "n_ours", "n_authors", "mean_ours", "sd_ours", "mean_authors",
    "sd_authors", "difference", "ci_low", "ci_high", "statistic", "df", "p_value", "p_holm",
    "ratio", "margin", "margin_pct", "eq_ci_low", "eq_ci_high", "p_tost", "equivalent",
    "narrowest_margin", "narrowest_margin_pct", "verdict", "equivalence",
)
"""Columns of :func:`agreement_table`: per cell both means and sample SDs and n; the
difference ours - theirs with its Welch 95 % interval, t, df, p and Holm's p over all cells;
the ratio of means (ours / theirs); the margin (±:data:`MARGIN_FRACTION` of the authors' mean,
also in %), the 90 % Welch interval, the TOST p and its verdict; the narrowest margin the data
establish (also in % of the authors' mean); ``verdict`` ("agrees within chance" or "differs",
from ``p_holm``) and ``equivalence`` ("shown equivalent" or "not shown equivalent")."""

Verdict = Literal["agrees within chance", "differs"]


def agreement_table(values: pd.DataFrame, *, margin_fraction: float = MARGIN_FRACTION,
                    alpha: float = ALPHA) -> pd.DataFrame:
    """Per cell, our mean beside the authors': Welch test, Holm, ratio and equivalence (TOST).

    All tests are unpaired (``valint.stats.welch_t_test``): the authors' list positions carry no
    seed identity (PAPER.md §8). Holm's correction runs over every cell of ``values``. TOST at
    level ``alpha`` passes exactly when the (1 - 2 alpha) Welch interval lies inside
    ±``margin_fraction`` x the authors' mean (``valint.stats.equivalence_test``); the narrowest
    margin the data could establish is the largest absolute end of that interval.

    Args:
        values: :func:`comparison_values`.
        margin_fraction: the equivalence margin as a fraction of the authors' mean.
        alpha: level of the tests.

    Returns:
        One row per cell, columns :data:`AGREEMENT_COLUMNS`, in the cells' order.
    """
    rows = []
    for (figure, cell, measure), group in values.groupby(["figure", "cell", "measure"],
                                                         sort=False):
        x = group.loc[group["source"] == "ours", "value"].to_numpy(dtype=float)
        y = group.loc[group["source"] == "authors", "value"].to_numpy(dtype=float)
        test = stats.welch_t_test(x, y, contrast="ours - authors", confidence=1 - alpha)
        margin = margin_fraction * abs(float(np.mean(y)))
        tost = stats.equivalence_test(test, margin=margin, alpha=alpha,
                                      confidence=1 - alpha).iloc[0]
        narrowest = max(abs(tost["eq_ci_low"]), abs(tost["eq_ci_high"]))
        rows.append({
            "figure": figure, "cell": cell, "measure": measure, "n_ours": len(x),
            "n_authors": len(y), "mean_ours": float(np.mean(x)), "sd_ours": _sd(x),
            "mean_authors": float(np.mean(y)), "sd_authors": _sd(y),
            "difference": float(tost["estimate"]), "ci_low": float(tost["ci_low"]),
            "ci_high": float(tost["ci_high"]), "statistic": float(tost["statistic"]),
            "df": float(tost["df"]), "p_value": float(tost["p_value"]),
            "ratio": float(np.mean(x) / np.mean(y)), "margin": margin,
            "margin_pct": 100 * margin_fraction, "eq_ci_low": float(tost["eq_ci_low"]),
            "eq_ci_high": float(tost["eq_ci_high"]), "p_tost": float(tost["p_tost"]),
            "equivalent": bool(tost["equivalent"]), "narrowest_margin": narrowest,
            "narrowest_margin_pct": 100 * narrowest / abs(float(np.mean(y))),
        })
    table = pd.DataFrame(rows, columns=[c for c in AGREEMENT_COLUMNS
                                        if c not in ("p_holm", "verdict", "equivalence")])
    table = stats.holm_correction(table)
    table["verdict"] = np.where(table["p_holm"] < alpha, "differs", "agrees within chance")
    table["equivalence"] = np.where(table["equivalent"], "shown equivalent",
                                    "not shown equivalent")
    return table[list(AGREEMENT_COLUMNS)].reset_index(drop=True)


def _sd(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


DISPLAY_COLUMNS: dict[str, str] = {
    "figure": "Fig.", "cell": "Cell", "n_ours": "n ours", "n_authors": "n theirs",
    "mean_ours": "Mean ours", "sd_ours": "SD ours", "mean_authors": "Mean theirs",
    "sd_authors": "SD theirs", "difference": "Ours − theirs", "ci": "95 % CI",
    "p_value": "p", "p_holm": "p (Holm)", "ratio": "Ours / theirs",
    "narrowest_margin_pct": "Narrowest margin (% of theirs)", "verdict": "Means",
    "equivalence": "Within ±10 %",
}
"""The page's headers of the columns of :func:`agreement_display`."""


def fmt(value: float) -> str:
    """A number as the chapter prints it: three significant digits (``"{:.3g}"``)."""
    return "–" if value is None or not math.isfinite(value) else f"{value:.3g}"


def agreement_display(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`agreement_table` as the chapter prints it: every number to three significant
    digits (:func:`fmt`), the margin in % to one decimal, headers of :data:`DISPLAY_COLUMNS`."""
    shown = pd.DataFrame({
        "figure": table["figure"], "cell": table["cell"],
        "n_ours": table["n_ours"].astype(str), "n_authors": table["n_authors"].astype(str),
        **{c: table[c].map(fmt) for c in ("mean_ours", "sd_ours", "mean_authors", "sd_authors",
                                          "difference")},
        "ci": [f"{fmt(lo)} to {fmt(hi)}" for lo, hi in zip(table["ci_low"], table["ci_high"])],
        **{c: table[c].map(fmt) for c in ("p_value", "p_holm", "ratio")},
        "narrowest_margin_pct": table["narrowest_margin_pct"].map(lambda v: f"±{v:.1f} %"),
        "verdict": table["verdict"], "equivalence": table["equivalence"],
    })
    return shown.rename(columns=DISPLAY_COLUMNS)


def figure_verdicts(table: pd.DataFrame, *, alpha: float = ALPHA) -> pd.DataFrame:
    """One row per panel of :func:`agreement_table`: its cells, how many differ, the smallest
    Holm p, how many are shown equivalent, the range of narrowest margins, and the verdict.

    Returns:
        Columns figure, n_cells, n_differ, min_p_holm, n_equivalent, narrowest_min_pct,
        narrowest_max_pct, verdict ("agrees with the original within chance" when no cell
        differs at ``alpha`` after Holm's correction, else "differs from the original"),
        sentence (the report's line).
    """
    rows = []
    for figure, cells in table.groupby("figure", sort=False):
        n_differ = int((cells["p_holm"] < alpha).sum())
        verdict = ("agrees with the original within chance" if n_differ == 0
                   else "differs from the original")
        differing = ", ".join(cells.loc[cells["p_holm"] < alpha, "cell"])
        sentence = (f"Figure {figure} {verdict}: {len(cells)} cells, "
                    + (f"{n_differ} differ ({differing})" if n_differ else "none differs")
                    + f" after Holm's correction (smallest corrected p = {fmt(cells['p_holm'].min())}); "
                    f"{int(cells['equivalent'].sum())} shown equivalent within "
                    f"±{cells['margin_pct'].iloc[0]:.0f} % of the authors' mean.")
        rows.append({"figure": figure, "n_cells": len(cells), "n_differ": n_differ,
                     "min_p_holm": float(cells["p_holm"].min()),
                     "n_equivalent": int(cells["equivalent"].sum()),
                     "narrowest_min_pct": float(cells["narrowest_margin_pct"].min()),
                     "narrowest_max_pct": float(cells["narrowest_margin_pct"].max()),
                     "verdict": verdict, "sentence": sentence})
    return pd.DataFrame(rows, columns=["figure", "n_cells", "n_differ", "min_p_holm",
                                       "n_equivalent", "narrowest_min_pct",
                                       "narrowest_max_pct", "verdict", "sentence"])


def headline(table: pd.DataFrame, spread: pd.DataFrame, *, alpha: float = ALPHA) -> dict[str, str]:
    """The sentences the chapter glues, every "agrees" or "differs" computed from the tables.

    Returns:
        ``means`` (cells, how many differ, smallest Holm p), ``largest`` (the cells with the
        smallest raw p), ``equivalence`` (how many are shown equivalent, the narrowest
        margins), ``spread`` (largest SD ratios, spreads that differ), one ``fig<panel>`` per
        panel (:func:`figure_verdicts`).
    """
    if table.empty:
        return {"means": "No cell can be compared: no paper-scale record is committed yet.",
                "largest": "", "equivalence": "", "spread": ""}
    n_differ = int((table["p_holm"] < alpha).sum())
    differing = ", ".join(f"{r.figure} {r.cell}" for r in table[table["p_holm"] < alpha]
                          .itertuples())
    means = (f"Of the {len(table)} cells, "
             + (f"{n_differ} differ{'s' if n_differ == 1 else ''} from the original beyond "
                f"chance ({differing})" if n_differ else
                "none differs from the original beyond chance: every cell agrees within chance")
             + f" (Welch tests, Holm's correction over all {len(table)} cells; smallest "
             f"corrected p = {fmt(table['p_holm'].min())}).")
    smallest = table.nsmallest(3, "p_value")
    largest = "The smallest uncorrected p-values: " + "; ".join(
        f"Fig. {r.figure} {r.cell}, ours − theirs = {fmt(r.difference)} "
        f"(95 % CI {fmt(r.ci_low)} to {fmt(r.ci_high)}, p = {fmt(r.p_value)}, "
        f"Holm p = {fmt(r.p_holm)}; ours / theirs = {fmt(r.ratio)})"
        for r in smallest.itertuples()) + "."
    n_eq = int(table["equivalent"].sum())
    best = table.nsmallest(1, "narrowest_margin_pct").iloc[0]
    worst = table.nlargest(1, "narrowest_margin_pct").iloc[0]
    equivalence = (
        f"{n_eq} of the {len(table)} cells {'is' if n_eq == 1 else 'are'} shown equivalent "
        f"within ±{table['margin_pct'].iloc[0]:.0f} % of the authors' mean. The narrowest "
        f"margin the data could establish runs from ±{best['narrowest_margin_pct']:.1f} % "
        f"(Fig. {best['figure']} {best['cell']}) to ±{worst['narrowest_margin_pct']:.1f} % "
        f"(Fig. {worst['figure']} {worst['cell']}); the median cell needs "
        f"±{table['narrowest_margin_pct'].median():.1f} %.")
    n_spread = int((spread["p_holm"] < alpha).sum())
    top = spread.nlargest(3, "sd_ratio")
    spread_sentence = (
        "Our SD over theirs is largest in " + "; ".join(
            f"Fig. {r.figure} {r.cell} ({fmt(r.sd_ratio)}×, p = {fmt(r.p_value)})"
            for r in top.itertuples())
        + f" and smallest in Fig. {spread.nsmallest(1, 'sd_ratio').iloc[0]['figure']} "
        f"{spread.nsmallest(1, 'sd_ratio').iloc[0]['cell']} "
        f"({fmt(spread['sd_ratio'].min())}×). After Holm's correction over the "
        f"{len(spread)} cells, "
        + (f"{n_spread} cell{'s' if n_spread != 1 else ''} show{'s' if n_spread == 1 else ''} a "
           "spread that differs from the original" if n_spread else
           "no cell's spread differs from the original beyond chance") + ".")
    out = {"means": means, "largest": largest, "equivalence": equivalence,
           "spread": spread_sentence}
    for row in figure_verdicts(table, alpha=alpha).itertuples():
        out[f"fig{row.figure}"] = row.sentence
    return out


# ---------------------------------------------------------------------------------------------
# Spread
# ---------------------------------------------------------------------------------------------


def spread_table(values: pd.DataFrame, *, alpha: float = ALPHA) -> pd.DataFrame:
    """Per cell, our SD beside the authors' and a Brown–Forsythe test of equal spread.

    Brown–Forsythe is Levene's test on absolute deviations from each sample's median
    (``scipy.stats.levene(center="median")``), robust to the skewed, bounded rewards of a few
    seeds. Holm's correction runs over all cells. A spread several times the authors' is a
    finding even where the means agree: it changes the power of every test on that cell.

    Returns:
        One row per cell: figure, cell, sd_ours, sd_authors, sd_ratio (ours / theirs),
        statistic, p_value, p_holm, spread ("differs" or "agrees within chance").
    """
    rows = []
    for (figure, cell), group in values.groupby(["figure", "cell"], sort=False):
        x = group.loc[group["source"] == "ours", "value"].to_numpy(dtype=float)
        y = group.loc[group["source"] == "authors", "value"].to_numpy(dtype=float)
        test = sps.levene(x, y, center="median")
        rows.append({"figure": figure, "cell": cell, "sd_ours": _sd(x), "sd_authors": _sd(y),
                     "sd_ratio": _sd(x) / _sd(y), "statistic": float(test.statistic),
                     "p_value": float(test.pvalue)})
    table = stats.holm_correction(pd.DataFrame(rows, columns=[
        "figure", "cell", "sd_ours", "sd_authors", "sd_ratio", "statistic", "p_value"]))
    table["spread"] = np.where(table["p_holm"] < alpha, "differs", "agrees within chance")
    return table


def spread_display(spread: pd.DataFrame) -> pd.DataFrame:
    """:func:`spread_table` as the chapter prints it (three significant digits, :func:`fmt`)."""
    return pd.DataFrame({
        "Fig.": spread["figure"], "Cell": spread["cell"],
        **{name: spread[c].map(fmt) for name, c in (
            ("SD ours", "sd_ours"), ("SD theirs", "sd_authors"), ("Ours / theirs", "sd_ratio"),
            ("F (Brown–Forsythe)", "statistic"), ("p", "p_value"), ("p (Holm)", "p_holm"))},
        "Spread": spread["spread"],
    })


# ---------------------------------------------------------------------------------------------
# Known protocol differences, and the figures without published per-seed numbers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProtocolDifference:
    """A known difference between this project's protocol and the authors' that can move a
    cell's value."""

    figure: str
    """The panel it touches ("3b", "4b", "5", "7")."""
    record: str
    """The record whose runs carry it (``valint.records``)."""
    cells: str
    """The cells it can move, in words."""
    what: str
    """The difference and the direction it can move the cell."""
    anchor: str
    """Where PAPER.md states it."""
    known_in: tuple[str, ...] | None
    """Science-code hashes known to have it (with every code declared the same,
    ``valint.provenance.SAME_SCIENCE``); ``None`` for a deliberate, permanent decision of the
    project, which every record has."""
    fixed_in: tuple[str, ...] = ()
    """Science-code hashes known to be free of it (the code that fixed it, with every code
    declared the same for the record's figure)."""


KNOWN_DIFFERENCES: tuple[ProtocolDifference, ...] = (
    ProtocolDifference(
        "3b", "fig3", "every data size",
        "The authors' ISR 'test loss' took an optimizer step on every test sample, so their test "
        "set was trained on while it was scored; ours is held out and never updates the ISR. "
        "Training on the scored samples moves their MSE, and its level is not a held-out error.",
        "PAPER.md §9", None),
    ProtocolDifference(
        "3b", "fig3", "every data size",
        "The authors' ISR convolved channels-last tensors (over the x axis as if it were "
        "channels); ours convolves the channels (PAPER.md §4). A different network, so a "
        "different error at any data size, in either direction.",
        "PAPER.md §9", None),
    ProtocolDifference(
        "4b", "fig4", "the ISR cell",
        "The ISR's convolutions, as for Fig. 3b: the internal reward that trains the ISR "
        "learner in phase 2 comes from a different network.",
        "PAPER.md §9", None),
    ProtocolDifference(
        "5", "fig5", "the ISR cells of every layout",
        "The ISR's convolutions, as for Fig. 3b.",
        "PAPER.md §9", None),
    ProtocolDifference(
        "5", "fig5", "every cell (phase 2 of all three conditions starts from it)",
        "The best phase-1 checkpoint was stored one PPO update late: the weights after the "
        "update that followed the scored episodes, not the weights that played them; the final "
        "update of phase 1, never a candidate for the authors, was picked for 6 of 10 seeds.",
        "PAPER.md §6", ("328d367987f49a17",), ("f063b3f52506a1a7",)),
    ProtocolDifference(
        "7", "fig7", "the levels of every curve",
        "The two-agent world's layout rule checked the 2×2 rule on interior windows only and "
        "placed the learner in the partner's part when the goal's part had no leaf: a world "
        "where a random learner reaches 0.27 partner goals per episode, against about 0.34 in "
        "the authors'.",
        "PAPER.md §7", ("328d367987f49a17",), ("17249432bc6b4302",)),
    ProtocolDifference(
        "7", "fig7", "the spread across seeds",
        "The authors' two-agent environment reset the global NumPy seed in its constructor, so "
        "all their seeds shared the environment's randomness; each of our runs has its own "
        "generator.",
        "PAPER.md §9", None),
)
"""Every known protocol difference that can move a compared cell or level (PAPER.md §6, §7,
§9). A difference with ``known_in`` applies to a record made by one of those codes; once a
record is made by other code, the page says so and names the code instead of asserting it."""


def protocol_differences(record_codes: Mapping[str, set[str] | frozenset[str]]) -> pd.DataFrame:
    """The known protocol differences (:data:`KNOWN_DIFFERENCES`), each with whether the
    committed record has it, read from the science code that made the record.

    Args:
        record_codes: per record name ("fig3", "fig4", "fig5", "fig7"), the science-code
            hashes of its parts (``Record.parts["science_code"]``); empty when not recorded.

    Returns:
        One row per difference: figure, cells, difference, source (PAPER.md section), status.
    """
    rows = []
    for diff in KNOWN_DIFFERENCES:
        codes = sorted(record_codes.get(diff.record, ()))
        if not codes:
            status = "no paper-scale record yet"
        elif diff.known_in is None:
            status = "in every record: a decision of this project, not a defect"
        else:
            known = frozenset().union(*(same_science_codes(c, diff.record) for c in diff.known_in))
            fixed = frozenset().union(*(same_science_codes(c, diff.record) for c in diff.fixed_in))
            has = [c for c in codes if c in known]
            if all(c in fixed for c in codes):
                status = (f"fixed: the committed record was made by science code "
                          f"{', '.join(codes)}, which follows PAPER.md")
            elif len(has) == len(codes):
                status = (f"in the committed record: made by science code {', '.join(codes)}, "
                          "which has it")
            elif has:
                status = (f"in part of the record: {', '.join(has)} has it, "
                          f"{', '.join(c for c in codes if c not in known)} is later code")
            else:
                status = (f"the record was made by science code {', '.join(codes)}, later than "
                          "the code known to have it; check that it was re-recorded after the fix")
        rows.append({"figure": diff.figure, "cells": diff.cells, "difference": diff.what,
                     "source": diff.anchor, "status": status})
    return pd.DataFrame(rows, columns=["figure", "cells", "difference", "source", "status"])


def record_codes(root=None) -> dict[str, set[str]]:
    """The science-code hashes of every committed record's parts, per record name (for
    :func:`protocol_differences`)."""
    names = sorted({d.record for d in KNOWN_DIFFERENCES})
    return {name: set(records.load_record(name, root).parts["science_code"].astype(str))
            for name in names}


def initial_policy_level(curves: pd.DataFrame, *, value: str = "partner_goals_per_episode",
                         steps: int = FIRST_ROLLOUT_STEPS, confidence: float = 0.95) -> pd.DataFrame:
    """Fig. 7: partner goals per episode while the learner still plays its initial policy.

    The episodes of phase 1 within the first rollout (``env_steps <= steps``) are played before
    the first PPO update, by the freshly initialised policy. That policy is not uniform, so its
    level is only a rough counterpart of the random-learner level of PAPER.md §7
    (``valint.figures.fig7_random_learner``); it is the closest number a Fig. 7 record holds.

    Args:
        curves: the Fig. 7 ``curves`` table (docs/CONTRACTS.md).
        value: the column averaged.
        steps: the steps of the first rollout.
        confidence: level of the t interval across seeds.

    Returns:
        One row: episodes, n_seeds, level (mean of the seeds' means), ci_low, ci_high.
    """
    first = curves[(curves["phase"] == 1) & (curves["env_steps"] <= steps)]
    per_seed = first.groupby("seed")[value].mean().to_numpy(dtype=float)
    n = len(per_seed)
    level = float(np.mean(per_seed)) if n else math.nan
    half = (float(sps.t.ppf(0.5 + confidence / 2, n - 1) * np.std(per_seed, ddof=1) / math.sqrt(n))
            if n > 1 else math.nan)
    return pd.DataFrame([{"episodes": len(first), "n_seeds": n, "level": level,
                          "ci_low": level - half, "ci_high": level + half}])


def uncompared_figures(random_level: pd.DataFrame,
                       fig7_level: pd.DataFrame | None = None) -> pd.DataFrame:
    """The figures without published per-seed numbers: what can still be compared, what cannot.

    Args:
        random_level: ``valint.figures.fig7_random_learner()``: a uniformly random learner's
            partner goals per episode in this project's two-agent world, with its interval and
            the authors' world's level (PAPER.md §7).
        fig7_level: :func:`initial_policy_level` of the Fig. 7 record, or ``None`` when there
            is none.

    Returns:
        One row per figure (1b, 3a, 4a, 6, 7): figure, published (what the paper shows),
        comparable (what can still be set beside ours), not_comparable.
    """
    if fig7_level is None or fig7_level.empty or not fig7_level["n_seeds"].iloc[0]:
        ours7 = "no Fig. 7 record yet"
    else:
        r = fig7_level.iloc[0]
        ours7 = (f"the record's initial policy over its first {FIRST_ROLLOUT_STEPS:,} steps: "
                 f"{fmt(r['level'])} (95 % CI {fmt(r['ci_low'])} to {fmt(r['ci_high'])}, "
                 f"{int(r['n_seeds'])} seeds, {int(r['episodes'])} episodes)")
    authors = random_level.set_index("layout_rule").loc["authors"]
    random7 = (f"a uniformly random learner's partner goals per episode: ours "
               f"{fmt(authors['mean'])} (95 % CI {fmt(authors['ci_low'])} to "
               f"{fmt(authors['ci_high'])}, {int(authors['episodes']):,} episodes), the authors' "
               f"world {fmt(authors['authors_low'])} to {fmt(authors['authors_high'])} (PAPER.md "
               "§7, an independent re-implementation of their world, not the authors' number)")
    rows = [
        ("1b", "learning curves of 10 seeds, smoothed, min–max band; no numbers",
         "the shape: learned with the caregiver, unlearned after it leaves (the claims ledger)",
         "any level (goals per episode): the paper gives none, and its 'Goals reached' axes "
         "were relabelled by hand (PAPER.md §9)"),
        ("3a", "one seed's train and test MSE curve; 'no measurable gap'",
         "the claim of no train–test gap (the claims ledger)",
         "the MSE level: their test set was trained on and their ISR convolved the wrong axis "
         "(PAPER.md §9)"),
        ("4a", "learning curves as 1b, with and without the ISR",
         "the shapes: unlearning without the ISR, no loss with it (the claims ledger)",
         "any level, as for 1b"),
        ("6", "one run in layout 'x'; internal reward rises while goals do not",
         "the direction of both curves (the claims ledger)",
         "the levels: one run, with the hand-relabelled goal axis (PAPER.md §9)"),
        ("7", "learning curves of 10 seeds, min–max band; no numbers",
         f"{random7}; {ours7}",
         "the curves' levels: the paper gives none"),
    ]
    return pd.DataFrame(rows, columns=["figure", "published", "comparable", "not_comparable"])


def report_lines(table: pd.DataFrame) -> pd.DataFrame:
    """One line per figure of the paper for the reproduction report: the computed verdict of
    :func:`figure_verdicts` for Figs. 3b, 4b and 5, and for the other figures that the authors
    published no per-seed numbers to compare with.

    Returns:
        Columns figure, line.
    """
    computed = {r.figure: r.sentence for r in figure_verdicts(table).itertuples()}
    rows = []
    for figure in ("1b", "3a", "3b", "4a", "4b", "5", "6", "7"):
        if figure in computed:
            line = computed[figure]
        elif figure in COMPARED:
            line = f"Figure {figure}: no paper-scale record yet, so nothing to compare."
        else:
            line = (f"Figure {figure}: not compared; the authors published no per-seed numbers "
                    "for it.")
        rows.append({"figure": figure, "line": line})
    return pd.DataFrame(rows, columns=["figure", "line"])
