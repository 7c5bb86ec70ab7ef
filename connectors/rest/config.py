"""A declarative REST connection: any JSON API mapped to workbook tables.

A connection with ``System = rest`` describes its tables either in ``Options`` (one table:
``table=Customers; endpoint=/customers; records=data; id=id; map=Customer:code,Name:name``)
or in a TOML file beside the book named by ``config=FILE.toml`` (several tables, nested
fields, paging and incremental reads). See the README's "Generic REST" section.

Every mistake in either form is a :class:`UsageError` that names the connection (or the
file), the table and the key, and says what is expected: a config is written by hand, and
a typo must never surface as an internal error.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sheetloop.connectors.connections import Connection
from sheetloop.errors import UsageError
from sheetloop.workbooks.schema import INPUT_TABLES, Table, header_key

PAGINATORS = ("single", "page", "offset", "cursor", "link")
AUTH_KINDS = ("none", "bearer", "api_key", "basic", "oauth2")

#: The keys of a ``[tables.NAME]`` section of a config file.
TABLE_KEYS = (
    "endpoint",
    "fields",
    "records",
    "id",
    "key",
    "paginator",
    "page_size",
    "cursor_path",
    "cursor_param",
    "page_param",
    "size_param",
    "offset_param",
    "incremental",
    "params",
)
#: The keys of a config file's ``[auth]`` section.
AUTH_KEYS = ("kind", "header", "query", "token_url", "client_id", "scope")
#: The top-level sections of a config file.
FILE_KEYS = ("auth", "tables")
#: Options keys that are not about the REST config itself: ``push=`` is read by refresh.
SHARED_OPTION_KEYS = ("config", "push")
#: The keys of the one-table form in ``Options`` (``auth=`` holds the auth kind).
OPTION_TABLE_KEYS = (
    "table",
    "endpoint",
    "map",
    "records",
    "id",
    "paginator",
    "page_size",
    "cursor_path",
    "cursor_param",
    "page_param",
    "size_param",
    "offset_param",
)
OPTION_AUTH_KEYS = ("auth", "header", "query", "token_url", "client_id", "scope")
# Only the config file can say these: a hint for whoever writes them in Options.
_FILE_ONLY = ("incremental", "params", "key", "fields")

_WHOLE_NUMBER = re.compile(r"[0-9]+")
_INCREMENTAL_EXAMPLE = 'incremental = { param = "updated_since", field = "updated" }'


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
    """How requests carry the connection's secret (the secret itself comes from Auth)."""

    kind: str = "bearer"
    header: str = "X-API-Key"  # api_key
    query: str = ""  # api_key sent as this query parameter instead of a header
    token_url: str = ""  # oauth2
    client_id: str = ""  # oauth2 (default: the connection's User)
    scope: str = ""  # oauth2


@dataclass(frozen=True)
class RestConfig:
    auth: RestAuth
    tables: tuple[RestTable, ...]


def _refuse_unknown(
    keys: Iterable[str], known: tuple[str, ...], where: str, hint: str = ""
) -> None:
    unknown = [k for k in keys if k not in known]
    if unknown:
        listed = ", ".join(repr(k) for k in unknown)
        raise UsageError(
            f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {listed} (the known keys "
            f"are {', '.join(known)}){hint}"
        )


def _section(value: Any, what: str, where: str) -> Mapping[str, Any]:
    """A TOML table (``{}`` when absent), or a usage error saying one was expected."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"{where}: {what} must be a table of keys, not {value!r}")
    return value


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


def _page_size(value: Any, where: str) -> int:
    """A positive whole number, written as a number (TOML) or as text (Options)."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
        size = int(value.strip())
    else:
        size = 0
    if size < 1:
        raise UsageError(
            f"{where}: page_size must be a whole number of records per page, above 0 "
            f"(found {value!r})"
        )
    return size


def _incremental(value: Any, where: str) -> Incremental | None:
    if value is None:
        return None
    wanted = ("param", "field")
    if (
        not isinstance(value, dict)
        or set(value) - set(wanted)
        or not all(isinstance(value.get(k), str) and value[k].strip() for k in wanted)
    ):
        raise UsageError(
            f"{where}: incremental must be a table with param (the query parameter that "
            f"takes the last cursor) and field (the record field the cursor is read from), "
            f"e.g. {_INCREMENTAL_EXAMPLE} (found {value!r})"
        )
    return Incremental(value["param"].strip(), value["field"].strip())


def _key(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(k, str) and k for k in value):
        raise UsageError(
            f"{where}: key must be a column name or a list of them, e.g. key = "
            f'["Customer"] (found {value!r})'
        )
    return tuple(value)


def _rest_table(name: str, raw: Any, where: str) -> RestTable:
    where = f"{where}, table {name}"
    data = _section(raw, f"[tables.{name}]", where)
    _refuse_unknown(data, TABLE_KEYS, where)
    spec = _table_spec(name, where)
    fields = _section(data.get("fields"), "fields", where)
    if not fields:
        raise UsageError(f"{where}: needs fields (workbook column = JSON field)")
    for column in fields:
        try:
            spec.column(column)
        except KeyError:
            known = ", ".join(spec.column_names)
            raise UsageError(
                f"{where}: {spec.name} has no column {column!r} (it has: {known})"
            ) from None
    if not data.get("endpoint"):
        raise UsageError(f"{where}: needs an endpoint (a path like /customers)")
    key = _key(data.get("key"), where) or spec.key[:1]
    mapped = {header_key(c) for c in fields}
    missing_key = [k for k in key if header_key(k) not in mapped]
    if missing_key:
        raise UsageError(f"{where}: must map its key column(s) {', '.join(missing_key)}")
    try:
        key_columns = tuple(spec.column(k).name for k in key)
    except KeyError as exc:
        raise UsageError(f"{where}: key: {exc.args[0]}") from None
    params = _section(data.get("params"), "params", where)
    return RestTable(
        table=spec,
        endpoint=str(data["endpoint"]),
        fields={spec.column(c).name: str(p) for c, p in fields.items()},
        id_field=str(data.get("id", "id")),
        records=str(data.get("records", "")),
        paginator=_choice(str(data.get("paginator", "single")), PAGINATORS, "paginator", where),
        page_size=_page_size(data.get("page_size", 100), where),
        cursor_path=str(data.get("cursor_path", "next")),
        cursor_param=str(data.get("cursor_param", "after")),
        page_param=str(data.get("page_param", "page")),
        size_param=str(data.get("size_param", "limit")),
        offset_param=str(data.get("offset_param", "offset")),
        key=key_columns,
        incremental=_incremental(data.get("incremental"), where),
        params={str(k): str(v) for k, v in params.items()},
    )


def _text(value: Any) -> str:
    """A TOML value as text; a list (of OAuth2 scopes) joined by spaces."""
    if isinstance(value, list):
        return " ".join(str(v).strip() for v in value if str(v).strip())
    return str(value).strip()


def _rest_auth(raw: Any, where: str) -> RestAuth:
    where = f"{where}, auth"
    data = _section(raw, "auth", where)
    _refuse_unknown(data, AUTH_KEYS, where)
    kind = _choice(str(data.get("kind", "bearer")), AUTH_KINDS, "kind", where)
    given = {k: _text(v) for k, v in data.items() if k != "kind" and _text(v)}
    if kind == "api_key" and "header" in given and "query" in given:
        raise UsageError(
            f"{where}: an API key goes in a header or in a query parameter, not both: keep "
            f"header= (e.g. X-API-Key) or query= (e.g. api_key)"
        )
    if kind == "oauth2" and "token_url" not in given:
        raise UsageError(
            f"{where}: oauth2 needs token_url, the address of the token endpoint (e.g. "
            f"https://auth.example.com/oauth/token)"
        )
    for keys, owner in (
        (("header", "query"), "api_key"),
        (("token_url", "client_id", "scope"), "oauth2"),
    ):
        misplaced = [k for k in keys if k in given and kind != owner]
        if misplaced:
            verb = "applies" if len(misplaced) == 1 else "apply"
            raise UsageError(
                f"{where}: {', '.join(misplaced)} {verb} only to kind {owner}, and the kind "
                f"is {kind}: change the kind or remove {'it' if len(misplaced) == 1 else 'them'}"
            )
    return RestAuth(
        kind=kind,
        header=given.get("header", "X-API-Key"),
        query=given.get("query", ""),
        token_url=given.get("token_url", ""),
        client_id=given.get("client_id", ""),
        scope=given.get("scope", ""),
    )


def load_config(connection: Connection, book_dir: Path) -> RestConfig:
    """The connection's tables, from its TOML file (``config=``) or its Options.

    Raises :class:`UsageError` for anything either form gets wrong: an unknown key, a
    value of the wrong kind, a missing file.
    """
    options_where = f"Connections ({connection.name}), Options"
    file = connection.option("config")
    if file:
        _refuse_one_table_keys(connection, file, options_where)
        path = (book_dir / file).resolve()
        where = f"{path} (connection {connection.name})"
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(
                f"Connections ({connection.name}): the config file {path} does not exist"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"Connections ({connection.name}): the config file {path} cannot be read "
                f"({type(exc).__name__}): is it a UTF-8 text file?"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{path}: not valid TOML ({exc})") from None
        _refuse_unknown(data, FILE_KEYS, where)
    else:
        where = options_where
        _refuse_unknown(
            connection.options,
            (*OPTION_TABLE_KEYS, *OPTION_AUTH_KEYS, *SHARED_OPTION_KEYS),
            where,
            _file_only_hint(connection.options),
        )
        data = _from_options(connection, where)
    tables = _section(data.get("tables"), "tables", where)
    if not tables:
        raise UsageError(
            f"{where}: no tables to sync; give table=, endpoint=, map= in Options or "
            "config=FILE.toml"
        )
    _refuse_repeated_tables(tables, where)
    return RestConfig(
        auth=_rest_auth(data.get("auth"), where),
        tables=tuple(_rest_table(name, t, where) for name, t in tables.items()),
    )


def _file_only_hint(options: Mapping[str, str]) -> str:
    if any(k in _FILE_ONLY for k in options):
        return (
            "; incremental reads, params, key and several tables go in a TOML file named by config="
        )
    return ""


def _refuse_one_table_keys(connection: Connection, file: str, where: str) -> None:
    """With ``config=`` everything is in the file: a one-table key beside it would be
    silently ignored, so it is refused."""
    extra = [k for k in connection.options if k not in SHARED_OPTION_KEYS]
    if extra:
        raise UsageError(
            f"{where}: with config={file} the tables and auth are read from that file; "
            f"move {', '.join(extra)} into it, or drop config= to use the one-table form"
        )


def _refuse_repeated_tables(tables: Mapping[str, Any], where: str) -> None:
    seen: dict[str, str] = {}
    for name in tables:
        first = seen.setdefault(header_key(name), name)
        if first != name:
            raise UsageError(f"{where}: tables {first} and {name} are the same workbook table")


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
    for key in OPTION_TABLE_KEYS:
        if key not in ("table", "map") and connection.option(key):
            entry[key] = connection.option(key)
    auth = {"kind": connection.option("auth", "bearer")}
    for key in OPTION_AUTH_KEYS:
        if key != "auth" and connection.option(key):
            auth[key] = connection.option(key)
    return {"auth": auth, "tables": {table: entry}}
