"""The ``Settings`` table: a typed, validated record of one run's settings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from sheetloop.solver.buckets import BucketKind, Calendar, monday_of_this_week
from sheetloop.workbooks.coerce import convert
from sheetloop.workbooks.problems import Problem
from sheetloop.workbooks.reading import LoadedTable
from sheetloop.workbooks.schema import SETTING_SPECS, Column, Kind, setting


@dataclass(frozen=True)
class Settings:
    """Run settings, every one with its contract default."""

    horizon_start: dt.date
    bucket: BucketKind = "week"
    periods: int = 26
    solver: str = "highs"
    time_limit: float = 600.0
    max_lateness: int = 4
    allocate_planned_orders: bool = False
    allocate_forecast: bool = False
    mrp_grid_items: int = 2000
    pegging_demands: int = 10

    @property
    def calendar(self) -> Calendar:
        return Calendar.create(self.bucket, self.horizon_start, self.periods)


_FIELD = {s.key: s.name.lower().replace(" ", "_") for s in SETTING_SPECS}


def parse_settings(
    table: LoadedTable, today: dt.date | None = None
) -> tuple[Settings, list[Problem]]:
    """Settings from the ``Settings`` table; unknown or malformed settings are problems."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    names = table.frame["Setting"].tolist() if len(table) else []
    raw_values = table.frame["Value"].tolist() if len(table) else []
    for pos, (name, raw) in enumerate(zip(names, raw_values, strict=True)):
        if name is None:
            continue
        spec = setting(name)
        if spec is None:
            known = ", ".join(s.name for s in SETTING_SPECS)
            problems.append(
                table.problem(pos, "Setting", f"unknown setting {name!r} (known: {known})")
            )
            continue
        if raw is None or raw == "":
            continue
        col = Column(spec.name, spec.kind, choices=spec.choices, minimum=spec.minimum)
        # Value is read as text (dates as ISO text) and converted by the setting's kind.
        typed, bad = convert(col, [raw], periods=False)
        if bad:
            problems.append(table.problem(pos, "Value", f"{spec.name}: {bad[0][1]}"))
            continue
        value = typed[0]
        if spec.kind is Kind.DATE:
            value = value.astype("datetime64[D]").item()
        elif spec.kind is Kind.INTEGER:
            value = int(value)
        elif spec.kind is Kind.NUMBER:
            value = float(value)
        elif isinstance(value, np.generic):
            value = value.item()
        values[_FIELD[spec.key]] = value
    settings = Settings(
        horizon_start=values.pop("horizon_start", None) or monday_of_this_week(today), **values
    )
    return settings, problems


def settings_rows(settings: Settings | None = None) -> list[tuple[str, Any]]:
    """(Setting, Value) rows with the defaults, as the template writes them."""
    rows: list[tuple[str, Any]] = []
    for spec in SETTING_SPECS:
        value = getattr(settings, _FIELD[spec.key]) if settings else spec.default
        if isinstance(value, bool):
            value = "yes" if value else "no"
        rows.append((spec.name, value))
    return rows
