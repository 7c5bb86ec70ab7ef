"""Read workbook tables from any JSON API, as a REST connection's config describes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from requests.auth import AuthBase

from sheetloop.connectors.connections import Connection
from sheetloop.connectors.http import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    CursorPaginator,
    HttpSession,
    LinkHeaderPaginator,
    OAuth2ClientCredentials,
    OffsetPaginator,
    PageNumberPaginator,
    Secret,
    SinglePage,
    paginate,
    resolve_secret,
)
from sheetloop.connectors.rest.config import RestAuth, RestConfig, RestTable, load_config
from sheetloop.connectors.sync.streams import Records, Stream
from sheetloop.errors import ExternalSystemError, UsageError


def dig(record: Any, path: str) -> Any:
    """The value at a dotted path (``attributes.tier``) of a JSON record; None if absent."""
    value = record
    for part in path.split(".") if path else []:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


class RestConnector:
    """A ``rest`` connection: each configured table is a stream read page by page."""

    def __init__(self, connection: Connection, config: RestConfig, session: HttpSession):
        self.connection = connection.name
        self.config = config
        self.session = session

    @classmethod
    def from_connection(cls, connection: Connection, book_dir: Path) -> RestConnector:
        if not connection.url:
            raise UsageError(f"Connections ({connection.name}): a rest connection needs a URL")
        config = load_config(connection, book_dir)
        auth, secrets = _auth(connection, config.auth)
        session = HttpSession(connection.url, name=connection.name, auth=auth, secrets=secrets)
        return cls(connection, config, session)

    def streams(self) -> Sequence[Stream]:
        return [Stream(t.table, key=t.key, columns=tuple(t.fields)) for t in self.config.tables]

    def _table(self, stream: Stream) -> RestTable:
        return next(t for t in self.config.tables if t.table.name == stream.name)

    def read(self, stream: Stream, cursor: str | None) -> Records:
        table = self._table(stream)
        params = dict(table.params)
        incremental = table.incremental is not None and cursor is not None
        if incremental and table.incremental is not None and cursor is not None:
            params[table.incremental.param] = cursor
        rows: list[dict[str, Any]] = []
        ids: list[str] = []
        seen: set[str] = set()
        marks: list[str] = []
        for page in paginate(
            self.session,
            table.endpoint,
            paginator=_paginator(table),
            params=params,
            record_path=table.records,
        ):
            for record in page:
                ident = dig(record, table.id_field)
                if ident is None or ident == "":
                    raise ExternalSystemError(
                        f"{self.connection}: a record from {table.endpoint} has no "
                        f"{table.id_field!r} (the id field in the connection's config)"
                    )
                ident = str(ident)
                if ident in seen:
                    continue  # pages that shift under us repeat a record: keep the first
                seen.add(ident)
                ids.append(ident)
                rows.append({column: dig(record, path) for column, path in table.fields.items()})
                if table.incremental is not None:
                    mark = dig(record, table.incremental.field)
                    if mark is not None:
                        marks.append(str(mark))
        next_cursor = max(marks, default=cursor) if table.incremental is not None else None
        return Records(rows, ids, complete=not incremental, cursor=next_cursor)


def _paginator(table: RestTable) -> Any:
    if table.paginator == "page":
        return PageNumberPaginator(
            param=table.page_param, size_param=table.size_param, size=table.page_size
        )
    if table.paginator == "offset":
        return OffsetPaginator(
            offset_param=table.offset_param, limit_param=table.size_param, limit=table.page_size
        )
    if table.paginator == "cursor":
        return CursorPaginator(cursor_path=table.cursor_path, param=table.cursor_param)
    if table.paginator == "link":
        return LinkHeaderPaginator()
    return SinglePage()


def _auth(connection: Connection, auth: RestAuth) -> tuple[AuthBase | None, list[Secret]]:
    if auth.kind == "none":
        return None, []
    secret = resolve_secret(connection.auth or "env:", connection=connection.name)
    if auth.kind == "bearer":
        return BearerAuth(secret), [secret]
    if auth.kind == "api_key":
        if auth.query:
            return ApiKeyAuth(secret, query=auth.query), [secret]
        return ApiKeyAuth(secret, header=auth.header), [secret]
    if auth.kind == "basic":
        return BasicAuth(connection.user, secret), [secret]
    return (
        OAuth2ClientCredentials(
            auth.token_url, auth.client_id or connection.user, secret, scope=auth.scope or None
        ),
        [secret],
    )
