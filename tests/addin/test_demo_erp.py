"""``sheetloop demo --erp``: the whole loop on a local Tryton of its own, end to end through
the command line, and what it says when Tryton is not installed.

The summary it prints is checked against the book it leaves and, while ``--keep-running``
holds the server up, against Tryton itself.
"""

from __future__ import annotations

import importlib.util
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests
from python_calamine import CalamineWorkbook

from sheetloop.addin import cli, erp_demo
from sheetloop.connectors.tryton import LOCAL_ADMIN_PASSWORD, LocalTryton

PULLED = re.compile(
    r"^pulled (\d+) items, (\d+) BOM lines, (\d+) stock rows, (\d+) open receipts, (\d+) sale "
    r"lines and (\d+) customers from Tryton at (\S+) \(database (\S+)\)$",
    re.MULTILINE,
)
PLANNED = re.compile(r"^planned (\d+) order\(s\) for ", re.MULTILINE)
PUSHED = re.compile(
    r"^pushed (\d+) draft purchases \((\d+) lines\) to (\d+) suppliers and (\d+) draft "
    r"productions to Tryton at (\S+)$",
    re.MULTILINE,
)
NOTED = re.compile(r"^wrote allocation notes on (\d+) sale lines$", re.MULTILINE)
REFUSED = re.compile(r"^Tryton refused (\d+) planned orders", re.MULTILINE)


def tryton_installed() -> bool:
    return importlib.util.find_spec("trytond") is not None


needs_tryton = pytest.mark.skipif(
    not tryton_installed(), reason='trytond not installed: pip install "sheetloop[tryton]"'
)


def table(path: Path, name: str) -> list[dict[str, Any]]:
    found = CalamineWorkbook.from_path(str(path), load_tables=True).get_table_by_name(name)
    return [
        dict(zip(found.columns, row, strict=True))
        for row in found.to_python()
        if any(v != "" for v in row)
    ]


def book_text(path: Path) -> str:
    with zipfile.ZipFile(path) as package:
        return "\n".join(package.read(n).decode("utf-8", "replace") for n in package.namelist())


def numbers(pattern: re.Pattern[str], text: str) -> tuple[str, ...]:
    found = pattern.search(text)
    assert found, f"no line like {pattern.pattern!r} in:\n{text}"
    return found.groups()


def refused(text: str) -> int:
    found = REFUSED.search(text)
    return int(found.group(1)) if found else 0


# --- the loop ---------------------------------------------------------------------------


@needs_tryton
def test_the_erp_demo_pulls_plans_allocates_and_pushes_and_its_summary_matches_the_book(
    tmp_path, capsys
):
    code = cli.main(["demo", "--erp", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    book = tmp_path / erp_demo.BOOK_NAME
    assert out.rstrip().endswith(f"stopped Tryton; the book stays: {book}")
    assert "starting Tryton on 127.0.0.1" in err

    items, bom, stock, receipts, demand, customers, url, _ = numbers(PULLED, out)
    for name, count in (
        ("Items", items),
        ("BOM", bom),
        ("Inventory", stock),
        ("Receipts", receipts),
        ("Demand", demand),
        ("Customers", customers),
    ):
        assert len(table(book, name)) == int(count), name
    planned = table(book, "PlannedOrders")
    assert len(planned) == int(numbers(PLANNED, out)[0]) > 0
    _, lines, _, productions, _ = numbers(PUSHED, out)
    status = [r["Sync Status"] for r in planned]
    assert status.count("pushed") == int(lines) + int(productions)
    assert sum(s.startswith("failed") for s in status) == refused(out) == 0
    noted = [r for r in table(book, "DemandStatus") if r["Sync Status"] == "pushed"]
    assert len(noted) == int(numbers(NOTED, out)[0]) == int(demand)

    # The server is gone; the book only names where its password came from.
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{url}rpc/", json={"method": "common.server.version"}, timeout=5)
    (connection,) = table(book, "Connections")
    assert connection["Auth"] == f"env:{erp_demo.PASSWORD_VARIABLE}"
    assert LOCAL_ADMIN_PASSWORD not in book_text(book) + out + err


@needs_tryton
def test_kept_running_tryton_holds_what_the_summary_says_was_pushed(tmp_path, capsys, monkeypatch):
    found: dict[str, Any] = {}

    def explore_then_press_ctrl_c(server: LocalTryton) -> None:
        # What a user would see in a Tryton client while the demo waits.
        with server.client() as client:
            lines = client.search_read(
                "purchase.line",
                [("purchase.state", "=", "draft")],
                ["purchase", "purchase.party"],
            )
            found["purchases"] = len({line["purchase"] for line in lines})
            found["lines"] = len(lines)
            found["suppliers"] = len({line["purchase."]["party"] for line in lines})
            # the work orders seeded are drafts too, referenced by the demo's order ids
            found["productions"] = client.search_count(
                "production", [("state", "=", "draft"), ("reference", "not like", "WO-%")]
            )
            found["noted"] = client.search_count(
                "sale.line", [("note", "like", "%sheetloop: confirmed%")]
            )
        found["server"] = server
        assert server.running

    monkeypatch.setattr(erp_demo, "wait_for_ctrl_c", explore_then_press_ctrl_c)
    code = cli.main(["demo", "--erp", str(tmp_path), "--keep-running"])
    out, err = capsys.readouterr()
    assert code == 0, err

    purchases, lines, suppliers, productions, url = numbers(PUSHED, out)
    assert (found["purchases"], found["lines"], found["suppliers"]) == (
        int(purchases),
        int(lines),
        int(suppliers),
    )
    assert found["productions"] == int(productions) > 0
    assert found["noted"] == int(numbers(NOTED, out)[0]) > 0
    server = found["server"]
    assert url == server.url
    assert f"Tryton keeps running at {server.url}, database {server.database}" in out
    assert "press Ctrl+C to stop it" in out
    assert not server.running  # Ctrl+C stopped it
    assert LOCAL_ADMIN_PASSWORD not in out + err


class _Server:
    """Stands for a kept server: ``running`` until ``polls`` run out, then Ctrl+C."""

    def __init__(self, polls: int, *, interrupt: bool) -> None:
        self.polls = polls
        self.interrupt = interrupt

    @property
    def running(self) -> bool:
        self.polls -= 1
        if self.polls > 0:
            return True
        if self.interrupt:
            raise KeyboardInterrupt
        return False


def test_ctrl_c_ends_the_wait_for_a_kept_server_quietly(monkeypatch):
    monkeypatch.setattr(erp_demo.time, "sleep", lambda seconds: None)
    waited = _Server(3, interrupt=True)
    erp_demo.wait_for_ctrl_c(waited)  # type: ignore[arg-type]
    assert waited.polls == 0


def test_a_kept_server_that_ends_by_itself_ends_the_wait(monkeypatch):
    monkeypatch.setattr(erp_demo.time, "sleep", lambda seconds: None)
    waited = _Server(2, interrupt=False)
    erp_demo.wait_for_ctrl_c(waited)  # type: ignore[arg-type]
    assert waited.polls == 0


# --- without Tryton, and wrong options ---------------------------------------------------


def test_without_tryton_installed_it_exits_2_saying_which_pip_command_installs_it(
    tmp_path, capsys, monkeypatch
):
    real_find_spec = importlib.util.find_spec

    def no_trytond(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name.split(".")[0] == "trytond" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", no_trytond)
    code = cli.main(["demo", "--erp", str(tmp_path / "demo")])
    out, err = capsys.readouterr()
    assert code == 2
    assert 'pip install "sheetloop[tryton]"' in err
    assert "Tryton is not installed" in err
    assert out == ""
    assert not (tmp_path / "demo").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--keep-running"], "add --erp"),
        (["--erp", "--items", "100"], "--items is for a book without an ERP"),
    ],
)
def test_options_that_do_not_go_with_the_erp_demo_exit_2(tmp_path, capsys, options, message):
    code = cli.main(["demo", str(tmp_path / "demo"), *options])
    _, err = capsys.readouterr()
    assert code == 2
    assert message in err
    assert not (tmp_path / "demo").exists()
