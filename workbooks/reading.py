"""Parsing one raw table against its schema: headers, types, defaults, keys.

The result keeps, for every row, the Excel row it came from, so every later check (a
reference, a cycle, a date beyond the horizon) can name its cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from sheetloop.workbooks.coerce import blank_mask, convert
from sheetloop.workbooks.interface import RawTable
from sheetloop.workbooks.problems import Problem, cell_ref
from sheetloop.workbooks.schema import Column, Kind, Table, header_key


@dataclass
class LoadedTable:
    """A parsed table: typed columns under their contract names, plus the user's extras."""

    spec: Table
    frame: pd.DataFrame
    sheet: str
    header_row: int
    excel_rows: npt.NDArray[np.int64]  # Excel row of each frame row
    column_index: dict[str, int] = field(default_factory=dict)  # name -> 0-based sheet col
    found: bool = True
    extra_columns: list[str] = field(default_factory=list)

    def cell(self, position: int, column: str) -> str:
        """``A1`` reference of a frame row's cell in ``column``."""
        col = self.column_index.get(column, self.column_index.get(self.spec.columns[0].name, 0))
        return cell_ref(int(self.excel_rows[position]), col)

    def problem(self, position: int, column: str, message: str, severity: str = "error") -> Problem:
        return Problem(
            self.sheet,
            self.cell(position, column),
            message,
            "warning" if severity == "warning" else "error",
        )

    def __len__(self) -> int:
        return len(self.frame)


def empty_table(spec: Table) -> LoadedTable:
    """A table the book does not have, as an empty frame with the contract's columns."""
    frame = pd.DataFrame(
        {c.name: pd.Series([], dtype=_dtype(c, periods=False)) for c in spec.columns}
    )
    return LoadedTable(
        spec,
        frame,
        spec.sheet,
        1,
        np.empty(0, dtype=np.int64),
        {c.name: i for i, c in enumerate(spec.columns)},
        found=False,
    )


def parse_table(
    raw: RawTable, spec: Table, *, periods: bool = False
) -> tuple[LoadedTable, list[Problem]]:
    """Parse a raw table: match headers leniently, drop empty rows, convert every column,
    apply defaults, and check required cells and key uniqueness. Every problem is
    returned (none raised), each naming its cell."""
    problems: list[Problem] = []
    sheet = raw.sheet
    by_key: dict[str, int] = {}
    for pos, header in enumerate(raw.headers):
        k = header_key(header)
        if not k:
            continue
        if k in by_key:
            first = cell_ref(raw.header_row, raw.first_col + by_key[k])
            problems.append(
                Problem(
                    sheet,
                    cell_ref(raw.header_row, raw.first_col + pos),
                    f"column {header!r} appears twice (also at {first})",
                )
            )
            continue
        by_key[k] = pos

    for col in spec.columns:
        if col.required and col.key not in by_key:
            problems.append(
                Problem(
                    sheet,
                    cell_ref(raw.header_row, raw.first_col + len(raw.headers)),
                    f"table {raw.name} has no column {col.name!r}: add it to the header row",
                )
            )

    width = len(raw.headers)
    grid = _grid(raw.rows, width)
    # A row is empty when every cell is "" or None (how readers return empty cells).
    empty = ((grid == "") | (grid == None)).all(axis=1)  # noqa: E711 - elementwise
    kept = np.flatnonzero(~empty).astype(np.int64)
    if len(kept) != len(grid):
        grid = grid[kept]
    n_rows = len(kept)
    excel_rows = kept + raw.header_row + 1
    columns_raw = [grid[:, j].tolist() for j in range(width)]

    data: dict[str, Any] = {}
    column_index: dict[str, int] = {}
    known = set()
    for col in spec.columns:
        at = by_key.get(col.key)
        if at is None:
            data[col.name] = _default_column(col, n_rows, periods)
            column_index[col.name] = raw.first_col + width  # where it would go
            continue
        known.add(at)
        column_index[col.name] = raw.first_col + at
        values = columns_raw[at] if columns_raw else []
        if not col.required and values.count("") + values.count(None) == len(values):
            # An empty optional column (common: sync columns, unused parameters) is its
            # default; counting blanks runs in C, converting them would not.
            data[col.name] = _default_column(col, n_rows, periods)
            continue
        typed, bad = convert(col, values, periods=periods)
        for i, message in bad:
            problems.append(
                Problem(sheet, cell_ref(int(excel_rows[i]), raw.first_col + at), message)
            )
        if isinstance(typed, list) and None not in typed:  # a C-level scan: most have none
            data[col.name] = pd.Series(typed, dtype=object, copy=False)
            continue
        blanks = blank_mask(typed)
        if col.required and blanks.any():
            bad_rows = {i for i, _ in bad}
            for j in np.flatnonzero(blanks).tolist():
                if j not in bad_rows:
                    problems.append(
                        Problem(
                            sheet,
                            cell_ref(int(excel_rows[j]), raw.first_col + at),
                            f"{col.name} is required",
                        )
                    )
        filled = _with_default(col, typed, blanks, periods)
        data[col.name] = (
            pd.Series(filled, dtype=object, copy=False) if isinstance(filled, list) else filled
        )

    extras = []
    for pos, header in enumerate(raw.headers):
        if pos in known or not str(header).strip():
            continue
        name = str(header)
        if name in data:
            continue
        extras.append(name)
        column_index[name] = raw.first_col + pos
        data[name] = list(columns_raw[pos]) if columns_raw else []

    frame = pd.DataFrame(data, index=pd.RangeIndex(n_rows))
    loaded = LoadedTable(
        spec, frame, sheet, raw.header_row, excel_rows, column_index, extra_columns=extras
    )
    problems.extend(duplicate_keys(loaded))
    return loaded, problems


def _grid(rows: list[list[Any]], width: int) -> npt.NDArray[np.object_]:
    """The rows as a 2-D object array (numpy transposes and compares in C)."""
    grid = np.empty((len(rows), width), dtype=object)
    if not rows or not width:
        return grid
    try:
        grid[:] = rows
    except ValueError:  # ragged rows (a reader that trims them): pad to the width
        grid[:] = [[*r[:width], *[""] * (width - len(r))] for r in rows]
    return grid


def duplicate_keys(t: LoadedTable) -> list[Problem]:
    """A duplicate key is an error naming both rows."""
    if not t.spec.key or t.frame.empty:
        return []
    keys = t.frame[list(t.spec.key)].astype(object)
    if keys.isna().all(axis=1).any() and len(t.spec.key) == 1:
        keys = keys[keys.notna().all(axis=1)]
    dup = keys.duplicated(keep=False)
    if not dup.any():
        return []
    problems = []
    first_at: dict[tuple[Any, ...], int] = {}
    for pos, key in zip(keys.index[dup], keys[dup].itertuples(index=False, name=None), strict=True):
        key_t = tuple(None if v is None or v != v else v for v in key)
        if key_t not in first_at:
            first_at[key_t] = int(pos)
            continue
        shown = ", ".join(
            f"{n}={v!s}" for n, v in zip(t.spec.key, key_t, strict=True) if v is not None
        )
        problems.append(
            t.problem(
                int(pos),
                t.spec.key[0],
                f"duplicate key {shown}: also in row {int(t.excel_rows[first_at[key_t]])}",
            )
        )
    return problems


def _dtype(col: Column, periods: bool) -> str:
    if col.kind in (Kind.NUMBER, Kind.INTEGER, Kind.FRACTION):
        return "float64"
    if col.kind is Kind.DATE:
        return "float64" if periods else "datetime64[s]"
    if col.kind is Kind.DATETIME:
        return "datetime64[s]"
    return "object"


def _default_column(col: Column, n: int, periods: bool) -> Any:
    kind_dtype = _dtype(col, periods)
    if kind_dtype == "float64":
        value = np.nan if col.default is None else float(col.default)
        return np.full(n, value)
    if kind_dtype.startswith("datetime"):
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
    return [col.default] * n


def _with_default(col: Column, typed: Any, blanks: npt.NDArray[np.bool_], periods: bool) -> Any:
    if col.default is None or not blanks.any():
        return typed
    if isinstance(typed, np.ndarray):
        out = typed.copy()
        out[blanks] = float(col.default) if out.dtype.kind == "f" else col.default
        return out
    return [col.default if b else v for v, b in zip(typed, blanks, strict=True)]
