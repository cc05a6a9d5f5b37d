"""Command line: ``python -m valint run FIGURE``, ``record FIGURE``, ``book``, ``bench`` and
``student CHAPTER DIR``.

``run`` re-runs one figure of the paper and writes its tidy tables as CSV, its claims ledger
as ``claims.json`` (PAPER.md §2: claim id, what the paper reports, what this run measured, the
verdict) and the provenance of the run. Every parameter is checked before any work starts and
before anything is written; a bad one exits with status 2 and one line naming the parameter and
what is allowed.

``record`` runs one part of a figure at the paper's protocol (a group of seeds; for Fig. 5 one
layout) into ``records/paper/<figure>/<part>/`` and verifies it; ``record FIGURE --check``
recomputes the verdicts of every recorded part from its tables (``valint.records``).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from valint.config import PROFILE_NAMES
from valint.figures import FIGURE_NAMES


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line and exits 2."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse's hook
        self.exit(2, f"valint: error: {message}\n")


def _figure_param(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--param {text!r} must look like NAME=VALUE")
    key, value = text.split("=", 1)
    return key, int(value) if value.isdigit() else value


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
    record.add_argument("--root", default=None, help="records folder (default records/paper)")
    record.add_argument("--store", default=None, help="results store (default $VALINT_RESULTS or results/)")
    record.add_argument("--check", action="store_true",
                        help="recompute the verdicts of every recorded part and compare")
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


def run_command(args: argparse.Namespace) -> int:
    """``python -m valint run``: validate, run, then write the results."""
    from valint.experiments import default_store
    from valint.figures import run_figure, validate
    from valint.records import write_outputs
    from valint.store import ResultsStore

    params = dict(args.param)
    try:
        validate(args.figure, args.profile, args.seeds, args.seed_offset, params)
    except ValueError as err:
        print(f"valint: error: {err}", file=sys.stderr)
        return 2
    store = default_store() if args.store is None else ResultsStore(Path(args.store))
    try:
        from valint.executors import check_executor

        check_executor(args.executor, args.workers, args.threads)
    except ValueError as err:
        print(f"valint: error: {err}", file=sys.stderr)
        return 2
    result = run_figure(
        args.figure, args.profile, seeds=args.seeds, seed_offset=args.seed_offset, store=store,
        executor=args.executor, workers=args.workers, scheduler=args.scheduler, threads=args.threads,
        **params,
    )
    out = write_outputs(result, Path(args.out or f"out/{args.figure}-{args.profile}"))
    verdicts = result.claims["verdict"].value_counts().to_dict() if len(result.claims) else {}
    print(f"{args.figure} ({args.profile}, {len(result.seeds)} seeds) in {result.wall_time_s:.1f} s: {verdicts}")
    print(f"wrote {out}/")
    return 0


def record_command(args: argparse.Namespace) -> int:
    """``python -m valint record``: one part of a paper-scale record, or ``--check`` them all."""
    from valint import records
    from valint.figures import FIGURES, validate

    root = Path(args.root) if args.root else records.RECORDS_ROOT
    params = dict(args.param)
    try:
        _, seeds, merged = validate(args.figure, "paper", args.seeds, args.seed_offset, params)
    except ValueError as err:
        print(f"valint: error: {err}", file=sys.stderr)
        return 2
    if args.check:
        checked = records.check_record(args.figure, root)
        if checked.empty:
            print(f"valint: {args.figure} has no recorded part under {root}", file=sys.stderr)
            return 1
        print(checked.to_string(index=False))
        return 0 if checked["agree"].all() else 1
    part = records.part_name(seeds, merged, FIGURES[args.figure].defaults)
    args.profile, args.out = "paper", str(root / args.figure / part)
    status = run_command(args)
    if status == 0:
        checked = records.check_record(args.figure, root)
        mine = checked[checked["part"] == part]
        if mine.empty or not mine["agree"].all():
            print(f"valint: the verdicts recomputed from {args.out} differ from its ledger",
                  file=sys.stderr)
            return 1
        print(f"verified {args.out}/: {len(mine)} verdicts recomputed from its tables agree")
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
