"""Reading a workbook file's tables with python-calamine (fast, Rust, values only)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import python_calamine as pc

from sheetloop.errors import BookUnreadableError
from sheetloop.workbooks.interface import RawTable
from sheetloop.workbooks.schema import header_key


class CalamineReader:
    """Finds tables by Excel table name (anywhere), or a sheet of that name (header at A1)."""

    #: Tables may be read from a background thread while earlier ones are parsed.
    reads_in_background = True

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._wb = pc.CalamineWorkbook.from_path(str(path), load_tables=True)
        except Exception as exc:  # calamine raises its own error types for broken files
            raise BookUnreadableError(
                f"{path.name}: cannot read the workbook ({exc}). Is it a valid .xlsx/.xlsm? "
                "Open and re-save it in Excel, or check the path."
            ) from exc

    @cached_property
    def _tables(self) -> dict[str, str]:
        return {header_key(n): n for n in self._wb.table_names or []}

    @property
    def sheet_names(self) -> list[str]:
        return list(self._wb.sheet_names)

    def table_names(self) -> list[str]:
        return list(self._wb.table_names or [])

    def find_table(self, name: str) -> RawTable | None:
        key = header_key(name)
        found = self._tables.get(key)
        if found is not None:
            return self._read_excel_table(found)
        for sheet in self._wb.sheet_names:
            if header_key(sheet) == key:
                return self._read_plain_sheet(sheet)
        return None

    def sheet_rows(self, sheet: str) -> list[list[Any]]:
        """Every cell of a sheet from A1, row by row."""
        rows: list[list[Any]] = self._wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        return rows

    def _read_excel_table(self, name: str) -> RawTable:
        t = self._wb.get_table_by_name(name)
        if t.start is None:  # a table without cells: treat as absent
            return RawTable(t.name, t.sheet, 1, 0, [str(h) for h in t.columns], [])
        data_row0, col0 = t.start
        headers = [str(h) for h in t.columns]
        rows: list[list[Any]] = t.to_python()
        # calamine's start is the first data row (0-based), i.e. the header's 1-based row.
        return RawTable(
            name=t.name,
            sheet=t.sheet,
            header_row=int(data_row0),
            first_col=int(col0),
            headers=headers,
            rows=rows,
            is_table=True,
        )

    def _read_plain_sheet(self, sheet: str) -> RawTable:
        grid: list[list[Any]] = self._wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        if not grid:
            return RawTable(sheet, sheet, 1, 0, [], [], is_table=False)
        header = grid[0]
        # The header ends at its first empty cell; what lies beyond is not the table's.
        width = next((i for i, v in enumerate(header) if v in ("", None)), len(header))
        headers = [str(h) for h in header[:width]]
        rows = [r[:width] for r in grid[1:]]
        return RawTable(sheet, sheet, 1, 0, headers, rows, is_table=False)
