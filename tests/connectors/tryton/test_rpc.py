"""The Tryton JSON-RPC client against a real local Tryton server: round trips, batching,
exact values, and failures that say what went wrong, where, and what to do."""

from __future__ import annotations

import datetime as dt
import math
import socket
from collections.abc import Iterator
from decimal import Decimal

import pytest
import tryton_records as records

from sheetloop.connectors.tryton import (
    LocalTryton,
    TrytonClient,
    TrytonError,
    TrytonFailure,
    decode_tryton_json,
    encode_tryton_json,
)
from sheetloop.errors import ExternalSystemError

# --- the wire format (no server needed) -------------------------------------------------


def test_tryton_typed_values_survive_encoding_and_decoding_unchanged():
    values = [
        Decimal("0.1"),
        Decimal("-12345678901234567890.0001"),
        dt.date(2026, 2, 28),
        dt.datetime(2026, 11, 25, 13, 14, 15, 123456),
        dt.time(7, 8, 9, 10),
        dt.timedelta(days=2, seconds=3.5),
        b"\x00\xffbinary\n",
    ]
    decoded = decode_tryton_json(encode_tryton_json({"params": values}))["params"]
    assert decoded == values
    assert [type(v) for v in decoded] == [type(v) for v in values]


def test_decimals_travel_as_text_so_no_digit_is_lost_to_floats():
    wire = encode_tryton_json([Decimal("0.30000000000000004441")])
    assert '"decimal":"0.30000000000000004441"' in wire
    assert '"__class__":"Decimal"' in wire


# --- round trips ------------------------------------------------------------------------


def test_goods_products_are_created_with_templates_and_read_back_with_exact_prices(tryton):
    client = tryton.client
    unit = records.company(client).unit
    prices = {
        tryton.code("W1"): (Decimal("10.50"), Decimal("4.2500")),
        tryton.code("W2"): (Decimal("0.01"), Decimal("1234.5678")),
        tryton.code("W3"): (Decimal("99999.99"), Decimal("0")),
    }
    products = records.create_goods(
        client,
        [
            records.goods(code, f"Widget {code}", unit=unit, list_price=lp, cost_price=cp)
            for code, (lp, cp) in prices.items()
        ],
    )
    rows = client.search_read(
        "product.product",
        [("code", "like", f"{tryton.prefix}-%")],
        ["code", "type", "cost_price", "template.list_price", "template"],
        order=[("code", "ASC")],
    )
    assert [r["code"] for r in rows] == sorted(prices)
    assert {r["id"] for r in rows} == {p.id for p in products}
    for row in rows:
        list_price, cost_price = prices[row["code"]]
        assert row["type"] == "goods"
        assert isinstance(row["cost_price"], Decimal)
        assert row["cost_price"] == cost_price
        assert row["template."]["list_price"] == list_price


def test_a_create_of_1200_records_takes_at_most_three_calls(tryton):
    client = tryton.client
    values = [{"name": f"Customer {i}", "code": tryton.code(f"C{i:04}")} for i in range(1200)]
    before = client.calls
    ids = client.create("party.party", values)
    assert client.calls - before <= 3
    assert len(set(ids)) == 1200
    picked = [0, 1, 2, 1198, 1199]
    names = client.read("party.party", [ids[i] for i in picked], ["name"])
    assert [r["name"] for r in names] == [f"Customer {i}" for i in picked]


def test_a_write_of_1200_records_takes_at_most_three_calls_and_every_value_lands(tryton):
    client = tryton.client
    ids = client.create(
        "party.party",
        [{"name": f"P{i}", "code": tryton.code(f"P{i:04}")} for i in range(1200)],
    )
    before = client.calls
    client.write(
        "party.party",
        [
            (ids[:700], {"name": f"{tryton.prefix} first"}),
            (ids[700:], {"name": f"{tryton.prefix} rest"}),
        ],
    )
    assert client.calls - before <= 3
    assert client.search_count("party.party", [("name", "=", f"{tryton.prefix} first")]) == 700
    assert client.search_count("party.party", [("name", "=", f"{tryton.prefix} rest")]) == 500


def test_search_read_pages_through_more_records_than_one_batch(tryton):
    client = tryton.client
    created = client.create(
        "party.party",
        [{"name": f"Paged {i}", "code": tryton.code(f"G{i:03}")} for i in range(130)],
        batch=60,
    )
    before = client.calls
    rows = client.search_read(
        "party.party", [("code", "like", f"{tryton.prefix}-G%")], ["code"], batch=50
    )
    assert client.calls - before == math.ceil(130 / 50)
    assert sorted(r["id"] for r in rows) == sorted(created)
    assert len({r["code"] for r in rows}) == 130


def test_search_read_asks_for_one_more_page_when_the_last_one_is_full(tryton):
    client = tryton.client
    client.create(
        "party.party", [{"name": f"Even {i}", "code": tryton.code(f"E{i:02}")} for i in range(40)]
    )
    before = client.calls
    rows = client.search_read(
        "party.party", [("code", "like", f"{tryton.prefix}-E%")], ["code"], batch=20
    )
    assert len(rows) == 40
    assert client.calls - before == 3  # two full pages, then an empty one ends the paging


def test_deleted_records_are_gone(tryton):
    client = tryton.client
    ids = client.create(
        "party.party", [{"name": f"Gone {i}", "code": tryton.code(f"D{i}")} for i in range(5)]
    )
    client.delete("party.party", ids[:3], batch=2)
    left = client.search("party.party", [("code", "like", f"{tryton.prefix}-D%")])
    assert sorted(left) == sorted(ids[3:])


def test_decimals_and_dates_round_trip_exactly_through_tryton(tryton):
    client = tryton.client
    setup = records.company(client)
    (product,) = records.create_goods(
        client,
        [
            records.goods(
                tryton.code("X"),
                "Exact",
                unit=setup.unit,
                list_price=Decimal("3.1416"),
                cost_price=Decimal("2.7183"),
            )
        ],
    )
    (supplier,) = records.create_parties(client, [(tryton.code("S"), "Supplier")])
    when = dt.date(2027, 2, 28)
    purchase = records.create_draft_purchase(
        client,
        setup,
        supplier,
        [(product, 3.0, Decimal("1.2345"))],
        purchase_date=when,
        reference=tryton.code("PO"),
    )
    (row,) = client.read("purchase.purchase", [purchase], ["purchase_date", "create_date"])
    (line,) = client.search_read("purchase.line", [("purchase", "=", purchase)], ["unit_price"])
    assert row["purchase_date"] == when
    assert type(row["purchase_date"]) is dt.date
    assert isinstance(row["create_date"], dt.datetime)
    assert line["unit_price"] == Decimal("1.2345")
    (cost,) = client.read("product.product", [product.id], ["cost_price"])
    assert cost["cost_price"] == Decimal("2.7183")


# --- documents the planning loop creates ------------------------------------------------


def test_a_draft_purchase_with_a_line_is_created_and_can_be_quoted(tryton):
    client = tryton.client
    setup = records.company(client)
    (part,) = records.create_goods(
        client,
        [
            records.goods(
                tryton.code("PART"),
                "Part",
                unit=setup.unit,
                list_price=Decimal("2"),
                cost_price=Decimal("0.5"),
            )
        ],
    )
    (supplier,) = records.create_parties(client, [(tryton.code("SUP"), "Supplier")])
    purchase = records.create_draft_purchase(
        client,
        setup,
        supplier,
        [(part, 5.0, Decimal("0.50"))],
        purchase_date=dt.date(2026, 12, 1),
        reference=tryton.code("PO"),
    )
    (draft,) = client.read("purchase.purchase", [purchase], ["state", "total_amount", "lines"])
    assert draft["state"] == "draft"
    assert draft["total_amount"] == Decimal("2.50")
    assert len(draft["lines"]) == 1

    client.button("purchase.purchase", "quote", [purchase])
    (quoted,) = client.read("purchase.purchase", [purchase], ["state", "number"])
    assert quoted["state"] == "quotation"
    assert quoted["number"]


def test_a_draft_sale_with_a_line_is_created_for_a_customer(tryton):
    client = tryton.client
    setup = records.company(client)
    (widget,) = records.create_goods(
        client,
        [
            records.goods(
                tryton.code("W"),
                "Widget",
                unit=setup.unit,
                list_price=Decimal("10.50"),
                cost_price=Decimal("4"),
            )
        ],
    )
    (customer,) = records.create_parties(client, [(tryton.code("CUST"), "Customer")])
    sale = records.create_draft_sale(
        client,
        setup,
        customer,
        [(widget, 3.0, Decimal("10.50"))],
        sale_date=dt.date(2026, 12, 1),
        reference=tryton.code("SO"),
    )
    (row,) = client.read("sale.sale", [sale], ["state", "party", "total_amount", "lines"])
    assert row["state"] == "draft"
    assert row["party"] == customer
    assert row["total_amount"] == Decimal("31.50")
    (line,) = client.read("sale.line", row["lines"], ["product", "quantity"])
    assert (line["product"], line["quantity"]) == (widget.id, 3.0)


def test_a_draft_production_of_a_product_with_a_bom_is_created_with_its_moves(tryton):
    client = tryton.client
    setup = records.company(client)
    widget, part = records.create_goods(
        client,
        [
            records.goods(
                tryton.code("FG"),
                "Finished",
                unit=setup.unit,
                list_price=Decimal("20"),
                cost_price=Decimal("8"),
                producible=True,
            ),
            records.goods(
                tryton.code("RM"),
                "Raw",
                unit=setup.unit,
                list_price=Decimal("1"),
                cost_price=Decimal("0.25"),
            ),
        ],
    )
    bom = records.create_bom(client, setup, widget, [(part, 2.0)], name=tryton.code("BOM"))
    production = records.create_draft_production(
        client,
        setup,
        widget,
        bom,
        [(part, 2.0)],
        quantity=4.0,
        start=dt.date(2026, 12, 3),
        due=dt.date(2026, 12, 5),
    )
    (row,) = client.read(
        "production", [production], ["state", "product", "bom", "quantity", "inputs", "outputs"]
    )
    assert row["state"] in {"request", "draft"}
    assert (row["product"], row["bom"], row["quantity"]) == (widget.id, bom, 4.0)
    (move_in,) = client.read("stock.move", row["inputs"], ["product", "quantity"])
    (move_out,) = client.read("stock.move", row["outputs"], ["product", "quantity"])
    assert (move_in["product"], move_in["quantity"]) == (part.id, 8.0)
    assert (move_out["product"], move_out["quantity"]) == (widget.id, 4.0)
    (bom_row,) = client.search_read("production.bom.input", [("bom", "=", bom)], ["product"])
    assert bom_row["product"] == part.id


# --- sessions ---------------------------------------------------------------------------


def test_the_user_context_carries_the_demo_company(tryton):
    (company,) = tryton.client.read(
        "company.company", [tryton.client.context["company"]], ["rec_name"]
    )
    assert company["rec_name"] == "sheetloop Demo Co"


def test_the_client_logs_in_lazily_on_its_first_call(tryton_server):
    with tryton_server.client() as client:
        assert not client.logged_in
        assert client.calls == 0
        client.search_count("party.party", [])
        assert client.logged_in
        assert client.calls == 3  # login, the user's preferences, then the call itself


def test_the_first_call_of_a_new_client_already_carries_the_company(tryton, tryton_server):
    setup = records.company(tryton.client)
    (product,) = records.create_goods(
        tryton.client,
        [
            records.goods(
                tryton.code("C"),
                "Costed",
                unit=setup.unit,
                list_price=Decimal("9"),
                cost_price=Decimal("7.5"),
            )
        ],
    )
    with tryton_server.client() as fresh:
        # cost_price is stored per company: without the company in the context of the
        # very first call it would come back empty.
        (row,) = fresh.read("product.product", [product.id], ["cost_price"])
    assert row["cost_price"] == Decimal("7.5")


def test_an_expired_session_is_renewed_once_and_the_call_succeeds(tryton):
    client = tryton.client
    client.call("common.db.logout")  # the server forgets the session; the client keeps it
    before = client.calls
    assert client.search_count("party.party", [("code", "=", tryton.code("none"))]) == 0
    assert client.calls - before == 4  # refused call, login, preferences, call again


# --- failures ---------------------------------------------------------------------------


def test_a_wrong_password_fails_with_a_message_that_says_what_to_do_and_hides_it(tryton):
    login = tryton.code("user")
    good, wrong = f"good-{tryton.prefix}-Secret1", f"wrong-{tryton.prefix}-Secret2"
    tryton.client.create("res.user", [{"name": "Planner", "login": login, "password": good}])
    client = TrytonClient(tryton.server.url, tryton.server.database, login, wrong)
    with pytest.raises(ExternalSystemError) as caught:
        client.search("party.party", [])
    error = caught.value
    assert isinstance(error, TrytonError)
    assert error.failure is TrytonFailure.LOGIN
    assert error.exit_code == 3
    message = str(error)
    assert wrong not in message
    assert "check user and the secret named in auth" in message.lower()
    assert tryton.server.url in message
    assert tryton.server.database in message
    assert login in message
    assert wrong not in repr(client)

    right = TrytonClient(tryton.server.url, tryton.server.database, login, good)
    assert right.search("res.user", [("login", "=", login)])


def test_neither_password_nor_session_token_appear_in_the_repr(tryton):
    client = tryton.client
    text = repr(client)
    assert tryton.server.password not in text
    token = client._token  # the secret itself, to prove it is not shown
    assert token and token not in text
    assert tryton.server.database in text


def test_a_tryton_user_error_is_reported_with_trytons_own_text(tryton):
    with pytest.raises(TrytonError) as caught:
        tryton.client.create("product.template", [{"name": tryton.code("no unit")}])
    error = caught.value
    assert error.failure is TrytonFailure.USER_ERROR
    assert error.tryton_message is not None
    assert 'A value is required for field "Default UoM"' in error.tryton_message
    assert error.tryton_message in str(error)
    assert ".." not in str(error)
    assert "model.product.template.create" in str(error)
    assert tryton.server.url in str(error)


def test_a_method_tryton_does_not_offer_is_refused_after_one_fresh_login(tryton):
    client = tryton.client
    before = client.calls
    with pytest.raises(TrytonError) as caught:
        client.call("model.party.party.no_such_method", [])
    assert caught.value.failure is TrytonFailure.FORBIDDEN
    assert "model.party.party.no_such_method" in str(caught.value)
    assert "access rights" in str(caught.value)
    assert client.calls - before == 4  # refused, login, preferences, refused again


def test_an_unknown_database_is_reported_as_such(tryton_server):
    client = TrytonClient(tryton_server.url, "no_such_db", "admin", tryton_server.password)
    with pytest.raises(TrytonError) as caught:
        client.login()
    assert caught.value.failure is TrytonFailure.NOT_FOUND
    assert "'no_such_db'" in str(caught.value)
    assert "check database and url" in str(caught.value).lower()


@pytest.mark.usefixtures("needs_tryton")
@pytest.mark.parametrize("end", ["stop", "kill"])
def test_a_server_that_went_away_is_reported_as_unreachable(end):
    server = LocalTryton.start()
    try:
        client = server.client()
        client.login()
        getattr(server, end)()
        with pytest.raises(TrytonError) as caught:
            client.search("party.party", [])
    finally:
        server.stop()
    error = caught.value
    assert error.failure is TrytonFailure.UNREACHABLE
    assert error.exit_code == 3
    assert str(error).startswith(f"cannot reach Tryton at {server.url}")
    assert "is the server running?" in str(error).lower()
    assert server.database in str(error)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_a_server_that_does_not_answer_in_time_is_reported_as_a_timeout(silent_port):
    client = TrytonClient(
        f"http://127.0.0.1:{silent_port}/", "db", "admin", "pw-never-shown", timeout=0.5
    )
    with pytest.raises(TrytonError) as caught:
        client.login()
    assert caught.value.failure is TrytonFailure.TIMEOUT
    assert "within 0.5 s" in str(caught.value)
    assert "pw-never-shown" not in str(caught.value)


def test_every_batch_size_must_be_positive():
    client = TrytonClient("http://127.0.0.1:9/", "db", "admin", "pw")
    with pytest.raises(ValueError, match="batch"):
        client.create("party.party", [{"name": "x"}], batch=0)
    assert client.calls == 0


def test_an_unknown_model_is_named_in_the_error(tryton):
    with pytest.raises(TrytonError) as caught:
        tryton.client.search("no.such.model", [])
    assert caught.value.failure is TrytonFailure.NOT_FOUND
    assert "has no model 'no.such.model'" in str(caught.value)
    assert "module is activated" in str(caught.value)


def test_the_session_authenticator_sends_trytons_header_and_hides_the_token():
    import base64

    import requests

    from sheetloop.connectors.tryton import TrytonSessionAuth

    auth = TrytonSessionAuth("admin", 1, "s3cr3t")
    request = auth(requests.Request("POST", "http://127.0.0.1/db/").prepare())
    scheme, value = request.headers["Authorization"].split(" ")
    assert scheme == "Session"
    assert base64.b64decode(value).decode() == "admin:1:s3cr3t"
    assert "s3cr3t" not in repr(auth)
