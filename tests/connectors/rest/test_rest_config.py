"""A REST connection's config, in Options or in a TOML file: every mistake in it stops
``sheetloop pull`` with a usage error (exit 2) that says where (the connection or the
file, and the table) and which key, never an internal error (exit 70), and before any
request is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from support.books import make_book
from support.loopback_http import Reply, loopback_server

from sheetloop.addin.cli import main
from sheetloop.connectors.connections import Connection
from sheetloop.connectors.rest.config import (
    AUTH_KEYS,
    OPTION_TABLE_KEYS,
    TABLE_KEYS,
    Incremental,
    load_config,
)
from sheetloop.errors import UsageError

TOKEN = "cfg-t0ken-never-shown"
ONE_TABLE = "table=Customers; endpoint=/api/customers; map=Customer:code,Name:name"


def finance_book(tmp_path: Path, url: str, options: str, *, user: str = "") -> Path:
    return make_book(
        tmp_path / "finance.xlsx",
        {
            "Connections": [
                ["Connection", "System", "URL", "User", "Auth", "Options"],
                ["finance", "rest", url, user, "env:FINANCE_TOKEN", options],
            ],
            "Customers": [["Customer", "Name"], ["MINE", "Typed by me"]],
        },
    )


def toml_table(**lines: str) -> str:
    """A config file with one Customers table; ``lines`` go into its section as written."""
    body = "\n".join(f"{key} = {value}" for key, value in lines.items())
    return (
        '[auth]\nkind = "bearer"\n\n'
        f'[tables.Customers]\nendpoint = "/api/customers"\n{body}\n\n'
        '[tables.Customers.fields]\nCustomer = "code"\nName = "name"\n'
    )


@dataclass(frozen=True)
class Mistake:
    """A config with one mistake: in Options, or (``toml``) in finance.toml."""

    options: str
    said: tuple[str, ...]  # what the message must contain, beside where it is
    toml: str | None = None
    user: str = ""


MISTAKES = {
    "page_size in Options is not a number": Mistake(
        f"{ONE_TABLE}; paginator=page; page_size=fifty", ("page_size", "'fifty'")
    ),
    "page_size in Options is zero": Mistake(
        f"{ONE_TABLE}; paginator=page; page_size=0", ("page_size", "above 0")
    ),
    "page_size in the file is text": Mistake(
        "config=finance.toml", ("page_size", "'fifty'"), toml_table(page_size='"fifty"')
    ),
    "page_size in the file is a fraction": Mistake(
        "config=finance.toml", ("page_size", "2.5"), toml_table(page_size="2.5")
    ),
    "incremental is text, not a table": Mistake(
        "config=finance.toml",
        ("incremental must be a table with param", "field", "'updated'"),
        toml_table(incremental='"updated"'),
    ),
    "incremental lacks field": Mistake(
        "config=finance.toml",
        ("incremental must be a table with param", "updated_since"),
        toml_table(incremental='{ param = "updated_since" }'),
    ),
    "incremental has a key of its own": Mistake(
        "config=finance.toml",
        ("incremental must be a table",),
        toml_table(incremental='{ param = "since", field = "updated", format = "iso" }'),
    ),
    "an unknown key in Options": Mistake(
        f"{ONE_TABLE}; pagesize=50", ("unknown key 'pagesize'", "page_size", "endpoint")
    ),
    "incremental in Options belongs in a file": Mistake(
        f"{ONE_TABLE}; incremental=updated", ("unknown key 'incremental'", "config=")
    ),
    "an unknown key in a table of the file": Mistake(
        "config=finance.toml",
        ("table Customers", "unknown key 'paginater'", "paginator", "page_size"),
        toml_table(paginater='"cursor"'),
    ),
    "an unknown key in the file's auth": Mistake(
        "config=finance.toml",
        ("auth", "unknown key 'token'", "kind", "token_url"),
        '[auth]\nkind = "bearer"\ntoken = "do-not-put-it-here"\n\n'
        '[tables.Customers]\nendpoint = "/c"\nfields = { Customer = "code" }\n',
    ),
    "an unknown section of the file": Mistake(
        "config=finance.toml",
        ("unknown key 'table'", "auth, tables"),
        '[table.Customers]\nendpoint = "/c"\n',
    ),
    "a table of the file is not a section": Mistake(
        "config=finance.toml",
        ("table Customers", "must be a table"),
        'tables = { Customers = "x" }\n',
    ),
    "fields of the file are not a section": Mistake(
        "config=finance.toml",
        ("table Customers", "fields must be a table"),
        '[tables.Customers]\nendpoint = "/c"\nfields = "code"\n',
    ),
    "oauth2 without token_url in Options": Mistake(
        f"{ONE_TABLE}; auth=oauth2", ("oauth2 needs token_url",), user="sheetloop-client"
    ),
    "oauth2 without token_url in the file": Mistake(
        "config=finance.toml",
        ("auth", "oauth2 needs token_url"),
        toml_table().replace('kind = "bearer"', 'kind = "oauth2"\nclient_id = "me"'),
    ),
    "api_key with both header and query in Options": Mistake(
        f"{ONE_TABLE}; auth=api_key; header=X-Finance-Key; query=key",
        ("header", "query", "not both"),
    ),
    "api_key with both header and query in the file": Mistake(
        "config=finance.toml",
        ("header", "query", "not both"),
        toml_table().replace(
            'kind = "bearer"', 'kind = "api_key"\nheader = "X-Key"\nquery = "key"'
        ),
    ),
    "a header for a kind that sends none": Mistake(
        f"{ONE_TABLE}; auth=bearer; header=X-Finance-Key", ("header", "api_key", "bearer")
    ),
    "one-table keys beside config=": Mistake(
        f"config=finance.toml; {ONE_TABLE}", ("config=finance.toml", "table", "endpoint", "map")
    ),
    "basic without a User": Mistake(f"{ONE_TABLE}; auth=basic", ("basic needs a User",)),
    "oauth2 without a client id": Mistake(
        f"{ONE_TABLE}; auth=oauth2; token_url=/oauth/token", ("client id", "User")
    ),
}


@pytest.mark.parametrize("mistake", list(MISTAKES.values()), ids=list(MISTAKES))
def test_a_config_mistake_stops_pull_with_exit_2_naming_where_and_the_key(
    mistake: Mistake,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FINANCE_TOKEN", TOKEN)
    if mistake.toml is not None:
        (tmp_path / "finance.toml").write_text(mistake.toml, encoding="utf-8")
    with loopback_server() as server:
        server.route("GET", "/api/customers", lambda r: Reply(200, body=[]))
        book = finance_book(tmp_path, server.url, mistake.options, user=mistake.user)

        assert main(["pull", str(book), "finance"]) == 2

        assert server.received == []  # refused before anything was sent
    err = capsys.readouterr().err
    where = "finance.toml" if mistake.toml is not None else "Connections (finance)"
    assert where in err, err
    for fragment in mistake.said:
        assert fragment in err, err
    assert "Traceback" not in err and TOKEN not in err


def test_an_unknown_key_is_listed_with_every_key_that_is_known(tmp_path: Path) -> None:
    (tmp_path / "finance.toml").write_text(toml_table(endpont='"/x"'), encoding="utf-8")
    connection = Connection("finance", "rest", options={"config": "finance.toml"})
    with pytest.raises(UsageError, match="unknown key 'endpont'") as raised:
        load_config(connection, tmp_path)
    assert all(key in str(raised.value) for key in TABLE_KEYS)
    options = Connection("finance", "rest", options={"table": "Customers", "colour": "red"})
    with pytest.raises(UsageError, match="unknown key 'colour'") as raised:
        load_config(options, tmp_path)
    assert all(key in str(raised.value) for key in (*OPTION_TABLE_KEYS, "push", "config"))


def test_the_one_table_form_takes_every_auth_setting_of_the_file_form(tmp_path: Path) -> None:
    """What ``[auth]`` says in a file, Options say with ``auth=KIND`` and the same keys."""
    options = {
        "table": "Customers",
        "endpoint": "/c",
        "map": "Customer:code",
        "auth": "oauth2",
        "token_url": "https://auth.example.com/token",
        "client_id": "planner",
        "scope": "read:customers",
        "push": "",
    }
    config = load_config(Connection("finance", "rest", options=options), tmp_path)
    auth = config.auth
    assert set(AUTH_KEYS) - {"kind", "header", "query"} <= set(options)
    assert (auth.kind, auth.token_url, auth.client_id, auth.scope) == (
        "oauth2",
        "https://auth.example.com/token",
        "planner",
        "read:customers",
    )


def test_a_well_formed_file_gives_each_table_its_paging_and_incremental_read(
    tmp_path: Path,
) -> None:
    (tmp_path / "finance.toml").write_text(
        toml_table(
            paginator='"page"',
            page_size="25",
            incremental='{ param = "since", field = "meta.updated" }',
            key='"Customer"',
        ),
        encoding="utf-8",
    )
    config = load_config(
        Connection("finance", "rest", options={"config": "finance.toml"}), tmp_path
    )
    (table,) = config.tables
    assert (table.paginator, table.page_size, table.key) == ("page", 25, ("Customer",))
    assert table.incremental == Incremental("since", "meta.updated")
