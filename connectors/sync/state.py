"""Sync state a book carries about each connection and table: cursors, last-sync marks and
the fingerprint of every synced row, kept in sheetloop's very hidden state sheet so a copy
of the book carries its own history."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Protocol


class StateStore(Protocol):
    def state(self) -> dict[str, str]: ...

    def set_state(self, key: str, value: str) -> None: ...


@dataclass
class TableState:
    """One connection's record of one table."""

    cursor: str | None = None  # where an incremental read resumes
    pulled_at: str | None = None
    pushed_at: str | None = None
    hashes: dict[str, str] = field(default_factory=dict)  # id -> mapped columns' fingerprint
    versions: dict[str, str] = field(default_factory=dict)  # id -> the system's version mark


def state_key(connection: str, table: str) -> str:
    return f"sync:{connection}:{table}"


def load_state(book: StateStore, connection: str, table: str) -> TableState:
    """The recorded state (empty when the book has none, or an unreadable one)."""
    text = book.state().get(state_key(connection, table))
    if not text:
        return TableState()
    try:
        data = json.loads(text)
        return TableState(
            cursor=data.get("cursor"),
            pulled_at=data.get("pulled_at"),
            pushed_at=data.get("pushed_at"),
            hashes={str(k): str(v) for k, v in (data.get("hashes") or {}).items()},
            versions={str(k): str(v) for k, v in (data.get("versions") or {}).items()},
        )
    except (ValueError, AttributeError):
        # A hand-edited state is dropped, not trusted: the next sync is a full one.
        return TableState()


def save_state(book: StateStore, connection: str, table: str, state: TableState) -> None:
    book.set_state(state_key(connection, table), json.dumps(asdict(state), separators=(",", ":")))
