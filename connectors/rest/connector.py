"""Read workbook tables from any JSON API, as a REST connection's config describes."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
        marks: list[Any] = []
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
                    marks.append(dig(record, table.incremental.field))
        next_cursor = latest_cursor(marks, cursor) if table.incremental is not None else None
        return Records(rows, ids, complete=not incremental, cursor=next_cursor)


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _as_number(value: Any) -> Decimal | None:
    """A JSON number, or text that is one ("10"), exactly; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value)) if math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return Decimal(value.strip())
    return None


def _as_moment(value: Any) -> dt.datetime | None:
    """ISO 8601 date or date-time text as an aware datetime (no offset: taken as UTC, so
    every candidate compares); None otherwise."""
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _cursor_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def latest_cursor(values: Iterable[Any], previous: str | None = None) -> str | None:
    """The largest of the records' cursor values and the previous cursor, as text; the
    previous cursor when no record has one.

    Values compare by what they are, never as plain text (where "9" > "10"): as numbers
    when all are numbers (JSON numbers or numeric text), as instants when all are ISO
    dates or date-times (offsets applied), otherwise as text.
    """
    candidates = [v for v in values if v is not None and v != "" and not isinstance(v, dict | list)]
    if previous is not None and previous != "":
        candidates.append(previous)
    if not candidates:
        return previous
    numbers = [n for n in map(_as_number, candidates) if n is not None]
    if len(numbers) == len(candidates):
        return _cursor_text(candidates[numbers.index(max(numbers))])
    moments = [m for m in map(_as_moment, candidates) if m is not None]
    if len(moments) == len(candidates):
        return _cursor_text(candidates[moments.index(max(moments))])
    return max(_cursor_text(v) for v in candidates)


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
    where = f"Connections ({connection.name})"
    if auth.kind == "basic" and not connection.user:
        raise UsageError(f"{where}: auth kind basic needs a User (the password comes from Auth)")
    client_id = auth.client_id or connection.user
    if auth.kind == "oauth2" and not client_id:
        raise UsageError(
            f"{where}: auth kind oauth2 needs a client id: write it in User (or client_id=); "
            f"the client secret comes from Auth"
        )
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
            _token_url(connection, auth.token_url),
            client_id,
            secret,
            scope=auth.scope or None,
            name=f"Connection {connection.name!r}",
        ),
        [secret],
    )


def _token_url(connection: Connection, token_url: str) -> str:
    """The token endpoint: an absolute http(s) URL, or a path on the connection's URL."""
    parts = urlsplit(token_url)
    if not parts.scheme:
        return f"{connection.url.strip().rstrip('/')}/{token_url.lstrip('/')}"
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"Connections ({connection.name}): token_url must start with https:// (or "
            f"http://) and name a host, or be a path on the connection's URL (found "
            f"{token_url!r})"
        )
    return token_url
