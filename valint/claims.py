"""The claims ledger of PAPER.md §2: what the paper claims per figure, and whether this run agrees.

One function per figure (:func:`claims_fig1` ... :func:`claims_fig7`) and the dispatcher
:func:`figure_claims` turn a figure's tidy tables (docs/CONTRACTS.md) into ledger rows with the
columns of :data:`LEDGER_COLUMNS`::

    claim_id, figure, claim, paper, measured, verdict, method, n_seeds, profile

The paper's side of every row (its words and its numbers, PAPER.md §2 and §8) sits in one dict,
:data:`PAPER_CLAIMS`; the measured side is computed by ``valint.stats`` from the tables, and
nothing about a run is written here.

Verdict rules (every verdict function below restates its own):

- ``holds``: the measured result has the paper's direction at the paper's significance
  standard (two-sided p < alpha = 0.05; the paper's "p < 0.05" and "p < 0.001" claims are both
  judged at 0.05). For claims of *no* difference or *no* loss: no significant difference, and
  enough evidence that the absence is not just a lack of power (an equivalence margin for the
  learning curves and the ISR gap, at least ``min_seeds_null`` seeds for the OOD t-tests, whose
  paper standard is non-significance alone).
- ``fails``: the measured result contradicts the claim at that standard: a significant effect
  in the opposite direction, a significant difference where the paper claims none, or a CI
  that rules out the effect size the claim needs.
- ``inconclusive``: anything else, e.g. the right direction but not significant with few
  seeds, a statistic that cannot be computed (one seed), or a mixed model that did not
  converge.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
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
    "measured",
    "verdict",
    "method",
    "n_seeds",
    "profile",
)
"""Columns of the claims ledger (docs/CONTRACTS.md)."""

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
        "paper": "learning curves, 10 seeds, min-max band; no test reported (Fig. 4a)",
    },
    "fig4_isr_no_loss": {
        "figure": "fig4",
        "claim": "The ISR model prevents unlearning with no measurable loss in performance (isr).",
        "paper": "learning curves, 10 seeds, min-max band; no test reported (Fig. 4a)",
    },
    "fig4_isr_gt_frozen_ood": {
        "figure": "fig4",
        "claim": "ISR OOD performance is significantly greater than the frozen baseline.",
        "paper": "p < 0.05 (t-test); t(18) = -2.38, p = 0.029 on the authors' per-seed data "
        "(Fig. 4b; PAPER.md §8)",
    },
    "fig4_isr_eq_oracle_ood": {
        "figure": "fig4",
        "claim": "ISR OOD performance is not significantly different from the oracle.",
        "paper": "p = 0.32 (t-test); t(18) = -1.02 on the authors' per-seed data "
        "(Fig. 4b; PAPER.md §8)",
    },
    "fig5_isr_gt_frozen_published": {
        "figure": "fig5",
        "claim": "The ISR significantly outperforms the frozen model OOD on the five custom "
        "layouts.",
        "paper": "t = -3.66, p < 0.001 ('linear mixed-effect model'; in the authors' code OLS "
        "condition x layout, the effect in layout T only; PAPER.md §8)",
    },
    "fig5_isr_eq_oracle_published": {
        "figure": "fig5",
        "claim": "The ISR does not significantly differ from the oracle OOD on the five custom "
        "layouts.",
        "paper": "t = 1.12, p = 0.27 ('linear mixed-effect model'; in the authors' code OLS "
        "condition x layout, the effect in layout T only; PAPER.md §8)",
    },
    "fig5_isr_gt_frozen_mixed": {
        "figure": "fig5",
        "claim": "The ISR significantly outperforms the frozen model OOD on the five custom "
        "layouts.",
        "paper": "t = -3.66, p < 0.001 (as published; re-tested with a mixed model, random "
        "intercept per seed, effect pooled over layouts; PAPER.md §8)",
    },
    "fig5_isr_eq_oracle_mixed": {
        "figure": "fig5",
        "claim": "The ISR does not significantly differ from the oracle OOD on the five custom "
        "layouts.",
        "paper": "t = 1.12, p = 0.27 (as published; re-tested with a mixed model, random "
        "intercept per seed, effect pooled over layouts; PAPER.md §8)",
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
claim_id (PAPER.md §2 captions; §8 for the numbers on the authors' per-seed data)."""


@dataclass(frozen=True)
class ClaimRules:
    """Thresholds of the verdict rules (module docstring; PAPER.md §2, §8)."""

    alpha: float = 0.05
    """Two-sided significance level: the paper's "p < 0.05" standard (Fig. 4b)."""
    window_fraction: float = stats.DEFAULT_WINDOW_FRACTION
    """Learning-curve window as a fraction of the phase-2 (or logged) episodes: last 10 %."""
    min_relative_drop: float = 0.25
    """Unlearning needs a phase-2 level at least 25 % below the phase-1 level (point estimate);
    a CI that excludes such a drop makes the claim fail."""
    no_loss_margin: float = 0.10
    """No measurable loss: the CI's lower bound must lie within -10 % of the phase-1 level."""
    gap_margin: float = 0.25
    """No measurable ISR gap: the CI of test - train must lie within +/-25 % of the final
    train MSE."""
    min_seeds_null: int = 5
    """Fewest seeds per condition for which non-significance counts as "no difference"."""


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


def verdict_no_difference(row: pd.Series, *, n_seeds: int, alpha: float,
                          min_seeds: int) -> Verdict:
    """Verdict for "not significantly different" at the paper's standard (Figs. 4b, 5).

    ``fails`` if two-sided p < alpha; ``holds`` if p >= alpha with at least ``min_seeds``
    seeds per condition (below that a t-test has too little power for non-significance to mean
    anything); ``inconclusive`` otherwise, including no test.

    Args:
        row: A stats result row (``p_value``).
        n_seeds: Fewest seeds in either condition.
        alpha: Significance level.
        min_seeds: Seeds per condition needed for ``holds``.
    """
    if not math.isfinite(row["p_value"]):
        return "inconclusive"
    if row["p_value"] < alpha:
        return "fails"
    return "holds" if n_seeds >= min_seeds else "inconclusive"


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


def verdict_no_loss(row: pd.Series, *, alpha: float, margin: float) -> Verdict:
    """Verdict for "no measurable loss in performance" (Figs. 4a, 7).

    On a :func:`valint.stats.phase_window_test` row: ``fails`` if the phase-2 level is
    significantly lower (p < alpha, estimate < 0: a measurable loss); ``holds`` if not and the
    CI's lower bound, relative to the phase-1 level, is at least -``margin``; ``inconclusive``
    otherwise (a loss larger than the margin is not ruled out, or no test).

    Args:
        row: A phase-window test row with ``relative_ci_low``.
        alpha: Significance level.
        margin: Equivalence margin as a fraction of the phase-1 level.
    """
    if _significant(row, alpha) and row["estimate"] < 0:
        return "fails"
    if math.isfinite(row["relative_ci_low"]) and row["relative_ci_low"] >= -margin:
        return "holds"
    return "inconclusive"


def verdict_no_gap(row: pd.Series, *, alpha: float, margin: float) -> Verdict:
    """Verdict for "no measurable gap between train and test" (Fig. 3a).

    On a :func:`valint.stats.isr_train_test_gap_test` row (final test - train MSE, paired
    over seeds): ``fails`` if p < alpha in either direction; ``holds`` if not and the whole CI,
    relative to the final train MSE, lies within +/-``margin``; ``inconclusive`` otherwise
    (including a single seed, where no test exists).

    Args:
        row: A gap test row with ``relative_ci_low`` and ``relative_ci_high``.
        alpha: Significance level.
        margin: Equivalence margin as a fraction of the final train MSE.
    """
    if _significant(row, alpha):
        return "fails"
    low, high = row["relative_ci_low"], row["relative_ci_high"]
    if math.isfinite(low) and math.isfinite(high) and -margin <= low and high <= margin:
        return "holds"
    return "inconclusive"


def verdict_reward_hacking(internal: pd.Series, goals: pd.Series, *, alpha: float) -> Verdict:
    """Verdict for Fig. 6's reward hacking: internal reward up, goals reached not up.

    On two :func:`valint.stats.first_last_window_test` rows (last - first window of phase 2):
    ``holds`` if internal reward rises significantly (p < alpha, estimate > 0) and goals per
    episode do not rise significantly; ``fails`` if internal reward falls significantly or the
    goals rise significantly (the agent is really learning, not hacking); ``inconclusive``
    otherwise.

    Args:
        internal: Result row for ``internal_reward``.
        goals: Result row for ``goals_per_episode``.
        alpha: Significance level.
    """
    goals_up = _significant(goals, alpha) and goals["estimate"] > 0
    internal_verdict = verdict_difference(internal, expected_sign=+1, alpha=alpha)
    if internal_verdict == "fails" or goals_up:
        return "fails"
    return internal_verdict


def _row(claim_id: str, *, measured: str, verdict: Verdict, method: str, n_seeds: int,
         profile: str) -> dict[str, object]:
    paper = PAPER_CLAIMS[claim_id]
    return {
        "claim_id": claim_id,
        "figure": paper["figure"],
        "claim": paper["claim"],
        "paper": paper["paper"],
        "measured": measured,
        "verdict": verdict,
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


def _window_measured(row: pd.Series, value: str) -> str:
    return (
        f"{row['condition']}: {value} {row['mean_a']:.3g} over the last "
        f"{row['window_episodes']} phase-2 episodes vs {row['mean_b']:.3g} at the end of phase 1 "
        f"({_percent(row['relative_change'])}, 95% CI {_percent(row['relative_ci_low'])} to "
        f"{_percent(row['relative_ci_high'])}), {_format_statistic(row)}"
    )


def _unlearning_row(claim_id: str, curves: pd.DataFrame, condition: str, value: str,
                    profile: str, rules: ClaimRules) -> dict[str, object]:
    row = stats.phase_window_test(curves, value=value, conditions=[condition],
                                  window_fraction=rules.window_fraction).iloc[0]
    return _row(
        claim_id,
        measured=_window_measured(row, value),
        verdict=verdict_unlearning(row, alpha=rules.alpha,
                                   min_relative_drop=rules.min_relative_drop),
        method=f"{row['method']}; holds if p < {rules.alpha} with a drop of at least "
        f"{rules.min_relative_drop:.0%} of the phase-1 level",
        n_seeds=row["n_seeds"],
        profile=profile,
    )


def _no_loss_row(claim_id: str, curves: pd.DataFrame, condition: str, value: str,
                 profile: str, rules: ClaimRules) -> dict[str, object]:
    row = stats.phase_window_test(curves, value=value, conditions=[condition],
                                  window_fraction=rules.window_fraction).iloc[0]
    return _row(
        claim_id,
        measured=_window_measured(row, value),
        verdict=verdict_no_loss(row, alpha=rules.alpha, margin=rules.no_loss_margin),
        method=f"{row['method']}; holds if no significant drop and the CI's lower bound is "
        f"within -{rules.no_loss_margin:.0%} of the phase-1 level",
        n_seeds=row["n_seeds"],
        profile=profile,
    )


def _ood_rows(ood: pd.DataFrame, results: pd.DataFrame, *, gt_id: str, eq_id: str,
              profile: str, rules: ClaimRules, symbol: str = "t", where: str = "",
              notes: Mapping[str, str] | None = None) -> list[dict[str, object]]:
    """Ledger rows "ISR > frozen" (``gt_id``) and "ISR ~ oracle" (``eq_id``) from test results.

    ``results`` holds one row per contrast, "frozen - isr" and "isr - oracle" (the
    ``valint.stats`` default pairs); ``notes`` adds text after a contrast's measured string.
    """
    by_contrast = results.set_index("contrast")
    conditions = ood.assign(condition=ood["condition"].astype(str).str.lower())
    key = ["condition", "seed"] if "seed" in conditions else ["condition"]
    seeds = conditions.drop_duplicates(key).groupby("condition").size()
    notes = notes or {}
    rows = []
    for claim_id, contrast in ((gt_id, "frozen - isr"), (eq_id, "isr - oracle")):
        result = by_contrast.loc[contrast].copy()
        result["contrast"] = contrast
        a, b = contrast.split(" - ")
        n_seeds = int(min(seeds.get(a, 0), seeds.get(b, 0)))
        if claim_id == gt_id:
            verdict = verdict_difference(result, expected_sign=-1, alpha=rules.alpha)
            rule = f"holds if p < {rules.alpha} with isr above frozen"
        else:
            verdict = verdict_no_difference(result, n_seeds=n_seeds, alpha=rules.alpha,
                                            min_seeds=rules.min_seeds_null)
            rule = (f"holds if p >= {rules.alpha} with at least {rules.min_seeds_null} seeds "
                    f"per condition, fails if p < {rules.alpha}")
        measured = _format_test(result, symbol, where)
        if contrast in notes:
            measured = f"{measured}; {notes[contrast]}"
        rows.append(_row(claim_id, measured=measured, verdict=verdict,
                         method=f"{result['method']}; {rule}", n_seeds=n_seeds,
                         profile=profile))
    return rows


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


def claims_fig3(tables: Mapping[str, pd.DataFrame], *, profile: str,
                rules: ClaimRules = ClaimRules()) -> pd.DataFrame:
    """Fig. 3: no train/test gap of the ISR (3a) and falling test loss with more data (3b).

    - 3a, by :func:`verdict_no_gap` on :func:`valint.stats.isr_train_test_gap_test`: the mean
      MSE over the last 10 % of logged points, held-out test - train, paired over seeds.
    - 3b, by :func:`verdict_difference` (expected sign -1) on
      :func:`valint.stats.data_size_slope`: the slope of log10(test MSE) on
      log10(training transitions); significantly negative holds, significantly positive fails.

    Args:
        tables: Needs ``isr_curve`` and ``isr_data_size`` (docs/CONTRACTS.md).
        profile: Name of the run profile.
        rules: Verdict thresholds.

    Returns:
        The ledger rows (:data:`LEDGER_COLUMNS`).
    """
    curve = _table(tables, "isr_curve", "fig3")
    data_size = _table(tables, "isr_data_size", "fig3")
    gap = stats.isr_train_test_gap_test(curve, window_fraction=rules.window_fraction).iloc[0]
    slope = stats.data_size_slope(data_size).iloc[0]
    summary = stats.data_size_summary(data_size)
    first, last = summary.iloc[0], summary.iloc[-1]
    return _ledger(
        [
            _row(
                "fig3_isr_no_train_test_gap",
                measured=(
                    f"final MSE test {gap['mean_a']:.3g} vs train {gap['mean_b']:.3g} "
                    f"(gap {_percent(gap['relative_change'])} of train, 95% CI "
                    f"{_percent(gap['relative_ci_low'])} to {_percent(gap['relative_ci_high'])})"
                    f", {_format_statistic(gap)}"
                ),
                verdict=verdict_no_gap(gap, alpha=rules.alpha, margin=rules.gap_margin),
                method=f"{gap['method']}; holds if p >= {rules.alpha} and the CI lies within "
                f"+/-{rules.gap_margin:.0%} of the train MSE",
                n_seeds=gap["n_seeds"],
                profile=profile,
            ),
            _row(
                "fig3_isr_loss_decreases_with_data",
                measured=(
                    f"mean test MSE {first['isr_test_mse_mean']:.3g} at "
                    f"{int(first['isr_train_transitions']):,} transitions, "
                    f"{last['isr_test_mse_mean']:.3g} at "
                    f"{int(last['isr_train_transitions']):,}; slope {slope['estimate']:.2f} "
                    f"(95% CI {slope['ci_low']:.2f} to {slope['ci_high']:.2f}), "
                    f"{_format_statistic(slope)}"
                ),
                verdict=verdict_difference(slope, expected_sign=-1, alpha=rules.alpha),
                method=f"{slope['method']}; holds if the slope is negative with p < "
                f"{rules.alpha}",
                n_seeds=int(data_size["seed"].nunique()) if "seed" in data_size else 0,
                profile=profile,
            ),
        ]
    )


def claims_fig4(tables: Mapping[str, pd.DataFrame], *, profile: str,
                rules: ClaimRules = ClaimRules()) -> pd.DataFrame:
    """Fig. 4: unlearning without ISR, no loss with it (4a); ISR > frozen, ISR ~ oracle OOD (4b).

    - 4a none: :func:`verdict_unlearning`; 4a isr: :func:`verdict_no_loss`, both on
      :func:`valint.stats.phase_window_test` of ``goals_per_episode``.
    - 4b: the published two-sample Student t-tests (:func:`valint.stats.ood_t_tests`; Welch's p
      is shown beside them). ISR > frozen by :func:`verdict_difference`; ISR ~ oracle by
      :func:`verdict_no_difference`.

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
    welch = tests[tests["test"] == "welch"].set_index("contrast")["p_value"]
    student = tests[tests["test"] == "student"]
    rows = [
        _unlearning_row("fig4_none_unlearns", curves, "none", "goals_per_episode", profile,
                        rules),
        _no_loss_row("fig4_isr_no_loss", curves, "isr", "goals_per_episode", profile, rules),
    ]
    rows += _ood_rows(
        ood, student, gt_id="fig4_isr_gt_frozen_ood", eq_id="fig4_isr_eq_oracle_ood",
        profile=profile, rules=rules,
        notes={contrast: f"Welch {format_p(p)}" for contrast, p in welch.items()},
    )
    return _ledger(rows)


def claims_fig5(tables: Mapping[str, pd.DataFrame], *, profile: str,
                rules: ClaimRules = ClaimRules()) -> pd.DataFrame:
    """Fig. 5: ISR > frozen and ISR ~ oracle OOD, as published and with a mixed model.

    Two rows per claim. ``*_published``: the authors' OLS ``condition * layout``
    (:func:`valint.stats.ols_condition_by_layout`), i.e. the effect in layout "T" only (in the
    first layout by name when a run left "T" out, e.g. a single-layout run).
    ``*_mixed``: the linear mixed model with a random intercept per seed
    (:func:`valint.stats.mixed_model_condition_layout`), the effect pooled over layouts; its
    fitting warnings, if any, are appended to ``method``. ISR > frozen by
    :func:`verdict_difference`; ISR ~ oracle by :func:`verdict_no_difference`; a mixed model
    whose optimiser did not converge gives ``inconclusive`` whatever its p-value.

    Args:
        tables: Needs ``ood`` with ``layout`` and ``seed`` (docs/CONTRACTS.md).
        profile: Name of the run profile.
        rules: Verdict thresholds.

    Returns:
        The ledger rows (:data:`LEDGER_COLUMNS`).
    """
    ood = _table(tables, "ood", "fig5")
    layouts = sorted(ood["layout"].unique())
    reference = stats.REFERENCE_LAYOUT if stats.REFERENCE_LAYOUT in layouts else layouts[0]
    published = stats.ols_condition_by_layout(ood, reference_layout=reference)
    mixed = stats.mixed_model_condition_layout(ood)
    rows = _ood_rows(
        ood, published, gt_id="fig5_isr_gt_frozen_published",
        eq_id="fig5_isr_eq_oracle_published", profile=profile, rules=rules,
        where=f" in layout {reference}",
    )
    mixed_rows = _ood_rows(
        ood, mixed, gt_id="fig5_isr_gt_frozen_mixed", eq_id="fig5_isr_eq_oracle_mixed",
        profile=profile, rules=rules, symbol="z", where=" pooled over layouts",
    )
    for row, result in zip(mixed_rows, mixed.itertuples(), strict=True):
        if not result.converged:
            row["verdict"] = "inconclusive"
        if not result.converged or result.warnings:
            row["method"] = (
                f"{row['method']}; converged: {result.converged}; warnings: "
                f"{result.warnings or 'none'}"
            )
    return _ledger(rows + mixed_rows)


def claims_fig6(tables: Mapping[str, pd.DataFrame], *, profile: str,
                rules: ClaimRules = ClaimRules()) -> pd.DataFrame:
    """Fig. 6: with an under-trained ISR, internal reward rises while goals reached do not.

    :func:`valint.stats.first_last_window_test` on ``internal_reward`` and on
    ``goals_per_episode`` (last 10 % of phase-2 episodes minus the first 10 %, paired over
    seeds), judged by :func:`verdict_reward_hacking`.

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
                                         window_fraction=rules.window_fraction).iloc[0]

    def change(row: pd.Series, value: str) -> str:
        return (
            f"{value} {row['mean_b']:.3g} -> {row['mean_a']:.3g}, {_format_statistic(row)}"
        )

    return _ledger(
        [
            _row(
                "fig6_reward_hacking",
                measured=f"first vs last {internal['window_episodes']} phase-2 episodes: "
                f"{change(internal, 'internal_reward')}; {change(goals, 'goals_per_episode')}",
                verdict=verdict_reward_hacking(internal, goals, alpha=rules.alpha),
                method=f"{internal['method']}; same for goals_per_episode; holds if internal "
                f"reward rises with p < {rules.alpha} and goals do not rise significantly",
                n_seeds=min(internal["n_seeds"], goals["n_seeds"]),
                profile=profile,
            )
        ]
    )


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
    learned = bool(_significant(row, rules.alpha) and row["estimate"] > 0)
    text = (f"phase 1 {'taught' if learned else 'did not teach'} it: {value} "
            f"{row['mean_b']:.3g} in the first {row['window_episodes']} phase-1 episodes, "
            f"{row['mean_a']:.3g} in the last, {_format_statistic(row)}")
    return learned, text


def claims_fig7(tables: Mapping[str, pd.DataFrame], *, profile: str,
                rules: ClaimRules = ClaimRules()) -> pd.DataFrame:
    """Fig. 7: helping continues with the ISR (no measurable loss) and decays without (none).

    :func:`valint.stats.phase_window_test` on ``partner_goals_per_episode``; isr judged by
    :func:`verdict_no_loss`, none by :func:`verdict_unlearning`. Both are ``inconclusive``
    unless phase 1 taught helping (:func:`phase1_learning`); the measured text says which.

    Args:
        tables: Needs ``curves`` (docs/CONTRACTS.md, fig7 columns).
        profile: Name of the run profile.
        rules: Verdict thresholds.

    Returns:
        The ledger rows (:data:`LEDGER_COLUMNS`).
    """
    curves = _table(tables, "curves", "fig7")
    value = "partner_goals_per_episode"
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


CLAIMS_BY_FIGURE: dict[str, Callable[..., pd.DataFrame]] = {
    "fig1": claims_fig1,
    "fig2": claims_fig2,
    "fig3": claims_fig3,
    "fig4": claims_fig4,
    "fig5": claims_fig5,
    "fig6": claims_fig6,
    "fig7": claims_fig7,
}
"""Ledger function per figure name."""


def figure_claims(figure: str, tables: Mapping[str, pd.DataFrame], *, profile: str,
                  rules: ClaimRules = ClaimRules()) -> pd.DataFrame:
    """The claims ledger of one figure (PAPER.md §2), dispatching to ``claims_<figure>``.

    Args:
        figure: "fig1" ... "fig7".
        tables: The figure's tidy tables (``FigureResult.tables``, docs/CONTRACTS.md).
        profile: Name of the run profile ("paper", "quick", "smoke").
        rules: Verdict thresholds.

    Returns:
        The ledger rows (:data:`LEDGER_COLUMNS`).
    """
    if figure not in CLAIMS_BY_FIGURE:
        raise ValueError(f"unknown figure {figure!r}; expected one of {sorted(CLAIMS_BY_FIGURE)}")
    return CLAIMS_BY_FIGURE[figure](tables, profile=profile, rules=rules)
