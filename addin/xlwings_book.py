"""The live-Excel adapter of the workbook interface: an open workbook through xlwings.

Reads hand out the raw values the file adapter's python-calamine reader hands out for the
same book: numbers as floats, whole-day dates as ``datetime.date``, other dates as
``datetime.datetime``, time-only cells as ``datetime.time``, text as ``str``, booleans as
``bool`` and ``''`` for an empty cell. Tables are found by their Excel table name anywhere
in the book (leniently, as the file adapter does), else a sheet of that name with a header
row at A1.

Writes are staged and applied on :meth:`XlwingsBook.save`, so nothing reaches the live
book before it; every check (ownership, sheet size) runs before the first cell is
touched. A table is written as the file adapter writes it: on a sheet sheetloop owns, its
header at A1 (A3 under a note), the ListObject resized in place (so formulas elsewhere
that name it keep working) or added, columns the user added kept by key.

Text is written so that it stays text: text columns get the ``@`` number format first,
and text that Excel or an xlwings client could turn into something else (a formula
``=``, ``+``, ``-``, ``@``; a number or an ISO date, which xlwings' VBA client parses;
any text in a column not formatted as text) is written with Excel's leading apostrophe,
which Excel stores as the cell's quote prefix, not as part of the text.

Changes to a user's own table (``pull``) go through :meth:`XlwingsBook.patch_table`: the
named cells change, rows are added below (only into empty cells), columns at the right,
and the ListObject is resized over them; Excel carries the table's formats and calculated
columns into the new rows.

Where the engine does not show writes to later reads (xlwings' remote engine), the book
remembers what it wrote and reads that back, so a command that follows another in one
macro (``run``: allocate after plan) sees the first one's results, as it would in Excel.

Presentation (data validation, conditional formats, charts, column widths, the very
hidden state sheet) goes through :meth:`XlwingsBook._try_feature`: it is applied through
xlwings' API on a desktop Excel and recorded in ``skipped_features`` where the engine
lacks it, never failing the write. xlwings' remote engine (xlwings Server, Lite) queues
actions that its clients then run; only number formats, autofit column widths and sheet
activation are run by every client (VBA, Google Apps Script, Office.js), so the rest is
skipped there.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlwings as xw

from sheetloop import CONTRACT_VERSION, __version__
from sheetloop.errors import BookBusyError, SheetloopError, UsageError
from sheetloop.workbooks.chart_xml import ANCHOR_NAME, TableLayout, anchors, beside, chart_data
from sheetloop.workbooks.conditional_xml import check_rule, column_blocks, rule_formula
from sheetloop.workbooks.interface import RawTable, TablePatch, TableWrite, stage_patch
from sheetloop.workbooks.problems import cell_ref, column_letter
from sheetloop.workbooks.reading import parse_table
from sheetloop.workbooks.schema import Column, Kind, Role, Table, header_key

# The file adapter's own conversions, so both adapters write the same values.
from sheetloop.workbooks.sheet_xml import (
    EXCEL_MAX_ROWS,
    as_text,
    column_formats,
    is_missing,
    table_column_name,
)
from sheetloop.workbooks.state_cells import STATE_SHEET, state_from_rows, state_rows
from sheetloop.workbooks.user_columns import with_user_columns

log = logging.getLogger(__name__)

NUMBER_FORMATS = "number formats"
DATA_VALIDATION = "data validation"
CONDITIONAL_FORMATS = "conditional formats"
CHARTS = "charts"
COLUMN_WIDTHS = "column widths"
HIDDEN_STATE_SHEET = "very hidden state sheet"
ACTIVE_SHEET = "active sheet"

# What xlwings' remote engine can hand to every one of its clients: its VBA client runs
# only values, number formats, autofit, sheets, tables, ranges and names. Anything else
# would be queued as an action that client fails on after sheetloop has finished.
_REMOTE_FEATURES = frozenset({NUMBER_FORMATS, COLUMN_WIDTHS, ACTIVE_SHEET})

TABLE_STYLE = "TableStyleMedium2"  # the file adapter's table style
_TEXT_FORMAT = "@"
_XL_SHEET_VERY_HIDDEN = 2
_EXCEL_DAY_ZERO = dt.date(1899, 12, 30)  # the date part of a time-only cell
_CHART_TYPES = {"line": "line", "column": "column_clustered", "bar": "bar_clustered"}
_MAX_LISTED = 12  # cells named in a refusal


# --- raw values ------------------------------------------------------------------------------


def raw_value(value: object) -> Any:
    """A cell value as xlwings reads it, made what python-calamine reads for that cell."""
    if value is None:
        return ""
    if isinstance(value, bool | str | float):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dt.datetime):
        value = value.replace(tzinfo=None)
        if value.date() == _EXCEL_DAY_ZERO:
            return value.time()
        return value.date() if value.time() == dt.time() else value
    return value


def _raw_rows(values: Any) -> list[list[Any]]:
    return [[raw_value(v) for v in row] for row in (values or [])]


# How xlwings' remote clients send a date cell, and the error values they send as text.
_CLIENT_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
_ERRORS = frozenset(("#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!", "#DATA!"))


def _values(rng: Any) -> list[list[Any]]:
    """A range's values, row by row, as xlwings reads them."""
    try:
        return list(rng.options(ndim=2).value or [])
    except ValueError:
        # xlwings' remote engine (0.37) takes text such as 2026-11-25T12:51:44 (a date
        # without a zone) for a date and fails on it: decode the cells as sent instead.
        return [[_client_value(v) for v in row] for row in rng.raw_value]


def _client_value(value: object) -> Any:
    if isinstance(value, str):
        if _CLIENT_DATE.match(value):
            return dt.datetime.fromisoformat(value[:-1])
        if value in _ERRORS or value == "":
            return None
    return value


def _header_text(value: object) -> str:
    # As the file reader spells a header: a number header 1 reads "1.0" there too.
    return str(raw_value(value))


# --- what a table write puts into cells ----------------------------------------------------


@dataclass
class _Block:
    """A table write as cells: the header, then each column's number format and values
    (numbers, datetimes, text still without any apostrophe, None for a blank cell)."""

    headers: list[str]
    formats: list[str]
    columns: list[list[Any]]

    @property
    def rows(self) -> int:
        return len(self.columns[0]) if self.columns else 0


def _block(write: TableWrite) -> _Block:
    frame = write.frame
    formats = [f.number_format for f in column_formats(write)]
    columns: list[list[Any]] = []
    for i, name in enumerate(frame.columns):
        spec_col = _spec_column(write.spec, str(name))
        values = frame[name]
        kind = spec_col.kind if spec_col else None
        if kind in (Kind.NUMBER, Kind.INTEGER, Kind.FRACTION) or (
            kind is None and values.dtype.kind in "fiu"
        ):
            columns.append(_numbers(values))
        elif kind in (Kind.DATE, Kind.DATETIME) or (kind is None and values.dtype.kind == "M"):
            if values.dtype.kind in "fiu":  # period numbers (Bucket = period)
                columns.append(_numbers(values))
                formats[i] = "General"
            else:
                columns.append(_dates(values))
        elif kind is Kind.YESNO:
            columns.append([_yes_no(v) for v in values.tolist()])
        else:
            cells = _texts(values.tolist(), numbers=kind is Kind.TEXT)
            if formats[i] == _TEXT_FORMAT and any(isinstance(v, float) for v in cells):
                # A number in a text-formatted cell would turn into text: such a column
                # (Settings' Value) keeps the General format, its text quoted.
                formats[i] = "General"
            columns.append(cells)
    return _Block([table_column_name(c) for c in frame.columns], formats, columns)


def _spec_column(spec: Table, name: str) -> Column | None:
    try:
        return spec.column(name)
    except KeyError:
        return None


def _numbers(values: pd.Series) -> list[Any]:
    nums = pd.to_numeric(values, errors="coerce").astype("float64").tolist()
    return [v if math.isfinite(v) else None for v in nums]


def _dates(values: pd.Series) -> list[Any]:
    stamps = pd.to_datetime(values, errors="coerce")
    return [None if pd.isna(s) else s.to_pydatetime().replace(tzinfo=None) for s in stamps]


def _yes_no(value: object) -> str | None:
    if is_missing(value) or value == "":
        return None
    yes = value in (True, 1) or str(value).casefold() in ("yes", "y", "x", "true")
    return "yes" if yes else "no"


def _texts(values: list[Any], *, numbers: bool) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if is_missing(v) or (isinstance(v, str) and v == ""):
            out.append(None)
        elif numbers and (type(v) is float or type(v) is int):
            out.append(float(v))
        else:
            out.append(v if type(v) is str else as_text(v))
    return out


def excel_text(text: str, *, text_cell: bool) -> str:
    """``text`` as written through xlwings so that Excel stores exactly that text.

    A leading apostrophe is Excel's quote prefix: it keeps the rest as text and is not
    part of the value. In a cell formatted as text only what a client or Excel would still
    convert needs it: a formula start, a leading digit (xlwings' VBA client turns ISO dates
    such as ``2026-11-30`` into dates before Excel sees them) and a leading apostrophe.
    """
    if not text_cell or text.startswith(("=", "+", "-", "@", "'")) or text[:1].isdigit():
        return "'" + text
    return text


def _excel_cell(value: Any, *, text_cell: bool) -> Any:
    if isinstance(value, str):
        return excel_text(value, text_cell=text_cell)
    return value


# --- the adapter ------------------------------------------------------------------------------


@dataclass
class _Staged:
    write: TableWrite
    replace: bool  # False: add only if absent (init)


@dataclass
class _Target:
    """Where one staged write lands, decided before anything is written."""

    write: TableWrite
    sheet: str
    new_sheet: bool
    table: str | None  # the ListObject to resize and rename; None: add one


@dataclass
class _Links:
    """Links staged for one column of a table written in the same save."""

    column: str
    targets: list[str | None]  # per data row: a reference in this book, or no link


@dataclass
class _PatchTarget:
    """A user's table patch, checked: the geometry it ends with."""

    patch: TablePatch
    raw: RawTable
    headers: list[str]  # the table's headers, new columns included
    columns: dict[str, int] = field(default_factory=dict)  # header key -> 0-based column

    @property
    def top(self) -> int:
        return self.raw.header_row + 1

    @property
    def right_old(self) -> int:
        return self.raw.first_col + len(self.raw.headers) - 1

    @property
    def right_new(self) -> int:
        return self.raw.first_col + len(self.headers) - 1

    @property
    def old_bottom(self) -> int:
        return self.raw.header_row + max(len(self.raw.rows), 1)

    @property
    def new_bottom(self) -> int:
        return self.raw.header_row + max(len(self.raw.rows) + len(self.patch.appends), 1)

    def column(self, name: str) -> int:
        col = self.columns.get(header_key(name))
        if col is None:
            raise UsageError(
                f"{self.raw.sheet}: the table {self.patch.spec.name} has no column {name!r}"
            )
        return col


class XlwingsBook:
    """An open Excel workbook: read its tables, stage sheetloop's writes, apply them on
    ``save``. ``path_hint`` names the book in messages (default: the book's name)."""

    #: Reads call into Excel, which answers one thread: validation reads tables in line.
    reads_in_background = False

    def __init__(self, book: xw.Book, *, path_hint: str | None = None) -> None:
        self.book = book
        self.path_hint = path_hint
        #: Presentation the engine could not apply, by feature name, in the order met.
        self.skipped_features: list[str] = []
        self._staged: list[_Staged] = []
        self._state: dict[str, str] = {}
        self._patches: list[tuple[TablePatch, RawTable]] = []
        self._links: dict[str, _Links] = {}  # by the table's header key
        self._tables_read: dict[str, RawTable | None] = {}
        self._listed: list[tuple[str, str]] | None = None  # (sheet, table) in book order
        self._remote = _engine_name(book) == "remote"
        # The remote engine does not show writes to later reads: what was written is
        # remembered and read back from here instead (a desktop Excel is read again).
        self._echo = self._remote
        self._written: dict[str, RawTable] = {}  # by the table's header key
        self._written_state: dict[str, str] | None = None

    def __repr__(self) -> str:
        return f"XlwingsBook({self.name!r}, {len(self._staged)} staged write(s))"

    @property
    def name(self) -> str:
        """The book as messages name it."""
        if self.path_hint:
            return self.path_hint
        try:
            return str(self.book.name)
        except Exception:  # a closed book: messages still need a name
            return "the workbook"

    @property
    def folder(self) -> Path:
        """The folder the book is saved in, where files it names are found (the working
        folder for a book never saved, or one that lives at a URL)."""
        try:
            full = Path(str(self.book.fullname))
        except Exception:  # an engine without file names
            return Path.cwd()
        return full.parent if full.is_absolute() else Path.cwd()

    # --- reading ------------------------------------------------------------------------

    @property
    def sheet_names(self) -> list[str]:
        return [str(s.name) for s in self.book.sheets]

    def table_names(self) -> list[str]:
        return [name for _, name in self._listed_tables()]

    def find_table(self, name: str) -> RawTable | None:
        """The table with this Excel table name (anywhere), else a sheet of that name with
        a header row at A1; names match leniently. Read once per opening of the book."""
        written = self._written.get(header_key(name))
        if written is not None:
            return written
        key = name.casefold()
        if key not in self._tables_read:
            self._tables_read[key] = self._read(name)
        return self._tables_read[key]

    def state(self) -> dict[str, str]:
        """sheetloop's records kept in the book (contract version, owned sheets, sync
        state, ...), with the values staged by :meth:`set_state` since the last save."""
        return {**self._saved_state(), **self._state}

    def _saved_state(self) -> dict[str, str]:
        if self._written_state is not None:
            return dict(self._written_state)
        sheet = self._sheet(STATE_SHEET)
        if sheet is None:
            return {}
        rows = _raw_rows(_grid(sheet))
        return state_from_rows((str(r[0]), str(r[1])) for r in rows if len(r) >= 2 and r[0] != "")

    def _listed_tables(self) -> list[tuple[str, str]]:
        if self._listed is None:
            self._listed = [
                (str(sheet.name), str(table.name))
                for sheet in self.book.sheets
                for table in sheet.tables
            ]
        return self._listed

    def _tables(self) -> dict[str, tuple[str, str]]:
        """Tables by lenient name (of two that match alike the later wins, as in the file
        reader)."""
        return {header_key(table): (sheet, table) for sheet, table in self._listed_tables()}

    def _read(self, name: str) -> RawTable | None:
        key = header_key(name)
        located = self._tables().get(key)
        if located is not None:
            return self._read_table(*located)
        for sheet in self.book.sheets:
            if header_key(sheet.name) == key:
                return _read_plain_sheet(sheet)
        return None

    def _read_table(self, sheet_name: str, table_name: str) -> RawTable:
        sheet = self.book.sheets[sheet_name]
        table = sheet.tables[table_name]
        rng = table.range
        values = _raw_rows(_values(rng))
        header, rows = (values[0], values[1:]) if values else ([], [])
        if table.show_totals and rows:
            rows = rows[:-1]
        return RawTable(
            name=str(table.name),
            sheet=sheet_name,
            header_row=int(rng.row),
            first_col=int(rng.column) - 1,
            headers=[_header_text(h) for h in header],
            rows=rows,
            is_table=True,
        )

    def _sheet(self, name: str) -> Any:
        wanted = name.casefold()
        return next((s for s in self.book.sheets if str(s.name).casefold() == wanted), None)

    # --- staging writes -----------------------------------------------------------------

    def replace_table(self, write: TableWrite) -> None:
        """Stage an output table; columns the user added to it are carried over by key."""
        write.frame = with_user_columns(self.find_table(write.spec.name), write)
        self._staged.append(_Staged(write, replace=True))

    def add_table(self, write: TableWrite) -> None:
        """Stage a table (and its sheet) the book lacks; one it has is left alone."""
        self._staged.append(_Staged(write, replace=False))

    def append_rows(self, spec: Table, frame: pd.DataFrame) -> None:
        """Stage rows appended to a log table (created if absent)."""
        raw = self.find_table(spec.name)
        old = parse_table(raw, spec)[0].frame if raw is not None else None
        combined = frame if old is None or old.empty else pd.concat([old, frame], ignore_index=True)
        self._staged.append(_Staged(TableWrite(spec, combined), replace=True))

    def patch_table(self, patch: TablePatch) -> None:
        """Stage cell-level changes to a user's table (see :class:`TablePatch`): named
        cells change, rows are added below it, new columns at its right, its ListObject is
        resized over them. Closing up removed rows (``pull --prune``) is refused: deleting
        cells in a live sheet would shift the user's cells below the table too."""
        raw = self.find_table(patch.spec.name)
        if raw is None:
            raise UsageError(f"{self.name}: no table {patch.spec.name} to update")
        if patch.removes:
            raise UsageError(
                f"{self.name}: removing the rows of {patch.spec.name} that are gone from the "
                "system is done on the saved file by the command line (sheetloop pull BOOK "
                "--prune); in Excel, delete the rows marked 'gone' yourself"
            )
        if not patch.empty:
            stage_patch(self._patches, patch, raw)

    def link_column(self, name: str, column: str, targets: Sequence[str | None]) -> None:
        """Stage links on a table staged in this save: data row *i* of ``column`` links to
        ``targets[i]`` (a reference in this book, ``'My Sheet'!B3``) and keeps showing its
        text; None leaves that row's cell plain. Written as Excel's ``HYPERLINK`` formula,
        which every engine and client writes like any formula."""
        self._links[header_key(name)] = _Links(column, list(targets))

    def set_state(self, key: str, value: str) -> None:
        """Stage a value for sheetloop's state sheet."""
        self._state[key] = value

    def discard(self) -> None:
        """Drop every staged write (a command that failed part way staged some)."""
        self._staged.clear()
        self._state.clear()
        self._patches.clear()
        self._links.clear()

    # --- saving -------------------------------------------------------------------------

    def save(self) -> None:
        """Apply the staged writes to the live book: patches of the user's tables first,
        then sheetloop's tables, then its state.

        Every check runs first (ownership, sheet size, cells in a growing table's way), so
        a refused write changes nothing. The book is not saved to disk: Excel (or the
        user) does that. On a desktop Excel a failure part-way leaves the writes made so
        far, as Excel has no transaction to roll back.
        """
        recorded = self._saved_state()
        owned_before = set(filter(None, recorded.get("owned_sheets", "").split("\n")))
        owned: set[str] = set()
        patches = [self._plan_patch(patch, raw) for patch, raw in self._patches]
        targets = self._plan(owned_before, owned)
        state = {
            **recorded,
            **self._state,
            "contract_version": CONTRACT_VERSION,
            "sheetloop_version": __version__,
            "saved_at": dt.datetime.now().isoformat(timespec="seconds"),
        }
        active = self._active_sheet_name()
        written: dict[str, RawTable] = {}
        try:
            for patched in patches:
                written[header_key(patched.patch.spec.name)] = self._patch(patched)
            for target in targets:
                written[header_key(target.write.spec.name)] = self._write(target, owned)
            state["owned_sheets"] = "\n".join(sorted(owned_before | owned))
            self._write_state(state)
            if active is not None:
                self._try_feature(ACTIVE_SHEET, lambda: self.book.sheets[active].activate())
        except SheetloopError:
            raise
        except Exception as exc:
            raise BookBusyError(
                f"{self.name}: Excel refused sheetloop's write ({exc}). Leave cell edit "
                "mode, close dialogs and unprotect sheetloop's sheets, then run again."
            ) from exc
        self.discard()
        self._tables_read.clear()
        self._listed = None
        if self._echo:
            self._written.update(written)
            self._written_state = state

    def _plan(self, owned_before: set[str], owned: set[str]) -> list[_Target]:
        """Decide where each staged write goes, refusing before anything is written."""
        sheets = {name.casefold(): name for name in self.sheet_names}
        tables = self._tables()
        targets: list[_Target] = []
        for staged in self._staged:
            write, spec = staged.write, staged.write.spec
            if len(write.frame) > EXCEL_MAX_ROWS - 2:
                raise UsageError(
                    f"{spec.name} has {len(write.frame):,} rows, more than an Excel "
                    "sheet holds: write it as CSV with --export DIR"
                )
            mine = owned_before | owned
            existing = tables.get(header_key(spec.name))
            if existing is not None:
                if not staged.replace:
                    continue
                sheet, table = existing
                if sheet not in mine:
                    raise UsageError(
                        f"{self.name}: the table {spec.name} is on the sheet {sheet!r}, which "
                        "sheetloop does not own: sheetloop rewrites its output tables on "
                        f"sheets of their own. Delete or rename that table (or move it to a "
                        f"sheet named {spec.name})."
                    )
                owned.add(sheet)
                tables[header_key(spec.name)] = (sheet, spec.name)
                targets.append(_Target(write, sheet, new_sheet=False, table=table))
                continue
            name = write.sheet or spec.sheet
            sheet_name = sheets.get(name.casefold())
            if sheet_name is not None and sheet_name not in mine:
                if spec.role is Role.INPUT and not staged.replace:
                    continue  # init: the user has a sheet of that name (the plain-sheet fallback)
                name, sheet_name = _free_sheet_name(name, sheets), None
            new = sheet_name is None
            sheet_name = sheet_name or name
            sheets[sheet_name.casefold()] = sheet_name
            # An owned sheet without our table (the user deleted it): its first table, if
            # any, becomes ours, as the file adapter reuses the sheet's table part.
            reuse = None if new else _first_table(sheet_name, tables)
            owned.add(sheet_name)
            tables[header_key(spec.name)] = (sheet_name, spec.name)
            targets.append(_Target(write, sheet_name, new_sheet=new, table=reuse))
        return targets

    def _write(self, target: _Target, owned: set[str]) -> RawTable:
        """One table, as the file adapter renders it; ``owned`` gains the sheets made.
        Returns the table as a reader would now find it."""
        write = target.write
        block = _block(write)
        top = 3 if write.note else 1
        if target.new_sheet:
            sheet = self.book.sheets.add(name=target.sheet, after=self.book.sheets[-1])
        else:
            sheet = self.book.sheets[target.sheet]
            sheet.clear_contents()
        table = sheet.tables[target.table] if target.table is not None else None
        if table is not None:
            _move_to(sheet, table, top)
        width = max(len(block.headers), 1)
        last = top + max(block.rows, 1)  # an Excel table needs a data row, if empty
        ref = f"A{top}:{column_letter(width - 1)}{last}"
        text_ok = self._try_feature(NUMBER_FORMATS, lambda: _set_formats(sheet, block, top))
        if write.note:
            sheet.range("A1").value = excel_text(write.note, text_cell=False)
        sheet.range((top, 1)).value = _cells(block, text_ok)
        if table is None:
            sheet.tables.add(
                source=sheet.range(ref), name=write.spec.name, table_style_name=TABLE_STYLE
            )
        else:
            if table.name != write.spec.name:
                table.name = write.spec.name
            table.resize(sheet.range(ref))
        links = self._links.get(header_key(write.spec.name))
        if links is not None:
            self._write_links(sheet, block, top, links)
        self._present(sheet, write, block, top, owned)
        rows = [[raw_value(v) for v in row] for row in zip(*block.columns, strict=True)]
        return RawTable(write.spec.name, target.sheet, top, 0, block.headers, rows)

    def _write_links(self, sheet: Any, block: _Block, top: int, links: _Links) -> None:
        """Turn one written column into links to the cells its rows name."""
        keys = [header_key(h) for h in block.headers]
        if header_key(links.column) not in keys or not block.rows:
            return
        col = keys.index(header_key(links.column))
        texts = block.columns[col]
        cells = [
            [_hyperlink(target, str(text)) if target else excel_text(str(text), text_cell=False)]
            if text is not None
            else [None]
            for text, target in zip(texts, links.targets, strict=False)
        ]
        area = sheet.range((top + 1, col + 1), (top + len(cells), col + 1))
        # A formula in a cell formatted as text would stay text.
        self._try_feature(NUMBER_FORMATS, lambda: _set_format(area, "General"))
        sheet.range((top + 1, col + 1)).value = cells

    # --- patching a user's table ----------------------------------------------------------

    def _plan_patch(self, patch: TablePatch, raw: RawTable) -> _PatchTarget:
        """Check a patch against the live sheet, refusing before anything is written."""
        known = {header_key(h) for h in raw.headers}
        headers = [*raw.headers, *(c for c in patch.new_columns if header_key(c) not in known)]
        target = _PatchTarget(patch, raw, headers)
        # Of two headers that match alike the later wins, as in the file adapter.
        target.columns = {header_key(h): raw.first_col + i for i, h in enumerate(headers)}
        for values in [*patch.updates.values(), *patch.appends]:
            for name in values:
                target.column(name)
        sheet = self.book.sheets[raw.sheet]
        grows = bool(patch.appends) or len(headers) > len(raw.headers)
        if raw.is_table and grows and sheet.tables[raw.name].show_totals:
            raise UsageError(
                f"{raw.sheet}: the table {patch.spec.name} has a totals row, so pull cannot "
                "add rows or columns to it; switch its totals row off (Table Design) and run "
                "again"
            )
        if target.new_bottom > EXCEL_MAX_ROWS:
            raise UsageError(
                f"{raw.sheet}: the table {patch.spec.name} would pass Excel's last row"
            )
        blocked: list[str] = []
        if target.new_bottom > target.old_bottom:
            blocked += _occupied(
                sheet,
                (target.old_bottom + 1, raw.first_col),
                (target.new_bottom, target.right_new),
            )
        if target.right_new > target.right_old:
            blocked += _occupied(
                sheet,
                (raw.header_row, target.right_old + 1),
                (target.old_bottom, target.right_new),
            )
        if blocked:
            more = " ..." if len(blocked) > _MAX_LISTED else ""
            shown = ", ".join(blocked[:_MAX_LISTED]) + more
            raise UsageError(
                f"{raw.sheet}: the table {patch.spec.name} must grow to take the pulled "
                f"rows, but these cells are in the way: {shown}. Move them (or the table) "
                "and run again; nothing was written."
            )
        return target

    def _patch(self, target: _PatchTarget) -> RawTable:
        """Apply a checked patch; returns the table as a reader would now find it."""
        raw, patch = target.raw, target.patch
        sheet = self.book.sheets[raw.sheet]
        width = len(target.headers)
        rows = [[*row, *([""] * (width - len(row)))] for row in raw.rows]
        new = target.headers[len(raw.headers) :]
        if new:
            sheet.range((raw.header_row, target.right_old + 2)).value = [
                [excel_text(h, text_cell=False) for h in new]
            ]
        for index, values in sorted(patch.updates.items()):
            cells = {target.column(n): v for n, v in values.items()}
            for first, run in _runs(sorted(cells)):
                sheet.range((target.top + index, first + 1)).value = [
                    [_patch_value(cells[c]) for c in run]
                ]
            for col, value in cells.items():
                rows[index][col - raw.first_col] = _read_back(value)
        if patch.appends:
            given = [{target.column(n): v for n, v in values.items()} for values in patch.appends]
            # Only the columns given are written: Excel fills the table's calculated
            # columns into the rows it grows by.
            for first, run in _runs(sorted({c for cells in given for c in cells})):
                sheet.range((target.top + len(raw.rows), first + 1)).value = [
                    [_patch_value(cells.get(c)) for c in run] for cells in given
                ]
            for cells in given:
                row = [""] * width
                for col, value in cells.items():
                    row[col - raw.first_col] = _read_back(value)
                rows.append(row)
        moved = (target.new_bottom, target.right_new) != (target.old_bottom, target.right_old)
        if raw.is_table and moved:
            sheet.tables[raw.name].resize(
                sheet.range(
                    (raw.header_row, raw.first_col + 1), (target.new_bottom, target.right_new + 1)
                )
            )
        return RawTable(
            raw.name, raw.sheet, raw.header_row, raw.first_col, target.headers, rows, raw.is_table
        )

    # --- presentation ---------------------------------------------------------------------

    def _try_feature(self, name: str, apply: Callable[[], object]) -> bool:
        """Apply one piece of presentation if the engine can; else record it as skipped.

        Returns whether it was applied. A failure is logged and skipped, never raised:
        presentation must not cost the planner the data being written.
        """
        if self._remote and name not in _REMOTE_FEATURES:
            self._skip(name)
            return False
        try:
            apply()
        except Exception as exc:  # the engine lacks it (NotImplementedError, COM errors)
            log.info("%s: %s skipped (%s)", self.name, name, exc)
            self._skip(name)
            return False
        return True

    def _skip(self, name: str) -> None:
        if name not in self.skipped_features:
            self.skipped_features.append(name)

    def _present(
        self, sheet: Any, write: TableWrite, block: _Block, top: int, owned: set[str]
    ) -> None:
        n = block.rows
        if write.validations:
            self._try_feature(DATA_VALIDATION, lambda: _validations(sheet, write, top))
        if write.formats:
            self._try_feature(CONDITIONAL_FORMATS, lambda: _conditional(sheet, write, top, n))
        if write.charts:
            self._try_feature(CHARTS, lambda: self._charts(sheet, write, block, top, owned))
        if block.headers:
            cols = sheet.range((top, 1), (top + max(n, 1), len(block.headers)))
            self._try_feature(COLUMN_WIDTHS, lambda: cols.columns.autofit())

    def _charts(
        self, sheet: Any, write: TableWrite, block: _Block, top: int, owned: set[str]
    ) -> None:
        layout = TableLayout(write.spec.name, str(sheet.name), write.frame, top, block.formats)
        charts = [d for c in write.charts if (d := chart_data(c, layout)) is not None]
        target, (col, row) = sheet, beside(layout)
        if write.chart_sheet and write.chart_sheet.casefold() != str(sheet.name).casefold():
            target = self._sheet(write.chart_sheet)
            if target is None:
                target = self.book.sheets.add(name=write.chart_sheet, after=self.book.sheets[-1])
            owned.add(str(target.name))
            col, row = 1, 1
        for old in list(target.charts):
            if str(old.name).startswith(ANCHOR_NAME):
                old.delete()
        placed = anchors([c.spec for c in charts], col, row)
        for i, (place, chart) in enumerate(zip(placed, charts, strict=True)):
            area = target.range(
                (place.row + 1, place.col + 1), (place.row + place.rows, place.col + place.cols)
            )
            drawn = target.charts.add(
                left=area.left,
                top=area.top,
                width=area.width,
                height=area.height,
                chart_type=_CHART_TYPES[chart.spec.kind],
                name=f"{ANCHOR_NAME} {i + 1}",
            )
            # Series read cells of other rows and flat lines: Excel's object model (COM).
            com = drawn.api[1]
            com.HasTitle = True
            com.ChartTitle.Text = chart.spec.title
            for s in chart.series:
                series = com.SeriesCollection().NewSeries()
                series.Name = s.name
                flat = [v for v in s.values if v is not None]
                series.Values = f"={s.values_ref}" if s.values_ref else flat
                series.XValues = f"={chart.categories[0]}"

    def _write_state(self, state: dict[str, str]) -> None:
        sheet = self._sheet(STATE_SHEET)
        if sheet is None:
            sheet = self.book.sheets.add(name=STATE_SHEET, after=self.book.sheets[-1])
            self._try_feature(HIDDEN_STATE_SHEET, lambda: _hide(sheet))
        else:
            sheet.clear_contents()
        rows = state_rows(state)
        area = sheet.range((1, 1), (len(rows), 2))
        text_ok = self._try_feature(NUMBER_FORMATS, lambda: _set_format(area, _TEXT_FORMAT))
        sheet.range("A1").value = [
            [excel_text(k, text_cell=text_ok), excel_text(v, text_cell=text_ok)] for k, v in rows
        ]

    def _active_sheet_name(self) -> str | None:
        try:
            return str(self.book.sheets.active.name)
        except Exception:  # no active sheet to keep (a book without a window)
            return None


# --- helpers ----------------------------------------------------------------------------------


def _engine_name(book: xw.Book) -> str:
    try:
        return str(book.app.engine.name)
    except Exception:  # a stand-in without an app: treat as a desktop Excel
        return "excel"


def _grid(sheet: Any) -> list[list[Any]]:
    """Every cell of a sheet from A1 to its last used cell, row by row."""
    last = sheet.used_range.last_cell
    rows = _values(sheet.range((1, 1), (last.row, last.column)))
    while rows and all(v in (None, "") for v in rows[-1]):
        rows.pop()  # a formatted but empty row at the end is not data
    return rows


def _read_plain_sheet(sheet: Any) -> RawTable:
    name = str(sheet.name)
    grid = _raw_rows(_grid(sheet))
    if not grid:
        return RawTable(name, name, 1, 0, [], [], is_table=False)
    header = grid[0]
    # The header ends at its first empty cell; what lies beyond is not the table's.
    width = next((i for i, v in enumerate(header) if v in ("", None)), len(header))
    headers = [_header_text(h) for h in header[:width]]
    return RawTable(name, name, 1, 0, headers, [r[:width] for r in grid[1:]], is_table=False)


def _occupied(sheet: Any, first: tuple[int, int], last: tuple[int, int]) -> list[str]:
    """References of the cells with content from ``first`` to ``last`` (row 1-based,
    column 0-based), row by row."""
    (r0, c0), (r1, c1) = first, last
    values = _values(sheet.range((r0, c0 + 1), (r1, c1 + 1)))
    return [
        cell_ref(r0 + i, c0 + j)
        for i, row in enumerate(values)
        for j, value in enumerate(row)
        if value not in (None, "")
    ]


def _runs(columns: list[int]) -> list[tuple[int, list[int]]]:
    """Sorted columns as runs of neighbours: one write per run."""
    runs: list[tuple[int, list[int]]] = []
    for col in columns:
        if runs and runs[-1][1][-1] == col - 1:
            runs[-1][1].append(col)
        else:
            runs.append((col, [col]))
    return runs


def _patch_value(value: object) -> Any:
    """A patch's value as written into a user's cell, as the file adapter writes it:
    numbers as numbers, dates as dates, booleans as yes/no and everything else as text,
    quoted, since the cell's format is the user's."""
    if is_missing(value) or value == "":
        return None
    if isinstance(value, bool | np.bool_):
        return excel_text("yes" if value else "no", text_cell=False)
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, dt.datetime):
        return pd.Timestamp(value).to_pydatetime().replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    return excel_text(str(value), text_cell=False)


def _read_back(value: object) -> Any:
    """What a reader finds in a cell after :func:`_patch_value` wrote ``value`` into it."""
    cell = _patch_value(value)
    if isinstance(cell, str):
        return cell[1:]  # Excel's quote prefix is not part of the text
    return raw_value(cell)


def _hyperlink(target: str, text: str) -> str:
    """Excel's HYPERLINK formula: a link to a place in this book (``#Sheet!A1``) showing
    ``text``. Both are string literals in it, so nothing in them is evaluated."""

    def literal(value: str) -> str:
        return '"' + value.replace('"', '""') + '"'

    return f"=HYPERLINK({literal('#' + target)},{literal(text)})"


def _first_table(sheet: str, tables: dict[str, tuple[str, str]]) -> str | None:
    return next((table for on, table in tables.values() if on == sheet), None)


def _free_sheet_name(name: str, sheets: dict[str, str]) -> str:
    n = 2
    while f"{name} ({n})".casefold() in sheets:
        n += 1
    return f"{name} ({n})"


def _move_to(sheet: Any, table: Any, top: int) -> None:
    """Shift whole rows and columns so the table's header starts at A``top``: rows are
    inserted or deleted above it, so formulas pointing at the table follow it."""
    rng = table.range
    rows, cols = top - int(rng.row), int(rng.column) - 1
    if rows > 0:
        sheet.range(f"1:{rows}").insert("down")
    elif rows < 0:
        sheet.range(f"1:{-rows}").delete("up")
    if cols > 0:
        sheet.range(f"A:{column_letter(cols - 1)}").delete("left")


def _set_format(rng: Any, number_format: str) -> None:
    rng.number_format = number_format


def _set_formats(sheet: Any, block: _Block, top: int) -> None:
    """The header row as text, each column's data rows in its number format."""
    width = max(len(block.headers), 1)
    _set_format(sheet.range((top, 1), (top, width)), _TEXT_FORMAT)
    last = top + max(block.rows, 1)
    for i, fmt in enumerate(block.formats):
        _set_format(sheet.range((top + 1, i + 1), (last, i + 1)), fmt)


def _cells(block: _Block, text_ok: bool) -> list[list[Any]]:
    """The header and data rows as xlwings writes them."""
    text = [text_ok and f == _TEXT_FORMAT for f in block.formats]
    header = [excel_text(h, text_cell=text_ok) for h in block.headers]
    columns = [
        [_excel_cell(v, text_cell=t) for v in col]
        for col, t in zip(block.columns, text, strict=True)
    ]
    return [header, *(list(row) for row in zip(*columns, strict=True))]


def _validations(sheet: Any, write: TableWrite, top: int) -> None:
    columns = [str(c) for c in write.frame.columns]
    sheet.cells.data_validation.delete()
    for v in write.validations:
        if v.column in columns:
            col = columns.index(v.column) + 1
            cells = sheet.range((top + 1, col), (EXCEL_MAX_ROWS, col))
            cells.data_validation.set_list(list(v.choices))


def _conditional(sheet: Any, write: TableWrite, top: int, rows: int) -> None:
    columns = [str(c) for c in write.frame.columns]
    positions = {c: i for i, c in enumerate(columns)}
    rules = [check_rule(write.spec.name, f, positions) for f in write.formats]
    sheet.cells.conditional_formats.clear()
    if not rows:
        return
    first, last = top + 1, top + rows
    placed = []
    for rule in rules:
        for left, right in column_blocks(sorted(positions[c] for c in rule.columns)):
            cell = f"{column_letter(left)}{first}"
            area = f"{cell}:{column_letter(right)}{last}"
            placed.append((area, "=" + rule_formula(rule, cell, first, positions), rule.highlight))
    # xlwings puts a new rule first: add the lowest priority first.
    for area, formula, look in reversed(placed):
        sheet.range(area).conditional_formats.add_custom(
            formula,
            fill_color=f"#{look.fill}",
            font_color=f"#{look.font}" if look.font else None,
            font_bold=look.bold or None,
        )


def _hide(sheet: Any) -> None:
    try:
        sheet.api.Visible = _XL_SHEET_VERY_HIDDEN  # Windows: only VBA can show it again
    except Exception:  # macOS' object model has no very hidden through xlwings
        sheet.visible = False
