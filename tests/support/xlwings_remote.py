"""xlwings' remote engine as a stand-in for a live Excel, for tests.

xlwings' remote engine (the one behind xlwings Server and Lite) builds a book from the
JSON its clients (VBA, Office.js, Google Apps Script) send, and records what the book
should become as a list of *actions* that the client then runs in Excel. Here:

- :func:`payload_from_openpyxl` builds that JSON from an .xlsx file, as xlwings' VBA client
  builds it from an open workbook;
- :func:`remote_book` opens it as an ``xlwings.Book``;
- :func:`apply_actions` runs the recorded actions on a copy of the file with openpyxl,
  standing in for the client and Excel, so the result can be read back and compared.

The remote engine is xlwings PRO code, source-available under the PolyForm Noncommercial
licence, and enabled with ``XLWINGS_LICENSE_KEY=noncommercial``: it is used here, by the
tests only. sheetloop itself never needs an xlwings PRO licence: its adapter uses only
xlwings' open-source API and runs on a desktop Excel without one.

What Excel does with the values of ``setValues`` is emulated (see :func:`apply_actions`):
it is a model of Excel, not Excel, and the Windows/macOS COM path is not exercised here.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import xlwings as xw
from openpyxl.utils.cell import get_column_letter, range_boundaries
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

CLIENT = "VBA"
_LICENSE_ENV = "XLWINGS_LICENSE_KEY"

#: The actions :func:`apply_actions` knows; any other one fails the test that met it.
HANDLED_ACTIONS = (
    "activateSheet",
    "addSheet",
    "addTable",
    "rangeClearContents",
    "rangeDelete",
    "rangeInsert",
    "resizeTable",
    "setAutofit",
    "setNumberFormat",
    "setTableName",
    "setValues",
    "sheetClearContents",
)


class UnknownActionError(AssertionError):
    """An action the emulation does not model: teach it, don't ignore it."""


# --- the payload ----------------------------------------------------------------------------


def payload_from_openpyxl(path: Path, *, client: str = CLIENT) -> dict[str, Any]:
    """The JSON xlwings' client would send for the workbook at ``path``.

    Values are the cells' cached values (what Excel shows), covering each sheet's used
    range from A1; dates go as ISO strings ending in ``Z``, as the VBA client sends them
    (``2026-11-30T00:00:00.000Z``), which the engine turns back into datetimes.
    """
    wb = openpyxl.load_workbook(path, data_only=True)
    sheets = wb.worksheets
    active = wb.active
    active_index = sheets.index(active) if active in sheets else 0
    return {
        "client": client,
        "version": xw.__version__,
        "book": {
            "name": path.name,
            "active_sheet_index": active_index,
            "selection": _selection(sheets[active_index]) if sheets else None,
        },
        "names": _names(wb),
        "sheets": [
            {
                "name": ws.title,
                "values": _values(ws),
                "pictures": [],
                "tables": [_table_entry(t) for t in ws.tables.values()],
            }
            for ws in sheets
        ],
    }


def _selection(ws: Worksheet) -> str:
    views = ws.sheet_view.selection
    return str(views[0].sqref) if views and views[0].sqref else "A1"


def _values(ws: Worksheet) -> list[list[Any]]:
    if ws.max_row == 1 and ws.max_column == 1 and ws["A1"].value is None:
        return [[]]
    return [
        [_client_value(c.value) for c in row]
        for row in ws.iter_rows(min_row=1, min_col=1, max_row=ws.max_row, max_col=ws.max_column)
    ]


def _client_value(value: object) -> Any:
    """A cell value as the VBA client's JSON carries it."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if isinstance(value, dt.date):
        return f"{value.isoformat()}T00:00:00.000Z"
    if isinstance(value, dt.time):  # Excel's time-only cells are dates on day zero
        return dt.datetime.combine(dt.date(1899, 12, 30), value).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if isinstance(value, dt.timedelta):
        return (dt.datetime(1899, 12, 30) + value).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return value


def _absolute(ref: str) -> str:
    min_col, min_row, max_col, max_row = range_boundaries(ref)
    first = f"${get_column_letter(min_col)}${min_row}"
    last = f"${get_column_letter(max_col)}${max_row}"
    return first if first == last else f"{first}:{last}"


def _rows(ref: str, first: int, last: int) -> str | None:
    """The absolute address of rows ``first``..``last`` (1-based, inclusive) of ``ref``."""
    min_col, _, max_col, _ = range_boundaries(ref)
    if last < first:
        return None
    return _absolute(f"{get_column_letter(min_col)}{first}:{get_column_letter(max_col)}{last}")


def _table_entry(table: Table) -> dict[str, Any]:
    _, min_row, _, max_row = range_boundaries(table.ref)
    headers = 0 if table.headerRowCount == 0 else 1
    totals = 1 if table.totalsRowCount else 0
    style = table.tableStyleInfo.name if table.tableStyleInfo is not None else ""
    return {
        "name": table.displayName,
        "range_address": _absolute(table.ref),
        "header_row_range_address": _rows(table.ref, min_row, min_row) if headers else None,
        "data_body_range_address": _rows(table.ref, min_row + headers, max_row - totals),
        "total_row_range_address": _rows(table.ref, max_row, max_row) if totals else None,
        "show_headers": bool(headers),
        "show_totals": bool(totals),
        "table_style": style or "",
        "show_autofilter": table.autoFilter is not None,
    }


def _names(wb: openpyxl.Workbook) -> list[dict[str, Any]]:
    """Named ranges as the VBA client lists them (names that refer to one range)."""
    titles = [ws.title for ws in wb.worksheets]
    out: list[dict[str, Any]] = []
    scoped = [(None, n) for n in wb.defined_names.values()] + [
        (i, n) for i, ws in enumerate(wb.worksheets) for n in ws.defined_names.values()
    ]
    for scope, defined in scoped:
        destinations = list(defined.destinations) if defined.value else []
        if len(destinations) != 1 or destinations[0][0] not in titles:
            continue
        sheet, address = destinations[0]
        out.append(
            {
                "name": defined.name if scope is None else f"{titles[scope]}!{defined.name}",
                "sheet_index": titles.index(sheet),
                "address": address.replace("$", ""),
                "book_scope": scope is None,
                "scope_sheet_name": None if scope is None else titles[scope],
                "scope_sheet_index": scope,
            }
        )
    return out


# --- the remote book ------------------------------------------------------------------------


def _remote_engine_ready() -> None:
    """Register xlwings' remote engine, with the licence key set only while it loads.

    xlwings registers its PRO engines when it is first imported, and only with a licence
    key in the environment; the key is not read again afterwards.
    """
    if "remote" in [e.name for e in xw.engines]:
        return
    before = os.environ.get(_LICENSE_ENV)
    # Tests only: the PRO engine stands in for Excel. sheetloop never needs a PRO licence.
    os.environ[_LICENSE_ENV] = "noncommercial"
    try:
        remote = importlib.import_module("xlwings.pro._xlremote")
    finally:
        if before is None:
            del os.environ[_LICENSE_ENV]
        else:
            os.environ[_LICENSE_ENV] = before
    xw.engines.add(xw.main.Engine(impl=remote.engine))


def remote_book(path: Path, *, client: str = CLIENT) -> xw.Book:
    """The workbook at ``path`` as xlwings' remote engine sees it."""
    _remote_engine_ready()
    return xw.Book(json=payload_from_openpyxl(path, client=client))


def action_names(book: xw.Book) -> list[str]:
    """The names of the actions a remote book recorded, in order."""
    return [str(a["func"]) for a in book.json()["actions"]]


# --- running the actions ------------------------------------------------------------------


_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$")
_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def apply_actions(actions: Sequence[Mapping[str, Any]], path_in: Path, path_out: Path) -> Path:
    """Run a remote book's actions on a copy of ``path_in`` saved as ``path_out``.

    Handles :data:`HANDLED_ACTIONS`; an unknown action raises :class:`UnknownActionError`.
    Values of ``setValues`` land as Excel stores what xlwings' VBA client hands it:

    - a leading apostrophe is Excel's quote prefix: the rest is text;
    - an ISO date (``2026-11-30``, ``2026-11-30 08:00:00``) becomes a date: xlwings sends
      dates so and its VBA client parses them before Excel sees them;
    - in a cell formatted as text (``@``) anything else is text, numbers included;
    - elsewhere a number-like text becomes a number, ``TRUE``/``FALSE`` a boolean, and text
      starting with ``=``, ``+``, ``-`` or ``@`` that is no number becomes a formula.
    """
    shutil.copyfile(path_in, path_out)
    keep_vba = path_in.suffix.lower() == ".xlsm"
    wb = openpyxl.load_workbook(path_out, keep_vba=keep_vba)
    for action in actions:
        func = str(action["func"])
        handler = _HANDLERS.get(func)
        if handler is None:
            raise UnknownActionError(
                f"apply_actions does not model the action {func!r} (it handles "
                f"{', '.join(HANDLED_ACTIONS)}): {dict(action)}"
            )
        handler(wb, action)
    wb.save(path_out)
    return path_out


def _sheet(wb: openpyxl.Workbook, action: Mapping[str, Any]) -> Worksheet:
    return wb.worksheets[int(action["sheet_position"])]


def _cells(ws: Worksheet, action: Mapping[str, Any]) -> Iterator[Any]:
    r0, c0 = int(action["start_row"]) + 1, int(action["start_column"]) + 1
    rows, cols = int(action["row_count"]), int(action["column_count"])
    for row in ws.iter_rows(min_row=r0, max_row=r0 + rows - 1, min_col=c0, max_col=c0 + cols - 1):
        yield from row


def _set_values(wb: openpyxl.Workbook, action: Mapping[str, Any]) -> None:
    ws = _sheet(wb, action)
    r0, c0 = int(action["start_row"]) + 1, int(action["start_column"]) + 1
    for i, row in enumerate(action["values"]):
        for j, value in enumerate(row):
            _store(ws.cell(row=r0 + i, column=c0 + j), value)


def _store(cell: Any, value: Any) -> None:
    """``value`` into ``cell`` as Excel stores it (see :func:`apply_actions`)."""
    text_cell = cell.number_format == "@"
    cell.quotePrefix = False
    if value is None or value == "":
        cell.value = None
        return
    if isinstance(value, str) and value.startswith("'"):
        cell.value = value[1:]
        cell.data_type = "s"
        cell.quotePrefix = True
        return
    if isinstance(value, str) and (m := _ISO_DATE.match(value)):
        cell.value = dt.datetime(*(int(g) for g in m.groups(default="0")))
        if not cell.is_date:
            cell.number_format = "yyyy-mm-dd" if m.group(4) is None else "yyyy-mm-dd hh:mm:ss"
        return
    if text_cell:
        if isinstance(value, bool):
            value = "TRUE" if value else "FALSE"
        elif isinstance(value, float) and value.is_integer():
            value = str(int(value))
        cell.value = str(value)
        cell.data_type = "s"
        return
    if isinstance(value, bool | int | float):
        cell.value = value
        return
    text = str(value)
    if _NUMBER.match(text):
        cell.value = float(text)
    elif text.strip().upper() in ("TRUE", "FALSE"):
        cell.value = text.strip().upper() == "TRUE"
    elif text.startswith(("=", "+", "-", "@")):
        cell.value = text if text.startswith("=") else "=" + text
        cell.data_type = "f"
    else:
        cell.value = text
        cell.data_type = "s"


def _set_number_format(wb: openpyxl.Workbook, action: Mapping[str, Any]) -> None:
    (fmt,) = action["args"]
    for cell in _cells(_sheet(wb, action), action):
        cell.number_format = fmt


def _autofit(wb: openpyxl.Workbook, action: Mapping[str, Any]) -> None:
    """Column widths: presentation, which the comparison leaves out (openpyxl cannot
    measure text as Excel does)."""


def _clear(cells: Iterator[Any]) -> None:
    for cell in cells:
        cell.value = None


def _range_clear_contents(wb: openpyxl.Workbook, action: Mapping[str, Any]) -> None:
    _clear(_cells(_sheet(wb, action), action))


def _sheet_clear_contents(wb: openpyxl.Workbook, action: Mapping[str, Any]) -> None:
    ws = _sheet(wb, action)
    _clear(cell for row in ws.iter_rows() for cell in row)


def _add_sheet(wb: openpyxl.Workbook, action: Mapping[str, Any]) -> None:
    position, name = action["args"]
    worksheets = wb.worksheets
    index = (
        wb._sheets.index(worksheets[position]) if position < len(worksheets) else len(wb._sheets)
    )
    wb.create_sheet(title=name, index=index)


def _activate_sheet(wb: openpyxl.Workbook, action: Mapping[str, Any]) -> None:
    (position,) = action["args"]
    wb.active = wb._sheets.index(wb.worksheets[int(position)])
    for ws in wb.worksheets:
        ws.sheet_view.tabSelected = ws is wb.active


def _tables(ws: Worksheet) -> list[Table]:
    return list(ws.tables.values())


def _add_table(wb: openpyxl.Workbook, action: Mapping[str, Any]) -> None:
    address, has_headers, style, name = action["args"]
    assert has_headers, "sheetloop's tables have a header row"
    ws = _sheet(wb, action)
    ref = address.replace("$", "")
    table = Table(displayName=name, ref=ref)
    table.tableStyleInfo = TableStyleInfo(name=style, showRowStripes=True)
    ws.add_table(table)
    _header_columns(ws, table)


def _resize_table(wb: openpyxl.Workbook, action: Mapping[str, Any]) -> None:
    index, address = action["args"]
    ws = _sheet(wb, action)
    table = _tables(ws)[int(index)]
    _set_ref(table, address.replace("$", ""))
    _header_columns(ws, table)


def _set_table_name(wb: openpyxl.Workbook, action: Mapping[str, Any]) -> None:
    index, name = action["args"]
    ws = _sheet(wb, action)
    table = _tables(ws)[int(index)]
    del ws.tables[table.name]
    table.name = table.displayName = name
    ws.tables.add(table)


def _set_ref(table: Table, ref: str) -> None:
    table.ref = ref
    if table.autoFilter is not None:
        table.autoFilter.ref = ref


def _header_columns(ws: Worksheet, table: Table) -> None:
    """Excel names a table's columns after its header cells (as text; blanks ``ColumnN``)."""
    min_col, min_row, max_col, _ = range_boundaries(table.ref)
    names: list[str] = []
    for i, col in enumerate(range(min_col, max_col + 1)):
        value = ws.cell(row=min_row, column=col).value
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        names.append(f"Column{i + 1}" if value in (None, "") else str(value))
    table.tableColumns = [TableColumn(id=i + 1, name=n) for i, n in enumerate(names)]


def _range_insert(wb: openpyxl.Workbook, action: Mapping[str, Any]) -> None:
    shift = action["args"][0]
    ws = _sheet(wb, action)
    if shift != "down" or int(action["column_count"]) != 16384:
        raise UnknownActionError(f"rangeInsert is modelled for whole rows only: {dict(action)}")
    first, count = int(action["start_row"]) + 1, int(action["row_count"])
    ws.insert_rows(first, count)
    _shift_tables(ws, rows=count, at_row=first)


def _range_delete(wb: openpyxl.Workbook, action: Mapping[str, Any]) -> None:
    shift = action["args"][0]
    ws = _sheet(wb, action)
    if shift == "up" and int(action["column_count"]) == 16384:
        first, count = int(action["start_row"]) + 1, int(action["row_count"])
        ws.delete_rows(first, count)
        _shift_tables(ws, rows=-count, at_row=first)
    elif shift == "left" and int(action["row_count"]) == 1048576:
        first, count = int(action["start_column"]) + 1, int(action["column_count"])
        ws.delete_cols(first, count)
        _shift_tables(ws, cols=-count, at_col=first)
    else:
        raise UnknownActionError(
            f"rangeDelete is modelled for whole rows or columns only: {dict(action)}"
        )


def _shift_tables(
    ws: Worksheet, *, rows: int = 0, cols: int = 0, at_row: int = 1, at_col: int = 1
) -> None:
    """Move the tables below/right of an inserted or deleted block with their cells."""
    for table in _tables(ws):
        min_col, min_row, max_col, max_row = range_boundaries(table.ref)
        if rows and min_row >= at_row:
            min_row, max_row = min_row + rows, max_row + rows
        if cols and min_col >= at_col:
            min_col, max_col = min_col + cols, max_col + cols
        _set_ref(
            table,
            f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{max_row}",
        )


_HANDLERS = {
    "activateSheet": _activate_sheet,
    "addSheet": _add_sheet,
    "addTable": _add_table,
    "rangeClearContents": _range_clear_contents,
    "rangeDelete": _range_delete,
    "rangeInsert": _range_insert,
    "resizeTable": _resize_table,
    "setAutofit": _autofit,
    "setNumberFormat": _set_number_format,
    "setTableName": _set_table_name,
    "setValues": _set_values,
    "sheetClearContents": _sheet_clear_contents,
}
assert tuple(sorted(_HANDLERS)) == HANDLED_ACTIONS
