"""Building Tryton records over RPC for tests: products, parties, purchases, sales, BOMs and
productions, with the values a planner's workbook would send.

Loaded by ``tests/connectors/conftest.py`` as the module ``tryton_records``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sheetloop.connectors.tryton import TrytonClient


@dataclass(frozen=True)
class Company:
    """The ids a document of the demo company needs."""

    company: int
    currency: int
    warehouse: int
    storage: int
    production: int
    unit: int


@dataclass(frozen=True)
class Product:
    """A goods product: its variant's id and its template's id."""

    id: int
    template: int
    code: str


def company(client: TrytonClient) -> Company:
    """Look up the demo company, its warehouse and locations, and the unit of measure."""
    (row,) = client.read("company.company", [client.context["company"]], ["currency"])
    (warehouse,) = client.search_read(
        "stock.location",
        [("type", "=", "warehouse")],
        ["storage_location", "production_location"],
    )
    (unit,) = client.search("product.uom", [("symbol", "=", "u")])
    return Company(
        company=row["id"],
        currency=row["currency"],
        warehouse=warehouse["id"],
        storage=warehouse["storage_location"],
        production=warehouse["production_location"],
        unit=unit,
    )


def goods(
    code: str,
    name: str,
    *,
    unit: int,
    list_price: Decimal,
    cost_price: Decimal,
    producible: bool = False,
) -> dict[str, object]:
    """Values for a ``product.template`` of goods, bought and sold, with one variant."""
    return {
        "name": name,
        "code": code,
        "type": "goods",
        "default_uom": unit,
        "sale_uom": unit,
        "purchase_uom": unit,
        "salable": True,
        "purchasable": True,
        "producible": producible,
        "list_price": list_price,
        "products": [("create", [{"cost_price": cost_price}])],
    }


def create_goods(client: TrytonClient, templates: Sequence[dict[str, object]]) -> list[Product]:
    """Create the templates (one call) and return their variants in the same order."""
    template_ids = client.create("product.template", templates)
    rows = client.search_read(
        "product.product", [("template", "in", template_ids)], ["template", "code"]
    )
    by_template = {row["template"]: row for row in rows}
    return [
        Product(id=by_template[t]["id"], template=t, code=by_template[t]["code"])
        for t in template_ids
    ]


def create_parties(client: TrytonClient, codes_and_names: Sequence[tuple[str, str]]) -> list[int]:
    """Parties with an explicit code (automatic codes collide when tests run in parallel)
    and one address, which sales and purchases use."""
    return client.create(
        "party.party",
        [
            {"code": code, "name": name, "addresses": [("create", [{"street": "1 Main St"}])]}
            for code, name in codes_and_names
        ],
    )


def address_of(client: TrytonClient, party: int) -> int:
    """The first address of ``party``."""
    return client.search("party.address", [("party", "=", party)], limit=1)[0]


def create_draft_purchase(
    client: TrytonClient,
    setup: Company,
    supplier: int,
    lines: Sequence[tuple[Product, float, Decimal]],
    *,
    purchase_date: dt.date,
    reference: str,
) -> int:
    """A draft purchase from ``supplier`` with ``(product, quantity, unit price)`` lines."""
    (purchase,) = client.create(
        "purchase.purchase",
        [
            {
                "company": setup.company,
                "currency": setup.currency,
                "warehouse": setup.warehouse,
                "party": supplier,
                "invoice_address": address_of(client, supplier),
                "purchase_date": purchase_date,
                "reference": reference,
                "lines": [
                    (
                        "create",
                        [
                            {
                                "product": product.id,
                                "quantity": quantity,
                                "unit": setup.unit,
                                "unit_price": price,
                            }
                            for product, quantity, price in lines
                        ],
                    )
                ],
            }
        ],
    )
    return purchase


def create_draft_sale(
    client: TrytonClient,
    setup: Company,
    customer: int,
    lines: Sequence[tuple[Product, float, Decimal]],
    *,
    sale_date: dt.date,
    reference: str,
) -> int:
    """A draft sale to ``customer`` with ``(product, quantity, unit price)`` lines."""
    address = address_of(client, customer)
    (sale,) = client.create(
        "sale.sale",
        [
            {
                "company": setup.company,
                "currency": setup.currency,
                "warehouse": setup.warehouse,
                "party": customer,
                "invoice_address": address,
                "shipment_address": address,
                "sale_date": sale_date,
                "reference": reference,
                "lines": [
                    (
                        "create",
                        [
                            {
                                "product": product.id,
                                "quantity": quantity,
                                "unit": setup.unit,
                                "unit_price": price,
                            }
                            for product, quantity, price in lines
                        ],
                    )
                ],
            }
        ],
    )
    return sale


def create_bom(
    client: TrytonClient,
    setup: Company,
    output: Product,
    inputs: Sequence[tuple[Product, float]],
    *,
    name: str,
) -> int:
    """A BOM making one ``output`` from ``(component, quantity per unit)`` inputs, set as the
    output product's BOM."""
    (bom,) = client.create(
        "production.bom",
        [
            {
                "name": name,
                "inputs": [
                    (
                        "create",
                        [{"product": p.id, "quantity": q, "unit": setup.unit} for p, q in inputs],
                    )
                ],
                "outputs": [
                    ("create", [{"product": output.id, "quantity": 1.0, "unit": setup.unit}])
                ],
            }
        ],
    )
    client.create("product.product-production.bom", [{"product": output.id, "bom": bom}])
    return bom


def create_draft_production(
    client: TrytonClient,
    setup: Company,
    product: Product,
    bom: int,
    inputs: Sequence[tuple[Product, float]],
    *,
    quantity: float,
    start: dt.date,
    due: dt.date,
) -> int:
    """A draft production of ``quantity`` ``product`` with its BOM exploded into moves.

    Tryton's client explodes the BOM through on-change calls; over RPC the input and output
    moves are sent explicitly. Output moves carry a unit price, as Tryton requires for
    goods coming out of production.
    """
    moves_in = [
        {
            "product": p.id,
            "unit": setup.unit,
            "quantity": per_unit * quantity,
            "from_location": setup.storage,
            "to_location": setup.production,
            "company": setup.company,
        }
        for p, per_unit in inputs
    ]
    move_out = {
        "product": product.id,
        "unit": setup.unit,
        "quantity": quantity,
        "from_location": setup.production,
        "to_location": setup.storage,
        "company": setup.company,
        "unit_price": Decimal(0),
        "currency": setup.currency,
    }
    (production,) = client.create(
        "production",
        [
            {
                "company": setup.company,
                "warehouse": setup.warehouse,
                "location": setup.production,
                "product": product.id,
                "bom": bom,
                "unit": setup.unit,
                "quantity": quantity,
                "planned_start_date": start,
                "planned_date": due,
                "inputs": [("create", moves_in)],
                "outputs": [("create", [move_out])],
            }
        ],
    )
    return production
