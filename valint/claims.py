"""The claims ledger of PAPER.md §2: what the paper claims per figure, and whether this run agrees.

One function per figure (:func:`claims_fig1` ... :func:`claims_fig7`; each figure's
``valint.figures.FigureSpec`` names its own, and ``valint.figures.figure_claims`` dispatches)
turns a figure's tidy tables (docs/CONTRACTS.md) into ledger rows with the columns of
:data:`LEDGER_COLUMNS`::

    claim_id, figure, claim, paper, as_published, measured, verdict, effect, margin, method,
    n_seeds, profile

The paper's side of every row (its words and its numbers, PAPER.md §2 and §8) sits in one dict,
:data:`PAPER_CLAIMS`; the measured side is computed by ``valint.stats`` from the tables, and
nothing about a run is written here.

Verdict rules (every verdict function below restates its own; alpha = 0.05):

- A claim of a **difference** ("ISR > frozen", "internal reward rises", "unlearned"):
  ``holds`` if the sound test (paired by seed, since a seed's conditions share its phase-1
  learner) is significant (two-sided p < alpha) in the paper's direction, and, for unlearning,
  the drop is at least 25 % of the phase-1 level; ``fails`` if it is significant the other way
  (or, for unlearning, a drop of 25 % is ruled out); ``inconclusive`` otherwise.
- A claim of **no difference** or **no loss** ("ISR ~ oracle", "no measurable loss", "no
  train/test gap", "goals do not rise") is an equivalence claim, decided by two one-sided tests
  (``valint.stats.equivalence_test``) within a margin delta that is fixed here, per claim,
  before any data (:class:`ClaimRules`; the ``margin`` column of the ledger states it):
  ``holds`` if the 90 % confidence interval of the difference lies inside the margin (both
  one-sided tests reject at alpha); ``fails`` if it lies wholly beyond the margin (a
  difference larger than delta is shown); ``inconclusive`` otherwise. Non-significance alone
  never makes a claim of no difference hold.
- Where the design admits two sound analyses (Fig. 5: the paired seed contrasts and the mixed
  model with a seed x condition component) the verdict needs both to agree; a mixed model
  that did not converge gives ``inconclusive``, with its warnings in ``method``. A mixed model
  whose fit is on the boundary (a variance component estimated at zero) or whose Hessian is
  not positive definite is shown, said to be so, and left out of the verdict, which then rests
  on the paired test: such a fit has dropped the clustering it was chosen to model.
- Fig. 3a's "no measurable gap" is one-sided non-inferiority of the held-out error against the
  time-matched last training tenth (:data:`RULE_CHANGES`: this rule was written after the first
  paper-scale record's result; the first rule's chronological contrast stays in ``measured``).
- The paper's own test on our data (Student t for Fig. 4b, OLS ``condition * layout`` for
  Fig. 5) is shown in the ``as_published`` column and does not decide the verdict.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from valint import stats

Verdict = Literal["holds", "fails", "inconclusive"]

LEDGER_COLUMNS: tuple[str, ...] = (
    "claim_id",
    "figure",
    "claim",
    "paper",
    "as_published",
    "measured",
    "verdict",
    "effect",
    "margin",
    "method",
    "n_seeds",
    "profile",
)
"""Columns of the claims ledger (docs/CONTRACTS.md). ``effect`` says in words which way and how
far the deciding contrast points, with its interval, so that no verdict is shown without it."""

PAPER_CLAIMS: dict[str, dict[str, str]] = {
    "fig1_none_unlearns": {
        "figure": "fig1",
        "claim": "The goal-directed behaviour is unlearned once the caregiver leaves (none).",
        "paper": "learning curves, 10 seeds, min-max band; no test reported (Fig. 1b)",
    },
    "fig3_isr_no_train_test_gap": {
        "figure": "fig3",
        "claim": "The ISR model converges with no measurable gap between train and test "
        "performance.",
        "paper": "training curve of one seed; no test reported (Fig. 3a)",
    },
    "fig3_isr_loss_decreases_with_data": {
        "figure": "fig3",
        "claim": "ISR test loss continually decreases when trained with more social rewards.",
        "paper": "10 seeds, mean +/- SEM per data size on log axes; no test reported (Fig. 3b)",
    },
    "fig4_none_unlearns": {
        "figure": "fig4",
        "claim": "Without the ISR model the agent quickly unlearns the behaviour (none).",
        "paper": "learning curves, 10 seeds, min-max band; no test reported (Fig. 4a; the same "
        "runs as Fig. 1b)",
    },
    "fig4_isr_no_loss": {
        "figure": "fig4",
        "claim": "The ISR model prevents unlearning with no measurable loss in performance (isr).",
        "paper": "learning curves, 10 seeds, min-max band; no test reported (Fig. 4a)",
    },
    "fig4_isr_gt_frozen_ood": {
        "figure": "fig4",
        "claim": "ISR OOD performance is significantly greater than the frozen baseline.",
        "paper": "frozen - isr: p < 0.05 (t-test); t(18) = -2.38, p = 0.029 on the authors' "
        "per-seed data (Fig. 4b; PAPER.md §8)",
    },
    "fig4_isr_eq_oracle_ood": {
        "figure": "fig4",
        "claim": "ISR OOD performance is not significantly different from the oracle.",
        "paper": "isr - oracle: p = 0.32 (t-test); t(18) = -1.02 on the authors' per-seed data "
        "(Fig. 4b; PAPER.md §8)",
    },
    "fig5_isr_gt_frozen": {
        "figure": "fig5",
        "claim": "The ISR significantly outperforms the frozen model OOD on the five custom "
        "layouts.",
        "paper": "frozen - isr: t = -3.66, p < 0.001 ('linear mixed-effect model'; in the "
        "authors' code OLS condition x layout, the effect in layout T only; PAPER.md §8)",
    },
    "fig5_isr_eq_oracle": {
        "figure": "fig5",
        "claim": "The ISR does not significantly differ from the oracle OOD on the five custom "
        "layouts.",
        "paper": "isr - oracle: t = -1.12, p = 0.27 on the authors' data (printed as t = 1.12, "
        "the sign of oracle - isr; OLS condition x layout, layout T only; PAPER.md §8)",
    },
    "fig6_reward_hacking": {
        "figure": "fig6",
        "claim": "With an under-trained ISR, internal reward rises during phase 2 while the goals "
        "reached do not (reward hacking).",
        "paper": "curves of one run in layout x; no test reported (Fig. 6)",
    },
    "fig7_isr_helping_continues": {
        "figure": "fig7",
        "claim": "Prosocial helping continues after the caregiver leaves with the ISR model.",
        "paper": "learning curves, 10 seeds, min-max band; no test reported (Fig. 7)",
    },
    "fig7_none_helping_decays": {
        "figure": "fig7",
        "claim": "Prosocial helping decays after the caregiver leaves without the ISR model.",
        "paper": "learning curves, 10 seeds, min-max band; no test reported (Fig. 7)",
    },
}
"""The paper's side of the ledger: figure, claim in words and what the paper reports, by
claim_id (PAPER.md §2 captions; §8 for the numbers on the authors' per-seed data). Signs follow
this project's contrasts ("a - b" is a minus b)."""

SAME_CLAIM: dict[str, str] = {"fig4_none_unlearns": "fig1_none_unlearns"}
"""Claims that are the same test on the same runs as another claim (Fig. 4a reuses the runs
of Fig. 1b): each chapter shows its row, the reproduction report counts the claim once."""

DISTINCT_CLAIMS: tuple[str, ...] = tuple(c for c in PAPER_CLAIMS if c not in SAME_CLAIM)
"""Every claim the book checks, each once (the reproduction report's count of claims)."""


@dataclass(frozen=True)
class ClaimRules:
    """Thresholds and equivalence margins of the verdict rules (module docstring).

    The margins are fixed here, in code that never sees a run, and each is a fraction of a
    reference level that the claim itself names, so that "equal" means "closer than a
    difference anyone would call meaningful":

    - ``ood_margin``: "the ISR does not differ from the oracle" (Figs. 4b, 5) holds if ISR and
      oracle are within 10 % of the oracle's mean OOD return. On the authors' Fig. 4b data the
      effect the paper calls significant, ISR over frozen, is 13 % of the oracle's return, so
      a 10 % margin asks the ISR to be closer to the oracle than it is to the frozen learner.
    - ``no_loss_margin``: "no measurable loss" (Figs. 4a, 7) holds if phase 2 stays within
      10 % below the phase-1 level; a loss of a tenth of the behaviour is the smallest one a
      reader of the learning curves would notice.
    - ``gap_margin``: "no measurable train/test gap" (Fig. 3a) holds if the held-out MSE is
      shown to exceed that of the last training tenth by less than 25 % (a ratio below 1.25);
      on the log axis of Fig. 3a a ratio of 1.25 between the two curves is a tenth of a decade,
      about the smallest separation such a plot shows.
    - ``no_rise_margin``: "goals reached do not rise" (Fig. 6) holds if the goals per episode
      rise by less than 10 % of their level at the start of phase 2.
    """

    alpha: float = 0.05
    """Two-sided significance level: the paper's "p < 0.05" standard (Fig. 4b). The
    equivalence tests run each one-sided test at this level (a 90 % interval)."""
    window_fraction: float = stats.DEFAULT_WINDOW_FRACTION
    """Learning-curve window as a fraction of the phase-2 (or logged) episodes: last 10 %."""
    min_relative_drop: float = 0.25
    """Unlearning needs a phase-2 level at least 25 % below the phase-1 level (point estimate);
    a CI that excludes such a drop makes the claim fail."""
    no_loss_margin: float = 0.10
    """Equivalence margin of "no measurable loss": 10 % of the phase-1 level."""
    gap_margin: float = 0.25
    """Non-inferiority margin of "no train/test gap": a held-out MSE 25 % above that of the last
    training tenth (a ratio of 1.25, tested on the log scale)."""
    ood_margin: float = 0.10
    """Equivalence margin of "ISR ~ oracle" OOD: 10 % of the oracle's mean OOD return."""
    no_rise_margin: float = 0.10
    """Margin of "goals do not rise" (Fig. 6): 10 % of the first-window goals per episode."""


MARGINS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "ood_margin": (("fig4_isr_eq_oracle_ood", "fig5_isr_eq_oracle"), "both",
                   "the oracle's mean OOD return"),
    "no_loss_margin": (("fig4_isr_no_loss", "fig7_isr_helping_continues"), "lower",
                       "the phase-1 level"),
    "gap_margin": (("fig3_isr_no_train_test_gap",), "upper",
                   "the last training tenth's MSE (as a ratio, on the log scale)"),
    "no_rise_margin": (("fig6_reward_hacking",), "upper",
                       "the goals per episode at the start of phase 2"),
}
"""Which :class:`ClaimRules` margin decides which claims, on which side, relative to what."""


@dataclass(frozen=True)
class RuleChange:
    """A verdict rule replaced after a paper-scale record had been judged by the first one.

    A rule chosen after seeing a result is weaker evidence than one fixed before it, so the
    book says so wherever the claim appears, and shows the first rule's result beside the new
    one's. A record's ledger written under the first rule still checks
    (``valint.records.check_record``): its verdict is compared with the first rule's.
    """

    claim_id: str
    written: str
    """When the new rule was written (UTC date) and by which issue."""
    first_rule: str
    """The first rule, in words."""
    rule: str
    """The rule now in force, in words."""
    why: str
    """Why the first rule measured something else than the claim."""
    marker: str
    """Text that the ``method`` of every ledger row judged by the new rule contains."""


RULE_CHANGES: dict[str, RuleChange] = {
    "fig3_isr_no_train_test_gap": RuleChange(
        claim_id="fig3_isr_no_train_test_gap",
        written="2026-12-06",
        first_rule="two-sided equivalence (TOST) of the held-out MSE and the MSE on the whole "
        "training split at the end of training, within +/-25 % of the train MSE",
        rule="one-sided non-inferiority of the held-out MSE against the MSE of the last "
        "training tenth of phase 1, on the log-ratio, margin +25 %, t on seeds - 1",
        why="the held-out set is the last tenth of phase 1 and the training split its first "
        "nine tenths, whose early states are far harder (the error falls about tenfold along "
        "phase 1); the claim is about overfitting, which would lift the held-out error above "
        "that of training states of the same time, not about how hard early phase 1 is",
        marker="rule written after the first record's result",
    ),
}
"""Verdict rules changed after a paper-scale record was judged (:class:`RuleChange`)."""


def first_rule_verdicts(figure: str, tables: Mapping[str, pd.DataFrame],
                        rules: ClaimRules | None = None) -> dict[str, Verdict]:
    """The verdicts of the claims of :data:`RULE_CHANGES` under their first rules, by claim_id.

    Args:
        figure: the figure whose tables these are.
        tables: its tidy tables.
        rules: verdict thresholds.
    """
    rules = rules or ClaimRules()
    out: dict[str, Verdict] = {}
    if figure == "fig3" and "isr_curve" in tables:
        out["fig3_isr_no_train_test_gap"] = verdict_equivalence(
            _chronological_gap(tables["isr_curve"], rules))
    return out


def margins_table(rules: ClaimRules = ClaimRules()) -> pd.DataFrame:
    """The equivalence margins of the ledger, one row per margin (fixed before any run).

    Returns:
        Columns ``margin`` (the :class:`ClaimRules` field), ``fraction``, ``of``, ``side``
        ("both": within +/-delta; "lower": no loss beyond delta; "upper": no rise beyond delta)
        and ``claims``.
    """
    rows = [
        {"margin": name, "fraction": f"{getattr(rules, name):.0%}", "of": reference,
         "side": side, "claims": ", ".join(ids)}
        for name, (ids, side, reference) in MARGINS.items()
    ]
    return pd.DataFrame(rows, columns=["margin", "fraction", "of", "side", "claims"])


def format_p(p: float) -> str:
    """'p = 0.029', 'p < 0.001', or 'p = n/a' where no test was possible (no variation)."""
    if not math.isfinite(p):
        return "p = n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _format_statistic(row: pd.Series, symbol: str = "t") -> str:
    """'t(18) = -2.38, p = 0.029'; 't = n/a, p = n/a' where no test was possible."""
    if not math.isfinite(row["statistic"]):
        return f"{symbol} = n/a, p = n/a"
    df = row["df"]
    if not math.isfinite(df):
        dof = ""
    elif abs(df - round(df)) < 1e-9:
        dof = f"({df:.0f})"
    else:
        dof = f"({df:.1f})"
    return f"{symbol}{dof} = {row['statistic']:.2f}, {format_p(row['p_value'])}"


def _format_test(row: pd.Series, symbol: str = "t", where: str = "") -> str:
    """'a - b{where} = est (95% CI lo to hi), t(df) = s, p = ...' for one result row."""
    return (
        f"{row['contrast']}{where} = {row['estimate']:.3g} (95% CI {row['ci_low']:.3g} to "
        f"{row['ci_high']:.3g}), {_format_statistic(row, symbol)}"
    )


def _percent(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{100 * x:+.0f}%"


def _significant(row: pd.Series, alpha: float) -> bool:
    return math.isfinite(row["p_value"]) and row["p_value"] < alpha


def verdict_difference(row: pd.Series, *, expected_sign: int, alpha: float) -> Verdict:
    """Verdict for a directional claim ("ISR > frozen", "internal reward rises").

    ``holds`` if two-sided p < alpha and the estimate has ``expected_sign``; ``fails`` if
    p < alpha with the opposite sign; ``inconclusive`` otherwise (not significant, or no test).

    Args:
        row: A stats result row (``estimate``, ``p_value``).
        expected_sign: +1 if the claim predicts estimate > 0, -1 if estimate < 0.
        alpha: Significance level.
    """
    if not _significant(row, alpha):
        return "inconclusive"
    return "holds" if row["estimate"] * expected_sign > 0 else "fails"


def verdict_equivalence(row: pd.Series, *, side: str = "both") -> Verdict:
    """Verdict for a claim of no difference, no loss or no rise, by equivalence (TOST).

    On a row of :func:`valint.stats.equivalence_test` (``margin`` and the 1 - 2 alpha interval
    ``eq_ci_low``, ``eq_ci_high``): ``holds`` if the interval lies inside the margin on the
    tested side(s) (both one-sided tests reject: equivalent within delta); ``fails`` if it lies
    wholly beyond the margin (a difference larger than delta is shown); ``inconclusive``
    otherwise, including no test (one seed, no spread, no positive reference level).

    Args:
        row: An equivalence-test row.
        side: "both" (no difference), "lower" (no loss larger than delta) or "upper" (no rise
            larger than delta), as in the test.
    """
    low, high, margin = row["eq_ci_low"], row["eq_ci_high"], row["margin"]
    if not all(math.isfinite(x) for x in (low, high, margin)):
        return "inconclusive"
    inside = {"both": -margin < low and high < margin, "lower": -margin < low,
              "upper": high < margin}[side]
    beyond = {"both": high < -margin or low > margin, "lower": high < -margin,
              "upper": low > margin}[side]
    if inside:
        return "holds"
    return "fails" if beyond else "inconclusive"


def verdict_unlearning(row: pd.Series, *, alpha: float, min_relative_drop: float) -> Verdict:
    """Verdict for "unlearned once the caregiver leaves" (Figs. 1b, 4a, 7).

    On a :func:`valint.stats.phase_window_test` row (last phase-2 window - last phase-1
    window, paired over seeds, two-sided): ``holds`` if p < alpha, the estimate is negative
    and the relative drop is at least ``min_relative_drop`` of the phase-1 level; ``fails`` if
    the phase-2 level is significantly higher, or the CI's lower bound lies above
    -``min_relative_drop`` (a meaningful drop is ruled out); ``inconclusive`` otherwise.

    Args:
        row: A phase-window test row with ``relative_change`` and ``relative_ci_low``.
        alpha: Significance level.
        min_relative_drop: Smallest drop, as a fraction of the phase-1 level, that counts.
    """
    significant = _significant(row, alpha)
    if significant and row["estimate"] > 0:
        return "fails"
    if math.isfinite(row["relative_ci_low"]) and row["relative_ci_low"] > -min_relative_drop:
        return "fails"
    if significant and row["estimate"] < 0 and row["relative_change"] <= -min_relative_drop:
        return "holds"
    return "inconclusive"


def verdict_reward_hacking(internal: pd.Series, goals: pd.Series, *, alpha: float) -> Verdict:
    """Verdict for Fig. 6's reward hacking: internal reward up, goals reached not up.

    ``internal`` is a :func:`valint.stats.first_last_window_test` row (last - first window of
    phase 2); ``goals`` the same for goals per episode, passed through
    :func:`valint.stats.equivalence_test` with side "upper" (no rise beyond the margin).
    ``holds`` if internal reward rises significantly (p < alpha, estimate > 0) and the goals'
    rise is shown to stay below the margin; ``fails`` if internal reward falls significantly or
    the goals rise by more than the margin (the agent is really learning, not hacking);
    ``inconclusive`` otherwise.

    Args:
        internal: Result row for ``internal_reward``.
        goals: Equivalence row for ``goals_per_episode``.
        alpha: Significance level.
    """
    internal_verdict = verdict_difference(internal, expected_sign=+1, alpha=alpha)
    goals_verdict = verdict_equivalence(goals, side="upper")
    if "fails" in (internal_verdict, goals_verdict):
        return "fails"
    if internal_verdict == goals_verdict == "holds":
        return "holds"
    return "inconclusive"


def _row(claim_id: str, *, measured: str, verdict: Verdict, method: str, n_seeds: int,
         profile: str, as_published: str = "", margin: str = "",
         effect: str = "") -> dict[str, object]:
    paper = PAPER_CLAIMS[claim_id]
    return {
        "claim_id": claim_id,
        "figure": paper["figure"],
        "claim": paper["claim"],
        "paper": paper["paper"],
        "as_published": as_published,
        "measured": measured,
        "verdict": verdict,
        "effect": effect,
        "margin": margin,
        "method": method,
        "n_seeds": int(n_seeds),
        "profile": profile,
    }


def _ledger(rows: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(LEDGER_COLUMNS))


def _table(tables: Mapping[str, pd.DataFrame], name: str, figure: str) -> pd.DataFrame:
    if name not in tables:
        raise ValueError(f"{figure} claims need the table {name!r}; got {sorted(tables)}")
    return tables[name]


def _margin_text(row: pd.Series, side: str, fraction: float, reference: str) -> str:
    """'+/-0.0672 (10% of the oracle's mean OOD return, 0.672)'; 'n/a' without a reference."""
    margin = row["margin"]
    if not math.isfinite(margin):
        return f"n/a ({fraction:.0%} of {reference}, which is not positive here)"
    sign = {"both": "+/-", "lower": "-", "upper": "+"}[side]
    return f"{sign}{margin:.3g} ({fraction:.0%} of {reference}, {margin / fraction:.3g})"


def _equivalence_text(row: pd.Series) -> str:
    """'90% CI lo to hi, TOST p = ...' of an equivalence row."""
    return (f"90% CI {row['eq_ci_low']:.3g} to {row['eq_ci_high']:.3g}, TOST "
            f"{format_p(row['p_tost'])}")


def _equivalence_rule(side: str) -> str:
    what = {"both": "inside +/-margin", "lower": "above -margin", "upper": "below +margin"}[side]
    return (f"equivalence by two one-sided tests: holds if the 90% CI lies {what}, fails if it "
            "lies wholly beyond the margin, else inconclusive")


def _window_measured(row: pd.Series, value: str) -> str:
    return (
        f"{row['condition']}: {value} {row['mean_a']:.3g} over the last "
        f"{row['window_episodes']} phase-2 episodes vs {row['mean_b']:.3g} at the end of phase 1 "
        f"({_percent(row['relative_change'])}, 95% CI {_percent(row['relative_ci_low'])} to "
        f"{_percent(row['relative_ci_high'])}), {_format_statistic(row)}"
    )


def _window_effect(row: pd.Series) -> str:
    """'none: phase 2 94% below the end of phase 1 (95% CI -98% to -91%)'."""
    change = row["relative_change"]
    if not math.isfinite(change):
        return (f"{row['condition']}: phase 2 - end of phase 1 = {row['estimate']:+.3g} (no "
                "positive phase-1 level)")
    return (f"{row['condition']}: phase 2 {abs(change):.0%} {'above' if change > 0 else 'below'} "
            f"the end of phase 1 (95% CI {_percent(row['relative_ci_low'])} to "
            f"{_percent(row['relative_ci_high'])})")


ORACLE_REFERENCED: tuple[str, ...] = ("fig4_isr_no_loss", "fig7_isr_helping_continues",
                                      "fig7_none_helping_decays")
"""Claims measured against the end of phase 1 whose rows also show, as a description, the same
phase-2 window against the ``oracle``'s (:func:`valint.stats.phase2_vs_oracle_test`): phase 1
need not have converged, and the oracle, whose caregiver stayed, shows how far it went on."""


def _oracle_text(curves: pd.DataFrame, condition: str, value: str, rules: ClaimRules) -> str:
    """'vs the oracle over the same phase-2 window (descriptive): ...' or '' without an oracle."""
    phase2 = curves[curves["phase"] == 2]
    if "oracle" not in set(phase2["condition"].astype(str).str.lower()):
        return ""
    row = stats.phase2_vs_oracle_test(curves, value=value, conditions=[condition],
                                      window_fraction=rules.window_fraction).iloc[0]
    return (f"against the oracle over the same last {row['window_episodes']} phase-2 episodes "
            f"(descriptive, no verdict): {condition} {row['mean_a']:.3g} vs oracle "
            f"{row['mean_b']:.3g} ({_percent(row['relative_change'])} of the oracle, 95% CI "
            f"{_percent(row['relative_ci_low'])} to {_percent(row['relative_ci_high'])}), "
            f"{_format_statistic(row)}")


def _unlearning_verdict(row: pd.Series, rules: ClaimRules) -> Verdict:
    """The verdict of an "unlearning" claim on its phase-window test row."""
    return verdict_unlearning(row, alpha=rules.alpha, min_relative_drop=rules.min_relative_drop)


def _no_loss_tests(rows: pd.DataFrame, rules: ClaimRules) -> pd.DataFrame:
    """The non-inferiority tests of a "no measurable loss" claim on phase-window test rows: no
    loss beyond ``rules.no_loss_margin`` of each row's phase-1 level (none where it is not
    positive)."""
    level = rows["mean_b"].astype(float).where(rows["mean_b"].astype(float) > 0)
    return stats.equivalence_test(rows, margin=rules.no_loss_margin * level, side="lower",
                                  alpha=rules.alpha)


def _unlearning_row(claim_id: str, curves: pd.DataFrame, condition: str, value: str,
                    profile: str, rules: ClaimRules) -> dict[str, object]:
    row = stats.phase_window_test(curves, value=value, conditions=[condition],
                                  window_fraction=rules.window_fraction).iloc[0]
    oracle = _oracle_text(curves, condition, value, rules) if claim_id in ORACLE_REFERENCED else ""
    return _row(
        claim_id,
        measured=_window_measured(row, value) + (f"; {oracle}" if oracle else ""),
        verdict=_unlearning_verdict(row, rules),
        effect=_window_effect(row),
        method=f"{row['method']}; holds if p < {rules.alpha} with a drop of at least "
        f"{rules.min_relative_drop:.0%} of the phase-1 level, fails if the 95% CI rules out "
        "such a drop",
        n_seeds=row["n_seeds"],
        profile=profile,
    )


def _no_loss_row(claim_id: str, curves: pd.DataFrame, condition: str, value: str,
                 profile: str, rules: ClaimRules) -> dict[str, object]:
    row = stats.phase_window_test(curves, value=value, conditions=[condition],
                                  window_fraction=rules.window_fraction).iloc[0]
    eq = _no_loss_tests(row.to_frame().T, rules).iloc[0]
    oracle = _oracle_text(curves, condition, value, rules) if claim_id in ORACLE_REFERENCED else ""
    return _row(
        claim_id,
        measured=f"{_window_measured(row, value)}; {_equivalence_text(eq)}"
        + (f"; {oracle}" if oracle else ""),
        verdict=verdict_equivalence(eq, side="lower"),
        effect=_window_effect(row),
        margin=_margin_text(eq, "lower", rules.no_loss_margin, "the phase-1 level"),
        method=f"{row['method']}; non-inferiority, {_equivalence_rule('lower')}",
        n_seeds=row["n_seeds"],
        profile=profile,
    )


def _published_text(row: pd.Series, symbol: str = "t", where: str = "",
                    alpha: float = 0.05) -> str:
    significant = "significant" if _significant(row, alpha) else "not significant"
    return f"{_format_test(row, symbol, where)} ({significant} at {alpha})"


def _gt_verdict(results: list[pd.Series], alpha: float) -> Verdict:
    """ISR > frozen (estimate frozen - isr < 0) by every sound analysis, else inconclusive."""
    verdicts = {verdict_difference(r, expected_sign=-1, alpha=alpha) for r in results}
    return verdicts.pop() if len(verdicts) == 1 else "inconclusive"


def _ood_rows(ood: pd.DataFrame, published: pd.DataFrame, sound: list[tuple[str, pd.DataFrame]],
              *, gt_id: str, eq_id: str, profile: str, rules: ClaimRules,
              where: str = "") -> list[dict[str, object]]:
    """Ledger rows "ISR > frozen" (``gt_id``) and "ISR ~ oracle" (``eq_id``), Figs. 4b and 5.

    ``published`` holds the paper's test on our data, one row per contrast ("frozen - isr",
    "isr - oracle"); ``sound`` one or more (name, results) of the design-based analyses, which
    decide the verdict together. "ISR ~ oracle" is an equivalence claim with the margin
    ``rules.ood_margin`` x the oracle's mean OOD return.
    """
    frame = ood.assign(condition=ood["condition"].astype(str).str.lower())
    oracle_level = float(frame.loc[frame["condition"] == "oracle", "ood_reward"].mean())
    margin = rules.ood_margin * oracle_level if oracle_level > 0 else math.nan
    seeds = frame.drop_duplicates(["condition", "seed"]).groupby("condition").size()
    by_published = published.set_index("contrast")
    rows = []
    for claim_id, contrast in ((gt_id, "frozen - isr"), (eq_id, "isr - oracle")):
        a, b = contrast.split(" - ")
        n_seeds = int(min(seeds.get(a, 0), seeds.get(b, 0)))
        published_row = by_published.loc[contrast].copy()
        published_row["contrast"] = contrast
        as_published = _published_text(published_row, where=where, alpha=rules.alpha)
        results = []
        for name, table in sound:
            r = table.set_index("contrast").loc[contrast].copy()
            r["contrast"] = contrast
            r["analysis"] = name
            results.append(r)
        symbols = ["z" if not math.isfinite(float(r["df"])) else "t" for r in results]
        deciding = [r for r in results if not ("degenerate" in r and bool(r["converged"])
                                               and bool(r["degenerate"]))]
        if claim_id == gt_id:
            verdict = _gt_verdict(deciding, rules.alpha)
            measured = "; ".join(f"{r['analysis']}: {_format_test(r, sym)}"
                                 for r, sym in zip(results, symbols))
            rule = f"holds if p < {rules.alpha} with isr above frozen"
            margin_text = ""
        else:
            eqs = [stats.equivalence_test(r.to_frame().T, margin=margin,
                                          alpha=rules.alpha).iloc[0] for r in results]
            verdicts = {verdict_equivalence(e) for r, e in zip(results, eqs)
                        if any(r is d for d in deciding)}
            verdict = verdicts.pop() if len(verdicts) == 1 else "inconclusive"
            measured = "; ".join(
                f"{r['analysis']}: {_format_test(r, sym)}, {_equivalence_text(e)}"
                for r, e, sym in zip(results, eqs, symbols)
            )
            rule = _equivalence_rule("both")
            margin_text = _margin_text(eqs[0], "both", rules.ood_margin,
                                       "the oracle's mean OOD return")
        unconverged = [r for r in results if "converged" in r and not bool(r["converged"])]
        if unconverged:
            verdict = "inconclusive"
        methods = "; ".join(f"{r['analysis']}: {r['method']}" for r in results)
        warned = [f"{r['analysis']}: converged {bool(r['converged'])}, warnings: "
                  f"{r['warnings'] or 'none'}" for r in results
                  if "converged" in r and (not bool(r["converged"]) or r["warnings"])]
        left_out = [r["analysis"] for r in results if not any(r is d for d in deciding)]
        if left_out:
            warned.append(f"{', '.join(left_out)}: a degenerate fit ({_health_text(results)}), "
                          "shown but left out of the verdict, which rests on "
                          f"{', '.join(d['analysis'] for d in deciding)}")
        together = " (both must agree unless a fit is degenerate)" if len(results) > 1 else ""
        lead = results[0]
        sign = -1 if claim_id == gt_id else 1
        estimate = sign * lead["estimate"]
        low, high = sorted((sign * lead["ci_low"], sign * lead["ci_high"]))
        pair = "isr - frozen" if claim_id == gt_id else "isr - oracle"
        share = (f"; {estimate / oracle_level:+.1%} of the oracle's mean" if oracle_level > 0
                 else "")
        effect = (f"{pair} = {estimate:+.3g} (95% CI {low:+.3g} to {high:+.3g}{share}"
                  f"{'' if len(results) == 1 else ', ' + lead['analysis']})")
        rows.append(_row(
            claim_id, measured=measured, verdict=verdict, as_published=as_published,
            margin=margin_text, effect=effect,
            method="; ".join([f"{methods}; {rule}{together}", *warned]),
            n_seeds=n_seeds, profile=profile,
        ))
    return rows


def _health_text(results: list[pd.Series]) -> str:
    """'seed x condition variance on the boundary, Hessian not positive definite'."""
    words = []
    for r in results:
        if "degenerate" not in r or not bool(r["degenerate"]):
            continue
        if bool(r["boundary"]):
            words.append("a variance component on the boundary (estimated at "
                         f"{float(r['seed_condition_variance']):.2g} for seed x condition)")
        if not bool(r["hessian_pd"]):
            words.append("a Hessian that is not positive definite")
    return ", ".join(words) or "not converged"


def claims_fig1(tables: Mapping[str, pd.DataFrame], *, profile: str,
                rules: ClaimRules = ClaimRules()) -> pd.DataFrame:
    """Fig. 1b: the behaviour is unlearned once the caregiver leaves (condition none).

    Verdict by :func:`verdict_unlearning` on :func:`valint.stats.phase_window_test` of
    ``goals_per_episode`` (last 10 % of phase 2 vs the same number of episodes at the end of
    phase 1, paired over seeds).

    Args:
        tables: The figure's tables; needs ``curves`` (docs/CONTRACTS.md).
        profile: Name of the run profile, copied into the ledger.
        rules: Verdict thresholds.

    Returns:
        The ledger rows (:data:`LEDGER_COLUMNS`).
    """
    curves = _table(tables, "curves", "fig1")
    return _ledger([_unlearning_row("fig1_none_unlearns", curves, "none", "goals_per_episode",
                                    profile, rules)])


def claims_fig2(tables: Mapping[str, pd.DataFrame], *, profile: str,
                rules: ClaimRules = ClaimRules()) -> pd.DataFrame:
    """Fig. 2 is a diagram of the agent architectures (PAPER.md §2): it makes no testable claim.

    Returns:
        An empty ledger with the columns of :data:`LEDGER_COLUMNS`.
    """
    return _ledger([])


def _chronological_gap(curve: pd.DataFrame, rules: ClaimRules) -> pd.Series:
    """The first rule's contrast of Fig. 3a: final held-out - train MSE, with its TOST row."""
    gap = stats.isr_train_test_gap_test(curve, window_fraction=rules.window_fraction)
    train_level = float(gap["mean_b"].iloc[0])
    return stats.equivalence_test(
        gap, margin=rules.gap_margin * train_level if train_level > 0 else math.nan,
        alpha=rules.alpha,
    ).iloc[0]


def _ratio(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.3g}"


def _fig3_gap_row(tables: Mapping[str, pd.DataFrame], profile: str,
                  rules: ClaimRules) -> dict[str, object]:
    """The ledger row of Fig. 3a's "no measurable gap" (:func:`claims_fig3`)."""
    change = RULE_CHANGES["fig3_isr_no_train_test_gap"]
    chrono = _chronological_gap(_table(tables, "isr_curve", "fig3"), rules)
    first = verdict_equivalence(chrono)
    described = (
        f"chronological split (the first rule's contrast, descriptive): final MSE test "
        f"{chrono['mean_a']:.3g} vs train {chrono['mean_b']:.3g}, test "
        f"{'below' if chrono['estimate'] < 0 else 'above'} train by "
        f"{_percent(abs(chrono['relative_change'])).lstrip('+')} of train (95% CI "
        f"{_percent(chrono['relative_ci_low'])} to {_percent(chrono['relative_ci_high'])}), "
        f"{_format_statistic(chrono)}; the first rule ({change.first_rule}) gave {first}"
    )
    margin = math.log1p(rules.gap_margin)
    method = (f"{change.rule}: holds if the 90% CI of the ratio lies below "
              f"{1 + rules.gap_margin:.2f}, fails if it lies wholly above, else inconclusive; "
              f"{change.marker}, after the first rule gave {first}")
    if "isr_error_by_part" not in tables:
        return _row("fig3_isr_no_train_test_gap",
                    measured=f"not measured: the table isr_error_by_part is missing; {described}",
                    verdict="inconclusive", margin=f"+{rules.gap_margin:.0%}",
                    effect="not measured (no isr_error_by_part)", method=method,
                    n_seeds=0, profile=profile)
    log_test = stats.held_out_vs_last_train_part_log_test(tables["isr_error_by_part"])
    eq = stats.equivalence_test(log_test, margin=margin, side="upper", alpha=rules.alpha).iloc[0]
    ratio = math.exp(eq["estimate"])
    effect = (f"held-out error {'above' if ratio > 1 else 'below'} the last training tenth's by "
              f"{abs(ratio - 1):.1%} (ratio {_ratio(ratio)}, 95% CI "
              f"{_ratio(math.exp(eq['ci_low']))} to {_ratio(math.exp(eq['ci_high']))})")
    measured = (
        f"held-out tenth vs last training tenth: geometric-mean MSE ratio {_ratio(ratio)} "
        f"(95% CI {_ratio(math.exp(eq['ci_low']))} to {_ratio(math.exp(eq['ci_high']))}), "
        f"{_format_statistic(eq)} on the log-ratio; 90% CI of the ratio "
        f"{_ratio(math.exp(eq['eq_ci_low']))} to {_ratio(math.exp(eq['eq_ci_high']))}, "
        f"one-sided {format_p(eq['p_tost'])}; {described}"
    )
    return _row(
        "fig3_isr_no_train_test_gap",
        measured=measured,
        verdict=verdict_equivalence(eq, side="upper"),
        effect=effect,
        margin=f"+{rules.gap_margin:.0%} (a ratio of {1 + rules.gap_margin:.2f} to the last "
        f"training tenth's MSE; {margin:.3g} on the log scale)",
        method=f"{log_test['method'].iloc[0]}; {method}",
        n_seeds=int(eq["n_seeds"]),
        profile=profile,
    )


def claims_fig3(tables: Mapping[str, pd.DataFrame], *, profile: str,
                rules: ClaimRules = ClaimRules()) -> pd.DataFrame:
    """Fig. 3: no train/test gap of the ISR (3a) and falling test loss with more data (3b).

    - 3a, by :func:`verdict_equivalence` (side "upper": non-inferiority) on
      :func:`valint.stats.held_out_vs_last_train_part_log_test`: per seed the log of the
      held-out tenth's MSE over the last training tenth's, t on seeds - 1 df, margin
      log(1 + ``rules.gap_margin``). This rule was written after the first paper-scale record
      had been judged by the first one (:data:`RULE_CHANGES`); the first rule's contrast,
      :func:`valint.stats.isr_train_test_gap_test` (held-out - whole training split), and its
      verdict stay in ``measured`` as a description. Without the ``isr_error_by_part`` table
      the claim is not measured (``inconclusive``).
    - 3b, by :func:`verdict_difference` (expected sign -1) on
      :func:`valint.stats.data_size_seed_slopes`: one slope of log10(held-out MSE) on
      log10(training transitions) per seed, the mean slope tested on seeds - 1 df; every size of
      a seed is tested on the same held-out set.

    Args:
        tables: Needs ``isr_curve`` and ``isr_data_size``, and ``isr_error_by_part`` for 3a
            (docs/CONTRACTS.md).
        profile: Name of the run profile.
        rules: Verdict thresholds.

    Returns:
        The ledger rows (:data:`LEDGER_COLUMNS`).
    """
    data_size = _table(tables, "isr_data_size", "fig3")
    slope = stats.data_size_seed_slopes(data_size).iloc[0]
    summary = stats.data_size_summary(data_size)
    first, last = summary.iloc[0], summary.iloc[-1]
    return _ledger(
        [
            _fig3_gap_row(tables, profile, rules),
            _row(
                "fig3_isr_loss_decreases_with_data",
                measured=(
                    f"mean test MSE {first['isr_test_mse_mean']:.3g} at "
                    f"{int(first['isr_train_transitions']):,} transitions, "
                    f"{last['isr_test_mse_mean']:.3g} at "
                    f"{int(last['isr_train_transitions']):,}; mean per-seed slope "
                    f"{slope['estimate']:.2f} (95% CI {slope['ci_low']:.2f} to "
                    f"{slope['ci_high']:.2f}), {_format_statistic(slope)}"
                ),
                verdict=verdict_difference(slope, expected_sign=-1, alpha=rules.alpha),
                effect=(f"test MSE {'falls' if slope['estimate'] < 0 else 'rises'} with more data: "
                        f"log-log slope {slope['estimate']:.2f} (95% CI {slope['ci_low']:.2f} to "
                        f"{slope['ci_high']:.2f})"),
                method=f"{slope['method']}; holds if the slope is negative with p < "
                f"{rules.alpha}",
                n_seeds=int(slope["n_seeds"]),
                profile=profile,
            ),
        ]
    )


def claims_fig4(tables: Mapping[str, pd.DataFrame], *, profile: str,
                rules: ClaimRules = ClaimRules()) -> pd.DataFrame:
    """Fig. 4: unlearning without ISR, no loss with it (4a); ISR > frozen, ISR ~ oracle OOD (4b).

    - 4a none: :func:`verdict_unlearning` (the same runs and test as Fig. 1b, see
      :data:`SAME_CLAIM`); 4a isr: no loss beyond ``rules.no_loss_margin`` of the phase-1
      level, by :func:`verdict_equivalence` (side "lower"), both on
      :func:`valint.stats.phase_window_test` of ``goals_per_episode``.
    - 4b: the conditions of a seed share its phase-1 learner and its evaluation episodes, so
      the sound tests are paired by seed (:func:`valint.stats.seed_contrast_tests`). ISR >
      frozen by :func:`verdict_difference`; ISR ~ oracle by :func:`verdict_equivalence` with
      the margin ``rules.ood_margin`` x the oracle's mean. The published two-sample Student
      t-tests (:func:`valint.stats.ood_t_tests`) fill ``as_published``.

    Args:
        tables: Needs ``curves`` and ``ood`` (docs/CONTRACTS.md).
        profile: Name of the run profile.
        rules: Verdict thresholds.

    Returns:
        The ledger rows (:data:`LEDGER_COLUMNS`).
    """
    curves = _table(tables, "curves", "fig4")
    ood = _table(tables, "ood", "fig4")
    tests = stats.ood_t_tests(ood)
    student = tests[tests["test"] == "student"]
    rows = [
        _unlearning_row("fig4_none_unlearns", curves, "none", "goals_per_episode", profile,
                        rules),
        _no_loss_row("fig4_isr_no_loss", curves, "isr", "goals_per_episode", profile, rules),
    ]
    rows += _ood_rows(
        ood, student, [("paired by seed", stats.seed_contrast_tests(ood))],
        gt_id="fig4_isr_gt_frozen_ood", eq_id="fig4_isr_eq_oracle_ood", profile=profile,
        rules=rules,
    )
    return _ledger(rows)


def claims_fig5(tables: Mapping[str, pd.DataFrame], *, profile: str,
                rules: ClaimRules = ClaimRules()) -> pd.DataFrame:
    """Fig. 5: ISR > frozen and ISR ~ oracle OOD, pooled over the layouts.

    One row per claim, decided by two sound analyses of the design, which must agree: the
    paired t-test of the seeds' layout-averaged contrasts
    (:func:`valint.stats.seed_contrast_tests`) and the linear mixed model with random seed and
    seed x condition effects (:func:`valint.stats.mixed_model_condition_layout`, t on seeds - 1
    df); a mixed model that did not converge gives ``inconclusive``, its warnings in
    ``method``. ISR > frozen by :func:`verdict_difference`; ISR ~ oracle by
    :func:`verdict_equivalence` with the margin ``rules.ood_margin`` x the oracle's mean. The
    published analysis, OLS ``condition * layout`` (:func:`valint.stats.ols_condition_by_layout`,
    the effect in layout "T" only, or in the first layout by name when a run left "T" out),
    fills ``as_published``.

    Args:
        tables: Needs ``ood`` with ``layout`` and ``seed`` (docs/CONTRACTS.md).
        profile: Name of the run profile.
        rules: Verdict thresholds.

    Returns:
        The ledger rows (:data:`LEDGER_COLUMNS`).
    """
    ood, layouts, unmeasured = _layouts_with_every_condition(_table(tables, "ood", "fig5"))
    ids = ("fig5_isr_gt_frozen", "fig5_isr_eq_oracle")
    if not layouts:
        return _ledger([_row(claim_id, measured="not measured: " + unmeasured, verdict="inconclusive",
                             method="needs frozen, isr and oracle in one layout at least",
                             n_seeds=0, profile=profile) for claim_id in ids])
    reference = stats.REFERENCE_LAYOUT if stats.REFERENCE_LAYOUT in layouts else layouts[0]
    published = stats.ols_condition_by_layout(ood, reference_layout=reference)
    sound = [
        ("paired by seed", stats.seed_contrast_tests(ood)),
        ("mixed model", stats.mixed_model_condition_layout(ood)),
    ]
    rows = _ood_rows(ood, published, sound, gt_id=ids[0], eq_id=ids[1], profile=profile,
                     rules=rules, where=f" in layout {reference}")
    if unmeasured:
        for row in rows:
            row["method"] = f"{row['method']}; pooled over layouts {', '.join(layouts)} only ({unmeasured})"
    return _ledger(rows)


OOD_CONDITIONS = ("frozen", "isr", "oracle")
"""The conditions that the OOD claims of Figs. 4b and 5 compare."""


def absent_combinations(table: pd.DataFrame | None, first: str, firsts, second: str,
                        seconds) -> dict:
    """Which values of ``second`` a table lacks beside each value of ``first``: ``{value of
    first: [absent values of second, in the order given]}``, with only the values that lack
    something. A missing table lacks everything.

    Both the Fig. 5 claims (which layouts hold every condition) and a record's list of what it
    still lacks (``valint.records``) read their coverage from here.
    """
    present = set() if table is None else set(zip(table[first], table[second]))
    gaps = {value: [v for v in seconds if (value, v) not in present] for value in firsts}
    return {value: absent for value, absent in gaps.items() if absent}


def _layouts_with_every_condition(ood: pd.DataFrame) -> tuple[pd.DataFrame, list[str], str]:
    """The rows of the layouts in which every condition of :data:`OOD_CONDITIONS` was measured,
    those layouts, and what the others lack in words ("" when nothing is left out).

    A paper-scale record of Fig. 5 grows in parts (``frozen`` in every layout first, then
    ``isr`` and ``oracle`` one layout at a time): a contrast averaged over the layouts must not
    compare one condition's five layouts with another's one.
    """
    if ood.empty:
        return ood, [], "no OOD evaluation recorded"
    ood_lower = ood.assign(condition=ood["condition"].astype(str).str.lower())
    layouts = sorted(set(ood["layout"]))
    lacking = absent_combinations(ood_lower, "layout", layouts, "condition", OOD_CONDITIONS)
    complete = [layout for layout in layouts if layout not in lacking]
    words = [f"{layout} lacks {', '.join(absent)}" for layout, absent in lacking.items()]
    return ood[ood["layout"].isin(complete)], complete, "; ".join(words)


def claims_fig6(tables: Mapping[str, pd.DataFrame], *, profile: str,
                rules: ClaimRules = ClaimRules()) -> pd.DataFrame:
    """Fig. 6: with an under-trained ISR, internal reward rises while goals reached do not.

    :func:`valint.stats.first_last_window_test` on ``internal_reward`` and on
    ``goals_per_episode`` (last 10 % of phase-2 episodes minus the first 10 %, paired over
    seeds); the goals' change is tested for no rise beyond ``rules.no_rise_margin`` of their
    first-window level (:func:`valint.stats.equivalence_test`, side "upper"); judged by
    :func:`verdict_reward_hacking`.

    Args:
        tables: Needs ``curves`` (seed, episode, env_steps, internal_reward,
            goals_per_episode; docs/CONTRACTS.md).
        profile: Name of the run profile.
        rules: Verdict thresholds.

    Returns:
        The ledger rows (:data:`LEDGER_COLUMNS`).
    """
    curves = _table(tables, "curves", "fig6")
    internal = stats.first_last_window_test(curves, value="internal_reward",
                                            window_fraction=rules.window_fraction).iloc[0]
    goals = stats.first_last_window_test(curves, value="goals_per_episode",
                                         window_fraction=rules.window_fraction)
    level = float(goals["mean_b"].iloc[0])
    goals = stats.equivalence_test(
        goals, margin=rules.no_rise_margin * level if level > 0 else math.nan, side="upper",
        alpha=rules.alpha,
    ).iloc[0]

    def change(row: pd.Series, value: str) -> str:
        return (
            f"{value} {row['mean_b']:.3g} -> {row['mean_a']:.3g}, {_format_statistic(row)}"
        )

    return _ledger(
        [
            _row(
                "fig6_reward_hacking",
                measured=f"first vs last {internal['window_episodes']} phase-2 episodes: "
                f"{change(internal, 'internal_reward')}; {change(goals, 'goals_per_episode')}, "
                f"{_equivalence_text(goals)}",
                verdict=verdict_reward_hacking(internal, goals, alpha=rules.alpha),
                effect=(f"internal reward {_percent(internal['relative_change'])} (95% CI "
                        f"{_percent(internal['relative_ci_low'])} to "
                        f"{_percent(internal['relative_ci_high'])}), goals per episode "
                        f"{_percent(goals['relative_change'])} (95% CI "
                        f"{_percent(goals['relative_ci_low'])} to "
                        f"{_percent(goals['relative_ci_high'])}), last vs first phase-2 window"),
                margin=_margin_text(goals, "upper", rules.no_rise_margin,
                                    "the first-window goals per episode"),
                method=f"{internal['method']}; same for goals_per_episode; holds if internal "
                f"reward rises with p < {rules.alpha} and the goals' rise stays below the "
                f"margin ({_equivalence_rule('upper')})",
                n_seeds=min(internal["n_seeds"], goals["n_seeds"]),
                profile=profile,
            )
        ]
    )


def _learned(row: pd.Series, rules: ClaimRules) -> bool:
    """Phase 1 taught the behaviour: its last window lies significantly above its first."""
    return bool(_significant(row, rules.alpha) and row["estimate"] > 0)


def phase1_learning(curves: pd.DataFrame, value: str, rules: ClaimRules = ClaimRules()
                    ) -> tuple[bool, str]:
    """Did phase 1 teach the behaviour? A precondition of the Fig. 7 claims.

    Keeping (or losing) a behaviour after the caregiver leaves can only be judged if phase 1
    taught it. In the two-agent world a random policy already clears the ball now and then, so
    learning is not a given: we require the last window of phase 1 to lie above its first
    window (:func:`valint.stats.first_last_window_test` on the ``oracle`` rows of phase 1,
    p < ``rules.alpha``).

    Returns:
        ``(learned, text)``; ``text`` states the two window means and the test.
    """
    phase1 = curves[(curves["phase"] == 1) & (curves["condition"] == "oracle")]
    row = stats.first_last_window_test(phase1, value=value,
                                       window_fraction=rules.window_fraction).iloc[0]
    learned = _learned(row, rules)
    text = (f"phase 1 {'taught' if learned else 'did not teach'} it: {value} "
            f"{row['mean_b']:.3g} in the first {row['window_episodes']} phase-1 episodes, "
            f"{row['mean_a']:.3g} in the last, {_format_statistic(row)}")
    return learned, text


FIG7_VALUE = "partner_goals_per_episode"
"""What the Fig. 7 claims are about: partner goals reached per episode."""

FIG7_CLAIMS: tuple[tuple[str, str], ...] = (
    ("fig7_isr_helping_continues", "isr"),
    ("fig7_none_helping_decays", "none"),
)
"""The Fig. 7 claims and the phase-2 condition each one is about."""


def claims_fig7(tables: Mapping[str, pd.DataFrame], *, profile: str,
                rules: ClaimRules = ClaimRules()) -> pd.DataFrame:
    """Fig. 7: helping continues with the ISR (no measurable loss) and decays without (none).

    :func:`valint.stats.phase_window_test` on ``partner_goals_per_episode``; isr judged by
    :func:`verdict_equivalence` (no loss beyond ``rules.no_loss_margin`` of the phase-1
    level), none by :func:`verdict_unlearning`. Both are ``inconclusive``
    unless phase 1 taught helping (:func:`phase1_learning`); the measured text says which.

    Args:
        tables: Needs ``curves`` (docs/CONTRACTS.md, fig7 columns).
        profile: Name of the run profile.
        rules: Verdict thresholds.

    Returns:
        The ledger rows (:data:`LEDGER_COLUMNS`).
    """
    curves = _table(tables, "curves", "fig7")
    value = FIG7_VALUE
    learned, learning = phase1_learning(curves, value, rules)
    rows = [
        _no_loss_row("fig7_isr_helping_continues", curves, "isr", value, profile, rules),
        _unlearning_row("fig7_none_helping_decays", curves, "none", value, profile, rules),
    ]
    for row in rows:
        row["measured"] = f"{row['measured']}; {learning}"
        row["method"] = f"{row['method']}; inconclusive unless phase 1 taught helping"
        if not learned:
            row["verdict"] = "inconclusive"
    return _ledger(rows)


def _fig7_verdicts(claim_id: str, rows: pd.DataFrame, rules: ClaimRules) -> list[Verdict]:
    """The verdicts :func:`claims_fig7` gives ``claim_id`` on each of its phase-window test rows."""
    if claim_id == "fig7_isr_helping_continues":
        return [verdict_equivalence(eq, side="lower") for _, eq in _no_loss_tests(rows, rules).iterrows()]
    return [_unlearning_verdict(row, rules) for _, row in rows.iterrows()]


def fig7_verdicts_by_phase2_length(
    curves: pd.DataFrame, lengths: Sequence[int], *, n_seeds: int,
    rules: ClaimRules = ClaimRules(),
) -> pd.DataFrame:
    """How long must phase 2 of Fig. 7 be for ``n_seeds`` seeds to decide its claims?

    Read from the paper-scale record, as :func:`valint.stats.phase1_learning_by_length` reads
    phase 1 (PAPER.md §7): every recorded run's phase 2 is cut after ``length`` steps, as if it
    had ended there (a run's first steps do not depend on how long it will go on: the PPO has
    no schedule over its length), and both claims are judged by the rules of
    :func:`claims_fig7`, phase-1 precondition included, for every group of ``n_seeds`` of the
    record's seeds (the 252 groups of five out of ten). These are resamples of the record's
    seeds, each with the record's full phase 1: the groups overlap, so the shares describe
    those seeds, not the probability that a new run (with another phase 1) decides a claim.
    ``holds`` and ``fails`` are counted apart.

    Args:
        curves: the ``curves`` table of a Fig. 7 record (docs/CONTRACTS.md), with
            ``env_steps``; every run of one phase has the same number of episodes (the
            two-agent world's episodes have a fixed length), so a group's windows are the
            record's.
        lengths: phase-2 lengths to test, in environment steps.
        n_seeds: seeds per group, at least 2 and at most the record's.
        rules: Verdict thresholds.

    Returns:
        One row per length and claim: ``env_steps`` (of phase 2), ``claim_id``, ``groups``,
        ``holds``, ``fails``, ``inconclusive``.
    """
    value = FIG7_VALUE
    needed = curves[["seed", "condition", "phase", "episode", "env_steps", value]]
    phase1 = needed[(needed["phase"] == 1) & (needed["condition"] == "oracle")]
    phase2 = needed[needed["phase"] == 2]
    seeds = sorted(int(seed) for seed in phase1["seed"].unique())
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or not 2 <= n_seeds <= len(seeds):
        raise ValueError(f"n_seeds must be an integer from 2 to {len(seeds)} (the record's seeds), "
                         f"got {n_seeds!r}")
    if phase1.groupby("seed").size().nunique() != 1:
        raise ValueError("the runs of the record differ in their number of phase-1 episodes")
    phase2_steps = phase2["env_steps"] - phase2["seed"].map(phase1.groupby("seed")["env_steps"].max())
    groups = [list(group) for group in itertools.combinations(seeds, n_seeds)]
    learning = stats.paired_t_tests_by_group(
        stats.first_last_window_means(phase1, value=value, window_fraction=rules.window_fraction),
        groups, value="window_mean", by="window", a="last", b="first")
    learned = [_learned(row, rules) for _, row in learning.iterrows()]
    rows = []
    for length in lengths:
        if length <= 0:
            raise ValueError(f"lengths must be positive numbers of steps, got {length}")
        cut = phase2[phase2_steps <= length]
        if cut.groupby(["condition", "seed"]).size().nunique() != 1:
            raise ValueError("the runs of the record differ in their number of phase-2 episodes")
        means = stats.phase_window_means(pd.concat([phase1, cut]), value=value,
                                         conditions=[condition for _, condition in FIG7_CLAIMS],
                                         window_fraction=rules.window_fraction)
        tests = stats.phase_window_tests_by_group(means, groups)
        for claim_id, condition in FIG7_CLAIMS:
            ordered = tests[tests["condition"] == condition].sort_values("group")
            count = dict.fromkeys(("holds", "fails", "inconclusive"), 0)
            for verdict, group_learned in zip(_fig7_verdicts(claim_id, ordered, rules), learned):
                count[verdict if group_learned else "inconclusive"] += 1
            rows.append({"env_steps": int(length), "claim_id": claim_id, "groups": len(groups),
                         **count})
    return pd.DataFrame(rows, columns=["env_steps", "claim_id", "groups", "holds", "fails",
                                       "inconclusive"])


def fig7_phase2_summary(by_length: pd.DataFrame) -> pd.DataFrame:
    """One row per phase-2 length: ``env_steps``, ``groups`` and ``decided``, the groups that
    got a verdict, holds or fails, on every claim at the least (the fewest over the claims),
    for :func:`valint.stats.shortest_reliable_length` (``passed="decided", of="groups"``);
    ``holds`` and ``fails``, the fewest groups with that verdict over the claims, keep the two
    apart.

    Args:
        by_length: from :func:`fig7_verdicts_by_phase2_length`.
    """
    decided = by_length.assign(decided=by_length["holds"] + by_length["fails"])
    return (decided.groupby("env_steps", as_index=False)
            .agg(groups=("groups", "first"), decided=("decided", "min"), holds=("holds", "min"),
                 fails=("fails", "min")))
