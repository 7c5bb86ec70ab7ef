"""``push``: send the rows of a book's tables that changed since the last sync.

A row is sent when it was never sent (no id of the connection yet) or its mapped columns'
fingerprint differs from the one recorded at the last sync. A row changed in the book
*and* in the system since the last sync is a conflict: it is reported and not sent unless
``force``. Sent rows get the connection's id, ``External Id``, ``Synced At`` and
``Sync Status`` (and ``Firm = yes`` on planned orders), so pushing twice sends nothing new.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sheetloop.connectors.sync.log import SyncEntry
from sheetloop.connectors.sync.merge import SYNC_STATUS
from sheetloop.connectors.sync.pull import SyncBook, choose_streams
from sheetloop.connectors.sync.state import load_state, save_state
from sheetloop.connectors.sync.streams import Stream, id_column, normalise, row_hash
from sheetloop.errors import ExternalSystemError
from sheetloop.workbooks.interface import TablePatch
from sheetloop.workbooks.schema import header_key

EXTERNAL_ID = "External Id"
SYNCED_AT = "Synced At"
PUSHED = "pushed"
CONFLICT = "conflict"


@dataclass
class PushRow:
    """A row to send: its place in the table, its values by column, and the system's id of
    the record it was sent as before (None: never sent)."""

    index: int
    values: dict[str, Any]
    record_id: str | None = None


@dataclass
class Sent:
    """What the system made of one row: its record id (and the external order's id, when
    that differs, e.g. a purchase for a planned order), or a failure message."""

    index: int
    record_id: str | None = None
    external_id: str | None = None
    version: str | None = None
    error: str | None = None


class PartialSendError(ExternalSystemError):
    """A system failed part way through a send: ``sent`` holds the rows it had taken
    (recorded as sent, so a re-run does not send them twice)."""

    def __init__(self, message: str, sent: list[Sent]) -> None:
        super().__init__(message)
        self.sent = sent


class Sink(Protocol):
    """A connection that rows can be pushed to. A sink may also have ``prepare(book)``,
    called once before anything is planned, to read other tables of the book it needs, and
    ``extra_values(stream, values) -> dict``: values it sends beyond the row's own (they
    count towards the row's fingerprint)."""

    connection: str

    def push_streams(self) -> Sequence[Stream]: ...

    def versions(self, stream: Stream, record_ids: Sequence[str]) -> dict[str, str]:
        """The system's current version mark (a write date, a revision) of these records,
        to detect records changed since the last sync; {} when the system has none."""
        ...

    def send(self, stream: Stream, rows: Sequence[PushRow]) -> list[Sent]:
        """Create or update the records for ``rows`` in batches; a failure of one row is a
        :class:`Sent` with ``error``, a failure of the system raises
        :class:`~sheetloop.errors.ExternalSystemError`."""
        ...


@dataclass
class PushPlan:
    """What a push of one table would send."""

    table: str
    send: list[PushRow] = field(default_factory=list)
    conflicts: list[PushRow] = field(default_factory=list)
    unchanged: int = 0

    def summary(self) -> str:
        new = sum(1 for r in self.send if r.record_id is None)
        return (
            f"{self.table}: {new} to create, {len(self.send) - new} to update, "
            f"{self.unchanged} unchanged, {len(self.conflicts)} conflicts"
        )


@dataclass
class PushResult:
    entries: list[SyncEntry] = field(default_factory=list)
    plans: list[PushPlan] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # one line per unsent conflict
    error: ExternalSystemError | None = None


Selector = Callable[[Stream, dict[str, Any]], bool]


def plan_push(
    book: SyncBook,
    sink: Sink,
    stream: Stream,
    *,
    force: bool = False,
    select: Selector | None = None,
) -> PushPlan:
    """Find the rows of ``stream``'s table to send, and the conflicts."""
    plan = PushPlan(stream.name)
    raw = book.find_table(stream.name)
    if raw is None or not raw.rows:
        return plan
    index = {header_key(h): i for i, h in reversed(list(enumerate(raw.headers)))}
    id_col = id_column(sink.connection)
    state = load_state(book, sink.connection, stream.name)
    candidates: list[PushRow] = []
    extend = getattr(sink, "extra_values", None)
    for r, row in enumerate(raw.rows):
        values = {
            c: row[index[header_key(c)]] if header_key(c) in index else None for c in stream.columns
        }
        if all(normalise(v, None) is None for v in values.values()):
            continue
        if select is not None and not select(stream, values):
            continue
        if callable(extend):
            # What the sink sends beyond the row itself (e.g. a ship date read from another
            # table) counts towards "changed since the last sync".
            values = {**values, **extend(stream, values)}
        rid = (
            normalise(row[index[header_key(id_col)]], None) if header_key(id_col) in index else None
        )
        candidates.append(PushRow(r, values, None if rid is None else str(rid)))
    changed: list[PushRow] = []
    for pending in candidates:
        fingerprint = row_hash(pending.values, list(pending.values), stream.table)
        if pending.record_id is None or state.hashes.get(pending.record_id) != fingerprint:
            changed.append(pending)
        else:
            plan.unchanged += 1
    synced = [r.record_id for r in changed if r.record_id is not None]
    now = sink.versions(stream, synced) if synced else {}
    for pending in changed:
        rid = pending.record_id
        moved = (
            rid is not None
            and rid in state.versions
            and now.get(rid, state.versions[rid]) != state.versions[rid]
        )
        if moved and not force:
            plan.conflicts.append(pending)
        else:
            plan.send.append(pending)
    return plan


def push(
    book: SyncBook,
    sink: Sink,
    *,
    tables: Sequence[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    select: Selector | None = None,
    progress: Callable[[str], None] | None = None,
) -> PushResult:
    """Push the changed rows of every push stream of ``sink`` (or those of ``tables``)."""
    result = PushResult()
    streams = _push_streams(sink, tables)
    prepare = getattr(sink, "prepare", None)
    if callable(prepare):
        # A sink may need other tables of the book (the supplier of each item, the
        # system's id of each demand line) to turn rows into records.
        prepare(book)
    stamp = dt.datetime.now().replace(microsecond=0)
    for stream in streams:
        if progress:
            progress(f"pushing {stream.name} to {sink.connection}")
        try:
            plan = plan_push(book, sink, stream, force=force, select=select)
        except ExternalSystemError as exc:
            result.error = exc
            result.entries.append(
                SyncEntry(sink.connection, "push", stream.name, failed=1, message=str(exc))
            )
            break
        result.plans.append(plan)
        key = stream.key[0] if stream.key else stream.columns[0]
        result.conflicts += [
            f"{stream.name} {row.values.get(key)}: changed in the book and in "
            f"{sink.connection} since the last sync (not sent; --force sends it)"
            for row in plan.conflicts
        ]
        entry = SyncEntry(
            sink.connection,
            "push",
            stream.name,
            unchanged=plan.unchanged,
            conflicts=len(plan.conflicts),
            time=stamp,
        )
        result.entries.append(entry)
        if dry_run:
            entry.created = sum(1 for r in plan.send if r.record_id is None)
            entry.updated = len(plan.send) - entry.created
            entry.message = "dry run"
            continue
        sent: list[Sent] = []
        if plan.send:
            try:
                sent = sink.send(stream, plan.send)
            except ExternalSystemError as exc:
                sent = list(exc.sent) if isinstance(exc, PartialSendError) else []
                entry.failed = len(plan.send) - len(sent)
                entry.message = str(exc)
                result.error = exc
        if plan.send or plan.conflicts:
            _record(book, sink, stream, plan, sent, stamp)
        by_index = {r.index: r for r in plan.send}
        for s in sent:
            if s.error:
                entry.failed += 1
            elif by_index[s.index].record_id is None:
                entry.created += 1
            else:
                entry.updated += 1
        if result.error is not None:
            break
        failures = [s.error for s in sent if s.error]
        if failures:
            entry.message = f"{len(failures)} failed, first: {failures[0]}"
    return result


def _push_streams(sink: Sink, tables: Sequence[str] | None) -> list[Stream]:
    class _Streams:
        connection = sink.connection

        def streams(self) -> Sequence[Stream]:
            return sink.push_streams()

        def read(self, stream: Stream, cursor: str | None) -> Any:  # pragma: no cover
            raise NotImplementedError

    return choose_streams(_Streams(), tables)


def _record(
    book: SyncBook,
    sink: Sink,
    stream: Stream,
    plan: PushPlan,
    sent: list[Sent],
    stamp: dt.datetime,
) -> None:
    """Write the sync columns of the rows sent and the conflicts, and remember what was
    sent, so the next push sends only what changes after this one."""
    id_col = id_column(sink.connection)
    raw = book.find_table(stream.name)
    headers = {header_key(h) for h in (raw.headers if raw is not None else [])}
    wanted = [id_col, EXTERNAL_ID, SYNCED_AT, SYNC_STATUS]
    if stream.name == "PlannedOrders":
        wanted.append("Firm")
    patch = TablePatch(
        stream.table, new_columns=[c for c in wanted if header_key(c) not in headers]
    )
    state = load_state(book, sink.connection, stream.name)
    rows = {r.index: r for r in plan.send}
    for s in sent:
        if s.error:
            patch.updates[s.index] = {SYNC_STATUS: f"failed: {s.error}"[:250]}
            continue
        assert s.record_id is not None
        cells: dict[str, Any] = {
            id_col: s.record_id,
            EXTERNAL_ID: s.external_id or s.record_id,
            SYNCED_AT: stamp,
            SYNC_STATUS: PUSHED,
        }
        if stream.name == "PlannedOrders":
            cells["Firm"] = "yes"
        patch.updates[s.index] = cells
        values = rows[s.index].values
        state.hashes[s.record_id] = row_hash(values, list(values), stream.table)
        if s.version:
            state.versions[s.record_id] = s.version
    for row in plan.conflicts:
        patch.updates[row.index] = {SYNC_STATUS: CONFLICT}
    state.pushed_at = stamp.isoformat()
    book.patch_table(patch)
    save_state(book, sink.connection, stream.name, state)
