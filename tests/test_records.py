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
        {"claim_id": "fig1_none_unlearns", "figure": "fig1", "verdict": "holds", "n_seeds": 10, "missing": ""},
        {"claim_id": "fig6_reward_hacking", "figure": "fig6", "verdict": "fails", "n_seeds": 4, "missing": "seeds 4, 5"},
        {"claim_id": "fig5_isr_gt_frozen", "figure": "fig5", "verdict": "inconclusive", "n_seeds": 0,
         "missing": "isr in layouts x"},
    ])
    assert pages.paper_scale_summary(recorded) == (
        "At the paper's scale, 2 of the 11 claims have a record (fig1, fig6): 1 holds, 1 fails and 0 are "
        "inconclusive. The records of fig6 are not complete yet; their verdicts rest on what is recorded "
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
