"""Hand-made workbooks for tests, written with openpyxl (a writer independent of sheetloop)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.worksheet.table import Table

MINIMAL: dict[str, list[list[Any]]] = {
    "Items": [["Item", "Lead Time"], ["A", 1], ["B", 2]],
    "Demand": [["Demand", "Item", "Due", "Qty"]],
}


def make_book(
    path: Path,
    sheets: Mapping[str, Sequence[Sequence[Any]]],
    *,
    as_tables: bool = True,
    origin: tuple[int, int] = (1, 1),
    table_names: Mapping[str, str] | None = None,
) -> Path:
    """Write each sheet's rows (header first) starting at ``origin`` (row, column, 1-based),
    as an Excel table named like the sheet (or as ``table_names`` says) when ``as_tables``."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        r0, c0 = origin
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                cell = ws.cell(row=r0 + i, column=c0 + j, value=value)
                if isinstance(value, str) and value.startswith("="):
                    cell.data_type = "s"
        if as_tables and rows and rows[0]:
            width = len(rows[0])
            height = max(len(rows), 2)
            first = ws.cell(row=r0, column=c0).coordinate
            last = ws.cell(row=r0 + height - 1, column=c0 + width - 1).coordinate
            ws.add_table(
                Table(displayName=(table_names or {}).get(name, name), ref=f"{first}:{last}")
            )
    wb.save(path)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
