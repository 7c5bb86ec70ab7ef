"""Merge pulled records into a user's table, exactly as far as the contract allows.

Pure: a table as read and the records a system sent in, a :class:`PullDiff` out — the
counts for ``--dry-run`` and ``SyncLog`` and the cell-level patch to write.

A record matches the row that carries its id in ``<Connection> Id``, else a row of that
connection's origin with the same key. Rows the user typed (blank ``Origin``) are never
touched: a record whose key such a row already holds is reported, not applied (write the
connection's name into ``Origin`` to let pull manage the row). Rows of the connection's
origin that vanished from a complete read are marked ``gone`` (``prune`` removes them);
rows of another origin are never marked or removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sheetloop.connectors.sync.streams import Records, Stream, id_column, normalise, spec_column
from sheetloop.workbooks.interface import RawTable, TablePatch
from sheetloop.workbooks.schema import header_key

ORIGIN = "Origin"
SYNC_STATUS = "Sync Status"
GONE = "gone"
SYNCED = "synced"


@dataclass
class PullDiff:
    """What a pull of one table changes."""

    table: str
    patch: TablePatch
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0  # marked gone, or removed with prune
    conflicts: int = 0  # records a row the user typed stands in the way of
    notes: list[str] = field(default_factory=list)
    skipped: set[str] = field(default_factory=set)  # ids of records not applied (typed rows)

    @property
    def changes(self) -> int:
        return self.created + self.updated + self.removed

    def summary(self) -> str:
        parts = [
            f"{self.created} created",
            f"{self.updated} updated",
            f"{self.unchanged} unchanged",
            f"{self.removed} {'removed' if self.patch.removes else 'gone'}",
        ]
        if self.conflicts:
            parts.append(f"{self.conflicts} kept as you typed them")
        return f"{self.table}: " + ", ".join(parts)


def _column_index(headers: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i, h in enumerate(headers):
        out.setdefault(header_key(h), i)
    return out


def plan_pull(
    raw: RawTable | None,
    records: Records,
    stream: Stream,
    connection: str,
    *,
    prune: bool = False,
) -> PullDiff:
    """The patch that brings ``raw`` (the table as read; None: the book lacks it) up to
    date with ``records``."""
    id_col = id_column(connection)
    headers = [str(h) for h in raw.headers] if raw is not None else []
    index = _column_index(headers)
    wanted = [*stream.columns, ORIGIN, SYNC_STATUS, id_col]
    new_columns = [c for c in wanted if header_key(c) not in index]
    diff = PullDiff(stream.name, TablePatch(stream.table, new_columns=new_columns))
    rows = raw.rows if raw is not None else []

    def cell(row: list[Any], name: str) -> Any:
        i = index.get(header_key(name))
        return row[i] if i is not None and i < len(row) else None

    conn_key = connection.casefold()
    by_id: dict[str, int] = {}
    ours_by_key: dict[tuple[Any, ...], int] = {}
    typed_keys: set[tuple[Any, ...]] = set()
    key_cols = [spec_column(stream.table, k) for k in stream.key]
    for r, row in enumerate(rows):
        origin = normalise(cell(row, ORIGIN), None)
        key = tuple(normalise(cell(row, k), c) for k, c in zip(stream.key, key_cols, strict=True))
        if origin is None:
            if all(v is not None for v in key):
                typed_keys.add(key)
            continue
        if str(origin).casefold() != conn_key:
            continue
        ident = normalise(cell(row, id_col), None)
        if ident is not None:
            by_id.setdefault(str(ident), r)
        ours_by_key.setdefault(key, r)

    seen: set[int] = set()
    for values, ident in zip(records.rows, records.ids, strict=True):
        key = tuple(normalise(values.get(k), c) for k, c in zip(stream.key, key_cols, strict=True))
        match = by_id.get(ident)
        if match is None:
            match = ours_by_key.get(key)
        if match is None and key in typed_keys:
            diff.conflicts += 1
            diff.skipped.add(ident)
            if len(diff.notes) < 5:
                shown = ", ".join(str(k) for k in key)
                diff.notes.append(
                    f"{stream.name}: {shown} is a row you typed (blank Origin): kept as it is; "
                    f"write {connection} in its Origin to let pull update it"
                )
            continue
        if match is None or match in seen:
            diff.patch.appends.append(
                {**values, ORIGIN: connection, SYNC_STATUS: SYNCED, id_col: ident}
            )
            diff.created += 1
            continue
        seen.add(match)
        row = rows[match]
        changed = {
            c: values.get(c)
            for c in stream.columns
            if normalise(values.get(c), spec_column(stream.table, c))
            != normalise(cell(row, c), spec_column(stream.table, c))
        }
        if normalise(cell(row, id_col), None) != ident:
            changed[id_col] = ident
        if normalise(cell(row, SYNC_STATUS), None) != SYNCED:
            changed[SYNC_STATUS] = SYNCED
        if changed:
            diff.patch.updates[match] = changed
            data_changed = any(c in stream.columns for c in changed)
            diff.updated += 1 if data_changed else 0
            diff.unchanged += 0 if data_changed else 1
        else:
            diff.unchanged += 1

    if records.complete:
        for r in sorted(set(by_id.values()) | set(ours_by_key.values())):
            if r in seen:
                continue
            diff.removed += 1
            if prune:
                diff.patch.removes.append(r)
            elif normalise(cell(rows[r], SYNC_STATUS), None) != GONE:
                diff.patch.updates[r] = {SYNC_STATUS: GONE}
    return diff
