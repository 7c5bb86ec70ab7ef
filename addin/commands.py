"""What each command does, composed from the workbook, solver and connector packages.

The command line (``cli``) and the Excel macros call these; they return what to report and
raise :class:`~sheetloop.errors.SheetloopError` subclasses for everything a user can fix.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sheetloop import CONTRACT_VERSION
from sheetloop.addin.allocating import allocate_book
from sheetloop.addin.planning import plan_book
from sheetloop.addin.syncing import book_connections, pull_book, push_book
from sheetloop.errors import (
    ConflictError,
    ExternalSystemError,
    InvalidDataError,
    SheetloopError,
    UsageError,
)
from sheetloop.solver.buckets import monday_of_this_week
from sheetloop.workbooks.csv_export import export_csv, fit_to_sheet
from sheetloop.workbooks.demo_data import demo_company, synthetic_company
from sheetloop.workbooks.file_book import FileBook
from sheetloop.workbooks.interface import TableWrite
from sheetloop.workbooks.problems import Problem
from sheetloop.workbooks.safe_save import book_write_lock, refuse_if_open_in_excel
from sheetloop.workbooks.schema import RUN_LOG
from sheetloop.workbooks.template import init_book
from sheetloop.workbooks.validation import LoadedBook, load_book

Report = Callable[[str], None]

#: Data rows an output table may have on a sheet: Excel's rows less a header and a note.
SHEET_ROWS = 1_048_576 - 3


@dataclass
class Outcome:
    """What a command reports: lines for stdout, warnings for stderr."""

    lines: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


@contextmanager
def writing(book: Path, out: Path | None, command: str) -> Iterator[Path]:
    """Guard a write: refuse a book open in Excel and hold the write lock of the target."""
    target = out or book
    if target.exists():
        refuse_if_open_in_excel(target)
    with book_write_lock(target, command=command):
        yield target


def validated(book: FileBook, command: str, today: dt.date | None = None) -> LoadedBook:
    """Load and check the tables ``command`` uses; raise with every error if any."""
    loaded = load_book(book, command, today=today)
    loaded.problems += contract_problems(book)
    if loaded.errors:
        raise InvalidDataError(
            f"{book.path.name}: {len(loaded.errors)} problem(s) in the workbook's data; "
            "fix them and run again (nothing was written)",
            loaded.errors,
        )
    return loaded


def contract_problems(book: FileBook) -> list[Problem]:
    """A book written by a newer sheetloop may hold tables or columns this one does not know:
    say so (older books are read as they are)."""
    written = book.state().get("contract_version")
    if not written:
        return []
    try:
        newer = tuple(int(x) for x in written.split(".")) > tuple(
            int(x) for x in CONTRACT_VERSION.split(".")
        )
    except ValueError:
        newer = False
    if not newer:
        return []
    return [
        Problem(
            "_sheetloop",
            "B1",
            f"this book was written by a newer sheetloop (workbook contract {written}; "
            f"this one knows {CONTRACT_VERSION}): update sheetloop to be sure nothing "
            "is misread",
            "warning",
        )
    ]


def check(path: Path) -> Outcome:
    """Validate every table; raise InvalidDataError listing every problem."""
    book = FileBook.open(path)
    loaded = validated(book, "check")
    counts = ", ".join(f"{name} {len(t)}" for name, t in loaded.tables.items() if t.found)
    return Outcome([f"{path.name}: valid ({counts})"], loaded.warnings)


def init(path: Path) -> Outcome:
    """Create a template, or add the input tables an existing book lacks."""
    existed = path.exists()
    with writing(path, None, "init"):
        added = init_book(path)
    if not existed:
        return Outcome([f"created {path} with every input table and a Help sheet"])
    if not added:
        return Outcome([f"{path.name} already has every input table: nothing to add"])
    return Outcome([f"added to {path.name}: {', '.join(added)}"])


def demo(
    directory: Path,
    *,
    items: int | None = None,
    start: dt.date | None = None,
    levels: int = 10,
    buckets: int = 104,
) -> Outcome:
    """Write the demo company's workbook into ``directory`` and check it."""
    horizon = start or monday_of_this_week()
    if items is None:
        data = demo_company(horizon)
        path = directory / "sheetloop-demo.xlsx"
    else:
        if items < levels:
            raise UsageError(f"--items {items} is fewer than the {levels} BOM levels")
        data = synthetic_company(items, levels=levels, buckets=buckets, horizon_start=horizon)
        path = directory / f"sheetloop-demo-{items}.xlsx"
    directory.mkdir(parents=True, exist_ok=True)
    with writing(path, None, "demo"):
        if path.exists():
            path.unlink()
        init_book(path, data)
    book = FileBook.open(path)
    loaded = validated(book, "check")
    lines = [f"wrote {path}"]
    t = loaded.tables
    lines.append(
        f"demo company: {len(t['Items'])} items, {len(t['BOM'])} BOM lines, "
        f"{len(t['Customers'])} customers, {len(t['Demand'])} demand lines, "
        f"{len(t['Receipts'])} open receipts; horizon {loaded.settings.periods} "
        f"{loaded.settings.bucket}s from {loaded.settings.calendar.start.isoformat()}"
    )
    if items is not None:
        # A scaled company is for benchmarks: they time plan on it themselves.
        lines.append(f"plan it with: sheetloop plan {path}")
        return Outcome(lines, loaded.warnings)
    planned = plan(path)
    lines += [line for line in planned.lines if not line.startswith("wrote ")]
    allocated = allocate(path)
    lines += [line for line in allocated.lines if not line.startswith("wrote ")]
    return Outcome(lines, loaded.warnings)


def _stage_outputs(
    book: FileBook,
    writes: list[TableWrite],
    run_log: pd.DataFrame,
    target: Path,
    export: Path | None,
) -> list[str]:
    """Stage output tables and the run log; a table too big for a sheet goes whole to CSV
    (into ``export``, or ``BOOK-export/`` beside the target). Returns what to tell."""
    overflow = export or target.parent / f"{target.stem}-export"
    notes = []
    for write in writes:
        fitted, message = fit_to_sheet(write, overflow, SHEET_ROWS)
        book.replace_table(fitted)
        if message:
            notes.append(message)
    book.append_rows(RUN_LOG, run_log)
    if export is not None:
        export_csv(export, writes)
        notes.append(f"exported every output as CSV to {export}")
    return notes


def plan(path: Path, out: Path | None = None, export: Path | None = None) -> Outcome:
    """MRP: replace PlannedOrders (keeping firm rows and user columns), Pegging, MRP and the
    plan rows of Exceptions; append RunLog."""
    with writing(path, out, "plan") as target:
        book = FileBook.open(path)
        loaded = validated(book, "plan")
        outputs = plan_book(book, loaded)
        notes = _stage_outputs(book, outputs.writes, outputs.run_log, target, export)
        book.save(None if target == path else target)
    return Outcome([*outputs.summary, *notes, f"wrote {target}"], loaded.warnings)


def allocate(path: Path, out: Path | None = None) -> Outcome:
    """The allocation LP: replace Allocation, DemandStatus, CustomerService, Bottlenecks and
    the allocation rows of Exceptions; append RunLog. Nothing is written if the solver does
    not finish (exit 4)."""
    with writing(path, out, "allocate") as target:
        book = FileBook.open(path)
        loaded = validated(book, "allocate")
        outputs = allocate_book(book, loaded)
        notes = _stage_outputs(book, outputs.writes, outputs.run_log, target, None)
        book.save(None if target == path else target)
    return Outcome([*outputs.summary, *notes, f"wrote {target}"], loaded.warnings)


def run(path: Path, out: Path | None = None, report: Report | None = None) -> Outcome:
    """plan, then allocate: each step saves on its own; the first failing step ends it."""
    planned = plan(path, out)
    if report is not None:
        for line in planned.lines:
            report(line)
    allocated = allocate(out or path)
    return Outcome(allocated.lines, [*planned.warnings, *allocated.warnings])


def pull(
    path: Path,
    connection: str | None = None,
    *,
    tables: list[str] | None = None,
    dry_run: bool = False,
    prune: bool = False,
    report: Report | None = None,
) -> Outcome:
    """Refresh tables from one connection (or every one). With ``dry_run`` print what
    would change and write nothing. A failing system ends it with exit 3 after saving what
    was pulled before the failure (each table whole) and the SyncLog rows."""
    if dry_run:
        book = FileBook.open(path)
        loaded = validated(book, "pull")
        entries, error = pull_book(book, loaded, connection, tables=tables, dry_run=True)
    else:
        with writing(path, None, "pull"):
            book = FileBook.open(path)
            loaded = validated(book, "pull")
            entries, error = pull_book(
                book, loaded, connection, tables=tables, prune=prune, report=report
            )
            book.save()
    lines = [e.line() for e in entries if not e.failed]
    if error is not None:
        for line in lines:
            if report is not None:
                report(line)
        where = (
            "nothing was written"
            if dry_run
            else "what was pulled before it is saved and logged in SyncLog"
        )
        raise ExternalSystemError(f"{error} ({where}; run pull again once it is fixed)")
    if dry_run:
        lines.append("dry run: nothing was written")
    else:
        lines.append(f"wrote {path}")
    return Outcome(lines, loaded.warnings)


def push(
    path: Path,
    connection: str,
    *,
    tables: list[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    report: Report | None = None,
) -> Outcome:
    """Send the rows changed since the last sync to ``connection``. Exit 3 when the system
    fails (what was sent is recorded and logged), 5 when conflicts were left unsent."""
    if dry_run:
        book = FileBook.open(path)
        loaded = validated(book, "push")
        result = push_book(book, loaded, connection, tables=tables, dry_run=True)
    else:
        with writing(path, None, "push"):
            book = FileBook.open(path)
            loaded = validated(book, "push")
            result = push_book(book, loaded, connection, tables=tables, force=force, report=report)
            book.save()
    lines = [e.line() for e in result.entries if not (e.failed and result.error)]
    if dry_run:
        lines += [plan.summary() for plan in result.plans]
        lines.append("dry run: nothing was sent or written")
    else:
        lines.append(f"wrote {path}")
    if result.error is not None:
        for line in lines:
            if report is not None:
                report(line)
        raise ExternalSystemError(
            f"{result.error} (what was sent before it is recorded in the book and in SyncLog; "
            "push again once it is fixed: nothing is sent twice)"
        )
    if result.conflicts and not dry_run:
        for line in [*lines, *result.conflicts]:
            if report is not None:
                report(line)
        raise ConflictError(
            f"{len(result.conflicts)} row(s) changed both in the book and in {connection} "
            "since the last sync were not sent (listed above, marked 'conflict'): pull to "
            "see the system's version, or push --force to overwrite it"
        )
    return Outcome([*lines, *result.conflicts], loaded.warnings)


def refresh(path: Path, report: Report | None = None) -> Outcome:
    """The unattended job: pull every connection, run (plan, then allocate), then push to
    each connection what its Options say it receives (``push=PlannedOrders,Customers``).
    Each step saves on its own; a failing pull or run step ends it with that step's exit
    status (what was done before is reported first). Every receiving connection is pushed
    to even if one leaves conflicts (exit 5 at the end)."""
    book = FileBook.open(path)
    loaded = validated(book, "pull")
    receivers = [
        (c.name, c.listed("push")) for c in book_connections(loaded, path) if c.listed("push")
    ]
    lines: list[str] = []
    warnings: list[Problem] = []
    conflicts: list[str] = []
    steps: list[tuple[str, Callable[[], Outcome]]] = [
        ("pull", lambda: pull(path, report=report)),
        ("run", lambda: run(path, report=report)),
        *(
            (
                f"push {name}",
                lambda name=name, tables=tables: push(path, name, tables=tables, report=report),
            )
            for name, tables in receivers
        ),
    ]
    for step, action in steps:
        if report is not None:
            report(f"refresh: {step}")
        try:
            done = action()
        except ConflictError as exc:
            conflicts.append(str(exc))
            continue
        except SheetloopError:
            for line in lines:
                if report is not None:
                    report(line)
            raise
        lines += done.lines
        warnings += done.warnings
    if not receivers:
        lines.append("no connection has push= in its Options: nothing was pushed")
    if conflicts:
        for line in lines:
            if report is not None:
                report(line)
        raise ConflictError("; ".join(conflicts))
    return Outcome(lines, warnings)
