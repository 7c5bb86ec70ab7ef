"""A declarative REST connection: any JSON API mapped to workbook tables.

A connection with ``System = rest`` describes its tables either in ``Options`` (one table:
``table=Customers; endpoint=/customers; records=data; id=id; map=Customer:code,Name:name``)
or in a TOML file beside the book named by ``config=FILE.toml`` (several tables, nested
fields, paging and incremental reads). See the README's "Generic REST" section.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sheetloop.connectors.connections import Connection
from sheetloop.errors import UsageError
from sheetloop.workbooks.schema import INPUT_TABLES, Table, header_key

PAGINATORS = ("single", "page", "offset", "cursor", "link")
AUTH_KINDS = ("none", "bearer", "api_key", "basic", "oauth2")


@dataclass(frozen=True)
class Incremental:
    """Read only what changed: send the last cursor as ``param``; the new cursor is the
    largest value of the records' ``field``."""

    param: str
    field: str


@dataclass(frozen=True)
class RestTable:
    """How one workbook table is read from the API."""

    table: Table
    endpoint: str
    fields: dict[str, str]  # workbook column -> dotted JSON path
    id_field: str = "id"
    records: str = ""  # dotted path of the list in each page ("" = the body is the list)
    paginator: str = "single"
    page_size: int = 100
    cursor_path: str = "next"  # cursor paging: where the next token is
    cursor_param: str = "after"
    page_param: str = "page"
    size_param: str = "limit"
    offset_param: str = "offset"
    key: tuple[str, ...] = ()
    incremental: Incremental | None = None
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RestAuth:
    kind: str = "bearer"
    header: str = "X-API-Key"  # api_key
    query: str = ""  # api_key sent as this query parameter instead of a header
    token_url: str = ""  # oauth2
    client_id: str = ""  # oauth2
    scope: str = ""


@dataclass(frozen=True)
class RestConfig:
    auth: RestAuth
    tables: tuple[RestTable, ...]


def _table_spec(name: str, where: str) -> Table:
    for spec in INPUT_TABLES:
        if header_key(spec.name) == header_key(name):
            return spec
    known = ", ".join(t.name for t in INPUT_TABLES)
    raise UsageError(f"{where}: {name!r} is not an input table (they are: {known})")


def _choice(value: str, allowed: tuple[str, ...], what: str, where: str) -> str:
    if value not in allowed:
        raise UsageError(f"{where}: {what} must be one of {', '.join(allowed)} (found {value!r})")
    return value


def _rest_table(name: str, data: dict[str, Any], where: str) -> RestTable:
    spec = _table_spec(name, where)
    fields = data.get("fields") or {}
    if not isinstance(fields, dict) or not fields:
        raise UsageError(f"{where}: table {name} needs fields (workbook column = JSON field)")
    for column in fields:
        try:
            spec.column(column)
        except KeyError:
            raise UsageError(f"{where}: {spec.name} has no column {column!r}") from None
    if not data.get("endpoint"):
        raise UsageError(f"{where}: table {name} needs an endpoint (a path like /customers)")
    incremental = data.get("incremental")
    key = tuple(data.get("key") or spec.key[:1])
    missing_key = [k for k in key if header_key(k) not in {header_key(c) for c in fields}]
    if missing_key:
        raise UsageError(
            f"{where}: table {name} must map its key column(s) {', '.join(missing_key)}"
        )
    return RestTable(
        table=spec,
        endpoint=str(data["endpoint"]),
        fields={spec.column(c).name: str(p) for c, p in fields.items()},
        id_field=str(data.get("id", "id")),
        records=str(data.get("records", "")),
        paginator=_choice(str(data.get("paginator", "single")), PAGINATORS, "paginator", where),
        page_size=int(data.get("page_size", 100)),
        cursor_path=str(data.get("cursor_path", "next")),
        cursor_param=str(data.get("cursor_param", "after")),
        page_param=str(data.get("page_param", "page")),
        size_param=str(data.get("size_param", "limit")),
        offset_param=str(data.get("offset_param", "offset")),
        key=tuple(spec.column(k).name for k in key),
        incremental=Incremental(str(incremental["param"]), str(incremental["field"]))
        if isinstance(incremental, dict)
        else None,
        params={str(k): str(v) for k, v in (data.get("params") or {}).items()},
    )


def load_config(connection: Connection, book_dir: Path) -> RestConfig:
    """The connection's tables, from its TOML file (``config=``) or its Options."""
    where = f"Connections ({connection.name})"
    file = connection.option("config")
    if file:
        path = (book_dir / file).resolve()
        where = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(
                f"Connections ({connection.name}): the config file {path} does not exist"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{path}: not valid TOML ({exc})") from None
    else:
        data = _from_options(connection, where)
    tables = data.get("tables") or {}
    if not tables:
        raise UsageError(
            f"{where}: no tables to sync; give table=, endpoint=, map= in Options or "
            "config=FILE.toml"
        )
    auth = data.get("auth") or {}
    return RestConfig(
        auth=RestAuth(
            kind=_choice(str(auth.get("kind", "bearer")), AUTH_KINDS, "auth kind", where),
            header=str(auth.get("header", "X-API-Key")),
            query=str(auth.get("query", "")),
            token_url=str(auth.get("token_url", "")),
            client_id=str(auth.get("client_id", "")),
            scope=str(auth.get("scope", "")),
        ),
        tables=tuple(_rest_table(name, t, where) for name, t in tables.items()),
    )


def _from_options(connection: Connection, where: str) -> dict[str, Any]:
    """The one-table form kept in ``Options``."""
    table = connection.option("table")
    if not table:
        return {}
    mapping: dict[str, str] = {}
    for pair in connection.listed("map"):
        column, sep, path = pair.partition(":")
        if not sep:
            raise UsageError(f"{where}: map= takes Column:field pairs (found {pair!r})")
        mapping[column.strip()] = path.strip()
    entry: dict[str, Any] = {"fields": mapping}
    for key in (
        "endpoint",
        "records",
        "paginator",
        "id",
        "cursor_path",
        "cursor_param",
        "page_param",
        "size_param",
        "offset_param",
    ):
        if connection.option(key):
            entry[key] = connection.option(key)
    if connection.option("page_size"):
        entry["page_size"] = int(connection.option("page_size"))
    auth = {"kind": connection.option("auth", "bearer")}
    if connection.option("header"):
        auth["header"] = connection.option("header")
    return {"auth": auth, "tables": {table: entry}}
