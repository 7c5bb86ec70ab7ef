"""Output tables as CSV files beside the book (``--export DIR``, and tables too big for a
sheet). Text that a spreadsheet would read as a formula is neutralised, as in the book.

The files are what pandas' ``to_csv`` writes (UTF-8 with a BOM, minimal quoting, floats as
``repr``, dates as ``YYYY-MM-DD``), but a big plan's tables run to tens of millions of
rows, so they are written a million rows at a time, a column at a time, as blocks of
bytes (see ``sheet_xml``): no Python object per cell.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from sheetloop.workbooks.byte_blocks import (
    Block,
    constant,
    float_block,
    int_block,
    placed,
    squeeze,
    utf8_block,
    wrap,
)
from sheetloop.workbooks.interface import TableWrite

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Which bytes start a formula, and which make a field need quotes (indexed by byte).
_FORMULA_BYTE = np.isin(np.arange(256), [ord(c) for c in _FORMULA_START])
_QUOTE_BYTE = np.isin(np.arange(256), [ord(c) for c in ',"\r\n'])
_ROWS_AT_ONCE = 1_000_000


def export_csv(folder: Path, writes: Iterable[TableWrite]) -> list[Path]:
    """Write each table to ``folder/<Table>.csv`` (UTF-8 with BOM, so Excel reads it)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for write in writes:
        path = folder / f"{write.spec.name}.csv"
        write_csv(path, write.frame)
        paths.append(path)
    return paths


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    """One table as a CSV file: a header row, then a line per row."""
    line_end = os.linesep
    columns = [_Column(frame.iloc[:, k]) for k in range(frame.shape[1])]
    with open(path, "wb") as out:
        out.write(b"\xef\xbb\xbf")
        header = [_text_fields(np.array([str(c)], dtype=object)) for c in frame.columns]
        out.write(squeeze(_joined(header, line_end)))
        for start in range(0, len(frame), _ROWS_AT_ONCE):
            stop = min(start + _ROWS_AT_ONCE, len(frame))
            blocks = [column.fields(start, stop) for column in columns]
            out.write(squeeze(_joined(blocks, line_end)))


def _joined(blocks: list[Block], line_end: str) -> list[Block]:
    rows = len(blocks[0])
    out: list[Block] = []
    for k, block in enumerate(blocks):
        if k:
            out.append(constant(",", rows))
        out.append(block)
    out.append(constant(line_end, rows))
    return out


class _Column:
    """One column's CSV fields, a range of rows at a time. What does not depend on the
    rows (a categorical's categories, the distinct dates) is prepared once."""

    def __init__(self, values: pd.Series) -> None:
        self.values = values
        self.table: Block | None = None  # fields of distinct values, then an empty one
        self.codes: npt.NDArray[np.int64] | None = None
        dtype = values.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            labels = dtype.categories.to_numpy(object)
            numeric = dtype.categories.dtype.kind in "fiub"
            texts = np.array([str(v) for v in labels], dtype=object) if numeric else labels
            self._distinct(np.asarray(values.cat.codes, dtype=np.int64), texts, text=not numeric)
        elif dtype.kind == "M":
            codes, days = pd.factorize(values)
            texts = pd.DatetimeIndex(days).strftime("%Y-%m-%d").to_numpy(object)
            self._distinct(np.asarray(codes, dtype=np.int64), texts)
        elif dtype.kind == "b":
            self._distinct(values.to_numpy(np.int64), np.array(["False", "True"], dtype=object))

    def _distinct(
        self, codes: npt.NDArray[np.int64], texts: npt.NDArray[np.object_], *, text: bool = False
    ) -> None:
        fields = _text_fields(texts) if text else utf8_block(texts)
        self.table = np.concatenate([fields, np.zeros((1, fields.shape[1]), np.uint8)])
        self.codes = np.where(codes >= 0, codes, len(texts))

    def fields(self, start: int, stop: int) -> Block:
        if self.table is not None and self.codes is not None:
            return self.table[self.codes[start:stop]]
        part = self.values.iloc[start:stop]
        kind = part.dtype.kind
        if kind in "iu":
            return int_block(part.to_numpy(np.int64))
        if kind == "f":
            numbers = part.to_numpy(np.float64)
            block, _ = float_block(numbers)
            # pandas writes infinities as inf and -inf; missing values as nothing.
            infinite = np.flatnonzero(np.isinf(numbers))
            return placed(block, infinite, [str(v) for v in numbers[infinite].tolist()])
        return _object_fields(part)


def _object_fields(part: pd.Series) -> Block:
    """Fields of text (or mixed) values: missing values empty, the rest as ``str``."""
    values = part.to_numpy(object)
    missing = pd.isna(part).to_numpy(bool)
    texts = np.where(missing, "", values)
    text = None
    if pd.api.types.infer_dtype(texts, skipna=False) != "string":
        # A number among text (-1.5) is written as a number: no apostrophe.
        text = np.array([type(v) is str for v in texts.tolist()], dtype=bool)
        odd = np.flatnonzero(~text)
        texts[odd] = [str(v) for v in texts[odd].tolist()]
    return _text_fields(texts, text)


def _text_fields(
    texts: npt.NDArray[np.object_], text: npt.NDArray[np.bool_] | None = None
) -> Block:
    """Text as CSV fields: a formula-like start gets an apostrophe (OWASP's advice), then
    a field with a comma, quote or line break is quoted (its quotes doubled). ``text``
    says which rows were text (default: all); only those can look like a formula."""
    block = utf8_block(texts)
    if not len(block):
        return block
    risky: npt.NDArray[np.bool_] = _FORMULA_BYTE[block[:, 0]]
    if text is not None:
        risky &= text
    special = np.asarray(_QUOTE_BYTE[block].any(axis=1), dtype=bool)
    block = wrap(block, risky, "'", "") if risky.any() else block
    if not special.any():
        return block
    has_quote = np.flatnonzero(special & (block == ord('"')).any(axis=1))
    quoted = wrap(block, special, '"', '"')
    if len(has_quote):
        inner = [bytes(row[row != 0]).decode("utf-8") for row in block[has_quote]]
        quoted = placed(quoted, has_quote, ['"' + t.replace('"', '""') + '"' for t in inner])
    return quoted


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
