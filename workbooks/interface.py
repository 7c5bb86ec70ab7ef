"""The small workbook interface every feature works through.

Two adapters implement it: a file on disk (read with python-calamine, written
surgically into the .xlsx package) and a live Excel workbook (xlwings). Readers hand out
raw cell values; parsing, validation and formatting live above this line and are shared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import pandas as pd

from sheetloop.workbooks.schema import Table, header_key


@dataclass
class RawTable:
    """A table's cells as found in the book, before any parsing."""

    name: str  # the Excel table name, or the sheet name for the plain-sheet fallback
    sheet: str
    header_row: int  # 1-based row of the header
    first_col: int  # 0-based column of the first header cell
    headers: list[str]
    rows: list[list[Any]]  # data rows under the header, raw values
    is_table: bool = True  # False: a plain header row at A1 of a sheet with that name


@dataclass
class Validation:
    """A dropdown for one column of a table being written."""

    column: str
    choices: tuple[str, ...]


@dataclass(frozen=True)
class Highlight:
    """How a conditionally formatted cell looks: a fill and, optionally, a font colour.

    Colours are ``RRGGBB`` hex (``"FFC7CE"``). Written as a differential format (``dxf``)
    in ``xl/styles.xml``; an identical one already there is reused.
    """

    fill: str
    font: str | None = None
    bold: bool = False


SHORTFALL = Highlight("FFC7CE", "9C0006")  # Excel's "light red fill with dark red text"
WARNING = Highlight("FFEB9C", "9C5700")  # Excel's "yellow fill with dark yellow text"
GOOD = Highlight("C6EFCE", "006100")  # Excel's "green fill with dark green text"

Comparison = Literal["<", "<=", ">", ">=", "=", "<>"]


@dataclass(frozen=True)
class ConditionalFormat:
    """Highlight cells of a written table that meet a condition, live in Excel.

    The rule covers the data rows of ``columns`` and is evaluated cell by cell: a cell is
    highlighted when it holds a number, its row matches ``where`` (each named column of the
    row equals the given text or number) and, when ``op`` is set, ``cell op value`` holds,
    where the value is the constant ``value`` or the number in column ``against`` of the
    same row. Without ``op`` every cell of a matching row is highlighted (numbers or not).
    Rules apply in list order of priority (the first wins where two set the same thing).
    """

    columns: tuple[str, ...]
    op: Comparison | None = None
    value: float | None = None
    against: str | None = None
    where: Mapping[str, str | float] = field(default_factory=dict)
    highlight: Highlight = SHORTFALL


@dataclass(frozen=True)
class RowSeries:
    """A chart series read across one data row, over the chart's ``across`` columns.

    The row is the first one whose cells equal ``where`` (e.g. ``{"Item": "A-100",
    "Line": "Projected On Hand"}``). With ``level`` the series is instead a flat dashed
    line at that row's value in the ``level`` column (e.g. ``"Safety Stock"``), drawn over
    every category; its values are written into the chart (a copy), not referenced.
    A series whose row is absent is left out of the chart.
    """

    name: str
    where: Mapping[str, str | float]
    level: str | None = None
    color: str | None = None  # RRGGBB; default: a palette colour by series position


@dataclass(frozen=True)
class ColumnSeries:
    """A chart series read down one column: one point per data row (the first
    ``ChartSpec.max_rows``), labelled by the chart's ``categories`` column."""

    name: str
    column: str
    color: str | None = None


@dataclass(frozen=True)
class ChartSpec:
    """A native Excel chart of a written table; its series reference the table's cells and
    carry cached values, so it renders without recalculation.

    Either every series is a :class:`RowSeries` and ``across`` names the columns the chart
    runs over (their header cells are the categories: the MRP grid's buckets), or every
    series is a :class:`ColumnSeries` and ``categories`` names the column that labels the
    points. A chart none of whose series has data (an empty table) is not drawn.
    """

    title: str
    series: tuple[RowSeries | ColumnSeries, ...]
    kind: Literal["line", "column", "bar"] = "line"  # bar: horizontal bars
    across: tuple[str, ...] = ()
    categories: str | None = None
    max_rows: int = 25
    value_format: str | None = None  # the value axis' number format; default: the data's
    size: tuple[int, int] = (10, 18)  # columns wide, rows high (at the default cell size)


@dataclass
class TableWrite:
    """An output or template table to write: the schema, the data and its presentation."""

    spec: Table
    frame: pd.DataFrame
    validations: list[Validation] = field(default_factory=list)
    sheet: str | None = None  # default: the table's own sheet
    note: str | None = None  # a line above the table (e.g. "grid shows 2,000 of 9,000 items")
    formats: list[ConditionalFormat] = field(default_factory=list)
    charts: list[ChartSpec] = field(default_factory=list)
    # None: charts sit beside the table (right of its last column, from its header row);
    # a name: on a sheet of that name that sheetloop owns, stacked from B2.
    chart_sheet: str | None = None


@dataclass
class TablePatch:
    """Cell-level changes to a table the user owns (what ``pull`` may write, and no more).

    Rows are the data rows of the table as read (0-based, as in :attr:`RawTable.rows`);
    columns are header names, matched leniently. Every cell not named keeps its value,
    formula and style; rows appended below take the style of the last row and the table's
    calculated-column formulas; ``removes`` close up within the table's columns.
    """

    spec: Table
    updates: dict[int, dict[str, Any]] = field(default_factory=dict)
    appends: list[dict[str, Any]] = field(default_factory=list)
    removes: list[int] = field(default_factory=list)
    new_columns: list[str] = field(default_factory=list)  # added at the table's right

    @property
    def empty(self) -> bool:
        return not (self.updates or self.appends or self.removes or self.new_columns)

    def merged(self, other: TablePatch) -> TablePatch:
        """This patch and ``other`` (made against the same table as read) as one, so that
        two connections pulling into one table in a run add their columns and rows side by
        side; where both set a cell, ``other`` wins."""
        updates = {row: dict(cells) for row, cells in self.updates.items()}
        for row, cells in other.updates.items():
            updates.setdefault(row, {}).update(cells)
        known = {header_key(c) for c in self.new_columns}
        return TablePatch(
            self.spec,
            updates,
            [*self.appends, *other.appends],
            sorted({*self.removes, *other.removes}),
            [*self.new_columns, *(c for c in other.new_columns if header_key(c) not in known)],
        )


def stage_patch(
    staged: list[tuple[TablePatch, RawTable]], patch: TablePatch, raw: RawTable
) -> None:
    """Add ``patch`` to an adapter's staged patches, merged with one already staged for the
    same table (both were made against the table as read)."""
    for i, (earlier, earlier_raw) in enumerate(staged):
        if header_key(earlier_raw.name) == header_key(raw.name):
            staged[i] = (earlier.merged(patch), earlier_raw)
            return
    staged.append((patch, raw))


class WorkbookReader(Protocol):
    """Read access to a workbook's tables."""

    @property
    def sheet_names(self) -> list[str]: ...

    def find_table(self, name: str) -> RawTable | None:
        """The table with this Excel table name (anywhere in the book), else a sheet of
        that name with a header row at A1; names are matched leniently."""
        ...

    def table_names(self) -> list[str]:
        """Excel table names in the book."""
        ...


class Workbook(WorkbookReader, Protocol):
    """A workbook that can also take sheetloop's writes, staged until ``save``."""

    def replace_table(self, write: TableWrite) -> None:
        """Replace (or create) an owned table, keeping the user's added columns by key."""
        ...

    def append_rows(self, spec: Table, frame: pd.DataFrame) -> None:
        """Append rows to a log table (RunLog, SyncLog), creating it if absent."""
        ...

    def add_table(self, write: TableWrite) -> None:
        """Add a table (and its sheet) that the book lacks (``init``)."""
        ...

    def patch_table(self, patch: TablePatch) -> None:
        """Change named cells of a user's table, add rows below it or close up removed
        rows (``pull``); refuse, naming the cells, when the table cannot grow."""
        ...

    def set_state(self, key: str, value: str) -> None:
        """Record a value in sheetloop's very hidden state sheet."""
        ...
