"""What a connection syncs: streams (one workbook table each) and the records they carry."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sheetloop.workbooks.schema import Column, Kind, Table, header_key


@dataclass(frozen=True)
class Stream:
    """One workbook table a connection fills: matched by ``key``, owning ``columns``.

    ``columns`` are the mapped columns a pull refreshes (the key columns among them); every
    other column of the table is the user's and is never written by a pull.
    """

    table: Table
    key: tuple[str, ...]
    columns: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.table.name


@dataclass
class Records:
    """What one read of a stream brought back.

    ``rows`` hold the mapped columns by their workbook names; ``ids`` the system's id of
    each row (text). ``complete`` is False for an incremental read (only records changed
    since ``cursor``), which cannot tell which records vanished.
    """

    rows: list[dict[str, Any]]
    ids: list[str]
    complete: bool = True
    cursor: str | None = None
    versions: list[str] = field(default_factory=list)  # e.g. write dates, for conflicts

    def __post_init__(self) -> None:
        if len(self.rows) != len(self.ids):
            raise ValueError("every record needs an id")


def id_column(connection: str) -> str:
    """The column that keeps a connection's ids in the tables it syncs."""
    return f"{connection} Id"


def normalise(value: Any, column: Column | None) -> Any:
    """A cell or record value in one comparable form, by the column's kind: codes and text
    as trimmed text, numbers as floats, dates as dates, yes/no as booleans, blanks None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None
    kind = column.kind if column is not None else None
    if kind in (Kind.NUMBER, Kind.INTEGER, Kind.FRACTION):
        try:
            return float(value)
        except (TypeError, ValueError):
            return str(value)
    if kind is Kind.DATE:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value)[:10])
        except ValueError:
            return str(value)
    if kind is Kind.YESNO:
        if isinstance(value, bool):
            return value
        return str(value).casefold() in ("yes", "y", "x", "1", "true")
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer() and kind in (Kind.CODE, Kind.TEXT, None):
        return str(int(value))
    if isinstance(value, int | float):
        return str(value) if kind in (Kind.CODE, Kind.TEXT, Kind.CHOICE) else float(value)
    if isinstance(value, dt.date):
        return value
    return str(value)


def spec_column(table: Table, name: str) -> Column | None:
    key = header_key(name)
    return next((c for c in table.columns if c.key == key), None)


def row_hash(values: Mapping[str, Any], columns: Sequence[str], table: Table) -> str:
    """A short, stable fingerprint of a row's mapped values (for 'changed since last sync')."""
    normal = [normalise(values.get(c), spec_column(table, c)) for c in columns]
    text = json.dumps(normal, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
