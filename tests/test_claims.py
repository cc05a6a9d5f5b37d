"""Tests of valint.claims: verdicts on synthetic tables built to hold, to fail and to be
inconclusive, and the Fig. 4b / Fig. 5 ledger rows on the authors' per-seed data."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from conftest import authors_csv
from valint import claims



def verdicts(ledger: pd.DataFrame) -> dict[str, str]:
    return dict(zip(ledger["claim_id"], ledger["verdict"], strict=True))


def make_curves(
    levels: dict[str, float | list[float]],
    *,
    phase1: float = 2.0,
    phase1_start: float | None = None,
    n_seeds: int = 10,
    episodes: int = 50,
    noise: float = 0.1,
    value: str = "goals_per_episode",
    rng_seed: int = 0,
) -> pd.DataFrame:
    """A ``curves`` table: flat phase-1 level (or a straight rise from ``phase1_start``), then
    a flat phase-2 level per condition (one for all seeds, or a list with one level per seed)."""
    start = phase1 if phase1_start is None else phase1_start
    rng = np.random.default_rng(rng_seed)
    rows = []
    for seed in range(n_seeds):
        offset = rng.normal(0, 0.05)
        for episode in range(1, episodes + 1):
            rows.append({"seed": seed, "condition": "oracle", "phase": 1, "episode": episode,
                         value: start + (phase1 - start) * episode / episodes + offset
                         + rng.normal(0, noise)})
        for condition, level in levels.items():
            if isinstance(level, list):
                level = level[seed]
            for episode in range(episodes + 1, 2 * episodes + 1):
                rows.append({"seed": seed, "condition": condition, "phase": 2,
                             "episode": episode, value: level + offset + rng.normal(0, noise)})
    frame = pd.DataFrame(rows)
    frame["env_steps"] = frame["episode"] * 20
    frame["internal_reward"] = math.nan
    return frame


def make_ood(means: dict[str, float], *, n_seeds: int, layouts: tuple[str, ...] = ("random",),
             rng_seed: int = 0) -> pd.DataFrame:
    """An ``ood`` table. Each condition gets the same set of noise values, permuted, so two
    conditions with equal ``means`` have exactly equal sample means."""
    rng = np.random.default_rng(rng_seed)
    base = rng.normal(0, 0.05, size=(n_seeds, len(layouts)))
    rows = []
    for k, (condition, mean) in enumerate(means.items()):
        shuffled = np.roll(base, k, axis=0)
        for seed in range(n_seeds):
            for j, layout in enumerate(layouts):
                rows.append({"seed": seed, "condition": condition, "layout": layout,
                             "ood_reward": mean + 0.1 * j + shuffled[seed, j]})
    return pd.DataFrame(rows)


def check_ledger(ledger: pd.DataFrame, profile: str) -> None:
    assert list(ledger.columns) == list(claims.LEDGER_COLUMNS)
    assert set(ledger["verdict"]) <= {"holds", "fails", "inconclusive"}
    assert (ledger["profile"] == profile).all()
    for _, entry in ledger.iterrows():
        paper = claims.PAPER_CLAIMS[entry["claim_id"]]
        assert (entry["figure"], entry["claim"], entry["paper"]) == (
            paper["figure"], paper["claim"], paper["paper"])
        assert entry["measured"] and entry["method"]


# ---------------------------------------------------------------------------------------------
# Learning curves: Figs. 1, 4a, 7
# ---------------------------------------------------------------------------------------------


def test_claims_fig1_holds_when_behaviour_collapses():
    ledger = claims.claims_fig1({"curves": make_curves({"none": 0.2})}, profile="smoke")
    check_ledger(ledger, "smoke")
    assert verdicts(ledger) == {"fig1_none_unlearns": "holds"}
    assert ledger["n_seeds"].iloc[0] == 10


def test_claims_fig1_fails_when_behaviour_persists():
    ledger = claims.claims_fig1({"curves": make_curves({"none": 2.0})}, profile="smoke")
    assert verdicts(ledger) == {"fig1_none_unlearns": "fails"}


def test_claims_fig1_fails_on_small_significant_drop():
    # Significantly lower, but by ~5 %: a meaningful drop (25 %) is ruled out.
    ledger = claims.claims_fig1({"curves": make_curves({"none": 1.9}, noise=0.02)},
                                profile="smoke")
    assert verdicts(ledger) == {"fig1_none_unlearns": "fails"}


def test_claims_fig1_inconclusive_with_two_noisy_seeds():
    # One seed collapses, the other does not.
    curves = make_curves({"none": [0.2, 2.2]}, n_seeds=2)
    ledger = claims.claims_fig1({"curves": curves}, profile="smoke")
    assert verdicts(ledger) == {"fig1_none_unlearns": "inconclusive"}


def test_claims_fig4_curves_hold_fail_inconclusive():
    ood = make_ood({"frozen": 0.5, "isr": 0.7, "oracle": 0.7}, n_seeds=10)
    held = claims.claims_fig4({"curves": make_curves({"none": 0.2, "isr": 2.0}), "ood": ood},
                              profile="paper")
    check_ledger(held, "paper")
    assert verdicts(held)["fig4_none_unlearns"] == "holds"
    assert verdicts(held)["fig4_isr_no_loss"] == "holds"

    failed = claims.claims_fig4({"curves": make_curves({"none": 2.0, "isr": 1.0}), "ood": ood},
                                profile="paper")
    assert verdicts(failed)["fig4_none_unlearns"] == "fails"
    assert verdicts(failed)["fig4_isr_no_loss"] == "fails"

    curves = make_curves({"none": [0.2, 2.2], "isr": [1.0, 2.4]}, n_seeds=2)
    unclear = claims.claims_fig4({"curves": curves, "ood": ood}, profile="smoke")
    assert verdicts(unclear)["fig4_none_unlearns"] == "inconclusive"
    assert verdicts(unclear)["fig4_isr_no_loss"] == "inconclusive"


def test_claims_fig7_uses_partner_goals():
    value = "partner_goals_per_episode"
    held = claims.claims_fig7({"curves": make_curves({"isr": 2.0, "none": 0.1, "oracle": 2.0},
                                                     phase1_start=0.1, value=value)},
                              profile="quick")
    check_ledger(held, "quick")
    assert verdicts(held) == {"fig7_isr_helping_continues": "holds",
                              "fig7_none_helping_decays": "holds"}
    assert value in held["measured"].iloc[0]
    assert "phase 1 taught it" in held["measured"].iloc[0]
    failed = claims.claims_fig7({"curves": make_curves({"isr": 0.5, "none": 2.0},
                                                       phase1_start=0.1, value=value)},
                                profile="quick")
    assert verdicts(failed) == {"fig7_isr_helping_continues": "fails",
                                "fig7_none_helping_decays": "fails"}


def test_claims_fig7_are_inconclusive_when_phase1_did_not_teach_helping():
    value = "partner_goals_per_episode"
    untaught = make_curves({"isr": 0.0, "none": 0.0, "oracle": 0.0}, phase1=0.0,
                           phase1_start=0.2, noise=0.02, value=value)
    ledger = claims.claims_fig7({"curves": untaught}, profile="quick")
    assert verdicts(ledger) == {"fig7_isr_helping_continues": "inconclusive",
                                "fig7_none_helping_decays": "inconclusive"}
    for measured in ledger["measured"]:
        assert "phase 1 did not teach it" in measured


# ---------------------------------------------------------------------------------------------
# OOD: Figs. 4b and 5
# ---------------------------------------------------------------------------------------------


def fig4_ledger(ood: pd.DataFrame) -> dict[str, str]:
    curves = make_curves({"none": 0.2, "isr": 2.0})
    return verdicts(claims.claims_fig4({"curves": curves, "ood": ood}, profile="smoke"))


def test_claims_fig4_ood_holds():
    result = fig4_ledger(make_ood({"frozen": 0.5, "isr": 0.7, "oracle": 0.7}, n_seeds=10))
    assert result["fig4_isr_gt_frozen_ood"] == "holds"
    assert result["fig4_isr_eq_oracle_ood"] == "holds"


def test_claims_fig4_ood_fails():
    result = fig4_ledger(make_ood({"frozen": 0.7, "isr": 0.5, "oracle": 0.9}, n_seeds=10))
    assert result["fig4_isr_gt_frozen_ood"] == "fails"
    assert result["fig4_isr_eq_oracle_ood"] == "fails"


def test_claims_fig4_ood_inconclusive_with_few_seeds():
    result = fig4_ledger(make_ood({"frozen": 0.5, "isr": 0.5, "oracle": 0.5}, n_seeds=3))
    assert result["fig4_isr_gt_frozen_ood"] == "inconclusive"
    assert result["fig4_isr_eq_oracle_ood"] == "inconclusive"


def test_claims_fig4_on_authors_data():
    ood = authors_csv("fig4b_authors_per_seed.csv")
    ledger = claims.claims_fig4({"curves": make_curves({"none": 0.2, "isr": 2.0}), "ood": ood},
                                profile="authors")
    check_ledger(ledger, "authors")
    result = verdicts(ledger)
    assert result["fig4_isr_gt_frozen_ood"] == "holds"
    # Not significant (p = 0.32), but the 90 % CI of isr - oracle (-0.089 to +0.006) reaches
    # past the margin of 10 % of the oracle's mean (0.0672): no evidence of equality.
    assert result["fig4_isr_eq_oracle_ood"] == "inconclusive"
    by_id = ledger.set_index("claim_id")
    assert "t(18) = -2.38, p = 0.029" in by_id.loc["fig4_isr_gt_frozen_ood", "as_published"]
    assert "t(18) = -1.02, p = 0.320" in by_id.loc["fig4_isr_eq_oracle_ood", "as_published"]
    assert "paired by seed" in by_id.loc["fig4_isr_eq_oracle_ood", "measured"]
    assert "90% CI -0.0893 to 0.00562" in by_id.loc["fig4_isr_eq_oracle_ood", "measured"]
    assert by_id.loc["fig4_isr_eq_oracle_ood", "margin"].startswith("+/-0.0672 (10% of")
    assert by_id.loc["fig4_isr_gt_frozen_ood", "margin"] == ""
    assert "two one-sided tests" in by_id.loc["fig4_isr_eq_oracle_ood", "method"]


def test_claims_fig5_on_authors_data_two_claims_sound_and_as_published():
    ledger = claims.claims_fig5({"ood": authors_csv("fig5_authors_per_seed.csv")},
                                profile="authors")
    check_ledger(ledger, "authors")
    # The authors' numbers as a fixture of the ledger's code, their list positions standing in
    # for seeds (the book analyses their data unpaired only; tests/test_agreement.py).
    # Pooled over the layouts, paired by "seed", the ISR is 0.044 below the oracle (t(9) = -2.88);
    # its 90 % CI (-0.072 to -0.016) is not inside the margin of 0.058: not equal, not shown to
    # differ by more than the margin.
    assert verdicts(ledger) == {"fig5_isr_gt_frozen": "holds",
                                "fig5_isr_eq_oracle": "inconclusive"}
    by_id = ledger.set_index("claim_id")
    published = by_id["as_published"]
    assert "in layout T" in published["fig5_isr_gt_frozen"]
    assert "t(90) = -3.66, p < 0.001" in published["fig5_isr_gt_frozen"]
    assert "t(90) = -1.12, p = 0.265 (not significant" in published["fig5_isr_eq_oracle"]
    measured = by_id["measured"]
    assert "paired by seed: frozen - isr = -0.164" in measured["fig5_isr_gt_frozen"]
    assert "t(9) = -7.39" in measured["fig5_isr_gt_frozen"]
    assert "mixed model: isr - oracle = -0.0439" in measured["fig5_isr_eq_oracle"]
    assert "t(9) = -2.88" in measured["fig5_isr_eq_oracle"]
    assert "(1 | seed:condition)" in by_id.loc["fig5_isr_eq_oracle", "method"]
    assert (ledger["n_seeds"] == 10).all()


def test_claims_fig5_synthetic_hold_and_inconclusive():
    layouts = ("4 rooms", "T", "U", "plus", "x")
    held = claims.claims_fig5(
        {"ood": make_ood({"frozen": 0.3, "isr": 0.6, "oracle": 0.6}, n_seeds=10,
                         layouts=layouts)},
        profile="smoke",
    )
    assert verdicts(held) == {"fig5_isr_gt_frozen": "holds", "fig5_isr_eq_oracle": "holds"}
    unclear = claims.claims_fig5(
        {"ood": make_ood({"frozen": 0.5, "isr": 0.5, "oracle": 0.5}, n_seeds=3,
                         layouts=layouts)},
        profile="smoke",
    )
    assert set(verdicts(unclear).values()) == {"inconclusive"}


def test_claims_fig5_single_layout_run():
    ood = make_ood({"frozen": 0.3, "isr": 0.6, "oracle": 0.6}, n_seeds=10, layouts=("x",))
    ledger = claims.claims_fig5({"ood": ood}, profile="smoke").set_index("claim_id")
    assert "in layout x" in ledger.loc["fig5_isr_gt_frozen", "as_published"]
    assert ledger.loc["fig5_isr_gt_frozen", "verdict"] == "holds"


def test_claims_fig5_on_a_record_in_parts_pool_only_layouts_with_every_condition():
    """A Fig. 5 record grows in parts: frozen in five layouts first, then isr and oracle one
    layout at a time. The claims use only the layouts that hold all three conditions."""
    layouts = ("4 rooms", "T", "U", "plus", "x")
    full = make_ood({"frozen": 0.3, "isr": 0.6, "oracle": 0.6}, n_seeds=10, layouts=layouts)
    frozen_only = claims.claims_fig5({"ood": full[full["condition"] == "frozen"]}, profile="paper")
    check_ledger(frozen_only, "paper")
    assert set(verdicts(frozen_only).values()) == {"inconclusive"}
    assert (frozen_only["measured"].str.startswith("not measured: 4 rooms lacks isr, oracle")).all()
    assert (frozen_only["n_seeds"] == 0).all()
    partial = full[(full["condition"] == "frozen") | (full["layout"] == "x")]
    ledger = claims.claims_fig5({"ood": partial}, profile="paper").set_index("claim_id")
    alone = claims.claims_fig5({"ood": full[full["layout"] == "x"]}, profile="paper").set_index("claim_id")
    assert list(ledger["measured"]) == list(alone["measured"])
    assert list(ledger["verdict"]) == list(alone["verdict"]) == ["holds", "holds"]
    assert ledger["method"].str.contains("pooled over layouts x only (4 rooms lacks isr, oracle; T lacks", regex=False).all()


def test_claims_fig5_mixed_model_not_converged_is_inconclusive(monkeypatch):
    ood = make_ood({"frozen": 0.3, "isr": 0.6, "oracle": 0.9}, n_seeds=10,
                   layouts=("T", "U"))
    fitted = claims.stats.mixed_model_condition_layout(ood)
    assert fitted["converged"].all()
    before = claims.claims_fig5({"ood": ood}, profile="smoke").set_index("claim_id")
    assert before.loc["fig5_isr_gt_frozen", "verdict"] == "holds"
    assert before.loc["fig5_isr_eq_oracle", "verdict"] == "fails"
    failed_fit = fitted.assign(converged=False, warnings="ConvergenceWarning: synthetic")
    monkeypatch.setattr(claims.stats, "mixed_model_condition_layout", lambda frame: failed_fit)
    ledger = claims.claims_fig5({"ood": ood}, profile="smoke").set_index("claim_id")
    assert ledger.loc["fig5_isr_gt_frozen", "verdict"] == "inconclusive"
    assert ledger.loc["fig5_isr_eq_oracle", "verdict"] == "inconclusive"
    assert "ConvergenceWarning: synthetic" in ledger.loc["fig5_isr_gt_frozen", "method"]


def test_claims_fig5_analyses_that_disagree_give_inconclusive(monkeypatch):
    ood = make_ood({"frozen": 0.3, "isr": 0.6, "oracle": 0.6}, n_seeds=10, layouts=("T", "U"))
    fitted = claims.stats.mixed_model_condition_layout(ood)
    # The mixed model now says frozen - isr is not significant while the paired test says it is.
    weak = fitted.assign(p_value=0.5, ci_low=-1.0, ci_high=1.0, boundary=False, hessian_pd=True,
                         degenerate=False, warnings="")
    monkeypatch.setattr(claims.stats, "mixed_model_condition_layout", lambda frame: weak)
    ledger = claims.claims_fig5({"ood": ood}, profile="smoke").set_index("claim_id")
    assert ledger.loc["fig5_isr_gt_frozen", "verdict"] == "inconclusive"
    assert ledger.loc["fig5_isr_eq_oracle", "verdict"] == "inconclusive"


def test_claims_fig5_a_boundary_fit_is_reported_and_does_not_decide(monkeypatch):
    """A mixed model whose seed x condition variance is estimated at zero, with a Hessian that
    is not positive definite, is named as such in the ledger and left out of the verdict: the
    same disagreement that makes a healthy fit's claim inconclusive leaves this one to the
    paired test."""
    ood = make_ood({"frozen": 0.3, "isr": 0.6, "oracle": 0.6}, n_seeds=10, layouts=("T", "U"))
    fitted = claims.stats.mixed_model_condition_layout(ood)
    weak = fitted.assign(p_value=0.5, ci_low=-1.0, ci_high=1.0, seed_condition_variance=0.0,
                         warnings="ConvergenceWarning: The Hessian matrix at the estimated "
                         "parameter values is not positive definite.")
    weak = weak.assign(**pd.DataFrame([claims.stats._fit_health(r) for r in weak.to_dict("records")]))
    assert weak["boundary"].all() and not weak["hessian_pd"].any() and weak["degenerate"].all()
    monkeypatch.setattr(claims.stats, "mixed_model_condition_layout", lambda frame: weak)
    ledger = claims.claims_fig5({"ood": ood}, profile="smoke").set_index("claim_id")
    assert ledger.loc["fig5_isr_gt_frozen", "verdict"] == "holds"
    method = ledger.loc["fig5_isr_gt_frozen", "method"]
    assert "mixed model: a degenerate fit (a variance component on the boundary" in method
    assert "a Hessian that is not positive definite" in method
    assert "left out of the verdict, which rests on paired by seed" in method


def test_equivalence_rule_rarely_holds_for_a_real_15_percent_gap():
    """Five seeds per condition, the ISR truly 15 % below the oracle (the authors' SD 0.09):
    the rule may call them equal in at most 5 % of draws (TOST's error rate at the margin is
    5 %, and a 15 % gap lies beyond the 10 % margin). The old rule, "p >= 0.05 with at least
    five seeds", said `holds` in most such draws."""
    rng = np.random.default_rng(20261202)
    curves = make_curves({"none": 0.2, "isr": 2.0}, n_seeds=5, episodes=20)
    draws, held, old_rule_held = 400, 0, 0
    oracle_mean = 0.67
    for _ in range(draws):
        values = {"frozen": rng.normal(0.5, 0.09, 5), "isr": rng.normal(0.85 * oracle_mean, 0.09, 5),
                  "oracle": rng.normal(oracle_mean, 0.09, 5)}
        ood = pd.DataFrame([{"seed": seed, "condition": c, "layout": "random-5",
                             "ood_reward": float(v[seed])}
                            for c, v in values.items() for seed in range(5)])
        ledger = claims.claims_fig4({"curves": curves, "ood": ood}, profile="simulation")
        held += verdicts(ledger)["fig4_isr_eq_oracle_ood"] == "holds"
        student = claims.stats.ood_t_tests(ood).query("test == 'student'")
        old_rule_held += student.set_index("contrast").loc["isr - oracle", "p_value"] >= 0.05
    assert held / draws < 0.05
    assert old_rule_held / draws > 0.3  # the power problem the new rule removes


# ---------------------------------------------------------------------------------------------
# ISR: Fig. 3
# ---------------------------------------------------------------------------------------------


def make_isr_curve(gaps: list[float], *, points: int = 20) -> pd.DataFrame:
    """Per seed, a falling train curve and a test curve ``(1 + gap)`` times it."""
    rows = []
    for seed, gap in enumerate(gaps):
        for k in range(1, points + 1):
            train = 0.01 + 0.1 / k
            rows.append({"seed": seed, "draws": 100 * k, "split": "train", "mse": train})
            rows.append({"seed": seed, "draws": 100 * k, "split": "test",
                         "mse": train * (1 + gap)})
    return pd.DataFrame(rows)


def make_data_size(exponent: float, *, n_seeds: int = 5) -> pd.DataFrame:
    rows = []
    for seed in range(n_seeds):
        for size in (9216, 18432, 36864, 73728):
            wobble = 0.1 if (seed + size // 9216) % 2 else -0.1
            rows.append({"seed": seed, "isr_train_transitions": size,
                         "isr_test_mse": 10 ** (exponent * math.log10(size) - 1 + wobble)})
    return pd.DataFrame(rows)


def make_error_by_part(held_out_ratios: list[float], *, noise: float = 0.05,
                       rng_seed: int = 0) -> pd.DataFrame:
    """An ``isr_error_by_part`` table: per seed an error that falls tenfold over the nine
    training tenths, and a held-out tenth ``ratio`` times the last training tenth's (times a
    little log-normal noise)."""
    rng = np.random.default_rng(rng_seed)
    rows = []
    for seed, ratio in enumerate(held_out_ratios):
        level = 1e-3 * np.exp(rng.normal(0, 0.2))
        train = level * np.logspace(0, -1, 9)
        mses = [*train, train[-1] * ratio * float(np.exp(rng.normal(0, noise)))]
        for part, mse in enumerate(mses, start=1):
            rows.append({"seed": seed, "part": part, "split": "train" if part < 10 else "test",
                         "first_step": 1000 * (part - 1), "n_transitions": 1000,
                         "goal_fraction": 0.1, "mse": float(mse)})
    return pd.DataFrame(rows)


def fig3_tables(held_out_ratios: list[float], chronological_gaps: list[float] | None = None,
                exponent: float = -1.0) -> dict[str, pd.DataFrame]:
    gaps = (chronological_gaps if chronological_gaps is not None
            else [-0.7 + 0.02 * (k % 3) for k in range(len(held_out_ratios))])
    return {"isr_curve": make_isr_curve(gaps), "isr_data_size": make_data_size(exponent),
            "isr_error_by_part": make_error_by_part(held_out_ratios)}


def test_claims_fig3_holds():
    ledger = claims.claims_fig3(fig3_tables([1.0] * 8), profile="smoke")
    check_ledger(ledger, "smoke")
    assert verdicts(ledger) == {"fig3_isr_no_train_test_gap": "holds",
                                "fig3_isr_loss_decreases_with_data": "holds"}


def test_fig3_gap_fails_with_a_held_out_error_50_percent_above_the_last_training_tenth():
    """Memorisation: the held-out tenth 50 % above the time-matched training tenth fails the
    claim, even though the whole training split (with its hard early states) lies above both."""
    ledger = claims.claims_fig3(fig3_tables([1.5] * 8, exponent=+1.0), profile="smoke")
    assert verdicts(ledger) == {"fig3_isr_no_train_test_gap": "fails",
                                "fig3_isr_loss_decreases_with_data": "fails"}
    row = ledger.set_index("claim_id").loc["fig3_isr_no_train_test_gap"]
    assert row["effect"].startswith("held-out error above the last training tenth's by 49.2% (ratio 1.49")
    assert "test below train by 68% of train" in row["measured"]  # the chronological contrast, with its sign


def test_fig3_gap_does_not_fail_with_a_held_out_error_70_percent_below():
    """A held-out error far below the last training tenth is no overfitting: under the
    one-sided rule the claim does not fail (the first, two-sided rule said it did)."""
    tables = fig3_tables([0.3] * 8)
    row = claims.claims_fig3(tables, profile="smoke").set_index("claim_id").loc[
        "fig3_isr_no_train_test_gap"]
    assert row["verdict"] == "holds"
    assert "below the last training tenth's by 70" in row["effect"]
    assert claims.first_rule_verdicts("fig3", tables) == {"fig3_isr_no_train_test_gap": "fails"}
    assert claims.RULE_CHANGES["fig3_isr_no_train_test_gap"].marker in row["method"]
    assert "the first rule" in row["measured"] and "gave fails" in row["measured"]


def test_claims_fig3_inconclusive():
    # One seed: no gap test; a flat data-size trend with symmetric wobble: slope 0.
    assert verdicts(claims.claims_fig3(fig3_tables([1.0], exponent=0.0), profile="smoke")) == {
        "fig3_isr_no_train_test_gap": "inconclusive",
        "fig3_isr_loss_decreases_with_data": "inconclusive",
    }


def test_claims_fig3_without_the_error_by_part_table_is_not_measured():
    tables = fig3_tables([1.0] * 5)
    del tables["isr_error_by_part"]
    row = claims.claims_fig3(tables, profile="paper").set_index("claim_id").loc[
        "fig3_isr_no_train_test_gap"]
    assert row["verdict"] == "inconclusive" and row["n_seeds"] == 0
    assert row["measured"].startswith("not measured: the table isr_error_by_part is missing")


def test_claims_fig3_on_authors_data_size():
    tables = {**fig3_tables([1.0] * 5), "isr_data_size": authors_csv("fig3b_authors_per_seed.csv")}
    ledger = claims.claims_fig3(tables, profile="authors")
    assert verdicts(ledger)["fig3_isr_loss_decreases_with_data"] == "holds"


# ---------------------------------------------------------------------------------------------
# Reward hacking: Fig. 6
# ---------------------------------------------------------------------------------------------


def make_fig6_curves(internal_slope: float, goals_slope: float, *, n_seeds: int = 6,
                     episodes: int = 40) -> pd.DataFrame:
    """Linear trends per seed plus a +-0.01 wobble that cancels across seeds."""
    rows = []
    for seed in range(n_seeds):
        wobble = 0.01 * (1 if seed % 2 else -1)
        for episode in range(1, episodes + 1):
            t = episode / episodes
            rows.append({"seed": seed, "episode": episode, "env_steps": 20 * episode,
                         "internal_reward": 0.1 + internal_slope * t + wobble * t + 0.01 * seed,
                         "goals_per_episode": 0.5 + goals_slope * t + wobble * t})
    return pd.DataFrame(rows)


def test_claims_fig6_hold_fail_inconclusive():
    held = claims.claims_fig6({"curves": make_fig6_curves(1.0, 0.0)}, profile="smoke")
    check_ledger(held, "smoke")
    assert verdicts(held) == {"fig6_reward_hacking": "holds"}
    really_learning = claims.claims_fig6({"curves": make_fig6_curves(1.0, 1.0)}, profile="smoke")
    assert verdicts(really_learning) == {"fig6_reward_hacking": "fails"}
    falling = claims.claims_fig6({"curves": make_fig6_curves(-1.0, 0.0)}, profile="smoke")
    assert verdicts(falling) == {"fig6_reward_hacking": "fails"}
    flat = claims.claims_fig6({"curves": make_fig6_curves(0.0, 0.0)}, profile="smoke")
    assert verdicts(flat) == {"fig6_reward_hacking": "inconclusive"}


# ---------------------------------------------------------------------------------------------
# Verdict rules and dispatch
# ---------------------------------------------------------------------------------------------


def window_row(estimate: float, p_value: float, relative: float, low: float) -> pd.Series:
    return pd.Series({"estimate": estimate, "p_value": p_value, "relative_change": relative,
                      "relative_ci_low": low})


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (window_row(-1.5, 0.001, -0.75, -0.9), "holds"),
        (window_row(-0.1, 0.001, -0.05, -0.08), "fails"),  # a meaningful drop is ruled out
        (window_row(0.5, 0.001, 0.25, 0.1), "fails"),  # significantly higher
        (window_row(-0.4, 0.01, -0.2, -0.35), "inconclusive"),  # significant but small point drop
        (window_row(-1.0, 0.2, -0.5, -1.5), "inconclusive"),
        (window_row(-1.0, math.nan, math.nan, math.nan), "inconclusive"),
    ],
)
def test_verdict_unlearning(row, expected):
    assert claims.verdict_unlearning(row, alpha=0.05, min_relative_drop=0.25) == expected


def equivalence_row(low: float, high: float, margin: float = 0.1) -> pd.Series:
    return pd.Series({"eq_ci_low": low, "eq_ci_high": high, "margin": margin})


@pytest.mark.parametrize(
    ("row", "side", "expected"),
    [
        (equivalence_row(-0.05, 0.05), "both", "holds"),
        (equivalence_row(-0.15, 0.05), "both", "inconclusive"),  # a big drop is not ruled out
        (equivalence_row(-0.3, -0.12), "both", "fails"),  # wholly beyond -margin
        (equivalence_row(0.11, 0.4), "both", "fails"),  # wholly beyond +margin
        (equivalence_row(-0.05, 0.3), "lower", "holds"),  # a gain is no loss
        (equivalence_row(-0.3, -0.11), "lower", "fails"),  # a loss beyond the margin
        (equivalence_row(-0.12, 0.0), "lower", "inconclusive"),
        (equivalence_row(-0.5, 0.05), "upper", "holds"),  # a fall is no rise
        (equivalence_row(0.12, 0.2), "upper", "fails"),
        (equivalence_row(math.nan, math.nan), "both", "inconclusive"),  # no test
        (equivalence_row(-0.01, 0.01, math.nan), "both", "inconclusive"),  # no margin
    ],
)
def test_verdict_equivalence(row, side, expected):
    assert claims.verdict_equivalence(row, side=side) == expected


def test_figure_claims_dispatch_and_unknown_figure():
    from valint.figures import FIGURES, figure_claims

    tables = {"curves": make_curves({"none": 0.2})}
    pd.testing.assert_frame_equal(figure_claims("fig1", tables, profile="smoke"),
                                  claims.claims_fig1(tables, profile="smoke"))
    assert claims.claims_fig2({}, profile="smoke").empty
    assert {spec.claims.__name__ for spec in FIGURES.values()} == {f"claims_{n}" for n in FIGURES}
    with pytest.raises(ValueError, match="figure"):
        figure_claims("fig9", tables, profile="smoke")
    with pytest.raises(ValueError, match="need the table 'ood'"):
        figure_claims("fig5", tables, profile="smoke")


def _t_text(t: float, df: int, p: float) -> str:
    return f"t({df}) = {t:.2f}" + (", p < 0.001" if p < 0.001 else f", p = {p:.3f}")


def test_the_papers_numbers_in_the_ledger_are_those_of_the_authors_data():
    """Each number PAPER_CLAIMS quotes for Figs. 4b and 5 is recomputed here from the authors'
    per-seed CSVs with scipy and a statsmodels formula written out in the test (not with
    valint.stats), and must appear in the ledger's "paper" text with its sign: a typo, a sign
    flipped to the other contrast, or a number copied from the wrong layout fails."""
    import statsmodels.formula.api as smf
    from scipy import stats as sps

    fig4 = authors_csv("fig4b_authors_per_seed.csv")
    by = {c.lower(): g["ood_reward"].to_numpy() for c, g in fig4.groupby("condition")}
    paper = {key: entry["paper"] for key, entry in claims.PAPER_CLAIMS.items()}
    frozen_isr = sps.ttest_ind(by["frozen"], by["isr"])
    isr_oracle = sps.ttest_ind(by["isr"], by["oracle"])
    assert _t_text(frozen_isr.statistic, 18, frozen_isr.pvalue) in paper["fig4_isr_gt_frozen_ood"]
    assert f"p = {isr_oracle.pvalue:.2f}" in paper["fig4_isr_eq_oracle_ood"]
    assert f"t(18) = {isr_oracle.statistic:.2f}" in paper["fig4_isr_eq_oracle_ood"]

    fig5 = authors_csv("fig5_authors_per_seed.csv").assign(
        condition=lambda f: f["condition"].str.lower())
    for claim_id, (a, b) in {"fig5_isr_gt_frozen": ("frozen", "isr"),
                             "fig5_isr_eq_oracle": ("isr", "oracle")}.items():
        pair = fig5[fig5["condition"].isin([a, b])].assign(is_a=lambda f: (f["condition"] == a) * 1.0)
        fit = smf.ols("ood_reward ~ is_a * C(layout, Treatment('T'))", pair).fit()
        t, p = fit.tvalues["is_a"], fit.pvalues["is_a"]
        assert f"t = {t:.2f}" in paper[claim_id], (claim_id, t)
        assert (f"p = {p:.2f}" in paper[claim_id]) or (p < 0.001 and "p < 0.001" in paper[claim_id])
    assert "printed as t = 1.12" in paper["fig5_isr_eq_oracle"]
    assert set(claims.SAME_CLAIM) <= set(paper) and set(claims.SAME_CLAIM.values()) <= set(paper)
