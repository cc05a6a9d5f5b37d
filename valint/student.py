"""A student's copy of a chapter (``python -m valint student CHAPTER DIR``), and what the
teaching page reads from the chapters: their exercises, the cells to run live, and the live
runs' times in the build.

The copy is the chapter's notebook from ``notebooks/`` with

* every solution removed (a MyST ``{dropdown}`` or ``{admonition}`` whose title starts with
  "Solution", or a ``{solution}`` directive), and after each exercise two empty cells, a
  Markdown cell for the written answer and a code cell for trying things;
* a note at the top saying what was changed;
* one setup cell after the imports, so that the copy runs as it is, in Jupyter or with
  papermill: the figures the book places in its text with ``myst_nb.glue`` are shown where they
  are made (:func:`glue`), and what the book would save under ``book/generated/`` (claims,
  animations) goes to ``student-output/`` in the working directory instead.

Everything else, the parameters cell included, is the chapter as written, so
``papermill DIR/fig4.ipynb out.ipynb -p profile smoke`` works on the copy as on the chapter.

Every argument is checked before anything is written, and the copy is written to a temporary
file that is moved into place, so a bad argument or an interrupted run leaves nothing
half-written; a bad argument exits with status 2 and one line naming the parameter and what is
allowed.
"""
from __future__ import annotations

import argparse
import copy
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pandas as pd
from nbformat.v4 import new_code_cell, new_markdown_cell

from valint.pages import NOTEBOOK_ORDER, source_root
from valint.paths import check_folder

STUDENT_CHAPTERS: tuple[str, ...] = tuple(name for name in NOTEBOOK_ORDER if name != "teaching")
"""The chapters a student copy can be made of: every chapter with exercises."""

OUTPUT_FOLDER = "student-output"
"""Where a student copy saves what the book would put under ``book/generated/``."""

ANSWER_TAG = "exercise-answer"
"""The tag of the empty cells that follow each exercise in a student copy."""

_FENCE_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,}|:{3,})\{(?P<name>[\w:.-]+)\}(?P<arg>.*)$")
_SOLUTION_LEFT = re.compile(r"\{(dropdown|admonition|toggle)\}\s*solution|\{solution", re.I)


@dataclass(frozen=True)
class Block:
    """One piece of a Markdown cell: plain text, an exercise, or a solution."""

    kind: str
    """``"text"``, ``"exercise"`` or ``"solution"``."""
    text: str


def _is_solution(name: str, argument: str) -> bool:
    titled = argument.strip().lower().startswith("solution")
    return name in ("solution", "solution-start") or (
        name in ("dropdown", "admonition", "toggle") and titled)


def _is_exercise(name: str, argument: str) -> bool:
    return name in ("exercise", "exercise-start") or (
        name == "admonition" and argument.strip().lower().startswith("exercise"))


def split_markdown(text: str) -> list[Block]:
    """Split Markdown into text, exercise and solution blocks (top-level fenced directives).

    A directive fence closes at the first line of the same character, at least as long, and
    nothing else (the CommonMark rule), so a code block inside a directive needs a longer fence
    than the directive, as MyST requires.
    """
    lines = text.split("\n")
    blocks: list[Block] = []
    plain: list[str] = []
    i = 0
    while i < len(lines):
        match = _FENCE_OPEN.match(lines[i])
        kind = None
        if match:
            name, argument = match["name"], match["arg"]
            kind = ("solution" if _is_solution(name, argument)
                    else "exercise" if _is_exercise(name, argument) else None)
        if kind is None:
            plain.append(lines[i])
            i += 1
            continue
        fence = match["fence"]
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        end = next((j for j in range(i + 1, len(lines)) if closing.match(lines[j])), len(lines) - 1)
        if plain:
            blocks.append(Block("text", "\n".join(plain)))
            plain = []
        blocks.append(Block(kind, "\n".join(lines[i:end + 1])))
        i = end + 1
    if plain:
        blocks.append(Block("text", "\n".join(plain)))
    return blocks


def exercises(notebook: nbformat.NotebookNode) -> list[str]:
    """The exercises of a notebook, each as its MyST block (the solutions left out)."""
    return [block.text for cell in notebook.cells if cell.cell_type == "markdown"
            for block in split_markdown(cell.source) if block.kind == "exercise"]


def glue(name: str, value: object, display: bool = True) -> None:
    """Stand-in for ``myst_nb.glue`` in a student copy: show ``value`` here, under ``name``.

    A figure is displayed; any other value is printed as ``name = value``, so the names that the
    chapter's text cites (``{glue:text}`name```) can be read off the cell.
    """
    import io

    from IPython.display import Image
    from IPython.display import display as show
    from matplotlib.figure import Figure

    if isinstance(value, Figure):
        # As a PNG, so the figure shows whatever matplotlib backend the kernel runs.
        buffer = io.BytesIO()
        value.savefig(buffer, format="png", bbox_inches="tight")
        show(Image(buffer.getvalue()))
    elif isinstance(value, float):
        print(f"{name} = {value:.4g}")
    else:
        print(f"{name} = {value}")


def _note(chapter: str) -> str:
    return (
        f"```{{note}}\nThis is a student's copy of the chapter `{chapter}`, made with "
        f"`python -m valint student {chapter} DIR`: the solutions are removed, and each exercise "
        "is followed by two empty cells for your answer (one for text, one for code). Run the "
        "cells from the top; the one after the imports shows each figure where it is made and "
        f"keeps what the book would save in `{OUTPUT_FOLDER}/`.\n```")


_SETUP = f'''\
# Student copy: show each figure where it is made (the book places it in the text), and keep
# what the book would save (claims, animations) in {OUTPUT_FOLDER}/ in the working directory.
import os

os.environ["VALINT_BOOK_GENERATED"] = os.path.abspath("{OUTPUT_FOLDER}")
from valint.student import glue'''


def student_notebook(chapter: str, source_dir: Path | str | None = None) -> nbformat.NotebookNode:
    """The student's copy of ``chapter`` as a notebook (see the module docstring).

    Args:
        chapter: one of ``STUDENT_CHAPTERS``.
        source_dir: the book's source tree; default :func:`valint.pages.source_root`.

    Raises:
        ValueError: ``chapter`` is unknown, its notebook has no exercise, or a solution in a
            form this module does not recognise would be left in the copy.
    """
    check_chapter(chapter)
    path = Path(source_root() if source_dir is None else source_dir) / "notebooks" / f"{chapter}.ipynb"
    original = nbformat.read(path, as_version=4)
    notebook = copy.deepcopy(original)
    cells: list[nbformat.NotebookNode] = []
    n_exercises = 0
    imports_seen = False
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cells.append(cell)
            tags = cell.metadata.get("tags", [])
            if not imports_seen and "parameters" not in tags and "import " in cell.source:
                cells.append(new_code_cell(_SETUP, metadata={"tags": ["student-setup"]}))
                imports_seen = True
            continue
        if cell.cell_type != "markdown":
            cells.append(cell)
            continue
        pending: list[str] = []
        for block in split_markdown(cell.source):
            if block.kind == "solution":
                continue
            pending.append(block.text)
            if block.kind == "exercise":
                n_exercises += 1
                cells.append(new_markdown_cell("\n".join(pending).strip("\n")))
                cells.append(new_markdown_cell("", metadata={"tags": [ANSWER_TAG]}))
                cells.append(new_code_cell("", metadata={"tags": [ANSWER_TAG]}))
                pending = []
        rest = "\n".join(pending).strip("\n")
        if rest:
            cells.append(new_markdown_cell(rest, metadata=cell.metadata))
        if index == 0:
            cells.append(new_markdown_cell(_note(chapter)))
    if n_exercises == 0:
        raise ValueError(f"{path} has no exercise ({{admonition}} Exercise) to leave empty")
    if not imports_seen:
        raise ValueError(f"{path} has no imports cell to put the student setup after")
    left = [c.source for c in cells if c.cell_type == "markdown" and _SOLUTION_LEFT.search(c.source)]
    if left:
        raise ValueError(f"{path}: a solution in an unrecognised form would be left in the copy: "
                         f"{left[0][:80]!r}")
    notebook.cells = cells
    notebook.metadata.pop("papermill", None)
    return notebook


def check_chapter(chapter: str) -> str:
    """Return ``chapter`` if a student copy can be made of it, else raise a one-line error."""
    if chapter not in STUDENT_CHAPTERS:
        raise ValueError(f"CHAPTER must be one of {', '.join(STUDENT_CHAPTERS)}; got {chapter!r}")
    return chapter


def check_directory(directory: Path | str) -> Path:
    """Return ``directory`` as a path if it is a folder this process can write in or make,
    else raise a one-line error naming DIR (empty, a file, below a file, not writable:
    ``valint.paths.check_folder``)."""
    return check_folder("DIR", directory)


def write_student_copy(chapter: str, directory: Path | str, *, force: bool = False,
                       source_dir: Path | str | None = None) -> Path:
    """Write the student's copy of ``chapter`` to ``<directory>/<chapter>.ipynb``.

    Args:
        chapter: one of ``STUDENT_CHAPTERS``.
        directory: the folder to write to; made if it does not exist.
        force: replace an existing copy (a student's answers in it are lost).
        source_dir: the book's source tree; default :func:`valint.pages.source_root`.

    Returns:
        The path written.

    Raises:
        ValueError: a bad argument, before anything is written.
    """
    check_chapter(chapter)
    folder = check_directory(directory)
    target = folder / f"{chapter}.ipynb"
    if target.exists() and not force:
        raise ValueError(f"DIR already holds {str(target)!r}, perhaps with a student's answers; "
                         "pass --force to replace it")
    notebook = student_notebook(chapter, source_dir)
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{chapter}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            nbformat.write(notebook, stream)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m valint student CHAPTER DIR [--force]``.

    Returns:
        0 when the copy was written, 2 for a bad argument (nothing written), 1 when the
        system refused the write (nothing half-written either).
    """
    prog = "python -m valint student"

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # noqa: D401 - argparse's hook
            self.exit(2, f"{prog}: error: {message}\n")

    parser = Parser(prog=prog, description="Write a student's copy of a chapter notebook: "
                    "solutions removed, an empty cell after each exercise.")
    parser.add_argument("chapter", metavar="CHAPTER",
                        help=f"the chapter, one of {', '.join(STUDENT_CHAPTERS)}")
    parser.add_argument("directory", metavar="DIR",
                        help="the folder to write CHAPTER.ipynb to (made if it does not exist)")
    parser.add_argument("--force", action="store_true",
                        help="replace DIR/CHAPTER.ipynb if it exists")
    args = parser.parse_args(argv)
    try:
        path = write_student_copy(args.chapter, args.directory, force=args.force)
    except ValueError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"{prog}: error: could not write the copy: {error}", file=sys.stderr)
        return 1
    print(f"wrote {path}; run it in Jupyter, or: papermill {path} {path.with_suffix('')}"
          ".out.ipynb -p profile smoke")
    return 0


# --- What the teaching page reads from the chapters and the build ---------------------------

_ROLES: tuple[tuple[str, str], ...] = (
    ("run_figure(", "trains the runs, or loads them from the results store: start it first"),
    ("plots.plot_", "draws a panel of the figure"),
    ("gallery.", "draws the world or an agent"),
    ("stats.", "tests a claim"),
    ("claims_table(", "shows the claim check"),
)


def live_cells(chapter: str, source_dir: Path | str | None = None):
    """The cells of a chapter worth showing in class, in order, as a table for a page.

    One row per code cell that trains, draws, tests or shows the claim check (the imports,
    the parameters and the cells that only pass values to the page are left out), with the
    section it is in and its first line, so it can be found in Jupyter.

    Args:
        chapter: one of ``STUDENT_CHAPTERS``.
        source_dir: the book's source tree; default :func:`valint.pages.source_root`.
    """
    from valint.pages import show_table

    check_chapter(chapter)
    path = Path(source_root() if source_dir is None else source_dir) / "notebooks" / f"{chapter}.ipynb"
    section, rows = "Overview", []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            headings = re.findall(r"^##\s+(.+?)\s*$", cell.source, re.M)
            section = headings[-1] if headings else section
            continue
        role = next((text for marker, text in _ROLES if marker in cell.source), None)
        if cell.cell_type == "code" and role is not None:
            first = next(line for line in cell.source.splitlines() if line.strip())
            rows.append({"Section": section, "Cell (first line)": first, "What it does": role})
    if not rows:
        raise ValueError(f"{path} has no cell that trains, draws or tests")
    return show_table(pd.DataFrame(rows))


def chapter_exercises(chapter: str, source_dir: Path | str | None = None):
    """The exercises of a chapter, without their solutions, as MyST Markdown for a page.

    The cell that shows them needs the metadata ``mystnb: {markdown_format: myst}``, so that
    the admonitions render as they do in the chapter.
    """
    from IPython.display import Markdown

    check_chapter(chapter)
    path = Path(source_root() if source_dir is None else source_dir) / "notebooks" / f"{chapter}.ipynb"
    found = exercises(nbformat.read(path, as_version=4))
    if not found:
        raise ValueError(f"{path} has no exercise")
    return Markdown("\n\n".join(found))


def format_duration(seconds: float) -> str:
    """A wall time for a sentence: ``"37 s"``, ``"4.2 min"`` or ``"1.3 h"``; NaN reads
    "not measured"."""
    if seconds != seconds:  # NaN
        return "not measured"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def live_runs(runs: Sequence[dict], times: pd.DataFrame, profile: str) -> pd.DataFrame:
    """The live runs of the lesson plans, checked, with the time each chapter took in the build.

    Args:
        runs: one dict per run: ``lesson``, ``chapter`` (a figure), ``params`` (the chapter's
            parameters to change, ``seed_offset`` included), ``slot_minutes`` (the time the
            plan gives it) and optionally ``notebook``, the notebook to run (default
            ``notebooks/<chapter>.ipynb``; a student's copy, say).
        times: the build times, as from :func:`valint.pages.load_build_times`.
        profile: the profile to put in the commands.

    Returns:
        A DataFrame, one row per run: ``lesson``, ``chapter``, ``parameters`` (as text),
        ``command`` (papermill, run from the repository root), ``slot_minutes``, ``measured_s`` (the chapter's wall time in the
        build, NaN if it was not executed), ``measured_with`` (the profile of that
        measurement), ``runs_stored`` (entries the chapter added to the results store) and
        ``fits`` (``measured_s`` within the slot; False when not measured).

    Raises:
        ValueError: a parameter the chapter does not take, or a value it refuses.
    """
    import shlex

    from valint.figures import validate

    rows = []
    for run in runs:
        chapter, params = run["chapter"], dict(run["params"])
        offset = params.pop("seed_offset", 0)
        validate(chapter, profile, None, offset, params)
        notebook = Path(run.get("notebook", f"notebooks/{chapter}.ipynb"))
        # the executed copy goes beside a student's copy, but never into notebooks/
        folder = Path() if notebook.parent == Path("notebooks") else notebook.parent
        command = ["papermill", str(notebook), str(folder / f"{notebook.stem}.out.ipynb"),
                   "-p", "profile", profile]
        for key, value in run["params"].items():
            command += ["-p", key, str(value)]
        measured = times[times["notebook"] == chapter]
        seconds = float(measured["wall_time_s"].iloc[0]) if len(measured) else float("nan")
        rows.append({
            "lesson": run["lesson"], "chapter": chapter,
            "parameters": ", ".join(f"{k} = {v!r}" for k, v in run["params"].items()),
            "command": shlex.join(command),
            "slot_minutes": run["slot_minutes"], "measured_s": seconds,
            "measured_with": str(measured["profile"].iloc[0]) if len(measured) else "",
            "runs_stored": (float(measured["store_entries_written"].iloc[0]) if len(measured)
                            else float("nan")),
            "fits": bool(seconds <= 60 * run["slot_minutes"]),
        })
    return pd.DataFrame(rows)


def live_runs_table(live: pd.DataFrame):
    """The live runs (as from :func:`live_runs`) as a table for a page, times in words."""
    from valint.pages import show_table

    shown = pd.DataFrame({
        "Lesson": live["lesson"], "Chapter": live["chapter"], "Parameters": live["parameters"],
        "Slot (min)": live["slot_minutes"],
        "Chapter's time in the build": live["measured_s"].map(format_duration),
        "Profile": live["measured_with"], "Runs stored": live["runs_stored"],
        "Fits the slot": live["fits"].map({True: "yes", False: "no"}),
    })
    return show_table(shown, precision=0)


def live_commands(live: pd.DataFrame):
    """The papermill commands of the live runs (as from :func:`live_runs`), as a shell block."""
    from IPython.display import Markdown

    return Markdown("```bash\n" + "\n".join(live["command"]) + "\n```")


def lesson_plan(segments: Sequence[dict], live: pd.DataFrame) -> pd.DataFrame:
    """A lesson plan as a table: minutes, part, what to do, and the live run's measured time.

    Args:
        segments: in order, one dict each: ``minutes`` (its length), ``part``, ``do`` and
            optionally ``run``, a chapter of ``live`` that runs live in this part.
        live: the table of :func:`live_runs`.
    """
    rows, start = [], 0
    for segment in segments:
        end = start + segment["minutes"]
        run = segment.get("run")
        took = "–"
        if run is not None:
            row = live[live["chapter"] == run].iloc[0]
            if row["measured_s"] != row["measured_s"]:  # NaN: the chapter was not executed
                took = "not measured: the chapter was not executed in this build"
            else:
                verdict = "fits" if row["fits"] else "does not fit"
                took = (f"{format_duration(row['measured_s'])} in this build "
                        f"({row['measured_with']}); {verdict} the {row['slot_minutes']} minutes")
        rows.append({"Minutes": f"{start}\u2013{end}", "Part": segment["part"],
                     "What to do": segment["do"], "Live run": took})
        start = end
    return pd.DataFrame(rows)
