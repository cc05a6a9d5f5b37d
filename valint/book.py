"""Build the book: execute the chapter notebooks with papermill, then run Jupyter Book 1.

The chapters of the book are the notebooks in ``notebooks/``. ``build_book`` executes each of
them with papermill, injecting the run ``profile`` (``paper``, ``quick`` or ``smoke``; see
PAPER.md §6 for the paper's scale), into ``book/generated/<name>.ipynb``, records each
chapter's wall time, and then builds the HTML with ``jupyter-book build`` with execution turned
off and warnings treated as errors. What the chapters themselves call (tables, claims, notes)
is ``valint.pages``.

The chapter kernels inherit ``VALINT_BOOK_SOURCE`` (the book's source tree) and
``VALINT_BOOK_GENERATED`` (where executed notebooks, claims and build times go), which
``valint.pages`` reads.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import nbformat
import pandas as pd

from valint.config import PROFILE_NAMES
from valint.pages import BUILD_TIME_COLUMNS, NOTEBOOK_ORDER, REPO_ROOT, check_profile, load_build_times


KERNEL_NAME = "python3"
"""The Jupyter kernel the chapters run in: ipykernel's own spec, which starts this interpreter."""

KERNEL_ENVIRONMENT: dict[str, str] = {"TQDM_DISABLE": "1", "VALINT_PROGRESS": "0"}
"""Set for every executed chapter: progress bars belong in a terminal, not in a page."""

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class BookBuildError(RuntimeError):
    """A chapter could not be executed or the book could not be built."""


def build_book(
    *,
    profile: str = "quick",
    source_dir: Path | str = REPO_ROOT,
    out_dir: Path | str | None = None,
    seeds: int | None = None,
    notebooks: Sequence[str] | None = None,
    keep_going: bool = False,
    bench: bool | None = None,
) -> Path:
    """Execute the chapters with papermill and build the HTML book with Jupyter Book 1.

    Args:
        profile: run profile injected into every chapter (``paper``, ``quick``, ``smoke``).
        source_dir: the book's source tree, holding ``_config.yml``, ``_toc.yml``, ``book/``
            and ``notebooks/``.
        out_dir: where ``jupyter-book`` writes ``_build/``; default ``source_dir``.
        seeds: number of seeds per condition, injected into chapters that declare a ``seeds``
            parameter; ``None`` keeps the profile's number.
        notebooks: chapters to execute, by name (``notebooks/<name>.ipynb``); default all of
            ``NOTEBOOK_ORDER``. Chapters not executed keep the pages of an earlier build;
            chapters that were never executed are left out of this build's table of contents.
        keep_going: execute the remaining chapters after one fails, then report every failure.
        bench: run ``python -m valint bench`` first, on the still idle machine, so that the
            "re-run it yourself" chapter shows this machine's throughput; default: for every
            profile but ``smoke``. Without the optional extra ``bench`` the Stable-Baselines3
            side of the comparison is skipped, and the page says so.

    Returns:
        The folder of the HTML book (``<out_dir>/_build/html``).

    Raises:
        ValueError: ``profile`` or ``seeds`` is invalid.
        BookBuildError: a chapter is missing or fails, or ``jupyter-book build`` fails.
    """
    check_profile(profile)
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1):
        raise ValueError(f"--seeds must be a positive integer; got {seeds!r}")
    source = Path(source_dir).resolve()
    out = source if out_dir is None else Path(out_dir).resolve()
    names = list(NOTEBOOK_ORDER if notebooks is None else notebooks)
    missing = [name for name in names if not (source / "notebooks" / f"{name}.ipynb").exists()]
    if missing:
        listed = ", ".join(f"notebooks/{name}.ipynb" for name in missing)
        raise BookBuildError(f"missing chapter notebook(s) in {source}: {listed}")
    _check_kernel()

    generated = source / "book" / "generated"
    generated.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(generated / "failed", ignore_errors=True)
    if notebooks is None:
        shutil.rmtree(generated / "claims", ignore_errors=True)

    if bench if bench is not None else profile != "smoke":
        _run_bench(generated / "bench.json")

    failures: list[str] = []
    with _kernel_environment(source, generated):
        for name in names:
            message = _execute_chapter(name, source, generated, profile=profile, seeds=seeds)
            if message is None:
                continue
            if not keep_going:
                raise BookBuildError(message)
            print(message, file=sys.stderr)
            failures.append(message)
    if failures:
        raise BookBuildError(f"{len(failures)} chapter(s) failed; the book was not built:\n"
                             + "\n".join(failures))

    html_dir = _run_jupyter_book(source, out, generated)
    print(f"The book is at {html_dir / 'index.html'}")
    return html_dir


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m valint book``: execute the chapters and build the book.

    Args:
        argv: the arguments after ``book``; default ``sys.argv[1:]``.

    Returns:
        The exit status: 0 when the book was built, 1 when a chapter or the build failed,
        2 for invalid arguments.
    """
    parser = argparse.ArgumentParser(
        prog="python -m valint book",
        description="Execute every chapter notebook with papermill and build the Jupyter Book.")
    parser.add_argument("--profile", default="quick",
                        help=f"run profile, one of {', '.join(PROFILE_NAMES)} (default: quick)")
    parser.add_argument("--only", nargs="+", metavar="CHAPTER",
                        help="execute only these chapters (" + ", ".join(NOTEBOOK_ORDER)
                        + "); the others keep the pages of the last build")
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds per condition, overriding the profile's number")
    parser.add_argument("--keep-going", action="store_true",
                        help="execute the remaining chapters after a failure, then report all")
    parser.add_argument("--bench", action=argparse.BooleanOptionalAction, default=None,
                        help="measure training throughput first for the 're-run it yourself' "
                        "chapter (default: yes, except with --profile smoke)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.only or ()) - set(NOTEBOOK_ORDER))
    try:
        check_profile(args.profile)
        if unknown:
            raise ValueError(f"--only takes chapters among {', '.join(NOTEBOOK_ORDER)}; "
                             f"got {', '.join(unknown)}")
        notebooks = None if args.only is None else [n for n in NOTEBOOK_ORDER if n in args.only]
        build_book(profile=args.profile, seeds=args.seeds, notebooks=notebooks,
                   keep_going=args.keep_going, bench=args.bench)
    except ValueError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    except BookBuildError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    return 0


def _run_bench(path: Path) -> None:
    """Run the benchmark in a fresh process (its own thread settings) and save its JSON."""
    from benchmarks.sb3 import sb3_available

    # the under-load rows train a figure four times beside spinning processes: minutes that a
    # build does not spend; `python -m valint bench` shows them
    command = [sys.executable, "-m", "valint", "bench", "--no-load", "--out", str(path)]
    if not sb3_available():
        print("The optional extra 'bench' (Stable-Baselines3) is not installed; the benchmark "
              "skips the side-by-side comparison (pip install -e '.[bench]').", file=sys.stderr)
        command.append("--no-sb3")
    path.unlink(missing_ok=True)
    print("Measuring training throughput (python -m valint bench) ...", flush=True)
    done = subprocess.run(command, check=False)
    if done.returncode != 0:
        raise BookBuildError(f"python -m valint bench failed with exit status {done.returncode}")


def _check_kernel() -> None:
    """Make sure the ``python3`` kernel runs this interpreter, so chapters see this environment.

    jupyter_client replaces a bare ``python``/``python3`` in a kernel command by
    ``sys.executable``; any other command would run another Python.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        command = KernelSpecManager().get_kernel_spec(KERNEL_NAME).argv[0]
    except NoSuchKernel as error:
        raise BookBuildError(f"no Jupyter kernel named {KERNEL_NAME!r}: install ipykernel "
                             "into this environment") from error
    bare = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info)}
    if command not in bare and Path(command).resolve() != Path(sys.executable).resolve():
        raise BookBuildError(f"the {KERNEL_NAME!r} kernel runs {command}, not {sys.executable}; "
                             "remove that kernel spec or install ipykernel into this environment")


@contextlib.contextmanager
def _kernel_environment(source: Path, generated: Path) -> Iterator[None]:
    """Set the variables the chapter kernels inherit, and restore them afterwards."""
    package_root = str(Path(__file__).resolve().parents[1])
    python_path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    updates = {
        **KERNEL_ENVIRONMENT,
        "VALINT_BOOK_SOURCE": str(source),
        "VALINT_BOOK_GENERATED": str(generated),
        "VALINT_RESULTS": os.environ.get("VALINT_RESULTS", str(source / "results")),
        "PYTHONPATH": python_path,
    }
    saved = {key: os.environ.get(key) for key in [*updates, "MPLBACKEND"]}
    os.environ.update(updates)
    # ipykernel picks the inline backend only when MPLBACKEND is unset; otherwise figures
    # would never reach the pages.
    os.environ.pop("MPLBACKEND", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _execute_chapter(name: str, source: Path, generated: Path, *, profile: str,
                     seeds: int | None) -> str | None:
    """Execute one chapter into ``generated``; return an error message, or None on success."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook = source / "notebooks" / f"{name}.ipynb"
    output = generated / f"{name}.ipynb"
    declared = papermill.inspect_notebook(str(notebook))
    if "profile" not in declared:
        return f"{notebook}: its parameters cell does not declare `profile`"
    parameters: dict[str, object] = {"profile": profile}
    if seeds is not None:
        if "seeds" in declared:
            parameters["seeds"] = seeds
        else:
            print(f"{name}: has no `seeds` parameter; --seeds does not apply to it")
    print(f"{name}: executing with profile {profile} ...", flush=True)
    store = Path(os.environ.get("VALINT_RESULTS", source / "results"))
    entries_before = _store_entries(store)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=parameters,
                                   kernel_name=KERNEL_NAME, progress_bar=False, cwd=str(source))
    except PapermillExecutionError as error:
        failed = generated / "failed" / output.name
        failed.parent.mkdir(parents=True, exist_ok=True)
        output.replace(failed)
        return (f"chapter {name} ({notebook}) failed in cell {error.exec_count}: "
                f"{error.ename}: {error.evalue}\n  the executed notebook is at {failed}")
    wall_time_s = time.perf_counter() - start
    _tag_parameter_cells(output)
    _report_stderr(name, output)
    _record_build_time(generated / "build_times.csv", {
        "notebook": name, "profile": profile, "wall_time_s": round(wall_time_s, 2),
        "cores": _usable_cores(), "load_avg_1min": round(os.getloadavg()[0], 2),
        "store_entries_before": entries_before,
        "store_entries_written": _store_entries(store) - entries_before,
    })
    print(f"{name}: done in {wall_time_s:.1f} s", flush=True)
    return None


def _tag_parameter_cells(path: Path) -> None:
    """Hide papermill's injected cell from the page and collapse the parameters cell."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
        if "parameters" in tags and "hide-input" not in tags:
            tags.append("hide-input")
    nbformat.write(notebook, path)


def _report_stderr(name: str, path: Path) -> None:
    """Print the first line of everything a chapter wrote to stderr (the pages drop it)."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                first = next((line for line in output["text"].splitlines() if line.strip()), "")
                print(f"{name}: stderr (not shown in the page): {first}", file=sys.stderr)


def _store_entries(store: Path) -> int:
    """The number of entries in the results store at ``store`` (0 when it does not exist)."""
    return sum(1 for _ in store.glob("*.npz")) if store.is_dir() else 0


def _usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _record_build_time(path: Path, row: dict[str, object]) -> None:
    """Replace the row of ``row["notebook"]`` in the build-times table, keeping the others.

    Args:
        path: the CSV file.
        row: one value per column of ``BUILD_TIME_COLUMNS``.
    """
    times = load_build_times(path)
    times = times[times["notebook"] != row["notebook"]]
    row = pd.DataFrame({column: [row[column]] for column in BUILD_TIME_COLUMNS})
    times = pd.concat([times, row], ignore_index=True) if len(times) else row
    position = {chapter: i for i, chapter in enumerate(NOTEBOOK_ORDER)}
    times = times.assign(_order=times["notebook"].map(position).fillna(len(position)))
    times.sort_values("_order", kind="stable").drop(columns="_order").to_csv(path, index=False)


def _table_of_contents(source: Path, generated: Path, build: Path) -> Path:
    """The ``_toc.yml`` to build with: the source's, less chapters that were never executed."""
    import yaml

    toc_path = source / "_toc.yml"
    toc = yaml.safe_load(toc_path.read_text())
    absent: list[str] = []
    for part in toc.get("parts", []):
        kept = []
        for chapter in part.get("chapters", []):
            page = chapter.get("file", "")
            is_chapter = Path(page).parent == generated.relative_to(source)
            if is_chapter and not (source / f"{page}.ipynb").exists():
                absent.append(Path(page).name)
            else:
                kept.append(chapter)
        part["chapters"] = kept
    if not absent:
        return toc_path
    toc["parts"] = [part for part in toc["parts"] if part["chapters"]]
    print("warning: these chapters were never executed and are left out of this build: "
          + ", ".join(absent), file=sys.stderr)
    build.mkdir(parents=True, exist_ok=True)
    partial = build / "_toc.partial.yml"
    partial.write_text(yaml.safe_dump(toc, sort_keys=False))
    return partial


def _run_jupyter_book(source: Path, out: Path, generated: Path) -> Path:
    """Run ``jupyter-book build`` (execution off, warnings as errors); return the HTML folder."""
    executable = Path(sys.executable).with_name("jupyter-book")
    command_name = str(executable) if executable.exists() else shutil.which("jupyter-book")
    if command_name is None:
        raise BookBuildError("`jupyter-book` is not installed in this environment")
    toc = _table_of_contents(source, generated, out / "_build")
    command = [command_name, "build", str(source), "--path-output", str(out), "--toc", str(toc),
               "--all", "-W", "-n", "--keep-going"]
    print("Building the book: " + shlex.join(command), flush=True)
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    log = _ANSI_ESCAPE.sub("", completed.stdout + completed.stderr)
    (out / "_build").mkdir(parents=True, exist_ok=True)
    (out / "_build" / "jupyter-book.log").write_text(log)
    if completed.returncode != 0:
        problems = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
        shown = "\n".join(problems[:30] or log.splitlines()[-30:])
        raise BookBuildError(f"jupyter-book build failed (exit {completed.returncode}); full "
                             f"log in {out / '_build' / 'jupyter-book.log'}:\n{shown}")
    return out / "_build" / "html"
