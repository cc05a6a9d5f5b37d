"""The student's copy of a chapter (``python -m valint student``) and the teaching page's readers."""
from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from valint import pages, student
from valint.__main__ import main as valint_main

REPO = Path(__file__).resolve().parents[1]
# Read independently of valint.student: a solution is a dropdown titled "Solution", as the
# chapters write them.
SOLUTION = re.compile(r"^```\{dropdown\} Solution[^\n]*\n(.*?)\n```$", re.S | re.M)
EXERCISE = re.compile(r"^```\{admonition\} Exercise[^\n]*\n(.*?)\n```$", re.S | re.M)


def _markdown(notebook: nbformat.NotebookNode) -> str:
    return "\n\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")


def _chapter(name: str) -> nbformat.NotebookNode:
    return nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)


def _source_with(tmp_path: Path, name: str, *markdown: str) -> Path:
    """A book source tree holding one chapter notebook with the given Markdown cells."""
    cells = [new_markdown_cell("# A chapter"),
             new_code_cell('profile = "smoke"', metadata={"tags": ["parameters"]}),
             new_code_cell("import math")]
    cells += [new_markdown_cell(text) for text in markdown]
    path = tmp_path / "source" / "notebooks" / f"{name}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(new_notebook(cells=cells), path)
    return tmp_path / "source"


@pytest.mark.parametrize("chapter", student.STUDENT_CHAPTERS)
def test_student_copy_has_no_solution_and_empty_cells_after_each_exercise(chapter: str) -> None:
    original = _markdown(_chapter(chapter))
    solutions = SOLUTION.findall(original)
    exercises = EXERCISE.findall(original)
    assert solutions and exercises, f"{chapter}: expected exercises with solutions to remove"
    copy = student.student_notebook(chapter)
    text = _markdown(copy) + "\n".join(c.source for c in copy.cells if c.cell_type == "code")
    assert "{dropdown} Solution" not in text
    for solution in solutions:
        for line in solution.splitlines():
            if len(line.strip()) > 25:
                assert line.strip() not in text, f"{chapter}: solution text left: {line!r}"
    for exercise in exercises:
        assert exercise in text, f"{chapter}: an exercise went missing"
    answers = [c for c in copy.cells if student.ANSWER_TAG in c.metadata.get("tags", [])]
    assert len(answers) == 2 * len(exercises)
    assert all(c.source == "" for c in answers)
    assert {c.cell_type for c in answers} == {"markdown", "code"}
    for index, cell in enumerate(copy.cells):  # each exercise is followed by its empty cells
        if EXERCISE.search(cell.source):
            following = copy.cells[index + 1:index + 3]
            assert [c.metadata.get("tags") for c in following] == [[student.ANSWER_TAG]] * 2
    nbformat.validate(copy)


def test_student_copy_keeps_the_parameters_cell_and_adds_the_setup_after_the_imports() -> None:
    copy = student.student_notebook("fig4")
    code = [c for c in copy.cells if c.cell_type == "code"]
    original = [c for c in _chapter("fig4").cells if c.cell_type == "code"]
    assert code[0].source == original[0].source and code[0].metadata["tags"] == ["parameters"]
    assert "from myst_nb import glue" in code[1].source
    assert code[2].metadata["tags"] == ["student-setup"]
    assert "VALINT_BOOK_GENERATED" in code[2].source and "from valint.student import glue" in code[2].source
    assert all(c.outputs == [] and c.execution_count is None for c in code)


def test_split_markdown_closes_a_fence_only_at_one_as_long() -> None:
    text = ("before\n````{dropdown} Solution\n```bash\nsecret command\n```\nsecret text\n````\n"
            "after\n```{admonition} Exercise\n:class: tip\n\nQuestion?\n```")
    blocks = student.split_markdown(text)
    assert [b.kind for b in blocks] == ["text", "solution", "text", "exercise"]
    assert "secret text" in blocks[1].text and blocks[2].text == "after"


def test_a_solution_nested_where_it_cannot_be_removed_is_refused(tmp_path: Path) -> None:
    source = _source_with(tmp_path, "fig1",
                          "````{admonition} Exercise\nQuestion?\n```{dropdown} Solution\nAnswer.\n```\n````")
    with pytest.raises(ValueError, match="unrecognised form"):
        student.student_notebook("fig1", source)


def test_a_chapter_without_exercises_is_refused(tmp_path: Path) -> None:
    source = _source_with(tmp_path, "fig2", "No exercise here.")
    with pytest.raises(ValueError, match="no exercise"):
        student.student_notebook("fig2", source)


def test_cli_writes_the_copy_and_refuses_to_overwrite_it(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "new" / "lab"
    assert valint_main(["student", "fig4", str(folder)]) == 0
    written = folder / "fig4.ipynb"
    assert written.exists() and str(written) in capsys.readouterr().out
    assert sorted(p.name for p in folder.iterdir()) == ["fig4.ipynb"]  # no temporary file left
    written.write_text("a student's answers")
    answers = written.read_bytes()
    assert valint_main(["student", "fig4", str(folder)]) == 2
    error = capsys.readouterr().err
    assert "DIR" in error and "--force" in error
    assert written.read_bytes() == answers
    assert valint_main(["student", "fig4", str(folder), "--force"]) == 0
    assert written.read_bytes() != answers


def test_cli_rejects_an_unknown_chapter_naming_the_allowed_ones(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "lab"
    assert valint_main(["student", "fig9", str(folder)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "CHAPTER" in error and "'fig9'" in error
    assert ", ".join(student.STUDENT_CHAPTERS) in error
    assert not folder.exists()


@pytest.mark.parametrize("inside", [False, True], ids=["file", "below-a-file"])
def test_cli_rejects_a_dir_that_is_a_file(tmp_path: Path, inside: bool,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a student's notes")
    target = blocker / "lab" if inside else blocker
    assert valint_main(["student", "fig4", str(target)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "DIR" in error and "is a file" in error
    assert blocker.read_text() == "a student's notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_glue_shows_a_figure_as_png_and_prints_a_value(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython.display
    import matplotlib.pyplot as plt

    shown: list[object] = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    student.glue("fi_p", 0.012345, display=False)
    student.glue("profile", "smoke", display=False)
    figure = plt.figure()
    student.glue("fig1b", figure, display=False)
    plt.close(figure)
    out = capsys.readouterr().out
    assert "fi_p = 0.01235" in out and "profile = smoke" in out
    assert len(shown) == 1 and shown[0].data.startswith(b"\x89PNG")


@pytest.mark.slow
def test_student_copy_of_fig4_runs_with_papermill_and_writes_nothing_into_the_book(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    papermill = pytest.importorskip("papermill")
    lab = tmp_path / "lab"
    path = student.write_student_copy("fig4", lab)
    monkeypatch.delenv("VALINT_BOOK_GENERATED", raising=False)
    monkeypatch.setenv("VALINT_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("VALINT_PROGRESS", "0")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    book_claims = REPO / "book" / "generated" / "claims" / "fig4.csv"
    before = book_claims.stat().st_mtime_ns if book_claims.exists() else None
    executed = lab / "fig4.out.ipynb"
    papermill.execute_notebook(str(path), str(executed), parameters={"profile": "smoke"},
                               kernel_name="python3", progress_bar=False, cwd=str(lab))
    claims = pd.read_csv(lab / student.OUTPUT_FOLDER / "claims" / "fig4.csv")
    assert set(claims["profile"]) == {"smoke"}
    assert (lab / student.OUTPUT_FOLDER / "fig4_caregiver_left.gif").exists()
    after = book_claims.stat().st_mtime_ns if book_claims.exists() else None
    assert after == before, "the student copy wrote into the book's claims"
    outputs = [o for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code"
               for o in c.outputs]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2  # Figures 4a and 4b
    assert not [o for o in outputs if o.get("output_type") == "error"]


def _times(**seconds: float) -> pd.DataFrame:
    return pd.DataFrame({"notebook": list(seconds), "profile": "quick",
                         "wall_time_s": list(seconds.values()), "cores": 2, "load_avg_1min": 1.0,
                         "store_entries_before": 0, "store_entries_written": 4})


def test_live_runs_read_the_build_times_and_check_the_parameters() -> None:
    runs = [{"lesson": "lecture", "chapter": "fig1", "slot_minutes": 15,
             "params": {"seed_offset": 100}},
            {"lesson": "lab", "chapter": "fig5", "slot_minutes": 35,
             "notebook": "lab/fig5.ipynb", "params": {"layout": "x"}},
            {"lesson": "lab", "chapter": "fig6", "slot_minutes": 35, "params": {"isr_draws": 7}}]
    live = student.live_runs(runs, _times(fig1=74.0, fig5=2400.0), "quick")
    assert live["measured_s"].tolist()[:2] == [74.0, 2400.0] and pd.isna(live["measured_s"][2])
    assert live["fits"].tolist() == [True, False, False]
    assert live["command"][0] == ("papermill notebooks/fig1.ipynb fig1.out.ipynb -p profile quick "
                                  "-p seed_offset 100")
    assert live["command"][1].startswith("papermill lab/fig5.ipynb lab/fig5.out.ipynb")
    plan = student.lesson_plan([{"minutes": 5, "part": "a", "do": "talk"},
                                {"minutes": 15, "part": "b", "do": "run", "run": "fig1"},
                                {"minutes": 35, "part": "c", "do": "run", "run": "fig5"},
                                {"minutes": 35, "part": "d", "do": "run", "run": "fig6"}], live)
    assert plan["Minutes"].tolist() == ["0\u20135", "5\u201320", "20\u201355", "55\u201390"]
    assert plan["Live run"][1] == "74 s in this build (quick); fits the 15 minutes"
    assert plan["Live run"][2] == "40.0 min in this build (quick); does not fit the 35 minutes"
    assert plan["Live run"][3].startswith("not measured")
    with pytest.raises(ValueError, match="layout"):
        student.live_runs([{**runs[1], "params": {"layout": "nowhere"}}], _times(), "quick")


def test_live_cells_list_the_training_cell_of_a_chapter() -> None:
    cells = student.live_cells("fig1").data
    trains = cells[cells["What it does"].str.startswith("trains")]
    assert trains["Cell (first line)"].str.contains("run_figure").tolist() == [True]
    assert cells["Cell (first line)"].str.contains("plot_fig1b").any()


def test_chapter_exercises_show_the_question_not_the_solution() -> None:
    text = student.chapter_exercises("fig6").data
    assert "{admonition} Exercise" in text and "Solution" not in text


def test_format_duration() -> None:
    assert [student.format_duration(s) for s in (37.4, 250.0, 9000.0, float("nan"))] == [
        "37 s", "4.2 min", "2.5 h", "not measured"]


def test_teaching_page_is_a_chapter_after_the_figures() -> None:
    order = pages.NOTEBOOK_ORDER
    assert order[-1] == "teaching"
    assert all(order.index(name) < order.index("teaching") for name in order if name.startswith("fig"))
    assert "book/generated/teaching" in (REPO / "_toc.yml").read_text()
    assert os.path.exists(REPO / "notebooks" / "teaching.ipynb")


@pytest.mark.parametrize("directory", ["", "/proc/valint-lab"], ids=["empty", "unwritable"])
def test_cli_rejects_an_empty_or_unwritable_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str], directory: str) -> None:
    if directory.startswith("/proc") and not Path("/proc/self").is_dir():
        pytest.skip("needs /proc, which no one can write")
    monkeypatch.chdir(tmp_path)
    assert valint_main(["student", "fig4", directory]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "DIR" in error
    assert ("must not be empty" if not directory else "cannot be written") in error
    assert list(tmp_path.iterdir()) == []
