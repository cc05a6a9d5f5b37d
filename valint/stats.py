"""Statistics of the paper's figures, on tidy per-seed tables (PAPER.md §6, §8).

Every public function takes a tidy :class:`pandas.DataFrame` (the tables of docs/CONTRACTS.md,
or the authors' per-seed CSVs of PAPER.md §10 with ``replicate`` renamed to ``seed``) and
returns a tidy DataFrame. Test results carry the columns of :data:`RESULT_COLUMNS`::

    contrast, estimate, ci_low, ci_high, statistic, df, p_value, method

plus extra columns where a test needs them (``cohens_d``, ``layout``, ``p_holm``,
``warnings``, ``converged``, ...). A contrast ``"a - b"`` always has ``estimate = a - b``; the
default pairs ``("frozen", "isr")`` and ``("isr", "oracle")`` give the signs of PAPER.md §8
(frozen vs isr t(18) = -2.38). Condition labels are compared case-insensitively, so the
authors' "Frozen", "ISR", "Oracle" and this project's ``frozen``, ``isr``, ``oracle`` both work.

The functions by figure:

- Fig. 4b: :func:`ood_t_tests` (Student t-tests as published, Welch beside them).
- Fig. 5 as published: :func:`ols_condition_by_layout` (effect in the reference layout only)
  and :func:`ols_condition_plus_layout` (additive model of PAPER.md §8).
- Figs. 4b and 5 done properly: :func:`seed_contrast_tests` (paired by seed),
  :func:`mixed_model_condition_layout` (random seed and seed x condition effects, t on
  seeds - 1 df) and :func:`per_layout_t_tests` (paired) with :func:`holm_correction`.
- Claims of no difference: :func:`equivalence_test` (two one-sided tests within a margin).
- Two independent sets of runs (ours against the authors', ``valint.agreement``):
  :func:`welch_t_test`.
- Fig. 3a / 3b: :func:`held_out_vs_last_train_part_log_test` (the claim's test),
  :func:`isr_train_test_gap_test` (the chronological split, descriptive), :func:`data_size_summary`,
  :func:`data_size_seed_slopes` (the test) and :func:`data_size_slope` (pooled, descriptive).
- Figs. 1b, 4a, 6, 7: :func:`phase_window_means`, :func:`phase_window_test`,
  :func:`first_last_window_test`, all built on :func:`paired_t_test`; beside the end of phase 1,
  the oracle over the same phase-2 window (:func:`phase2_vs_oracle_test`,
  :func:`phase2_references`, descriptive).
- The quick profile's Fig. 7 phase 1: :func:`phase1_learning_by_seed` (block means),
  :func:`phase1_learning_by_length`, :func:`choose_phase1_length` and
  :func:`phase1_length_check` (chosen on record seeds the profile does not run, tested on
  those it runs).

Frozen, in the tables here, is the paper's name for an agent that keeps training in the
training layouts with the caregiver present, never sees the OOD layout, and is tested zero-shot
(PAPER.md §5).
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats as sps

RESULT_COLUMNS: tuple[str, ...] = (
    "contrast",
    "estimate",
    "ci_low",
    "ci_high",
    "statistic",
    "df",
    "p_value",
    "method",
)
"""Columns every test result carries, in this order (docs/CONTRACTS.md; STYLE.md §6 item 11)."""

DEFAULT_PAIRS: tuple[tuple[str, str], ...] = (("frozen", "isr"), ("isr", "oracle"))
"""Condition pairs compared in Figs. 4b and 5; contrast ``a - b`` (signs of PAPER.md §8)."""

REFERENCE_LAYOUT = "T"
"""Reference layout of the as-published Fig. 5 model (PAPER.md §8).

The authors' treatment coding took the alphabetically first label as reference, and their
result is the effect in "T". With this project's labels ``sorted`` gives "4 rooms" first
("4" sorts before capitals), so the reference must be named explicitly to match the paper.
"""

DEFAULT_WINDOW_FRACTION = 0.1
"""Default learning-curve window: the last (or first) 10 % of the phase-2 episodes."""


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def _normalise_conditions(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy with ``condition`` lower-cased ("ISR" -> "isr")."""
    if "condition" not in frame.columns:
        raise ValueError(f"expected a 'condition' column, got columns {list(frame.columns)}")
    out = frame.copy()
    out["condition"] = out["condition"].astype(str).str.lower()
    return out


def _require_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"missing columns {missing}; got {list(frame.columns)}")


def _contrast(a: str, b: str) -> str:
    return f"{a} - {b}"


def _per_seed(frame: pd.DataFrame, value: str, by: Sequence[str]) -> pd.DataFrame:
    """Average ``value`` over repeated rows of one seed (e.g. several evaluation layouts)."""
    if "seed" not in frame.columns:
        return frame[[*by, value]]
    return frame.groupby([*by, "seed"], as_index=False)[value].mean()


def _t_summary(
    estimate: float, se: float, df: float, confidence: float
) -> tuple[float, float, float, float]:
    """(statistic, p_value, ci_low, ci_high) of a t statistic estimate / se with df."""
    if not (np.isfinite(se) and se > 0 and np.isfinite(df) and df > 0):
        return math.nan, math.nan, math.nan, math.nan
    statistic = estimate / se
    p_value = float(2 * sps.t.sf(abs(statistic), df))
    half = float(sps.t.ppf(0.5 + confidence / 2, df)) * se
    return float(statistic), p_value, estimate - half, estimate + half


def _two_sample(
    x: np.ndarray, y: np.ndarray, *, equal_var: bool, confidence: float
) -> dict[str, float]:
    """Two-sample t-test of mean(x) - mean(y): Student (equal_var) or Welch."""
    nx, ny = len(x), len(y)
    estimate = float(np.mean(x) - np.mean(y)) if nx and ny else math.nan
    if nx < 2 or ny < 2:
        se, df = math.nan, math.nan
    else:
        vx, vy = float(np.var(x, ddof=1)), float(np.var(y, ddof=1))
        if equal_var:
            df = nx + ny - 2.0
            pooled = ((nx - 1) * vx + (ny - 1) * vy) / df
            se = math.sqrt(pooled * (1 / nx + 1 / ny))
        else:
            se = math.sqrt(vx / nx + vy / ny)
            denom = (vx / nx) ** 2 / (nx - 1) + (vy / ny) ** 2 / (ny - 1)
            df = se**4 / denom if denom > 0 else math.nan
    statistic, p_value, ci_low, ci_high = _t_summary(estimate, se, df, confidence)
    return {
        "estimate": estimate,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "statistic": statistic,
        "df": df,
        "p_value": p_value,
    }


def _cohens_d(x: np.ndarray, y: np.ndarray) -> float:
    """Cohen's d: mean difference over the pooled standard deviation (n - 1 weights)."""
    nx, ny = len(x), len(y)
    if nx < 2 or ny < 2:
        return math.nan
    pooled = ((nx - 1) * np.var(x, ddof=1) + (ny - 1) * np.var(y, ddof=1)) / (nx + ny - 2)
    if pooled <= 0:
        return math.nan
    return float((np.mean(x) - np.mean(y)) / math.sqrt(pooled))


def _window_size(n_episodes: int, window: int | None, window_fraction: float) -> int:
    if window is not None:
        if window < 1:
            raise ValueError(f"window must be a positive number of episodes, got {window}")
        return int(window)
    if not 0 < window_fraction <= 1:
        raise ValueError(f"window_fraction must lie in (0, 1], got {window_fraction}")
    return max(1, math.ceil(window_fraction * n_episodes))


def _relative(frame: pd.DataFrame, reference_mean: pd.Series) -> pd.DataFrame:
    """Add the estimate and its CI as fractions of a positive reference level."""
    level = reference_mean.where(reference_mean > 0)
    out = frame.copy()
    out["relative_change"] = out["estimate"] / level
    out["relative_ci_low"] = out["ci_low"] / level
    out["relative_ci_high"] = out["ci_high"] / level
    return out


# ---------------------------------------------------------------------------------------------
# Generic tests
# ---------------------------------------------------------------------------------------------


def paired_t_test(
    frame: pd.DataFrame,
    *,
    value: str,
    by: str,
    a: str,
    b: str,
    unit: str = "seed",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Paired t-test of ``a - b`` across units (seeds), two-sided.

    Only units that have both an ``a`` row and a ``b`` row enter; repeated rows of one unit and
    level are averaged first. Used for the learning-curve windows (Figs. 1b, 4a, 6, 7) and the
    paired per-layout comparisons of Fig. 5 (PAPER.md §8).

    Args:
        frame: Tidy frame with columns ``unit``, ``by`` and ``value``.
        value: Column of the measurement.
        by: Column whose levels ``a`` and ``b`` are compared.
        a: Level whose mean comes first in the difference.
        b: Level subtracted.
        unit: Pairing column; the seed by default.
        confidence: Level of the t confidence interval of the mean difference.

    Returns:
        One row: :data:`RESULT_COLUMNS` plus ``mean_a``, ``mean_b`` (over the paired units) and
        ``n_seeds`` (number of pairs). Statistic, p and CI are NaN with fewer than two pairs or
        zero spread of the differences.
    """
    _require_columns(frame, [unit, by, value])
    means = frame.groupby([unit, by])[value].mean().unstack(by)
    if a not in means.columns or b not in means.columns:
        pairs = means.iloc[:0]
    else:
        pairs = means[[a, b]].dropna()
    values_a = pairs[a].to_numpy(dtype=float) if len(pairs) else np.array([])
    values_b = pairs[b].to_numpy(dtype=float) if len(pairs) else np.array([])
    return _paired_rows(values_a[None, :], values_b[None, :], a=a, b=b, value=value, unit=unit,
                        confidence=confidence)


def _paired_rows(values_a: np.ndarray, values_b: np.ndarray, *, a: str, b: str, value: str,
                 unit: str, confidence: float) -> pd.DataFrame:
    """The rows of :func:`paired_t_test`, one per row of the ``(G, n)`` arrays of paired units."""
    n = values_a.shape[1]
    diff = values_a - values_b
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = diff.mean(axis=1) if n else np.full(len(diff), math.nan)
        se = diff.std(axis=1, ddof=1) / math.sqrt(n) if n >= 2 else np.full(len(diff), math.nan)
    summaries = [_t_summary(float(e), float(s), n - 1.0, confidence) for e, s in zip(estimate, se)]
    statistic, p_value, ci_low, ci_high = (np.array(column, dtype=float) for column in zip(*summaries))
    return pd.DataFrame(
        {
            "contrast": _contrast(a, b),
            "estimate": estimate.astype(float),
            "ci_low": ci_low,
            "ci_high": ci_high,
            "statistic": statistic,
            "df": float(n - 1) if n >= 2 else math.nan,
            "p_value": p_value,
            "method": f"paired t-test of {value} ({a} - {b}) across {unit}s, two-sided",
            "mean_a": values_a.mean(axis=1) if n else math.nan,
            "mean_b": values_b.mean(axis=1) if n else math.nan,
            "n_seeds": n,
        },
        index=range(len(diff)),
    )


def paired_t_tests_by_group(
    frame: pd.DataFrame,
    groups: Sequence[Sequence[int]],
    *,
    value: str,
    by: str,
    a: str,
    b: str,
    unit: str = "seed",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """:func:`paired_t_test` for many groups of units of one frame at once.

    Asking how a test with fewer seeds would have come out means running it on every group of
    seeds of a record (``valint.claims.fig7_verdicts_by_phase2_length``: 252 groups of five
    out of ten); this does the arithmetic of all of them in one pass.

    Args:
        frame: As for :func:`paired_t_test`; every unit of every group needs both levels.
        groups: Each group's units.
        value, by, a, b, unit, confidence: As for :func:`paired_t_test`.

    Returns:
        One row per group, in order: the columns of :func:`paired_t_test` plus ``group`` (its
        position in ``groups``).
    """
    _require_columns(frame, [unit, by, value])
    means = frame.groupby([unit, by])[value].mean().unstack(by)
    if a not in means.columns or b not in means.columns:
        raise ValueError(f"{by!r} needs the levels {a!r} and {b!r}")
    wanted = sorted({u for group in groups for u in group})
    missing = [u for u in wanted if u not in means.index or means.loc[u, [a, b]].isna().any()]
    if missing:
        raise ValueError(f"the {unit}s {missing} lack {a!r} or {b!r}")
    values_a, values_b = means[a].to_numpy(dtype=float), means[b].to_numpy(dtype=float)
    parts = []
    for size in sorted({len(group) for group in groups}):
        order = [k for k, group in enumerate(groups) if len(group) == size]
        index = np.array([[means.index.get_loc(u) for u in groups[k]] for k in order],
                         dtype=int).reshape(len(order), size)
        rows = _paired_rows(values_a[index], values_b[index], a=a, b=b, value=value, unit=unit,
                            confidence=confidence)
        parts.append(rows.assign(group=order))
    return pd.concat(parts).sort_values("group").reset_index(drop=True)


def welch_t_test(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    contrast: str = "a - b",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Two-sample Welch t-test of mean(x) - mean(y) for two independent samples.

    The unpaired test for two sets of runs that share nothing, such as this project's seeds and
    the authors' per-seed numbers, whose list positions carry no seed identity (PAPER.md §8,
    §10). Welch's test (unequal variances, Welch-Satterthwaite degrees of freedom) is used
    because the two runs need not have the same spread.

    Args:
        x, y: The two samples (at least two values each for a test).
        contrast: The label of the contrast ``x - y``.
        confidence: Level of the confidence interval of the difference.

    Returns:
        One row: :data:`RESULT_COLUMNS` plus ``mean_a``, ``mean_b``, ``n_a``, ``n_b``.
    """
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    row = {"contrast": contrast, **_two_sample(a, b, equal_var=False, confidence=confidence),
           "method": "two-sample Welch t-test (unequal variances), unpaired, two-sided",
           "mean_a": float(np.mean(a)) if len(a) else math.nan,
           "mean_b": float(np.mean(b)) if len(b) else math.nan, "n_a": len(a), "n_b": len(b)}
    return pd.DataFrame([row], columns=[*RESULT_COLUMNS, "mean_a", "mean_b", "n_a", "n_b"])


def holm_correction(
    results: pd.DataFrame, *, p_column: str = "p_value", by: str | Sequence[str] | None = None
) -> pd.DataFrame:
    """Add Holm's step-down adjusted p-values as column ``p_holm``.

    Holm (1979): sort the m p-values ascending, multiply the j-th smallest by (m - j + 1),
    take the running maximum and cap at 1. It controls the family-wise error rate without
    assuming independence. Used for the per-layout comparisons of Fig. 5 (PAPER.md §8: "per-map
    comparisons with a multiplicity correction"). NaN p-values stay NaN and do not count in m.

    Args:
        results: Tidy result frame with a p-value column.
        p_column: Name of that column.
        by: Column(s) defining the families; one family over all rows when None.

    Returns:
        A copy of ``results`` with ``p_holm`` added.
    """
    _require_columns(results, [p_column])
    out = results.copy()
    out["p_holm"] = math.nan
    groups = [out.index] if by is None else [idx for idx in out.groupby(by).groups.values()]
    for idx in groups:
        p = out.loc[idx, p_column].astype(float)
        p = p[p.notna()]
        m = len(p)
        if m == 0:
            continue
        order = np.argsort(p.to_numpy(), kind="stable")
        scaled = (m - np.arange(m)) * p.to_numpy()[order]
        adjusted = np.minimum(np.maximum.accumulate(scaled), 1.0)
        out.loc[p.index[order], "p_holm"] = adjusted
    return out


def equivalence_test(
    results: pd.DataFrame,
    *,
    margin: float | Sequence[float] | pd.Series,
    side: Literal["both", "lower", "upper"] = "both",
    alpha: float = 0.05,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Two one-sided tests (TOST) of equivalence within ``±margin``, from test result rows.

    "No difference" needs evidence that any difference is small, not a large p-value
    (Schuirmann 1987; Lakens 2017). For each row, with the estimate's standard error recovered
    from its ``confidence`` interval (t quantile with ``df``, normal where ``df`` is NaN, as for
    a Wald test), the two one-sided tests are H0: estimate <= -margin and H0: estimate >=
    +margin, each at level ``alpha``; both are rejected exactly when the (1 - 2 alpha) interval
    (90 % for alpha 0.05) lies inside (-margin, +margin). ``side`` "lower" keeps only the first
    test (non-inferiority: "no loss of more than margin"), "upper" only the second ("no rise of
    more than margin").

    Args:
        results: Rows with :data:`RESULT_COLUMNS` at the given ``confidence``.
        margin: The equivalence margin, positive, in the estimate's units: one value or one
            per row. It must be fixed before looking at the data (``valint.claims``).
        side: Which one-sided tests to run.
        alpha: Level of each one-sided test.
        confidence: Level of the intervals ``ci_low``/``ci_high`` in ``results``.

    Returns:
        A copy of ``results`` with ``margin``, ``eq_ci_low``, ``eq_ci_high`` (the 1 - 2 alpha
        interval), ``p_tost`` (the larger p of the tests run; NaN where no test was possible)
        and ``equivalent`` (p_tost < alpha).
    """
    _require_columns(results, RESULT_COLUMNS)
    if side not in ("both", "lower", "upper"):
        raise ValueError(f"side={side!r} is not allowed; choose one of 'both', 'lower', 'upper'")
    out = results.copy()
    out["margin"] = np.broadcast_to(np.asarray(margin, dtype=float), (len(out),))
    low, high, p_values = [], [], []
    for row in out.itertuples():
        df = float(row.df)
        dist = sps.t(df) if math.isfinite(df) and df > 0 else sps.norm()
        half = (row.ci_high - row.ci_low) / 2
        se = half / dist.ppf(0.5 + confidence / 2)
        if not (math.isfinite(se) and se > 0 and math.isfinite(row.margin) and row.margin > 0):
            low.append(math.nan), high.append(math.nan), p_values.append(math.nan)
            continue
        q = dist.ppf(1 - alpha) * se
        low.append(row.estimate - q)
        high.append(row.estimate + q)
        p_lower = float(dist.sf((row.estimate + row.margin) / se))
        p_upper = float(dist.cdf((row.estimate - row.margin) / se))
        p_values.append({"both": max(p_lower, p_upper), "lower": p_lower, "upper": p_upper}[side])
    out["eq_ci_low"], out["eq_ci_high"], out["p_tost"] = low, high, p_values
    out["equivalent"] = out["p_tost"] < alpha
    return out


# ---------------------------------------------------------------------------------------------
# Fig. 4b
# ---------------------------------------------------------------------------------------------


def ood_t_tests(
    ood: pd.DataFrame,
    *,
    pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
    value: str = "ood_reward",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Two-sample t-tests of OOD reward between conditions, Student as published and Welch.

    Paper Fig. 4b (PAPER.md §6, §8): the published tests are two-sample Student t-tests (equal
    variances) on the ten per-seed OOD returns; on the authors' data frozen - isr gives
    t(18) = -2.38, p = 0.029 and isr - oracle t(18) = -1.02, p = 0.32. Welch's test (unequal
    variances) is reported beside each, with the same mean difference and Cohen's d (pooled SD).
    Rows of one seed and condition (e.g. several OOD layouts) are averaged first, so the unit is
    the seed.

    Args:
        ood: Tidy frame with ``condition`` and ``value`` (and ``seed``), as the ``ood`` table.
        pairs: Condition pairs (a, b); each contrast is ``a - b``.
        value: Column of the per-seed OOD return.
        confidence: Level of the confidence interval of the mean difference.

    Returns:
        Two rows per pair (``test`` = "student", then "welch"): :data:`RESULT_COLUMNS` plus
        ``test``, ``cohens_d``, ``mean_a``, ``mean_b``, ``n_a``, ``n_b``.
    """
    frame = _per_seed(_normalise_conditions(ood), value, ["condition"])
    rows = []
    for a, b in pairs:
        x = frame.loc[frame["condition"] == a, value].to_numpy(dtype=float)
        y = frame.loc[frame["condition"] == b, value].to_numpy(dtype=float)
        d = _cohens_d(x, y)
        for test, equal_var, method in (
            ("student", True, "two-sample Student t-test (equal variances), as published"),
            ("welch", False, "two-sample Welch t-test (unequal variances)"),
        ):
            rows.append(
                {
                    "contrast": _contrast(a, b),
                    **_two_sample(x, y, equal_var=equal_var, confidence=confidence),
                    "method": f"{method}; unit = seed",
                    "test": test,
                    "cohens_d": d,
                    "mean_a": float(np.mean(x)) if len(x) else math.nan,
                    "mean_b": float(np.mean(y)) if len(y) else math.nan,
                    "n_a": len(x),
                    "n_b": len(y),
                }
            )
    return pd.DataFrame(rows, columns=[*RESULT_COLUMNS, "test", "cohens_d", "mean_a", "mean_b",
                                       "n_a", "n_b"])


# ---------------------------------------------------------------------------------------------
# Fig. 5
# ---------------------------------------------------------------------------------------------


def _pair_frame(ood: pd.DataFrame, a: str, b: str, value: str) -> pd.DataFrame:
    frame = _normalise_conditions(ood)
    _require_columns(frame, ["layout", value])
    frame = frame[frame["condition"].isin([a, b])]
    if frame.empty:
        raise ValueError(f"no rows for conditions {a!r} and {b!r}")
    return frame.reset_index(drop=True)


def _design(
    frame: pd.DataFrame, a: str, reference_layout: str, *, interaction: bool
) -> pd.DataFrame:
    """Treatment-coded design: intercept, condition[a] (reference b), layout dummies."""
    layouts = sorted(frame["layout"].unique())
    if reference_layout not in layouts:
        raise ValueError(f"reference layout {reference_layout!r} not among {layouts}")
    condition = (frame["condition"] == a).astype(float)
    columns = {"intercept": np.ones(len(frame)), f"condition[{a}]": condition}
    others = [layout for layout in layouts if layout != reference_layout]
    for layout in others:
        columns[f"layout[{layout}]"] = (frame["layout"] == layout).astype(float)
    if interaction:
        for layout in others:
            columns[f"condition[{a}]:layout[{layout}]"] = condition * columns[f"layout[{layout}]"]
    return pd.DataFrame(columns, index=frame.index)


def _ols_condition(
    ood: pd.DataFrame,
    *,
    pairs: Sequence[tuple[str, str]],
    value: str,
    reference_layout: str | None,
    interaction: bool,
    confidence: float,
) -> pd.DataFrame:
    rows = []
    for a, b in pairs:
        frame = _pair_frame(ood, a, b, value)
        reference = reference_layout if reference_layout is not None else sorted(
            frame["layout"].unique()
        )[0]
        design = _design(frame, a, reference, interaction=interaction)
        name = f"condition[{a}]"
        if len(frame) <= np.linalg.matrix_rank(design.to_numpy(dtype=float)):
            rows.append(_ols_without_residuals(a, b, frame, design, value, reference, interaction))
            continue
        fit = sm.OLS(frame[value].to_numpy(dtype=float), design).fit()
        ci = fit.conf_int(alpha=1 - confidence).loc[name]
        if interaction:
            method = (
                f"OLS {value} ~ condition * layout, treatment coding, fitted on {a} and {b} only "
                f"(as published, PAPER.md §8); the condition coefficient is the effect in the "
                f"reference layout {reference!r} only, not across layouts"
            )
        else:
            method = (
                f"OLS {value} ~ condition + layout, treatment coding, fitted on {a} and {b} "
                f"(PAPER.md §8); the condition effect pooled across layouts"
            )
        rows.append(
            {
                "contrast": _contrast(a, b),
                "estimate": float(fit.params[name]),
                "ci_low": float(ci.iloc[0]),
                "ci_high": float(ci.iloc[1]),
                "statistic": float(fit.tvalues[name]),
                "df": float(fit.df_resid),
                "p_value": float(fit.pvalues[name]),
                "method": method,
                "layout": reference if interaction else "all",
                "n_obs": int(fit.nobs),
                "n_seeds": int(frame["seed"].nunique()) if "seed" in frame else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=[*RESULT_COLUMNS, "layout", "n_obs", "n_seeds"])


def _ols_without_residuals(a: str, b: str, frame: pd.DataFrame, design: pd.DataFrame, value: str,
                           reference: str, interaction: bool) -> dict:
    """The row of an OLS with no residual degrees of freedom (no more observations than free
    coefficients, e.g. one seed per cell): the least-squares estimate, but no standard error, so
    no interval and no test (statsmodels would divide by zero degrees of freedom)."""
    coefficients = np.linalg.lstsq(design.to_numpy(dtype=float), frame[value].to_numpy(dtype=float),
                                   rcond=None)[0]
    return {
        "contrast": _contrast(a, b), "estimate": float(coefficients[list(design.columns).index(f"condition[{a}]")]),
        "ci_low": math.nan, "ci_high": math.nan, "statistic": math.nan, "df": 0.0, "p_value": math.nan,
        "method": f"OLS {value} on {len(frame)} observations for {design.shape[1]} coefficients: "
                  "no residual degrees of freedom, so no standard error and no test",
        "layout": reference if interaction else "all", "n_obs": len(frame),
        "n_seeds": int(frame["seed"].nunique()) if "seed" in frame else math.nan,
    }


def ols_condition_by_layout(
    ood: pd.DataFrame,
    *,
    pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
    value: str = "ood_reward",
    reference_layout: str = REFERENCE_LAYOUT,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Fig. 5 as published: OLS ``ood_reward ~ condition * layout`` on two conditions at a time.

    The paper calls this a "linear mixed-effect model with environment as a fixed effect"; in
    the authors' code it is ordinary least squares with treatment coding and an interaction
    (PAPER.md §8). Its condition coefficient is therefore the effect **in the reference layout
    only** ("T"), not an effect across layouts. On the authors' data it reproduces the published
    t = ±3.66, p = 4.2e-4 (frozen vs isr) and t = ±1.12, p = 0.27 (isr vs oracle). The reference
    is explicit: sorting this project's labels puts "4 rooms" first, which gives other numbers.

    Args:
        ood: Tidy frame with ``condition``, ``layout``, ``value`` (and ``seed``).
        pairs: Condition pairs (a, b); b is the reference condition, so the estimate is a - b.
        value: Outcome column.
        reference_layout: Layout whose condition effect is reported (PAPER.md §8: "T").
        confidence: Level of the coefficient's t confidence interval.

    Returns:
        One row per pair: :data:`RESULT_COLUMNS` plus ``layout`` (the reference layout),
        ``n_obs`` and ``n_seeds``.
    """
    return _ols_condition(
        ood, pairs=pairs, value=value, reference_layout=reference_layout, interaction=True,
        confidence=confidence,
    )


def ols_condition_plus_layout(
    ood: pd.DataFrame,
    *,
    pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
    value: str = "ood_reward",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Fig. 5, additive OLS ``ood_reward ~ condition + layout`` on two conditions at a time.

    The condition effect pooled across the five layouts (PAPER.md §8): on the authors' data
    t = 6.84 (frozen vs isr) and t = 2.59, p = 0.011 (isr vs oracle), i.e. the ISR is slightly
    but significantly below the oracle. Rows are treated as independent; the seed structure is
    handled by :func:`mixed_model_condition_layout`.

    Args:
        ood: Tidy frame with ``condition``, ``layout``, ``value`` (and ``seed``).
        pairs: Condition pairs (a, b); the estimate is a - b.
        value: Outcome column.
        confidence: Level of the coefficient's t confidence interval.

    Returns:
        One row per pair: :data:`RESULT_COLUMNS` plus ``layout`` ("all"), ``n_obs``, ``n_seeds``.
    """
    return _ols_condition(
        ood, pairs=pairs, value=value, reference_layout=None, interaction=False,
        confidence=confidence,
    )


def mixed_model_condition_layout(
    ood: pd.DataFrame,
    *,
    pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
    value: str = "ood_reward",
    seed_by_condition: bool = True,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Fig. 5 done properly: a linear mixed model of the design's clustering.

    One phase-1 learner per seed is shared by every condition and layout, and in Fig. 5 the
    ``frozen`` learner of a seed is one network evaluated on all five layouts (PAPER.md §5, §8).
    So the rewards of one seed are correlated overall (a random intercept per seed) and, within
    a condition, across layouts (a random seed x condition effect). The default model is

        ood_reward ~ condition + layout + (1 | seed) + (1 | seed:condition),

    fitted by REML with statsmodels ``MixedLM`` (the seed x condition effect as a variance
    component, ``vc_formula``) on two conditions at a time. The condition effect, pooled over
    layouts, varies between seeds, so it is tested with a t statistic on ``n_seeds - 1``
    degrees of freedom (with ten clusters a Wald z is anti-conservative); in a balanced design
    whose seed x condition variance is estimated above zero this equals the paired t-test of
    the seeds' layout-averaged contrasts (:func:`seed_contrast_tests`). Where that variance is
    estimated at zero (the fit is on the boundary) the two differ: the model then pools the
    layout-level noise into its standard error, and ``boundary`` says so.
    ``seed_by_condition=False`` fits the random intercept only
    (the model of the first version of this project) with a Wald z-test, ``df`` NaN.

    The outcome is divided by its standard deviation before fitting and the results scaled
    back: statsmodels flags "MLE on the boundary" when a variance is below an absolute 0.01,
    and on the reward scale (variances ~0.003) its optimiser stops short. The fit starts with
    Powell's derivative-free search and polishes with L-BFGS: on the authors' Fig. 5 data the
    default gradient search does not converge with the seed x condition component (it stops
    at t = -4.36 for frozen - isr) where this converges to the paired-contrast t = -7.39.
    Every warning raised while fitting is recorded, in order, in
    the ``warnings`` column ("; "-joined, empty when none) and never silenced; a fit that
    raises is reported as a NaN row with the error in ``warnings`` and ``converged`` False.

    Args:
        ood: Tidy frame with ``condition``, ``layout``, ``seed`` and ``value``.
        pairs: Condition pairs (a, b); the estimate is a - b.
        value: Outcome column.
        seed_by_condition: Include the seed x condition variance component.
        confidence: Level of the confidence interval.

    Returns:
        One row per pair: :data:`RESULT_COLUMNS` plus ``layout`` ("all"), ``seed_variance``
        (random-intercept variance), ``seed_condition_variance`` (NaN without that
        component), ``residual_variance``, ``converged``, ``warnings``, ``boundary``,
        ``hessian_pd``, ``degenerate`` (:func:`_fit_health`: a fit on the boundary, with a
        Hessian that is not positive definite, or not converged), ``n_obs`` and ``n_seeds``.
    """
    import statsmodels.formula.api as smf

    rows = []
    for a, b in pairs:
        frame = _pair_frame(ood, a, b, value)
        _require_columns(frame, ["seed"])
        y = frame[value].to_numpy(dtype=float)
        scale = float(np.std(y, ddof=1)) if len(y) > 1 else 0.0
        scale = scale if scale > 0 else 1.0
        data = pd.DataFrame(
            {
                "y": y / scale,
                "is_a": (frame["condition"] == a).astype(float),
                "layout": frame["layout"].astype(str),
                "seed": frame["seed"].to_numpy(),
                "condition": frame["condition"].to_numpy(),
            }
        )
        n_seeds = int(data["seed"].nunique())
        formula = "y ~ is_a" + (" + C(layout)" if data["layout"].nunique() > 1 else "")
        if seed_by_condition:
            structure = "(1 | seed) + (1 | seed:condition)"
            inference = f"t-test on n_seeds - 1 = {n_seeds - 1} df"
            df = float(n_seeds - 1) if n_seeds > 1 else math.nan
        else:
            structure = "(1 | seed)"
            inference = "Wald z-test"
            df = math.nan
        row = {
            "contrast": _contrast(a, b),
            "method": (
                f"linear mixed model {value} ~ condition + layout + {structure}, REML "
                f"(statsmodels MixedLM), fitted on {a} and {b}; condition effect pooled across "
                f"layouts, {inference}"
            ),
            "layout": "all",
            "n_obs": len(frame),
            "n_seeds": n_seeds,
        }
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model = smf.mixedlm(
                    formula, data, groups="seed", re_formula="1",
                    vc_formula={"seed_condition": "0 + C(condition)"} if seed_by_condition else None,
                )
                fit = model.fit(reml=True, method=["powell", "lbfgs"])
            except (np.linalg.LinAlgError, ValueError) as error:
                fit = None
                failure = f"{type(error).__name__}: {error}"
        messages = [f"{w.category.__name__}: {w.message}" for w in caught]
        if fit is None:
            messages.append(failure)
            row.update(
                estimate=math.nan, ci_low=math.nan, ci_high=math.nan, statistic=math.nan,
                df=math.nan, p_value=math.nan, seed_variance=math.nan,
                seed_condition_variance=math.nan, residual_variance=math.nan, converged=False,
            )
        else:
            estimate = float(fit.fe_params["is_a"]) * scale
            se = float(fit.bse_fe["is_a"]) * scale
            if seed_by_condition:
                statistic, p_value, ci_low, ci_high = _t_summary(estimate, se, df, confidence)
            else:
                ci = np.asarray(fit.conf_int(alpha=1 - confidence).loc["is_a"], dtype=float)
                statistic, p_value = float(fit.tvalues["is_a"]), float(fit.pvalues["is_a"])
                ci_low, ci_high = float(ci[0]) * scale, float(ci[1]) * scale
            vcomp = np.asarray(getattr(fit, "vcomp", []), dtype=float)
            row.update(
                estimate=estimate, ci_low=ci_low, ci_high=ci_high, statistic=statistic, df=df,
                p_value=p_value,
                seed_variance=float(np.asarray(fit.cov_re)[0, 0]) * scale**2,
                seed_condition_variance=float(vcomp[0]) * scale**2 if vcomp.size else math.nan,
                residual_variance=float(fit.scale) * scale**2,
                converged=bool(fit.converged),
            )
        row["warnings"] = "; ".join(dict.fromkeys(messages))
        row.update(_fit_health(row))
        rows.append(row)
    return pd.DataFrame(
        rows,
        columns=[*RESULT_COLUMNS, "layout", "seed_variance", "seed_condition_variance",
                 "residual_variance", "converged", "warnings", "boundary", "hessian_pd",
                 "degenerate", "n_obs", "n_seeds"],
    )


BOUNDARY_TOLERANCE = 1e-6
"""A variance component below this fraction of the residual variance counts as zero: the fit
sits on the boundary of its parameter space (:func:`mixed_model_condition_layout`)."""


def _fit_health(row: dict) -> dict:
    """``boundary``, ``hessian_pd`` and ``degenerate`` of one mixed-model row.

    ``boundary``: a variance component is zero to within :data:`BOUNDARY_TOLERANCE` of the
    residual variance. Then the model has dropped a level of the design's clustering, and its
    standard error is no longer the one the design calls for. statsmodels' own warning that
    "the MLE may be on the boundary" is a heuristic (it fires on the authors' Fig. 5 data,
    whose seed x condition variance is 1.5 % of the residual) and is kept in ``warnings`` only.
    ``hessian_pd``: False where statsmodels warned that the Hessian is not positive definite
    (the standard errors are unreliable). ``degenerate``: either, or a fit that did not
    converge.
    """
    residual = row.get("residual_variance", math.nan)
    components = [row.get("seed_variance", math.nan), row.get("seed_condition_variance", math.nan)]
    near_zero = any(math.isfinite(c) and math.isfinite(residual) and residual > 0
                    and c <= BOUNDARY_TOLERANCE * residual for c in components)
    text = row.get("warnings", "")
    boundary = bool(near_zero)
    hessian_pd = "not positive definite" not in text
    return {"boundary": boundary, "hessian_pd": hessian_pd,
            "degenerate": bool(boundary or not hessian_pd or not row.get("converged", False))}


def seed_contrast_tests(
    ood: pd.DataFrame,
    *,
    pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
    value: str = "ood_reward",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Paired t-tests of per-seed contrasts, each seed's rewards averaged over its layouts.

    The design-based test of Figs. 4b and 5 (PAPER.md §8): a seed's conditions share its
    phase-1 learner and its evaluation episodes, so the unit is the seed and the conditions
    are paired. Per seed, the contrast is the mean over layouts of ``a`` minus that of ``b``;
    the contrasts are tested against 0 with a t on ``n_seeds - 1`` degrees of freedom. It
    needs no variance model, and in a balanced design it equals the mixed model with a
    seed x condition component (:func:`mixed_model_condition_layout`) unless that model's fit
    puts the component on the boundary (zero).

    Args:
        ood: Tidy frame with ``condition``, ``seed``, ``value`` (and ``layout``).
        pairs: Condition pairs (a, b); the estimate is a - b.
        value: Outcome column.
        confidence: Level of the t confidence interval.

    Returns:
        One row per pair, as :func:`paired_t_test` (``mean_a``, ``mean_b``, ``n_seeds``).
    """
    frame = _normalise_conditions(ood)
    _require_columns(frame, ["seed", value])
    n_layouts = int(frame["layout"].nunique()) if "layout" in frame else 1
    rows = []
    for a, b in pairs:
        result = paired_t_test(frame, value=value, by="condition", a=a, b=b,
                               confidence=confidence)
        result["method"] = (
            f"paired t-test across seeds of {a} - {b}"
            + (f", each seed's {value} averaged over its {n_layouts} layouts" if n_layouts > 1
               else f" in {value}")
            + ", two-sided"
        )
        rows.append(result)
    return pd.concat(rows, ignore_index=True)


def fig5_analyses(
    ood: pd.DataFrame,
    *,
    pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
    value: str = "ood_reward",
    reference_layout: str = REFERENCE_LAYOUT,
) -> pd.DataFrame:
    """Fig. 5's contrasts under every analysis of this module, side by side (PAPER.md §8).

    Rows, per contrast: the published OLS ``condition * layout`` (effect in the reference layout
    only), the additive OLS (rows treated as independent), the mixed model with a random
    intercept per seed only (Wald z), the mixed model with the seed x condition component
    (t on seeds - 1 df) and the paired t-test of the seeds' layout-averaged contrasts.

    Returns:
        :data:`RESULT_COLUMNS` plus ``analysis`` (its short name) and ``sound`` (True for the
        analyses that model the design's clustering), ordered by contrast then analysis.
    """
    layouts = sorted(_normalise_conditions(ood)["layout"].unique())
    reference = reference_layout if reference_layout in layouts else layouts[0]
    parts = [
        ("as published: OLS condition * layout, layout " + reference, False,
         ols_condition_by_layout(ood, pairs=pairs, value=value, reference_layout=reference)),
        ("additive OLS condition + layout", False,
         ols_condition_plus_layout(ood, pairs=pairs, value=value)),
        ("mixed model, seed intercept only (Wald z)", False,
         mixed_model_condition_layout(ood, pairs=pairs, value=value, seed_by_condition=False)),
        ("mixed model, seed and seed x condition (t)", True,
         mixed_model_condition_layout(ood, pairs=pairs, value=value)),
        ("paired seed contrasts (t)", True, seed_contrast_tests(ood, pairs=pairs, value=value)),
    ]
    frames = [table[list(RESULT_COLUMNS)].assign(analysis=name, sound=sound, order=k)
              for k, (name, sound, table) in enumerate(parts)]
    out = pd.concat(frames, ignore_index=True)
    order = {_contrast(a, b): i for i, (a, b) in enumerate(pairs)}
    out["contrast_order"] = out["contrast"].map(order)
    out = out.sort_values(["contrast_order", "order"], kind="stable")
    return out.drop(columns=["order", "contrast_order"]).reset_index(drop=True)[
        ["contrast", "analysis", "sound", *RESULT_COLUMNS[1:]]]


def per_layout_t_tests(
    ood: pd.DataFrame,
    *,
    pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
    value: str = "ood_reward",
    test: Literal["welch", "paired"] = "paired",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Fig. 5 per layout: one t-test per (pair, layout), Holm-corrected within each pair.

    PAPER.md §8 asks for per-map comparisons with a multiplicity correction. ``welch`` compares
    the two conditions' per-seed rewards in one layout with Welch's test; ``paired`` (the
    default) pairs them by seed, which is right here: both conditions of a seed start from its
    phase-1 agent and are evaluated on the same episodes. The family for
    Holm's correction is the set of layouts of one contrast (five tests for Fig. 5).

    Args:
        ood: Tidy frame with ``condition``, ``layout``, ``value`` (and ``seed``; required for
            ``paired``).
        pairs: Condition pairs (a, b); the estimate is a - b.
        value: Outcome column.
        test: "welch" or "paired".
        confidence: Level of the t confidence interval.

    Returns:
        One row per pair and layout: :data:`RESULT_COLUMNS` plus ``layout``, ``p_holm``,
        ``mean_a``, ``mean_b``, ``n_seeds``.
    """
    if test not in ("welch", "paired"):
        raise ValueError(f"test must be 'welch' or 'paired', got {test!r}")
    rows = []
    for a, b in pairs:
        frame = _pair_frame(ood, a, b, value)
        for layout in sorted(frame["layout"].unique()):
            one = frame[frame["layout"] == layout]
            if test == "paired":
                result = paired_t_test(one, value=value, by="condition", a=a, b=b,
                                       confidence=confidence).iloc[0].to_dict()
            else:
                one = _per_seed(one, value, ["condition"])
                x = one.loc[one["condition"] == a, value].to_numpy(dtype=float)
                y = one.loc[one["condition"] == b, value].to_numpy(dtype=float)
                result = {
                    "contrast": _contrast(a, b),
                    **_two_sample(x, y, equal_var=False, confidence=confidence),
                    "mean_a": float(np.mean(x)) if len(x) else math.nan,
                    "mean_b": float(np.mean(y)) if len(y) else math.nan,
                    "n_seeds": min(len(x), len(y)),
                }
            result["method"] = (
                f"{'paired-by-seed' if test == 'paired' else 'Welch'} t-test of {value} in one "
                f"layout; Holm correction over the layouts of the contrast"
            )
            result["layout"] = layout
            rows.append(result)
    out = pd.DataFrame(rows, columns=[*RESULT_COLUMNS, "layout", "mean_a", "mean_b", "n_seeds"])
    out = holm_correction(out, by="contrast")
    return out[[*RESULT_COLUMNS, "layout", "p_holm", "mean_a", "mean_b", "n_seeds"]]


# ---------------------------------------------------------------------------------------------
# Fig. 3
# ---------------------------------------------------------------------------------------------


def data_size_summary(
    isr_data_size: pd.DataFrame,
    *,
    size: str = "isr_train_transitions",
    value: str = "isr_test_mse",
) -> pd.DataFrame:
    """Fig. 3b: mean held-out ISR error per training-set size, with standard error and n.

    Args:
        isr_data_size: Tidy frame with ``size``, ``value`` (and ``seed``), as the
            ``isr_data_size`` table or the authors' ``fig3b_authors_per_seed.csv``.
        size: Column of the number of ISR training transitions.
        value: Column of the final held-out MSE.

    Returns:
        One row per size: ``size``, ``n_seeds``, ``{value}_mean``, ``{value}_sem`` (sample SD
        over sqrt(n); NaN for a single seed), sorted by size.
    """
    _require_columns(isr_data_size, [size, value])
    grouped = isr_data_size.groupby(size)[value]
    out = pd.DataFrame(
        {
            "n_seeds": grouped.count(),
            f"{value}_mean": grouped.mean(),
            f"{value}_sem": grouped.std(ddof=1) / np.sqrt(grouped.count()),
        }
    ).reset_index()
    return out.sort_values(size).reset_index(drop=True)


def data_size_slope(
    isr_data_size: pd.DataFrame,
    *,
    size: str = "isr_train_transitions",
    value: str = "isr_test_mse",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Fig. 3b trend, descriptive: OLS slope of log10(held-out MSE) on log10(transitions).

    Paper Fig. 3b: "ISR test loss continually decreases when trained with more social rewards",
    drawn on log axes. The slope is fitted on the per-seed points (not on the means), with the
    usual OLS t-test (df = n - 2); a negative slope means the error falls as a power of the data
    size. The points of one seed are treated as independent, so its p-value is descriptive;
    the test of the claim is :func:`data_size_seed_slopes`.

    Args:
        isr_data_size: Tidy frame with ``size`` and ``value`` (positive) per seed.
        size: Column of the number of ISR training transitions.
        value: Column of the final held-out MSE.
        confidence: Level of the slope's t confidence interval.

    Returns:
        One row: :data:`RESULT_COLUMNS` plus ``n_obs`` and ``n_seeds``.
    """
    _require_columns(isr_data_size, [size, value])
    frame = isr_data_size[[size, value, *(["seed"] if "seed" in isr_data_size else [])]].dropna()
    if (frame[[size, value]] <= 0).to_numpy().any():
        raise ValueError("data sizes and MSEs must be positive to take log10")
    x = np.log10(frame[size].to_numpy(dtype=float))
    y = np.log10(frame[value].to_numpy(dtype=float))
    row = {
        "contrast": f"slope of log10({value}) on log10({size})",
        "method": f"OLS log10({value}) ~ log10({size}) on per-seed points, t-test of the slope",
        "n_obs": len(frame),
        "n_seeds": int(frame["seed"].nunique()) if "seed" in frame else math.nan,
    }
    if len(frame) < 3 or np.unique(x).size < 2:
        row.update(estimate=math.nan, ci_low=math.nan, ci_high=math.nan, statistic=math.nan,
                   df=math.nan, p_value=math.nan)
    else:
        fit = sm.OLS(y, sm.add_constant(x)).fit()
        ci = fit.conf_int(alpha=1 - confidence)[1]
        row.update(estimate=float(fit.params[1]), ci_low=float(ci[0]), ci_high=float(ci[1]),
                   statistic=float(fit.tvalues[1]), df=float(fit.df_resid),
                   p_value=float(fit.pvalues[1]))
    return pd.DataFrame([row], columns=[*RESULT_COLUMNS, "n_obs", "n_seeds"])


def data_size_seed_slopes(
    isr_data_size: pd.DataFrame,
    *,
    size: str = "isr_train_transitions",
    value: str = "isr_test_mse",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Fig. 3b, tested on seeds: one slope of log10(MSE) on log10(size) per seed, then a t-test.

    The ISRs of one seed at different data sizes share its phase-1 transitions and its held-out
    set, so the points of a seed are not independent (:func:`data_size_slope` treats them as
    if they were, which makes it descriptive). Here each seed gives one least-squares slope,
    and the mean slope is tested against 0 with a one-sample t on ``n_seeds - 1`` df.

    Args:
        isr_data_size: Tidy frame with ``seed``, ``size`` and ``value`` (positive).
        size: Column of the number of ISR training transitions.
        value: Column of the final held-out MSE.
        confidence: Level of the t confidence interval.

    Returns:
        One row: :data:`RESULT_COLUMNS` plus ``n_seeds`` and ``n_sizes`` (fewest sizes of a
        seed). NaN test where fewer than two seeds have at least two sizes.
    """
    _require_columns(isr_data_size, ["seed", size, value])
    frame = isr_data_size[["seed", size, value]].dropna()
    if (frame[[size, value]] <= 0).to_numpy().any():
        raise ValueError("data sizes and MSEs must be positive to take log10")
    slopes, n_sizes = [], []
    for _, one in frame.groupby("seed"):
        x = np.log10(one[size].to_numpy(dtype=float))
        y = np.log10(one[value].to_numpy(dtype=float))
        if np.unique(x).size >= 2:
            slopes.append(float(np.polyfit(x, y, 1)[0]))
            n_sizes.append(int(np.unique(x).size))
    n = len(slopes)
    estimate = float(np.mean(slopes)) if n else math.nan
    se = float(np.std(slopes, ddof=1) / math.sqrt(n)) if n >= 2 else math.nan
    statistic, p_value, ci_low, ci_high = _t_summary(estimate, se, n - 1.0, confidence)
    return pd.DataFrame(
        [
            {
                "contrast": f"mean per-seed slope of log10({value}) on log10({size})",
                "estimate": estimate,
                "ci_low": ci_low,
                "ci_high": ci_high,
                "statistic": statistic,
                "df": float(n - 1) if n >= 2 else math.nan,
                "p_value": p_value,
                "method": (
                    f"one least-squares slope of log10({value}) on log10({size}) per seed, "
                    "one-sample t-test of the slopes across seeds, two-sided"
                ),
                "n_seeds": n,
                "n_sizes": min(n_sizes) if n_sizes else 0,
            }
        ],
        columns=[*RESULT_COLUMNS, "n_seeds", "n_sizes"],
    )


def isr_train_test_gap_test(
    isr_curve: pd.DataFrame,
    *,
    window: int | None = None,
    window_fraction: float = DEFAULT_WINDOW_FRACTION,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Fig. 3a: held-out minus train ISR MSE at the end of training, paired across seeds.

    Paper Fig. 3a: "no measurable gap between train and test performance". Per seed and split,
    the MSE is averaged over the last ``window`` logged points of its curve (default: the last
    ``window_fraction`` of that split's points, at least one); the gap ``test - train`` is then
    tested with a paired t-test across seeds. With one seed there is no test (NaN): a gap
    needs at least two seeds to be measured.

    Args:
        isr_curve: Tidy frame with ``seed``, ``draws``, ``split`` ("train", "test"), ``mse``.
        window: Logged points per split in the final window; overrides ``window_fraction``.
        window_fraction: Fraction of each split's logged points in the final window.
        confidence: Level of the t confidence interval.

    Returns:
        One row as :func:`paired_t_test` (contrast "test - train") plus ``window_points`` and
        ``relative_change``, ``relative_ci_low``, ``relative_ci_high`` (fractions of the mean
        final train MSE).
    """
    _require_columns(isr_curve, ["seed", "draws", "split", "mse"])
    finals = []
    for (seed, split), one in isr_curve.groupby(["seed", "split"]):
        one = one.sort_values("draws")
        w = _window_size(len(one), window, window_fraction)
        finals.append({"seed": seed, "split": split, "mse": float(one["mse"].tail(w).mean()),
                       "window_points": w})
    final = pd.DataFrame(finals, columns=["seed", "split", "mse", "window_points"])
    result = paired_t_test(final, value="mse", by="split", a="test", b="train",
                           confidence=confidence)
    result["method"] = (
        "paired t-test across seeds of the final-window mean ISR MSE, held-out test - train, "
        "two-sided"
    )
    result["window_points"] = int(final["window_points"].max()) if len(final) else 0
    return _relative(result, result["mean_b"])


def isr_error_by_part_summary(error_by_part: pd.DataFrame) -> pd.DataFrame:
    """Fig. 3a, diagnosis: the ISR's error on each part of phase 1, mean over seeds.

    Args:
        error_by_part: the Fig. 3 ``isr_error_by_part`` table (``valint.isr_errors``).

    Returns:
        One row per part in phase-1 order: ``part``, ``split``, ``n_seeds``, ``goal_fraction``
        and ``mse`` (means over seeds), ``mse_sem`` (standard error over seeds; NaN with one).
    """
    _require_columns(error_by_part, ["seed", "part", "split", "goal_fraction", "mse"])
    grouped = error_by_part.groupby(["part", "split"], sort=True)
    return pd.DataFrame({
        "n_seeds": grouped["seed"].nunique(),
        "goal_fraction": grouped["goal_fraction"].mean(),
        "mse": grouped["mse"].mean(),
        "mse_sem": grouped["mse"].sem(),
    }).reset_index()


def held_out_vs_last_train_part_test(error_by_part: pd.DataFrame, *,
                                     confidence: float = 0.95) -> pd.DataFrame:
    """Fig. 3a, diagnosis: the held-out error minus the error on the training part just before it.

    Where the held-out split is the last part of phase 1, this compares it with the training
    transitions nearest to it in time; memorisation would make the difference positive. A
    paired t-test across seeds, two-sided, on the MSE's own scale; the claim's verdict is taken
    on the log-ratio (:func:`held_out_vs_last_train_part_log_test`), so this one carries none.

    Args:
        error_by_part: the Fig. 3 ``isr_error_by_part`` table.
        confidence: level of the t confidence interval.

    Returns:
        One row as :func:`paired_t_test` (contrast "held out - last train part") plus
        ``relative_change``, ``relative_ci_low``, ``relative_ci_high`` (fractions of the last
        training part's mean MSE).
    """
    _require_columns(error_by_part, ["seed", "part", "split", "mse"])
    train = error_by_part["split"] == "train"
    last_train = error_by_part["seed"].map(error_by_part[train].groupby("seed")["part"].max())
    is_last_train = train & (error_by_part["part"] == last_train)
    pairs = error_by_part[is_last_train | (error_by_part["split"] == "test")].assign(
        which=lambda f: np.where(f["split"] == "test", "held out", "last train part"))
    result = paired_t_test(pairs, value="mse", by="which", a="held out", b="last train part",
                           confidence=confidence)
    result["method"] = ("paired t-test across seeds of the ISR's MSE on the held-out part minus "
                        "its MSE on the last training part, two-sided (descriptive, no verdict)")
    return _relative(result, result["mean_b"])


def held_out_vs_last_train_part_log_test(error_by_part: pd.DataFrame, *,
                                         confidence: float = 0.95) -> pd.DataFrame:
    """Fig. 3a, the claim's test: the held-out error against the time-matched last training tenth.

    The held-out split is the last tenth of phase 1; the training tenth just before it is the
    part of the training split drawn under the same learner (``valint.isr_errors``). Per seed
    the log-ratio ``log(mse held out / mse last training part)`` is taken, and the mean log-ratio
    is tested against 0 with a t on seeds - 1 degrees of freedom (a paired t-test of the log
    errors). Memorisation makes the ratio exceed 1. A ratio is the right scale: the error falls
    about tenfold along phase 1, so a gap is a factor, not a difference.

    Args:
        error_by_part: the Fig. 3 ``isr_error_by_part`` table.
        confidence: level of the t confidence interval.

    Returns:
        One row as :func:`paired_t_test` of ``log_mse`` (contrast "log held out - log last
        train part"; ``mean_a``, ``mean_b`` the mean log errors) plus ``ratio``, ``ratio_ci_low``,
        ``ratio_ci_high`` (the geometric-mean ratio and its interval, exp of the estimate and CI).
    """
    _require_columns(error_by_part, ["seed", "part", "split", "mse"])
    train = error_by_part["split"] == "train"
    last_train = error_by_part["seed"].map(error_by_part[train].groupby("seed")["part"].max())
    is_last_train = train & (error_by_part["part"] == last_train)
    pairs = error_by_part[is_last_train | (error_by_part["split"] == "test")].assign(
        which=lambda f: np.where(f["split"] == "test", "held out", "last train part"),
        log_mse=lambda f: np.log(f["mse"].astype(float).where(f["mse"] > 0)))
    result = paired_t_test(pairs, value="log_mse", by="which", a="held out",
                           b="last train part", confidence=confidence)
    result["contrast"] = "log held out - log last train part"
    result["method"] = ("paired t-test across seeds of the log ISR MSE, held-out tenth minus the "
                        "last training tenth (the log-ratio; t on seeds - 1 df)")
    result["ratio"] = np.exp(result["estimate"])
    result["ratio_ci_low"] = np.exp(result["ci_low"])
    result["ratio_ci_high"] = np.exp(result["ci_high"])
    return result


# ---------------------------------------------------------------------------------------------
# Learning curves: Figs. 1b, 4a, 6, 7
# ---------------------------------------------------------------------------------------------


def _episode_means(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    """One value per (seed, episode), episodes ascending (duplicates averaged)."""
    return (
        frame.groupby(["seed", "episode"], as_index=False)[value].mean()
        .sort_values(["seed", "episode"])
    )


def _window_rows(
    per_episode: pd.DataFrame, value: str, w: int, *, last: bool, label: str
) -> pd.DataFrame:
    rows = []
    for seed, one in per_episode.groupby("seed"):
        part = one.tail(w) if last else one.head(w)
        rows.append(
            {
                "seed": seed,
                "window": label,
                "first_episode": int(part["episode"].min()),
                "last_episode": int(part["episode"].max()),
                "window_episodes": len(part),
                "window_mean": float(part[value].mean()),
            }
        )
    return pd.DataFrame(
        rows,
        columns=["seed", "window", "first_episode", "last_episode", "window_episodes",
                 "window_mean"],
    )


def phase_window_means(
    curves: pd.DataFrame,
    *,
    value: str = "goals_per_episode",
    conditions: Sequence[str] | None = None,
    window: int | None = None,
    window_fraction: float = DEFAULT_WINDOW_FRACTION,
) -> pd.DataFrame:
    """Per seed: mean of ``value`` over the last window of phase 1 and of phase 2.

    The windows behind the "unlearning" and "no measurable loss" claims of Figs. 1b, 4a and 7
    (PAPER.md §2, §6). For each phase-2 condition, the window holds the last W episodes of
    phase 2 and the last W episodes of phase 1 of the same seed, with
    W = ``window`` or, by default, ceil(``window_fraction`` x phase-2 episodes) (the fewest
    phase-2 episodes over that condition's seeds; 10 % by default, about 600 episodes at
    paper scale). Phase-1 rows are taken by seed whatever their condition label (CONTRACTS.md:
    they carry ``oracle``); repeated rows of one episode are averaged.

    Args:
        curves: The ``curves`` table: ``seed``, ``condition``, ``phase``, ``episode`` and
            ``value``.
        value: Measurement column ("goals_per_episode"; "partner_goals_per_episode" for Fig. 7).
        conditions: Phase-2 conditions to use; all present in phase 2 when None.
        window: W in episodes; overrides ``window_fraction``.
        window_fraction: Fraction of phase-2 episodes in the window.

    Returns:
        One row per (condition, seed, window): ``condition``, ``seed``, ``window``
        ("phase1_last", "phase2_last"), ``first_episode``, ``last_episode``,
        ``window_episodes``, ``window_mean``.
    """
    frame = _normalise_conditions(curves)
    _require_columns(frame, ["seed", "phase", "episode", value])
    phase2 = frame[frame["phase"] == 2]
    if conditions is None:
        conditions = sorted(phase2["condition"].unique())
    parts = []
    for condition in (c.lower() for c in conditions):
        two = _episode_means(phase2[phase2["condition"] == condition], value)
        if two.empty:
            raise ValueError(f"no phase-2 rows for condition {condition!r}")
        seeds = two["seed"].unique()
        one = _episode_means(frame[(frame["phase"] == 1) & frame["seed"].isin(seeds)], value)
        w = _window_size(int(two.groupby("seed").size().min()), window, window_fraction)
        windows = pd.concat(
            [
                _window_rows(one, value, w, last=True, label="phase1_last"),
                _window_rows(two, value, w, last=True, label="phase2_last"),
            ],
            ignore_index=True,
        )
        windows.insert(0, "condition", condition)
        parts.append(windows)
    return pd.concat(parts, ignore_index=True)


def phase_window_test(
    curves: pd.DataFrame,
    *,
    value: str = "goals_per_episode",
    conditions: Sequence[str] | None = None,
    window: int | None = None,
    window_fraction: float = DEFAULT_WINDOW_FRACTION,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Paired t-test of the last phase-2 window against the last phase-1 window, per condition.

    The test behind "unlearning" and "no measurable loss" (Figs. 1b, 4a, 7; PAPER.md §2). For
    each seed, d = mean over the last W phase-2 episodes - mean over the last W phase-1 episodes
    (windows of :func:`phase_window_means`); d is tested against 0 with a two-sided paired
    t-test across seeds. The change is also given relative to the phase-1 level (mean over
    seeds of the phase-1 window; NaN unless that level is positive). The verdict rules built on
    it live in ``valint.claims``: "unlearning" needs a significant drop (two-sided p < alpha,
    estimate < 0) of a meaningful relative size; "no measurable loss" needs no significant drop
    and a CI whose lower bound stays within an equivalence margin of the phase-1 level.

    Args:
        curves: The ``curves`` table (see :func:`phase_window_means`).
        value: Measurement column.
        conditions: Phase-2 conditions; all present when None.
        window: W in episodes; overrides ``window_fraction``.
        window_fraction: Fraction of phase-2 episodes in the window (default 10 %).
        confidence: Level of the t confidence interval.

    Returns:
        One row per condition: :data:`RESULT_COLUMNS` (contrast "phase2_last - phase1_last")
        plus ``condition``, ``mean_a`` (phase 2), ``mean_b`` (phase 1), ``n_seeds``,
        ``window_episodes``, ``relative_change``, ``relative_ci_low``, ``relative_ci_high``.
    """
    means = phase_window_means(curves, value=value, conditions=conditions, window=window,
                               window_fraction=window_fraction)
    rows = []
    for condition, one in means.groupby("condition", sort=False):
        result = paired_t_test(one, value="window_mean", by="window", a="phase2_last",
                               b="phase1_last", confidence=confidence)
        result["method"] = (
            f"paired t-test across seeds of mean {value} over the last "
            f"{int(one['window_episodes'].max())} episodes of phase 2 minus the same number at "
            f"the end of phase 1, two-sided"
        )
        result.insert(0, "condition", condition)
        result["window_episodes"] = int(one["window_episodes"].max())
        rows.append(result)
    return _relative_window_tests(rows)


def _relative_window_tests(rows: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Paired window tests, one per condition, with the change relative to the reference
    (``mean_b``) and the columns both phase-2 comparisons return."""
    out = pd.concat(rows, ignore_index=True)
    out = _relative(out, out["mean_b"])
    return out[[*RESULT_COLUMNS, "condition", "mean_a", "mean_b", "n_seeds", "window_episodes",
                "relative_change", "relative_ci_low", "relative_ci_high"]]


def phase2_vs_oracle_test(
    curves: pd.DataFrame,
    *,
    value: str = "goals_per_episode",
    conditions: Sequence[str] = ("isr",),
    reference: str = "oracle",
    window: int | None = None,
    window_fraction: float = DEFAULT_WINDOW_FRACTION,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Each condition's last phase-2 window against the ``oracle``'s over the same episodes.

    The reference of :func:`phase_window_test` is the end of phase 1, which need not have
    converged: where the oracle keeps improving in phase 2, "no loss against phase 1" is an
    easier bar than "as good as a learner whose caregiver stayed". This compares, per seed, the
    mean of ``value`` over the last W phase-2 episodes of a condition with the oracle's over its
    last W phase-2 episodes (W as in :func:`phase_window_means`, from the fewest phase-2
    episodes of the conditions compared); both start from the seed's phase-1 learner, so the
    test is paired across seeds, two-sided. Descriptive: no verdict rule reads it.

    Args:
        curves: The ``curves`` table (see :func:`phase_window_means`), with phase-2 rows of
            ``reference`` and of every condition.
        value: Measurement column.
        conditions: Phase-2 conditions compared with ``reference``.
        reference: The condition whose caregiver stayed.
        window: W in episodes; overrides ``window_fraction``.
        window_fraction: Fraction of phase-2 episodes in the window (default 10 %).
        confidence: Level of the t confidence interval.

    Returns:
        One row per condition: :data:`RESULT_COLUMNS` (contrast "condition - oracle") plus
        ``condition``, ``mean_a`` (the condition), ``mean_b`` (the oracle), ``n_seeds``,
        ``window_episodes``, ``relative_change``, ``relative_ci_low``, ``relative_ci_high``
        (fractions of the oracle's level).
    """
    frame = _normalise_conditions(curves)
    _require_columns(frame, ["seed", "phase", "condition", "episode", value])
    phase2 = frame[frame["phase"] == 2]
    wanted = [c.lower() for c in conditions]
    per_condition = {c: _episode_means(phase2[phase2["condition"] == c], value)
                     for c in [*wanted, reference]}
    empty = [c for c, rows in per_condition.items() if rows.empty]
    if empty:
        raise ValueError(f"no phase-2 rows for condition(s) {empty}")
    fewest = min(int(rows.groupby("seed").size().min()) for rows in per_condition.values())
    w = _window_size(fewest, window, window_fraction)
    windows = {c: _window_rows(rows, value, w, last=True, label=c)
               for c, rows in per_condition.items()}
    out = []
    for condition in wanted:
        both = pd.concat([windows[condition], windows[reference]], ignore_index=True)
        result = paired_t_test(both, value="window_mean", by="window", a=condition, b=reference,
                               confidence=confidence)
        result["method"] = (f"paired t-test across seeds of mean {value} over the last {w} "
                            f"phase-2 episodes, {condition} - {reference}, two-sided "
                            "(descriptive)")
        result.insert(0, "condition", condition)
        result["window_episodes"] = w
        out.append(result)
    return _relative_window_tests(out)


def phase2_references(
    curves: pd.DataFrame,
    *,
    value: str = "goals_per_episode",
    conditions: Sequence[str] = ("isr", "none"),
    window_fraction: float = DEFAULT_WINDOW_FRACTION,
) -> pd.DataFrame:
    """Each condition's last phase-2 window against both references, side by side.

    ``reference`` "end of phase 1" is :func:`phase_window_test` (the reference the verdict
    rules of Figs. 1b, 4a and 7 use); "oracle over the same window" is :func:`phase2_vs_oracle_test`
    (descriptive: where phase 1 had not converged, the oracle kept improving in phase 2).

    Returns:
        Two rows per condition: ``condition``, ``reference``, ``mean_a`` (the condition),
        ``mean_b`` (the reference), ``estimate``, ``ci_low``, ``ci_high``, ``statistic``, ``df``,
        ``p_value``, ``relative_change``, ``relative_ci_low``, ``relative_ci_high``, ``n_seeds``.
    """
    columns = ["condition", "mean_a", "mean_b", "estimate", "ci_low", "ci_high", "statistic",
               "df", "p_value", "relative_change", "relative_ci_low", "relative_ci_high",
               "n_seeds"]
    phase1 = phase_window_test(curves, value=value, conditions=conditions,
                               window_fraction=window_fraction)[columns]
    oracle = phase2_vs_oracle_test(curves, value=value, conditions=conditions,
                                   window_fraction=window_fraction)[columns]
    both = pd.concat([phase1.assign(reference="end of phase 1"),
                      oracle.assign(reference="oracle over the same window")], ignore_index=True)
    order = {c.lower(): i for i, c in enumerate(conditions)}
    both = both.assign(_order=both["condition"].map(order)).sort_values(
        ["_order", "reference"], kind="stable").drop(columns="_order")
    return both[["condition", "reference", *columns[1:]]].reset_index(drop=True)


def phase_window_tests_by_group(means: pd.DataFrame, groups: Sequence[Sequence[int]], *,
                                confidence: float = 0.95) -> pd.DataFrame:
    """:func:`phase_window_test` for many groups of seeds, on window means taken once.

    A run's window means do not depend on which other seeds are tested with it, so a caller
    that asks how every group of seeds of a record would have come out
    (``valint.claims.fig7_verdicts_by_phase2_length``) takes them once with
    :func:`phase_window_means` and tests the groups here (:func:`paired_t_tests_by_group`).

    Args:
        means: Rows of :func:`phase_window_means`.
        groups: Each group's seeds.
        confidence: Level of the t confidence intervals.

    Returns:
        One row per condition and group: the columns of :func:`phase_window_test` but
        ``method``'s wording, plus ``group``.
    """
    parts = []
    for condition, one in means.groupby("condition", sort=False):
        result = paired_t_tests_by_group(one, groups, value="window_mean", by="window",
                                         a="phase2_last", b="phase1_last", confidence=confidence)
        result.insert(0, "condition", condition)
        result["window_episodes"] = int(one["window_episodes"].max())
        parts.append(result)
    out = pd.concat(parts, ignore_index=True)
    return _relative(out, out["mean_b"])


def first_last_window_means(
    curves: pd.DataFrame,
    *,
    value: str,
    window: int | None = None,
    window_fraction: float = DEFAULT_WINDOW_FRACTION,
) -> pd.DataFrame:
    """Per seed: mean of ``value`` over the first and the last W episodes of a curve.

    The windows of :func:`first_last_window_test`, W = ``window`` or
    ceil(``window_fraction`` x episodes) (fewest episodes over seeds).

    Returns:
        One row per (seed, window): ``seed``, ``window`` ("first", "last"),
        ``first_episode``, ``last_episode``, ``window_episodes``, ``window_mean``.
    """
    _require_columns(curves, ["seed", "episode", value])
    per_episode = _episode_means(curves, value)
    if per_episode.empty:
        raise ValueError("no rows to test")
    w = _window_size(int(per_episode.groupby("seed").size().min()), window, window_fraction)
    return pd.concat(
        [
            _window_rows(per_episode, value, w, last=False, label="first"),
            _window_rows(per_episode, value, w, last=True, label="last"),
        ],
        ignore_index=True,
    )


def first_last_window_test(
    curves: pd.DataFrame,
    *,
    value: str,
    window: int | None = None,
    window_fraction: float = DEFAULT_WINDOW_FRACTION,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Paired t-test of the last window of a curve against its first window, across seeds.

    Fig. 6 (PAPER.md §2, §6): during phase 2 with an under-trained ISR, does ``value``
    (``internal_reward`` or ``goals_per_episode``) rise? Per seed, d = mean over the last W
    episodes - mean over the first W episodes, W = ``window`` or
    ceil(``window_fraction`` x episodes) (fewest episodes over seeds); two-sided paired t-test.
    Pass only the rows of one run type (e.g. phase 2 of the isr condition).

    Args:
        curves: Tidy frame with ``seed``, ``episode`` and ``value``.
        value: Measurement column.
        window: W in episodes; overrides ``window_fraction``.
        window_fraction: Fraction of the episodes in each window.
        confidence: Level of the t confidence interval.

    Returns:
        One row: :data:`RESULT_COLUMNS` (contrast "last - first") plus ``mean_a`` (last),
        ``mean_b`` (first), ``n_seeds``, ``window_episodes``, ``relative_change``,
        ``relative_ci_low``, ``relative_ci_high`` (fractions of the first-window level).
    """
    windows = first_last_window_means(curves, value=value, window=window,
                                      window_fraction=window_fraction)
    w = int(windows["window_episodes"].max())
    result = paired_t_test(windows, value="window_mean", by="window", a="last", b="first",
                           confidence=confidence)
    result["method"] = (
        f"paired t-test across seeds of mean {value} over the last {w} episodes minus the "
        f"first {w}, two-sided"
    )
    result["window_episodes"] = w
    return _relative(result, result["mean_b"])


PHASE1_BLOCKS = 5
"""Blocks of consecutive episodes per window in :func:`phase1_learning_by_seed`."""


def phase1_learning_by_seed(curves: pd.DataFrame, *, window_fraction: float = 0.1,
                            n_blocks: int = PHASE1_BLOCKS) -> pd.DataFrame:
    """Did phase 1 of Fig. 7 teach each seed to help? One test per seed (PAPER.md §7).

    Per seed, partner goals per episode in the last ``window_fraction`` of its phase-1 episodes
    against the first (the untrained, near-uniform policy, i.e. about the random level).
    Successive episodes of one training run are not independent (the policy changes slowly,
    and one layout's luck carries over), so the episodes are not the unit: each window is cut
    into ``n_blocks`` consecutive blocks of episodes, and the block means are compared with
    Welch's t-test, one-sided (last > first), on ``2 n_blocks`` means (batch means): the
    correlation between neighbouring episodes goes into each block mean's variance instead of
    shrinking the standard error. The blocks must be longer than the correlation lasts; in the
    paper-scale record of Fig. 7 neighbouring episodes correlate at |r| < 0.15 (lag 1 to 20),
    and a block holds 16 (quick) to 48 (paper) episodes. The claims themselves are judged
    across seeds (``valint.claims.phase1_learning``), where the runs are independent.

    Args:
        curves: the ``curves`` table of Fig. 7 (docs/CONTRACTS.md).
        window_fraction: share of the phase-1 episodes in each window.
        n_blocks: blocks per window, at least 2.

    Returns:
        One row per seed: seed, window_episodes, blocks, first_window, last_window, statistic,
        df, p_value (one-sided).
    """
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, (int, np.integer)) or n_blocks < 2:
        raise ValueError(f"n_blocks must be a whole number of at least 2, got {n_blocks!r}")
    phase1 = curves[(curves["phase"] == 1) & (curves["condition"] == "oracle")]
    rows = []
    for seed, run in phase1.groupby("seed"):
        values = run.sort_values("episode")["partner_goals_per_episode"].to_numpy(dtype=float)
        w = max(n_blocks, int(np.ceil(window_fraction * len(values))))
        first, last = values[:w], values[-w:]
        first_blocks = np.array([b.mean() for b in np.array_split(first, n_blocks)])
        last_blocks = np.array([b.mean() for b in np.array_split(last, n_blocks)])
        test = _two_sample(last_blocks, first_blocks, equal_var=False, confidence=0.95)
        statistic = test["statistic"]
        p_value = (float(sps.t.sf(statistic, test["df"])) if math.isfinite(statistic)
                   else math.nan)
        rows.append({
            "seed": int(seed), "window_episodes": w, "blocks": int(n_blocks),
            "first_window": float(first.mean()), "last_window": float(last.mean()),
            "statistic": float(statistic), "df": float(test["df"]), "p_value": p_value,
        })
    return pd.DataFrame(rows, columns=["seed", "window_episodes", "blocks", "first_window",
                                       "last_window", "statistic", "df", "p_value"])


def phase1_learning_by_length(
    curves: pd.DataFrame, lengths: Sequence[int], *, alpha: float = 0.05,
    window_fraction: float = 0.1, seeds: Sequence[int] | None = None,
) -> pd.DataFrame:
    """How long must phase 1 of Fig. 7 be for every seed to learn to help? (PAPER.md §7).

    Each run of ``curves`` is cut after ``length`` environment steps, for every length, and
    :func:`phase1_learning_by_seed` tests each seed on what is left, as if its phase 1 had
    ended there. Read from the paper-scale record, this prices a shorter phase 1 (the quick
    profile's) without training anything: a run's first steps do not depend on how long it
    will go on (the PPO has no schedule over its length).

    Args:
        curves: the ``curves`` table of Fig. 7, with its ``env_steps`` column.
        lengths: phase-1 lengths to test, in environment steps.
        alpha: the one-sided level of each seed's test.
        window_fraction: as in :func:`phase1_learning_by_seed`.
        seeds: the seeds to use (all of the table's when None).

    Returns:
        One row per length: env_steps, seeds, seeds_learned (p < alpha), max_p_value and
        min_last_window (the weakest seed's partner goals per episode at the end).
    """
    phase1 = curves[(curves["phase"] == 1) & (curves["condition"] == "oracle")]
    if seeds is not None:
        absent = sorted(set(seeds) - set(phase1["seed"]))
        if absent:
            raise ValueError(f"the seeds {absent} have no phase-1 rows")
        phase1 = phase1[phase1["seed"].isin(list(seeds))]
    rows = []
    for length in lengths:
        if length <= 0:
            raise ValueError(f"lengths must be positive numbers of steps, got {length}")
        by_seed = phase1_learning_by_seed(phase1[phase1["env_steps"] <= length],
                                          window_fraction=window_fraction)
        rows.append({
            "env_steps": int(length), "seeds": len(by_seed),
            "seeds_learned": int((by_seed["p_value"] < alpha).sum()),
            "max_p_value": float(by_seed["p_value"].max()),
            "min_last_window": float(by_seed["last_window"].min()),
        })
    return pd.DataFrame(rows)


def choose_phase1_length(curves: pd.DataFrame, lengths: Sequence[int], *, seeds: Sequence[int],
                         alpha: float = 0.05, window_fraction: float = 0.1) -> int | None:
    """The rule that sets a profile's Fig. 7 phase 1 from a record: the shortest length from
    which on every one of ``seeds`` learned to help at every longer length tested
    (:func:`phase1_learning_by_length`, :func:`shortest_reliable_length`).

    ``seeds`` must be seeds that the profile does not run (:func:`phase1_length_check`): a
    length chosen on the seeds it is then run with would pass its own check by construction.

    Returns:
        The length in environment steps, or None if the longest length tested fails.
    """
    return shortest_reliable_length(phase1_learning_by_length(
        curves, lengths, alpha=alpha, window_fraction=window_fraction, seeds=seeds))


def phase1_length_check(
    curves: pd.DataFrame, lengths: Sequence[int], *, chosen_on: Sequence[int],
    run_seeds: Sequence[int], profile_steps: int, alpha: float = 0.05,
    window_fraction: float = 0.1,
) -> pd.DataFrame:
    """Check a profile's Fig. 7 phase-1 length out of sample, on a paper-scale record.

    The length is chosen by :func:`choose_phase1_length` on the record's seeds ``chosen_on``,
    which must not include any seed the profile runs (``run_seeds``): otherwise the check
    would replay the choice. The record's runs of ``run_seeds`` (a profile run of a seed with
    this world's PPO replays the first steps of the recorded run) are then cut at the profile's
    length and tested seed by seed (:func:`phase1_learning_by_seed`): a real test of the length
    on seeds it was not chosen on.

    Args:
        curves: the ``curves`` table of a Fig. 7 record.
        lengths: the lengths the rule tries, in environment steps.
        chosen_on: the record's seeds the length is chosen on.
        run_seeds: the seeds the profile runs; those of the record are the test seeds.
        profile_steps: the profile's phase-1 length in environment steps.
        alpha, window_fraction: as in :func:`phase1_learning_by_length`.

    Returns:
        One row: chosen_on, run_seeds (as text), chosen_steps (None if the rule finds no
        length), profile_steps, matches (the profile's length is the rule's), test_seeds (the
        run seeds the record holds), test_learned (those that learned at the profile's length)
        and test_max_p_value.

    Raises:
        ValueError: if ``chosen_on`` and ``run_seeds`` share a seed (an in-sample check).
    """
    shared = sorted(set(chosen_on) & set(run_seeds))
    if shared:
        raise ValueError(f"the length was chosen on seeds {shared} that the profile runs: its "
                         "check would replay the choice, not test it; choose it on other seeds")
    chosen = choose_phase1_length(curves, lengths, seeds=chosen_on, alpha=alpha,
                                  window_fraction=window_fraction)
    recorded = sorted(set(run_seeds) & set(curves["seed"]))
    test = (phase1_learning_by_length(curves, [profile_steps], alpha=alpha,
                                      window_fraction=window_fraction, seeds=recorded).iloc[0]
            if recorded else None)
    return pd.DataFrame([{
        "chosen_on": ", ".join(map(str, chosen_on)),
        "run_seeds": ", ".join(map(str, run_seeds)),
        "chosen_steps": chosen,
        "profile_steps": int(profile_steps),
        "matches": chosen == profile_steps,
        "test_seeds": len(recorded),
        "test_learned": 0 if test is None else int(test["seeds_learned"]),
        "test_max_p_value": math.nan if test is None else float(test["max_p_value"]),
    }])


def shortest_reliable_length(by_length: pd.DataFrame, *, passed: str = "seeds_learned",
                             of: str = "seeds") -> int | None:
    """The shortest length from which on every case passed, at every longer length.

    For phase 1 of Fig. 7 (the default columns), the cases are seeds and passing is learning
    to help; for its phase 2 (``valint.claims.fig7_phase2_summary``), the cases are groups of
    seeds and passing is a verdict on both claims. A length at which all cases happen to pass,
    followed by one at which some case fails, sits on the edge: a run with other bits (another
    stacking of seeds, another machine) can fall either side. This rule asks for a margin
    instead: all cases pass there and at every longer length in ``by_length``.

    Args:
        by_length: one row per length: ``env_steps`` and the two count columns (for example
            from :func:`phase1_learning_by_length`).
        passed: the column counting the cases that passed.
        of: the column counting all cases.

    Returns:
        That length in environment steps, or None if the longest length tested fails.
    """
    ordered = by_length.sort_values("env_steps")
    all_learned = (ordered[passed] == ordered[of]).to_numpy()
    if not all_learned[-1]:
        return None
    failures = np.flatnonzero(~all_learned)
    start = failures[-1] + 1 if failures.size else 0
    return int(ordered["env_steps"].iloc[start])
