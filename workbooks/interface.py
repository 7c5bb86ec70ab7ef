"""The small workbook interface every feature works through.

Two adapters implement it: a file on disk (read with python-calamine, written
surgically into the .xlsx package) and a live Excel workbook (xlwings). Readers hand out
raw cell values; parsing, validation and formatting live above this line and are shared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from sheetloop.workbooks.schema import Table


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


@dataclass
class TableWrite:
    """An output or template table to write: the schema, the data and its presentation."""

    spec: Table
    frame: pd.DataFrame
    validations: list[Validation] = field(default_factory=list)
    sheet: str | None = None  # default: the table's own sheet
    note: str | None = None  # a line above the table (e.g. "grid shows 2,000 of 9,000 items")


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

    def set_state(self, key: str, value: str) -> None:
        """Record a value in sheetloop's very hidden state sheet."""
        ...
