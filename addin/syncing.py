"""``pull`` and ``push``: a book's tables to and from its connections, every step logged in
SyncLog. Works on either adapter of the workbook interface (a file, a live Excel book)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import pandas as pd

from sheetloop.connectors.connections import Connection, connections_from, find_connection
from sheetloop.connectors.registry import open_sink, open_source
from sheetloop.connectors.sync import PushResult, SyncEntry, pull, push, sync_log_frame
from sheetloop.errors import ExternalSystemError, UsageError
from sheetloop.workbooks.interface import RawTable, TablePatch, TableWrite
from sheetloop.workbooks.schema import SYNC_LOG, Table
from sheetloop.workbooks.validation import LoadedBook

Report = Callable[[str], None]


class SyncedBook(Protocol):
    """What syncing needs of a workbook: its tables, its state and staged writes."""

    def find_table(self, name: str) -> RawTable | None: ...

    def patch_table(self, patch: TablePatch) -> None: ...

    def add_table(self, write: TableWrite) -> None: ...

    def append_rows(self, spec: Table, frame: pd.DataFrame) -> None: ...

    def state(self) -> dict[str, str]: ...

    def set_state(self, key: str, value: str) -> None: ...


def book_connections(loaded: LoadedBook, book_name: str) -> list[Connection]:
    """The rows of the book's Connections table; a usage error if it has none."""
    table = loaded.tables.get("Connections")
    connections = connections_from(table.frame if table is not None and table.found else None)
    if not connections:
        raise UsageError(
            f"{book_name}: no connections: add a row to the Connections table "
            "(sheetloop init adds the table)"
        )
    return connections


def pull_book(
    book: SyncedBook,
    loaded: LoadedBook,
    connection: str | None,
    *,
    book_name: str,
    folder: Path,
    tables: Sequence[str] | None = None,
    dry_run: bool = False,
    prune: bool = False,
    report: Report | None = None,
) -> tuple[list[SyncEntry], ExternalSystemError | None]:
    """Pull one connection (or every one, in table order) into ``book`` (staged, not
    saved). Stops at the first failing connection; returns the log entries and that
    failure. Files a connection names (``config=``) are found relative to ``folder``."""
    connections = book_connections(loaded, book_name)
    chosen = [find_connection(connections, connection)] if connection else connections
    entries: list[SyncEntry] = []
    for conn in chosen:
        source = open_source(conn, folder)
        result = pull(book, source, tables=tables, dry_run=dry_run, prune=prune, progress=report)
        entries += result.entries
        if result.error is not None:
            error = result.error
            break
    else:
        error = None
    if not dry_run and entries:
        book.append_rows(SYNC_LOG, sync_log_frame(entries))
    return entries, error


def push_book(
    book: SyncedBook,
    loaded: LoadedBook,
    connection: str,
    *,
    book_name: str,
    folder: Path,
    tables: Sequence[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    report: Report | None = None,
) -> PushResult:
    """Push the changed rows of ``connection``'s tables (staged, not saved; SyncLog rows
    staged too unless ``dry_run``)."""
    conn = find_connection(book_connections(loaded, book_name), connection)
    sink = open_sink(conn, folder)
    result = push(book, sink, tables=tables, dry_run=dry_run, force=force, progress=report)
    if not dry_run and result.entries:
        book.append_rows(SYNC_LOG, sync_log_frame(result.entries))
    return result
