"""The Excel macros: the command line's code path run on a live book through xlwings.

Each macro runs here on xlwings' remote engine standing in for Excel: the book is built
from a workbook file as an xlwings client would send it, the macro records what Excel
should do as actions, and ``apply_actions`` runs them on a copy of the file (see
``support/xlwings_remote.py``). The copy is read back with python-calamine and compared
with what ``sheetloop`` on the command line writes for the same book.

What this cannot reach, and why that is acceptable:

- the Windows/macOS COM path and VBA's ``RunPython``: the macros are thin wrappers (take
  ``xw.Book.caller()``, wrap it in the live adapter, run the command's core, save) over
  code that is the same on every engine; only the adapter's few calls into xlwings'
  documented API differ, and Excel runs those itself;
- Excel's real status bar and screen updating: the remote engine has neither, so
  ``excel_ui`` is watched here through a recording application around the remote book;
- message boxes: an alert is an action on the remote engine (a ``MsgBox`` on the
  desktop); the tests read its text from the actions, it changes nothing in the book;
- what the remote engine lacks (charts, conditional formats, hiding the state sheet) is
  proven on the file adapter and reached in live Excel through xlwings' API; the
  remote engine does not show its writes to later reads, so the live adapter remembers
  what it wrote there (``run`` and ``refresh`` hand plan's results to allocation so).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
import xlwings as xw
from python_calamine import CalamineWorkbook
from support.books import make_book
from support.hubspot_api import HubSpotApi
from support.loopback_http import LoopbackServer, Received, Reply, loopback_server
from support.xlwings_remote import apply_actions, remote_book

from sheetloop.addin import cli, macros
from sheetloop.addin.xlwings_book import XlwingsBook
from sheetloop.errors import UsageError
from sheetloop.workbooks.demo_data import demo_company
from sheetloop.workbooks.file_book import STATE_SHEET, FileBook
from sheetloop.workbooks.interface import TablePatch
from sheetloop.workbooks.schema import CUSTOMERS
from sheetloop.workbooks.template import init_book

MONDAY = dt.date(2026, 11, 30)
TOKEN = "t0ken-that-must-not-show"
PLAN_TABLES = ("PlannedOrders", "Pegging", "MRP", "Exceptions", "RunLog")
ALLOCATE_TABLES = (
    "Allocation",
    "DemandStatus",
    "CustomerService",
    "Bottlenecks",
    "Exceptions",
    "RunLog",
)
SOLVER_TIME = re.compile(r"\(\d+(\.\d+)? s\)")
TIMED = frozenset({"RunLog", "SyncLog"})  # logs whose first column is the time of the run
PULL_CUSTOMERS = (
    "table=Customers; endpoint=/customers; records=results; id=id; "
    "map=Customer:code,Name:name,Tier:tier"
)
RECORDS = [
    {"id": 1, "code": "NEWCO", "name": "New Co", "tier": 1},
    {"id": 2, "code": "=EVIL()", "name": "00123", "tier": 2},
    {"id": 3, "code": "C-1001", "name": "typed by the planner, kept", "tier": 3},
]


# --- running a macro and the command line on the same book ------------------------------------


def alerts(book: Any) -> list[list[Any]]:
    """The message boxes a macro asked for: (prompt, title, buttons, mode, callback)."""
    return [a["args"] for a in book.json()["actions"] if a["func"] == "alert"]


def book_actions(book: Any) -> list[dict[str, Any]]:
    """The actions that change the workbook (an alert only shows a message)."""
    return [a for a in book.json()["actions"] if a["func"] != "alert"]


def applied(book: Any, original: Path, out: Path) -> Path:
    return apply_actions(book_actions(book), original, out)


def by_macro(
    macro: Callable[..., macros.MacroResult], path: Path, tmp_path: Path, **kwargs: Any
) -> tuple[macros.MacroResult, Any, Path]:
    """Run a macro on ``path`` through the remote engine; the result, the remote book and
    the copy of ``path`` its actions were applied to."""
    book = remote_book(path)
    result = macro(book, **kwargs)
    out = applied(book, path, tmp_path / f"macro-{macro.__name__}-{path.name}")
    return result, book, out


def by_cli(args: list[str], path: Path, tmp_path: Path) -> tuple[int, Path]:
    """``sheetloop ARGS`` on a copy of ``path``; the exit status and the copy."""
    copy = tmp_path / f"cli-{args[0]}-{path.name}"
    shutil.copyfile(path, copy)
    return cli.main([args[0], str(copy), *args[1:]]), copy


def tables(path: Path) -> dict[str, list[list[Any]]]:
    """Every Excel table's data rows (python-calamine's reading, without the header)."""
    book = CalamineWorkbook.from_path(str(path), load_tables=True)
    return {name: book.get_table_by_name(name).to_python() for name in book.table_names}


def comparable(name: str, rows: list[list[Any]]) -> list[list[Any]]:
    """Rows with numbers to 15 significant digits (openpyxl, which applies the actions here,
    writes 16 where Excel keeps the whole double) and without a log's times (when it ran,
    how long the solver took)."""
    if name in TIMED:
        rows = [[_untimed(v) for v in row[1:]] for row in rows]
    return [[float(f"{v:.15g}") if isinstance(v, float) else v for v in row] for row in rows]


def _untimed(value: Any) -> Any:
    return SOLVER_TIME.sub("(s)", value) if isinstance(value, str) else value


def assert_same_tables(cli_book: Path, macro_book: Path, names: tuple[str, ...]) -> None:
    ours, theirs = tables(cli_book), tables(macro_book)
    assert sorted(theirs) == sorted(ours)
    for name in names:
        assert ours[name], f"{name} is empty: the comparison would prove nothing"
        assert comparable(name, theirs[name]) == comparable(name, ours[name]), name


def touched_sheets(book: Any, original: Path) -> set[str]:
    """The sheets a remote book's actions write to, by name."""
    sheets = list(openpyxl.load_workbook(original, read_only=True).sheetnames)
    touched = set()
    for action in book_actions(book):
        if action["func"] == "addSheet":
            position, name = action["args"]
            sheets.insert(position, name)
            touched.add(name)
        elif action["sheet_position"] is not None and action["func"] != "activateSheet":
            touched.add(sheets[action["sheet_position"]])
    return touched


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.xlsx"
    init_book(path, demo_company(MONDAY))
    return path


@pytest.fixture(scope="module")
def planned_demo(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo after ``sheetloop plan``: what ``allocate`` starts from."""
    path = tmp_path_factory.mktemp("planned") / "planned.xlsx"
    shutil.copyfile(demo, path)
    assert cli.main(["plan", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def invalid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo with a negative lead time (Items!F3) and a negative order (Demand!F2)."""
    data = demo_company(MONDAY)
    data["Items"].loc[1, "Lead Time"] = -3
    data["Demand"].loc[0, "Qty"] = -5
    path = tmp_path_factory.mktemp("invalid") / "invalid.xlsx"
    init_book(path, data)
    return path


# --- plan, allocate, run, check: the command line's results ---------------------------------


def test_the_plan_macro_writes_what_sheetloop_plan_writes(demo: Path, tmp_path: Path):
    result, book, out = by_macro(macros.plan, demo, tmp_path)
    status, expected = by_cli(["plan"], demo, tmp_path)
    assert (result.status, status) == (0, 0)
    assert_same_tables(expected, out, PLAN_TABLES)
    assert alerts(book) == []  # the results speak for themselves


def test_the_allocate_macro_writes_what_sheetloop_allocate_writes(
    planned_demo: Path, tmp_path: Path
):
    result, _, out = by_macro(macros.allocate, planned_demo, tmp_path)
    status, expected = by_cli(["allocate"], planned_demo, tmp_path)
    assert (result.status, status) == (0, 0)
    assert_same_tables(expected, out, ALLOCATE_TABLES)


def test_the_run_macro_writes_what_plan_then_allocate_write(demo: Path, tmp_path: Path):
    result, _, out = by_macro(macros.run, demo, tmp_path)
    _, expected = by_cli(["plan"], demo, tmp_path)
    assert cli.main(["allocate", str(expected)]) == 0
    assert result.status == 0
    assert_same_tables(expected, out, (*PLAN_TABLES, *ALLOCATE_TABLES))
    assert [row[1] for row in tables(out)["RunLog"]] == ["plan", "allocate"]


def test_the_check_macro_says_what_sheetloop_check_prints_and_writes_nothing(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    book = remote_book(demo)
    result = macros.check(book)
    assert cli.main(["check", str(demo)]) == 0
    printed = capsys.readouterr().out.strip()
    assert result.status == 0 and result.lines == [printed]
    assert alerts(book) == [[printed, "sheetloop", "ok", "info", ""]]
    assert book_actions(book) == []


def test_a_macro_takes_the_calling_book_by_default(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    book = remote_book(demo)
    monkeypatch.setattr(xw.Book, "caller", staticmethod(lambda: book))
    assert macros.plan().status == 0
    assert "PlannedOrders" in tables(applied(book, demo, tmp_path / "caller.xlsx"))


# --- invalid data: only the Problems sheet -----------------------------------------------------


@pytest.mark.parametrize("macro", [macros.plan, macros.allocate, macros.run, macros.check])
def test_on_invalid_data_a_macro_writes_only_the_problems_sheet(
    macro: Callable[..., macros.MacroResult],
    invalid: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
):
    result, book, out = by_macro(macro, invalid, tmp_path)
    status, _ = by_cli([macro.__name__], invalid, tmp_path)
    printed = capsys.readouterr()
    # The command line lists the problems (check on stdout, the others on stderr), then
    # says what happened in a line of its own.
    listed = [
        line
        for line in (printed.out + printed.err).splitlines()
        if not line.startswith("sheetloop ")
    ]
    assert result.status == status == 1
    assert result.lines == listed and listed
    # Problems, and sheetloop's state sheet recording that it owns it: nothing else.
    assert touched_sheets(book, invalid) == {"Problems", STATE_SHEET}
    rows = tables(out)["Problems"]
    assert [f"{where}: {problem}" for where, _, problem in _links(out)] == listed
    assert [row[1:] for row in rows] == [["error", p.split(": ", 1)[1]] for p in listed]
    assert alerts(book) == []  # the Problems sheet is shown instead
    last = book.json()["actions"][-1]
    assert last["func"] == "activateSheet"
    assert openpyxl.load_workbook(out).worksheets[last["args"][0]].title == "Problems"


def _links(path: Path) -> list[tuple[str, str, str]]:
    """The Problems rows as (link target, severity, problem), from the link formulas."""
    sheet = openpyxl.load_workbook(path)["Problems"]
    assert [c.value for c in sheet[1]] == ["Where", "Severity", "Problem"]
    out = []
    for where, severity, problem in sheet.iter_rows(min_row=2, values_only=True):
        assert isinstance(where, str) and where.startswith('=HYPERLINK("#'), where
        target, text = where[len('=HYPERLINK("#') : -2].split('","')
        assert target == text  # the link shows where it leads
        out.append((target, str(severity), str(problem)))
    return out


def test_each_problem_links_to_the_offending_cell(invalid: Path, tmp_path: Path):
    _, _, out = by_macro(macros.plan, invalid, tmp_path)
    book = openpyxl.load_workbook(out)
    found = {}
    for target, _, problem in _links(out):
        sheet, cell = target.split("!")
        found[target] = book[sheet][cell].value
        assert str(found[target]) in problem  # the cell holds the value the problem names
    assert found == {"Items!F3": -3, "Demand!F2": -5}


def test_a_successful_run_clears_the_problems_an_earlier_run_left(invalid: Path, tmp_path: Path):
    _, _, failed = by_macro(macros.plan, invalid, tmp_path)
    fixed = tmp_path / "fixed.xlsx"
    book = openpyxl.load_workbook(failed)
    book["Items"]["F3"] = 3
    book["Demand"]["F2"] = 5
    book.save(fixed)
    result, _, out = by_macro(macros.plan, fixed, tmp_path)
    assert result.status == 0
    after = tables(out)
    assert all(v == "" for row in after["Problems"] for v in row)
    assert after["PlannedOrders"]
    again = remote_book(out)
    assert macros.plan(again).status == 0
    assert "Problems" not in touched_sheets(again, out)  # once cleared, left alone


def test_warnings_of_a_successful_run_are_listed_in_problems(demo: Path, tmp_path: Path):
    newer = tmp_path / "newer.xlsx"
    book = openpyxl.load_workbook(demo)
    state = book[STATE_SHEET]
    (row,) = [r for r in state.iter_rows() if r[0].value == "contract_version"]
    row[1].value = "9.0"
    book.save(newer)
    result, _, out = by_macro(macros.plan, newer, tmp_path)
    assert result.status == 0 and "newer sheetloop" in result.lines[0]
    after = tables(out)
    assert [row[1] for row in after["Problems"]] == ["warning"]
    assert "newer sheetloop (workbook contract 9.0" in after["Problems"][0][2]
    assert after["PlannedOrders"]


# --- Excel's user interface --------------------------------------------------------------------


class WatchedApp:
    """The remote engine's application, with the status bar and screen updating a desktop
    Excel has, recording every setting and message."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._values: dict[str, object] = {"status_bar": False, "screen_updating": True}
        self.calls: list[tuple[str, object]] = []

    @property
    def engine(self) -> Any:
        return self._app.engine

    def __getattr__(self, name: str) -> object:
        if name in ("status_bar", "screen_updating"):
            return self._values[name]
        raise AttributeError(name)

    def __setattr__(self, name: str, value: object) -> None:
        if name in ("status_bar", "screen_updating"):
            self.calls.append((name, value))
            self._values[name] = value
        else:
            object.__setattr__(self, name, value)

    def alert(self, prompt: str, **kwargs: Any) -> None:
        self.calls.append(("alert", prompt))


class WatchedBook:
    def __init__(self, book: Any) -> None:
        self._book = book
        self.app = WatchedApp(book.app)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._book, name)


@pytest.mark.parametrize("which", ["demo", "invalid"])
def test_screen_updating_and_the_status_bar_are_restored_however_the_macro_ends(
    which: str, demo: Path, invalid: Path
):
    book = WatchedBook(remote_book(demo if which == "demo" else invalid))
    result = macros.plan(book)
    calls = book.app.calls
    assert result.status == (0 if which == "demo" else 1)
    assert calls[0] == ("screen_updating", False)
    assert calls[-2:] == [("screen_updating", True), ("status_bar", False)]
    progress = [v for k, v in calls[1:-2] if k == "status_bar"]
    assert progress[0] == f"sheetloop plan: reading {which}.xlsx"
    if which == "demo":
        assert "sheetloop plan: planning" in progress and progress[-1] == "sheetloop plan: done"
    else:
        assert progress[-1] == "sheetloop: listing 2 problem(s) in the Problems sheet"


# --- other errors: a message, never a traceback -------------------------------------------------


def test_a_bug_shows_one_line_and_the_log_file_that_holds_the_details(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(macros, "plan_in", broken)
    monkeypatch.setenv("SHEETLOOP_LOG_DIR", str(tmp_path / "logs"))
    book = remote_book(demo)
    result = macros.plan(book)
    (log,) = (tmp_path / "logs").iterdir()
    assert result.status == 70
    assert alerts(book) == [[result.message, "sheetloop", "ok", "critical", ""]]
    assert result.message is not None and "\n" not in result.message
    assert "RuntimeError: boom" in result.message and str(log) in result.message
    assert "Traceback" in log.read_text() and "Traceback" not in result.message
    assert book_actions(book) == []


def test_push_refuses_as_the_command_line_does_and_says_so_in_excel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = finance_book(tmp_path, "http://127.0.0.1:9")
    book = remote_book(path)
    result = macros.push(book, "finance")
    status, _ = by_cli(["push", "finance"], path, tmp_path)
    printed = capsys.readouterr().err.strip()
    assert result.status == status == 2
    assert alerts(book) == [[printed, "sheetloop", "ok", "critical", ""]]
    assert book_actions(book) == []


def test_push_without_a_connection_name_takes_the_only_one_or_asks_which(tmp_path: Path):
    path = finance_book(tmp_path, "http://127.0.0.1:9")
    named, default = macros.push(remote_book(path), "finance"), macros.push(remote_book(path))
    assert default.message == named.message and named.status == 2
    two = make_book(
        tmp_path / "two.xlsx",
        {
            "Connections": [
                ["Connection", "System", "URL"],
                ["erp", "rest", "http://127.0.0.1:9"],
                ["crm", "rest", "http://127.0.0.1:9"],
            ]
        },
    )
    asked = macros.push(remote_book(two))
    assert asked.status == UsageError.exit_code
    assert asked.message is not None and "2 connections (erp, crm)" in asked.message


# --- pull and refresh over a REST connection -------------------------------------------------


def finance_book(tmp_path: Path, url: str, options: str = PULL_CUSTOMERS) -> Path:
    """The demo with one connection: a finance team's customer API (served on 127.0.0.1)."""
    data = demo_company(MONDAY)
    data["Connections"] = pd.DataFrame(
        {
            "Connection": ["finance"],
            "System": ["rest"],
            "URL": [url],
            "Auth": ["env:FINANCE_TOKEN"],
            "Options": [options],
        }
    )
    path = tmp_path / "finance.xlsx"
    init_book(path, data)
    return path


@dataclass
class Finance:
    """The customer API as a test sees it: where it is and the records it serves."""

    url: str
    records: list[dict[str, Any]]


@pytest.fixture
def finance(monkeypatch: pytest.MonkeyPatch) -> Iterator[Finance]:
    """The customer API on 127.0.0.1: a bearer token, the records of :data:`RECORDS`
    (a test may change them between calls)."""
    monkeypatch.setenv("FINANCE_TOKEN", TOKEN)
    records = [dict(r) for r in RECORDS]

    def customers(request: Received) -> Reply:
        if request.header("Authorization") != f"Bearer {TOKEN}":
            return Reply(401, body={"error": "bad token"})
        return Reply(200, body={"results": records})

    with loopback_server() as server:
        server.route("GET", "/customers", customers)
        yield Finance(server.url, records)


def test_the_pull_macro_writes_what_sheetloop_pull_writes(finance: Finance, tmp_path: Path):
    path = finance_book(tmp_path, finance.url)
    result, _, out = by_macro(macros.pull, path, tmp_path)
    status, expected = by_cli(["pull"], path, tmp_path)
    assert (result.status, status) == (0, 0)
    assert_same_tables(expected, out, ("Customers", "SyncLog"))
    customers = tables(out)["Customers"]
    assert [r[0] for r in customers[-2:]] == ["NEWCO", "=EVIL()"]  # text stays text
    assert customers[-1][1] == "00123"


def test_a_second_pull_macro_updates_in_place_as_the_command_line_does(
    finance: Finance, tmp_path: Path
):
    """The sync state the first pull recorded in the book is read back: an unchanged
    record leaves its row alone, a changed one updates its row in place."""
    first = finance_book(tmp_path, finance.url)
    _, _, pulled = by_macro(macros.pull, first, tmp_path)
    finance.records[0]["tier"] = 2
    result, _, out = by_macro(macros.pull, pulled, tmp_path, connection="finance")
    status, expected = by_cli(["pull", "finance"], pulled, tmp_path)
    assert (result.status, status) == (0, 0)
    assert_same_tables(expected, out, ("Customers", "SyncLog"))
    assert result.lines[0].startswith("finance pull Customers: 0 created, 1 updated, 1 unchanged")


def test_a_failing_system_is_a_message_in_excel_and_the_failure_is_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("FINANCE_TOKEN", TOKEN)
    with loopback_server() as server:
        server.route("GET", "/customers", lambda r: Reply(500, body={"error": "database down"}))
        path = finance_book(tmp_path, server.url)
        result, book, out = by_macro(macros.pull, path, tmp_path)
        status, expected = by_cli(["pull"], path, tmp_path)
    printed = capsys.readouterr().err.strip().splitlines()[-1]
    assert result.status == status == 3
    assert alerts(book) == [[printed, "sheetloop", "ok", "critical", ""]]
    assert "database down" in printed
    assert_same_tables(expected, out, ("SyncLog",))
    assert TOKEN not in json.dumps(book.json()["actions"])


def test_the_refresh_macro_writes_what_sheetloop_refresh_writes(finance: Finance, tmp_path: Path):
    path = finance_book(tmp_path, finance.url)
    result, _, out = by_macro(macros.refresh, path, tmp_path)
    status, expected = by_cli(["refresh"], path, tmp_path)
    assert (result.status, status) == (0, 0)
    assert_same_tables(expected, out, ("Customers", "SyncLog", *PLAN_TABLES, *ALLOCATE_TABLES))
    assert "no connection has push= in its Options: nothing was pushed" in result.lines


# --- push to HubSpot --------------------------------------------------------------------------
#
# The receiving system is a HubSpot portal imitated on 127.0.0.1 (``support/hubspot_api.py``).
# The macro and the command line each push the same book to a portal in the same state: two
# imitations served in turn at one address, so the book's URL holds for both.

HUBSPOT_TOKEN = "pat-na1-5e6f7a8b-macro-push-token"


def seed_portal(server: LoopbackServer) -> HubSpotApi:
    """A portal at ``server``'s address (taking it over from any earlier one) holding three
    companies; the same ids and timestamps on every call."""
    api = HubSpotApi(server, HUBSPOT_TOKEN)
    for i in (1, 2, 3):
        api.add_company(customer_code=f"C{i:03d}", name=f"Company {i}", tier=str(i))
    return api


def sheet_rows(path: Path, sheet: str) -> list[dict[str, Any]]:
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()
    return [dict(zip([str(h) for h in rows[0]], r, strict=True)) for r in rows[1:]]


def test_the_push_macro_sends_and_records_what_sheetloop_push_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("HUBSPOT_TOKEN", HUBSPOT_TOKEN)
    with loopback_server() as server:
        by_macro_portal = seed_portal(server)
        path = make_book(
            tmp_path / "crm.xlsx",
            {
                "Connections": [
                    ["Connection", "System", "URL", "Auth"],
                    ["crm", "hubspot", server.url, "env:HUBSPOT_TOKEN"],
                ],
                "Customers": [["Customer", "Name", "Tier"], ["MINE", "Typed by me", 2]],
            },
        )
        assert cli.main(["pull", str(path), "crm"]) == 0
        edited = openpyxl.load_workbook(path)
        edited["Customers"]["B4"] = "Second Ltd"  # C002
        edited["Customers"]["C5"] = 1  # C003
        edited.save(path)

        result, book, out = by_macro(macros.push, path, tmp_path, connection="crm")
        by_cli_portal = seed_portal(server)
        status, expected = by_cli(["push", "crm"], path, tmp_path)

    assert (result.status, status) == (0, 0)
    assert alerts(book) == []
    ours, theirs = sheet_rows(expected, "Customers"), sheet_rows(out, "Customers")
    for row in (*ours, *theirs):
        # When a row was sent differs from one run to the other; whether it was does not.
        row["Synced At"] = isinstance(row["Synced At"], dt.datetime)
    assert theirs == ours
    assert {r["Customer"]: (r["Sync Status"], r["Synced At"]) for r in theirs} == {
        "MINE": ("pushed", True),
        "C001": ("synced", False),
        "C002": ("pushed", True),
        "C003": ("pushed", True),
    }
    created = by_macro_portal.find("companies", "customer_code", "MINE")
    assert created is not None and theirs[0]["crm Id"] == created.id
    assert by_macro_portal.objects == by_cli_portal.objects
    assert by_macro_portal.get("companies", theirs[2]["crm Id"]).properties["name"] == "Second Ltd"
    assert by_macro_portal.get("companies", theirs[3]["crm Id"]).properties["tier"] == "1"
    assert_same_tables(expected, out, ("SyncLog",))


# --- patch_table: what pull writes, through the live adapter ----------------------------------


def customers_book(tmp_path: Path, below: dict[str, Any] | None = None) -> Path:
    path = make_book(
        tmp_path / "customers.xlsx",
        {
            "Customers": [
                ["Customer", "Name", "Tier", "Notes"],
                ["ACME", "Acme", 1, "mine"],
                ["BOLT", "Bolt", 2, None],
            ]
        },
    )
    if below:
        book = openpyxl.load_workbook(path)
        for cell, value in below.items():
            book["Customers"][cell] = value
        book.save(path)
    return path


PATCH = TablePatch(
    CUSTOMERS,
    updates={0: {"Name": "=Acme Corp", "Tier": 3}, 1: {"Notes": "00123"}},
    appends=[
        {"Customer": "COGS", "Name": "2026-11-30", "Tier": 1.5, "finance Id": "7"},
        {"Customer": "-DASH", "Name": True, "Since": dt.date(2026, 11, 30)},
    ],
    new_columns=["finance Id", "Since"],
)


def test_a_patch_through_the_live_adapter_gives_the_table_the_file_adapter_gives(
    tmp_path: Path,
):
    path = customers_book(tmp_path)
    on_file = tmp_path / "file.xlsx"
    shutil.copyfile(path, on_file)
    file_book = FileBook.open(on_file)
    file_book.patch_table(PATCH)
    file_book.save()
    live = XlwingsBook(remote_book(path))
    live.patch_table(PATCH)
    assert book_actions(live.book) == []  # staged until save
    live.save()
    ours = FileBook.open(on_file).find_table("Customers")
    theirs = FileBook.open(applied(live.book, path, tmp_path / "live.xlsx")).find_table("Customers")
    assert ours is not None and theirs is not None
    assert theirs.headers == ours.headers
    assert theirs.headers[-2:] == ["finance Id", "Since"]
    assert theirs.rows == ours.rows
    assert theirs.rows[-1][:3] == ["-DASH", "yes", ""]
    # The live adapter reads back what it wrote (the remote engine would not show it).
    assert live.find_table("Customers") == theirs


def test_a_patch_that_would_grow_over_the_users_cells_is_refused_naming_them(tmp_path: Path):
    path = customers_book(tmp_path, below={"B5": "total", "E2": 99})
    live = XlwingsBook(remote_book(path))
    live.patch_table(PATCH)
    with pytest.raises(UsageError, match=r"in the way: B5, E2\. Move them"):
        live.save()
    assert book_actions(live.book) == []


def test_removing_rows_in_a_live_book_is_refused_with_what_to_do_instead(tmp_path: Path):
    live = XlwingsBook(remote_book(customers_book(tmp_path)))
    with pytest.raises(UsageError, match="--prune"):
        live.patch_table(TablePatch(CUSTOMERS, removes=[1]))
