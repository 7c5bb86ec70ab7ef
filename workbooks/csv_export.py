"""Output tables as CSV files beside the book (``--export DIR``, and tables too big for a
sheet). Text that a spreadsheet would read as a formula is neutralised, as in the book."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from sheetloop.workbooks.interface import TableWrite

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_csv(folder: Path, writes: Iterable[TableWrite]) -> list[Path]:
    """Write each table to ``folder/<Table>.csv`` (UTF-8 with BOM, so Excel reads it)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for write in writes:
        path = folder / f"{write.spec.name}.csv"
        frame = write.frame.copy()
        # Text a spreadsheet would read as a formula gets an apostrophe (OWASP's advice).
        for column in frame.columns:
            values = frame[column]
            if values.dtype == object or pd.api.types.is_string_dtype(values):
                text = values.astype(object)
                risky = text.str[:1].isin(_FORMULA_START).fillna(False).to_numpy(bool)
                if risky.any():
                    frame[column] = text.where(~risky, "'" + text.astype(str))
        frame.to_csv(
            path,
            index=False,
            encoding="utf-8-sig",
            quoting=csv.QUOTE_MINIMAL,
            date_format="%Y-%m-%d",
        )
        paths.append(path)
    return paths


def fit_to_sheet(write: TableWrite, folder: Path, max_rows: int) -> tuple[TableWrite, str | None]:
    """A table that would not fit a sheet: write all of it as CSV into ``folder``, keep the
    rows that fit, and say so in the sheet's note. Returns the write and the message."""
    if len(write.frame) <= max_rows:
        return write, None
    (path,) = export_csv(folder, [write])
    total = len(write.frame)
    message = (
        f"{write.spec.name} has {total:,} rows, more than a sheet holds: the sheet shows "
        f"the first {max_rows:,}; all of them are in {path}"
    )
    kept = TableWrite(
        write.spec,
        write.frame.iloc[:max_rows].reset_index(drop=True),
        validations=write.validations,
        sheet=write.sheet,
        note=message,
    )
    return kept, message
