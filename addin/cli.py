"""The ``sheetloop`` command line.

Exit status: 0 done (warnings printed); 1 invalid data (every problem listed, nothing
written); 2 wrong usage, unreadable, locked or busy file; 3 an external system failed;
4 the solver did not finish; 5 push left conflicts unsent; 70 an internal error (one line
on screen, the traceback in a log file it names). Messages go to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path

from sheetloop import __version__
from sheetloop.addin import commands
from sheetloop.addin.excel_setup import make_excel_book
from sheetloop.connectors.http import redact_resolved
from sheetloop.errors import InvalidDataError, SheetloopError

INTERNAL_ERROR = 70

_EPILOG = """exit status: 0 done, 1 invalid workbook data, 2 usage/unreadable/locked file,
3 external system failed, 4 solver did not finish, 5 push conflicts, 70 internal error"""


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sheetloop",
        description="Plan in Excel: MRP, supply allocation and ERP/CRM sync on the tables of "
        "a planning workbook (.xlsx/.xlsm).",
        epilog=_EPILOG,
    )
    p.add_argument("--version", action="version", version=f"sheetloop {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser(
        "demo",
        help="write a demo company's workbook and run it",
        description="Write a demo company's planning workbook to DIR "
        "(deterministic relative to its horizon start), check it "
        "and print a summary. With --erp, run the whole loop on a local Tryton instead.",
    )
    d.add_argument(
        "directory",
        nargs="?",
        default="sheetloop-demo",
        metavar="DIR",
        help="where to write it (default: ./sheetloop-demo)",
    )
    d.add_argument(
        "--items",
        type=int,
        metavar="N",
        help="a scaled synthetic company of N items instead (for benchmarks)",
    )
    d.add_argument("--levels", type=int, default=10, help="BOM levels with --items (default 10)")
    d.add_argument(
        "--buckets", type=int, default=104, help="weekly buckets with --items (default 104)"
    )
    d.add_argument(
        "--start", type=_date, metavar="DATE", help="horizon start (default: Monday of this week)"
    )
    d.add_argument(
        "--erp",
        action="store_true",
        help="run the whole loop on a real ERP instead: start a local Tryton on 127.0.0.1, "
        "seed it with the demo company, write a book that only connects to it, then pull, "
        'plan, allocate and push (needs: pip install "sheetloop[tryton]")',
    )
    d.add_argument(
        "--keep-running",
        action="store_true",
        help="with --erp: leave Tryton running to explore it in a Tryton client, until Ctrl+C",
    )

    i = sub.add_parser(
        "init",
        help="create a planning template, or add missing tables",
        description="On a new path: a template with every input table, "
        "dropdowns and a Help sheet. On an existing book: add only "
        "the planning tables it lacks and touch nothing else.",
    )
    i.add_argument("book", metavar="BOOK")

    c = sub.add_parser(
        "check",
        help="validate every table",
        description="Validate every table; list every problem as Sheet!A1: message.",
    )
    c.add_argument("book", metavar="BOOK")

    for name, text in (
        ("plan", "MRP: planned orders, pegging, exceptions"),
        ("allocate", "allocate constrained supply to demand by priority"),
        ("run", "plan, then allocate"),
    ):
        s = sub.add_parser(name, help=text, description=text)
        s.add_argument("book", metavar="BOOK")
        s.add_argument("--out", metavar="OUT", help="write the result here instead of in place")
        if name == "plan":
            s.add_argument("--export", metavar="DIR", help="also write every output as CSV")

    pl = sub.add_parser(
        "pull",
        help="refresh tables from connections",
        description="Refresh the book's tables from one connection of its Connections "
        "table (or every one): mapped columns, Origin, Sync Status and '<Connection> Id' "
        "of the rows pull brought are updated, new records are added below the table, "
        "records gone from the system are marked 'gone'. Rows you typed (blank Origin) "
        "and your own columns are never touched. Every run appends to SyncLog.",
    )
    pl.add_argument("book", metavar="BOOK")
    pl.add_argument(
        "connection", nargs="?", metavar="CONNECTION", help="a name from Connections (default: all)"
    )
    pl.add_argument("--tables", metavar="T,...", help="only these tables (comma-separated)")
    pl.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")
    pl.add_argument(
        "--prune", action="store_true", help="remove rows gone from the system (not just mark)"
    )

    ps = sub.add_parser(
        "push",
        help="send changed rows to a system",
        description="Send the rows changed since the last sync (planned orders, customers, "
        "allocation results) to one connection. Sent rows get External Id, Synced At and "
        "Sync Status (planned orders also Firm = yes), so pushing twice sends nothing new. "
        "A row changed both in the book and in the system since the last sync is a "
        "conflict: listed, marked, not sent (exit 5) unless --force.",
    )
    ps.add_argument("book", metavar="BOOK")
    ps.add_argument("connection", metavar="CONNECTION", help="a name from Connections")
    ps.add_argument("--tables", metavar="T,...", help="only these tables (comma-separated)")
    ps.add_argument(
        "--dry-run", action="store_true", help="print what would be sent; send and write nothing"
    )
    ps.add_argument(
        "--force", action="store_true", help="send conflicting rows too (the book wins)"
    )

    r = sub.add_parser(
        "refresh",
        help="unattended: pull, run, push",
        description="The job to schedule: pull every connection, run plan and allocate, "
        "then push to each connection the tables its Options name (push=PlannedOrders,"
        "DemandStatus). Each step saves on its own and is logged (SyncLog, RunLog); the "
        "first failing step ends it with its exit status.",
    )
    r.add_argument("book", metavar="BOOK")

    x = sub.add_parser(
        "excel",
        help="make an xlwings-ready .xlsm with a Control sheet and a Run button",
        description="Write BOOK as a macro-enabled workbook that runs sheetloop from Excel: "
        "'Plan 2026.xlsx' becomes plan_2026.xlsm (its name must work as a Python module "
        "name) with plan_2026.py next to it. The .xlsm gets xlwings' VBA (copied from the "
        "installed xlwings), an xlwings.conf sheet (UDF Modules, the Python interpreter) "
        "and a Control sheet: choose Plan, Allocate, Run, Check, Pull or Push there and "
        "click Run. Every sheet, formula and object of BOOK is kept and BOOK itself is not "
        "changed. A book with VBA macros of its own is refused (sheetloop never replaces "
        "them); an .xlsm made by this command gets its settings updated.",
    )
    x.add_argument("book", metavar="BOOK")
    x.add_argument(
        "--out",
        metavar="PATH",
        help="the .xlsm to write, or a folder for it (default: beside BOOK); the .py goes "
        "next to it",
    )
    x.add_argument(
        "--interpreter",
        metavar="PATH",
        help="the Python Excel runs (python.exe on Windows, bin/python on macOS) "
        "(default: this Python, when run on Windows or macOS)",
    )
    return p


def _dispatch(args: argparse.Namespace) -> commands.Outcome:
    book = Path(args.book) if getattr(args, "book", None) else None
    if args.command == "demo":
        return commands.demo(
            Path(args.directory),
            items=args.items,
            start=args.start,
            levels=args.levels,
            buckets=args.buckets,
            erp=args.erp,
            keep_running=args.keep_running,
            report=print,
            progress=_progress,
        )
    assert book is not None
    if args.command == "init":
        return commands.init(book)
    if args.command == "check":
        return commands.check(book)
    if args.command == "plan":
        return commands.plan(book, _path(args.out), _path(args.export))
    if args.command == "allocate":
        return commands.allocate(book, _path(args.out))
    if args.command == "run":
        # A sequence: each step saves on its own; the first failing step ends it.
        return commands.run(book, _path(args.out), report=print)
    if args.command == "pull":
        return commands.pull(
            book,
            args.connection,
            tables=_tables(args.tables),
            dry_run=args.dry_run,
            prune=args.prune,
            report=_progress,
        )
    if args.command == "push":
        return commands.push(
            book,
            args.connection,
            tables=_tables(args.tables),
            dry_run=args.dry_run,
            force=args.force,
            report=_progress,
        )
    if args.command == "refresh":
        return commands.refresh(book, report=_progress)
    if args.command == "excel":
        setup = make_excel_book(book, _path(args.out), interpreter=args.interpreter)
        return commands.Outcome(setup.summary())
    raise AssertionError(f"unhandled command {args.command}")


def _tables(value: str | None) -> list[str] | None:
    return [t.strip() for t in value.split(",") if t.strip()] if value else None


def _progress(line: str) -> None:
    # Progress and partial results go to stderr, so stdout keeps only the results.
    print(line, file=sys.stderr)


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _log_crash(exc: BaseException) -> Path:
    folder = Path(os.environ.get("SHEETLOOP_LOG_DIR", tempfile.gettempdir()))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"sheetloop-crash-{dt.datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}.log"
    path.write_text(
        redact_resolved(
            f"sheetloop {__version__}, {' '.join(sys.argv)}\n"
            + "".join(traceback.format_exception(exc))
        ),
        encoding="utf-8",
    )
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        outcome = _dispatch(args)
    except InvalidDataError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stdout if args.command == "check" else sys.stderr)
        print(f"sheetloop {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except SheetloopError as exc:
        # Connectors mask secrets where they build messages; this is the last line of defence.
        print(redact_resolved(f"sheetloop {args.command}: {exc}"), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("sheetloop: interrupted; the workbook was left as it was", file=sys.stderr)
        return 130
    except Exception as exc:
        log = _log_crash(exc)
        print(
            redact_resolved(
                f"sheetloop {args.command}: internal error ({type(exc).__name__}: {exc}); "
                f"the details are in {log}"
            ),
            file=sys.stderr,
        )
        return INTERNAL_ERROR
    _report(outcome)
    return 0


def _report(outcome: commands.Outcome) -> None:
    for warning in outcome.warnings:
        print(warning, file=sys.stderr)
    for line in outcome.lines:
        print(line)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
