"""Tests of valint.agreement and of the authors' shipped numbers (PAPER.md §8, §10; issue 31).

The chapter "Does the re-run agree with the original?" is recomputed here by an independent
implementation (scipy's Welch test, statsmodels' Holm, the Brown–Forsythe F written out) from
the committed records' CSV files and the shipped authors' CSVs, to the digits the page prints.
"""
from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from valint import agreement, pages, plots, stats
from valint.claims import ClaimRules

REPO = Path(__file__).resolve().parents[1]
RECORDS = REPO / "records" / "paper"


def fmt(value: float) -> str:
    return f"{value:.3g}"


# ---------------------------------------------------------------------------------------------
# The shipped data
# ---------------------------------------------------------------------------------------------


def test_authors_data_ship_inside_the_package_with_their_source_note():
    folder = REPO / "valint" / "data" / "authors"
    assert pages.AUTHORS_DATA_DIR == folder
    shapes = {"fig3b": (60, ["isr_train_transitions", "replicate", "isr_test_mse"]),
              "fig4b": (30, ["condition", "replicate", "ood_reward"]),
              "fig5": (150, ["layout", "condition", "replicate", "ood_reward"])}
    for figure, (rows, columns) in shapes.items():
        frame = pages.authors_per_seed(figure)
        assert len(frame) == rows and list(frame.columns) == columns
        assert "seed" not in frame.columns  # a list position is not a seed (PAPER.md §8)
        assert frame.notna().all().all()
    note = (folder / "SOURCE.md").read_text()
    for words in ("arXiv 2407.14681", "Reinforcement Learning Journal 3 (RLC 2024)",
                  "public code release", "not a seed"):
        assert words in note
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["valint"]
    assert "data/authors/*.csv" in package_data and "data/authors/*.md" in package_data
    with pytest.raises(ValueError, match="fig3b, fig4b, fig5"):
        pages.authors_per_seed("fig7")


def test_published_tests_on_the_shipped_data():
    """PAPER.md §8 from the shipped copy, unpaired and without a seed column."""
    fig4b = stats.ood_t_tests(pages.authors_per_seed("fig4b")).query("test == 'student'")
    fig4b = fig4b.set_index("contrast")
    assert fig4b.loc["frozen - isr", "df"] == 18
    assert round(fig4b.loc["frozen - isr", "statistic"], 2) == -2.38
    assert round(fig4b.loc["frozen - isr", "p_value"], 3) == 0.029
    assert round(fig4b.loc["isr - oracle", "statistic"], 2) == -1.02
    assert round(fig4b.loc["isr - oracle", "p_value"], 2) == 0.32
    fig5 = stats.ols_condition_by_layout(pages.authors_per_seed("fig5")).set_index("contrast")
    assert round(fig5.loc["frozen - isr", "statistic"], 2) == -3.66
    assert fig5.loc["frozen - isr", "p_value"] < 0.001
    assert round(fig5.loc["isr - oracle", "statistic"], 2) == -1.12
    assert round(fig5.loc["isr - oracle", "p_value"], 2) == 0.27


def test_no_code_path_reads_the_folder_beside_the_repository():
    """Nothing tracked reads the authors' numbers from outside the repository any more."""
    needles = ("shared" + "/paper", "../" + "shared", "VALINT_" + "PAPER_DATA",
               "VALINT_" + "REQUIRE_PAPER_DATA")
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    checked = [p for p in tracked if p.endswith((".py", ".ipynb", ".yml", ".toml", ".cfg"))
               or p.startswith(".ci/") or p == "Makefile"]
    assert ".ci/run" in checked and "notebooks/statistics.ipynb" in checked
    offenders = [(path, needle) for path in checked
                 for needle in needles if needle in (REPO / path).read_text(errors="replace")]
    assert offenders == []


# ---------------------------------------------------------------------------------------------
# No analysis of the authors' numbers pairs by list position
# ---------------------------------------------------------------------------------------------

UNPAIRED_ON_AUTHORS = {
    "stats.ols_condition_by_layout", "stats.ols_condition_plus_layout",
    "stats.per_layout_t_tests", "stats.ood_t_tests", "stats.equivalence_test",
    "stats.data_size_slope", "pages.authors_per_seed", "pages.show_table",
}
"""The functions the chapters call on the authors' numbers; each is exercised on shuffled lists
below."""


def _authors_results(authors: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every number the book prints about the authors' data, from the chapters' own calls."""
    a3, a4, a5 = authors["fig3b"], authors["fig4b"], authors["fig5"]
    oracle = a4.loc[a4["condition"].str.lower() == "oracle", "ood_reward"].mean()
    values = agreement.comparison_values(
        {"3b": pd.read_csv(next(RECORDS.glob("fig3/*/isr_data_size.csv"))),
         "4b": pd.concat(pd.read_csv(p) for p in sorted(RECORDS.glob("fig4/*/ood.csv"))),
         "5": pd.concat(pd.read_csv(p) for p in sorted(RECORDS.glob("fig5/*/ood.csv")))},
        {"3b": a3, "4b": a4, "5": a5})
    return {
        "ols_by_layout": stats.ols_condition_by_layout(a5),
        "ols_plus_layout": stats.ols_condition_plus_layout(a5),
        "per_layout_welch": stats.per_layout_t_tests(a5, test="welch"),
        "ood_t_tests": stats.ood_t_tests(a4),
        "equivalence": stats.equivalence_test(stats.ood_t_tests(a4).query("test == 'welch'"),
                                              margin=ClaimRules().ood_margin * oracle),
        "slope": stats.data_size_slope(a3),
        "agreement": agreement.agreement_table(values),
        "spread": agreement.spread_table(values),
    }


def _shuffled(frame: pd.DataFrame, groups: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """The authors' lists with the positions permuted within each group, rows reordered, and the
    permuted position also offered as a ``seed`` a pairing function would pick up."""
    out = frame.copy()
    for _, index in out.groupby(groups if len(groups) > 1 else groups[0]).groups.items():
        out.loc[index, "replicate"] = rng.permutation(out.loc[index, "replicate"].to_numpy())
    out = out.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)
    return out.assign(seed=out["replicate"])


@pytest.mark.parametrize("draw", range(3))
def test_shuffling_the_authors_list_positions_changes_no_printed_number(draw):
    rng = np.random.default_rng(draw)
    original = {f: pages.authors_per_seed(f) for f in ("fig3b", "fig4b", "fig5")}
    shuffled = {"fig3b": _shuffled(original["fig3b"], ["isr_train_transitions"], rng),
                "fig4b": _shuffled(original["fig4b"], ["condition"], rng),
                "fig5": _shuffled(original["fig5"], ["layout", "condition"], rng)}
    for key in ("fig4b", "fig5"):  # the shuffle must actually break every pairing
        aligned = original[key].merge(shuffled[key], on=[c for c in original[key].columns
                                                         if c not in ("ood_reward",)])
        assert (aligned["ood_reward_x"] != aligned["ood_reward_y"]).any()
    before, after = _authors_results(original), _authors_results(shuffled)
    for name in before:
        a, b = before[name], after[name]
        numeric = [c for c in a.columns if c != "n_seeds" and pd.api.types.is_numeric_dtype(a[c])]
        assert list(a.columns) == list(b.columns), name
        np.testing.assert_allclose(a[numeric].to_numpy(float), b[numeric].to_numpy(float),
                                   rtol=1e-9, atol=1e-15, err_msg=name)
        text = [c for c in a.columns if c not in numeric and c != "n_seeds"]
        pd.testing.assert_frame_equal(a[text], b[text], obj=name)


@pytest.mark.parametrize("chapter", ["statistics", "agreement"])
def test_chapters_analyse_the_authors_numbers_only_unpaired(chapter):
    """Every call a chapter makes on the authors' numbers is one the shuffle test covers, and
    no chapter turns their list positions into seeds."""
    notebook = nbformat.read(REPO / "notebooks" / f"{chapter}.ipynb", as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        assert "replicate" not in cell.source, cell.source
        for node in ast.walk(ast.parse(cell.source)):
            if not isinstance(node, ast.Call):
                continue
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            if not names & {"authors3", "authors4", "authors5"}:
                continue
            called = {ast.unparse(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
            called = {c for c in called if re.fullmatch(r"(stats|pages|agreement)\.\w+", c)}
            assert called <= UNPAIRED_ON_AUTHORS, (chapter, called - UNPAIRED_ON_AUTHORS)
            if "stats.per_layout_t_tests" in called:
                assert "test='welch'" in ast.unparse(node)


def test_pairing_functions_refuse_the_authors_frames():
    """The shipped frames have no seed, so a paired analysis cannot run on them by accident."""
    with pytest.raises(ValueError, match="seed"):
        stats.seed_contrast_tests(pages.authors_per_seed("fig4b"))
    with pytest.raises(ValueError, match="seed"):
        stats.data_size_seed_slopes(pages.authors_per_seed("fig3b"))


# ---------------------------------------------------------------------------------------------
# The chapter's numbers, recomputed independently
# ---------------------------------------------------------------------------------------------


def _independent_cells() -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(figure, cell, ours, theirs) read straight from the CSV files, in the chapter's order."""
    ours3 = pd.concat(pd.read_csv(p) for p in sorted(RECORDS.glob("fig3/*/isr_data_size.csv")))
    ours4 = pd.concat(pd.read_csv(p) for p in sorted(RECORDS.glob("fig4/*/ood.csv")))
    ours5 = pd.concat(pd.read_csv(p) for p in sorted(RECORDS.glob("fig5/*/ood.csv")))
    data = REPO / "valint" / "data" / "authors"
    theirs3 = pd.read_csv(data / "fig3b_authors_per_seed.csv")
    theirs4 = pd.read_csv(data / "fig4b_authors_per_seed.csv")
    theirs5 = pd.read_csv(data / "fig5_authors_per_seed.csv")
    cells = []
    for a, b in zip(sorted(ours3["isr_train_transitions"].unique()),
                    sorted(theirs3["isr_train_transitions"].unique())):
        cells.append(("3b", f"{a:,}", ours3.loc[ours3["isr_train_transitions"] == a,
                                                "isr_test_mse"].to_numpy(),
                      theirs3.loc[theirs3["isr_train_transitions"] == b, "isr_test_mse"].to_numpy()))
    names = {"frozen": "Frozen", "isr": "ISR", "oracle": "Oracle"}
    for condition, label in names.items():
        cells.append(("4b", condition,
                      ours4.loc[ours4["condition"] == condition, "ood_reward"].to_numpy(),
                      theirs4.loc[theirs4["condition"] == label, "ood_reward"].to_numpy()))
    for layout in ("plus", "x", "U", "T", "4 rooms"):
        for condition, label in names.items():
            cells.append(("5", f"{layout} · {condition}",
                          ours5.loc[(ours5["layout"] == layout) & (ours5["condition"] == condition),
                                    "ood_reward"].to_numpy(),
                          theirs5.loc[(theirs5["layout"] == layout)
                                      & (theirs5["condition"] == label), "ood_reward"].to_numpy()))
    return cells


def test_agreement_table_matches_scipy_welch_to_the_printed_digits():
    cells = _independent_cells()
    assert len(cells) == 24
    shown = agreement.agreement_display(agreement.agreement_table(agreement.recorded_values()))
    assert len(shown) == len(cells)
    welch = [sps.ttest_ind(x, y, equal_var=False) for _, _, x, y in cells]
    p_holm = multipletests([w.pvalue for w in welch], method="holm")[1]
    for k, ((figure, cell, x, y), w) in enumerate(zip(cells, welch)):
        row = shown.iloc[k]
        assert row["Fig."] == figure and row["Cell"].startswith(cell)
        assert (row["n ours"], row["n theirs"]) == ("10", "10")
        assert row["Mean ours"] == fmt(x.mean()) and row["Mean theirs"] == fmt(y.mean())
        assert row["SD ours"] == fmt(x.std(ddof=1)) and row["SD theirs"] == fmt(y.std(ddof=1))
        assert row["Ours − theirs"] == fmt(x.mean() - y.mean())
        ci = w.confidence_interval(0.95)
        assert row["95 % CI"] == f"{fmt(ci.low)} to {fmt(ci.high)}"
        assert row["p"] == fmt(w.pvalue) and row["p (Holm)"] == fmt(p_holm[k])
        assert row["Ours / theirs"] == fmt(x.mean() / y.mean())
        # Narrowest margin by the direct formula: the larger end of the 90 % Welch interval.
        se = np.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))
        df = se**4 / ((x.var(ddof=1) / len(x)) ** 2 / (len(x) - 1)
                      + (y.var(ddof=1) / len(y)) ** 2 / (len(y) - 1))
        half = sps.t.ppf(0.95, df) * se
        narrowest = abs(x.mean() - y.mean()) + half
        assert row["Narrowest margin (% of theirs)"] == f"±{100 * narrowest / y.mean():.1f} %"
        margin = 0.10 * y.mean()
        equivalent = narrowest < margin
        assert row["Within ±10 %"] == ("shown equivalent" if equivalent else "not shown equivalent")
        assert row["Means"] == ("differs" if p_holm[k] < 0.05 else "agrees within chance")


def test_spread_table_matches_the_brown_forsythe_formula():
    cells = _independent_cells()
    spread = agreement.spread_display(agreement.spread_table(agreement.recorded_values()))
    p_values = []
    for k, (_, _, x, y) in enumerate(cells):
        # Brown–Forsythe: one-way ANOVA F on absolute deviations from each group's median.
        zx, zy = np.abs(x - np.median(x)), np.abs(y - np.median(y))
        z = np.concatenate([zx, zy])
        between = len(zx) * (zx.mean() - z.mean()) ** 2 + len(zy) * (zy.mean() - z.mean()) ** 2
        within = ((zx - zx.mean()) ** 2).sum() + ((zy - zy.mean()) ** 2).sum()
        f = between / (within / (len(z) - 2))
        p = sps.f.sf(f, 1, len(z) - 2)
        p_values.append(p)
        row = spread.iloc[k]
        assert row["F (Brown–Forsythe)"] == fmt(f) and row["p"] == fmt(p)
        assert row["Ours / theirs"] == fmt(x.std(ddof=1) / y.std(ddof=1))
    holm = multipletests(p_values, method="holm")[1]
    assert list(spread["p (Holm)"]) == [fmt(p) for p in holm]


def test_agreement_table_equivalence_and_narrowest_margin_on_a_hand_made_cell():
    # Ours: 1, 2, 3 (mean 2); theirs 1.5, 2, 2.5 (mean 2): difference 0.
    values = pd.DataFrame({"figure": "4b", "cell": "isr", "order": 0, "measure": "ood_reward",
                           "source": ["ours"] * 3 + ["authors"] * 3,
                           "value": [1.0, 2.0, 3.0, 1.5, 2.0, 2.5]})
    row = agreement.agreement_table(values).iloc[0]
    se = np.sqrt(1 / 3 + 0.25 / 3)
    df = se**4 / ((1 / 3) ** 2 / 2 + (0.25 / 3) ** 2 / 2)
    assert row["difference"] == 0 and row["ratio"] == 1
    assert row["narrowest_margin"] == pytest.approx(sps.t.ppf(0.95, df) * se)
    assert row["margin"] == pytest.approx(0.2) and not row["equivalent"]
    assert row["verdict"] == "agrees within chance" and row["p_holm"] == pytest.approx(1.0)
    # At a margin just wider than the narrowest one, TOST passes; just narrower, it does not.
    wide = agreement.agreement_table(
        values, margin_fraction=row["narrowest_margin_pct"] / 100 + 1e-6).iloc[0]
    narrow = agreement.agreement_table(
        values, margin_fraction=row["narrowest_margin_pct"] / 100 - 1e-6).iloc[0]
    assert not narrow["equivalent"]
    assert wide["equivalent"] and wide["equivalence"] == "shown equivalent"


def test_headline_and_report_lines_come_from_the_table():
    values = agreement.recorded_values()
    table, spread = agreement.agreement_table(values), agreement.spread_table(values)
    sentences = agreement.headline(table, spread)
    n_differ = int((table["p_holm"] < 0.05).sum())
    assert f"Of the {len(table)} cells" in sentences["means"]
    assert f"smallest corrected p = {fmt(table['p_holm'].min())}" in sentences["means"]
    assert ("none differs" in sentences["means"]) == (n_differ == 0)
    lines = agreement.report_lines(table).set_index("figure")["line"]
    assert list(lines.index) == ["1b", "3a", "3b", "4a", "4b", "5", "6", "7"]
    for figure, cells in table.groupby("figure"):
        differs = (cells["p_holm"] < 0.05).any()
        expected = "differs from the original" if differs else "agrees with the original within chance"
        assert lines[figure].startswith(f"Figure {figure} {expected}")
        assert sentences[f"fig{figure}"] == lines[figure]
    assert "not compared" in lines["7"]


def test_protocol_differences_follow_the_code_that_made_the_record():
    current = agreement.protocol_differences({"fig3": {"328d367987f49a17"},
                                              "fig4": {"328d367987f49a17"},
                                              "fig5": {"328d367987f49a17"},
                                              "fig7": {"328d367987f49a17"}})
    late = current[current["difference"].str.contains("one PPO update late")].iloc[0]
    assert late["figure"] == "5" and late["status"].startswith("in the committed record")
    refreshed = agreement.protocol_differences({"fig5": {"0123456789abcdef"}})
    late = refreshed[refreshed["difference"].str.contains("one PPO update late")].iloc[0]
    assert "later than the code known to have it" in late["status"]
    test_set = refreshed[refreshed["difference"].str.contains("trained on")].iloc[0]
    assert test_set["figure"] == "3b" and test_set["status"] == "no paper-scale record yet"
    assert set(current["figure"]) == {"3b", "4b", "5", "7"}


def test_a_fig5_record_of_the_fixed_code_is_not_taken_for_the_late_checkpoint():
    """The grid code that fixed the checkpoint is declared the same as the earlier code for
    Figs. 1, 3 and 4 only (``provenance.SAME_SCIENCE``): a Fig. 5 record made by it does not
    have the late checkpoint, while a Fig. 4 record made by it still counts as the earlier code."""
    from valint.provenance import science_code_hash

    fixed = science_code_hash("grid")
    rows = agreement.protocol_differences({"fig5": {fixed}, "fig4": {fixed}})
    late = rows[rows["difference"].str.contains("one PPO update late")].iloc[0]
    assert late["status"].startswith("fixed: the committed record was made by science code")
    world = agreement.protocol_differences({"fig7": {science_code_hash("prosocial")}})
    rule = world[world["difference"].str.contains("interior windows only")].iloc[0]
    assert rule["status"].startswith("fixed:")
    other = agreement.protocol_differences({"fig7": {"0123456789abcdef"}})
    rule = other[other["difference"].str.contains("interior windows only")].iloc[0]
    assert "later than the code known to have it" in rule["status"]


def test_initial_policy_level_averages_the_first_rollout_per_seed():
    curves = pd.DataFrame({"seed": [0, 0, 0, 1, 1, 1], "condition": "oracle", "phase": 1,
                           "episode": [1, 2, 3, 1, 2, 3], "env_steps": [1000, 2000, 3000] * 2,
                           "partner_goals_per_episode": [1.0, 0.0, 9.0, 0.0, 0.0, 9.0]})
    level = agreement.initial_policy_level(curves).iloc[0]
    assert level["level"] == pytest.approx(0.25) and level["episodes"] == 4
    assert level["n_seeds"] == 2
    random_level = pd.DataFrame([{"layout_rule": "authors", "episodes": 10_000, "mean": 0.351,
                                  "ci_low": 0.339, "ci_high": 0.363, "authors_low": 0.337,
                                  "authors_high": 0.347}])
    table = agreement.uncompared_figures(random_level, agreement.initial_policy_level(curves))
    assert list(table["figure"]) == ["1b", "3a", "4a", "6", "7"]
    fig7 = table.set_index("figure").loc["7", "comparable"]
    assert "0.351 (95 % CI 0.339 to 0.363, 10,000 episodes)" in fig7 and "0.337 to 0.347" in fig7
    assert "0.25" in fig7


def test_plot_agreement_draws_one_panel_per_figure_with_the_margin_band():
    import matplotlib

    matplotlib.use("Agg")
    table = agreement.agreement_table(agreement.recorded_values())
    fig = plots.plot_agreement(table)
    assert [ax.get_title(loc="left") for ax in fig.axes] == ["Figure 3b", "Figure 4b",
                                                             "Figure 5"]
    assert [len(ax.get_yticks()) for ax in fig.axes] == [6, 3, 15]


def test_agreement_chapter_glues_every_agrees_and_differs():
    notebook = nbformat.read(REPO / "notebooks" / "agreement.ipynb", as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for sentence in re.split(r"(?<=[.:])\s", cell.source):
            if re.search(r"\b(agrees|differs)\b", sentence, re.IGNORECASE):
                assert "{glue:text}" in sentence, sentence
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert "def " not in code
    tags = [c.metadata.get("tags", []) for c in notebook.cells if c.cell_type == "code"]
    assert ["parameters"] in tags
    assert agreement.MARGIN_FRACTION == ClaimRules().ood_margin


def test_agreement_module_imports_no_science_module():
    """valint.agreement reads records and tables; it never reaches the worlds, PPO or the ISR."""
    tree = ast.parse((REPO / "valint" / "agreement.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("valint"):
            imported |= {node.module} if node.module != "valint" else {
                f"valint.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names if a.name.startswith("valint")}
    assert imported == {"valint.stats", "valint.records", "valint.pages", "valint.provenance"}


def test_agreement_chapter_is_registered_after_the_figures_and_before_the_report():
    order = pages.NOTEBOOK_ORDER
    assert order.index("fig7") < order.index("statistics") < order.index("agreement") \
        < order.index("report")
    toc = (REPO / "_toc.yml").read_text()
    assert toc.index("generated/statistics") < toc.index("generated/agreement") \
        < toc.index("generated/report")


# ---------------------------------------------------------------------------------------------
# A fresh clone with nothing beside it
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_statistics_and_agreement_chapters_run_in_a_clone_with_nothing_beside_it(tmp_path, monkeypatch):
    """Copy the package, the chapters and the records into an empty folder, so that no folder
    of the authors' numbers exists beside the copy, and execute both chapters there with
    papermill."""
    papermill = pytest.importorskip("papermill")
    clone = tmp_path / "clone"
    for folder in ("valint", "notebooks", "records"):
        shutil.copytree(REPO / folder, clone / folder,
                        ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    assert not (tmp_path / "shared").exists() and not (clone.parent / "shared").exists()
    env = {"PYTHONPATH": str(clone), "HOME": str(tmp_path), "VALINT_RESULTS": str(tmp_path / "r"),
           "VALINT_BOOK_GENERATED": str(tmp_path / "generated"),
           "VALINT_BOOK_SOURCE": str(clone), "VALINT_PROGRESS": "0", "TQDM_DISABLE": "1",
           "MPLBACKEND": "Agg"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for chapter in ("agreement", "statistics"):
        papermill.execute_notebook(str(clone / "notebooks" / f"{chapter}.ipynb"),
                                   str(tmp_path / f"{chapter}.ipynb"),
                                   parameters={"profile": "smoke"}, kernel_name="python3",
                                   progress_bar=False, cwd=str(tmp_path))
    glued = _glued(tmp_path / "statistics.ipynb")
    assert round(glued["a4_fi_t"], 2) == -2.38 and glued["a4_fi_df"] == 18
    assert round(glued["a4_io_t"], 2) == -1.02 and round(glued["a4_io_p"], 2) == 0.32
    assert round(glued["a5_fi_t"], 2) == -3.66 and round(glued["a5_io_t"], 2) == -1.12
    agreement_page = _glued(tmp_path / "agreement.ipynb")
    assert agreement_page["n_cells"] == 24
    # The chapters' kernels ran in tmp_path with this environment, so they imported the copy.
    imported = subprocess.run([sys.executable, "-c", "import valint.pages as p; print(p.__file__)"],
                              env={**os.environ, **env}, cwd=tmp_path, capture_output=True,
                              text=True, check=True)
    assert imported.stdout.strip().startswith(str(clone))


def _glued(path: Path) -> dict[str, object]:
    """The plain values glued by an executed notebook (myst_nb stores them as outputs)."""
    values = {}
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            scrapbook = output.get("metadata", {}).get("scrapbook", {})
            name = scrapbook.get("name")
            text = output.get("data", {}).get(scrapbook.get("mime_prefix", "") + "text/plain")
            if name and text is not None:
                try:
                    values[name] = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    values[name] = text
    return values


def test_report_gains_a_computed_line_per_figure():
    notebook = nbformat.read(REPO / "notebooks" / "report.ipynb", as_version=4)
    cells = [c for c in notebook.cells if c.cell_type == "code"
             and "agreement.report_lines(" in c.source]
    assert len(cells) == 1
    assert "agreement.recorded_values()" in cells[0].source
    headings = [c.source.splitlines()[0] for c in notebook.cells if c.cell_type == "markdown"]
    assert "## Agreement with the original numbers" in headings


@pytest.mark.slow
def test_a_built_wheel_carries_the_authors_numbers(tmp_path):
    """An installed copy has the shipped CSVs and their source note (package data)."""
    import zipfile

    source = tmp_path / "source"
    source.mkdir()
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=REPO, capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "wheel"), str(source)], check=True)
    names = zipfile.ZipFile(next((tmp_path / "wheel").glob("valint-*.whl"))).namelist()
    for file in [*pages.AUTHORS_FILES.values(), "SOURCE.md"]:
        assert f"valint/data/authors/{file}" in names
