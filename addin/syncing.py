"""``pull``: refresh a book's tables from its connections, log every step in SyncLog."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from sheetloop.connectors.connections import Connection, connections_from, find_connection
from sheetloop.connectors.registry import open_sink, open_source
from sheetloop.connectors.sync import PushResult, SyncEntry, pull, push, sync_log_frame
from sheetloop.errors import ExternalSystemError, UsageError
from sheetloop.workbooks.file_book import FileBook
from sheetloop.workbooks.schema import SYNC_LOG
from sheetloop.workbooks.validation import LoadedBook

Report = Callable[[str], None]


def book_connections(loaded: LoadedBook, path: Path) -> list[Connection]:
    table = loaded.tables.get("Connections")
    connections = connections_from(table.frame if table is not None and table.found else None)
    if not connections:
        raise UsageError(
            f"{path.name}: no connections: add a row to the Connections table "
            "(sheetloop init adds the table)"
        )
    return connections


def pull_book(
    book: FileBook,
    loaded: LoadedBook,
    connection: str | None,
    *,
    tables: Sequence[str] | None = None,
    dry_run: bool = False,
    prune: bool = False,
    report: Report | None = None,
) -> tuple[list[SyncEntry], ExternalSystemError | None]:
    """Pull one connection (or every one, in table order) into ``book`` (staged, not
    saved). Stops at the first failing connection; returns the log entries and that
    failure."""
    connections = book_connections(loaded, book.path)
    chosen = [find_connection(connections, connection)] if connection else connections
    entries: list[SyncEntry] = []
    for conn in chosen:
        source = open_source(conn, book.path.parent)
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
    book: FileBook,
    loaded: LoadedBook,
    connection: str,
    *,
    tables: Sequence[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    report: Report | None = None,
) -> PushResult:
    """Push the changed rows of ``connection``'s tables (staged, not saved; SyncLog rows
    staged too unless ``dry_run``)."""
    conn = find_connection(book_connections(loaded, book.path), connection)
    sink = open_sink(conn, book.path.parent)
    result = push(book, sink, tables=tables, dry_run=dry_run, force=force, progress=report)
    if not dry_run and result.entries:
        book.append_rows(SYNC_LOG, sync_log_frame(result.entries))
    return result
