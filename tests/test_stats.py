"""Tests of valint.stats: PAPER.md §8 on the authors' per-seed data, and hand-computed answers."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from conftest import authors_csv
from valint import stats



def row(frame: pd.DataFrame, contrast: str, **where: object) -> pd.Series:
    mask = frame["contrast"] == contrast
    for column, value in where.items():
        mask &= frame[column] == value
    assert mask.sum() == 1, f"expected one row for {contrast} {where}, got {mask.sum()}"
    return frame[mask].iloc[0]


# ---------------------------------------------------------------------------------------------
# PAPER.md §8 on the authors' data
# ---------------------------------------------------------------------------------------------


def test_ood_t_tests_reproduce_fig4b_as_published():
    result = stats.ood_t_tests(authors_csv("fig4b_authors_per_seed.csv"))
    assert list(result.columns[:8]) == list(stats.RESULT_COLUMNS)
    frozen_isr = row(result, "frozen - isr", test="student")
    assert frozen_isr["statistic"] == pytest.approx(-2.38, abs=5e-3)
    assert frozen_isr["p_value"] == pytest.approx(0.029, abs=5e-4)
    assert frozen_isr["df"] == 18
    isr_oracle = row(result, "isr - oracle", test="student")
    assert isr_oracle["statistic"] == pytest.approx(-1.02, abs=5e-3)
    assert isr_oracle["p_value"] == pytest.approx(0.32, abs=5e-3)


def test_ood_t_tests_match_scipy_student_and_welch_on_authors_data():
    data = authors_csv("fig4b_authors_per_seed.csv")
    result = stats.ood_t_tests(data)
    x = data.loc[data["condition"] == "Frozen", "ood_reward"]
    y = data.loc[data["condition"] == "ISR", "ood_reward"]
    for test, equal_var in (("student", True), ("welch", False)):
        expected = sps.ttest_ind(x, y, equal_var=equal_var)
        ci = expected.confidence_interval(0.95)
        got = row(result, "frozen - isr", test=test)
        assert got["statistic"] == pytest.approx(expected.statistic, rel=1e-10)
        assert got["p_value"] == pytest.approx(expected.pvalue, rel=1e-10)
        assert got["df"] == pytest.approx(expected.df, rel=1e-10)
        assert (got["ci_low"], got["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_ols_condition_by_layout_reproduces_fig5_as_published():
    result = stats.ols_condition_by_layout(authors_csv("fig5_authors_per_seed.csv"))
    frozen_isr = row(result, "frozen - isr")
    assert abs(frozen_isr["statistic"]) == pytest.approx(3.66, abs=5e-3)
    assert frozen_isr["p_value"] == pytest.approx(4.2e-4, abs=5e-6)
    assert frozen_isr["p_value"] < 0.001
    assert frozen_isr["layout"] == "T"
    isr_oracle = row(result, "isr - oracle")
    assert abs(isr_oracle["statistic"]) == pytest.approx(1.12, abs=5e-3)
    assert isr_oracle["p_value"] == pytest.approx(0.27, abs=5e-3)
    assert "reference layout 'T' only" in isr_oracle["method"]


def test_ols_condition_by_layout_reference_is_explicit_not_sorted():
    data = authors_csv("fig5_authors_per_seed.csv")
    assert sorted(data["layout"].unique())[0] == "4 rooms"
    sorted_reference = stats.ols_condition_by_layout(data, reference_layout="4 rooms")
    # The alphabetically first of this project's labels is not the paper's reference: in
    # "4 rooms" the frozen agent is (not significantly) ahead.
    in_4_rooms = row(sorted_reference, "frozen - isr")
    assert in_4_rooms["statistic"] == pytest.approx(1.38, abs=5e-3)
    assert in_4_rooms["p_value"] == pytest.approx(0.17, abs=5e-3)


def test_ols_condition_plus_layout_reproduces_paper_additive_model():
    result = stats.ols_condition_plus_layout(authors_csv("fig5_authors_per_seed.csv"))
    assert abs(row(result, "frozen - isr")["statistic"]) == pytest.approx(6.84, abs=5e-3)
    isr_oracle = row(result, "isr - oracle")
    assert abs(isr_oracle["statistic"]) == pytest.approx(2.59, abs=5e-3)
    assert isr_oracle["p_value"] == pytest.approx(0.011, abs=5e-4)
    assert isr_oracle["estimate"] < 0  # the ISR is below the oracle across layouts


def _layout_averaged_paired_t(data: pd.DataFrame, a: str, b: str) -> float:
    """The paired t of the seeds' layout-averaged contrasts a - b, by hand with numpy."""
    frame = data.assign(condition=data["condition"].str.lower())
    means = frame.groupby(["seed", "condition"])["ood_reward"].mean().unstack()
    d = (means[a] - means[b]).to_numpy()
    return float(d.mean() / (d.std(ddof=1) / math.sqrt(len(d))))


def _within_seed_wald_z(data: pd.DataFrame, a: str, b: str) -> float:
    """The random-intercept model's Wald z in a balanced design, by hand: REML's residual
    variance equals the ANOVA one, the mean square of least squares with seed and layout as
    fixed effects, and the condition effect is a within-seed contrast."""
    frame = data.assign(condition=data["condition"].str.lower())
    frame = frame[frame["condition"].isin([a, b])]
    x = pd.get_dummies(frame[["seed", "layout"]].astype(str), drop_first=True).astype(float)
    x.insert(0, "is_a", (frame["condition"] == a).astype(float))
    x.insert(0, "const", 1.0)
    y = frame["ood_reward"].to_numpy()
    coef, *_ = np.linalg.lstsq(x.to_numpy(), y, rcond=None)
    residual = y - x.to_numpy() @ coef
    mse = residual @ residual / (len(y) - x.shape[1])
    n_a = int((frame["condition"] == a).sum())
    return float(coef[1] / math.sqrt(mse * (1 / n_a + 1 / (len(y) - n_a))))


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.ConvergenceWarning")
def test_mixed_model_with_seed_by_condition_gives_the_paired_t_when_the_component_is_positive():
    """On the authors' Fig. 5 data the seed x condition variance is clearly positive, and in a
    balanced design REML then gives exactly the paired t of the layout-averaged contrasts
    (computed here by hand): t(9) = -7.39 and -2.88. A fit stuck at the default optimiser's
    t = -4.36 (the bug the Powell start fixes) fails this."""
    data = authors_csv("fig5_authors_per_seed.csv")
    mixed = stats.mixed_model_condition_layout(data)
    assert list(mixed.columns[:8]) == list(stats.RESULT_COLUMNS)
    assert mixed["converged"].all() and not mixed["boundary"].any() and mixed["hessian_pd"].all()
    assert (mixed["seed_condition_variance"] > 1e-4).all()
    by_hand = {"frozen - isr": -7.39, "isr - oracle": -2.88}
    for contrast, published in by_hand.items():
        a, b = contrast.split(" - ")
        got = row(mixed, contrast)
        t = _layout_averaged_paired_t(data, a, b)
        assert t == pytest.approx(published, abs=0.005)
        assert got["statistic"] == pytest.approx(t, rel=1e-3)
        assert got["df"] == 9
        assert got["p_value"] == pytest.approx(2 * sps.t.sf(abs(t), 9), rel=1e-2)
        frame = data.assign(condition=data["condition"].str.lower())
        assert got["estimate"] == pytest.approx(
            frame.loc[frame["condition"] == a, "ood_reward"].mean()
            - frame.loc[frame["condition"] == b, "ood_reward"].mean(), rel=1e-6)


def test_mixed_model_on_the_boundary_is_flagged_and_differs_from_the_paired_t():
    """Seeds that differ only by an intercept, with no seed x condition effect: REML puts that
    component at zero. The row says so (``boundary``, ``degenerate``), and its t is no longer
    the paired one, as on the Fig. 5 record (t -0.09 vs -0.19)."""
    rng = np.random.default_rng(7)
    rows = [{"seed": s, "condition": c, "layout": x,
             "ood_reward": 0.5 + 0.05 * (c == "isr") + intercept + rng.normal(0, 0.05)}
            for s, intercept in enumerate(rng.normal(0, 0.1, 10))
            for c in ("frozen", "isr", "oracle") for x in ("T", "U", "x")]
    data = pd.DataFrame(rows)
    mixed = stats.mixed_model_condition_layout(data)
    flagged = row(mixed, "frozen - isr")
    assert flagged["boundary"] and flagged["degenerate"]
    assert flagged["seed_condition_variance"] <= stats.BOUNDARY_TOLERANCE * flagged["residual_variance"]
    assert abs(flagged["statistic"] - _layout_averaged_paired_t(data, "frozen", "isr")) > 0.05


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.ConvergenceWarning")
def test_mixed_model_random_intercept_only_is_the_within_seed_wald_z():
    data = authors_csv("fig5_authors_per_seed.csv")
    mixed = stats.mixed_model_condition_layout(data, seed_by_condition=False)
    for contrast in ("frozen - isr", "isr - oracle"):
        a, b = contrast.split(" - ")
        got = row(mixed, contrast)
        assert got["statistic"] == pytest.approx(_within_seed_wald_z(data, a, b), rel=1e-3)
        assert math.isnan(got["df"])  # Wald z
    assert row(mixed, "frozen - isr")["statistic"] == pytest.approx(-7.63, abs=0.005)


def test_per_layout_t_tests_holm_on_authors_data():
    result = stats.per_layout_t_tests(authors_csv("fig5_authors_per_seed.csv"), test="welch")
    assert len(result) == 10
    assert set(result["layout"]) == {"4 rooms", "T", "U", "plus", "x"}
    assert (result["p_holm"] >= result["p_value"] - 1e-15).all()
    t_row = row(result, "frozen - isr", layout="T")
    welch = sps.ttest_ind(
        *(g["ood_reward"] for _, g in authors_csv("fig5_authors_per_seed.csv")
          .query("layout == 'T' and condition in ['Frozen', 'ISR']").groupby("condition")),
        equal_var=False,
    )
    assert t_row["statistic"] == pytest.approx(welch.statistic, rel=1e-10)


def test_data_size_slope_on_authors_fig3b_is_negative():
    result = stats.data_size_slope(authors_csv("fig3b_authors_per_seed.csv"))
    slope = result.iloc[0]
    assert slope["estimate"] < 0 and slope["ci_high"] < 0 and slope["p_value"] < 1e-6
    assert slope["n_seeds"] == 10 and slope["n_obs"] == 60


# ---------------------------------------------------------------------------------------------
# Hand-made frames with exact answers
# ---------------------------------------------------------------------------------------------


def test_paired_t_test_exact_by_hand():
    # Differences a - b over three seeds: 1, 2, 3 -> mean 2, sd 1, t = 2 sqrt(3), df 2.
    frame = pd.DataFrame(
        {
            "seed": [0, 0, 1, 1, 2, 2],
            "level": ["a", "b"] * 3,
            "y": [5.0, 4.0, 3.0, 1.0, 10.0, 7.0],
        }
    )
    result = stats.paired_t_test(frame, value="y", by="level", a="a", b="b").iloc[0]
    assert result["contrast"] == "a - b"
    assert result["estimate"] == pytest.approx(2.0)
    assert result["statistic"] == pytest.approx(2 * math.sqrt(3))
    assert result["df"] == 2
    # With 2 degrees of freedom the t distribution has closed forms:
    # two-sided p = 1 - t / sqrt(2 + t^2); quantile q(P) = (2P - 1) / sqrt(2 P (1 - P)).
    assert result["p_value"] == pytest.approx(1 - math.sqrt(12 / 14))
    q = 0.95 / math.sqrt(2 * 0.975 * 0.025)
    assert result["ci_low"] == pytest.approx(2 - q / math.sqrt(3))
    assert result["ci_high"] == pytest.approx(2 + q / math.sqrt(3))
    assert result["n_seeds"] == 3
    assert (result["mean_a"], result["mean_b"]) == pytest.approx((6.0, 4.0))


def test_paired_t_test_one_pair_gives_no_test():
    frame = pd.DataFrame({"seed": [0, 0], "level": ["a", "b"], "y": [1.0, 0.0]})
    result = stats.paired_t_test(frame, value="y", by="level", a="a", b="b").iloc[0]
    assert result["estimate"] == 1.0
    assert math.isnan(result["p_value"]) and math.isnan(result["ci_low"])


def test_paired_t_tests_by_group_equal_one_paired_t_test_per_group():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"seed": np.repeat(range(6), 2), "level": ["a", "b"] * 6,
                          "y": rng.normal(size=12)})
    groups = [[0, 1, 2], [1, 3, 5], [4, 5], [0, 1, 2, 3, 4, 5]]
    together = stats.paired_t_tests_by_group(frame, groups, value="y", by="level", a="a", b="b")
    assert list(together["group"]) == [0, 1, 2, 3]
    for group, row in zip(groups, together.itertuples()):
        alone = stats.paired_t_test(frame[frame["seed"].isin(group)], value="y", by="level",
                                    a="a", b="b").iloc[0]
        for column in ("estimate", "ci_low", "ci_high", "statistic", "df", "p_value", "mean_a",
                       "mean_b", "n_seeds"):
            assert getattr(row, column) == pytest.approx(alone[column], rel=1e-12), column
    with pytest.raises(ValueError, match=r"seeds \[7\] lack"):
        stats.paired_t_tests_by_group(frame, [[0, 7]], value="y", by="level", a="a", b="b")


def test_ood_t_tests_exact_by_hand_and_case_insensitive():
    frame = pd.DataFrame(
        {
            "seed": [0, 1, 2, 0, 1, 2],
            "condition": ["Frozen"] * 3 + ["isr"] * 3,
            "ood_reward": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    result = stats.ood_t_tests(frame, pairs=[("frozen", "isr")])
    student = row(result, "frozen - isr", test="student")
    # Pooled variance 1, se = sqrt(2/3), df = 4.
    assert student["estimate"] == pytest.approx(-3.0)
    assert student["statistic"] == pytest.approx(-3 / math.sqrt(2 / 3))
    assert student["df"] == 4
    assert student["cohens_d"] == pytest.approx(-3.0)
    welch = row(result, "frozen - isr", test="welch")
    assert welch["df"] == pytest.approx(4.0)  # equal variances and sizes: Welch df = 4


def test_ood_t_tests_average_layouts_within_seed():
    frame = pd.DataFrame(
        {
            "seed": [0, 0, 1, 1, 0, 0, 1, 1],
            "condition": ["frozen"] * 4 + ["isr"] * 4,
            "layout": ["a", "b"] * 4,
            "ood_reward": [0.0, 2.0, 2.0, 4.0, 1.0, 1.0, 5.0, 5.0],
        }
    )
    result = stats.ood_t_tests(frame, pairs=[("frozen", "isr")])
    assert set(result["n_a"]) == {2}
    assert row(result, "frozen - isr", test="student")["estimate"] == pytest.approx(2.0 - 3.0)


def test_holm_correction_known_values():
    frame = pd.DataFrame({"p_value": [0.01, 0.04, 0.03, 0.005]})
    result = stats.holm_correction(frame)
    np.testing.assert_allclose(result["p_holm"], [0.03, 0.06, 0.06, 0.02])
    capped = stats.holm_correction(pd.DataFrame({"p_value": [0.5, 0.6]}))
    np.testing.assert_allclose(capped["p_holm"], [1.0, 1.0])


def test_holm_correction_families_and_nan():
    frame = pd.DataFrame(
        {"family": ["x", "x", "y", "y"], "p_value": [0.01, 0.02, 0.04, math.nan]}
    )
    result = stats.holm_correction(frame, by="family")
    np.testing.assert_allclose(result["p_holm"][:3], [0.02, 0.02, 0.04])
    assert math.isnan(result["p_holm"].iloc[3])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=12))
def test_holm_correction_matches_statsmodels(p_values):
    from statsmodels.stats.multitest import multipletests

    result = stats.holm_correction(pd.DataFrame({"p_value": p_values}))
    expected = multipletests(p_values, method="holm")[1]
    np.testing.assert_allclose(result["p_holm"], expected, rtol=1e-12, atol=1e-15)


def _two_layout_frame() -> pd.DataFrame:
    """Frozen - isr is -1 in layout T and -3 in layout U; four seeds per cell.

    The noise (+-0.1) sums to zero within every cell and within every seed, so cell means are
    exact and all seeds have the same mean (no seed variance).
    """
    cells = [("frozen", "T", 1.0), ("isr", "T", 2.0), ("frozen", "U", 0.0), ("isr", "U", 3.0)]
    noise = {0: (1, -1, -1, 1), 1: (-1, 1, 1, -1), 2: (1, 1, -1, -1), 3: (-1, -1, 1, 1)}
    rows = []
    for seed, signs in noise.items():
        for (condition, layout, mean), sign in zip(cells, signs, strict=True):
            rows.append({"seed": seed, "condition": condition, "layout": layout,
                         "ood_reward": mean + 0.1 * sign})
    return pd.DataFrame(rows)


def test_ols_interaction_is_effect_in_reference_layout_exactly():
    frame = _two_layout_frame()
    in_t = stats.ols_condition_by_layout(frame, pairs=[("frozen", "isr")])
    in_u = stats.ols_condition_by_layout(frame, pairs=[("frozen", "isr")], reference_layout="U")
    assert in_t["estimate"].iloc[0] == pytest.approx(-1.0)
    assert in_u["estimate"].iloc[0] == pytest.approx(-3.0)
    additive = stats.ols_condition_plus_layout(frame, pairs=[("frozen", "isr")])
    assert additive["estimate"].iloc[0] == pytest.approx(-2.0)
    assert additive["layout"].iloc[0] == "all"


def test_ols_with_one_seed_per_cell_gives_the_estimate_and_no_test_without_warning():
    """One seed in one layout: as many observations as coefficients. The estimate is exact;
    there is no residual variance, so no interval and no p-value (statsmodels would warn
    about a division by zero degrees of freedom)."""
    ood = pd.DataFrame([{"seed": 0, "condition": c, "layout": "T", "ood_reward": v}
                        for c, v in (("frozen", 0.3), ("isr", 0.5), ("oracle", 0.6))])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = stats.ols_condition_by_layout(ood, reference_layout="T").set_index("contrast")
    assert table.loc["frozen - isr", "estimate"] == pytest.approx(-0.2)
    assert table.loc["isr - oracle", "estimate"] == pytest.approx(-0.1)
    assert (table["df"] == 0).all() and table["p_value"].isna().all() and table["ci_low"].isna().all()
    assert "no residual degrees of freedom" in table["method"].iloc[0]


def test_ols_missing_reference_layout_raises():
    with pytest.raises(ValueError, match="reference layout"):
        stats.ols_condition_by_layout(_two_layout_frame(), reference_layout="x")


def test_mixed_model_records_boundary_warning_not_swallowed():
    # Every seed has the same mean, so the random-intercept variance is estimated at 0.
    frame = _two_layout_frame()
    assert frame.groupby("seed")["ood_reward"].mean().nunique() == 1
    result = stats.mixed_model_condition_layout(frame, pairs=[("frozen", "isr")],
                                                seed_by_condition=False).iloc[0]
    assert "boundary" in result["warnings"]
    assert "converged" in result.index
    assert result["estimate"] == pytest.approx(-2.0)
    assert math.isnan(result["df"])


def test_per_layout_paired_and_holm():
    frame = _two_layout_frame()
    result = stats.per_layout_t_tests(frame, pairs=[("frozen", "isr")], test="paired")
    assert list(result["layout"]) == ["T", "U"]
    np.testing.assert_allclose(result["estimate"], [-1.0, -3.0])
    # Holm over two tests: the smaller p doubles, the larger is max(itself, that).
    p = result["p_value"].to_numpy()
    expected = np.empty(2)
    order = np.argsort(p)
    expected[order[0]] = min(1, 2 * p[order[0]])
    expected[order[1]] = min(1, max(expected[order[0]], p[order[1]]))
    np.testing.assert_allclose(result["p_holm"], expected)


def test_data_size_summary_and_slope_exact():
    sizes = [10, 100, 1000]
    rows = []
    for size in sizes:
        for seed, offset in ((0, 0.1), (1, -0.1)):
            rows.append({"seed": seed, "isr_train_transitions": size,
                         "isr_test_mse": 10 ** (-2 * math.log10(size) + offset)})
    frame = pd.DataFrame(rows)
    summary = stats.data_size_summary(frame)
    assert list(summary["isr_train_transitions"]) == sizes
    assert list(summary["n_seeds"]) == [2, 2, 2]
    first = frame[frame["isr_train_transitions"] == 10]["isr_test_mse"]
    assert summary["isr_test_mse_mean"].iloc[0] == pytest.approx(first.mean())
    assert summary["isr_test_mse_sem"].iloc[0] == pytest.approx(first.std(ddof=1) / math.sqrt(2))
    slope = stats.data_size_slope(frame).iloc[0]
    assert slope["estimate"] == pytest.approx(-2.0)
    assert slope["df"] == 4
    assert slope["ci_low"] < -2.0 < slope["ci_high"]


def test_isr_train_test_gap_test_exact():
    rows = []
    for seed, gap in ((0, 0.1), (1, 0.2), (2, 0.3)):
        for draws in range(1, 11):
            early = 5.0 if draws <= 5 else 1.0  # only the final window counts
            rows.append({"seed": seed, "draws": draws, "split": "train", "mse": early})
            rows.append({"seed": seed, "draws": draws, "split": "test", "mse": early + gap})
    result = stats.isr_train_test_gap_test(pd.DataFrame(rows), window=2).iloc[0]
    assert result["contrast"] == "test - train"
    assert result["estimate"] == pytest.approx(0.2)
    assert result["mean_b"] == pytest.approx(1.0)
    assert result["relative_change"] == pytest.approx(0.2)
    assert result["n_seeds"] == 3


def _curves(phase1: list[list[float]], phase2: dict[str, list[list[float]]]) -> pd.DataFrame:
    """A ``curves`` table: per seed a list of goals per episode in phase 1 and per condition."""
    rows = []
    for seed, values in enumerate(phase1):
        for i, v in enumerate(values):
            rows.append({"seed": seed, "condition": "oracle", "phase": 1, "episode": i + 1,
                         "goals_per_episode": v})
        for condition, per_seed in phase2.items():
            for j, v in enumerate(per_seed[seed]):
                rows.append({"seed": seed, "condition": condition, "phase": 2,
                             "episode": len(values) + j + 1, "goals_per_episode": v})
    frame = pd.DataFrame(rows)
    frame["env_steps"] = frame["episode"] * 20
    return frame


def test_phase_window_means_and_test_exact():
    phase1 = [[0, 0, 2, 2], [0, 0, 3, 3], [0, 0, 4, 4]]
    phase2 = {"none": [[9, 9, 1, 1], [9, 9, 1, 2], [9, 9, 1, 0]]}
    curves = _curves(phase1, phase2)
    means = stats.phase_window_means(curves, window=2)
    assert set(means["window"]) == {"phase1_last", "phase2_last"}
    assert list(means.query("window == 'phase1_last'")["window_mean"]) == [2.0, 3.0, 4.0]
    assert list(means.query("window == 'phase2_last'")["window_mean"]) == [1.0, 1.5, 0.5]
    result = stats.phase_window_test(curves, window=2).iloc[0]
    # Differences -1, -1.5, -3.5: mean -2.
    assert result["condition"] == "none"
    assert result["estimate"] == pytest.approx(-2.0)
    assert result["relative_change"] == pytest.approx(-2.0 / 3.0)
    expected = sps.ttest_rel([1.0, 1.5, 0.5], [2.0, 3.0, 4.0])
    assert result["p_value"] == pytest.approx(expected.pvalue)
    assert result["window_episodes"] == 2


def test_phase_window_default_is_last_tenth_of_phase2():
    curves = _curves([[1.0] * 20] * 2, {"isr": [[0.0] * 19 + [5.0]] * 2})
    means = stats.phase_window_means(curves)
    assert set(means["window_episodes"]) == {2}  # ceil(0.1 * 20)
    assert list(means.query("window == 'phase2_last'")["window_mean"]) == [2.5, 2.5]


def test_first_last_window_test_exact():
    frame = pd.DataFrame(
        {
            "seed": np.repeat([0, 1, 2], 4),
            "episode": np.tile([1, 2, 3, 4], 3),
            "internal_reward": [0, 0, 1, 1, 0, 0, 2, 2, 1, 1, 2, 2],
        }
    )
    result = stats.first_last_window_test(frame, value="internal_reward", window=2).iloc[0]
    assert result["contrast"] == "last - first"
    assert result["estimate"] == pytest.approx((1 + 2 + 1) / 3)
    assert result["mean_b"] == pytest.approx(1 / 3)
    expected = sps.ttest_rel([1, 2, 2], [0, 0, 1])
    assert result["p_value"] == pytest.approx(expected.pvalue)


def test_window_fraction_must_be_valid():
    curves = _curves([[1.0] * 4] * 2, {"isr": [[1.0] * 4] * 2})
    with pytest.raises(ValueError, match="window_fraction"):
        stats.phase_window_means(curves, window_fraction=0)


# ---------------------------------------------------------------------------------------------
# Equivalence (TOST), seed contrasts, per-seed slopes
# ---------------------------------------------------------------------------------------------


def _result(estimate: float, ci_low: float, ci_high: float, df: float) -> pd.DataFrame:
    return pd.DataFrame([{"contrast": "a - b", "estimate": estimate, "ci_low": ci_low,
                          "ci_high": ci_high, "statistic": math.nan, "df": df,
                          "p_value": math.nan, "method": "made up"}])


def test_equivalence_test_by_hand():
    # se = 1 with df = 10: the 95 % interval is estimate +/- t(0.975, 10).
    q95 = sps.t.ppf(0.975, 10)
    frame = _result(0.5, 0.5 - q95, 0.5 + q95, 10.0)
    out = stats.equivalence_test(frame, margin=3.0).iloc[0]
    q90 = sps.t.ppf(0.95, 10)
    assert out["eq_ci_low"] == pytest.approx(0.5 - q90)
    assert out["eq_ci_high"] == pytest.approx(0.5 + q90)
    # TOST p: the larger of P(T > (0.5 + 3) / 1) and P(T < (0.5 - 3) / 1).
    expected = max(sps.t.sf(3.5, 10), sps.t.cdf(-2.5, 10))
    assert out["p_tost"] == pytest.approx(expected)
    assert out["equivalent"] == (expected < 0.05)
    lower = stats.equivalence_test(frame, margin=3.0, side="lower").iloc[0]
    assert lower["p_tost"] == pytest.approx(sps.t.sf(3.5, 10))
    upper = stats.equivalence_test(frame, margin=3.0, side="upper").iloc[0]
    assert upper["p_tost"] == pytest.approx(sps.t.cdf(-2.5, 10))


def test_equivalence_test_p_below_alpha_exactly_when_90_ci_inside_margin():
    q95 = sps.norm.ppf(0.975)
    for estimate in np.linspace(-2, 2, 41):
        out = stats.equivalence_test(_result(estimate, estimate - q95, estimate + q95, math.nan),
                                     margin=2.0).iloc[0]
        inside = -2.0 < out["eq_ci_low"] and out["eq_ci_high"] < 2.0
        assert bool(out["equivalent"]) == inside


def test_equivalence_test_without_a_test_or_a_margin_is_nan():
    assert math.isnan(stats.equivalence_test(_result(0.1, math.nan, math.nan, math.nan),
                                             margin=1.0)["p_tost"].iloc[0])
    assert math.isnan(stats.equivalence_test(_result(0.1, -1.0, 1.2, 5.0),
                                             margin=math.nan)["p_tost"].iloc[0])
    with pytest.raises(ValueError, match="side='middle' is not allowed"):
        stats.equivalence_test(_result(0.1, -1.0, 1.2, 5.0), margin=1.0, side="middle")


def test_seed_contrast_tests_average_layouts_then_pair():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        [{"seed": seed, "condition": condition, "layout": layout,
          "ood_reward": float(rng.normal(0.5 if condition == "isr" else 0.3, 0.1))}
         for seed in range(6) for condition in ("frozen", "isr") for layout in ("T", "U", "x")]
    )
    result = row(stats.seed_contrast_tests(frame, pairs=[("frozen", "isr")]), "frozen - isr")
    per_seed = frame.groupby(["seed", "condition"])["ood_reward"].mean().unstack()
    diff = per_seed["frozen"] - per_seed["isr"]
    expected = sps.ttest_1samp(diff, 0.0)
    assert result["estimate"] == pytest.approx(diff.mean())
    assert result["df"] == len(diff) - 1
    assert result["p_value"] == pytest.approx(expected.pvalue)


def test_data_size_seed_slopes_by_hand():
    rows = []
    for seed, exponent in enumerate((-1.0, -2.0, -3.0)):
        for size in (10, 100, 1000):
            rows.append({"seed": seed, "isr_train_transitions": size,
                         "isr_test_mse": 10 ** (exponent * math.log10(size))})
    result = stats.data_size_seed_slopes(pd.DataFrame(rows)).iloc[0]
    # Slopes -1, -2, -3: mean -2, sd 1, t = -2 sqrt(3), df 2.
    assert result["estimate"] == pytest.approx(-2.0)
    assert result["statistic"] == pytest.approx(-2 * math.sqrt(3))
    assert result["df"] == 2 and result["n_seeds"] == 3 and result["n_sizes"] == 3


def test_data_size_seed_slopes_on_authors_fig3b():
    result = stats.data_size_seed_slopes(authors_csv("fig3b_authors_per_seed.csv")).iloc[0]
    assert result["n_seeds"] == 10 and result["df"] == 9
    assert result["ci_high"] < 0 and result["p_value"] < 1e-6
