"""Tryton failing on the wire: what is tried again, what is not, and what a failed
``sheetloop pull`` / ``push`` leaves behind.

Every call reaches a real Tryton server. Faults (an HTTP 500 or 503, an answer held back
past the client's timeout, a connection dropped before or after Tryton acted) are injected
by a proxy between client and server (``support.tryton_proxy``); a crash is a real server
killed. Retry waits are recorded instead of slept, so no test here really waits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import tryton_records as records
from python_calamine import CalamineWorkbook
from support.loopback_http import closed_port
from support.tryton_proxy import Action, TrytonProxy, tryton_proxy

from sheetloop.addin import cli
from sheetloop.connectors.http.retry import RetryPolicy
from sheetloop.connectors.tryton import (
    LOCAL_ADMIN_PASSWORD,
    LocalTryton,
    TrytonClient,
    TrytonError,
    TrytonFailure,
    rpc,
)
from sheetloop.workbooks.file_book import FileBook
from sheetloop.workbooks.interface import TablePatch
from sheetloop.workbooks.schema import CONNECTIONS
from sheetloop.workbooks.template import init_book

PASSWORD_VARIABLE = "SHEETLOOP_TEST_TRYTON_PASSWORD"
TODAY = dt.date.today()
BOM_READ = "model.production.bom.input.search_read"  # only pull's BOM table reads it
NOT_SENT_AGAIN = "It was not sent again, as Tryton may have carried it out"


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits of clients built without a policy of their own, recorded, not slept."""
    slept: list[float] = []
    quick = dataclasses.replace(rpc.DEFAULT_RETRY, sleep=slept.append)
    monkeypatch.setattr(rpc, "DEFAULT_RETRY", quick)
    return slept


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_VARIABLE, LOCAL_ADMIN_PASSWORD)


@pytest.fixture
def proxy(tryton_server: LocalTryton) -> Iterator[TrytonProxy]:
    """A fault-injecting proxy in front of the shared server."""
    with tryton_proxy(tryton_server.url) as started:
        yield started


@pytest.fixture
def client(proxy: TrytonProxy, tryton_server: LocalTryton) -> Iterator[TrytonClient]:
    """An admin client that talks to the shared server through the proxy, logged in."""
    with TrytonClient(
        proxy.url, tryton_server.database, tryton_server.user, tryton_server.password
    ) as made:
        made.login()
        yield made


def most_tries() -> int:
    return rpc.DEFAULT_RETRY.max_attempts


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.02)


def parties_named(client: TrytonClient, name: str) -> int:
    return client.search_count("party.party", [("name", "=", name)])


# --- what the client tries again --------------------------------------------------------


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_read_answered_a_transient_server_error_is_tried_again_after_a_growing_wait(
    client, proxy, tryton, waits, status
):
    (party,) = records.create_parties(tryton.client, [(tryton.code("P"), "Retried")])
    proxy.answer(status, method="model.party.party.search", times=2)
    before = client.calls

    found = client.search("party.party", [("code", "=", tryton.code("P"))])

    assert found == [party]
    assert proxy.count("model.party.party.search") == 3
    assert client.calls - before == 3
    policy = rpc.DEFAULT_RETRY
    assert len(waits) == 2
    for attempt, wait in enumerate(waits, start=1):
        ceiling = min(policy.max_backoff, policy.backoff * 2 ** (attempt - 1))
        assert ceiling / 2 <= wait <= ceiling


def test_a_retry_after_sent_with_a_503_is_the_wait_before_the_next_try(client, proxy, waits):
    proxy.answer(503, method="model.party.party.search_count", times=2, retry_after="7")

    assert client.search_count("party.party", []) >= 1
    assert waits == [7.0, 7.0]


def test_a_read_that_fails_every_try_ends_in_an_error_saying_how_often_it_was_tried(
    client, proxy, tryton_server
):
    proxy.answer(503, method="model.party.party.search", times=99)

    with pytest.raises(TrytonError) as caught:
        client.search("party.party", [])

    error = caught.value
    assert (error.failure, error.exit_code) == (TrytonFailure.SERVER, 3)
    assert f"Tryton at {proxy.url} (database {tryton_server.database!r})" in str(error)
    assert f"HTTP 503 Service Unavailable) (after {most_tries()} attempts)" in str(error)
    assert proxy.count("model.party.party.search") == most_tries()
    assert tryton_server.password not in str(error)


def test_a_500_is_not_tried_again_even_for_a_read(client, proxy):
    proxy.answer(500, method="model.party.party.search")

    with pytest.raises(TrytonError) as caught:
        client.search("party.party", [])

    assert caught.value.failure is TrytonFailure.SERVER
    assert "HTTP 500" in str(caught.value)
    assert proxy.count("model.party.party.search") == 1


def test_a_read_whose_connection_dropped_is_tried_again(client, proxy, tryton):
    (party,) = records.create_parties(tryton.client, [(tryton.code("P"), "Dropped")])
    proxy.drop(method="model.party.party.read")

    (read,) = client.read("party.party", [party], ["name"])

    assert read["name"] == "Dropped"
    assert proxy.count("model.party.party.read", Action.DROPPED) == 1
    assert proxy.count("model.party.party.read", Action.FORWARDED) == 1


def test_a_read_slower_than_the_timeout_is_tried_again_then_reported_as_a_timeout(
    proxy, tryton_server
):
    client = TrytonClient(
        proxy.url, tryton_server.database, tryton_server.user, tryton_server.password, timeout=0.5
    )
    client.login()
    proxy.delay(1.0, method="model.party.party.search", times=99)

    with pytest.raises(TrytonError) as caught:
        client.search("party.party", [])

    assert caught.value.failure is TrytonFailure.TIMEOUT
    assert f"within 0.5 s (after {most_tries()} attempts)" in str(caught.value)
    assert proxy.count("model.party.party.search") == most_tries()


def test_a_create_answered_503_is_not_sent_again(client, proxy, tryton, waits):
    name = f"{tryton.prefix} refused"
    proxy.answer(503, method="model.party.party.create", retry_after="1")

    with pytest.raises(TrytonError) as caught:
        client.create("party.party", [{"name": name}])

    assert caught.value.failure is TrytonFailure.SERVER
    assert NOT_SENT_AGAIN in str(caught.value)
    assert proxy.count("model.party.party.create") == 1
    assert waits == []
    assert parties_named(tryton.client, name) == 0  # the 503 came before Tryton saw it


def test_a_create_whose_answer_was_lost_is_not_sent_again_and_exists_once(client, proxy, tryton):
    name = f"{tryton.prefix} answer lost"
    proxy.drop(method="model.party.party.create", forwarded=True)

    with pytest.raises(TrytonError) as caught:
        client.create("party.party", [{"name": name}])

    assert caught.value.failure is TrytonFailure.UNREACHABLE
    assert "the connection was dropped" in str(caught.value)
    assert NOT_SENT_AGAIN in str(caught.value)
    assert proxy.count("model.party.party.create") == 1
    assert parties_named(tryton.client, name) == 1


def test_a_create_that_timed_out_is_not_sent_again_and_exists_once(proxy, tryton_server, tryton):
    client = TrytonClient(
        proxy.url, tryton_server.database, tryton_server.user, tryton_server.password, timeout=0.5
    )
    client.login()
    name = f"{tryton.prefix} slow"
    proxy.delay(2.0, method="model.party.party.create")

    with pytest.raises(TrytonError) as caught:
        client.create("party.party", [{"name": name}])

    assert caught.value.failure is TrytonFailure.TIMEOUT
    assert NOT_SENT_AGAIN in str(caught.value)
    wait_until(lambda: proxy.count("model.party.party.create", Action.DELAYED) == 1)
    assert proxy.count("model.party.party.create") == 1
    assert parties_named(tryton.client, name) == 1


def test_a_create_refused_before_a_connection_opened_is_sent_again_and_lands_once(
    tryton_server, tryton
):
    port = closed_port()
    name = f"{tryton.prefix} resent"
    proxies: list[TrytonProxy] = []

    def proxy_back(seconds: float) -> None:
        # The wait before the second try: the server is reachable again.
        if not proxies:
            proxies.append(TrytonProxy(tryton_server.url, port=port).start())

    with tryton_proxy(tryton_server.url, port=port) as first:
        client = TrytonClient(
            first.url,
            tryton_server.database,
            tryton_server.user,
            tryton_server.password,
            retry=dataclasses.replace(rpc.DEFAULT_RETRY, sleep=proxy_back),
        )
        client.login()
    try:
        before = client.calls
        (created,) = client.create("party.party", [{"name": name}])
        (second,) = proxies
        assert client.calls - before == 2  # refused, then sent
        assert second.count("model.party.party.create") == 1
        assert tryton.client.search("party.party", [("name", "=", name)]) == [created]
    finally:
        for started in proxies:
            started.close()


def test_a_create_to_a_server_that_stays_down_fails_as_unreachable_after_its_tries(
    tryton_server,
):
    with tryton_proxy(tryton_server.url) as gone:
        client = TrytonClient(
            gone.url, tryton_server.database, tryton_server.user, tryton_server.password
        )
        client.login()
    before = client.calls

    with pytest.raises(TrytonError) as caught:
        client.create("party.party", [{"name": "never"}])

    error = caught.value
    assert error.failure is TrytonFailure.UNREACHABLE
    assert str(error).startswith(f"cannot reach Tryton at {gone.url}")
    assert f"connection refused (after {most_tries()} attempts)" in str(error)
    assert NOT_SENT_AGAIN not in str(error)  # nothing reached the server
    assert client.calls - before == most_tries()


def test_a_login_locked_out_with_429_is_not_tried_again(proxy, tryton_server):
    client = TrytonClient(
        proxy.url, tryton_server.database, tryton_server.user, tryton_server.password
    )
    proxy.answer(429, method="common.db.login", times=99)

    with pytest.raises(TrytonError) as caught:
        client.login()

    assert caught.value.failure is TrytonFailure.RATE_LIMITED
    assert proxy.count("common.db.login") == 1


def test_a_caller_can_mark_a_call_safe_to_repeat_or_not(client, proxy, tryton):
    proxy.answer(503, method="model.party.party.search", times=1)
    with pytest.raises(TrytonError):
        client.call("model.party.party.search", [], 0, None, None, idempotent=False)
    assert proxy.count("model.party.party.search") == 1

    name = f"{tryton.prefix} marked"
    proxy.answer(503, method="model.party.party.create", times=1)
    client.call("model.party.party.create", [{"name": name}], idempotent=True)
    assert proxy.count("model.party.party.create") == 2
    assert parties_named(tryton.client, name) == 1


def test_a_client_follows_the_retry_policy_it_was_given(proxy, tryton_server, waits):
    client = TrytonClient(
        proxy.url,
        tryton_server.database,
        tryton_server.user,
        tryton_server.password,
        retry=RetryPolicy(max_attempts=1),
    )
    client.login()
    proxy.answer(503, method="model.party.party.search")

    with pytest.raises(TrytonError) as caught:
        client.search("party.party", [])

    assert "after" not in str(caught.value)
    assert proxy.count("model.party.party.search") == 1
    assert waits == []


# --- what pull and push leave behind ----------------------------------------------------


@dataclass
class Shop:
    """A bike shop in Tryton: bikes made of a frame and two wheels, each part bought from
    its own supplier, and a quoted sale of ten bikes."""

    prefix: str
    bike: records.Product
    frame: records.Product
    wheel: records.Product
    suppliers: list[int]

    def code(self, name: str) -> str:
        return f"{self.prefix}-{name}"


def open_shop(client: TrytonClient, prefix: str) -> Shop:
    setup = records.company(client)
    bike, frame, wheel = records.create_goods(
        client,
        [
            records.goods(
                f"{prefix}-BIKE",
                "Bike",
                unit=setup.unit,
                list_price=Decimal(300),
                cost_price=Decimal(120),
                producible=True,
            ),
            records.goods(
                f"{prefix}-FRAME",
                "Frame",
                unit=setup.unit,
                list_price=Decimal(60),
                cost_price=Decimal(40),
            ),
            records.goods(
                f"{prefix}-WHEEL",
                "Wheel",
                unit=setup.unit,
                list_price=Decimal(20),
                cost_price=Decimal(9),
            ),
        ],
    )
    frames, wheels, customer = records.create_parties(
        client,
        [(f"{prefix}-PARTS", "Parts Ltd"), (f"{prefix}-RIMS", "Rims Inc"), (f"{prefix}-C", "C")],
    )
    client.create(
        "purchase.product_supplier",
        [
            {"template": frame.template, "party": frames, "lead_time": dt.timedelta(7)},
            {"template": wheel.template, "party": wheels, "lead_time": dt.timedelta(7)},
        ],
    )
    records.create_bom(client, setup, bike, [(frame, 1.0), (wheel, 2.0)], name=f"{prefix}-BOM")
    sale = records.create_draft_sale(
        client,
        setup,
        customer,
        [(bike, 10.0, Decimal(300))],
        sale_date=TODAY,
        reference=f"{prefix}-SO",
    )
    client.write("sale.sale", [([sale], {"shipping_date": TODAY + dt.timedelta(days=42)})])
    client.button("sale.sale", "quote", [sale])
    return Shop(prefix, bike, frame, wheel, [frames, wheels])


def shop_book(path: Path, url: str, database: str, prefix: str, *, options: str = "") -> Path:
    """A new planning book whose Connections row points at ``url``."""
    row = {
        "Connection": "Tryton",
        "System": "tryton",
        "URL": url,
        "Database": database,
        "User": "admin",
        "Auth": f"env:{PASSWORD_VARIABLE}",
        "Options": f"products={prefix}-%" + (f"; {options}" if options else ""),
    }
    init_book(path, {"Connections": pd.DataFrame([row])})
    return path


def point_at(path: Path, server: LocalTryton) -> None:
    """Point the book's connection at another server, as a user would after a restart."""
    book = FileBook.open(path)
    book.patch_table(
        TablePatch(CONNECTIONS, updates={0: {"URL": server.url, "Database": server.database}})
    )
    book.save()


def sheetloop(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def table(path: Path, name: str) -> list[dict[str, Any]]:
    """The rows of an Excel table as dicts by header, read with calamine."""
    found = CalamineWorkbook.from_path(str(path), load_tables=True).get_table_by_name(name)
    return [
        dict(zip(found.columns, row, strict=True))
        for row in found.to_python()
        if any(v != "" for v in row)
    ]


def synclog(path: Path, direction: str) -> dict[str, tuple[int, int]]:
    """(Created, Failed) by table of the latest ``direction`` (pull, push) logged."""
    rows = [r for r in table(path, "SyncLog") if r["Direction"] == direction]
    return {r["Table"]: (int(r["Created"]), int(r["Failed"])) for r in rows}


def assert_whole(path: Path) -> None:
    """The book opens in calamine with every table whole and passes ``sheetloop check``."""
    workbook = CalamineWorkbook.from_path(str(path), load_tables=True)
    assert {"Items", "BOM", "Inventory", "Demand", "SyncLog"} <= set(workbook.table_names)
    for name in workbook.table_names:
        found = workbook.get_table_by_name(name)
        assert all(len(row) == len(found.columns) for row in found.to_python()), name
    assert cli.main(["check", str(path)]) == 0


def purchase_lines(client: TrytonClient, prefix: str) -> list[dict[str, Any]]:
    return client.search_read(
        "purchase.line", [("product.code", "like", f"{prefix}-%")], ["product", "purchase"]
    )


def productions(client: TrytonClient, prefix: str) -> list[dict[str, Any]]:
    return client.search_read("production", [("product.code", "like", f"{prefix}-%")], ["id"])


def pushed_ids(path: Path) -> list[str]:
    return [r["External Id"] for r in table(path, "PlannedOrders") if r.get("External Id")]


def assert_recorded_orders_exist(client: TrytonClient, path: Path) -> None:
    """Every order the book says was pushed is in Tryton."""
    for recorded in pushed_ids(path):
        model, _, record_id = recorded.partition(",")
        assert client.search_count(model, [("id", "=", int(record_id))]) == 1, recorded


def assert_each_order_once_in_tryton(client: TrytonClient, shop: Shop, path: Path) -> None:
    """Tryton holds one purchase line per bought part and one production of bikes, and
    the book records exactly those."""
    lines = purchase_lines(client, shop.prefix)
    made = productions(client, shop.prefix)
    assert sorted(line["product"] for line in lines) == sorted([shop.frame.id, shop.wheel.id])
    assert len(made) == 1
    assert sorted(pushed_ids(path)) == sorted(
        [f"purchase.line,{line['id']}" for line in lines] + [f"production,{made[0]['id']}"]
    )


@pytest.fixture
def shop(tryton) -> Shop:
    return open_shop(tryton.client, tryton.prefix)


@pytest.fixture
def book(proxy, tryton, shop, tmp_path: Path) -> Path:
    """A book whose connection goes through the proxy."""
    return shop_book(tmp_path / "shop.xlsx", proxy.url, tryton.server.database, shop.prefix)


@pytest.fixture
def planned(book: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The book pulled and planned: three planned orders (make bikes, buy frames, wheels)."""
    for command in ("pull", "plan"):
        code, _, err = sheetloop(capsys, command, str(book))
        assert code == 0, err
    assert len(table(book, "PlannedOrders")) == 3
    return book


def test_pull_waits_out_a_503_with_retry_after_and_completes(proxy, shop, book, capsys, waits):
    proxy.answer(503, method=BOM_READ, times=2, retry_after="7")

    code, _, err = sheetloop(capsys, "pull", str(book))

    assert code == 0, err
    assert waits == [7.0, 7.0]
    assert proxy.count(BOM_READ) == 3
    assert {(r["Parent"], r["Component"], r["Qty Per"]) for r in table(book, "BOM")} == {
        (shop.code("BIKE"), shop.code("FRAME"), 1.0),
        (shop.code("BIKE"), shop.code("WHEEL"), 2.0),
    }
    assert all(failed == 0 for _, failed in synclog(book, "pull").values())


def _fail_with_500(proxy: TrytonProxy) -> list[str]:
    proxy.answer(500, method=BOM_READ)
    return ["HTTP 500 Internal Server Error", "injected by the test proxy"]


def _answer_too_late(proxy: TrytonProxy) -> list[str]:
    proxy.delay(2.5, method=BOM_READ, times=99)
    return ["did not answer", "within 1 s", f"after {most_tries()} attempts"]


@pytest.mark.parametrize("fault", [_fail_with_500, _answer_too_late], ids=["http-500", "timeout"])
def test_a_read_failing_in_the_middle_of_a_pull_exits_3_keeping_the_tables_pulled_before(
    proxy, tryton, shop, tmp_path, capsys, fault
):
    path = shop_book(
        tmp_path / "b.xlsx", proxy.url, tryton.server.database, shop.prefix, options="timeout=1"
    )
    said = fault(proxy)

    code, _, err = sheetloop(capsys, "pull", str(path))

    assert code == 3
    assert f"Tryton at {proxy.url}" in err and BOM_READ in err
    assert all(text in err for text in said), err
    assert LOCAL_ADMIN_PASSWORD not in err
    assert synclog(path, "pull") == {"Items": (3, 0), "BOM": (0, 1)}
    assert {r["Item"] for r in table(path, "Items")} == {
        shop.code(c) for c in ("BIKE", "FRAME", "WHEEL")
    }
    assert table(path, "BOM") == []
    assert_whole(path)

    proxy.heal()
    code, out, err = sheetloop(capsys, "pull", str(path))
    assert code == 0, err
    assert "Tryton pull Items: 0 created, 0 updated, 3 unchanged" in out
    assert len(table(path, "Items")) == 3
    assert len(table(path, "BOM")) == 2
    assert len(table(path, "Demand")) == 1
    assert_whole(path)


def test_a_production_create_answered_503_is_not_sent_again_and_a_rerun_makes_each_order_once(
    proxy, tryton, shop, planned, capsys, waits
):
    proxy.answer(503, method="model.production.create", retry_after="1")

    code, _, err = sheetloop(capsys, "push", str(planned), "Tryton")

    assert code == 3
    assert "model.production.create" in err and "HTTP 503" in err
    assert NOT_SENT_AGAIN in err
    assert proxy.count("model.production.create") == 1
    assert waits == []
    assert productions(tryton.client, shop.prefix) == []
    assert len(purchase_lines(tryton.client, shop.prefix)) == 2  # sent before the failure
    assert synclog(planned, "push")["PlannedOrders"] == (0, 3)
    assert_recorded_orders_exist(tryton.client, planned)
    assert_whole(planned)

    code, out, err = sheetloop(capsys, "push", str(planned), "Tryton")
    assert code == 0, err
    assert "Tryton push PlannedOrders: 3 created" in out
    assert_each_order_once_in_tryton(tryton.client, shop, planned)


def test_a_connection_lost_after_tryton_made_a_production_exits_3_and_a_rerun_adopts_it(
    proxy, tryton, shop, planned, capsys
):
    proxy.drop(method="model.production.create", forwarded=True)

    code, _, err = sheetloop(capsys, "push", str(planned), "Tryton")

    assert code == 3
    assert "the connection was dropped" in err and NOT_SENT_AGAIN in err
    assert proxy.count("model.production.create") == 1
    (made,) = productions(tryton.client, shop.prefix)  # Tryton did make it
    assert synclog(planned, "push")["PlannedOrders"] == (0, 3)
    assert_recorded_orders_exist(tryton.client, planned)
    assert_whole(planned)

    code, out, err = sheetloop(capsys, "push", str(planned), "Tryton")
    assert code == 0, err
    assert "Tryton push PlannedOrders: 3 created" in out
    assert proxy.count("model.production.create") == 1  # adopted, not made again
    assert_each_order_once_in_tryton(tryton.client, shop, planned)
    assert f"production,{made['id']}" in pushed_ids(planned)


def test_a_push_failing_between_purchases_and_their_lines_leaves_no_empty_draft_purchase(
    proxy, tryton, shop, planned, capsys
):
    proxy.answer(500, method="model.purchase.line.create")
    assert sheetloop(capsys, "push", str(planned), "Tryton")[0] == 3
    code, _, err = sheetloop(capsys, "push", str(planned), "Tryton")
    assert code == 0, err
    assert_each_order_once_in_tryton(tryton.client, shop, planned)

    purchases = tryton.client.search_read(
        "purchase.purchase", [("party", "in", shop.suppliers)], ["lines"]
    )
    assert [p["id"] for p in purchases if not p["lines"]] == []


@pytest.fixture
def own_server(needs_tryton) -> Iterator[LocalTryton]:
    """A server of the test's own, which it may kill."""
    with LocalTryton.start() as server:
        yield server


def test_a_server_killed_during_push_exits_3_keeping_what_was_sent_and_a_rerun_sends_no_duplicates(
    own_server, tmp_path, capsys, monkeypatch
):
    with own_server.client() as client:
        client.login()
        shop = open_shop(client, "k")
    path = shop_book(tmp_path / "b.xlsx", own_server.url, own_server.database, shop.prefix)
    for command in ("pull", "run"):
        code, _, err = sheetloop(capsys, command, str(path))
        assert code == 0, err
    assert table(path, "DemandStatus") != []

    def crash_before_demand_status(line: str) -> None:
        if line.startswith("pushing DemandStatus"):
            own_server.kill()

    monkeypatch.setattr(cli, "_progress", crash_before_demand_status)
    code, _, err = sheetloop(capsys, "push", str(path), "Tryton")

    assert code == 3
    assert f"cannot reach Tryton at {own_server.url}" in err
    logged = synclog(path, "push")
    assert logged["PlannedOrders"] == (3, 0)
    assert logged["DemandStatus"][1] > 0
    assert {r["Sync Status"] for r in table(path, "PlannedOrders")} == {"pushed"}
    assert_whole(path)

    # The server comes back with its database as the crash left it: push completes.
    with LocalTryton.start(own_server.database_path) as back:
        point_at(path, back)
        code, out, err = sheetloop(capsys, "push", str(path), "Tryton")
        assert code == 0, err
        assert "Tryton push PlannedOrders: 0 created, 0 updated, 3 unchanged" in out
        with back.client() as client:
            client.login()
            assert_each_order_once_in_tryton(client, shop, path)


def test_an_empty_draft_purchase_left_by_a_push_that_died_is_cleaned_up_by_the_next(
    tryton, shop, planned, capsys
):
    from sheetloop.connectors.tryton.connector import _PURCHASE_MARK

    (left,) = tryton.client.create(
        "purchase.purchase",
        [{"party": shop.suppliers[0], "description": _PURCHASE_MARK}],
    )
    code, _, err = sheetloop(capsys, "push", str(planned), "Tryton")
    assert code == 0, err
    assert tryton.client.search("purchase.purchase", [("id", "=", left)]) == []
    assert_each_order_once_in_tryton(tryton.client, shop, planned)
