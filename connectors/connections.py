"""The ``Connections`` table: which external systems a book syncs with, and how."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sheetloop.errors import UsageError

SYSTEMS = ("tryton", "hubspot", "salesforce", "rest")


@dataclass(frozen=True)
class Connection:
    """One row of ``Connections``. ``auth`` says where the secret comes from, never the
    secret itself."""

    name: str
    system: str
    url: str = ""
    database: str = ""
    user: str = ""
    auth: str = ""
    options: dict[str, str] = field(default_factory=dict)

    def option(self, key: str, default: str = "") -> str:
        return self.options.get(key.casefold(), default)

    def flag(self, key: str) -> bool:
        return self.option(key).casefold() in ("yes", "y", "true", "1", "x")

    def listed(self, key: str) -> list[str]:
        """A comma-separated option as a list (``push=PlannedOrders,Customers``)."""
        return [p.strip() for p in self.option(key).split(",") if p.strip()]


def parse_options(text: str, where: str) -> dict[str, str]:
    """``key=value; key=value`` as a dict with case-insensitive keys."""
    out: dict[str, str] = {}
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"{where}: Options must be key=value pairs separated by ';' "
                f"(found {part.strip()!r})"
            )
        out[key.strip().casefold()] = value.strip()
    return out


def connections_from(frame: pd.DataFrame | None, sheet: str = "Connections") -> list[Connection]:
    """The book's connections, in table order."""
    if frame is None or frame.empty:
        return []
    out = []
    for i, row in enumerate(frame.to_dict("records")):
        name = str(row.get("Connection") or "").strip()
        if not name:
            continue

        def text(column: str, row: dict[Any, Any] = row) -> str:
            value = row.get(column)
            return "" if value is None or value != value else str(value).strip()

        out.append(
            Connection(
                name=name,
                system=text("System").casefold(),
                url=text("URL"),
                database=text("Database"),
                user=text("User"),
                auth=text("Auth"),
                options=parse_options(text("Options"), f"{sheet}, row {i + 2} ({name})"),
            )
        )
    return out


def find_connection(connections: list[Connection], name: str) -> Connection:
    """The connection called ``name`` (case-insensitive), or a usage error listing them."""
    for conn in connections:
        if conn.name.casefold() == name.casefold():
            return conn
    known = ", ".join(c.name for c in connections) or "none"
    raise UsageError(f"no connection named {name!r} in the Connections table (it has: {known})")
