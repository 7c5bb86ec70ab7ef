"""Loading a book's input tables and checking them together.

Per-table checks (types, required cells, keys) happen while parsing; this module adds
what needs several tables: references between them, BOM cycles, lot-rule parameters and
dates against the horizon. Every problem is collected; nothing stops at the first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sheetloop.solver.bom import BomCycleError, low_level_codes
from sheetloop.workbooks.interface import RawTable, WorkbookReader
from sheetloop.workbooks.problems import Problem
from sheetloop.workbooks.reading import LoadedTable, empty_table, parse_table
from sheetloop.workbooks.schema import INPUT_TABLES, SETTINGS, Table
from sheetloop.workbooks.settings import Settings, parse_settings

#: Input tables each command uses; problems in other tables are only warnings for it.
#: The first ones listed must exist in the book.
COMMAND_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # command: (required tables, further tables it uses when present)
    "check": (("Items", "Demand"), tuple(t.name for t in INPUT_TABLES)),
    "plan": (
        ("Items", "Demand"),
        ("Settings", "ItemSites", "BOM", "Inventory", "Receipts", "Customers"),
    ),
    "allocate": (
        ("Items", "Demand"),
        ("Settings", "Inventory", "Receipts", "Customers", "Lanes", "Supply"),
    ),
    "pull": ((), ("Settings", "Connections")),
    "push": ((), ("Settings", "Connections")),
}


# Parse order: Settings first (it says how to read dates), then the tables that are
# usually big, ending with one that is usually smaller, so that little parsing is left
# once the background reader has finished.
_FIRST = ("Settings", "Items", "Demand", "BOM")
PARSE_ORDER: tuple[Table, ...] = (
    *(t for name in _FIRST for t in INPUT_TABLES if t.name == name),
    *(t for t in INPUT_TABLES if t.name not in (*_FIRST, "Inventory")),
    *(t for t in INPUT_TABLES if t.name == "Inventory"),
)


@dataclass
class LoadedBook:
    """A book's input tables, parsed and checked."""

    settings: Settings
    tables: dict[str, LoadedTable]
    problems: list[Problem] = field(default_factory=list)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name].frame

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def load_book(
    reader: WorkbookReader, command: str = "check", *, today: dt.date | None = None
) -> LoadedBook:
    """Read and check every input table the book has, for ``command``."""
    required, used = COMMAND_TABLES[command]
    uses = set(required) | set(used)
    problems: list[Problem] = []

    with _Prefetch(reader, [spec.name for spec in PARSE_ORDER]) as raw_tables:
        settings_table, settings_problems = _parse(raw_tables(SETTINGS.name), SETTINGS, False)
        settings, more = parse_settings(settings_table, today)
        problems += settings_problems + more
        periods = settings.bucket == "period"

        parsed: dict[str, LoadedTable] = {"Settings": settings_table}
        found_by_table: dict[str, list[Problem]] = {}
        for spec in PARSE_ORDER:
            if spec is SETTINGS:
                continue
            loaded, found_problems = _parse(raw_tables(spec.name), spec, periods)
            if not loaded.found and spec.name in required:
                found_problems.append(
                    Problem(
                        spec.sheet,
                        "A1",
                        f"the table {spec.name} is missing: add it (sheetloop init BOOK adds every "
                        "missing input table) or name your table or sheet " + spec.name,
                    )
                )
            parsed[spec.name] = loaded
            found_by_table[spec.name] = [
                p
                if spec.name in uses or p.severity == "warning"
                else Problem(p.sheet, p.cell, p.message, "warning")
                for p in found_problems
            ]
    tables = {spec.name: parsed[spec.name] for spec in INPUT_TABLES}
    problems += [p for spec in INPUT_TABLES for p in found_by_table.get(spec.name, [])]

    cross = [
        *check_references(tables),
        *check_bom(tables),
        *check_lot_rules(tables),
        *check_dates(tables, settings),
    ]
    problems += [
        p if _table_of(p, tables) in uses else Problem(p.sheet, p.cell, p.message, "warning")
        for p in cross
    ]
    return LoadedBook(settings, tables, problems)


def _parse(raw: RawTable | None, spec: Table, periods: bool) -> tuple[LoadedTable, list[Problem]]:
    if raw is None:
        return empty_table(spec), []
    return parse_table(raw, spec, periods=periods)


class _Prefetch:
    """Reads the book's tables in a background thread, in the order they are parsed, so
    the reader (python-calamine releases the GIL while it parses the file) and the parsing
    of the previous table overlap. Readers that must stay on one thread (a live Excel
    book) are read in line: they do not set ``reads_in_background``."""

    def __init__(self, reader: WorkbookReader, names: list[str]) -> None:
        self.reader = reader
        self.names = names
        self.pool: ThreadPoolExecutor | None = None
        self.futures: dict[str, Future[RawTable | None]] = {}

    def __enter__(self) -> Callable[[str], RawTable | None]:
        if getattr(self.reader, "reads_in_background", False):
            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sheetloop-read")
            self.futures = {n: self.pool.submit(self.reader.find_table, n) for n in self.names}
        return self.get

    def get(self, name: str) -> RawTable | None:
        future = self.futures.get(name)
        return future.result() if future is not None else self.reader.find_table(name)

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _table_of(problem: Problem, tables: dict[str, LoadedTable]) -> str:
    return next((n for n, t in tables.items() if t.found and t.sheet == problem.sheet), "")


def check_references(tables: dict[str, LoadedTable]) -> Iterable[Problem]:
    """Codes that name an item or customer must exist there (123 matches "123")."""
    for t in tables.values():
        for col in t.spec.columns:
            if not col.references or not len(t):
                continue
            target_name, target_col = col.references
            target = tables.get(target_name)
            if target is None or not target.found:
                continue
            values = t.frame[col.name]
            known = target.frame[target_col].dropna()
            missing = values.notna() & ~values.isin(known)
            for pos in np.flatnonzero(missing.to_numpy()):
                yield t.problem(
                    int(pos),
                    col.name,
                    f"unknown {target_col.lower()} {values.iloc[pos]!r}: "
                    f"it is not in {target_name}",
                )


def check_bom(tables: dict[str, LoadedTable]) -> Iterable[Problem]:
    """A BOM cycle is an error naming the loop."""
    bom = tables.get("BOM")
    if bom is None or not len(bom):
        return
    frame = bom.frame.dropna(subset=["Parent", "Component"])
    codes, uniques = pd.factorize(pd.concat([frame["Parent"], frame["Component"]]))
    n = len(frame)
    try:
        low_level_codes(len(uniques), codes[:n], codes[n:], names=uniques.to_numpy(dtype=object))
    except BomCycleError as cycle:
        loop = cycle.cycle
        first = frame.index[(frame["Parent"] == loop[0]) & (frame["Component"] == loop[1])]
        pos = int(first[0]) if len(first) else int(frame.index[0])
        yield bom.problem(
            pos,
            "Parent",
            f"{cycle}: an item cannot be part of itself; remove one of these BOM lines",
        )


def check_lot_rules(tables: dict[str, LoadedTable]) -> Iterable[Problem]:
    """Each lot rule has the parameters it needs."""
    for name in ("Items", "ItemSites"):
        t = tables.get(name)
        if t is None or not len(t):
            continue
        f = t.frame
        rule = f["Lot Rule"]
        for pos in np.flatnonzero(((rule == "FOQ") & f["Lot Size"].isna()).to_numpy()):
            yield t.problem(int(pos), "Lot Size", "lot rule FOQ needs a Lot Size")
        if name != "Items":
            continue
        cost_rules = rule.isin(["EOQ", "LUC", "SM", "WW"]) | (
            (rule == "POQ") & f["POQ Periods"].isna()
        )
        lacking = cost_rules & (f["Setup Cost"].isna() | f["Holding Cost"].isna())
        for pos in np.flatnonzero(lacking.to_numpy()):
            column = "Setup Cost" if pd.isna(f["Setup Cost"].iloc[pos]) else "Holding Cost"
            yield t.problem(
                int(pos),
                column,
                f"lot rule {rule.iloc[pos]} needs Setup Cost and Holding Cost"
                + (" (or POQ Periods)" if rule.iloc[pos] == "POQ" else ""),
            )


def check_dates(tables: dict[str, LoadedTable], settings: Settings) -> Iterable[Problem]:
    """Dates beyond the horizon and forecast in the past are warnings."""
    calendar = settings.calendar
    for name, column in (("Demand", "Due"), ("Receipts", "Due"), ("Supply", "Available")):
        t = tables.get(name)
        if t is None or not len(t):
            continue
        values = t.frame[column]
        valid = values.notna().to_numpy()
        index = np.full(len(values), 0, dtype=np.int64)
        if valid.any():
            index[valid] = calendar.index_of(values[valid])
        for pos in np.flatnonzero(valid & (index >= calendar.periods)):
            yield t.problem(
                int(pos),
                column,
                f"{_show(values.iloc[pos])} is after the horizon "
                f"({calendar.periods} {settings.bucket} buckets): outside the plan",
                "warning",
            )
        if name == "Demand":
            forecast = (t.frame["Kind"] == "forecast").to_numpy()
            for pos in np.flatnonzero(valid & forecast & (index < 0)):
                yield t.problem(
                    int(pos),
                    column,
                    f"forecast due {_show(values.iloc[pos])} is before the horizon: it is dropped",
                    "warning",
                )


def _show(value: object) -> str:
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, float) and value.is_integer():
        return f"period {int(value)}"
    return str(value)
