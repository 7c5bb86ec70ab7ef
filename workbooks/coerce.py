"""Turning raw cell values into typed columns, one column at a time.

Each converter takes the raw values of one column (as a reader returns them: ``str``,
``float``, ``bool``, ``date``/``datetime``, or ``""``/``None`` for empty) and returns the
typed values plus the positions and messages of the cells it could not convert. The
converters run once per column with tight comprehensions: they are the hot path of reading
a 100,000-row book.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from sheetloop.workbooks.schema import Column, Kind

Bad = list[tuple[int, str]]  # (row position, message)

EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_YES = {"yes", "y", "x", "1", "true", "ja", "oui", "si"}
_NO = {"no", "n", "0", "false", ""}


def is_blank(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _slow_positions(out: list[Any], marker: object) -> list[int]:
    if marker not in out:  # a C-level scan; the common case has nothing left to do
        return []
    return [i for i, v in enumerate(out) if v is marker]


_SLOW = object()  # marks cells the fast pass left for the careful one


def to_code(values: Sequence[Any]) -> tuple[list[str | None], Bad]:
    """Identifiers are text: ``123`` typed as a number is the code ``"123"``."""
    # Fast pass: text cells (nearly all of them) in one comprehension.
    out: list[Any] = [(v.strip() or None) if v.__class__ is str else _SLOW for v in values]
    bad: Bad = []
    for i in _slow_positions(out, _SLOW):
        v = values[i]
        if v.__class__ is float or v.__class__ is int:
            if v != v:  # NaN
                out[i] = None
            elif float(v).is_integer():
                out[i] = str(int(v))
            else:
                out[i] = repr(float(v))
        else:
            out[i] = None
            if v is not None:
                bad.append((i, f"expected a code (text), got {_show(v)}"))
    return out, bad


def to_text(values: Sequence[Any]) -> tuple[list[str | None], Bad]:
    """Free text; numbers are shown as Excel shows them."""
    out: list[Any] = [(v if v.strip() else None) if v.__class__ is str else _SLOW for v in values]
    for i in _slow_positions(out, _SLOW):
        v = values[i]
        if is_blank(v):
            out[i] = None
        elif isinstance(v, float) and v.is_integer():
            out[i] = str(int(v))
        elif isinstance(v, dt.datetime):
            out[i] = v.isoformat(sep=" ")
        elif isinstance(v, dt.date):
            out[i] = v.isoformat()
        else:
            out[i] = str(v)
    return out, []


def _number(v: Any) -> float | None:
    t = type(v)
    if t is float or t is int:
        return float(v)
    if t is str:
        s = v.strip().replace(",", "").replace("_", "")
        if not s:
            return math.nan
        pct = s.endswith("%")
        try:
            x = float(s[:-1] if pct else s)
        except ValueError:
            return None
        return x / 100 if pct else x
    if v is None:
        return math.nan
    return None  # bools, dates: not numbers


def to_number(values: Sequence[Any]) -> tuple[npt.NDArray[np.float64], Bad]:
    """Numbers; blank is NaN. Text that reads as a number (``"12"``, ``"1,200"``) is taken."""
    nan = math.nan
    out = np.fromiter(
        (v if v.__class__ is float else nan for v in values), dtype=np.float64, count=len(values)
    )
    bad: Bad = []
    missing = np.isnan(out)
    if not missing.any():
        return out, bad
    cells = np.empty(len(values), dtype=object)
    cells[:] = values
    # Blank cells stay NaN; only the other non-numbers need a closer look (compared in C).
    for i in np.flatnonzero(missing & (cells != "")).tolist():
        v = values[i]
        x = _number(v)
        if x is None:
            bad.append((i, f"expected a number, got {_show(v)}"))
        else:
            out[i] = x
    return out, bad


def to_yesno(values: Sequence[Any]) -> tuple[list[bool | None], Bad]:
    """yes/no, y/n, x/blank, 1/0 and Excel's TRUE/FALSE; blank is None (the default)."""
    out: list[bool | None] = []
    bad: Bad = []
    for i, v in enumerate(values):
        if v is True or v is False:
            out.append(bool(v))
        elif is_blank(v):
            out.append(None)
        elif isinstance(v, float) and v in (0.0, 1.0):
            out.append(v == 1.0)
        elif isinstance(v, str) and v.strip().casefold() in _YES:
            out.append(True)
        elif isinstance(v, str) and v.strip().casefold() in _NO:
            out.append(False)
        else:
            out.append(None)
            bad.append((i, f"expected yes or no, got {_show(v)}"))
    return out, bad


def to_date(values: Sequence[Any]) -> tuple[npt.NDArray[np.datetime64], Bad]:
    """Real dates; an Excel date serial number or ISO text (2026-11-30) is taken too."""
    date_types = (dt.date, dt.datetime)
    is_date = np.array([v.__class__ in date_types for v in values], dtype=bool)
    series = pd.Series(values, dtype=object).where(is_date)
    # A writable copy: pandas hands out read-only views.
    out = np.array(pd.to_datetime(series, errors="coerce").to_numpy(dtype="datetime64[s]"))
    bad: Bad = []
    for i, ok in enumerate(is_date.tolist()):
        if ok:
            continue
        v = values[i]
        t = type(v)
        if is_blank(v):
            continue
        if t is float or t is int:
            if 1 <= v < 2958466:  # 1900-01-01 .. 9999-12-31
                out[i] = np.datetime64(EXCEL_EPOCH + dt.timedelta(days=float(v)), "s")
            else:
                bad.append((i, f"expected a date, got the number {_show(v)}"))
        elif t is str:
            try:
                out[i] = np.datetime64(dt.datetime.fromisoformat(v.strip()), "s")
            except ValueError:
                bad.append((i, f"expected a date (e.g. 2026-11-30), got {_show(v)}"))
        else:
            bad.append((i, f"expected a date, got {_show(v)}"))
    return out, bad


def to_period(values: Sequence[Any]) -> tuple[npt.NDArray[np.float64], Bad]:
    """Whole period numbers (``Bucket = period``): 1..Periods, 0 or less is past due."""
    nums, bad = to_number(values)
    for i, v in enumerate(values):
        if isinstance(v, dt.date):
            bad.append((i, f"expected a period number (Bucket = period), got the date {_show(v)}"))
    finite = np.isfinite(nums)
    for j in np.flatnonzero(finite & (np.floor(nums) != nums)).tolist():
        bad.append((j, f"period numbers are whole numbers, got {_show(values[j])}"))
    return nums, bad


def to_choice(values: Sequence[Any], choices: tuple[str, ...]) -> tuple[list[str | None], Bad]:
    """One of a fixed list, matched without regard to case."""
    exact: dict[Any, str | None] = {c: c for c in choices}
    exact[""] = None
    out: list[Any] = [exact.get(v, _SLOW) for v in values]
    lookup = {c.casefold(): c for c in choices}
    bad: Bad = []
    for i in _slow_positions(out, _SLOW):
        v = values[i]
        if is_blank(v):
            out[i] = None
            continue
        hit = lookup.get(str(v).strip().casefold())
        out[i] = hit
        if hit is None:
            bad.append((i, f"{_show(v)} is not one of {', '.join(choices)}"))
    return out, bad


def check_bounds(col: Column, nums: npt.NDArray[np.float64], raw: Sequence[Any]) -> Bad:
    """Bounds and wholeness of a numeric column (vectorised; only offenders are visited)."""
    bad: Bad = []
    finite = np.isfinite(nums)
    offenders = np.zeros(len(nums), dtype=bool)
    if col.minimum is not None:
        offenders |= finite & (
            (nums <= col.minimum) if col.minimum_exclusive else (nums < col.minimum)
        )
    if col.maximum is not None:
        offenders |= finite & (
            (nums >= col.maximum) if col.maximum_exclusive else (nums > col.maximum)
        )
    for i in np.flatnonzero(offenders).tolist():
        bad.append(
            (
                i,
                f"{_show(raw[i])} is out of range: {col.name} must be "
                f"{col.describe_type().split(' ', 1)[-1]}",
            )
        )
    if col.kind is Kind.INTEGER:
        for j in np.flatnonzero(finite & (np.floor(nums) != nums) & ~offenders).tolist():
            bad.append((j, f"{col.name} must be a whole number, got {_show(raw[j])}"))
    return bad


def convert(col: Column, values: Sequence[Any], *, periods: bool) -> tuple[Any, Bad]:
    """Typed values of one column (a list or numpy array) and its unconvertible cells."""
    kind = col.kind
    converter: Callable[[Sequence[Any]], tuple[Any, Bad]]
    if kind is Kind.CODE:
        converter = to_code
    elif kind is Kind.TEXT:
        converter = to_text
    elif kind is Kind.YESNO:
        converter = to_yesno
    elif kind is Kind.CHOICE:
        return to_choice(values, col.choices)
    elif kind is Kind.DATE:
        converter = to_period if periods else to_date
    elif kind is Kind.DATETIME:
        converter = to_date
    else:
        nums, bad = to_number(values)
        return nums, bad + check_bounds(col, nums, values)
    return converter(values)


def blank_mask(typed: Any) -> npt.NDArray[np.bool_]:
    """Which typed values are blank (None, NaN or NaT)."""
    if isinstance(typed, np.ndarray):
        return np.asarray(pd.isna(typed))
    arr = np.empty(len(typed), dtype=object)
    arr[:] = typed
    return np.asarray(arr == None)  # noqa: E711 - elementwise comparison


def _show(value: object) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)
