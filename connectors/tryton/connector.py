"""A ``tryton`` connection: pull the planning tables from Tryton, push planned orders,
customer names and tiers, and allocation results back.

Pull reads ``Items``, ``BOM``, ``Inventory``, ``Receipts``, ``Demand`` and ``Customers``
whole, with ``search_read`` pages of a thousand records (never one call per record). With
the ``forecast`` option, ``Demand`` also holds the lines of open sale opportunities as
forecast, and ``Customers`` their parties.
Push sends ``PlannedOrders`` (buy orders become lines of draft purchases, one purchase per
supplier and warehouse; make orders become draft productions with their BOM exploded),
``Customers`` (name and tier written back to the party) and ``DemandStatus`` (a line in
the sale line's note saying what allocation confirmed). Every create and write is one call
per chunk; only when Tryton refuses a chunk are its records sent one by one, to mark
exactly the rows at fault.

The choices the mapping makes are listed in :mod:`.mapping`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sheetloop.connectors.connections import Connection
from sheetloop.connectors.http import resolve_secret
from sheetloop.connectors.sync.pull import SyncBook
from sheetloop.connectors.sync.push import EXTERNAL_ID, PushRow, Sent
from sheetloop.connectors.sync.streams import Records, Stream, id_column, normalise
from sheetloop.connectors.tryton.mapping import (
    DEMAND_STATES,
    OPPORTUNITY_STATES,
    PRODUCTION_STATES,
    PURCHASE_STATES,
    Unit,
    allocation_note,
    by_sequence,
    ceil_to,
    convert,
    customer_row,
    demand_row,
    earliest_open,
    explode_bom,
    first_lead_days,
    forecast_due,
    forecast_quantity,
    forecast_row,
    item_row,
    line_positions,
    nested,
    open_quantity,
    order_marker,
    parse_ref,
    parse_sites,
    parse_yes_no,
    production_receipt_row,
    purchase_receipt_row,
    ref,
    replace_note_line,
    site_name,
    tier_of,
    unique_orders,
    version_of,
)
from sheetloop.connectors.tryton.rpc import (
    DEFAULT_READ_BATCH,
    DEFAULT_WRITE_BATCH,
    Domain,
    TrytonClient,
    TrytonError,
    TrytonFailure,
)
from sheetloop.errors import ExternalSystemError, UsageError
from sheetloop.workbooks.interface import RawTable
from sheetloop.workbooks.schema import (
    ALLOCATION,
    BOM,
    CUSTOMERS,
    DEMAND,
    DEMAND_STATUS,
    INVENTORY,
    ITEMS,
    PLANNED_ORDERS,
    RECEIPTS,
    RUN_LOG,
    Column,
    Kind,
    header_key,
)

__all__ = [
    "BOM_STREAM",
    "DEFAULT_TIER_CATEGORY",
    "DEFAULT_TIMEOUT",
    "DEMAND_STATUS_STREAM",
    "DEMAND_STREAM",
    "INVENTORY_STREAM",
    "ITEMS_STREAM",
    "PLANNED_ORDERS_STREAM",
    "RECEIPTS_STREAM",
    "BookFacts",
    "TrytonConnector",
    "read_book_facts",
]

ITEMS_STREAM = Stream(
    ITEMS,
    key=("Item",),
    columns=("Item", "Description", "Type", "UoM", "Supplier", "Lead Time", "Unit Cost"),
)
BOM_STREAM = Stream(BOM, key=("Parent", "Component"), columns=("Parent", "Component", "Qty Per"))
INVENTORY_STREAM = Stream(INVENTORY, key=("Item", "Site"), columns=("Item", "Site", "On Hand"))
RECEIPTS_STREAM = Stream(
    RECEIPTS,
    key=("Order", "Item", "Site", "Due"),
    columns=("Order", "Item", "Site", "Due", "Qty", "Kind", "External Id"),
)
DEMAND_STREAM = Stream(
    DEMAND,
    key=("Demand",),
    columns=("Demand", "Item", "Site", "Customer", "Due", "Qty", "Kind"),
)
PLANNED_ORDERS_STREAM = Stream(
    PLANNED_ORDERS,
    key=("Order",),
    columns=("Order", "Item", "Site", "Kind", "Release", "Due", "Qty"),
)
DEMAND_STATUS_STREAM = Stream(
    DEMAND_STATUS, key=("Demand",), columns=("Demand", "Item", "Qty", "Allocated")
)

#: Seconds a Tryton call may take (the connection's ``timeout`` option overrides it).
DEFAULT_TIMEOUT = 60.0
#: Party categories named ``Tier 1``, ``Tier 2``... give customers their tier.
DEFAULT_TIER_CATEGORY = "Tier"

_PLANNED_MODELS = ("purchase.line", "production")
_EDITABLE_PRODUCTIONS = ("request", "draft")
_REFUSALS = (TrytonFailure.USER_ERROR, TrytonFailure.USER_WARNING)
# What to do comes before Tryton's text, which Sync Status may cut short.
_REFUSED = "correct what Tryton names, then push again; Tryton refused"

_CODE = Column("code", Kind.CODE)
_DATE = Column("date", Kind.DATE)
_NUMBER = Column("number", Kind.NUMBER)


# --- what push reads of the book --------------------------------------------------------


@dataclass
class BookFacts:
    """What push needs from tables other than the one it sends (read by ``prepare``)."""

    suppliers: dict[str, str] = field(default_factory=dict)  # item -> supplier code
    site_suppliers: dict[tuple[str, str], str] = field(default_factory=dict)
    sale_lines: dict[str, int] = field(default_factory=dict)  # demand -> sale.line id
    first_ship: dict[str, dt.date | str] = field(default_factory=dict)
    run: dt.datetime | None = None  # when allocate last ran
    known: set[str] = field(default_factory=set)  # Tryton refs the book already holds
    stale: set[str] = field(default_factory=set)  # planned-order ids carried to new rows
    pushed: dict[int, str] = field(default_factory=dict)  # PlannedOrders row -> External Id
    read: bool = False  # False until prepare() read the book


@dataclass(frozen=True)
class _Planned:
    """A ``PlannedOrders`` row as push reads it."""

    index: int
    order: str
    item: str | None
    site: str | None
    kind: str | None
    release: dt.date | None
    due: dt.date | None
    qty: float | None
    record: tuple[str, int] | None

    @property
    def label(self) -> str:
        return f"PlannedOrders {self.order}"


@dataclass(frozen=True)
class _Warehouse:
    id: int
    site: str
    storage: int
    production: int | None
    picking: int
    output: int


# The description of the draft purchases push makes: a planner sees where they came from,
# and push finds the empty ones an interrupted push left behind.
_PURCHASE_MARK = "sheetloop: planned orders"


class TrytonConnector:
    """Pull and push between a planning workbook and one Tryton database."""

    def __init__(
        self,
        client: TrytonClient,
        *,
        connection: str,
        sites: Mapping[str, str] | None = None,
        tier_category: str | None = DEFAULT_TIER_CATEGORY,
        products: str | None = None,
        forecast: bool = False,
        forecast_weighted: bool = False,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self.connection = connection
        self.client = client
        self._sites = dict(sites or {})
        self._tier_category = tier_category or None
        self._products_like = products.replace("*", "%") if products else None
        # Weighting only makes sense for forecasts: asking for it asks for them.
        self._forecast = forecast or forecast_weighted
        self._forecast_weighted = forecast_weighted
        self._today = today
        self._facts = BookFacts()
        self._cache: dict[str, Any] = {}

    @classmethod
    def from_connection(cls, connection: Connection, book_dir: Path) -> TrytonConnector:
        """The connector for a ``tryton`` row of ``Connections``: ``URL``, ``Database`` and
        ``User``, the password from the secret ``Auth`` names; options ``sites``,
        ``tier_category``, ``products``, ``forecast``, ``forecast_weighted`` (yes or no) and
        ``timeout``. ``book_dir`` is unused: a Tryton connection needs no file beside the
        book."""
        del book_dir
        name = connection.name
        missing = [
            label
            for label, value in (
                ("URL", connection.url),
                ("Database", connection.database),
                ("User", connection.user),
            )
            if not value
        ]
        if missing:
            raise UsageError(
                f"Connections ({name}): a tryton connection needs {', '.join(missing)} "
                "(URL: the server, e.g. http://erp.example.com:8000/; Database: the Tryton "
                "database name; User: the login): fill them in the Connections table"
            )
        secret = resolve_secret(connection.auth, connection=name)
        client = TrytonClient(
            connection.url,
            connection.database,
            connection.user,
            secret.reveal(),
            timeout=_timeout_option(connection),
        )
        tier = connection.option("tier_category", DEFAULT_TIER_CATEGORY)
        return cls(
            client,
            connection=name,
            sites=parse_sites(connection.option("sites"), name),
            tier_category=tier,
            products=connection.option("products") or None,
            forecast=parse_yes_no(connection.option("forecast"), "forecast", name),
            forecast_weighted=parse_yes_no(
                connection.option("forecast_weighted"), "forecast_weighted", name
            ),
        )

    def __repr__(self) -> str:
        return f"TrytonConnector(connection={self.connection!r}, client={self.client!r})"

    # == pull ============================================================================

    def streams(self) -> Sequence[Stream]:
        """The tables pull fills: Items, BOM, Inventory, Receipts, Demand, Customers."""
        return [
            ITEMS_STREAM,
            BOM_STREAM,
            INVENTORY_STREAM,
            RECEIPTS_STREAM,
            DEMAND_STREAM,
            self._customers_stream(),
        ]

    def read(self, stream: Stream, cursor: str | None) -> Records:
        """Every record of ``stream`` (a full read: ``cursor`` is not used)."""
        readers: dict[str, Callable[[], Records]] = {
            ITEMS.name: self._read_items,
            BOM.name: self._read_bom,
            INVENTORY.name: self._read_inventory,
            RECEIPTS.name: self._read_receipts,
            DEMAND.name: self._read_demand,
            CUSTOMERS.name: self._read_customers,
        }
        return readers[stream.name]()

    def _customers_stream(self) -> Stream:
        columns = ("Customer", "Name", "Tier") if self._tier_category else ("Customer", "Name")
        return Stream(CUSTOMERS, key=("Customer",), columns=columns)

    def _read_items(self) -> Records:
        """Goods products: make when they have a BOM; supplier and lead time from their
        first supplier (buy) or first production lead time (make)."""
        products = self._products()
        units = self._units()
        suppliers = self._search_read(
            "purchase.product_supplier", [], ["template", "product", "party.code", "lead_time"]
        )
        by_template: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for record in suppliers:
            by_template[int(record["template"])].append(record)
        production_leads: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for record in self._search_read("production.lead_time", [], ["product", "lead_time"]):
            production_leads[int(record["product"])].append(record)
        rows, ids = [], []
        for product in sorted(products.values(), key=lambda p: str(p["code"])):
            own = [
                s
                for s in by_template.get(int(product["template"]), [])
                if s.get("product") in (None, product["id"])
            ]
            own.sort(key=by_sequence)
            supplier = nested(own[0], "party.code") if own else None
            make = bool(product.get("boms"))
            lead = first_lead_days(production_leads[product["id"]] if make else own)
            rows.append(
                item_row(
                    product,
                    unit=units.get(int(product["default_uom"])),
                    supplier=supplier,
                    lead_time=lead,
                )
            )
            ids.append(ref("product.product", int(product["id"])))
        return Records(rows, ids)

    def _read_bom(self) -> Records:
        """The first BOM of each product, as component quantities per unit of it."""
        products = self._products()
        units = self._units()
        first_links = [int(p["boms"][0]) for p in products.values() if p.get("boms")]
        links = self._by_ids("product.product-production.bom", first_links, ["product", "bom"])
        boms = {int(link["product"]): int(link["bom"]) for link in links.values()}
        bom_ids = sorted(set(boms.values()))
        fields = ["bom", "product", "quantity", "unit"]
        inputs = self._by_field("production.bom.input", "bom", bom_ids, fields)
        outputs = self._by_field("production.bom.output", "bom", bom_ids, fields)
        rows, ids = [], []
        for parent_id, bom in sorted(boms.items(), key=lambda pb: str(products[pb[0]]["code"])):
            parent = products[parent_id]
            parent_unit = units.get(int(parent["default_uom"]))
            made = sum(
                convert(float(o["quantity"]), units.get(int(o["unit"])), parent_unit)
                for o in outputs.get(bom, [])
                if int(o["product"]) == parent_id
            )
            if made <= 0:
                continue
            per: dict[int, float] = {}
            for line in inputs.get(bom, []):
                component = products.get(int(line["product"]))
                if component is None:
                    continue  # not goods, no code, or outside the products option
                quantity = convert(
                    float(line["quantity"]),
                    units.get(int(line["unit"])),
                    units.get(int(component["default_uom"])),
                )
                per[component["id"]] = per.get(component["id"], 0.0) + quantity
            for component_id, quantity in sorted(per.items()):
                rows.append(
                    {
                        "Parent": parent["code"],
                        "Component": products[component_id]["code"],
                        "Qty Per": round(quantity / made, 9),
                    }
                )
                ids.append(ref("production.bom", bom, parent_id, component_id))
        return Records(rows, ids)

    def _read_inventory(self) -> Records:
        """Stock of every goods product per warehouse (its locations included), today."""
        products = self._products()
        rows, ids = [], []
        for warehouse in self._warehouses().values():
            stock = self._search_read(
                "product.product",
                self._product_domain(),
                ["quantity"],
                context={
                    "locations": [warehouse.id],
                    "stock_date_end": self._today(),
                    "with_childs": True,
                },
            )
            for record in sorted(stock, key=lambda r: str(products.get(r["id"], {}).get("code"))):
                product = products.get(int(record["id"]))
                if product is None:
                    continue
                # Negative stock is a booking error in Tryton; the book takes none as 0.
                on_hand = max(round(float(record.get("quantity") or 0.0), 6), 0.0)
                rows.append({"Item": product["code"], "Site": warehouse.site, "On Hand": on_hand})
                ids.append(ref("stock.location", warehouse.id, int(product["id"])))
        return Records(rows, ids)

    def _read_receipts(self) -> Records:
        """Open lines of quoted, confirmed and processing purchases, and firm productions:
        what they still bring in, when."""
        products = self._products()
        units = self._units()
        warehouses = self._warehouses()
        lines = self._search_read(
            "purchase.line",
            [("purchase.state", "in", list(PURCHASE_STATES)), ("type", "=", "line")],
            [
                "purchase",
                "purchase.number",
                "purchase.warehouse",
                "purchase.delivery_date",
                "purchase.purchase_date",
                "product",
                "quantity",
                "unit",
                "delivery_date",
                "moves",
                "sequence",
            ],
        )
        productions = self._search_read(
            "production",
            [("state", "in", list(PRODUCTION_STATES))],
            [
                "number",
                "reference",
                "product",
                "quantity",
                "unit",
                "planned_date",
                "planned_start_date",
                "warehouse",
                "outputs",
            ],
        )
        move_ids = [m for line in lines for m in line.get("moves") or []]
        move_ids += [m for p in productions for m in p.get("outputs") or []]
        moves = self._by_ids(
            "stock.move", move_ids, ["state", "quantity", "product", "planned_date"]
        )
        today = self._today()
        rows: list[dict[str, Any]] = []
        positions = line_positions(lines, "purchase")
        for line in lines:
            product = products.get(int(line.get("product") or 0))
            warehouse = warehouses.get(int(nested(line, "purchase.warehouse") or 0))
            if product is None or warehouse is None:
                continue
            own = [moves[m] for m in line.get("moves") or [] if m in moves]
            quantity = convert(
                open_quantity(float(line.get("quantity") or 0.0), own),
                units.get(int(line.get("unit") or 0)),
                units.get(int(product["default_uom"])),
            )
            if quantity <= 0:
                continue
            due = (
                earliest_open(own)
                or line.get("delivery_date")
                or nested(line, "purchase.delivery_date")
                or nested(line, "purchase.purchase_date")
                or today
            )
            rows.append(
                purchase_receipt_row(
                    line,
                    item=product["code"],
                    quantity=quantity,
                    site=warehouse.site,
                    due=due,
                    position=positions[line["id"]],
                )
            )
        for production in productions:
            product = products.get(int(production.get("product") or 0))
            warehouse = warehouses.get(int(production.get("warehouse") or 0))
            if product is None or warehouse is None:
                continue
            outs = [
                moves[m]
                for m in production.get("outputs") or []
                if m in moves and moves[m].get("product") == product["id"]
            ]
            quantity = convert(
                open_quantity(float(production.get("quantity") or 0.0), outs),
                units.get(int(production.get("unit") or 0)),
                units.get(int(product["default_uom"])),
            )
            if quantity <= 0:
                continue
            due = production.get("planned_date") or production.get("planned_start_date") or today
            rows.append(
                production_receipt_row(
                    production,
                    item=product["code"],
                    quantity=quantity,
                    site=warehouse.site,
                    due=due,
                )
            )
        rows = unique_orders(rows)
        return Records(rows, [str(r["External Id"]) for r in rows])

    def _read_demand(self) -> Records:
        """Open lines of quoted, confirmed and processing sales: what they still ship, when;
        with the ``forecast`` option, the lines of open opportunities after them."""
        products = self._products()
        units = self._units()
        warehouses = self._warehouses()
        lines = self._search_read(
            "sale.line",
            [("sale.state", "in", list(DEMAND_STATES)), ("type", "=", "line")],
            [
                "sale",
                "sale.number",
                "sale.party.code",
                "sale.warehouse",
                "sale.sale_date",
                "sale.shipping_date",
                "product",
                "quantity",
                "unit",
                "shipping_date",
                "moves",
                "sequence",
            ],
        )
        moves = self._by_ids(
            "stock.move",
            [m for line in lines for m in line.get("moves") or []],
            ["state", "quantity", "planned_date"],
        )
        positions = line_positions(lines, "sale")
        today = self._today()
        rows, ids = [], []
        for line in lines:
            product = products.get(int(line.get("product") or 0))
            warehouse = warehouses.get(int(nested(line, "sale.warehouse") or 0))
            if product is None:
                continue
            own = [moves[m] for m in line.get("moves") or [] if m in moves]
            quantity = convert(
                open_quantity(float(line.get("quantity") or 0.0), own),
                units.get(int(line.get("unit") or 0)),
                units.get(int(product["default_uom"])),
            )
            if quantity <= 0:
                continue  # shipped, or a return line
            due = (
                earliest_open(own)
                or line.get("shipping_date")
                or nested(line, "sale.shipping_date")
                or nested(line, "sale.sale_date")
                or today
            )
            rows.append(
                demand_row(
                    line,
                    item=product["code"],
                    quantity=quantity,
                    site=warehouse.site if warehouse is not None else "",
                    due=due,
                    position=positions[line["id"]],
                )
            )
            ids.append(ref("sale.line", int(line["id"])))
        if self._forecast:
            forecast = self._read_forecast()
            rows += forecast.rows
            ids += forecast.ids
        return Records(rows, ids)

    def _read_forecast(self) -> Records:
        """Product lines of leads and opportunities (not converted: their sale is already
        an order) as forecast demand, in the product's default unit, weighted by the
        conversion probability with ``forecast_weighted``; a line that forecasts nothing
        (no quantity, or a zero weight) gives no row.

        An opportunity names no warehouse; its sale would ship from Tryton's default one
        (the user's, else the only warehouse), so that is the forecast's site; with several
        warehouses and none preferred the site stays blank for MRP to place."""
        products = self._products()
        units = self._units()
        # All open lines, not only the connection's products: a line's position among its
        # opportunity's lines is then the same whatever the products option.
        lines = self._search_read(
            "sale.opportunity.line",
            [("opportunity.state", "in", list(OPPORTUNITY_STATES))],
            [
                "opportunity",
                "opportunity.number",
                "opportunity.party.code",
                "opportunity.start_date",
                "opportunity.end_date",
                "opportunity.conversion_probability",
                "product",
                "quantity",
                "unit",
                "sequence",
            ],
        )
        positions = line_positions(lines, "opportunity")
        site = self._default_site()
        today = self._today()
        rows, ids = [], []
        for line in lines:
            product = products.get(int(line.get("product") or 0))
            if product is None:
                continue  # no product, not goods, or outside the products option
            quantity = forecast_quantity(
                convert(
                    float(line.get("quantity") or 0.0),
                    units.get(int(line.get("unit") or 0)),
                    units.get(int(product["default_uom"])),
                ),
                nested(line, "opportunity.conversion_probability"),
                weighted=self._forecast_weighted,
            )
            if quantity <= 0:
                continue
            rows.append(
                forecast_row(
                    line,
                    item=product["code"],
                    quantity=quantity,
                    site=site,
                    due=forecast_due(line, today),
                    position=positions[line["id"]],
                )
            )
            ids.append(ref("sale.opportunity.line", int(line["id"])))
        return Records(rows, ids)

    def _default_site(self) -> str:
        """The site of the warehouse Tryton gives a new sale: the user's preferred one,
        else the only warehouse; blank when neither exists."""
        warehouses = self._warehouses()
        preferred = warehouses.get(int(self._rpc.context.get("warehouse") or 0))
        if preferred is not None:
            return preferred.site
        if len(warehouses) == 1:
            return next(iter(warehouses.values())).site
        return ""

    def _read_customers(self) -> Records:
        """Parties that have sales (of the products the connection reads), with their
        tier from their categories; with the ``forecast`` option also the parties of open
        opportunities, so every forecast's customer is in ``Customers``."""
        if self._products_like:
            lines = self._search_read(
                "sale.line",
                [("sale.state", "!=", "cancelled"), *self._product_domain("product.")],
                ["sale.party"],
            )
            party_ids = {int(nested(line, "sale.party") or 0) for line in lines} - {0}
        else:
            sales = self._search_read("sale.sale", [("state", "!=", "cancelled")], ["party"])
            party_ids = {int(s["party"]) for s in sales}
        if self._forecast:
            party_ids |= self._forecast_parties()
        parties = self._by_ids(
            "party.party", party_ids, ["code", "name", "categories", "write_date", "create_date"]
        )
        categories = self._categories() if self._tier_category else {}
        rows, ids, versions = [], [], []
        for party in sorted(parties.values(), key=lambda p: str(p.get("code"))):
            if not party.get("code"):
                continue
            tier = None
            if self._tier_category:
                names = [categories.get(int(c), "") for c in party.get("categories") or []]
                tier = tier_of(names, self._tier_category)
            rows.append(customer_row(party, tier=tier, with_tier=bool(self._tier_category)))
            ids.append(ref("party.party", int(party["id"])))
            versions.append(version_of(party))
        return Records(rows, ids, versions=versions)

    def _forecast_parties(self) -> set[int]:
        """The parties of open opportunities (with a line of the products the connection
        reads, when it reads only some)."""
        if self._products_like:
            lines = self._search_read(
                "sale.opportunity.line",
                [
                    ("opportunity.state", "in", list(OPPORTUNITY_STATES)),
                    *self._product_domain("product."),
                ],
                ["opportunity.party"],
            )
            found = {int(nested(line, "opportunity.party") or 0) for line in lines}
        else:
            opportunities = self._search_read(
                "sale.opportunity", [("state", "in", list(OPPORTUNITY_STATES))], ["party"]
            )
            found = {int(o.get("party") or 0) for o in opportunities}
        return found - {0}

    # == push ============================================================================

    def push_streams(self) -> Sequence[Stream]:
        """The tables push sends: PlannedOrders, Customers, DemandStatus."""
        return [PLANNED_ORDERS_STREAM, self._customers_stream(), DEMAND_STATUS_STREAM]

    def prepare(self, book: SyncBook) -> None:
        """Read what push needs from the book's other tables: suppliers, the sale line of
        each demand, first ship dates, the last allocate run, and which planned orders
        were pushed."""
        self._facts = read_book_facts(book, self.connection)

    def extra_values(self, stream: Stream, values: dict[str, Any]) -> dict[str, Any]:
        """The first ship date written into a sale line's note: a moved date alone makes
        the DemandStatus row changed, so the note follows it."""
        if stream.name != DEMAND_STATUS.name:
            return {}
        demand = _text(values.get("Demand"))
        return {"First Ship": str(self._facts.first_ship.get(demand or "", ""))}

    def versions(self, stream: Stream, record_ids: Sequence[str]) -> dict[str, str]:
        """Write dates of the records, to find those changed in Tryton since the last sync.
        None for an id ``plan`` carried to a new planned order (that order is new, so it
        cannot conflict), nor for DemandStatus (sheetloop owns its line of the note)."""
        if stream.name == PLANNED_ORDERS.name:
            models: tuple[str, ...] = _PLANNED_MODELS
        elif stream.name == CUSTOMERS.name:
            models = ("party.party",)
        else:
            return {}
        wanted: dict[str, list[int]] = defaultdict(list)
        for rid in record_ids:
            parsed = parse_ref(rid, models)
            if parsed is not None and rid not in self._facts.stale:
                wanted[parsed[0]].append(parsed[1])
        out: dict[str, str] = {}
        for model, ids in wanted.items():
            for record in self._by_ids(model, ids, ["write_date", "create_date"]).values():
                out[ref(model, int(record["id"]))] = version_of(record)
        return out

    def send(self, stream: Stream, rows: Sequence[PushRow]) -> list[Sent]:
        """Create or update the Tryton records for ``rows``; a row Tryton refuses is a
        ``Sent`` with the reason, a failing server raises ``TrytonError`` (exit 3)."""
        if stream.name == PLANNED_ORDERS.name:
            return self._send_planned(rows)
        if stream.name == CUSTOMERS.name:
            return self._send_customers(rows)
        if stream.name == DEMAND_STATUS.name:
            return self._send_status(rows)
        raise UsageError(f"{self.connection} does not push {stream.name}")

    # -- planned orders ------------------------------------------------------------------

    def _send_planned(self, rows: Sequence[PushRow]) -> list[Sent]:
        """Planned orders to draft purchase lines and productions: new rows are created,
        rows pushed before update their draft."""
        orders = [self._planned(row) for row in rows]
        sent: dict[int, Sent] = {}
        products = self._products_by_code({o.item for o in orders if o.item})
        warehouses = {w.site.casefold(): w for w in self._warehouses().values()}
        ready: list[_Planned] = []
        for order in orders:
            problem = _planned_problem(order, products, warehouses, self._warehouse_names())
            if problem:
                sent[order.index] = Sent(order.index, error=f"{order.label}: {problem}")
            else:
                ready.append(order)
        creates = [o for o in ready if o.record is None]
        updates = [o for o in ready if o.record is not None]
        adopted = self._adopt_orphans(creates, products)
        creates = [o for o in creates if o.index not in adopted]
        updates += [_with_record(o, adopted[o.index]) for o in ready if o.index in adopted]
        buys = [o for o in creates if o.kind == "buy"]
        makes = [o for o in creates if o.kind == "make"]
        done: dict[int, tuple[str, int]] = {}
        for result in (
            self._create_purchase_lines(buys, products, warehouses),
            self._create_productions(makes, products, warehouses),
            self._update_planned(updates, products, warehouses),
        ):
            for index, outcome in result.items():
                if isinstance(outcome, str):
                    sent[index] = Sent(index, error=outcome)
                else:
                    done[index] = outcome
        stamps = self._stamps(done.values())
        for index, (model, record_id) in done.items():
            rid = ref(model, record_id)
            sent[index] = Sent(index, rid, rid, version=stamps.get(rid))
        return [sent[o.index] for o in orders if o.index in sent]

    def _planned(self, row: PushRow) -> _Planned:
        values = row.values
        record = parse_ref(row.record_id, _PLANNED_MODELS)
        if record is not None and self._facts.read and row.index not in self._facts.pushed:
            record = None  # an id plan carried over to a new row that was never pushed
        kind = _text(values.get("Kind"))
        return _Planned(
            index=row.index,
            order=_text(values.get("Order")) or f"row {row.index + 2}",
            item=_text(values.get("Item")),
            site=_text(values.get("Site")),
            kind=kind.casefold() if kind else None,
            release=_date(values.get("Release")),
            due=_date(values.get("Due")),
            qty=_number(values.get("Qty")),
            record=record,
        )

    def _adopt_orphans(
        self, creates: Sequence[_Planned], products: Mapping[str, dict[str, Any]]
    ) -> dict[int, tuple[str, int]]:
        """Drafts an earlier push made for these planned orders but could not record in the
        book (it failed before saving): reuse them rather than create duplicates."""
        adopted: dict[int, tuple[str, int]] = {}
        known = self._facts.known
        buys = {order_marker(o.order): o for o in creates if o.kind == "buy"}
        if buys:
            for line in self._search_read(
                "purchase.line",
                [("note", "in", list(buys)), ("purchase.state", "=", "draft")],
                ["note", "product"],
            ):
                order = buys.get(str(line.get("note")))
                rid = ref("purchase.line", int(line["id"]))
                if order is None or rid in known or order.index in adopted:
                    continue
                if order.item and products[order.item]["id"] == line.get("product"):
                    adopted[order.index] = ("purchase.line", int(line["id"]))
        makes = {o.order: o for o in creates if o.kind == "make"}
        if makes:
            for production in self._search_read(
                "production",
                [("reference", "in", list(makes)), ("state", "in", list(_EDITABLE_PRODUCTIONS))],
                ["reference", "product"],
            ):
                order = makes.get(str(production.get("reference")))
                rid = ref("production", int(production["id"]))
                if order is None or rid in known or order.index in adopted:
                    continue
                if order.item and products[order.item]["id"] == production.get("product"):
                    adopted[order.index] = ("production", int(production["id"]))
        return adopted

    def _create_purchase_lines(
        self,
        orders: Sequence[_Planned],
        products: Mapping[str, dict[str, Any]],
        warehouses: Mapping[str, _Warehouse],
    ) -> dict[int, tuple[str, int] | str]:
        """One draft purchase per supplier and warehouse, one line per buy order."""
        if not orders:
            return {}
        out: dict[int, tuple[str, int] | str] = {}
        parties = self._suppliers_of(orders, products)
        groups: dict[tuple[int, int], list[_Planned]] = defaultdict(list)
        for order in orders:
            party = parties[order.index]
            if isinstance(party, str):
                out[order.index] = f"{order.label}: {party}"
                continue
            groups[(party, _warehouse_of(order, warehouses).id)].append(order)
        if not groups:
            return out
        self._delete_empty_purchases()
        addresses = self._first_addresses({party for party, _ in groups})
        keys = list(groups)
        headers = self._create_each(
            "purchase.purchase",
            [
                {"party": party, "warehouse": warehouse, "description": _PURCHASE_MARK}
                | ({"invoice_address": addresses[party]} if party in addresses else {})
                for party, warehouse in keys
            ],
        )
        line_orders: list[_Planned] = []
        line_values: list[dict[str, Any]] = []
        for key, header in zip(keys, headers, strict=True):
            for order in groups[key]:
                if isinstance(header, str):
                    out[order.index] = f"{order.label}: {_REFUSED} its purchase: {header}"
                    continue
                assert order.item is not None and order.qty is not None
                product = products[order.item]
                line_orders.append(order)
                line_values.append(
                    {
                        "purchase": header,
                        "product": product["id"],
                        "quantity": self._qty(order, product),
                        "unit": product["default_uom"],
                        "unit_price": product.get("cost_price") or Decimal(0),
                        "delivery_date_edit": True,
                        "delivery_date_store": order.due,
                        "note": order_marker(order.order),
                    }
                )
        try:
            created = self._create_each("purchase.line", line_values)
        except ExternalSystemError:
            # Purchases without their lines would linger as empty drafts: take them back
            # (if the server is gone, the next push does).
            with contextlib.suppress(ExternalSystemError):
                self._rpc.delete("purchase.purchase", [h for h in headers if isinstance(h, int)])
            raise
        used: set[int] = set()
        for order, values, line in zip(line_orders, line_values, created, strict=True):
            if isinstance(line, str):
                out[order.index] = f"{order.label}: {_REFUSED} it: {line}"
            else:
                out[order.index] = ("purchase.line", line)
                used.add(int(values["purchase"]))
        empty = [h for h in headers if isinstance(h, int) and h not in used]
        if empty:
            self._rpc.delete("purchase.purchase", empty)
        return out

    def _delete_empty_purchases(self) -> None:
        """Draft purchases an interrupted push made but could not fill: delete them."""
        empty = [
            int(p["id"])
            for p in self._search_read(
                "purchase.purchase",
                [("state", "=", "draft"), ("description", "=", _PURCHASE_MARK)],
                ["lines"],
            )
            if not p.get("lines")
        ]
        if empty:
            self._rpc.delete("purchase.purchase", empty)

    def _create_productions(
        self,
        orders: Sequence[_Planned],
        products: Mapping[str, dict[str, Any]],
        warehouses: Mapping[str, _Warehouse],
    ) -> dict[int, tuple[str, int] | str]:
        """One draft production per make order, its BOM exploded into moves."""
        if not orders:
            return {}
        out: dict[int, tuple[str, int] | str] = {}
        boms = self._first_boms([products[o.item] for o in orders if o.item])
        self._bom_lines(sorted(set(boms.values())))  # every BOM in one read, not one each
        todo: list[_Planned] = []
        values: list[dict[str, Any]] = []
        for order in orders:
            assert order.item is not None
            product = products[order.item]
            bom = boms.get(int(product["id"]))
            if bom is None:
                out[order.index] = (
                    f"{order.label}: {order.item} has no BOM in Tryton: add one there, or "
                    "make it a buy item"
                )
                continue
            todo.append(order)
            values.append(
                {"reference": order.order, "bom": bom}
                | self._production_values(order, product, bom, _warehouse_of(order, warehouses))
            )
        for order, result in zip(todo, self._create_each("production", values), strict=True):
            out[order.index] = (
                f"{order.label}: {_REFUSED} it: {result}"
                if isinstance(result, str)
                else ("production", result)
            )
        return out

    def _production_values(
        self,
        order: _Planned,
        product: Mapping[str, Any],
        bom: int,
        warehouse: _Warehouse,
    ) -> dict[str, Any]:
        """Quantity, dates and moves of a production of ``order`` by ``bom``."""
        assert order.qty is not None and order.due is not None
        company, currency = self._company()
        inputs, outputs = self._bom_lines([bom])
        components, _ = explode_bom(
            inputs.get(bom, []),
            outputs.get(bom, []),
            product=int(product["id"]),
            quantity=self._qty(order, product),
            units=self._units(),
        )
        location = warehouse.production
        moves_in = [
            {
                "product": component,
                "unit": unit,
                "quantity": quantity,
                "from_location": warehouse.picking,
                "to_location": location,
                "company": company,
            }
            for component, unit, quantity in components
        ]
        # Goods coming out of production carry a unit price, as Tryton requires.
        move_out = {
            "product": product["id"],
            "unit": product["default_uom"],
            "quantity": self._qty(order, product),
            "from_location": location,
            "to_location": warehouse.output,
            "company": company,
            "unit_price": Decimal(0),
            "currency": currency,
        }
        return {
            "company": company,
            "warehouse": warehouse.id,
            "location": location,
            "product": product["id"],
            "unit": product["default_uom"],
            "quantity": self._qty(order, product),
            "planned_date": order.due,
            "planned_start_date": min(order.release or order.due, order.due),
            "inputs": [("create", moves_in)],
            "outputs": [("create", [move_out])],
        }

    def _update_planned(
        self,
        orders: Sequence[_Planned],
        products: Mapping[str, dict[str, Any]],
        warehouses: Mapping[str, _Warehouse],
    ) -> dict[int, tuple[str, int] | str]:
        """Write quantity and dates of drafts pushed before; a draft Tryton has moved on
        (quoted, started) or lost is reported, not changed."""
        out: dict[int, tuple[str, int] | str] = {}
        lines = self._by_ids(
            "purchase.line",
            [o.record[1] for o in orders if o.record and o.record[0] == "purchase.line"],
            ["product", "purchase_state", "purchase.number"],
        )
        productions = self._by_ids(
            "production",
            [o.record[1] for o in orders if o.record and o.record[0] == "production"],
            ["product", "state", "bom", "inputs", "outputs", "number"],
        )
        self._bom_lines(sorted({int(p["bom"]) for p in productions.values() if p.get("bom")}))
        line_writes: list[tuple[_Planned, dict[str, Any]]] = []
        production_writes: list[tuple[_Planned, dict[str, Any]]] = []
        for order in orders:
            assert order.record is not None and order.item is not None
            model, record_id = order.record
            rid = ref(model, record_id)
            product = products[order.item]
            record = (lines if model == "purchase.line" else productions).get(record_id)
            wanted = "purchase.line" if order.kind == "buy" else "production"
            if record is None:
                out[order.index] = (
                    f"{order.label}: {rid} no longer exists in Tryton: clear "
                    f"{id_column(self.connection)} and External Id of the row to push it as a "
                    "new order"
                )
            elif model != wanted or record.get("product") != product["id"]:
                out[order.index] = (
                    f"{order.label}: it was pushed as {rid}, which keeps its item and kind: "
                    f"cancel it in Tryton, then clear {id_column(self.connection)} and "
                    "External Id of the row to push it as a new order"
                )
            elif model == "purchase.line":
                if record.get("purchase_state") != "draft":
                    number = nested(record, "purchase.number") or rid
                    out[order.index] = (
                        f"{order.label}: purchase {number} is no longer a draft in Tryton "
                        f"({record.get('purchase_state')}): change it in Tryton"
                    )
                    continue
                line_writes.append(
                    (
                        order,
                        {
                            "quantity": self._qty(order, product),
                            "delivery_date_edit": True,
                            "delivery_date_store": order.due,
                        },
                    )
                )
            else:
                if record.get("state") not in _EDITABLE_PRODUCTIONS:
                    number = record.get("number") or rid
                    out[order.index] = (
                        f"{order.label}: production {number} is no longer a draft in Tryton "
                        f"({record.get('state')}): change it in Tryton"
                    )
                    continue
                bom = int(record.get("bom") or 0)
                values = self._production_values(
                    order, product, bom, _warehouse_of(order, warehouses)
                )
                production_writes.append(
                    (
                        order,
                        {
                            key: values[key]
                            for key in ("quantity", "planned_date", "planned_start_date")
                        }
                        | {
                            "inputs": [
                                ("delete", list(record.get("inputs") or [])),
                                *values["inputs"],
                            ],
                            "outputs": [
                                ("delete", list(record.get("outputs") or [])),
                                *values["outputs"],
                            ],
                        },
                    )
                )
        for model, writes in (("purchase.line", line_writes), ("production", production_writes)):
            results = self._write_each(
                model, [(o.record[1], v) for o, v in writes if o.record is not None]
            )
            for (order, _), problem in zip(writes, results, strict=True):
                assert order.record is not None
                out[order.index] = (
                    f"{order.label}: {_REFUSED} the change: {problem}" if problem else order.record
                )
        return out

    def _suppliers_of(
        self, orders: Sequence[_Planned], products: Mapping[str, dict[str, Any]]
    ) -> dict[int, int | str]:
        """The supplier party of each buy order: the book's (ItemSites, then Items), else
        the product's first supplier in Tryton; a message when there is none."""
        facts = self._facts
        codes: dict[int, str] = {}
        for order in orders:
            assert order.item is not None and order.site is not None
            code = facts.site_suppliers.get((order.item, order.site)) or facts.suppliers.get(
                order.item
            )
            if code:
                codes[order.index] = code
        parties = (
            {
                str(p["code"]): int(p["id"])
                for p in self._search_read(
                    "party.party", [("code", "in", sorted(set(codes.values())))], ["code"]
                )
            }
            if codes
            else {}
        )
        fallback = self._tryton_suppliers(
            [products[o.item]["template"] for o in orders if o.item and o.index not in codes]
        )
        out: dict[int, int | str] = {}
        for order in orders:
            assert order.item is not None
            code = codes.get(order.index)
            if code is not None:
                party = parties.get(code)
                out[order.index] = (
                    party
                    if party is not None
                    else f"supplier {code} (the Supplier of {order.item} in the book) is no "
                    "Tryton party code: correct it in Items (or ItemSites)"
                )
                continue
            found = fallback.get(int(products[order.item]["template"]))
            out[order.index] = (
                found
                if found is not None
                else f"the buy order for {order.item} has no supplier: fill Supplier in Items "
                "with a Tryton party code, or give the product a supplier in Tryton"
            )
        return out

    def _tryton_suppliers(self, templates: Sequence[int]) -> dict[int, int]:
        """The first supplier party of each product template (by sequence)."""
        if not templates:
            return {}
        records = self._search_read(
            "purchase.product_supplier",
            [("template", "in", sorted(set(templates))), ("product", "=", None)],
            ["template", "party", "sequence"],
        )
        out: dict[int, int] = {}
        for record in sorted(records, key=by_sequence):
            out.setdefault(int(record["template"]), int(record["party"]))
        return out

    def _first_addresses(self, parties: Iterable[int]) -> dict[int, int]:
        addresses = self._search_read(
            "party.address", [("party", "in", sorted(parties))], ["party", "sequence"]
        )
        out: dict[int, int] = {}
        for address in sorted(addresses, key=by_sequence):
            out.setdefault(int(address["party"]), int(address["id"]))
        return out

    def _first_boms(self, products: Sequence[Mapping[str, Any]]) -> dict[int, int]:
        """The BOM Tryton uses first for each product (its BOMs are read in order)."""
        first = [int(p["boms"][0]) for p in products if p.get("boms")]
        links = self._by_ids("product.product-production.bom", first, ["product", "bom"])
        return {int(link["product"]): int(link["bom"]) for link in links.values()}

    def _bom_lines(
        self, boms: Sequence[int]
    ) -> tuple[dict[int, list[dict[str, Any]]], dict[int, list[dict[str, Any]]]]:
        cache: dict[int, tuple[list[dict[str, Any]], list[dict[str, Any]]]]
        cache = self._cache.setdefault("bom_lines", {})
        missing = sorted(set(boms) - cache.keys())
        if missing:
            fields = ["bom", "product", "quantity", "unit"]
            inputs = self._by_field("production.bom.input", "bom", missing, fields)
            outputs = self._by_field("production.bom.output", "bom", missing, fields)
            for bom in missing:
                cache[bom] = (inputs.get(bom, []), outputs.get(bom, []))
        return (
            {b: cache[b][0] for b in boms if b in cache},
            {b: cache[b][1] for b in boms if b in cache},
        )

    # -- customers -----------------------------------------------------------------------

    def _send_customers(self, rows: Sequence[PushRow]) -> list[Sent]:
        """Names and tiers back to the parties (found by id, else by code); push never
        creates a party."""
        with_tier = self._tier_category is not None
        wanted: dict[int, tuple[str | None, str | None, float | None]] = {}
        for row in rows:
            wanted[row.index] = (
                _text(row.values.get("Customer")),
                _text(row.values.get("Name")),
                _number(row.values.get("Tier")) if with_tier else None,
            )
        by_code = {
            str(p["code"]): int(p["id"])
            for p in self._search_read(
                "party.party",
                [("code", "in", sorted({c for c, _, _ in wanted.values() if c}))],
                ["code"],
            )
        }
        targets: dict[int, int] = {}
        sent: dict[int, Sent] = {}
        for row in rows:
            code = wanted[row.index][0]
            parsed = parse_ref(row.record_id, ("party.party",))
            party_id = parsed[1] if parsed else by_code.get(code or "")
            if party_id is None:
                sent[row.index] = Sent(
                    row.index,
                    error=f"Customers {code}: no Tryton party has this code: create the "
                    "party in Tryton (push does not create parties), then pull",
                )
            else:
                targets[row.index] = party_id
        parties = self._by_ids("party.party", list(targets.values()), ["code", "categories"])
        tiers = self._tier_categories(
            {int(t) for _, _, t in wanted.values() if t is not None} if with_tier else set()
        )
        writes: list[tuple[int, int, dict[str, Any]]] = []
        for index, party_id in targets.items():
            code, name, tier = wanted[index]
            party = parties.get(party_id)
            if party is None:
                sent[index] = Sent(
                    index,
                    error=f"Customers {code}: party.party,{party_id} no longer exists in "
                    f"Tryton: clear {id_column(self.connection)} of the row and pull",
                )
                continue
            if code is not None and str(party.get("code")) != code:
                sent[index] = Sent(
                    index,
                    error=f"Customers {code}: the row stands for Tryton party "
                    f"{party.get('code')}; a party's code is changed in Tryton, not by push",
                )
                continue
            values: dict[str, Any] = {"name": name} if name else {}
            if tier is not None:
                others = [c for c in party.get("categories") or [] if c in tiers.values()]
                values["categories"] = [("remove", others), ("add", [tiers[int(tier)]])]
            writes.append((index, party_id, values))
        results = self._write_each("party.party", [(p, v) for _, p, v in writes if v])
        problems = iter(results)
        touched: dict[int, tuple[str, int]] = {}
        for index, party_id, values in writes:
            problem = next(problems) if values else None
            if problem:
                sent[index] = Sent(
                    index, error=f"Customers {wanted[index][0]}: {_REFUSED} it: {problem}"
                )
            else:
                touched[index] = ("party.party", party_id)
        stamps = self._stamps(touched.values())
        for index, (model, party_id) in touched.items():
            rid = ref(model, party_id)
            sent[index] = Sent(index, rid, rid, version=stamps.get(rid))
        return [sent[r.index] for r in rows if r.index in sent]

    def _tier_categories(self, tiers: set[int]) -> dict[int, int]:
        """The party category of each tier, created when Tryton has none yet."""
        if not tiers or self._tier_category is None:
            return {}
        found: dict[int, int] = {}
        for category_id, name in self._categories().items():
            tier = tier_of([name], self._tier_category)
            if tier is not None:
                found.setdefault(tier, category_id)
        missing = sorted(tiers - found.keys())
        if missing:
            created = self._rpc.create(
                "party.category", [{"name": f"{self._tier_category} {t}"} for t in missing]
            )
            found.update(zip(missing, created, strict=True))
            self._cache.pop("categories", None)
        return found

    # -- allocation results --------------------------------------------------------------

    def _send_status(self, rows: Sequence[PushRow]) -> list[Sent]:
        """Write what allocation confirmed into each Tryton sale line's note; rows of
        demand that did not come from this connection are skipped."""
        facts = self._facts
        targets: dict[int, tuple[int, str]] = {}
        for row in rows:
            line_id = facts.sale_lines.get(_text(row.values.get("Demand")) or "")
            parsed = parse_ref(row.record_id, ("sale.line",))
            if line_id is None and parsed is not None:
                line_id = parsed[1]
            note = self._note_for(row.values, run=facts.run)
            if line_id is not None and note is not None:
                targets[row.index] = (line_id, note)
        notes = self._by_ids("sale.line", [line for line, _ in targets.values()], ["note"])
        by_index = {row.index: row for row in rows}
        sent: dict[int, Sent] = {}
        writes: list[tuple[int, int, dict[str, Any]]] = []
        for index, (line_id, note) in targets.items():
            demand = _text(by_index[index].values.get("Demand"))
            record = notes.get(line_id)
            if record is None:
                sent[index] = Sent(
                    index,
                    error=f"DemandStatus {demand}: sale.line,{line_id} no longer exists in "
                    "Tryton: pull Demand, then allocate again",
                )
                continue
            writes.append((index, line_id, {"note": replace_note_line(record.get("note"), note)}))
        results = self._write_each("sale.line", [(line, v) for _, line, v in writes])
        for (index, line_id, _), problem in zip(writes, results, strict=True):
            values = by_index[index].values
            if problem:
                demand = _text(values.get("Demand"))
                sent[index] = Sent(
                    index, error=f"DemandStatus {demand}: {_REFUSED} the note: {problem}"
                )
            else:
                rid = ref("sale.line", line_id)
                sent[index] = Sent(index, rid, rid)
        return [sent[r.index] for r in rows if r.index in sent]

    def _note_for(self, values: Mapping[str, Any], *, run: dt.datetime | None) -> str | None:
        demand = _text(values.get("Demand"))
        allocated = _number(values.get("Allocated"))
        if demand is None or allocated is None:
            return None
        return allocation_note(
            allocated=allocated,
            quantity=_number(values.get("Qty")),
            first_ship=self._facts.first_ship.get(demand),
            run=run,
        )

    # == shared reads ====================================================================

    def _product_domain(self, prefix: str = "") -> list[Any]:
        domain: list[Any] = [(f"{prefix}type", "=", "goods"), (f"{prefix}code", "!=", None)]
        if self._products_like:
            domain.append((f"{prefix}code", "like", self._products_like))
        return domain

    def _products(self) -> dict[int, dict[str, Any]]:
        """Goods products with a code (within the ``products`` option), by id."""
        if "products" not in self._cache:
            records = self._search_read(
                "product.product",
                self._product_domain(),
                ["code", "name", "cost_price", "default_uom", "template", "boms"],
            )
            self._cache["products"] = {int(r["id"]): r for r in records if r.get("code")}
        products: dict[int, dict[str, Any]] = self._cache["products"]
        return products

    def _products_by_code(self, codes: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = sorted(set(codes))
        if not wanted:
            return {}
        records = self._search_read(
            "product.product",
            [("code", "in", wanted)],
            ["code", "default_uom", "cost_price", "template", "boms"],
        )
        return {str(r["code"]): r for r in records}

    def _qty(self, order: _Planned, product: Mapping[str, Any]) -> float:
        """The order's quantity as Tryton takes it: without the float noise of the plan
        (1.6000000000000014) and rounded up to the product unit's rounding, so an order
        never brings less than planned."""
        assert order.qty is not None
        unit = self._units().get(int(product["default_uom"]))
        qty = round(float(order.qty), 9)
        return ceil_to(qty, unit.rounding) if unit is not None else qty

    def _units(self) -> dict[int, Unit]:
        if "units" not in self._cache:
            records = self._search_read("product.uom", [], ["symbol", "factor", "rounding"])
            self._cache["units"] = {int(r["id"]): Unit.from_record(r) for r in records}
        units: dict[int, Unit] = self._cache["units"]
        return units

    def _warehouses(self) -> dict[int, _Warehouse]:
        if "warehouses" not in self._cache:
            records = self._search_read(
                "stock.location",
                [("type", "=", "warehouse")],
                [
                    "code",
                    "name",
                    "storage_location",
                    "production_location",
                    "production_picking_location",
                    "production_output_location",
                ],
            )
            self._cache["warehouses"] = {
                int(r["id"]): _Warehouse(
                    id=int(r["id"]),
                    site=site_name(r, self._sites),
                    storage=int(r["storage_location"]),
                    production=r.get("production_location"),
                    picking=int(r.get("production_picking_location") or r["storage_location"]),
                    output=int(r.get("production_output_location") or r["storage_location"]),
                )
                for r in records
            }
        warehouses: dict[int, _Warehouse] = self._cache["warehouses"]
        return warehouses

    def _warehouse_names(self) -> str:
        return ", ".join(sorted(w.site for w in self._warehouses().values())) or "none"

    def _categories(self) -> dict[int, str]:
        if "categories" not in self._cache:
            records = self._search_read("party.category", [], ["name"])
            self._cache["categories"] = {int(r["id"]): str(r.get("name") or "") for r in records}
        categories: dict[int, str] = self._cache["categories"]
        return categories

    def _company(self) -> tuple[int, int]:
        """The user's company and its currency."""
        if "company" not in self._cache:
            company = int(self._rpc.context["company"])
            (record,) = self._by_ids("company.company", [company], ["currency"]).values()
            self._cache["company"] = (company, int(record["currency"]))
        company_currency: tuple[int, int] = self._cache["company"]
        return company_currency

    def _stamps(self, records: Iterable[tuple[str, int]]) -> dict[str, str]:
        """The version mark of each record just written, one call per model."""
        by_model: dict[str, list[int]] = defaultdict(list)
        for model, record_id in records:
            by_model[model].append(record_id)
        out: dict[str, str] = {}
        for model, ids in by_model.items():
            for record in self._by_ids(model, ids, ["write_date", "create_date"]).values():
                out[ref(model, int(record["id"]))] = version_of(record)
        return out

    # == RPC helpers =====================================================================

    @property
    def _rpc(self) -> TrytonClient:
        """The client, logged in: a lazy login would send the first call without the
        user's context, and company-dependent fields (cost prices) would read empty."""
        if not self.client.logged_in:
            self.client.login()
        return self.client

    def _search_read(
        self,
        model: str,
        domain: Domain,
        fields: Sequence[str],
        *,
        context: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Every record matching ``domain``, a page of a thousand per call; ``context``
        (stock locations and dates) goes with each call."""
        if not context:
            return self._rpc.search_read(model, domain, fields)
        rows: list[dict[str, Any]] = []
        for offset in itertools.count(0, DEFAULT_READ_BATCH):
            page = self._rpc.call(
                f"model.{model}.search_read",
                list(domain),
                offset,
                DEFAULT_READ_BATCH,
                [["id", "ASC"]],
                list(fields),
                context=context,
            )
            rows.extend(page)
            if len(page) < DEFAULT_READ_BATCH:
                return rows
        raise AssertionError("unreachable")  # pragma: no cover - count() never ends

    def _by_ids(
        self, model: str, ids: Iterable[int], fields: Sequence[str]
    ) -> dict[int, dict[str, Any]]:
        """The records among ``ids`` that exist, by id (one call per thousand ids)."""
        return {int(r["id"]): r for r in self._by_field(model, "id", ids, fields, group=False)[0]}

    def _by_field(
        self,
        model: str,
        name: str,
        values: Iterable[int],
        fields: Sequence[str],
        *,
        group: bool = True,
    ) -> dict[int, list[dict[str, Any]]]:
        """Records whose ``name`` is among ``values``, grouped by that value (or all under
        0 with ``group=False``)."""
        wanted = sorted(set(values))
        out: dict[int, list[dict[str, Any]]] = defaultdict(list)
        step = DEFAULT_READ_BATCH - 1  # a chunk's answer then fits one page
        for start in range(0, len(wanted), step):
            chunk = wanted[start : start + step]
            for record in self._rpc.search_read(
                model, [(name, "in", chunk)], list(fields), batch=DEFAULT_READ_BATCH
            ):
                out[int(record[name]) if group else 0].append(record)
        return out

    def _create_each(self, model: str, values: Sequence[dict[str, Any]]) -> list[int | str]:
        """Create the records a chunk per call; when Tryton refuses a chunk, its records
        one by one, so a refusal names the record at fault. Each result is the new id or
        Tryton's reason."""
        out: list[int | str] = []
        for start in range(0, len(values), DEFAULT_WRITE_BATCH):
            chunk = values[start : start + DEFAULT_WRITE_BATCH]
            try:
                out.extend(self._rpc.create(model, chunk))
            except TrytonError as exc:
                if exc.failure not in _REFUSALS:
                    raise
                for one in chunk:
                    try:
                        out.extend(self._rpc.create(model, [one]))
                    except TrytonError as single:
                        if single.failure not in _REFUSALS:
                            raise
                        out.append(single.tryton_message or str(single))
        return out

    def _write_each(
        self, model: str, writes: Sequence[tuple[int, dict[str, Any]]]
    ) -> list[str | None]:
        """Write ``(id, values)`` pairs a chunk per call, one by one when Tryton refuses a
        chunk; each result is None or Tryton's reason."""
        out: list[str | None] = []
        for start in range(0, len(writes), DEFAULT_WRITE_BATCH):
            chunk = writes[start : start + DEFAULT_WRITE_BATCH]
            try:
                self._rpc.write(model, [([i], v) for i, v in chunk])
                out.extend([None] * len(chunk))
            except TrytonError as exc:
                if exc.failure not in _REFUSALS:
                    raise
                for record_id, values in chunk:
                    try:
                        self._rpc.write(model, [([record_id], values)])
                        out.append(None)
                    except TrytonError as single:
                        if single.failure not in _REFUSALS:
                            raise
                        out.append(single.tryton_message or str(single))
        return out


# --- reading the book -------------------------------------------------------------------


def read_book_facts(book: SyncBook, connection: str) -> BookFacts:
    """What push needs from the book besides the table it sends."""
    id_col = id_column(connection)
    facts = BookFacts(read=True)
    for row in _table_rows(book.find_table(ITEMS.name), ("Item", "Supplier")):
        item, supplier = _text(row["Item"]), _text(row["Supplier"])
        if item and supplier:
            facts.suppliers[item] = supplier
    for row in _table_rows(book.find_table("ItemSites"), ("Item", "Site", "Supplier")):
        item, site, supplier = _text(row["Item"]), _text(row["Site"]), _text(row["Supplier"])
        if item and site and supplier:
            facts.site_suppliers[(item, site)] = supplier
    for row in _table_rows(book.find_table(DEMAND.name), ("Demand", id_col)):
        demand = _text(row["Demand"])
        parsed = parse_ref(row[id_col], ("sale.line",))
        if demand and parsed:
            facts.sale_lines[demand] = parsed[1]
    for row in _table_rows(book.find_table(ALLOCATION.name), ("Demand", "Ship", "Qty")):
        demand, ship, qty = _text(row["Demand"]), row["Ship"], _number(row["Qty"])
        when = _date(ship) or _text(ship)
        if demand is None or when is None or not qty or qty <= 0:
            continue
        earlier = facts.first_ship.get(demand)
        if earlier is None or _sort_key(when) < _sort_key(earlier):
            facts.first_ship[demand] = when
    for row in _table_rows(book.find_table(RUN_LOG.name), ("Time", "Command")):
        when = row["Time"]
        if _text(row["Command"]) == "allocate" and isinstance(when, dt.datetime):
            facts.run = when if facts.run is None else max(facts.run, when)
    for row in _table_rows(book.find_table(RECEIPTS.name), ("External Id", id_col)):
        facts.known |= {t for t in (_text(row["External Id"]), _text(row[id_col])) if t}
    planned = book.find_table(PLANNED_ORDERS.name)
    for index, row in enumerate(_table_rows(planned, (EXTERNAL_ID, id_col))):
        external, rid = _text(row[EXTERNAL_ID]), _text(row[id_col])
        facts.known |= {t for t in (external, rid) if t}
        if external:
            facts.pushed[index] = external
        elif rid:
            facts.stale.add(rid)
    facts.stale -= set(facts.pushed.values())
    return facts


def _table_rows(raw: RawTable | None, columns: Sequence[str]) -> list[dict[str, Any]]:
    """The raw rows of a table as dicts of ``columns`` (None where a column is missing),
    one per row of the table, empty ones included, so positions match the table's."""
    if raw is None:
        return []
    index: dict[str, int] = {}
    for position, header in enumerate(raw.headers):
        index.setdefault(header_key(header), position)
    where = {c: index.get(header_key(c)) for c in columns}
    return [
        {c: (row[p] if p is not None and p < len(row) else None) for c, p in where.items()}
        for row in raw.rows
    ]


# --- small helpers ----------------------------------------------------------------------


def _timeout_option(connection: Connection) -> float:
    text = connection.option("timeout")
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise UsageError(
            f"Connections ({connection.name}): timeout must be a number of seconds above 0 "
            f"(found {text!r})"
        )
    return value


def _text(value: Any) -> str | None:
    normal = normalise(value, _CODE)
    return None if normal is None else str(normal)


def _date(value: Any) -> dt.date | None:
    normal = normalise(value, _DATE)
    return normal if isinstance(normal, dt.date) else None


def _number(value: Any) -> float | None:
    normal = normalise(value, _NUMBER)
    return normal if isinstance(normal, float) else None


def _sort_key(value: dt.date | str) -> tuple[int, str]:
    return (0, value.isoformat()) if isinstance(value, dt.date) else (1, value)


def _warehouse_of(order: _Planned, warehouses: Mapping[str, _Warehouse]) -> _Warehouse:
    assert order.site is not None
    return warehouses[order.site.casefold()]


def _with_record(order: _Planned, record: tuple[str, int]) -> _Planned:
    return _Planned(
        index=order.index,
        order=order.order,
        item=order.item,
        site=order.site,
        kind=order.kind,
        release=order.release,
        due=order.due,
        qty=order.qty,
        record=record,
    )


def _planned_problem(
    order: _Planned,
    products: Mapping[str, Mapping[str, Any]],
    warehouses: Mapping[str, _Warehouse],
    known_sites: str,
) -> str | None:
    """Why a planned order cannot go to Tryton as it is, or None."""
    if order.kind not in ("make", "buy"):
        return f"Kind must be make or buy (found {order.kind or 'nothing'})"
    if order.item is None or order.item not in products:
        return (
            f"item {order.item or '(blank)'} is no Tryton product code: pull Items from "
            "Tryton, or create the product there"
        )
    if order.site is None or order.site.casefold() not in warehouses:
        return (
            f"site {order.site or '(blank)'} is no Tryton warehouse (Tryton has: {known_sites}): "
            "use a warehouse code, or map it with the sites option of the connection"
        )
    if order.due is None:
        return "Due must be a date (Tryton plans in calendar dates, not periods)"
    if order.qty is None or order.qty <= 0:
        return "Qty must be a number above 0"
    return None
