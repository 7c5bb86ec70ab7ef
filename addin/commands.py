"""What each command does, composed from the workbook, solver and connector packages.

Each command has a core that works on any adapter of the workbook interface (``plan_in``,
``allocate_in``, ``check_in``, ``pull_in``, ``push_in``): it validates, computes and stages
its writes, leaving the saving to its caller. The command line's functions (``plan``,
``allocate``, ...) wrap the cores around a file: the lock, the ``~$`` refusal, ``--out``
and the save; the Excel macros (``macros``) wrap the same cores around a live book. They
return what to report and raise :class:`~sheetloop.errors.SheetloopError` subclasses for
everything a user can fix.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

from sheetloop import CONTRACT_VERSION
from sheetloop.addin.allocating import allocate_book
from sheetloop.addin.planning import plan_book
from sheetloop.addin.syncing import book_connections, pull_book, push_book
from sheetloop.connectors.sync import SyncEntry, sync_log_frame
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
from sheetloop.workbooks.interface import TableWrite, Workbook
from sheetloop.workbooks.problems import Problem
from sheetloop.workbooks.safe_save import book_write_lock, refuse_if_open_in_excel
from sheetloop.workbooks.schema import RUN_LOG, SYNC_LOG
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


class CommandBook(Workbook, Protocol):
    """A workbook a command works on: the workbook interface and sheetloop's state."""

    def state(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class BookPlace:
    """Where a book is, as far as a command cares: the name its messages use, the folder
    files named in Connections (``config=``) are found in, and the folder a table too big
    for a sheet goes to as CSV."""

    name: str
    folder: Path
    overflow: Path

    @classmethod
    def of(cls, path: Path, target: Path | None = None) -> BookPlace:
        """A book file read from ``path`` and written to ``target`` (default: in place);
        overflow CSVs go beside the target, into ``TARGET-export/``."""
        target = target or path
        return cls(path.name, path.parent, target.parent / f"{target.stem}-export")


@dataclass
class Staged:
    """A command's work staged on a book: what to report and, where a system failed or
    conflicts were left, the error to raise once the staged writes are saved."""

    outcome: Outcome
    failure: SheetloopError | None = None

    def finish(self, report: Report | None = None) -> Outcome:
        """The outcome, or (after reporting its lines) the failure raised."""
        if self.failure is not None:
            _tell(report, self.outcome.lines)
            raise self.failure
        return self.outcome


def _tell(report: Report | None, lines: list[str]) -> None:
    if report is not None:
        for line in lines:
            report(line)


@contextmanager
def writing(book: Path, out: Path | None, command: str) -> Iterator[Path]:
    """Guard a write: refuse a book open in Excel and hold the write lock of the target."""
    target = out or book
    if target.exists():
        refuse_if_open_in_excel(target)
    with book_write_lock(target, command=command):
        yield target


def validated(
    book: CommandBook, command: str, today: dt.date | None = None, *, name: str
) -> LoadedBook:
    """Load and check the tables ``command`` uses; raise with every error if any. ``name``
    is the book as the message names it."""
    loaded = load_book(book, command, today=today)
    loaded.problems += contract_problems(book)
    if loaded.errors:
        raise InvalidDataError(
            f"{name}: {len(loaded.errors)} problem(s) in the workbook's data; "
            "fix them and run again (nothing was written)",
            loaded.errors,
        )
    return loaded


def contract_problems(book: CommandBook) -> list[Problem]:
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


# --- the cores: any workbook, writes staged ------------------------------------------------


def check_in(book: CommandBook, place: BookPlace) -> Outcome:
    """Validate every table; raise InvalidDataError listing every problem."""
    loaded = validated(book, "check", name=place.name)
    counts = ", ".join(f"{name} {len(t)}" for name, t in loaded.tables.items() if t.found)
    return Outcome([f"{place.name}: valid ({counts})"], loaded.warnings)


def plan_in(book: CommandBook, place: BookPlace, *, export: Path | None = None) -> Outcome:
    """MRP on ``book``: stage PlannedOrders (keeping firm rows and user columns), Pegging,
    MRP, the plan rows of Exceptions and a RunLog row."""
    loaded = validated(book, "plan", name=place.name)
    outputs = plan_book(book, loaded)
    notes = _stage_outputs(book, outputs.writes, outputs.run_log, place, export)
    return Outcome([*outputs.summary, *notes], loaded.warnings)


def allocate_in(book: CommandBook, place: BookPlace) -> Outcome:
    """The allocation LP on ``book``: stage Allocation, DemandStatus, CustomerService,
    Bottlenecks, the allocation rows of Exceptions and a RunLog row. Nothing is staged if
    the solver does not finish (exit 4)."""
    loaded = validated(book, "allocate", name=place.name)
    outputs = allocate_book(book, loaded)
    notes = _stage_outputs(book, outputs.writes, outputs.run_log, place, None)
    return Outcome([*outputs.summary, *notes], loaded.warnings)


def pull_in(
    book: CommandBook,
    place: BookPlace,
    connection: str | None = None,
    *,
    tables: list[str] | None = None,
    dry_run: bool = False,
    prune: bool = False,
    report: Report | None = None,
    done: str | None = None,
) -> Staged:
    """Stage a pull from one connection (or every one). A failing system stops it: what
    was pulled before is staged with the SyncLog rows, and the failure (exit 3) is
    returned to raise once that is saved. ``done`` ends the lines of a pull that wrote."""
    loaded = validated(book, "pull", name=place.name)
    entries, error = pull_book(
        book,
        loaded,
        connection,
        book_name=place.name,
        folder=place.folder,
        tables=tables,
        dry_run=dry_run,
        prune=prune,
        report=None if dry_run else report,
    )
    lines = [e.line() for e in entries if not e.failed]
    if error is not None:
        where = (
            "nothing was written"
            if dry_run
            else "what was pulled before it is saved and logged in SyncLog"
        )
        failure = ExternalSystemError(f"{error} ({where}; run pull again once it is fixed)")
        return Staged(Outcome(lines, loaded.warnings), failure)
    if dry_run:
        lines.append("dry run: nothing was written")
    elif done is not None:
        lines.append(done)
    return Staged(Outcome(lines, loaded.warnings))


def push_in(
    book: CommandBook,
    place: BookPlace,
    connection: str,
    *,
    tables: list[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    report: Report | None = None,
    done: str | None = None,
) -> Staged:
    """Stage what a push to ``connection`` records (sync columns, SyncLog) after sending
    the rows changed since the last sync. The failure to raise once that is saved: exit 3
    when the system failed (what was sent is recorded), 5 when conflicts were left unsent.
    ``done`` follows the sent tables' lines when the push wrote."""
    loaded = validated(book, "push", name=place.name)
    result = push_book(
        book,
        loaded,
        connection,
        book_name=place.name,
        folder=place.folder,
        tables=tables,
        dry_run=dry_run,
        force=not dry_run and force,
        report=None if dry_run else report,
    )
    lines = [e.line() for e in result.entries if not (e.failed and result.error)]
    if dry_run:
        lines += [plan.summary() for plan in result.plans]
        lines.append("dry run: nothing was sent or written")
    elif done is not None:
        lines.append(done)
    if result.error is not None:
        failure: SheetloopError = ExternalSystemError(
            f"{result.error} (what was sent before it is recorded in the book and in SyncLog; "
            "push again once it is fixed: nothing is sent twice)"
        )
        return Staged(Outcome(lines, loaded.warnings), failure)
    outcome = Outcome([*lines, *result.conflicts], loaded.warnings)
    if result.conflicts and not dry_run:
        failure = ConflictError(
            f"{len(result.conflicts)} row(s) changed both in the book and in {connection} "
            "since the last sync were not sent (listed above, marked 'conflict'): pull to "
            "see the system's version, or push --force to overwrite it"
        )
        return Staged(outcome, failure)
    return Staged(outcome)


def push_receivers(book: CommandBook, place: BookPlace) -> list[tuple[str, list[str]]]:
    """The connections ``refresh`` pushes to, with the tables each receives (its
    Options' ``push=PlannedOrders,Customers``)."""
    loaded = validated(book, "pull", name=place.name)
    return [
        (c.name, c.listed("push")) for c in book_connections(loaded, place.name) if c.listed("push")
    ]


def log_run_step(book: CommandBook, done: Outcome) -> None:
    """Stage refresh's SyncLog entry for its run step: the unattended job's log has one
    entry per step, the run's included (its details are in RunLog)."""
    summary = "; ".join(line for line in done.lines if not line.startswith(("wrote ", "updated ")))
    entry = SyncEntry("", "run", "PlannedOrders, Allocation", message=summary[:500])
    book.append_rows(SYNC_LOG, sync_log_frame([entry]))


def refresh_steps(
    receivers: list[tuple[str, list[str]]],
    pull_step: Callable[[], Outcome],
    run_step: Callable[[], Outcome],
    push_step: Callable[[str, list[str]], Outcome],
    report: Report | None = None,
) -> Outcome:
    """The unattended sequence over steps that each save on their own: pull, run, then a
    push to each receiver. A failing pull or run step ends it with that step's error
    (what was done before is reported first); every receiver is pushed to even if one
    leaves conflicts (a ConflictError at the end)."""
    lines: list[str] = []
    warnings: list[Problem] = []
    conflicts: list[str] = []
    steps: list[tuple[str, Callable[[], Outcome]]] = [
        ("pull", pull_step),
        ("run", run_step),
        *(
            (f"push {name}", lambda name=name, tables=tables: push_step(name, tables))
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
            _tell(report, lines)
            raise
        lines += done.lines
        warnings += done.warnings
    if not receivers:
        lines.append("no connection has push= in its Options: nothing was pushed")
    if conflicts:
        _tell(report, lines)
        raise ConflictError("; ".join(conflicts))
    return Outcome(lines, warnings)


# --- the command line: the cores on a file ---------------------------------------------------


def check(path: Path) -> Outcome:
    """Validate every table; raise InvalidDataError listing every problem."""
    return check_in(FileBook.open(path), BookPlace.of(path))


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
    erp: bool = False,
    keep_running: bool = False,
    report: Report | None = None,
    progress: Report | None = None,
) -> Outcome:
    """Write the demo company's workbook into ``directory`` and check it. With ``erp``, run
    the whole loop on a local Tryton instead (``erp_demo.demo_erp``: ``report`` gets what
    moved where, ``progress`` what is being done; ``keep_running`` leaves the server up
    until Ctrl+C)."""
    if erp or keep_running:
        if items is not None:
            raise UsageError("--erp runs the demo company; --items is for a book without an ERP")
        if not erp:
            raise UsageError("--keep-running keeps the Tryton of --erp running: add --erp")
        # Imported here: the ERP demo runs the command functions of this module.
        from sheetloop.addin.erp_demo import demo_erp

        return demo_erp(
            directory, start=start, keep_running=keep_running, report=report, progress=progress
        )
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
    loaded = validated(book, "check", name=path.name)
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
    book: CommandBook,
    writes: list[TableWrite],
    run_log: pd.DataFrame,
    place: BookPlace,
    export: Path | None,
) -> list[str]:
    """Stage output tables and the run log; a table too big for a sheet goes whole to CSV
    (into ``export``, or the place's overflow folder). Returns what to tell."""
    overflow = export or place.overflow
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
        done = plan_in(book, BookPlace.of(path, target), export=export)
        book.save(None if target == path else target)
    return Outcome([*done.lines, f"wrote {target}"], done.warnings)


def allocate(path: Path, out: Path | None = None) -> Outcome:
    """The allocation LP: replace Allocation, DemandStatus, CustomerService, Bottlenecks and
    the allocation rows of Exceptions; append RunLog. Nothing is written if the solver does
    not finish (exit 4)."""
    with writing(path, out, "allocate") as target:
        book = FileBook.open(path)
        done = allocate_in(book, BookPlace.of(path, target))
        book.save(None if target == path else target)
    return Outcome([*done.lines, f"wrote {target}"], done.warnings)


def run(path: Path, out: Path | None = None, report: Report | None = None) -> Outcome:
    """plan, then allocate: each step saves on its own; the first failing step ends it."""
    planned = plan(path, out)
    _tell(report, planned.lines)
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
    place = BookPlace.of(path)
    if dry_run:
        staged = pull_in(FileBook.open(path), place, connection, tables=tables, dry_run=True)
    else:
        with writing(path, None, "pull"):
            book = FileBook.open(path)
            staged = pull_in(
                book,
                place,
                connection,
                tables=tables,
                prune=prune,
                report=report,
                done=f"wrote {path}",
            )
            book.save()
    return staged.finish(report)


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
    place = BookPlace.of(path)
    if dry_run:
        staged = push_in(FileBook.open(path), place, connection, tables=tables, dry_run=True)
    else:
        with writing(path, None, "push"):
            book = FileBook.open(path)
            staged = push_in(
                book,
                place,
                connection,
                tables=tables,
                force=force,
                report=report,
                done=f"wrote {path}",
            )
            book.save()
    return staged.finish(report)


def refresh(path: Path, report: Report | None = None) -> Outcome:
    """The unattended job: pull every connection, run (plan, then allocate), then push to
    each connection what its Options say it receives (``push=PlannedOrders,Customers``).
    Each step saves on its own; a failing pull or run step ends it with that step's exit
    status (what was done before is reported first). Every receiving connection is pushed
    to even if one leaves conflicts (exit 5 at the end)."""
    receivers = push_receivers(FileBook.open(path), BookPlace.of(path))

    def run_step() -> Outcome:
        planned: list[str] = []

        def tell(line: str) -> None:
            planned.append(line)
            _tell(report, [line])

        done = run(path, report=tell)
        with writing(path, None, "refresh"):
            book = FileBook.open(path)
            log_run_step(book, Outcome([*planned, *done.lines]))
            book.save()
        return done

    return refresh_steps(
        receivers,
        lambda: pull(path, report=report),
        run_step,
        lambda name, tables: push(path, name, tables=tables, report=report),
        report,
    )
