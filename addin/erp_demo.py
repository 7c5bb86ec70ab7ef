"""``sheetloop demo --erp``: the whole planning loop on a real ERP, on this machine.

It starts a local Tryton on 127.0.0.1 (from the cached demo database, built the first time
in about 25 s), seeds it with the demo company, writes a book that holds nothing but
``Settings`` and a ``Connections`` row for that server, and runs pull, plan, allocate and
push on the book, saying what moved where. The server stops at the end (``keep_running``
leaves it up until Ctrl+C, to explore it in a Tryton client); the book stays.

The server's admin password is the published local-only one: the book names an
environment variable (``Auth = env:...``) that this process sets for itself, so the
password is never written into the book nor printed.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sheetloop.addin.commands import Outcome, allocate, plan, pull, push, writing
from sheetloop.connectors.tryton import (
    LocalTryton,
    TrytonClient,
    golden_database,
    require_tryton,
)
from sheetloop.connectors.tryton.mapping import NOTE_PREFIX, parse_ref
from sheetloop.connectors.tryton.seed import seed_company
from sheetloop.solver.buckets import monday_of_this_week
from sheetloop.workbooks.demo_data import demo_company
from sheetloop.workbooks.file_book import FileBook
from sheetloop.workbooks.problems import Problem
from sheetloop.workbooks.template import init_book

__all__ = [
    "BOOK_NAME",
    "CONNECTION",
    "PASSWORD_VARIABLE",
    "PUSHED_TABLES",
    "PushedToTryton",
    "demo_erp",
    "pushed_to_tryton",
    "wait_for_ctrl_c",
]

#: The book the ERP demo writes into its directory.
BOOK_NAME = "sheetloop-erp-demo.xlsx"
#: The name of the book's connection to the local Tryton.
CONNECTION = "Tryton"
#: The environment variable the book's ``Auth`` names; set for the demo's own process only.
PASSWORD_VARIABLE = "SHEETLOOP_DEMO_TRYTON_PASSWORD"
#: The tables the demo pushes back to Tryton.
PUSHED_TABLES = ("PlannedOrders", "DemandStatus")
# The golden database's warehouse stands for the demo's factory; NORTH and SOUTH are made.
_FACTORY, _WAREHOUSE = "MAIN", "WH"

Report = Callable[[str], None]


@dataclass(frozen=True)
class PushedToTryton:
    """What a push of the demo book left in Tryton, read back from Tryton."""

    purchases: int  # draft purchases holding pushed lines
    purchase_lines: int
    suppliers: int
    productions: int
    noted_lines: int  # sale lines whose note holds an allocation line
    refused: int  # planned orders Tryton refused (their Sync Status says why)

    def lines(self, url: str) -> list[str]:
        """The push as lines to print."""
        out = [
            f"pushed {self.purchases} draft purchases ({self.purchase_lines} lines) to "
            f"{self.suppliers} suppliers and {self.productions} draft productions to Tryton "
            f"at {url}",
            f"wrote allocation notes on {self.noted_lines} sale lines",
        ]
        if self.refused:
            out.append(
                f"Tryton refused {self.refused} planned orders: Sync Status in PlannedOrders "
                "says why"
            )
        return out


def demo_erp(
    directory: Path,
    *,
    start: dt.date | None = None,
    keep_running: bool = False,
    report: Report | None = None,
    progress: Report | None = None,
) -> Outcome:
    """Run the planning loop of the demo company on a local Tryton; the book goes to
    ``directory/BOOK_NAME``.

    ``report`` gets the lines saying what moved where as they happen (without it they are
    returned in the outcome), ``progress`` what is being done. Raises
    ``TrytonNotInstalledError`` (exit 2, with the pip command to run) without Tryton.
    With ``keep_running`` the server stays up until Ctrl+C (``wait_for_ctrl_c``).
    """
    require_tryton()
    collected: list[str] = []
    tell = report or collected.append
    say = progress or _silent
    # The first run builds the database (about 25 s) and says so through ``say``.
    database = golden_database(progress=say)
    say("starting Tryton on 127.0.0.1")
    with LocalTryton.start(database) as server:
        path = directory / BOOK_NAME
        warnings = _run_loop(server, path, start or monday_of_this_week(), tell, say)
        if keep_running:
            tell(
                f"Tryton keeps running at {server.url}, database {server.database}: log in "
                "as admin with the local demo password (README, sheetloop demo --erp); "
                "press Ctrl+C to stop it"
            )
            wait_for_ctrl_c(server)
    return Outcome([*collected, f"stopped Tryton; the book stays: {path}"], warnings)


def wait_for_ctrl_c(server: LocalTryton) -> None:
    """Wait until the user presses Ctrl+C, or the server ends by itself."""
    try:
        while server.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        return


def _run_loop(
    server: LocalTryton, path: Path, start: dt.date, tell: Report, say: Report
) -> list[Problem]:
    """Seed, write the book, then pull, plan, allocate and push it; returns the warnings
    the steps found in the book."""
    tables = demo_company(start)
    say(f"seeding the demo company into Tryton at {server.url}")
    with server.client() as client:
        client.login()
        seeded = seed_company(
            client,
            tables,
            today=dt.date.today(),
            sites={_FACTORY: _WAREHOUSE},
            create_sites=True,
        )
    for line in seeded.lines():
        tell(line)
    _write_book(path, tables["Settings"], server)
    tell(f"wrote {path}: Settings and a Connections row for the local Tryton")
    warnings: list[Problem] = []
    with _password_set(server.password):
        say("pulling from Tryton")
        warnings += _tell_all(say, pull(path, report=say))
        tell(_pulled_line(path, server))
        say("planning")
        warnings += _tell_all(tell, plan(path))
        tell(_planned_line(path))
        say("allocating")
        warnings += _tell_all(tell, allocate(path))
        say("pushing planned orders and allocation results to Tryton")
        warnings += _tell_all(say, push(path, CONNECTION, tables=list(PUSHED_TABLES), report=say))
    with server.client() as client:
        for line in pushed_to_tryton(path, client).lines(server.url):
            tell(line)
    # Each step reads the same book: a warning about it is told once.
    return list(dict.fromkeys(warnings))


def _tell_all(tell: Report, outcome: Outcome) -> list[Problem]:
    # Each step saves the book: its "wrote" line would repeat the book's path four times.
    for line in outcome.lines:
        if not line.startswith("wrote "):
            tell(line)
    return outcome.warnings


def _write_book(path: Path, settings: pd.DataFrame, server: LocalTryton) -> None:
    connection = {
        "Connection": CONNECTION,
        "System": "tryton",
        "URL": server.url,
        "Database": server.database,
        "User": server.user,
        "Auth": f"env:{PASSWORD_VARIABLE}",
        "Options": f"sites={_WAREHOUSE}:{_FACTORY}; push={','.join(PUSHED_TABLES)}",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with writing(path, None, "demo"):
        if path.exists():
            path.unlink()
        init_book(path, {"Settings": settings, "Connections": pd.DataFrame([connection])})


@contextmanager
def _password_set(password: str) -> Iterator[None]:
    """The book's ``Auth`` variable, set for this process only and restored after."""
    before = os.environ.get(PASSWORD_VARIABLE)
    os.environ[PASSWORD_VARIABLE] = password
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(PASSWORD_VARIABLE, None)
        else:
            os.environ[PASSWORD_VARIABLE] = before


# --- what moved where -----------------------------------------------------------------------


def _book_rows(path: Path, table: str) -> list[dict[str, Any]]:
    """The non-blank rows of a table of the book, as dicts by header."""
    found = FileBook.open(path).find_table(table)
    if found is None:
        return []
    return [
        dict(zip(found.headers, row, strict=False))
        for row in found.rows
        if any(v not in (None, "") for v in row)
    ]


def _pulled_line(path: Path, server: LocalTryton) -> str:
    counts = {t: len(_book_rows(path, t)) for t in _PULLED}
    return (
        f"pulled {counts['Items']} items, {counts['BOM']} BOM lines, {counts['Inventory']} "
        f"stock rows, {counts['Receipts']} open receipts, {counts['Demand']} sale lines and "
        f"{counts['Customers']} customers from Tryton at {server.url} (database "
        f"{server.database})"
    )


_PULLED = ("Items", "BOM", "Inventory", "Receipts", "Demand", "Customers")


def _planned_line(path: Path) -> str:
    orders = _book_rows(path, "PlannedOrders")
    buy = sum(1 for o in orders if o.get("Kind") == "buy")
    return f"of the planned orders, {buy} are to buy and {len(orders) - buy} to make"


def pushed_to_tryton(path: Path, client: TrytonClient) -> PushedToTryton:
    """Read back from Tryton the records the book's pushed rows stand for."""
    orders = _book_rows(path, "PlannedOrders")
    sent = [parse_ref(o.get("External Id"), ("purchase.line", "production")) for o in orders]
    line_ids = [r[1] for r in sent if r and r[0] == "purchase.line"]
    production_ids = [r[1] for r in sent if r and r[0] == "production"]
    lines = client.read("purchase.line", line_ids, ["purchase", "purchase.party"])
    productions = client.read("production", production_ids, ["state"])
    status = [
        parse_ref(r.get("Tryton Id"), ("sale.line",)) for r in _book_rows(path, "DemandStatus")
    ]
    notes = client.read("sale.line", [r[1] for r in status if r], ["note"])
    refused = sum(1 for o in orders if str(o.get("Sync Status") or "").startswith("failed"))
    return PushedToTryton(
        purchases=len({line["purchase"] for line in lines}),
        purchase_lines=len(lines),
        suppliers=len({line["purchase."]["party"] for line in lines}),
        productions=len(productions),
        noted_lines=sum(1 for n in notes if f"{NOTE_PREFIX} confirmed" in (n.get("note") or "")),
        refused=refused,
    )


def _silent(line: str) -> None:
    """The default progress callback: say nothing."""
