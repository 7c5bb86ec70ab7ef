"""Sale opportunities as forecast Demand: with the ``forecast`` option, pull turns each
product line of an open Tryton opportunity (a lead or an opportunity) into a forecast row,
optionally weighted by the opportunity's conversion probability.

The server tests run against a real local Tryton; every test creates records whose codes
start with its own prefix and reads only those products (the ``products`` option).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import tryton_records as records
from python_calamine import CalamineWorkbook
from support.books import make_book

from sheetloop.connectors.connections import Connection
from sheetloop.connectors.sync import Records, pull
from sheetloop.connectors.tryton import TrytonConnector
from sheetloop.connectors.tryton.connector import DEMAND_STREAM
from sheetloop.connectors.tryton.mapping import forecast_due, forecast_quantity, parse_yes_no
from sheetloop.errors import UsageError
from sheetloop.workbooks.file_book import FileBook

TODAY = dt.date.today()
SOON = TODAY + dt.timedelta(days=20)
LATER = TODAY + dt.timedelta(days=60)


@dataclass
class Shop:
    """Two salable goods, a unit of twelve, a customer and a sales employee."""

    setup: records.Company
    bike: records.Product
    wheel: records.Product
    dozen: int
    customer: int
    employee: int


@pytest.fixture
def shop(tryton: Any) -> Shop:
    client = tryton.client
    setup = records.company(client)
    bike, wheel = records.create_goods(
        client,
        [
            records.goods(
                tryton.code("BIKE"),
                "Bike",
                unit=setup.unit,
                list_price=Decimal(300),
                cost_price=Decimal(120),
            ),
            records.goods(
                tryton.code("WHEEL"),
                "Wheel",
                unit=setup.unit,
                list_price=Decimal(20),
                cost_price=Decimal(9),
            ),
        ],
    )
    (unit,) = client.read("product.uom", [setup.unit], ["category"])
    (dozen,) = client.create(
        "product.uom",
        [
            {
                "name": tryton.code("Dozen"),
                "symbol": "dz",
                "category": unit["category"],
                "factor": 12.0,
                "rate": round(1 / 12, 12),
                "rounding": 1.0,
                "digits": 0,
            }
        ],
    )
    customer, seller = records.create_parties(
        client, [(tryton.code("SHOP"), "Shop"), (tryton.code("SELLER"), "Seller")]
    )
    (employee,) = client.create("company.employee", [{"party": seller, "company": setup.company}])
    return Shop(setup, bike, wheel, dozen, customer, employee)


def create_opportunity(
    tryton: Any,
    shop: Shop,
    lines: Sequence[tuple[records.Product, float, int | None]],
    *,
    party: int | None,
    start: dt.date = TODAY,
    end: dt.date | None = None,
    probability: float = 0.5,
) -> int:
    """A lead with ``(product, quantity, unit)`` lines (unit None: the product's own)."""
    (opportunity,) = tryton.client.create(
        "sale.opportunity",
        [
            {
                "party": party,
                "employee": shop.employee,
                "start_date": start,
                "end_date": end,
                "conversion_probability": probability,
                "reference": tryton.code("OPP"),
                "lines": [
                    (
                        "create",
                        [
                            {
                                "product": product.id,
                                "quantity": quantity,
                                "unit": unit or shop.setup.unit,
                            }
                            for product, quantity, unit in lines
                        ],
                    )
                ],
            }
        ],
    )
    return int(opportunity)


def opportunity(tryton: Any, record: int) -> dict[str, Any]:
    (found,) = tryton.client.read("sale.opportunity", [record], ["number", "state", "lines"])
    return dict(found)


def connector_for(tryton: Any, **options: Any) -> TrytonConnector:
    """A connector with a fresh client that reads only this test's products."""
    return TrytonConnector(
        tryton.server.client(), connection="Tryton", products=f"{tryton.prefix}-%", **options
    )


def forecasts(found: Records) -> dict[str, dict[str, Any]]:
    """The forecast rows of a Demand read by their id in Tryton."""
    return {
        ident: row
        for row, ident in zip(found.rows, found.ids, strict=True)
        if row["Kind"] == "forecast"
    }


def table(path: Path, name: str) -> list[dict[str, Any]]:
    """A sheet's rows as dicts by header, read with calamine (not sheetloop's reader)."""
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(name).to_python()
    return [dict(zip(rows[0], row, strict=False)) for row in rows[1:] if any(v != "" for v in row)]


# --- pull against Tryton ----------------------------------------------------------------


def test_with_forecast_each_line_of_an_open_opportunity_is_a_forecast_demand_row(tryton, shop):
    deal = create_opportunity(
        tryton,
        shop,
        [(shop.bike, 3.0, None), (shop.wheel, 2.0, shop.dozen)],
        party=shop.customer,
        end=LATER,
    )
    tryton.client.button("sale.opportunity", "opportunity", [deal])
    lead = create_opportunity(tryton, shop, [(shop.wheel, 5.0, None)], party=None, start=SOON)
    deal_record, lead_record = opportunity(tryton, deal), opportunity(tryton, lead)
    assert (deal_record["state"], lead_record["state"]) == ("opportunity", "lead")

    found = forecasts(connector_for(tryton, forecast=True).read(DEMAND_STREAM, None))

    first, second = deal_record["lines"]
    number = deal_record["number"]
    assert found == {
        f"sale.opportunity.line,{first}": {
            "Demand": f"OPP-{number}/1",
            "Item": tryton.code("BIKE"),
            "Site": "WH",
            "Customer": tryton.code("SHOP"),
            "Due": LATER,
            "Qty": 3.0,
            "Kind": "forecast",
        },
        f"sale.opportunity.line,{second}": {
            "Demand": f"OPP-{number}/2",
            "Item": tryton.code("WHEEL"),
            "Site": "WH",
            "Customer": tryton.code("SHOP"),
            "Due": LATER,
            "Qty": 24.0,  # two dozen, in the product's unit
            "Kind": "forecast",
        },
        f"sale.opportunity.line,{lead_record['lines'][0]}": {
            "Demand": f"OPP-{lead_record['number']}/1",
            "Item": tryton.code("WHEEL"),
            "Site": "WH",
            "Customer": None,  # a lead may have no party yet
            "Due": SOON,  # no end date: the start date
            "Qty": 5.0,
            "Kind": "forecast",
        },
    }


def test_converted_lost_and_cancelled_opportunities_give_no_forecast(tryton, shop):
    client = tryton.client
    converted, lost, cancelled = (
        create_opportunity(tryton, shop, [(shop.bike, qty, None)], party=shop.customer, end=LATER)
        for qty in (4.0, 5.0, 6.0)
    )
    # A sale made for the opportunity converts it once quoted, as Tryton's convert does.
    sale = records.create_draft_sale(
        client,
        shop.setup,
        shop.customer,
        [(shop.bike, 4.0, Decimal(300))],
        sale_date=TODAY,
        reference=tryton.code("SO"),
    )
    client.write("sale.sale", [([sale], {"origin": f"sale.opportunity,{converted}"})])
    client.button("sale.sale", "quote", [sale])
    client.button("sale.opportunity", "lost", [lost])
    client.button("sale.opportunity", "cancel", [cancelled])
    states = [opportunity(tryton, o)["state"] for o in (converted, lost, cancelled)]
    assert states == ["converted", "lost", "cancelled"]

    found = connector_for(tryton, forecast=True).read(DEMAND_STREAM, None)

    assert [(row["Kind"], row["Qty"]) for row in found.rows] == [("order", 4.0)]
    (line,) = client.search("sale.line", [("sale", "=", sale)])
    assert found.ids == [f"sale.line,{line}"]


def spy_on_calls(source: TrytonConnector, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The RPC methods the connector's client calls from now on, in order."""
    called: list[str] = []
    call = source.client.call

    def spy(method: str, *params: Any, **kw: Any) -> Any:
        called.append(method)
        return call(method, *params, **kw)

    monkeypatch.setattr(source.client, "call", spy)
    return called


def test_without_the_forecast_option_no_opportunity_is_read(tryton, shop, monkeypatch):
    create_opportunity(tryton, shop, [(shop.bike, 3.0, None)], party=shop.customer, end=LATER)
    without, with_forecast = connector_for(tryton), connector_for(tryton, forecast=True)
    methods_without = spy_on_calls(without, monkeypatch)
    methods_with = spy_on_calls(with_forecast, monkeypatch)

    assert without.read(DEMAND_STREAM, None).rows == []
    assert not any("opportunity" in m for m in methods_without)
    # The spy sees what it should: the same read with the option goes to opportunities.
    assert [r["Kind"] for r in with_forecast.read(DEMAND_STREAM, None).rows] == ["forecast"]
    assert "model.sale.opportunity.line.search_read" in methods_with


def test_forecast_weighted_scales_each_quantity_by_the_conversion_probability(tryton, shop):
    likely = create_opportunity(
        tryton, shop, [(shop.bike, 10.0, None)], party=shop.customer, end=LATER, probability=0.3
    )
    hopeless = create_opportunity(
        tryton, shop, [(shop.wheel, 8.0, None)], party=shop.customer, end=LATER, probability=0.0
    )
    (likely_line,) = opportunity(tryton, likely)["lines"]
    (hopeless_line,) = opportunity(tryton, hopeless)["lines"]

    weighted = forecasts(connector_for(tryton, forecast_weighted=True).read(DEMAND_STREAM, None))
    whole = forecasts(connector_for(tryton, forecast=True).read(DEMAND_STREAM, None))

    assert {i: r["Qty"] for i, r in weighted.items()} == {
        f"sale.opportunity.line,{likely_line}": 3.0
    }
    assert {i: r["Qty"] for i, r in whole.items()} == {
        f"sale.opportunity.line,{likely_line}": 10.0,
        f"sale.opportunity.line,{hopeless_line}": 8.0,
    }


def test_the_products_option_limits_forecasts_and_keeps_each_lines_position(tryton, shop):
    client = tryton.client
    (other,) = records.create_goods(
        client,
        [
            records.goods(
                f"OTHER{tryton.prefix}",
                "Not ours",
                unit=shop.setup.unit,
                list_price=Decimal(1),
                cost_price=Decimal(1),
            )
        ],
    )
    deal = create_opportunity(
        tryton, shop, [(other, 7.0, None), (shop.bike, 2.0, None)], party=shop.customer, end=LATER
    )
    record = opportunity(tryton, deal)

    found = forecasts(connector_for(tryton, forecast=True).read(DEMAND_STREAM, None))

    assert [(r["Demand"], r["Item"]) for r in found.values()] == [
        (f"OPP-{record['number']}/2", tryton.code("BIKE"))
    ]
    assert list(found) == [f"sale.opportunity.line,{record['lines'][1]}"]


def test_customers_take_in_the_parties_of_open_opportunities_only_with_forecast(tryton, shop):
    create_opportunity(tryton, shop, [(shop.bike, 1.0, None)], party=shop.customer, end=LATER)

    def customers(source: TrytonConnector) -> list[Any]:
        stream = next(s for s in source.streams() if s.name == "Customers")
        return [row["Customer"] for row in source.read(stream, None).rows]

    assert customers(connector_for(tryton, forecast=True)) == [tryton.code("SHOP")]
    assert customers(connector_for(tryton)) == []  # no sale, no forecast: no customer


def test_a_pull_with_the_connection_options_writes_weighted_forecasts_into_the_book(
    tryton, shop, tmp_path, monkeypatch
):
    deal = create_opportunity(
        tryton, shop, [(shop.bike, 10.0, None)], party=shop.customer, end=LATER, probability=0.25
    )
    (line,) = opportunity(tryton, deal)["lines"]
    server = tryton.server
    monkeypatch.setenv("SHEETLOOP_TEST_TRYTON_OPP", server.password)
    connection = Connection(
        name="ERP",
        system="tryton",
        url=server.url,
        database=server.database,
        user=server.user,
        auth="env:SHEETLOOP_TEST_TRYTON_OPP",
        options={"products": f"{tryton.prefix}-%", "forecast_weighted": "yes"},
    )
    path = make_book(tmp_path / "b.xlsx", {"Settings": [["Setting", "Value"]]})
    book = FileBook.open(path)

    result = pull(book, TrytonConnector.from_connection(connection, tmp_path))
    book.save()

    assert result.error is None
    (row,) = table(path, "Demand")
    assert (row["Kind"], row["Qty"], row["Customer"]) == ("forecast", 2.5, tryton.code("SHOP"))
    assert row["ERP Id"] == f"sale.opportunity.line,{line}"
    assert [c["Customer"] for c in table(path, "Customers")] == [tryton.code("SHOP")]


# --- options and pure rules -------------------------------------------------------------


@pytest.mark.parametrize("key", ["forecast", "forecast_weighted"])
def test_a_forecast_option_that_is_not_yes_or_no_is_a_usage_error_naming_it(key, monkeypatch):
    monkeypatch.setenv("SHEETLOOP_TEST_TRYTON_OPP", "x")
    connection = Connection(
        name="erp",
        system="tryton",
        url="http://127.0.0.1:9/",
        database="tryton",
        user="admin",
        auth="env:SHEETLOOP_TEST_TRYTON_OPP",
        options={key: "maybe"},
    )
    with pytest.raises(UsageError) as caught:
        TrytonConnector.from_connection(connection, Path("."))
    message = str(caught.value)
    assert "Connections (erp)" in message
    assert f"the {key} option must be yes or no" in message
    assert "'maybe'" in message


@pytest.mark.parametrize(
    ("text", "expected"), [("yes", True), ("Y", True), ("true", True), ("no", False), ("", False)]
)
def test_yes_no_options_read_the_usual_spellings_and_blank_as_no(text, expected):
    assert parse_yes_no(text, "forecast", "erp") is expected


@pytest.mark.parametrize(
    ("probability", "expected"), [(0.4, 4.0), (None, 10.0), (1.7, 10.0), (-0.2, 0.0)]
)
def test_a_weighted_forecast_is_quantity_times_probability_clamped_to_0_1(probability, expected):
    assert forecast_quantity(10.0, probability, weighted=True) == expected
    assert forecast_quantity(10.0, probability, weighted=False) == 10.0


def test_a_forecast_is_due_at_the_end_date_else_the_start_date_else_today():
    start, end = dt.date(2027, 1, 4), dt.date(2027, 2, 1)
    line = {"opportunity.": {"start_date": start, "end_date": end}}
    assert forecast_due(line, TODAY) == end
    assert forecast_due({"opportunity.": {"start_date": start, "end_date": None}}, TODAY) == start
    assert forecast_due({"opportunity.": None}, TODAY) == TODAY
