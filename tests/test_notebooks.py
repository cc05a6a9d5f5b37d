"""Tests of the chapter notebooks: parameters cells, no committed outputs, papermill runs."""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
FIGURE_NOTEBOOKS = ("fig1", "fig3", "fig4", "fig5", "fig6", "fig7", "statistics")


def _parameters_cells(notebook) -> list:
    return [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]


def test_every_chapter_is_present():
    names = {path.stem for path in NOTEBOOKS}
    assert set(FIGURE_NOTEBOOKS) <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_parameters_cell_holds_literals_only(path):
    notebook = nbformat.read(path, as_version=4)
    cells = _parameters_cells(notebook)
    assert len(cells) == 1, f"{path.name}: expected one parameters cell, found {len(cells)}"
    tree = ast.parse(cells[0].source)
    names = []
    for statement in tree.body:
        assert isinstance(statement, ast.Assign), ast.dump(statement)
        assert len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name)
        ast.literal_eval(statement.value)
        names.append(statement.targets[0].id)
    assert "profile" in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a cell has outputs"
            assert cell.execution_count is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_valid_nbformat_with_unique_cell_ids(path):
    """Every cell has its own id (nbformat 4.5): a cell added by hand without one is repaired
    silently on every read today, with a warning, and will be an error in later nbformat."""
    import json

    raw = json.loads(path.read_text())
    ids = [cell.get("id") for cell in raw["cells"]]
    assert None not in ids, f"{path.name}: cell {ids.index(None)} has no id"
    assert len(set(ids)) == len(ids), f"{path.name}: repeated cell ids"
    nbformat.validate(nbformat.reads(path.read_text(), as_version=4))


@pytest.mark.parametrize("name", FIGURE_NOTEBOOKS)
def test_figure_notebook_validates_right_after_imports(name):
    path = next(p for p in NOTEBOOKS if p.stem == name)
    code = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    imports = next(i for i, source in enumerate(code) if "from valint" in source)
    assert code[imports + 1].startswith("prof, seed_list, params = validate(")


def _papermill(tmp_path, monkeypatch, **parameters):
    papermill = pytest.importorskip("papermill")
    monkeypatch.setenv("VALINT_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("VALINT_BOOK_GENERATED", str(tmp_path / "generated"))
    monkeypatch.setenv("VALINT_PROGRESS", "0")
    source = next(p for p in NOTEBOOKS if p.stem == "fig5")
    output = tmp_path / "fig5.ipynb"
    try:
        papermill.execute_notebook(str(source), str(output), parameters=parameters,
                                   kernel_name="python3", progress_bar=False,
                                   cwd=str(source.parents[1]))
    except papermill.PapermillExecutionError as error:
        return output, error
    return output, None


@pytest.mark.slow
def test_fig5_runs_under_papermill_with_smoke_and_one_layout(tmp_path, monkeypatch):
    output, error = _papermill(tmp_path, monkeypatch, profile="smoke", layout="x")
    assert error is None, f"{error.ename}: {error.evalue}"
    assert (tmp_path / "generated" / "claims" / "fig5.csv").exists()


@pytest.mark.slow
def test_fig5_with_an_unknown_layout_fails_in_the_validation_cell(tmp_path, monkeypatch):
    output, error = _papermill(tmp_path, monkeypatch, profile="smoke", layout="nowhere")
    assert error is not None and error.ename == "ValueError"
    assert "layout" in error.evalue and "'plus'" in error.evalue and "'4 rooms'" in error.evalue
    executed = nbformat.read(output, as_version=4)
    failed = [c for c in executed.cells if c.cell_type == "code"
              and any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert len(failed) == 1
    assert failed[0].source.startswith("prof, seed_list, params = validate(")
    assert not (tmp_path / "results").exists()
