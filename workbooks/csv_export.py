"""Output tables as CSV files beside the book (``--export DIR``, and tables too big for a
sheet). Text that a spreadsheet would read as a formula is neutralised, as in the book."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from sheetloop.workbooks.interface import TableWrite

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """Prefix text that starts like a formula with an apostrophe (OWASP's CSV advice)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def export_csv(folder: Path, writes: Iterable[TableWrite]) -> list[Path]:
    """Write each table to ``folder/<Table>.csv`` (UTF-8 with BOM, so Excel reads it)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for write in writes:
        path = folder / f"{write.spec.name}.csv"
        frame = write.frame.copy()
        for column in frame.columns:
            if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
                frame[column] = frame[column].map(neutralise)
        frame.to_csv(
            path,
            index=False,
            encoding="utf-8-sig",
            quoting=csv.QUOTE_MINIMAL,
            date_format="%Y-%m-%d",
        )
        paths.append(path)
    return paths
