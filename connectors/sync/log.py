"""One ``SyncLog`` row per table and direction of a sync."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import pandas as pd

Direction = Literal["pull", "push", "run"]


@dataclass
class SyncEntry:
    """What one sync of one table did (a row of ``SyncLog``)."""

    connection: str
    direction: Direction
    table: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    conflicts: int = 0
    failed: int = 0
    message: str = ""
    time: dt.datetime | None = None

    def line(self) -> str:
        """The entry as one line for the terminal."""
        counts = (
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.removed} removed"
        )
        extra = "".join(
            f", {n} {what}"
            for n, what in ((self.conflicts, "conflicts"), (self.failed, "failed"))
            if n
        )
        tail = f" ({self.message})" if self.message else ""
        return f"{self.connection} {self.direction} {self.table}: {counts}{extra}{tail}"


def sync_log_frame(entries: list[SyncEntry]) -> pd.DataFrame:
    """The entries as rows of the ``SyncLog`` table."""
    now = dt.datetime.now().replace(microsecond=0)
    return pd.DataFrame(
        {
            "Time": [e.time or now for e in entries],
            "Connection": [e.connection for e in entries],
            "Direction": [e.direction for e in entries],
            "Table": [e.table for e in entries],
            "Created": [e.created for e in entries],
            "Updated": [e.updated for e in entries],
            "Unchanged": [e.unchanged for e in entries],
            "Removed": [e.removed for e in entries],
            "Conflicts": [e.conflicts for e in entries],
            "Failed": [e.failed for e in entries],
            "Message": [e.message for e in entries],
        }
    )
