"""Tests of valint.records and ``python -m valint record``: parts written whole, merged, checked."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from valint import records
from valint.envs import LAYOUT_NAMES
from valint.figures import plan_figure, run_figure
from valint.provenance import science_code_hash

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke_parts(tmp_path_factory):
    """Two parts of a smoke Fig. 1 (seeds 0-1 and 2), written as the command line writes them."""
    root = tmp_path_factory.mktemp("records")
    store = root / "store"
    for n, offset in ((2, 0), (1, 2)):
        result = run_figure("fig1", "smoke", seeds=n, seed_offset=offset, store=store,
                            progress=False)
        records.write_outputs(result, root / "paper" / "fig1" / f"seeds-{offset}-{offset + n - 1}")
    return root / "paper"


def test_part_name_names_seeds_and_changed_parameters():
    defaults = {"layout": "all", "isr_pay": "gate"}
    assert records.part_name(range(10), {"layout": "all", "isr_pay": "gate"}, defaults) == "seeds-0-9"
    assert records.part_name(range(5, 10), {"layout": "4 rooms", "isr_pay": "gate"},
                             defaults) == "layout-4rooms_seeds-5-9"


@pytest.mark.slow
def test_parts_merge_and_say_what_is_missing(smoke_parts):
    record = records.load_record("fig1", smoke_parts)
    assert list(record.parts["part"]) == ["seeds-0-1", "seeds-2-2"]
    assert set(record.tables["curves"]["seed"]) == {0, 1, 2}
    assert record.missing == "seeds 3, 4, 5, 6, 7, 8, 9"
    assert record.stale_codes == []
    assert (record.parts["science_code"] == science_code_hash("grid")).all()
    ledger = record.claims()
    assert list(ledger["claim_id"]) == ["fig1_none_unlearns"]
    assert int(ledger["n_seeds"].iloc[0]) == 3
    prov = json.loads((smoke_parts / "fig1" / "seeds-0-1" / "provenance.json").read_text())
    assert prov["peak_memory_mib"] > 0 and prov["science_code"] == science_code_hash("grid")
    assert "runs" not in record.tables


def test_a_part_keeps_the_runs_behind_it_and_counts_each_batch_once(smoke_parts, tmp_path):
    runs = pd.read_csv(smoke_parts / "fig1" / "seeds-0-1" / records.RUNS_FILE)
    assert set(runs["kind"]) == {"phase1", "isr", "phase2"} and set(runs["seed"]) == {0, 1}
    assert (runs["science_code"] == science_code_hash("grid")).all()
    plan = plan_figure("fig1", "smoke", seeds=2).plan
    per_batch = runs.groupby("wall_time_s")["batch_runs"].agg(["size", "first"])
    assert len(per_batch) == len(plan.batches) < len(runs)
    assert (per_batch["size"] == per_batch["first"]).all()
    assert records.training_seconds(smoke_parts / "fig1" / "seeds-0-1") == pytest.approx(
        sum(per_batch.index), abs=0.1)
    old = tmp_path / "seeds-0-1"
    shutil.copytree(smoke_parts / "fig1" / "seeds-0-1", old)
    (old / records.RUNS_FILE).unlink()
    assert records.training_seconds(old) == "not recorded"


@pytest.mark.slow
def test_check_agrees_then_catches_an_edited_ledger(smoke_parts, tmp_path):
    checked = records.check_record("fig1", smoke_parts)
    assert checked["item"].str.startswith("claim ").sum() == 2 and checked["agree"].all()
    edited = tmp_path / "paper"
    shutil.copytree(smoke_parts, edited)
    claims = edited / "fig1" / "seeds-2-2" / "claims.csv"
    frame = pd.read_csv(claims)
    frame["verdict"] = frame["verdict"].map({"holds": "fails"}).fillna("holds")
    frame.to_csv(claims, index=False)
    again = records.check_record("fig1", edited)
    assert set(again.loc[~again["agree"], "part"]) == {"seeds-2-2"}
    assert set(again.loc[~again["agree"], "item"]) == {"claims.csv", "claim fig1_none_unlearns"}
    done = subprocess.run([sys.executable, "-m", "valint", "record", "fig1", "--check", "--root",
                           str(edited)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 1 and "seeds-2-2" in done.stdout


def test_no_record_is_empty_and_says_so(tmp_path):
    record = records.load_record("fig5", tmp_path)
    assert record.empty and record.tables == {}
    assert "no paper-scale run of this figure is recorded yet" in record.missing
    with pytest.raises(ValueError, match="figure='fig9' is not allowed"):
        records.load_record("fig9", tmp_path)


def test_a_fig5_record_in_parts_names_what_each_layout_lacks(tmp_path):
    """Frozen in every layout (one part), isr and oracle in "x" (another): the merged record
    says which conditions the other layouts lack, and its claims pool over "x" only."""
    def part(name, conditions, layouts):
        folder = tmp_path / "fig5" / name
        folder.mkdir(parents=True)
        noise = np.random.default_rng(len(name)).normal(0, 0.05, (10, len(conditions), len(layouts)))
        rows = [{"seed": s, "condition": c, "layout": x, "ood_reward": 0.3 + 0.3 * (c != "frozen") + noise[s, i, j]}
                for s in range(10) for i, c in enumerate(conditions) for j, x in enumerate(layouts)]
        pd.DataFrame(rows).to_csv(folder / "ood.csv", index=False)
        for file in ("claims.csv", "claims.json"):
            (folder / file).write_text("")
        (folder / "provenance.json").write_text(json.dumps({"seeds": list(range(10)), "science_code": "x"}))

    part("conditions-frozen_seeds-0-9", ["frozen"], LAYOUT_NAMES)
    part("conditions-isr+oracle_layout-x_seeds-0-9", ["isr", "oracle"], ["x"])
    record = records.load_record("fig5", tmp_path)
    assert record.missing == "isr in layouts 4 rooms, T, U, plus; oracle in layouts 4 rooms, T, U, plus"
    ledger = record.claims().set_index("claim_id")
    assert ledger.loc["fig5_isr_gt_frozen", "verdict"] == "holds"
    assert "pooled over layouts x only" in ledger.loc["fig5_isr_gt_frozen", "method"]


def test_the_report_headline_does_not_count_a_claim_no_part_can_measure_yet():
    from valint import pages

    recorded = pd.DataFrame([
        {"claim_id": "fig1_none_unlearns", "figure": "fig1", "verdict": "holds", "n_seeds": 10, "missing": "",
         "effect": "none: phase 2 94% below the end of phase 1"},
        {"claim_id": "fig6_reward_hacking", "figure": "fig6", "verdict": "fails", "n_seeds": 4, "missing": "seeds 4, 5",
         "effect": "goals per episode +40% (95% CI +20% to +60%)"},
        {"claim_id": "fig5_isr_gt_frozen", "figure": "fig5", "verdict": "inconclusive", "n_seeds": 0,
         "missing": "isr in layouts x", "effect": "not measured"},
    ])
    assert pages.paper_scale_summary(recorded) == (
        "At the paper's scale, 2 of the 11 claims have a record (fig1, fig6): 1 holds, 1 fails and 0 are "
        "inconclusive. fig6_reward_hacking fails: goals per episode +40% (95% CI +20% to +60%). "
        "The records of fig6 are not complete yet; their verdicts rest on what is recorded "
        "so far. 1 more claim (fig5) has a record in progress that cannot measure it yet: it lacks isr "
        "in layouts x.")


def test_the_report_headline_names_records_made_by_earlier_science_code():
    from valint import pages

    recorded = pd.DataFrame([
        {"claim_id": "fig1_none_unlearns", "figure": "fig1", "verdict": "holds", "n_seeds": 10,
         "missing": "", "stale": False},
        {"claim_id": "fig6_reward_hacking", "figure": "fig6", "verdict": "holds", "n_seeds": 10,
         "missing": "", "stale": True},
    ])
    summary = pages.paper_scale_summary(recorded)
    assert summary.endswith("The records of fig6 were made by earlier science code that computes other "
                            "numbers than the current code; their verdicts stand for that code until the "
                            "figures are re-recorded.")
    assert "fig1 were made" not in summary


def test_an_interrupted_write_leaves_no_part(tmp_path, monkeypatch):
    class Exploding:
        figure, seeds, params, wall_time_s = "fig1", (0,), {}, 1.0
        profile = type("P", (), {"name": "smoke"})()
        tables = {"curves": pd.DataFrame({"seed": [0]})}

        @property
        def claims(self):
            raise RuntimeError("killed while writing")

    with pytest.raises(RuntimeError):
        records.write_outputs(Exploding(), tmp_path / "fig1" / "seeds-0-0")
    assert list((tmp_path / "fig1").iterdir()) == []
    assert records.part_folders("fig1", tmp_path) == []


COMMITTED = sorted(p.name for p in records.RECORDS_ROOT.iterdir()) if records.RECORDS_ROOT.is_dir() else []


@pytest.mark.parametrize("figure", COMMITTED)
def test_every_committed_record_checks(figure):
    checked = records.check_record(figure)
    assert not checked.empty and checked["agree"].all(), checked[~checked["agree"]]


def _window_t(curves: pd.DataFrame, value: str, condition: str) -> float:
    """Phase-2 last window minus phase-1 last window, paired over seeds, by hand (scipy)."""
    from scipy import stats as sps

    two = curves[(curves["phase"] == 2) & (curves["condition"] == condition)]
    one = curves[curves["phase"] == 1]
    w = int(np.ceil(0.1 * two.groupby("seed")["episode"].nunique().min()))
    seeds = sorted(set(two["seed"]))
    last = [two[two["seed"] == s].sort_values("episode")[value].tail(w).mean() for s in seeds]
    end = [one[one["seed"] == s].sort_values("episode")[value].tail(w).mean() for s in seeds]
    return float(sps.ttest_rel(last, end).statistic)


def _independent_t(figure: str, tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """The t statistic of each claim's deciding test, recomputed from a record's CSVs with
    numpy and scipy alone (none of valint.stats)."""
    from scipy import stats as sps

    if figure == "fig1":
        return {"fig1_none_unlearns": _window_t(tables["curves"], "goals_per_episode", "none")}
    if figure == "fig3":
        parts = tables["isr_error_by_part"].sort_values(["seed", "part"])
        held = parts[parts["split"] == "test"].set_index("seed")["mse"]
        last = parts[parts["split"] == "train"].groupby("seed")["mse"].last()
        sizes = tables["isr_data_size"]
        slopes = [np.polyfit(np.log10(g["isr_train_transitions"]), np.log10(g["isr_test_mse"]), 1)[0]
                  for _, g in sizes.groupby("seed")]
        return {"fig3_isr_no_train_test_gap": float(sps.ttest_1samp(np.log(held / last), 0).statistic),
                "fig3_isr_loss_decreases_with_data": float(sps.ttest_1samp(slopes, 0).statistic)}
    if figure in ("fig4", "fig5"):
        ood = tables["ood"].assign(condition=lambda f: f["condition"].str.lower())
        means = ood.groupby(["seed", "condition"])["ood_reward"].mean().unstack()
        prefix = "fig4" if figure == "fig4" else "fig5"
        out = {f"{prefix}_isr_gt_frozen" + ("_ood" if figure == "fig4" else ""):
               float(sps.ttest_rel(means["frozen"], means["isr"]).statistic),
               f"{prefix}_isr_eq_oracle" + ("_ood" if figure == "fig4" else ""):
               float(sps.ttest_rel(means["isr"], means["oracle"]).statistic)}
        if figure == "fig4":
            out["fig4_none_unlearns"] = _window_t(tables["curves"], "goals_per_episode", "none")
            out["fig4_isr_no_loss"] = _window_t(tables["curves"], "goals_per_episode", "isr")
        return out
    if figure == "fig6":
        curves = tables["curves"]
        w = int(np.ceil(0.1 * curves.groupby("seed")["episode"].nunique().min()))
        runs = [g.sort_values("episode")["internal_reward"] for _, g in curves.groupby("seed")]
        return {"fig6_reward_hacking": float(sps.ttest_rel([r.tail(w).mean() for r in runs],
                                                             [r.head(w).mean() for r in runs]).statistic)}
    if figure == "fig7":
        value = "partner_goals_per_episode"
        return {"fig7_isr_helping_continues": _window_t(tables["curves"], value, "isr"),
                "fig7_none_helping_decays": _window_t(tables["curves"], value, "none")}
    return {}


@pytest.mark.parametrize("figure", COMMITTED)
def test_every_committed_ledger_states_the_t_of_an_independent_recomputation(figure):
    """The book's paper-scale ledger (recomputed from the record) prints, for every claim, the
    t statistic that scipy gives on the record's CSVs with the windows written out here: a
    wrong window, pairing or sign in valint.stats would show."""
    record = records.load_record(figure)
    ledger = record.claims().set_index("claim_id")["measured"]
    expected = _independent_t(figure, record.tables)
    assert expected, figure
    for claim_id, t in expected.items():
        assert f"t(9) = {t:.2f}" in ledger[claim_id], (claim_id, t, ledger[claim_id])


def test_record_rejects_bad_input_before_any_work(tmp_path):
    done = subprocess.run([sys.executable, "-m", "valint", "record", "fig5", "--param",
                           "layout=moon", "--root", str(tmp_path)], capture_output=True,
                          text=True, cwd=REPO, timeout=120)
    assert done.returncode == 2 and "layout='moon' is not allowed" in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_chapter_shows_its_record_with_one_call(smoke_parts, tmp_path, monkeypatch):
    """``pages.show_record``: the note, the recorded figure, its claims and the parts; for an
    empty record the note alone, and the plot is never asked to draw nothing."""
    import matplotlib.pyplot as plt

    from valint import pages

    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    drawn = []

    def plot(tables):
        drawn.append(sorted(tables))
        return plt.figure()

    pages.show_record(records.load_record("fig1", smoke_parts), plot)
    assert drawn == [["curves"]]
    assert [type(obj).__name__ for obj in shown] == ["HTML", "Figure", "Styler", "Styler"]
    assert "Paper-scale record" in shown[0].data
    shown.clear()
    pages.show_record(records.load_record("fig1", tmp_path / "none"), plot)
    assert len(drawn) == 1 and len(shown) == 1 and "No paper-scale record yet" in shown[0].data


FIG5 = records.RECORDS_ROOT / "fig5"
FIG5_PARTS = ("conditions-frozen_seeds-0-9", "conditions-isr+oracle_layout-x_seeds-0-9")


@pytest.fixture
def fig5_copy(tmp_path):
    """A copy of two committed parts of the Fig. 5 record (small files), manifests included."""
    root = tmp_path / "copy"
    for part in FIG5_PARTS:
        shutil.copytree(FIG5 / part, root / "fig5" / part)
    return root


def _check(root, capsys) -> tuple[int, str]:
    from valint.__main__ import main

    code = main(["record", "fig5", "--check", "--records", str(root)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _drop_rows(path):
    frame = pd.read_csv(path)
    frame.iloc[: len(frame) // 2].to_csv(path, index=False)


def _duplicate_a_row(path):
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join([*lines, lines[-1]]))


DAMAGE = {
    "claims.csv deleted": ("claims.csv", lambda p: p.unlink(), "missing"),
    "rows deleted": ("ood.csv", _drop_rows, "changed"),
    "a row duplicated": ("ood.csv", _duplicate_a_row, "changed"),
    "a file added": ("notes.txt", lambda p: p.write_text("mine"), "extra"),
    "a CSV unreadable": ("checkpoints.csv", lambda p: p.write_text('seed,best_step\n"0,1\n'), "unreadable"),
    "the manifest deleted": ("manifest.json", lambda p: p.unlink(), "no manifest"),
}


def test_check_passes_a_copy_of_the_committed_parts(fig5_copy, capsys):
    code, text = _check(fig5_copy, capsys)
    assert code == 0, text
    checked = records.check_record("fig5", fig5_copy)
    files = checked[~checked["item"].str.startswith("claim ")]
    assert set(files["item"]) == {"checkpoints.csv", "claims.csv", "claims.json", "ood.csv", "provenance.json"}


@pytest.mark.parametrize("damage", DAMAGE)
def test_check_fails_on_any_damage_and_names_the_file(fig5_copy, capsys, damage):
    name, harm, found = DAMAGE[damage]
    harm(fig5_copy / "fig5" / FIG5_PARTS[1] / name)
    code, text = _check(fig5_copy, capsys)
    assert code == 1
    failing = text.strip().splitlines()[-1]
    assert f"{FIG5_PARTS[1]}/{name}: {found}" in failing, failing
    assert FIG5_PARTS[0] not in failing


def test_a_part_without_manifest_gets_one_from_its_files_only_when_it_checks(fig5_copy, capsys):
    from valint.__main__ import main

    part = fig5_copy / "fig5" / FIG5_PARTS[0]
    manifest = (part / records.MANIFEST_FILE).read_bytes()
    before = {p.name: p.read_bytes() for p in part.iterdir() if p.name != records.MANIFEST_FILE}
    (part / records.MANIFEST_FILE).unlink()
    (part / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="'notes.txt', which valint did not write"):
        records.add_missing_manifests("fig5", fig5_copy)
    (part / "notes.txt").unlink()
    claims = pd.read_csv(part / "claims.csv")
    pd.concat([claims, claims.iloc[:1]]).to_csv(part / "claims.csv", index=False)
    with pytest.raises(ValueError, match="no manifest written"):
        records.add_missing_manifests("fig5", fig5_copy)
    (part / "claims.csv").write_bytes(before["claims.csv"])
    assert main(["record", "fig5", "--check", "--write-manifest", "--records", str(fig5_copy)]) == 0
    assert (part / records.MANIFEST_FILE).read_bytes() == manifest
    assert {p.name: p.read_bytes() for p in part.iterdir() if p.name != records.MANIFEST_FILE} == before
    assert "wrote" in capsys.readouterr().out


class _Fig5Result:
    """A Fig. 5 part as ``run_figure`` returns it (the tables of the committed frozen part)."""

    figure, seeds, params, wall_time_s = "fig5", tuple(range(10)), {"conditions": "frozen"}, 1.0
    profile = type("P", (), {"name": "paper"})()

    def __init__(self):
        part = FIG5 / FIG5_PARTS[0]
        self.tables = {name: pd.read_csv(part / f"{name}.csv") for name in ("ood", "checkpoints")}
        self.claims = pd.read_csv(part / "claims.csv")
        self.runs = None


def test_a_part_is_recorded_again_only_over_files_the_writer_wrote(fig5_copy):
    part = fig5_copy / "fig5" / FIG5_PARTS[0]
    records.write_outputs(_Fig5Result(), part)
    assert records.check_record("fig5", fig5_copy)["agree"].all()
    (part / records.MANIFEST_FILE).unlink()
    records.write_outputs(_Fig5Result(), part)
    (part / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="'notes.txt', which valint did not write"):
        records.write_outputs(_Fig5Result(), part)
    assert (part / "notes.txt").read_text() == "mine"
    (part / "notes.txt").unlink()
    (part / "ood.csv").write_text("edited")
    with pytest.raises(ValueError, match="'ood.csv', changed since valint wrote it"):
        records.write_outputs(_Fig5Result(), part)
    assert (part / "ood.csv").read_text() == "edited"
    assert sorted(p.name for p in part.parent.iterdir()) == sorted(FIG5_PARTS)


def test_a_legacy_folder_is_replaced_only_when_its_provenance_names_the_figure(tmp_path):
    legacy = tmp_path / "old"
    shutil.copytree(FIG5 / FIG5_PARTS[0], legacy)
    (legacy / records.MANIFEST_FILE).unlink()
    assert records.replaceable_files(legacy, "fig5") == sorted(p.name for p in legacy.iterdir())
    with pytest.raises(ValueError, match="'checkpoints.csv', which valint did not write"):
        records.replaceable_files(legacy, "fig1")
    provenance = (legacy / "provenance.json").read_text()
    (legacy / "provenance.json").write_text(json.dumps({"figure": "fig4"}))
    with pytest.raises(ValueError, match="no output of fig5"):
        records.replaceable_files(legacy, "fig5")
    (legacy / "provenance.json").write_text(provenance)
    (legacy / "store").mkdir()
    with pytest.raises(ValueError, match="'store', which is not a file valint writes"):
        records.replaceable_files(legacy, "fig5")


def test_every_committed_part_has_a_manifest_of_exactly_its_files():
    for figure in COMMITTED:
        for part in records.part_candidates(figure):
            listed = records.read_manifest(part)
            assert set(listed) | {records.MANIFEST_FILE} == {p.name for p in part.iterdir()}, part


def test_the_fig5_and_reference_sentences_say_what_their_numbers_show():
    """The chapters' sentences about Fig. 5 and about the phase-2 references are computed: they
    name a degenerate fit, a disagreement, the layouts that differ after Holm, and both
    references with their sign."""
    from valint import pages

    base = {"ci_low": -1.0, "ci_high": 1.0, "df": 9.0, "method": "m"}
    paired = pd.DataFrame([{**base, "contrast": "isr - oracle", "estimate": -0.001,
                            "statistic": -0.19, "p_value": 0.854}])
    mixed = pd.DataFrame([{**base, "contrast": "isr - oracle", "estimate": -0.001,
                           "statistic": -0.09, "p_value": 0.930, "converged": True,
                           "boundary": True, "hessian_pd": False, "degenerate": True,
                           "seed_condition_variance": 1e-12}])
    text = pages.mixed_vs_paired_sentences(paired, mixed)
    assert "t(9) = -0.19" in text and "t(9) = -0.09" in text
    assert "their t statistics differ, and both reach the same decision at 0.05" in text
    assert "on the boundary" in text and "Hessian is not positive definite" in text
    assert "does not decide the verdict" in text
    healthy = mixed.assign(statistic=-0.19, boundary=False, hessian_pd=True, degenerate=False)
    assert "agree within 5 %" in pages.mixed_vs_paired_sentences(paired, healthy)
    assert "degenerate" not in pages.mixed_vs_paired_sentences(paired, healthy)

    per_layout = pd.DataFrame([
        {"contrast": "frozen - isr", "layout": "x", "estimate": -0.33, "ci_low": -0.43,
         "ci_high": -0.23, "p_value": 0.0001, "p_holm": 0.0005},
        {"contrast": "frozen - isr", "layout": "4 rooms", "estimate": -0.01, "ci_low": -0.13,
         "ci_high": 0.11, "p_value": 0.82, "p_holm": 0.82},
        {"contrast": "isr - oracle", "layout": "x", "estimate": -0.02, "ci_low": -0.05,
         "ci_high": 0.005, "p_value": 0.04, "p_holm": 0.08}])
    text = pages.per_layout_sentences(per_layout)
    assert "For frozen - isr, 1 of the 2 layouts differ after Holm's correction at 0.05: x (-0.33" in text
    assert "the others do not: 4 rooms (-0.01" in text
    assert "For isr - oracle, no layout differs" in text and "Before the correction, p < 0.05 also in x." in text

    references = pd.DataFrame([
        {"condition": "isr", "reference": "end of phase 1", "estimate": 0.17, "relative_change": 0.06,
         "relative_ci_low": 0.02, "relative_ci_high": 0.11},
        {"condition": "isr", "reference": "oracle over the same window", "estimate": -0.05,
         "relative_change": -0.02, "relative_ci_low": -0.04, "relative_ci_high": 0.0}])
    assert pages.reference_sentences(references) == (
        "With condition isr, goals per episode over the last phase-2 window lie 6% above the end "
        "of phase 1 (95% CI +2% to +11%) and 2% below the oracle over the same window (95% CI "
        "-4% to +0%).")


def test_a_rule_written_after_a_result_is_said_so_with_both_verdicts():
    from valint import pages

    text = pages.rule_change_text("fig3_isr_no_train_test_gap", "holds", "fails")
    assert "written on 2026-12-06, after the first paper-scale record" in text
    assert "the claim holds; the first rule gives fails." in text
    assert pages.rule_change_text("fig1_none_unlearns", "holds", None) == ""


def test_a_ledger_written_under_a_replaced_rule_checks_against_that_rule(tmp_path):
    """The committed Fig. 3 ledger was written under the first rule of Fig. 3a (fails); the
    rule now in force gives holds. The check compares the ledger with the rule it was written
    under, so it agrees, and an edit of that ledger to the new verdict is still caught."""
    source = records.RECORDS_ROOT / "fig3" / "seeds-0-9"
    checked = records.check_record("fig3").set_index("item")
    gap = checked.loc["claim fig3_isr_no_train_test_gap"]
    assert gap["agree"] and gap["recorded"] == "fails"
    assert gap["found"] == "fails (first rule; the rule now in force gives holds)"
    edited = tmp_path / "fig3" / "seeds-0-9"
    shutil.copytree(source, edited)
    ledger = pd.read_csv(edited / "claims.csv", keep_default_na=False)
    ledger.loc[ledger["claim_id"] == "fig3_isr_no_train_test_gap", "verdict"] = "holds"
    ledger.to_csv(edited / "claims.csv", index=False)
    again = records.check_record("fig3", tmp_path).set_index("item")
    assert not again.loc["claim fig3_isr_no_train_test_gap", "agree"]
    assert again.loc["claim fig3_isr_loss_decreases_with_data", "agree"]
    assert not again.loc["claims.csv", "agree"]  # and the manifest sees the edit
