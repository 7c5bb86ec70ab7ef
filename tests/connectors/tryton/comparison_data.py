"""One small company, seeded into Tryton and written as a sheetloop book, so that Tryton's
supply wizard and ``sheetloop plan`` can be compared on the same data.

A table maker: TABLE is made from a TOP and four LEGs and eight SCREWs; a TOP is made from
one BOARD. LEG, BOARD and SCREW are bought from one supplier. Every date is a number of
days after the day the comparison runs (Tryton plans from its own today and has no other
"as of" date).

Tryton's order points are the planning policy of both sides: ``min`` is sheetloop's
``Safety Stock``; an item without an order point is planned by Tryton with a minimum and a
target of 0, which is sheetloop's default (no safety stock, lot-for-lot).

Loaded by ``test_supply_comparison.py`` as the module ``supply_comparison_data``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
import tryton_records as records

from sheetloop.connectors.tryton import TrytonClient

# --- the company -------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderPoint:
    """Tryton's policy for one item at the warehouse: order when the forecast stock falls
    below ``minimum``, up to ``target``."""

    minimum: float
    target: float


@dataclass(frozen=True)
class Part:
    """An item as both planners see it."""

    code: str
    name: str
    make: bool
    lead_days: int  # production lead time (make) or the supplier's lead time (buy)
    on_hand: float
    order_point: OrderPoint | None = None

    @property
    def safety_stock(self) -> float:
        """sheetloop's safety stock: the order point's minimum (Tryton's default is 0)."""
        return self.order_point.minimum if self.order_point else 0.0


@dataclass(frozen=True)
class BomLine:
    parent: str
    component: str
    qty_per: float


@dataclass(frozen=True)
class Dated:
    """A sale (demand) or an open purchase (scheduled receipt) of ``qty`` ``item``,
    ``day`` days after today."""

    ref: str
    item: str
    day: int
    qty: float


SUPPLIER = "SUP"
CUSTOMER = "CUST"

PARTS: tuple[Part, ...] = (
    Part("TABLE", "Table", make=True, lead_days=2, on_hand=8, order_point=OrderPoint(5, 5)),
    Part("TOP", "Table top", make=True, lead_days=1, on_hand=0),
    Part("LEG", "Leg", make=False, lead_days=5, on_hand=20, order_point=OrderPoint(10, 10)),
    Part("BOARD", "Board", make=False, lead_days=7, on_hand=0),
    # The one order point whose target lies above its minimum: Tryton orders up to 100.
    Part("SCREW", "Screw", make=False, lead_days=3, on_hand=50, order_point=OrderPoint(20, 100)),
)
BOM: tuple[BomLine, ...] = (
    BomLine("TABLE", "TOP", 1),
    BomLine("TABLE", "LEG", 4),
    BomLine("TABLE", "SCREW", 8),
    BomLine("TOP", "BOARD", 1),
)
SALES: tuple[Dated, ...] = (
    # A spare top wanted tomorrow: Tryton finishes it today, so it should have started
    # yesterday.
    Dated("SO-TOP", "TOP", 1, 2),
    Dated("SO-1", "TABLE", 8, 6),
    Dated("SO-2", "TABLE", 12, 10),
    # Beyond both supply periods below: only sheetloop plans for it.
    Dated("SO-3", "TABLE", 30, 7),
)
PURCHASES: tuple[Dated, ...] = (Dated("PO-1", "SCREW", 4, 40),)

#: How far ahead Tryton looks: a purchase request covers the shortages from today + the
#: supplier lead time for this many days; production requests the shortages from today
#: for this many days. Tryton's defaults (1 day and none) look only at what must be ordered
#: or started today.
PURCHASE_SUPPLY_DAYS = 14
PRODUCTION_SUPPLY_DAYS = 21
#: sheetloop's horizon in day buckets: long enough for every sale.
HORIZON_DAYS = 42


def part(code: str) -> Part:
    """The part with item code ``code``."""
    (found,) = (p for p in PARTS if p.code == code)
    return found


def bom_paths(top: str, item: str) -> list[tuple[str, ...]]:
    """Every BOM path from ``top`` down to ``item``, both included (none if ``item`` is not
    ``top`` or one of its components at any level)."""
    if top == item:
        return [(item,)]
    return [
        (top, *path)
        for line in BOM
        if line.parent == top
        for path in bom_paths(line.component, item)
    ]


# --- the sheetloop book -------------------------------------------------------------------


def book_tables(today: dt.date) -> dict[str, pd.DataFrame]:
    """The company as the input tables of a sheetloop book, planned in day buckets from
    ``today``."""

    def day(offset: int) -> pd.Timestamp:
        return pd.Timestamp(today + dt.timedelta(days=offset))

    settings = pd.DataFrame(
        {
            "Setting": ["Horizon Start", "Bucket", "Periods"],
            "Value": pd.Series([pd.Timestamp(today), "day", HORIZON_DAYS], dtype=object),
        }
    )
    items = pd.DataFrame(
        [
            {
                "Item": p.code,
                "Description": p.name,
                "Type": "make" if p.make else "buy",
                "Supplier": None if p.make else SUPPLIER,
                "Lead Time": p.lead_days,
                "Safety Stock": p.safety_stock,
                "Lot Rule": "L4L",
            }
            for p in PARTS
        ]
    )
    bom = pd.DataFrame(
        [{"Parent": b.parent, "Component": b.component, "Qty Per": b.qty_per} for b in BOM]
    )
    inventory = pd.DataFrame(
        [{"Item": p.code, "Site": "MAIN", "On Hand": p.on_hand} for p in PARTS if p.on_hand]
    )
    receipts = pd.DataFrame(
        [
            {
                "Order": r.ref,
                "Item": r.item,
                "Site": "MAIN",
                "Due": day(r.day),
                "Qty": r.qty,
                "Kind": "PO",
            }
            for r in PURCHASES
        ]
    )
    demand = pd.DataFrame(
        [
            {
                "Demand": s.ref,
                "Item": s.item,
                "Site": "MAIN",
                "Due": day(s.day),
                "Qty": s.qty,
                "Kind": "order",
            }
            for s in SALES
        ]
    )
    return {
        "Settings": settings,
        "Items": items,
        "BOM": bom,
        "Inventory": inventory,
        "Receipts": receipts,
        "Demand": demand,
    }


# --- the Tryton company ------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """What was created in Tryton: product ids by item code, and the company's ids."""

    products: dict[str, int]
    company: records.Company

    def item_of(self, product_id: int) -> str:
        """The item code of a product created here."""
        (code,) = (code for code, pid in self.products.items() if pid == product_id)
        return code


def seed_tryton(client: TrytonClient, prefix: str, today: dt.date) -> Seeded:
    """Create the company's products, suppliers, BOMs, lead times, order points, stock on
    hand, confirmed sales and the confirmed open purchase; codes start with ``prefix``."""
    setup = records.company(client)

    def day(offset: int) -> dt.date:
        return today + dt.timedelta(days=offset)

    templates = []
    for p in PARTS:
        values = records.goods(
            f"{prefix}-{p.code}",
            p.name,
            unit=setup.unit,
            list_price=Decimal(10),
            cost_price=Decimal(1),
            producible=p.make,
        )
        # Made items are not bought, so that only production requests can supply them; a
        # sale lead time of 0 days ships each sale on the date the customer asked for.
        values |= {"purchasable": not p.make, "lead_time": dt.timedelta(0)}
        templates.append(values)
    products = {
        p.code: product
        for p, product in zip(PARTS, records.create_goods(client, templates), strict=True)
    }
    supplier, customer = records.create_parties(
        client, [(f"{prefix}-{SUPPLIER}", "Supplier"), (f"{prefix}-{CUSTOMER}", "Customer")]
    )
    bought = [p for p in PARTS if not p.make]
    made = [p for p in PARTS if p.make]
    client.create(
        "purchase.product_supplier",
        [
            {
                "template": products[p.code].template,
                "product": products[p.code].id,
                "party": supplier,
                "lead_time": dt.timedelta(days=p.lead_days),
                "currency": setup.currency,
                "company": setup.company,
            }
            for p in bought
        ],
    )
    for p in made:
        inputs = [(products[b.component], b.qty_per) for b in BOM if b.parent == p.code]
        records.create_bom(client, setup, products[p.code], inputs, name=f"{prefix}-{p.code}")
    client.create(
        "production.lead_time",
        [
            {"product": products[p.code].id, "lead_time": dt.timedelta(days=p.lead_days)}
            for p in made
        ],
    )
    client.create(
        "stock.order_point",
        [
            {
                "product": products[p.code].id,
                "location": setup.warehouse,
                "type": "production" if p.make else "purchase",
                "min_quantity": p.order_point.minimum,
                "target_quantity": p.order_point.target,
                "company": setup.company,
            }
            for p in PARTS
            if p.order_point is not None
        ],
    )
    _put_on_hand(client, setup, {products[p.code].id: p.on_hand for p in PARTS if p.on_hand}, today)

    sales = []
    for s in SALES:
        sale = records.create_draft_sale(
            client,
            setup,
            customer,
            [(products[s.item], s.qty, Decimal(10))],
            sale_date=today,
            reference=f"{prefix}-{s.ref}",
        )
        # Invoiced by hand: the demo company has no accounts to invoice on order.
        client.write(
            "sale.sale", [([sale], {"shipping_date": day(s.day), "invoice_method": "manual"})]
        )
        sales.append(sale)
    client.button("sale.sale", "quote", sales)
    client.button("sale.sale", "confirm", sales)  # processing makes the customer moves

    purchases = []
    for r in PURCHASES:
        purchase = records.create_draft_purchase(
            client,
            setup,
            supplier,
            [(products[r.item], r.qty, Decimal(1))],
            purchase_date=today,
            reference=f"{prefix}-{r.ref}",
        )
        client.write(
            "purchase.purchase",
            [([purchase], {"delivery_date": day(r.day), "invoice_method": "manual"})],
        )
        purchases.append(purchase)
    client.button("purchase.purchase", "quote", purchases)
    client.button("purchase.purchase", "confirm", purchases)
    return Seeded(products={code: p.id for code, p in products.items()}, company=setup)


def _put_on_hand(
    client: TrytonClient, setup: records.Company, quantities: Mapping[int, float], today: dt.date
) -> None:
    """Stock found in the warehouse today: done moves from the lost-and-found location."""
    (lost_found,) = client.search("stock.location", [("type", "=", "lost_found")])
    moves = client.create(
        "stock.move",
        [
            {
                "product": product,
                "unit": setup.unit,
                "quantity": quantity,
                "from_location": lost_found,
                "to_location": setup.storage,
                "planned_date": today,
                "effective_date": today,
                "company": setup.company,
            }
            for product, quantity in quantities.items()
        ],
    )
    client.button("stock.move", "do", moves)


# --- Tryton's supply wizard -----------------------------------------------------------------


#: How far the wizard looks ahead: (purchase, production) supply periods; None is Tryton's
#: default.
SupplyPeriods = tuple[dt.timedelta | None, dt.timedelta | None]


def supply_periods(client: TrytonClient) -> SupplyPeriods:
    """The supply periods of purchase requests and production requests."""
    (purchase,) = client.read("purchase.configuration", [1], ["supply_period"])
    (production,) = client.read("production.configuration", [1], ["supply_period"])
    return purchase["supply_period"], production["supply_period"]


def set_supply_periods(client: TrytonClient, periods: SupplyPeriods) -> None:
    """Set the supply periods of purchase requests and production requests."""
    purchase, production = periods
    client.write("purchase.configuration", [([1], {"supply_period": purchase})])
    client.write("production.configuration", [([1], {"supply_period": production})])


# The wizard stops with a warning when any draft move in the database is late, which other
# tests' documents become once their dates have passed. Those moves are not this company's
# (and the forecast ignores late draft moves anyway): answering "yes" in advance is what a
# user would do in the client.
_SUPPLY_WARNINGS = ("stock.supply.supplier@{}", "stock.supply..customer@{}", "stock.supply@{}")


def run_supply_wizard(client: TrytonClient, warehouse: int, today: dt.date) -> None:
    """Run Tryton's supply wizard (``wizard.stock.supply``) for ``warehouse``, as the
    client's Create button does: it makes internal shipments, purchase requests and
    production requests."""
    user = client.user_id
    client.create(
        "res.user.warning",
        [{"user": user, "name": name.format(today.isoformat())} for name in _SUPPLY_WARNINGS],
    )
    session, _start, _end = client.call("wizard.stock.supply.create")
    try:
        client.call(
            "wizard.stock.supply.execute",
            session,
            {"start": {"warehouses": [warehouse]}},
            "create_",
        )
    finally:
        client.call("wizard.stock.supply.delete", session)


@dataclass(frozen=True)
class Request:
    """A purchase request or a production request the wizard made.

    ``date`` is when the goods are wanted in stock (a purchase request's supply date, a
    production's planned end); ``start`` when to act (its purchase date, the production's
    planned start)."""

    item: str
    kind: str  # "buy" or "make", as sheetloop's PlannedOrders say
    qty: float
    date: dt.date
    start: dt.date


@dataclass(frozen=True)
class InputMove:
    """A component a production request consumes, and when."""

    production: int
    item: str
    qty: float
    date: dt.date


def read_requests(client: TrytonClient, seeded: Seeded) -> list[Request]:
    """The company's purchase requests and production requests, by item and date."""
    ids = list(seeded.products.values())
    purchases = client.search_read(
        "purchase.request",
        [("product", "in", ids), ("state", "=", "draft")],
        ["product", "quantity", "supply_date", "purchase_date"],
    )
    productions = client.search_read(
        "production",
        [("product", "in", ids), ("state", "=", "request")],
        ["product", "quantity", "planned_date", "planned_start_date"],
    )
    found = [
        Request(
            seeded.item_of(r["product"]), "buy", r["quantity"], r["supply_date"], r["purchase_date"]
        )
        for r in purchases
    ] + [
        Request(
            seeded.item_of(r["product"]),
            "make",
            r["quantity"],
            r["planned_date"],
            r["planned_start_date"],
        )
        for r in productions
    ]
    return sorted(found, key=lambda r: (r.item, r.date))


def read_request_inputs(client: TrytonClient, seeded: Seeded) -> list[InputMove]:
    """The component moves of the company's production requests."""
    ids = list(seeded.products.values())
    moves = client.search_read(
        "stock.move",
        [
            ("production_input.state", "=", "request"),
            ("production_input.product", "in", ids),
        ],
        ["production_input", "product", "quantity", "planned_date"],
    )
    return [
        InputMove(
            m["production_input"], seeded.item_of(m["product"]), m["quantity"], m["planned_date"]
        )
        for m in moves
    ]
