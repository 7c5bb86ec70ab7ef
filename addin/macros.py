"""sheetloop's commands as Excel macros, run on the open workbook.

From a button or VBA, through xlwings' ``RunPython`` (Windows and macOS)::

    Sub Plan()
        RunPython "import sheetloop.addin.macros as m; m.plan()"
    End Sub

Each macro takes the calling book (``xw.Book.caller()``) unless given one, wraps it in the
live-Excel adapter (:class:`~sheetloop.addin.xlwings_book.XlwingsBook`) and runs the same
core as the command line (``commands.plan_in`` ...), with progress in Excel's status bar
and screen updating off, both restored however it ends (:func:`excel_ui`). How it ends:

- done: the results are in their tables, RunLog and SyncLog, as the command line writes
  them; a ``Problems`` table an earlier run left is emptied (or lists the warnings);
- invalid data: only the ``Problems`` sheet is written (and sheetloop's state sheet records
  that it owns it): a row per problem whose ``Where`` links to the cell, and it is shown;
- any other error a user can fix (a failing system, a busy book, a solver time limit):
  Excel shows its message;
- a bug: Excel shows the one-line error and the log file that holds the details.

A traceback never reaches the user. Each macro returns a :class:`MacroResult` (the command
line's exit status and lines) for callers other than Excel.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import xlwings as xw

from sheetloop import __version__
from sheetloop.addin.commands import (
    BookPlace,
    Outcome,
    allocate_in,
    check_in,
    log_run_step,
    plan_in,
    pull_in,
    push_in,
    push_receivers,
    refresh_steps,
    validated,
)
from sheetloop.addin.excel_ui import ExcelUi, excel_ui
from sheetloop.addin.syncing import book_connections
from sheetloop.addin.xlwings_book import XlwingsBook
from sheetloop.connectors.http import redact_resolved
from sheetloop.errors import InvalidDataError, SheetloopError, UsageError
from sheetloop.workbooks.interface import TableWrite
from sheetloop.workbooks.problems import Problem
from sheetloop.workbooks.schema import PROBLEMS

log = logging.getLogger(__name__)

INTERNAL_ERROR = 70  # the command line's exit status for a bug
TITLE = "sheetloop"


@dataclass
class MacroResult:
    """How a macro ended: the command line's exit status for it, the lines the command
    line would print, and the message Excel showed (if any)."""

    status: int
    lines: list[str] = field(default_factory=list)
    message: str | None = None


Work = Callable[[XlwingsBook, BookPlace, ExcelUi], Outcome]


# --- the macros -------------------------------------------------------------------------------


def check(book: xw.Book | None = None) -> MacroResult:
    """Validate every table; say the book is valid, or list every problem in Problems."""
    return _macro("check", book, _check)


def plan(book: xw.Book | None = None) -> MacroResult:
    """MRP: PlannedOrders (keeping firm rows and user columns), Pegging, MRP, the plan rows
    of Exceptions and a RunLog row, as ``sheetloop plan`` writes them."""
    return _macro("plan", book, _plan)


def allocate(book: xw.Book | None = None) -> MacroResult:
    """The allocation LP: Allocation, DemandStatus, CustomerService, Bottlenecks, the
    allocation rows of Exceptions and a RunLog row, as ``sheetloop allocate`` writes them."""
    return _macro("allocate", book, _allocate)


def run(book: xw.Book | None = None) -> MacroResult:
    """plan, then allocate on its results; each step is written on its own."""
    return _macro("run", book, _run)


def pull(book: xw.Book | None = None, connection: str | None = None) -> MacroResult:
    """Refresh tables from one connection of the Connections table (default: every one);
    a failing system stops it, keeping what was pulled before (logged in SyncLog)."""
    return _macro("pull", book, lambda live, place, ui: _pull(live, place, ui, connection))


def push(book: xw.Book | None = None, connection: str | None = None) -> MacroResult:
    """Send the rows changed since the last sync to a connection (default: the book's only
    one); conflicts are marked and left unsent."""
    return _macro("push", book, lambda live, place, ui: _push(live, place, ui, connection))


def refresh(book: xw.Book | None = None) -> MacroResult:
    """pull every connection, run, then push to each connection what its Options say it
    receives (``push=PlannedOrders``); each step is written on its own."""
    return _macro("refresh", book, _refresh)


# --- one macro's frame ------------------------------------------------------------------------


def _macro(command: str, book: xw.Book | None, work: Work) -> MacroResult:
    """Run ``work`` on the book inside Excel's UI guard and turn how it ends into what
    Excel shows: never a traceback."""
    xl_book = book if book is not None else xw.Book.caller()
    live = XlwingsBook(xl_book)
    with excel_ui(xl_book) as ui:
        try:
            ui.progress(f"sheetloop {command}: reading {live.name}")
            outcome = work(live, _place(live), ui)
            ui.progress(f"sheetloop {command}: done")
            _refresh_problems(live, outcome.warnings)
        except InvalidDataError as exc:
            live.discard()
            problems = [p for p in exc.problems if isinstance(p, Problem)]
            message = f"sheetloop {command}: {exc}"
            if not problems or not _show_problems(live, problems, ui):
                _alert(xl_book, _with_first(message, problems))
            return MacroResult(exc.exit_code, [str(p) for p in problems], message)
        except SheetloopError as exc:
            live.discard()
            message = redact_resolved(f"sheetloop {command}: {exc}")
            _alert(xl_book, message)
            return MacroResult(exc.exit_code, [], message)
        except Exception as exc:  # a bug: one line in Excel, the traceback in a file
            live.discard()
            crash = _log_crash(exc, command)
            message = redact_resolved(
                f"sheetloop {command}: internal error ({type(exc).__name__}: {exc}); "
                f"the details are in {crash}"
            )
            _alert(xl_book, message)
            return MacroResult(INTERNAL_ERROR, [], message)
    if command == "check":
        _alert(xl_book, "\n".join(outcome.lines), mode="info")
    return MacroResult(0, [*(str(w) for w in outcome.warnings), *outcome.lines])


def _place(live: XlwingsBook) -> BookPlace:
    folder = live.folder
    return BookPlace(live.name, folder, folder / f"{Path(live.name).stem}-export")


# --- what each macro does: the command line's cores on the live book ---------------------------


def _check(live: XlwingsBook, place: BookPlace, ui: ExcelUi) -> Outcome:
    return check_in(live, place)


def _plan(live: XlwingsBook, place: BookPlace, ui: ExcelUi) -> Outcome:
    ui.progress("sheetloop plan: planning")
    done = plan_in(live, place)
    ui.progress("sheetloop plan: writing the plan")
    live.save()
    return done


def _allocate(live: XlwingsBook, place: BookPlace, ui: ExcelUi) -> Outcome:
    ui.progress("sheetloop allocate: allocating supply")
    done = allocate_in(live, place)
    ui.progress("sheetloop allocate: writing the allocation")
    live.save()
    return done


def _run(live: XlwingsBook, place: BookPlace, ui: ExcelUi) -> Outcome:
    # The book shows allocation what plan wrote, even where the engine does not.
    planned = _plan(live, place, ui)
    for line in planned.lines:
        ui.progress(line)
    allocated = _allocate(live, place, ui)
    return Outcome([*planned.lines, *allocated.lines], [*planned.warnings, *allocated.warnings])


def _pull(
    live: XlwingsBook,
    place: BookPlace,
    ui: ExcelUi,
    connection: str | None,
    tables: list[str] | None = None,
) -> Outcome:
    staged = pull_in(
        live, place, connection, tables=tables, report=ui.progress, done=f"updated {place.name}"
    )
    live.save()  # what was pulled before a failure is kept, as on the command line
    return staged.finish(ui.progress)


def _push(
    live: XlwingsBook,
    place: BookPlace,
    ui: ExcelUi,
    connection: str | None,
    tables: list[str] | None = None,
) -> Outcome:
    name = connection or _only_connection(live, place)
    staged = push_in(
        live, place, name, tables=tables, report=ui.progress, done=f"updated {place.name}"
    )
    live.save()  # what was sent is recorded even if the system failed later
    return staged.finish(ui.progress)


def _refresh(live: XlwingsBook, place: BookPlace, ui: ExcelUi) -> Outcome:
    return refresh_steps(
        push_receivers(live, place),
        lambda: _pull(live, place, ui, None),
        lambda: _logged_run(live, place, ui),
        lambda name, tables: _push(live, place, ui, name, tables),
        ui.progress,
    )


def _logged_run(live: XlwingsBook, place: BookPlace, ui: ExcelUi) -> Outcome:
    done = _run(live, place, ui)
    log_run_step(live, done)
    live.save()
    return done


def _only_connection(live: XlwingsBook, place: BookPlace) -> str:
    """A push macro without a connection pushes to the book's only one."""
    connections = book_connections(validated(live, "push", name=place.name), place.name)
    if len(connections) == 1:
        return connections[0].name
    names = ", ".join(c.name for c in connections)
    raise UsageError(
        f"{place.name} has {len(connections)} connections ({names}): name the one to push "
        "to, e.g. RunPython \"import sheetloop.addin.macros as m; m.push(connection='"
        f"{connections[0].name}')\""
    )


# --- problems and messages ----------------------------------------------------------------------


def _show_problems(live: XlwingsBook, problems: Sequence[Problem], ui: ExcelUi) -> bool:
    """Write only the Problems sheet and show it; False if even that could not be written
    (the caller then shows the problems in a message)."""
    ui.progress(f"sheetloop: listing {len(problems)} problem(s) in the Problems sheet")
    try:
        _write_problems(live, problems)
    except SheetloopError as exc:
        live.discard()
        log.warning("the Problems sheet could not be written: %s", exc)
        return False
    written = live.find_table(PROBLEMS.name)
    if written is not None:
        try:
            live.book.sheets[written.sheet].activate()
        except Exception as exc:  # showing it is a courtesy; the problems are written
            log.info("the Problems sheet could not be activated: %s", exc)
    return True


def _refresh_problems(live: XlwingsBook, warnings: Sequence[Problem]) -> None:
    """After a successful run: list its warnings, or empty the Problems table an earlier
    run left. A Problems table sheetloop does not own is the user's: left alone."""
    existing = live.find_table(PROBLEMS.name)
    owned = live.state().get("owned_sheets", "").split("\n")
    if existing is not None and existing.sheet not in owned:
        return
    stale = existing is not None and any(v != "" for row in existing.rows for v in row)
    if warnings or stale:
        _write_problems(live, warnings)


def _write_problems(live: XlwingsBook, problems: Sequence[Problem]) -> None:
    """The Problems table, errors first, each ``Where`` linking to its cell."""
    ordered = sorted(problems, key=lambda p: p.severity != "error")
    frame = pd.DataFrame(
        {
            "Where": [p.where for p in ordered],
            "Severity": [p.severity for p in ordered],
            "Problem": [p.message for p in ordered],
        },
        columns=["Where", "Severity", "Problem"],
    )
    live.replace_table(TableWrite(PROBLEMS, frame))
    sheets = {s.casefold() for s in live.sheet_names}
    live.link_column(
        PROBLEMS.name,
        "Where",
        [p.where if p.cell and p.sheet.casefold() in sheets else None for p in ordered],
    )
    live.save()


_SHOWN_IN_MESSAGE = 10


def _with_first(message: str, problems: Sequence[Problem]) -> str:
    lines = [str(p) for p in problems[:_SHOWN_IN_MESSAGE]]
    if len(problems) > _SHOWN_IN_MESSAGE:
        lines.append(f"... and {len(problems) - _SHOWN_IN_MESSAGE} more (sheetloop check BOOK)")
    return "\n".join([message, *lines])


def _alert(book: Any, message: str, *, mode: str = "critical") -> None:
    """A message box in Excel (an alert action on xlwings' remote engine)."""
    try:
        book.app.alert(message, title=TITLE, mode=mode)
    except Exception as exc:  # no way to show it: the log is all that is left
        log.warning("%s (Excel could not show this: %s)", message, exc)


def _log_crash(exc: BaseException, command: str) -> Path:
    """The traceback of a bug in a log file the message names (as the command line does)."""
    folder = Path(os.environ.get("SHEETLOOP_LOG_DIR", tempfile.gettempdir()))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"sheetloop-crash-{dt.datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}.log"
    path.write_text(
        redact_resolved(
            f"sheetloop {__version__}, macro {command}, Python {sys.version.split()[0]}\n"
            + "".join(traceback.format_exception(exc))
        ),
        encoding="utf-8",
    )
    return path
