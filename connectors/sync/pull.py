"""``pull``: refresh a book's tables from one connection."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd

from sheetloop.connectors.sync.log import SyncEntry
from sheetloop.connectors.sync.merge import ORIGIN, SYNC_STATUS, SYNCED, PullDiff, plan_pull
from sheetloop.connectors.sync.state import load_state, save_state
from sheetloop.connectors.sync.streams import Records, Stream, id_column, row_hash
from sheetloop.errors import ExternalSystemError, UsageError
from sheetloop.workbooks.interface import RawTable, TablePatch, TableWrite
from sheetloop.workbooks.schema import header_key


class Source(Protocol):
    """A connection that tables can be pulled from."""

    connection: str

    def streams(self) -> Sequence[Stream]: ...

    def read(self, stream: Stream, cursor: str | None) -> Records: ...


class SyncBook(Protocol):
    """What a sync needs of a workbook (both adapters provide it)."""

    def find_table(self, name: str) -> RawTable | None: ...

    def patch_table(self, patch: TablePatch) -> None: ...

    def add_table(self, write: TableWrite) -> None: ...

    def state(self) -> dict[str, str]: ...

    def set_state(self, key: str, value: str) -> None: ...


@dataclass
class PullResult:
    """What a pull did (or, with ``dry_run``, would do)."""

    entries: list[SyncEntry] = field(default_factory=list)
    diffs: list[PullDiff] = field(default_factory=list)
    error: ExternalSystemError | None = None  # the failure that stopped it, if any


def choose_streams(source: Source, tables: Sequence[str] | None) -> list[Stream]:
    """The source's streams, or those of ``tables`` (an unknown name is a usage error)."""
    streams = list(source.streams())
    if not tables:
        return streams
    by_key = {header_key(s.name): s for s in streams}
    unknown = [t for t in tables if header_key(t) not in by_key]
    if unknown:
        raise UsageError(
            f"{source.connection} does not sync {', '.join(unknown)}; it syncs "
            + ", ".join(s.name for s in streams)
        )
    return [by_key[header_key(t)] for t in tables]


def pull(
    book: SyncBook,
    source: Source,
    *,
    tables: Sequence[str] | None = None,
    dry_run: bool = False,
    prune: bool = False,
    progress: Callable[[str], None] | None = None,
) -> PullResult:
    """Pull every stream of ``source`` (or those of ``tables``) into ``book``'s tables.

    Each table is read whole before anything of it is staged, so a failure part way
    leaves earlier tables pulled and later ones untouched; the failure is returned (with
    a failed ``SyncLog`` entry), not raised, so the caller can still save what was done.
    """
    result = PullResult()
    now = dt.datetime.now().replace(microsecond=0)
    for stream in choose_streams(source, tables):
        if progress:
            progress(f"pulling {stream.name} from {source.connection}")
        state = load_state(book, source.connection, stream.name)
        raw = book.find_table(stream.name)
        cursor = state.cursor if raw is not None and raw.rows else None
        try:
            records = source.read(stream, cursor)
        except ExternalSystemError as exc:
            result.error = exc
            result.entries.append(
                SyncEntry(source.connection, "pull", stream.name, failed=1, message=str(exc))
            )
            break
        diff = plan_pull(raw, records, stream, source.connection, prune=prune)
        result.diffs.append(diff)
        result.entries.append(
            SyncEntry(
                source.connection,
                "pull",
                stream.name,
                created=diff.created,
                updated=diff.updated,
                unchanged=diff.unchanged,
                removed=diff.removed,
                conflicts=diff.conflicts,
                message="; ".join(diff.notes[:2]) + (" (dry run)" if dry_run else ""),
                time=now,
            )
        )
        if dry_run:
            continue
        if raw is None:
            book.add_table(TableWrite(stream.table, _new_table(records, stream, source)))
        else:
            book.patch_table(diff.patch)
        state.cursor = records.cursor
        state.pulled_at = now.isoformat()
        for values, ident, version in zip(
            records.rows, records.ids, records.versions or [""] * len(records.ids), strict=True
        ):
            if ident in diff.skipped:
                continue  # not in the book: nothing of it was synced
            state.hashes[ident] = row_hash(values, stream.columns, stream.table)
            if version:
                state.versions[ident] = version
        save_state(book, source.connection, stream.name, state)
    return result


def _new_table(records: Records, stream: Stream, source: Source) -> pd.DataFrame:
    frame = pd.DataFrame(records.rows, columns=list(stream.columns))
    frame[ORIGIN] = source.connection
    frame[SYNC_STATUS] = SYNCED
    frame[id_column(source.connection)] = records.ids
    return frame
