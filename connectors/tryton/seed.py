"""Put a company described by a planning book's tables into Tryton: the other way round of
``pull``, used by ``sheetloop demo --erp``, the benchmarks and the tests.

``seed_company`` writes what pull reads back, with the same conventions (see
:mod:`.mapping`):

- ``Items`` become goods products (``Item`` = code, ``Description`` = name, cost price,
  a list price); a buy item gets a product supplier (the party whose code is ``Supplier``)
  with ``Lead Time`` days; a make item gets its ``BOM`` as a Tryton BOM and ``Lead Time``
  days as its production lead time;
- ``Customers`` and every supplier become parties with an address; a customer's ``Tier``
  becomes a party category ``Tier N``;
- ``Inventory`` becomes done moves into each warehouse's storage zone, dated today;
- ``Receipts`` of kind PO become confirmed purchases (one per order, supplier and site, a
  line per row, ``Due`` as the line's delivery date); kind WO draft productions of the
  item's BOM, referenced by ``Order``;
- ``Demand`` orders become confirmed sales, one per row, referenced by ``Demand`` and
  shipping on ``Due``.

Every model is created with one call per chunk of records (documents with their lines in
the same call), and workflow buttons are pressed once for all documents: seeding the demo
company takes a few dozen round trips, not one per row.

What does not come back from pull as it went in: ``UoM`` comes back as Tryton's symbol
(``EA`` is Tryton's unit ``u``), purchase orders and demand get Tryton's numbers
(``NUMBER/LINE``), demand without a site is sold from the first site, an order due
before today comes back due today (Tryton ships what is late today), and columns pull
does not map (lot rules, safety stock, scrap, ``Allocated``, ``ItemSites``' lead times)
stay in the book. Forecast demand and transfer receipts (kind TO) have no open Tryton
document pull reads, so they are skipped and counted in the summary.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd

from sheetloop.connectors.tryton.mapping import ceil_to
from sheetloop.connectors.tryton.rpc import TrytonClient
from sheetloop.errors import UsageError

__all__ = ["LIST_PRICE_MARKUP", "UNIT_ALIASES", "SeedSummary", "seed_company"]

#: Book units that are another name of a Tryton unit's symbol.
UNIT_ALIASES: Mapping[str, str] = {
    "EA": "u",
    "EACH": "u",
    "PC": "u",
    "PCS": "u",
    "UNIT": "u",
    "UNITS": "u",
    "KGS": "kg",
}
#: A product's list price is its unit cost times this (the book has no sale prices).
LIST_PRICE_MARKUP = Decimal("1.6")
#: Product suppliers named by ``ItemSites`` come after the item's own supplier.
_SITE_SUPPLIER_SEQUENCE = 20
_OWN_SUPPLIER_SEQUENCE = 10
_PRICE_DIGITS = Decimal("0.0001")
# Tryton checks unique product codes on SQLite with one nested OR per product of a call:
# about 85 products in one create overflow SQLite's parser stack (PostgreSQL has no limit).
_PRODUCT_BATCH = 50
_TIER_CATEGORY = "Tier"


@dataclass(frozen=True)
class SeedSummary:
    """What ``seed_company`` created in Tryton, and what it left out."""

    items: int
    made: int
    bom_lines: int
    suppliers: int
    customers: int
    stock_rows: int
    purchases: int
    purchase_lines: int
    productions: int
    sales: int
    warehouses_created: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    calls: int = 0
    products: Mapping[str, int] = field(default_factory=dict)  # item code -> product id

    def lines(self) -> list[str]:
        """The summary as lines to print."""
        out = [
            f"seeded {self.items} products ({self.made} made by BOMs of {self.bom_lines} "
            f"lines in all), {self.suppliers} suppliers, {self.customers} customers",
            f"seeded stock of {self.stock_rows} item-sites, {self.purchases} confirmed "
            f"purchases ({self.purchase_lines} lines), {self.productions} draft productions, "
            f"{self.sales} confirmed sales ({self.calls} calls to Tryton)",
        ]
        if self.warehouses_created:
            out.append(f"created warehouses {', '.join(self.warehouses_created)}")
        out += [f"not seeded: {reason}" for reason in self.skipped]
        return out


# --- the book's rows, as the seed reads them -------------------------------------------------


@dataclass(frozen=True)
class _Item:
    code: str
    name: str
    make: bool
    uom: str
    supplier: str | None
    lead_days: int | None
    cost: Decimal


@dataclass(frozen=True)
class _BomLine:
    parent: str
    component: str
    qty_per: float


@dataclass(frozen=True)
class _Dated:
    """A receipt or a demand row: ``ref`` is its Order or Demand."""

    ref: str
    item: str
    site: str | None
    due: dt.date
    qty: float
    kind: str
    customer: str | None = None


@dataclass(frozen=True)
class _Warehouse:
    id: int
    storage: int
    production: int
    picking: int
    output: int


@dataclass
class _Context:
    """The ids every document needs, read once."""

    company: int
    currency: int
    units: dict[str, tuple[int, float]]  # Tryton symbol (casefolded) -> id, rounding
    warehouses: dict[str, _Warehouse]  # book site -> warehouse
    default_site: str
    lost_found: int
    missing: dict[str, str]  # book site -> warehouse code Tryton lacks
    model_warehouse: Mapping[str, Any]  # Tryton's first warehouse
    known_codes: tuple[str, ...]  # Tryton's warehouse codes


def seed_company(
    client: TrytonClient,
    tables: Mapping[str, pd.DataFrame],
    *,
    today: dt.date,
    code_prefix: str = "",
    sites: Mapping[str, str] | None = None,
    create_sites: bool = False,
) -> SeedSummary:
    """Create the company that ``tables`` describe (Items, BOM, ItemSites, Inventory,
    Receipts, Demand, Customers: contract tables, as ``demo_company`` returns them) in the
    Tryton database of ``client``, whose user works for the company to fill.

    ``today`` dates the stock on hand and bounds sale and purchase dates (a document due
    earlier is dated on its due date). ``code_prefix`` goes before every product and party
    code and every document reference, so that several companies can share a database.
    ``sites`` maps the book's sites to Tryton warehouse codes (default: the same code); a
    site without a warehouse is created when ``create_sites``, else a ``UsageError``. A
    database that already holds one of the product or party codes is refused before
    anything is written.
    """
    calls_before = client.calls
    items = _items(tables.get("Items"), _bom_parents(tables.get("BOM")))
    if not items:
        raise UsageError("seed_company: the Items table is missing or empty: nothing to seed")
    by_code = {i.code: i for i in items}
    bom = _bom(tables.get("BOM"), by_code)
    site_suppliers = _site_suppliers(tables.get("ItemSites"), by_code)
    stock = _stock(tables.get("Inventory"), by_code)
    receipts = _dated(tables.get("Receipts"), "Order", by_code, kind_default="PO")
    demand = _dated(tables.get("Demand"), "Demand", by_code, kind_default="order")
    customers = _customers(tables.get("Customers"))

    skipped: list[str] = []
    transfers = [r for r in receipts if r.kind.upper() not in ("PO", "WO")]
    if transfers:
        skipped.append(
            f"{len(transfers)} receipt(s) of kind {', '.join(sorted({r.kind for r in transfers}))} "
            "(Tryton's transfers are internal shipments, which pull does not read)"
        )
    forecast = [d for d in demand if d.kind.casefold() != "order"]
    if forecast:
        skipped.append(
            f"{len(forecast)} forecast row(s) of Demand (Tryton's sales hold orders only)"
        )
    anonymous = [d for d in demand if d.kind.casefold() == "order" and not d.customer]
    if anonymous:
        skipped.append(f"{len(anonymous)} order(s) of Demand without a Customer")
    purchases = [r for r in receipts if r.kind.upper() == "PO"]
    productions = [r for r in receipts if r.kind.upper() == "WO"]
    orders = [d for d in demand if d.kind.casefold() == "order" and d.customer]

    supplier_codes = sorted(
        {i.supplier for i in items if i.supplier}
        | {s for s, _ in site_suppliers.values()}
        | set(_purchase_suppliers(purchases, by_code, site_suppliers).values())
    )
    customer_codes = {c for c in customers} | {d.customer for d in orders if d.customer}
    prefix = code_prefix
    used_sites = {r.site for r in [*stock, *purchases, *productions, *orders] if r.site}
    # Every check comes before the first write: a refused seed leaves Tryton as it was.
    context = _read_context(client, used_sites, sites or {})
    _check_sites(client, context, create_sites)
    _check_units(context, items)
    _check_productions(productions, by_code)
    _refuse_existing(
        client,
        [prefix + i.code for i in items],
        [prefix + c for c in sorted(set(supplier_codes) | customer_codes)],
    )

    created_sites = _create_warehouses(client, context)

    products = _create_products(client, context, items, prefix)
    parties = _create_parties(client, supplier_codes, customers, customer_codes, prefix)
    _create_product_suppliers(client, context, items, site_suppliers, products, parties)
    boms = _create_boms(client, context, items, bom, products, by_code, prefix)
    _put_on_hand(client, context, stock, products, by_code, today)
    purchase_count, line_count = _create_purchases(
        client, context, purchases, products, parties, by_code, site_suppliers, today, prefix
    )
    _create_productions(client, context, productions, products, boms, bom, by_code, prefix)
    _create_sales(client, context, orders, products, parties, by_code, today, prefix)

    return SeedSummary(
        items=len(items),
        made=sum(1 for i in items if i.make),
        bom_lines=len(bom),
        suppliers=len(supplier_codes),
        customers=len(customer_codes),
        stock_rows=len(stock),
        purchases=purchase_count,
        purchase_lines=line_count,
        productions=len(productions),
        sales=len(orders),
        warehouses_created=tuple(created_sites),
        skipped=tuple(skipped),
        calls=client.calls - calls_before,
        products={i.code: products[i.code][0] for i in items},
    )


# --- reading the tables ------------------------------------------------------------------


def _bom_parents(frame: pd.DataFrame | None) -> set[str]:
    rows = _rows(frame, "BOM", ("Parent",))
    return {p for p in (_text(r.get("Parent")) for r in rows) if p}


def _items(frame: pd.DataFrame | None, bom_parents: set[str]) -> list[_Item]:
    rows = _rows(frame, "Items", ("Item",))
    out = []
    for row in rows:
        code = _text(row.get("Item"))
        if code is None:
            continue
        kind = (_text(row.get("Type")) or "").casefold()
        cost = _number(row.get("Unit Cost")) or 0.0
        lead = _number(row.get("Lead Time"))
        out.append(
            _Item(
                code=code,
                name=_text(row.get("Description")) or code,
                make=kind == "make" or (not kind and code in bom_parents),
                uom=_text(row.get("UoM")) or "EA",
                supplier=_text(row.get("Supplier")),
                # Tryton keeps lead times as timedeltas; the book's are calendar days.
                lead_days=math.ceil(lead) if lead is not None else None,
                cost=Decimal(str(cost)).quantize(_PRICE_DIGITS),
            )
        )
    return out


def _bom(frame: pd.DataFrame | None, items: Mapping[str, _Item]) -> list[_BomLine]:
    out = []
    for row in _rows(frame, "BOM", ("Parent", "Component", "Qty Per")):
        parent, component = _text(row.get("Parent")), _text(row.get("Component"))
        qty = _number(row.get("Qty Per"))
        if parent is None or component is None or qty is None:
            continue
        for code in (parent, component):
            if code not in items:
                raise UsageError(f"seed_company: BOM names {code}, which is not in Items")
        out.append(_BomLine(parent, component, qty))
    makes_without_bom = {i.code for i in items.values() if i.make} - {b.parent for b in out}
    if makes_without_bom:
        raise UsageError(
            "seed_company: make items need BOM lines (Tryton makes a product from its BOM): "
            + ", ".join(sorted(makes_without_bom))
        )
    return out


def _site_suppliers(
    frame: pd.DataFrame | None, items: Mapping[str, _Item]
) -> dict[tuple[str, str], tuple[str, int | None]]:
    """(item, site) -> (supplier, lead days) of ItemSites rows that name a supplier."""
    out: dict[tuple[str, str], tuple[str, int | None]] = {}
    if frame is None or "Supplier" not in frame.columns:
        return out
    for row in _rows(frame, "ItemSites", ("Item", "Site")):
        item, site = _text(row.get("Item")), _text(row.get("Site"))
        supplier = _text(row.get("Supplier"))
        if item is not None and item in items and site and supplier:
            lead = _number(row.get("Lead Time"))
            out[(item, site)] = (supplier, math.ceil(lead) if lead is not None else None)
    return out


def _stock(frame: pd.DataFrame | None, items: Mapping[str, _Item]) -> list[_Dated]:
    out = []
    for row in _rows(frame, "Inventory", ("Item", "Site", "On Hand")):
        item, site, qty = (
            _text(row.get("Item")),
            _text(row.get("Site")),
            _number(row.get("On Hand")),
        )
        if item is None or site is None or not qty or qty <= 0:
            continue
        _known(item, items, "Inventory")
        out.append(_Dated(ref="", item=item, site=site, due=dt.date.min, qty=qty, kind="stock"))
    return out


def _dated(
    frame: pd.DataFrame | None,
    key: str,
    items: Mapping[str, _Item],
    *,
    kind_default: str,
) -> list[_Dated]:
    table = "Receipts" if key == "Order" else "Demand"
    out = []
    for row in _rows(frame, table, (key, "Item", "Due", "Qty")):
        ref, item = _text(row.get(key)), _text(row.get("Item"))
        due, qty = _date(row.get("Due")), _number(row.get("Qty"))
        if ref is None or item is None or due is None or qty is None or qty <= 0:
            continue
        _known(item, items, table)
        out.append(
            _Dated(
                ref=ref,
                item=item,
                site=_text(row.get("Site")),
                due=due,
                qty=qty,
                kind=_text(row.get("Kind")) or kind_default,
                customer=_text(row.get("Customer")),
            )
        )
    return out


def _customers(frame: pd.DataFrame | None) -> dict[str, tuple[str, int | None]]:
    """Customer code -> (name, tier)."""
    out: dict[str, tuple[str, int | None]] = {}
    for row in _rows(frame, "Customers", ("Customer",)):
        code = _text(row.get("Customer"))
        if code is None:
            continue
        tier = _number(row.get("Tier"))
        out[code] = (_text(row.get("Name")) or code, int(tier) if tier is not None else None)
    return out


def _rows(frame: pd.DataFrame | None, table: str, required: Sequence[str]) -> list[dict[str, Any]]:
    if frame is None or frame.empty:
        return []
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise UsageError(f"seed_company: {table} lacks the columns {', '.join(missing)}")
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _known(item: str, items: Mapping[str, _Item], table: str) -> None:
    if item not in items:
        raise UsageError(f"seed_company: {table} names item {item}, which is not in Items")


def _text(value: object) -> str | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _number(value: object) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _date(value: object) -> dt.date | None:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return pd.Timestamp(value).date()  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


# --- what Tryton has ---------------------------------------------------------------------


def _refuse_existing(client: TrytonClient, products: list[str], parties: list[str]) -> None:
    taken = [
        str(r["code"])
        for model, codes in (("product.product", products), ("party.party", parties))
        if codes
        for r in client.search_read(model, [("code", "in", codes)], ["code"])
    ]
    if taken:
        shown = ", ".join(sorted(taken)[:5]) + (" ..." if len(taken) > 5 else "")
        raise UsageError(
            f"Tryton at {client.url} (database {client.database}) already holds "
            f"{len(taken)} of the codes to seed ({shown}): seed into a fresh database, or "
            "give another code prefix"
        )


def _read_context(client: TrytonClient, used_sites: set[str], sites: Mapping[str, str]) -> _Context:
    """The company, units and warehouses; book sites without a warehouse are listed in
    ``missing`` (nothing is written here)."""
    if not client.logged_in:
        client.login()
    company = client.context.get("company")
    if not company:
        raise UsageError(
            f"the Tryton user {client.user} at {client.url} works for no company: set the "
            "user's company in Tryton, then seed again"
        )
    (record,) = client.read("company.company", [int(company)], ["currency"])
    units = {
        str(u["symbol"]).casefold(): (int(u["id"]), float(u.get("rounding") or 0.0))
        for u in client.search_read("product.uom", [], ["symbol", "rounding"])
    }
    fields = [
        "code",
        "name",
        "storage_location",
        "production_location",
        "production_picking_location",
        "production_output_location",
        "lost_found_location",
    ]
    found = client.search_read("stock.location", [("type", "=", "warehouse")], fields)
    if not found:
        raise UsageError(f"Tryton at {client.url} has no warehouse: create one, then seed again")
    (lost_found,) = client.search("stock.location", [("type", "=", "lost_found")], limit=1)
    by_code = {str(w.get("code") or w.get("name")): w for w in found}
    wanted = {site: sites.get(site, site) for site in sorted(used_sites | set(sites))}
    first = min(found, key=lambda w: int(w["id"]))
    default = _default_site(first, wanted, sites)
    wanted.setdefault(default, default)
    return _Context(
        company=int(company),
        currency=int(record["currency"]),
        units=units,
        warehouses={s: _warehouse(by_code[c]) for s, c in wanted.items() if c in by_code},
        default_site=default,
        lost_found=int(lost_found),
        missing={s: c for s, c in wanted.items() if c not in by_code},
        model_warehouse=first,
        known_codes=tuple(sorted(by_code)),
    )


def _check_sites(client: TrytonClient, context: _Context, create: bool) -> None:
    if context.missing and not create:
        raise UsageError(
            f"Tryton at {client.url} has no warehouse for the sites "
            f"{', '.join(context.missing)} (it has {', '.join(context.known_codes)}): map "
            "them to warehouse codes with sites, or let the seed create them"
        )


def _check_productions(productions: Iterable[_Dated], items: Mapping[str, _Item]) -> None:
    for row in productions:
        if not items[row.item].make:
            raise UsageError(
                f"seed_company: Receipts {row.ref} is a work order for {row.item}, a buy "
                "item: make it a make item with a BOM, or the receipt a PO"
            )


def _check_units(context: _Context, items: Iterable[_Item]) -> None:
    for item in items:
        _unit(context, item)


def _default_site(
    first: Mapping[str, Any], wanted: Mapping[str, str], sites: Mapping[str, str]
) -> str:
    """Where demand without a site is sold from: the first site ``sites`` names, else the
    site of Tryton's first warehouse."""
    if sites:
        return next(iter(sites))
    code = str(first.get("code") or first.get("name"))
    return next((site for site, c in wanted.items() if c == code), code)


def _create_warehouses(client: TrytonClient, context: _Context) -> list[str]:
    """Warehouses for the missing sites, like Tryton's first one (sharing its production
    location): their zones first, parentless, then the warehouses, which Tryton makes the
    zones' parent. Returns the codes created."""
    missing = context.missing
    if not missing:
        return []
    model = context.model_warehouse
    codes = list(missing.values())
    zones = client.create(
        "stock.location",
        [
            {"name": f"{code} {zone}", "code": f"{code}-{short}", "type": "storage"}
            for code in codes
            for zone, short in (("Input", "IN"), ("Output", "OUT"), ("Storage", "STO"))
        ],
    )
    values = [
        {
            "name": code,
            "code": code,
            "type": "warehouse",
            "input_location": zones[3 * n],
            "output_location": zones[3 * n + 1],
            "storage_location": zones[3 * n + 2],
            "production_location": model["production_location"],
            "lost_found_location": model.get("lost_found_location"),
        }
        for n, code in enumerate(codes)
    ]
    ids = client.create("stock.location", values)
    for site, warehouse, created in zip(missing, ids, values, strict=True):
        context.warehouses[site] = _warehouse(created | {"id": warehouse})
    context.missing = {}
    return codes


def _warehouse(record: Mapping[str, Any]) -> _Warehouse:
    storage = int(record["storage_location"])
    return _Warehouse(
        id=int(record["id"]),
        storage=storage,
        production=int(record["production_location"]),
        picking=int(record.get("production_picking_location") or storage),
        output=int(record.get("production_output_location") or storage),
    )


def _unit(context: _Context, item: _Item) -> tuple[int, float]:
    symbol = UNIT_ALIASES.get(item.uom.upper(), item.uom).casefold()
    found = context.units.get(symbol)
    if found is None:
        raise UsageError(
            f"seed_company: Items {item.code} has UoM {item.uom}, which Tryton does not know "
            f"(its units: {', '.join(sorted(context.units))}): use one of those"
        )
    return found


def _site(context: _Context, site: str | None) -> _Warehouse:
    return context.warehouses[site or context.default_site]


# --- creating records --------------------------------------------------------------------


def _create_products(
    client: TrytonClient, context: _Context, items: Sequence[_Item], prefix: str
) -> dict[str, tuple[int, int]]:
    """Item code -> (product id, template id)."""
    templates = []
    for item in items:
        unit, _ = _unit(context, item)
        templates.append(
            {
                "name": item.name,
                "code": prefix + item.code,
                "type": "goods",
                "default_uom": unit,
                "sale_uom": unit,
                "purchase_uom": unit,
                "salable": True,
                "purchasable": not item.make,
                "producible": item.make,
                "list_price": (item.cost * LIST_PRICE_MARKUP).quantize(_PRICE_DIGITS),
                # No sale lead time: a sale ships on the date the customer asked for.
                "lead_time": dt.timedelta(0),
                "products": [("create", [{"cost_price": item.cost}])],
            }
        )
    template_ids = client.create("product.template", templates, batch=_PRODUCT_BATCH)
    variants = {
        int(r["template"]): int(r["id"])
        for r in client.search_read(
            "product.product", [("template", "in", template_ids)], ["template"]
        )
    }
    return {
        item.code: (variants[template], template)
        for item, template in zip(items, template_ids, strict=True)
    }


def _create_parties(
    client: TrytonClient,
    suppliers: Sequence[str],
    customers: Mapping[str, tuple[str, int | None]],
    customer_codes: Iterable[str],
    prefix: str,
) -> dict[str, tuple[int, int]]:
    """Party code -> (party id, address id)."""
    tiers = sorted({t for _, t in customers.values() if t is not None})
    categories = _tier_categories(client, tiers)
    codes = sorted(set(suppliers) | set(customer_codes))
    values = []
    for code in codes:
        name, tier = customers.get(code, (code, None))
        party: dict[str, Any] = {
            "code": prefix + code,
            "name": name,
            "addresses": [("create", [{"street": "1 Main Street"}])],
        }
        if tier is not None:
            party["categories"] = [("add", [categories[tier]])]
        values.append(party)
    ids = client.create("party.party", values)
    addresses: dict[int, int] = {}
    for address in client.search_read(
        "party.address", [("party", "in", ids)], ["party"], order=[("id", "DESC")]
    ):
        addresses[int(address["party"])] = int(address["id"])
    return {code: (pid, addresses[pid]) for code, pid in zip(codes, ids, strict=True)}


def _tier_categories(client: TrytonClient, tiers: Sequence[int]) -> dict[int, int]:
    """The party category of each tier, created when Tryton has none yet."""
    if not tiers:
        return {}
    names = {f"{_TIER_CATEGORY} {t}": t for t in tiers}
    found: dict[int, int] = {}
    for record in client.search_read(
        "party.category", [("name", "in", list(names))], ["name"], order=[("id", "ASC")]
    ):
        found.setdefault(names[str(record["name"])], int(record["id"]))
    missing = [t for t in tiers if t not in found]
    if missing:
        created = client.create(
            "party.category", [{"name": f"{_TIER_CATEGORY} {t}"} for t in missing]
        )
        found.update(zip(missing, created, strict=True))
    return found


def _create_product_suppliers(
    client: TrytonClient,
    context: _Context,
    items: Sequence[_Item],
    site_suppliers: Mapping[tuple[str, str], tuple[str, int | None]],
    products: Mapping[str, tuple[int, int]],
    parties: Mapping[str, tuple[int, int]],
) -> None:
    values = []
    for item in items:
        if item.make:
            continue
        links = [(item.supplier, item.lead_days, _OWN_SUPPLIER_SEQUENCE)] if item.supplier else []
        links += [
            (supplier, lead if lead is not None else item.lead_days, _SITE_SUPPLIER_SEQUENCE)
            for (code, _), (supplier, lead) in sorted(site_suppliers.items())
            if code == item.code and supplier != item.supplier
        ]
        for supplier, lead, sequence in links:
            assert supplier is not None
            values.append(
                {
                    "template": products[item.code][1],
                    "party": parties[supplier][0],
                    "lead_time": dt.timedelta(days=lead) if lead is not None else None,
                    "sequence": sequence,
                    "company": context.company,
                    "currency": context.currency,
                }
            )
    if values:
        client.create("purchase.product_supplier", values)


def _create_boms(
    client: TrytonClient,
    context: _Context,
    items: Sequence[_Item],
    bom: Sequence[_BomLine],
    products: Mapping[str, tuple[int, int]],
    by_code: Mapping[str, _Item],
    prefix: str,
) -> dict[str, int]:
    """Item code -> BOM id; each make item's BOM makes one unit of it."""
    made = [i for i in items if i.make]
    if not made:
        return {}
    values = []
    for item in made:
        inputs = [
            {
                "product": products[line.component][0],
                "quantity": line.qty_per,
                "unit": _unit(context, by_code[line.component])[0],
            }
            for line in bom
            if line.parent == item.code
        ]
        output = {
            "product": products[item.code][0],
            "quantity": 1.0,
            "unit": _unit(context, item)[0],
        }
        values.append(
            {
                "name": prefix + item.code,
                "inputs": [("create", inputs)],
                "outputs": [("create", [output])],
            }
        )
    ids = client.create("production.bom", values)
    client.create(
        "product.product-production.bom",
        [{"product": products[i.code][0], "bom": b} for i, b in zip(made, ids, strict=True)],
    )
    leads = [
        {"product": products[i.code][0], "lead_time": dt.timedelta(days=i.lead_days)}
        for i in made
        if i.lead_days is not None
    ]
    if leads:
        client.create("production.lead_time", leads)
    return {i.code: b for i, b in zip(made, ids, strict=True)}


def _put_on_hand(
    client: TrytonClient,
    context: _Context,
    stock: Sequence[_Dated],
    products: Mapping[str, tuple[int, int]],
    by_code: Mapping[str, _Item],
    today: dt.date,
) -> None:
    """Stock found in each warehouse today: done moves from lost and found."""
    if not stock:
        return
    moves = client.create(
        "stock.move",
        [
            {
                "product": products[row.item][0],
                "unit": _unit(context, by_code[row.item])[0],
                "quantity": row.qty,
                "from_location": context.lost_found,
                "to_location": _site(context, row.site).storage,
                "planned_date": today,
                "effective_date": today,
                "company": context.company,
            }
            for row in stock
        ],
    )
    client.button("stock.move", "do", moves)


def _purchase_suppliers(
    purchases: Sequence[_Dated],
    items: Mapping[str, _Item],
    site_suppliers: Mapping[tuple[str, str], tuple[str, int | None]],
) -> dict[int, str]:
    """Position in ``purchases`` -> supplier code (ItemSites' for the site, else Items')."""
    out: dict[int, str] = {}
    for n, row in enumerate(purchases):
        supplier = site_suppliers.get((row.item, row.site or ""), (None, None))[0]
        supplier = supplier or items[row.item].supplier
        if supplier is None:
            raise UsageError(
                f"seed_company: Receipts {row.ref} buys {row.item}, which has no Supplier in "
                "Items: fill it in"
            )
        out[n] = supplier
    return out


def _create_purchases(
    client: TrytonClient,
    context: _Context,
    purchases: Sequence[_Dated],
    products: Mapping[str, tuple[int, int]],
    parties: Mapping[str, tuple[int, int]],
    by_code: Mapping[str, _Item],
    site_suppliers: Mapping[tuple[str, str], tuple[str, int | None]],
    today: dt.date,
    prefix: str,
) -> tuple[int, int]:
    """Confirmed purchases, one per order, supplier and site; returns (purchases, lines)."""
    if not purchases:
        return 0, 0
    suppliers = _purchase_suppliers(purchases, by_code, site_suppliers)
    groups: dict[tuple[str, str, str], list[_Dated]] = defaultdict(list)
    for n, row in enumerate(purchases):
        groups[(row.ref, suppliers[n], row.site or context.default_site)].append(row)
    values = []
    for (ref, supplier, site), rows in groups.items():
        party, address = parties[supplier]
        values.append(
            {
                "company": context.company,
                "currency": context.currency,
                "warehouse": _site(context, site).id,
                "party": party,
                "invoice_address": address,
                "purchase_date": min(today, *(r.due for r in rows)),
                "reference": prefix + ref,
                # Invoiced by hand: a demo company has no accounts to invoice on order.
                "invoice_method": "manual",
                "lines": [
                    (
                        "create",
                        [
                            {
                                "product": products[r.item][0],
                                "quantity": r.qty,
                                "unit": _unit(context, by_code[r.item])[0],
                                "unit_price": by_code[r.item].cost,
                                "delivery_date_edit": True,
                                "delivery_date_store": r.due,
                            }
                            for r in rows
                        ],
                    )
                ],
            }
        )
    ids = client.create("purchase.purchase", values)
    client.button("purchase.purchase", "quote", ids)
    client.button("purchase.purchase", "confirm", ids)
    return len(ids), len(purchases)


def _create_productions(
    client: TrytonClient,
    context: _Context,
    productions: Sequence[_Dated],
    products: Mapping[str, tuple[int, int]],
    boms: Mapping[str, int],
    bom: Sequence[_BomLine],
    by_code: Mapping[str, _Item],
    prefix: str,
) -> None:
    """Draft productions of each order's BOM, its component moves exploded."""
    values = []
    for row in productions:
        item = by_code[row.item]
        warehouse = _site(context, row.site)
        inputs = []
        for line in bom:
            if line.parent != row.item:
                continue
            unit, rounding = _unit(context, by_code[line.component])
            inputs.append(
                {
                    "product": products[line.component][0],
                    "unit": unit,
                    "quantity": ceil_to(line.qty_per * row.qty, rounding),
                    "from_location": warehouse.picking,
                    "to_location": warehouse.production,
                    "company": context.company,
                }
            )
        # Goods coming out of production carry a unit price, as Tryton requires.
        output = {
            "product": products[row.item][0],
            "unit": _unit(context, item)[0],
            "quantity": row.qty,
            "from_location": warehouse.production,
            "to_location": warehouse.output,
            "company": context.company,
            "unit_price": item.cost,
            "currency": context.currency,
        }
        start = row.due - dt.timedelta(days=item.lead_days or 0)
        values.append(
            {
                "company": context.company,
                "warehouse": warehouse.id,
                "location": warehouse.production,
                "product": products[row.item][0],
                "bom": boms[row.item],
                "unit": _unit(context, item)[0],
                "quantity": row.qty,
                "planned_start_date": start,
                "planned_date": row.due,
                "reference": prefix + row.ref,
                "inputs": [("create", inputs)],
                "outputs": [("create", [output])],
            }
        )
    if values:
        client.create("production", values)


def _create_sales(
    client: TrytonClient,
    context: _Context,
    orders: Sequence[_Dated],
    products: Mapping[str, tuple[int, int]],
    parties: Mapping[str, tuple[int, int]],
    by_code: Mapping[str, _Item],
    today: dt.date,
    prefix: str,
) -> None:
    """Confirmed sales, one per demand row, shipping on its due date."""
    if not orders:
        return
    values = []
    for row in orders:
        assert row.customer is not None
        party, address = parties[row.customer]
        item = by_code[row.item]
        values.append(
            {
                "company": context.company,
                "currency": context.currency,
                "warehouse": _site(context, row.site).id,
                "party": party,
                "invoice_address": address,
                "shipment_address": address,
                "sale_date": min(today, row.due),
                "shipping_date": row.due,
                "reference": prefix + row.ref,
                "invoice_method": "manual",
                "lines": [
                    (
                        "create",
                        [
                            {
                                "product": products[row.item][0],
                                "quantity": row.qty,
                                "unit": _unit(context, item)[0],
                                "unit_price": (item.cost * LIST_PRICE_MARKUP).quantize(
                                    _PRICE_DIGITS
                                ),
                            }
                        ],
                    )
                ],
            }
        )
    ids = client.create("sale.sale", values)
    client.button("sale.sale", "quote", ids)
    # Confirmed sales are processed: their shipments' moves carry the dates pull reads.
    client.button("sale.sale", "confirm", ids)
