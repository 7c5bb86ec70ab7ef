"""Problems found in a workbook's data, each pinned to a sheet and cell."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]

_PLAIN_SHEET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def column_letter(index: int) -> str:
    """Excel column letters of a 0-based column index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def cell_ref(row: int, col: int) -> str:
    """``A1``-style reference of a 1-based row and 0-based column."""
    return f"{column_letter(col)}{row}"


def sheet_ref(sheet: str) -> str:
    """A sheet name as Excel writes it in a reference (quoted when it needs to be)."""
    if _PLAIN_SHEET_NAME.match(sheet):
        return sheet
    return "'" + sheet.replace("'", "''") + "'"


@dataclass(frozen=True)
class Problem:
    """One problem: where it is and what is wrong (and, where useful, what to do)."""

    sheet: str
    cell: str  # "A1"-style
    message: str
    severity: Severity = "error"

    @property
    def where(self) -> str:
        return f"{sheet_ref(self.sheet)}!{self.cell}"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.where}: {prefix}{self.message}"
