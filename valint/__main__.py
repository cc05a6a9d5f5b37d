"""Command line: ``python -m valint run FIGURE``, ``record FIGURE``, ``book``, ``bench`` and
``student CHAPTER DIR``.

``run`` re-runs one figure of the paper and writes its tidy tables as CSV, its claims ledger
as ``claims.json`` (PAPER.md §2: claim id, what the paper reports, what this run measured, the
verdict), the provenance of the run and a manifest of those files with their sha256. Every
parameter is checked before any work starts and before anything is written, the paths too (the
results store, the output folder: empty, a file, not writable) and the Dask scheduler's address
(it must answer within seconds); a bad one exits with status 2 and one line naming the
parameter and what is allowed. The output folder must be new, or hold exactly an earlier
output of the same figure: nothing the program did not write is ever deleted, and the working
directory, a folder above it or one holding the results store is refused. A write the system
refuses (a full disk) ends with status 1 and one line saying what was kept and how to resume.

``record`` runs one part of a figure at the paper's protocol (a group of seeds; for Fig. 5 one
layout) into ``records/paper/<figure>/<part>/`` and verifies it; ``record FIGURE --check``
verifies every recorded part (``--records DIR``: of another records folder, e.g. a copy): its
files against its manifest and its verdicts recomputed from its tables (``valint.records``).
``--write-manifest`` gives a part written before manifests one, from its files as they are.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from valint.config import PROFILE_NAMES
from valint.figures import FIGURE_NAMES


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line and exits 2."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse's hook
        self.exit(2, f"valint: error: {message}\n")


STALE_TEMPORARY_S = 10 * 60
"""Age after which a temporary file of the results store is taken as left by a killed writer
and removed before training (a writer writes its file in well under a second)."""

_INTEGER = re.compile(r"[+-]?[0-9]+")


def _figure_param(text: str) -> tuple[str, object]:
    """``NAME=VALUE``; a VALUE of digits, signed or not, is an integer."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--param {text!r} must look like NAME=VALUE")
    key, value = text.split("=", 1)
    return key, int(value) if _INTEGER.fullmatch(value) else value


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m valint``."""
    parser = _Parser(prog="python -m valint", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="re-run one figure and write its tables and claims")
    run.add_argument("figure", help=f"one of {', '.join(FIGURE_NAMES)}")
    run.add_argument("--profile", default="quick", help=f"one of {', '.join(PROFILE_NAMES)}")
    run.add_argument("--seeds", type=_int_arg("--seeds"), default=None, help="number of seeds")
    run.add_argument("--seed-offset", type=_int_arg("--seed-offset"), default=0, help="first seed")
    run.add_argument("--out", default=None, help="output folder (default out/FIGURE-PROFILE)")
    run.add_argument("--store", default=None, help="results store (default $VALINT_RESULTS or results/)")
    run.add_argument(
        "--param", action="append", type=_figure_param, default=[],
        help="a figure parameter, e.g. --param layout=x (fig5, fig6) or --param isr_pay=gate",
    )
    _executor_args(run)
    record = sub.add_parser(
        "record", help="run one part of a figure at the paper's protocol into records/paper/")
    record.add_argument("figure", help=f"one of {', '.join(FIGURE_NAMES)}")
    record.add_argument("--seeds", type=_int_arg("--seeds"), default=None,
                        help="number of seeds of this part (default: the paper's ten)")
    record.add_argument("--seed-offset", type=_int_arg("--seed-offset"), default=0, help="first seed")
    record.add_argument("--param", action="append", type=_figure_param, default=[],
                        help="a figure parameter of this part, e.g. --param layout=x (fig5)")
    record.add_argument("--records", "--root", dest="root", default=None,
                        help="records folder (default records/paper), e.g. a copy to --check")
    record.add_argument("--store", default=None, help="results store (default $VALINT_RESULTS or results/)")
    record.add_argument("--check", action="store_true",
                        help="verify every recorded part: its files against its manifest, and "
                             "its verdicts recomputed from its tables")
    record.add_argument("--write-manifest", action="store_true",
                        help="with --check: first give each part without a manifest one, from "
                             "its files as they are, if its verdicts agree")
    _executor_args(record)
    sub.add_parser("book", help="execute the notebooks and build the book", add_help=False)
    sub.add_parser("bench", help="measure training throughput", add_help=False)
    sub.add_parser("student", help="write a student's copy of a chapter (no solutions)",
                   add_help=False)
    return parser


def _executor_args(parser: argparse.ArgumentParser) -> None:
    """Where the figure's batches run (``valint.executors``)."""
    from valint.executors import EXECUTORS, SCHEDULER_ENV

    parser.add_argument(
        "--executor", default="auto", choices=EXECUTORS,
        help="auto (default): local worker processes when more than one core is free; "
             "inprocess; local; dask (a LocalCluster, or the scheduler of --scheduler)",
    )
    parser.add_argument("--workers", type=_int_arg("--workers"), default=None,
                        help="worker processes (default: the usable cores)")
    parser.add_argument("--scheduler", default=None,
                        help=f"a Dask scheduler address, e.g. tcp://host:8786 (default ${SCHEDULER_ENV})")
    parser.add_argument("--threads", type=_int_arg("--threads"), default=1,
                        help="torch threads per batch (default 1)")


def _int_arg(name: str):
    def parse(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name}={text!r} must be an integer") from None

    return parse


def _refuse(err: Exception) -> int:
    print(f"valint: error: {err}", file=sys.stderr)
    return 2


def _check_paths(args: argparse.Namespace, out_name: str) -> tuple[Path, Path]:
    """The results store's and the output's folders, and the scheduler, checked before any
    work (``valint.paths``, ``records.check_output_folder``, ``executors.check_scheduler``)."""
    from valint.executors import SCHEDULER_ENV, check_scheduler, scheduler_in_use
    from valint.paths import store_folder
    from valint.records import check_output_folder

    _, store = store_folder(args.store)
    out = check_output_folder(args.out if args.out is not None else f"out/{args.figure}-{args.profile}",
                              args.figure, name=out_name, store=store)
    if args.scheduler is not None and not args.scheduler.strip():
        raise ValueError("--scheduler must not be empty; leave it out to train on this machine")
    address = scheduler_in_use(args.executor, args.scheduler)
    if address:
        check_scheduler(address, name="--scheduler" if args.scheduler else SCHEDULER_ENV)
    return store, out


def run_command(args: argparse.Namespace, out_name: str = "--out") -> int:
    """``python -m valint run``: validate, run, then write the results."""
    from valint.executors import check_executor
    from valint.figures import run_figure, validate
    from valint.records import write_outputs
    from valint.store import ResultsStore

    params = dict(args.param)
    try:
        validate(args.figure, args.profile, args.seeds, args.seed_offset, params)
        check_executor(args.executor, args.workers, args.threads)
        root, out = _check_paths(args, out_name)
    except ValueError as err:
        return _refuse(err)
    store = ResultsStore(root)
    removed = store.clean_temporaries(min_age_s=STALE_TEMPORARY_S)
    if removed:
        print(f"removed {len(removed)} temporary file{'s' * (len(removed) > 1)} that killed "
              f"writers left in {root}/", file=sys.stderr)
    try:
        result = run_figure(
            args.figure, args.profile, seeds=args.seeds, seed_offset=args.seed_offset, store=store,
            executor=args.executor, workers=args.workers, scheduler=args.scheduler,
            threads=args.threads, **params,
        )
    except OSError as err:
        print(f"valint: error: training stopped ({err}); every run stored before is kept in "
              f"{root}/: run the same command again to resume", file=sys.stderr)
        return 1
    try:
        write_outputs(result, out)
    except (OSError, ValueError) as err:
        print(f"valint: error: could not write {out_name}={str(out)!r} ({err}); it is as it was, "
              f"and the trained runs are kept in {root}/: free space (or name another folder), "
              "then run the same command again to write it without training", file=sys.stderr)
        return 1
    verdicts = result.claims["verdict"].value_counts().to_dict() if len(result.claims) else {}
    print(f"{args.figure} ({args.profile}, {len(result.seeds)} seeds) in {result.wall_time_s:.1f} s: {verdicts}")
    print(f"wrote {out}/")
    return 0


def _failures(checked) -> str:
    """The failing rows of ``records.check_record`` in one line."""
    failing = checked[~checked["agree"]]
    return "; ".join(f"{row.part}/{row.item}: {row.found}" for row in failing.itertuples())


def check_command(figure: str, root: Path, write_manifest: bool) -> int:
    """``python -m valint record FIGURE --check [--write-manifest] [--records DIR]``."""
    from valint import records

    if not root.is_dir():
        return _refuse(ValueError(f"--records={str(root)!r} is not a folder"))
    if write_manifest:
        try:
            written = records.add_missing_manifests(figure, root)
        except (OSError, ValueError) as err:
            print(f"valint: error: {err}", file=sys.stderr)
            return 1
        for path in written:
            print(f"wrote {path}")
    checked = records.check_record(figure, root)
    if checked.empty:
        print(f"valint: {figure} has no recorded part under {root}", file=sys.stderr)
        return 1
    print(checked.to_string(index=False))
    if checked["agree"].all():
        print(f"{figure}: every file and verdict of {checked['part'].nunique()} parts checks")
        return 0
    print(f"valint: {figure}: {(~checked['agree']).sum()} of {len(checked)} checks fail: "
          f"{_failures(checked)}", file=sys.stderr)
    return 1


def record_command(args: argparse.Namespace) -> int:
    """``python -m valint record``: one part of a paper-scale record, or ``--check`` them all."""
    from valint import records
    from valint.figures import FIGURES, validate

    if args.root is not None and not args.root.strip():
        return _refuse(ValueError("--records must not be empty (an empty path would mean the "
                                  "working directory)"))
    root = Path(args.root) if args.root else records.RECORDS_ROOT
    params = dict(args.param)
    try:
        _, seeds, merged = validate(args.figure, "paper", args.seeds, args.seed_offset, params)
    except ValueError as err:
        return _refuse(err)
    if args.check or args.write_manifest:
        return check_command(args.figure, root, args.write_manifest)
    part = records.part_name(seeds, merged, FIGURES[args.figure].defaults)
    args.profile, args.out = "paper", str(root / args.figure / part)
    status = run_command(args, out_name="--records")
    if status == 0:
        checked = records.check_record(args.figure, root)
        mine = checked[checked["part"] == part]
        if mine.empty or not mine["agree"].all():
            print(f"valint: {args.out} does not check: {_failures(mine)}", file=sys.stderr)
            return 1
        print(f"verified {args.out}/: its files match its manifest and "
              f"{mine['item'].str.startswith('claim ').sum()} verdicts recomputed from its tables agree")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m valint`` and the ``valint`` script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "book":
        from valint.book import main as book_main

        return book_main(argv[1:])
    if argv and argv[0] == "bench":
        from valint.bench import main as bench_main

        return bench_main(argv[1:])
    if argv and argv[0] == "student":
        from valint.student import main as student_main

        return student_main(argv[1:])
    args = build_parser().parse_args(argv)
    return record_command(args) if args.command == "record" else run_command(args)


if __name__ == "__main__":
    sys.exit(main())
