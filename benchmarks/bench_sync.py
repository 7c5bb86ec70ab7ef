"""Sync speed against a real Tryton: batched calls against one record per call.

    python benchmarks/bench_sync.py [--products 10000] [--orders 5000] [--sample 300]
                                    [--suppliers 5]

Starts a local Tryton (the cached golden database; the first run builds it in about 25 s)
and seeds ``--products`` buy items from ``--suppliers`` suppliers with ``seed_company``.

1. Pull: ``TrytonConnector.read`` of Items (products, their suppliers and lead times, a
   thousand records per call), against reading each item's product and its supplier in
   calls of one record each, timed on ``--sample`` items and extrapolated as a rate.
2. Push: ``TrytonConnector.send`` of ``--orders`` buy planned orders (draft purchase
   lines, one purchase per supplier, five hundred lines per call), against one create call
   per purchase line with the same values, timed on ``--sample`` orders.

Prints records per second, calls made and the ratios. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import os
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

import pandas as pd

from sheetloop.connectors.sync.push import PushRow
from sheetloop.connectors.tryton import LocalTryton, TrytonClient, TrytonConnector
from sheetloop.connectors.tryton.connector import ITEMS_STREAM, PLANNED_ORDERS_STREAM
from sheetloop.connectors.tryton.mapping import order_marker
from sheetloop.connectors.tryton.seed import seed_company

WAREHOUSE = "WH"  # the golden database's warehouse
PRODUCT_FIELDS = ["code", "name", "cost_price", "default_uom", "template", "boms"]
SUPPLIER_FIELDS = ["template", "product", "party.code", "lead_time", "sequence"]

T = TypeVar("T")


def timed(action: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def company(products: int, suppliers: int) -> dict[str, pd.DataFrame]:
    """``products`` buy items spread over ``suppliers`` suppliers: what the benchmark syncs."""
    n = pd.RangeIndex(products)
    items = pd.DataFrame(
        {
            "Item": [f"B-{i:06d}" for i in n],
            "Description": [f"Bought part {i}" for i in n],
            "Type": "buy",
            "UoM": "EA",
            "Supplier": [f"SUP-{i % suppliers + 1}" for i in n],
            "Lead Time": [7 * (1 + i % 4) for i in n],
            "Unit Cost": [round(1 + (i % 97) * 0.37, 2) for i in n],
        }
    )
    return {"Items": items}


def planned_orders(codes: list[str], count: int, today: dt.date) -> list[PushRow]:
    rows = []
    for i in range(count):
        due = today + dt.timedelta(days=14 + 7 * (i % 26))
        item = codes[i % len(codes)]
        rows.append(
            PushRow(
                i,
                {
                    "Order": f"{item}@{WAREHOUSE}#{due.isoformat()}-{i}",
                    "Item": item,
                    "Site": WAREHOUSE,
                    "Kind": "buy",
                    "Release": due - dt.timedelta(days=14),
                    "Due": due,
                    "Qty": float(10 + i % 90),
                },
            )
        )
    return rows


def read_one_by_one(client: TrytonClient, products: list[int]) -> int:
    """Each item's product, then its supplier, each in a call of its own."""
    for product_id in products:
        (product,) = client.read("product.product", [product_id], PRODUCT_FIELDS)
        client.search_read(
            "purchase.product_supplier", [("template", "=", product["template"])], SUPPLIER_FIELDS
        )
    return len(products)


def create_one_by_one(
    client: TrytonClient, orders: list[PushRow], products: dict[str, dict[str, object]]
) -> list[int]:
    """The purchase lines of ``orders``, one create call each (the same values as the
    connector sends), into one draft purchase."""
    (supplier,) = client.search("party.party", [("code", "=", "SUP-1")])
    (address,) = client.search("party.address", [("party", "=", supplier)], limit=1)
    (warehouse,) = client.search("stock.location", [("code", "=", WAREHOUSE)])
    (purchase,) = client.create(
        "purchase.purchase",
        [{"party": supplier, "warehouse": warehouse, "invoice_address": address}],
    )
    created = []
    for order in orders:
        product = products[str(order.values["Item"])]
        created += client.create(
            "purchase.line",
            [
                {
                    "purchase": purchase,
                    "product": product["id"],
                    "quantity": order.values["Qty"],
                    "unit": product["default_uom"],
                    "unit_price": product.get("cost_price") or Decimal(0),
                    "delivery_date_edit": True,
                    "delivery_date_store": order.values["Due"],
                    "note": order_marker(f"one-by-one {order.values['Order']}"),
                }
            ],
        )
    return created


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=5_000)
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--suppliers", type=int, default=5)
    args = parser.parse_args()
    sample = min(args.sample, args.products, args.orders)
    today = dt.date.today()

    print(
        f"Tryton {importlib.metadata.version('trytond')} on SQLite at 127.0.0.1, Python "
        f"{sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    (server, started) = timed(lambda: LocalTryton.start(progress=print))
    with server:
        print(f"server started in {started:.1f} s: {server.url}")
        seeding = server.client(timeout=600.0)
        seeding.login()
        tables = company(args.products, args.suppliers)
        summary, seeded = timed(lambda: seed_company(seeding, tables, today=today))
        print(
            f"seed: {args.products:,} products from {args.suppliers} suppliers in "
            f"{seeded:.1f} s, {summary.calls} calls ({args.products / seeded:,.0f} products/s)"
        )

        # 1. pull Items
        client = server.client(timeout=600.0)
        client.login()
        connector = TrytonConnector(client, connection="Tryton", today=lambda: today)
        before = client.calls
        records, batched = timed(lambda: connector.read(ITEMS_STREAM, None))
        read_calls = client.calls - before
        read_rate = len(records.rows) / batched
        ids = sorted(summary.products.values())[:sample]
        before = client.calls
        count, single = timed(lambda: read_one_by_one(client, ids))
        single_calls = client.calls - before
        single_rate = count / single
        print(
            f"pull Items: {len(records.rows):,} records in {batched:.2f} s = "
            f"{read_rate:,.0f} records/s ({read_calls} calls)"
        )
        print(
            f"  one record per call ({count} items, {single_calls} calls): {single:.2f} s = "
            f"{single_rate:,.0f} items/s, about {args.products / single_rate:,.0f} s for "
            f"{args.products:,}; batched is {read_rate / single_rate:,.0f}x faster"
        )

        # 2. push PlannedOrders
        orders = planned_orders(sorted(summary.products), args.orders, today)
        pusher = TrytonConnector(server.client(timeout=600.0), connection="Tryton")
        pusher.client.login()
        before = pusher.client.calls
        sent, pushed = timed(lambda: pusher.send(PLANNED_ORDERS_STREAM, orders))
        push_calls = pusher.client.calls - before
        failed = [s for s in sent if s.error]
        if failed:
            print(f"  {len(failed)} orders refused, first: {failed[0].error}")
        push_rate = len(orders) / pushed
        codes = sorted({str(o.values["Item"]) for o in orders[:sample]})
        products = {
            str(p["code"]): p
            for p in client.search_read(
                "product.product", [("code", "in", codes)], ["code", "default_uom", "cost_price"]
            )
        }
        before = client.calls
        created, single_push = timed(
            lambda: len(create_one_by_one(client, orders[:sample], products))
        )
        single_push_calls = client.calls - before
        single_push_rate = created / single_push
        print(
            f"push PlannedOrders: {len(orders):,} buy orders in {pushed:.2f} s = "
            f"{push_rate:,.0f} orders/s ({push_calls} calls, {len(orders) - len(failed):,} "
            "draft purchase lines)"
        )
        print(
            f"  one create call per order ({created} orders, {single_push_calls} calls): "
            f"{single_push:.2f} s = {single_push_rate:,.0f} orders/s, about "
            f"{args.orders / single_push_rate:,.0f} s for {args.orders:,}; batched is "
            f"{push_rate / single_push_rate:,.0f}x faster"
        )
        for c in (seeding, client, pusher.client):
            c.close()


if __name__ == "__main__":
    main()
