"""Tryton records to workbook rows and back: pure functions, no server needed.

Records are the dicts ``TrytonClient.search_read`` returns (dotted fields such as
``sale.party.code`` arrive nested: ``row["sale."]["party."]["code"]``); rows are dicts keyed
by the workbook's column names (:mod:`sheetloop.workbooks.schema`).

The choices made here, in one place:

- a record's id in the book is Tryton's own reference text, ``<model>,<id>``
  (``purchase.line,12``, ``production,7``, ``sale.line,3``, ``party.party,5``); a row that
  stands for several records joins them with ``/`` (``production.bom,2/14/15`` is the BOM,
  its output product and its input product; ``stock.location,4/14`` the warehouse and the
  product);
- quantities are in the product's default unit (Tryton's lines may use another unit of the
  same category; the book knows one unit per item);
- Tryton's lead times (timedeltas) become whole calendar days, rounded up: the unit of
  ``Lead Time`` in books with date buckets;
- a site is the warehouse's code (its name when it has none), unless the connection's
  ``sites`` option renames it (``sites=WH:MAIN``);
- a customer's tier comes from a party category named ``Tier 1``, ``Tier 2``... (the
  prefix is the connection's ``tier_category`` option); the lowest number wins;
- with the ``forecast`` option, each product line of an open opportunity (a lead or an
  opportunity of ``sale_opportunity``) is a forecast demand ``OPP-<number>/<position>``,
  due at the opportunity's end date; ``forecast_weighted`` scales its quantity by the
  opportunity's conversion probability.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sheetloop.errors import UsageError

__all__ = [
    "DEMAND_STATES",
    "FORECAST_PREFIX",
    "NOTE_PREFIX",
    "OPPORTUNITY_STATES",
    "PRODUCTION_STATES",
    "PURCHASE_STATES",
    "Unit",
    "allocation_note",
    "by_sequence",
    "ceil_to",
    "convert",
    "customer_row",
    "demand_row",
    "earliest_open",
    "explode_bom",
    "first_lead_days",
    "forecast_due",
    "forecast_quantity",
    "forecast_row",
    "item_row",
    "lead_days",
    "line_positions",
    "nested",
    "open_quantity",
    "order_marker",
    "parse_ref",
    "parse_sites",
    "parse_yes_no",
    "production_receipt_row",
    "purchase_receipt_row",
    "ref",
    "replace_note_line",
    "site_name",
    "tier_of",
    "unique_orders",
    "version_of",
]

#: Purchases whose open lines are scheduled receipts (a draft is not an order yet).
PURCHASE_STATES = ("quotation", "confirmed", "processing")
#: Productions that are firm supply (``request`` is Tryton's own suggestion, not firm).
PRODUCTION_STATES = ("draft", "waiting", "assigned", "running")
#: Sales whose open lines are demand.
DEMAND_STATES = ("quotation", "confirmed", "processing")
#: Opportunities that are still forecast. A converted one became a sale (pulled as an
#: order once quoted); won, lost and cancelled ones are over.
OPPORTUNITY_STATES = ("lead", "opportunity")
#: Forecast demand ids start with it, so they never clash with sale numbers.
FORECAST_PREFIX = "OPP-"
#: The start of every line sheetloop writes into a Tryton note.
NOTE_PREFIX = "sheetloop:"

_CLOSED_MOVES = ("done", "cancelled")
_YES = ("yes", "y", "true", "1", "x")
_NO = ("no", "n", "false", "0", "")
_SECONDS_PER_DAY = 86_400
_DIGITS = 6  # float noise from unit conversions stays below this


@dataclass(frozen=True)
class Unit:
    """A Tryton unit of measure: ``factor`` converts to the category's base unit."""

    id: int
    symbol: str
    factor: float
    rounding: float

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Unit:
        """A unit from a ``product.uom`` record with ``symbol``, ``factor``, ``rounding``."""
        return cls(
            id=int(record["id"]),
            symbol=str(record.get("symbol") or ""),
            factor=float(record.get("factor") or 1.0),
            rounding=float(record.get("rounding") or 0.0),
        )


# --- ids and versions -------------------------------------------------------------------


def ref(model: str, record_id: int, *more: int) -> str:
    """Tryton's reference text for a record, ``purchase.line,12``; ``more`` ids are joined
    with ``/`` for a row that stands for several records."""
    return f"{model},{record_id}" + "".join(f"/{m}" for m in more)


def parse_ref(text: object, models: Iterable[str]) -> tuple[str, int] | None:
    """``(model, id)`` of a reference to one of ``models`` (``"production,7"``), else None."""
    if text is None:
        return None
    value = str(text).strip()
    model, comma, number = value.partition(",")
    if not comma or model not in set(models):
        return None
    try:
        return model, int(float(number))
    except ValueError:
        return None


def version_of(record: Mapping[str, Any]) -> str:
    """A record's version mark: its last write (or creation when never written)."""
    stamp = record.get("write_date") or record.get("create_date")
    return stamp.isoformat() if isinstance(stamp, dt.datetime) else str(stamp or "")


def nested(record: Mapping[str, Any], path: str) -> Any:
    """The value of a dotted field of a ``search_read`` result: ``nested(r, "sale.party.code")``
    reads ``r["sale."]["party."]["code"]``; None when a link on the way is empty."""
    *links, last = path.split(".")
    value: Any = record
    for link in links:
        value = value.get(f"{link}.") if isinstance(value, Mapping) else None
        if value is None:
            return None
    return value.get(last) if isinstance(value, Mapping) else None


# --- units and quantities ---------------------------------------------------------------


def convert(quantity: float, from_unit: Unit | None, to_unit: Unit | None) -> float:
    """``quantity`` in ``from_unit`` expressed in ``to_unit`` (same category; a missing
    unit means no conversion)."""
    if from_unit is None or to_unit is None or from_unit.id == to_unit.id:
        return round(float(quantity), _DIGITS)
    return round(float(quantity) * from_unit.factor / to_unit.factor, _DIGITS)


def ceil_to(quantity: float, rounding: float) -> float:
    """``quantity`` rounded up to a multiple of ``rounding``, as Tryton rounds component
    quantities (and exact enough that Tryton accepts its digits)."""
    if not rounding or not quantity:
        return float(quantity)
    digits = max(0, -math.floor(math.log10(rounding))) if rounding < 1 else 0
    # Round before the ceiling: 0.3 / 0.1 is 2.9999999999999996 in floats.
    return round(math.ceil(round(quantity / rounding, 9)) * rounding, digits)


def open_quantity(quantity: float, moves: Sequence[Mapping[str, Any]]) -> float:
    """What a line still brings in (or ships): the quantity of its moves that are neither
    done nor cancelled, or the line's whole quantity before any move exists."""
    if not moves:
        return float(quantity)
    return round(
        sum(float(m.get("quantity") or 0.0) for m in moves if m.get("state") not in _CLOSED_MOVES),
        _DIGITS,
    )


def lead_days(lead_time: dt.timedelta | None) -> int | None:
    """A Tryton lead time as whole calendar days, rounded up (36 hours is 2 days)."""
    if lead_time is None:
        return None
    seconds = max(lead_time.total_seconds(), 0.0)
    return math.ceil(round(seconds / _SECONDS_PER_DAY, 9))


def first_lead_days(records: Sequence[Mapping[str, Any]]) -> int | None:
    """The lead time of the first record (by ``sequence``, then id) that has one."""
    for record in sorted(records, key=by_sequence):
        days = lead_days(record.get("lead_time"))
        if days is not None:
            return days
    return None


def by_sequence(record: Mapping[str, Any]) -> tuple[bool, int, int]:
    """Sort key of Tryton's ordered records: by ``sequence`` (blank last), then id."""
    sequence = record.get("sequence")
    return (sequence is None, int(sequence or 0), int(record.get("id") or 0))


def line_positions(lines: Sequence[Mapping[str, Any]], parent: str) -> dict[int, int]:
    """Each line's 1-based position among the lines of its document (the ``parent`` field:
    ``purchase``, ``sale``), by sequence then id."""
    siblings: dict[int, list[Mapping[str, Any]]] = {}
    for line in lines:
        siblings.setdefault(int(line[parent]), []).append(line)
    return {
        int(line["id"]): position
        for group in siblings.values()
        for position, line in enumerate(sorted(group, key=by_sequence), start=1)
    }


def earliest_open(moves: Sequence[Mapping[str, Any]]) -> dt.date | None:
    """The first planned date of the moves neither done nor cancelled: when what is still
    open arrives (or ships)."""
    dates = [
        m["planned_date"]
        for m in moves
        if m.get("state") not in _CLOSED_MOVES and isinstance(m.get("planned_date"), dt.date)
    ]
    return min(dates, default=None)


# --- sites and tiers --------------------------------------------------------------------


def parse_sites(text: str, connection: str) -> dict[str, str]:
    """The ``sites`` option, ``WH:MAIN, WH2:EAST``: Tryton warehouse code → book site."""
    out: dict[str, str] = {}
    for pair in (p.strip() for p in text.split(",")):
        if not pair:
            continue
        code, colon, site = pair.partition(":")
        if not colon or not code.strip() or not site.strip():
            raise UsageError(
                f"Connections ({connection}): the sites option pairs a Tryton warehouse code "
                f"with a site of the book, like sites=WH:MAIN (found {pair!r})"
            )
        out[code.strip()] = site.strip()
    return out


def parse_yes_no(text: str, key: str, connection: str) -> bool:
    """A yes/no option (``forecast=yes``); blank is no."""
    value = text.strip().casefold()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise UsageError(
        f"Connections ({connection}): the {key} option must be yes or no (found {text!r}): "
        "correct it in the Options column"
    )


def site_name(warehouse: Mapping[str, Any], sites: Mapping[str, str]) -> str:
    """The book's site for a ``stock.location`` warehouse record (``code``, ``name``)."""
    code = str(warehouse.get("code") or warehouse.get("name") or f"warehouse {warehouse['id']}")
    return sites.get(code, code)


def tier_of(category_names: Iterable[str], prefix: str) -> int | None:
    """The tier a party's categories give: ``Tier 2`` → 2 (the lowest of several); None
    without such a category."""
    pattern = re.compile(rf"\s*{re.escape(prefix)}\s*(\d+)\s*", re.IGNORECASE)
    tiers = [int(m.group(1)) for n in category_names if (m := pattern.fullmatch(n or ""))]
    tiers = [t for t in tiers if t >= 1]
    return min(tiers) if tiers else None


# --- pull: records to rows --------------------------------------------------------------


def item_row(
    product: Mapping[str, Any],
    *,
    unit: Unit | None,
    supplier: str | None,
    lead_time: int | None,
) -> dict[str, Any]:
    """An ``Items`` row for a goods ``product.product`` record (``code``, ``name``,
    ``cost_price``, ``boms``): make when it has a BOM, else buy."""
    cost = product.get("cost_price")
    return {
        "Item": product["code"],
        "Description": product.get("name"),
        "Type": "make" if product.get("boms") else "buy",
        "UoM": unit.symbol if unit is not None else None,
        "Supplier": supplier,
        "Lead Time": lead_time,
        "Unit Cost": float(cost) if isinstance(cost, Decimal | int | float) else None,
    }


def purchase_receipt_row(
    line: Mapping[str, Any],
    *,
    item: str,
    quantity: float,
    site: str,
    due: dt.date,
    position: int,
) -> dict[str, Any]:
    """A ``Receipts`` row for an open ``purchase.line``: the order is the purchase's
    number and the line's position in it (``P0042/2``)."""
    number = nested(line, "purchase.number") or ref("purchase", int(line["purchase"]))
    return {
        "Order": f"{number}/{position}",
        "Item": item,
        "Site": site,
        "Due": due,
        "Qty": quantity,
        "Kind": "PO",
        "External Id": ref("purchase.line", int(line["id"])),
    }


def production_receipt_row(
    production: Mapping[str, Any], *, item: str, quantity: float, site: str, due: dt.date
) -> dict[str, Any]:
    """A ``Receipts`` row for a firm ``production``: the order is its number, or its
    reference while Tryton has not numbered it (a draft sheetloop pushed carries the
    planned order's id there)."""
    order = (
        production.get("number")
        or production.get("reference")
        or ref("production", int(production["id"]))
    )
    return {
        "Order": str(order),
        "Item": item,
        "Site": site,
        "Due": due,
        "Qty": quantity,
        "Kind": "WO",
        "External Id": ref("production", int(production["id"])),
    }


def unique_orders(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Make ``Receipts`` keys (Order, Item, Site, Due) unique: a later row that repeats a
    key gets its External Id after the order, so the book never holds a duplicate key."""
    seen: set[tuple[Any, ...]] = set()
    for row in rows:
        key = (row["Order"], row["Item"], row["Site"], row["Due"])
        if key in seen:
            row["Order"] = f"{row['Order']} [{row['External Id']}]"
            key = (row["Order"], row["Item"], row["Site"], row["Due"])
        seen.add(key)
    return rows


def demand_row(
    line: Mapping[str, Any],
    *,
    item: str,
    quantity: float,
    site: str,
    due: dt.date,
    position: int,
) -> dict[str, Any]:
    """A ``Demand`` row for an open ``sale.line``: the demand id is the sale's number and
    the line's position (``S0007/1``), the customer the party's code."""
    number = nested(line, "sale.number") or ref("sale", int(line["sale"]))
    return {
        "Demand": f"{number}/{position}",
        "Item": item,
        "Site": site,
        "Customer": nested(line, "sale.party.code"),
        "Due": due,
        "Qty": quantity,
        "Kind": "order",
    }


def forecast_quantity(quantity: float, probability: float | None, *, weighted: bool) -> float:
    """What an opportunity line forecasts, in the product's default unit: the whole
    ``quantity``, or with ``weighted`` its expected value, ``quantity`` times the conversion
    ``probability`` (0..1; a missing one counts as 1, a value outside is clamped), so that
    ten opportunities at 30 % forecast what three won ones would ship."""
    if not weighted:
        return round(float(quantity), _DIGITS)
    share = 1.0 if probability is None else min(max(float(probability), 0.0), 1.0)
    return round(float(quantity) * share, _DIGITS)


def forecast_due(line: Mapping[str, Any], today: dt.date) -> dt.date:
    """When a ``sale.opportunity.line``'s demand is due: the opportunity's end date (when
    the deal is expected to close, the first day its sale could ship), else its start date,
    else ``today``. A past end date is kept: the planner sees the forecast as late rather
    than silently moved."""
    for path in ("opportunity.end_date", "opportunity.start_date"):
        value = nested(line, path)
        if isinstance(value, dt.date):
            return value
    return today


def forecast_row(
    line: Mapping[str, Any],
    *,
    item: str,
    quantity: float,
    site: str,
    due: dt.date,
    position: int,
) -> dict[str, Any]:
    """A forecast ``Demand`` row for a line of an open ``sale.opportunity``: the demand id is
    ``OPP-`` with the opportunity's number and the line's position (``OPP-12/2``), the
    customer the party's code (blank for a lead without a party yet)."""
    number = nested(line, "opportunity.number") or ref("sale.opportunity", int(line["opportunity"]))
    return {
        "Demand": f"{FORECAST_PREFIX}{number}/{position}",
        "Item": item,
        "Site": site,
        "Customer": nested(line, "opportunity.party.code"),
        "Due": due,
        "Qty": quantity,
        "Kind": "forecast",
    }


def customer_row(
    party: Mapping[str, Any], *, tier: int | None, with_tier: bool = True
) -> dict[str, Any]:
    """A ``Customers`` row for a ``party.party`` record (``code``, ``name``)."""
    row: dict[str, Any] = {"Customer": party.get("code"), "Name": party.get("name")}
    if with_tier:
        row["Tier"] = tier
    return row


# --- push: rows to records --------------------------------------------------------------


def order_marker(order: str) -> str:
    """The note line that ties a draft purchase line to the planned order it came from, so
    a push that failed before the book recorded it adopts the line instead of making a
    second one."""
    return f"{NOTE_PREFIX} planned order {order}"


def explode_bom(
    inputs: Sequence[Mapping[str, Any]],
    outputs: Sequence[Mapping[str, Any]],
    *,
    product: int,
    quantity: float,
    units: Mapping[int, Unit],
) -> tuple[list[tuple[int, int, float]], float]:
    """The component moves a production of ``quantity`` of ``product`` needs, as Tryton
    explodes a BOM: ``(product, unit, quantity)`` per input, each rounded up to its unit,
    and the factor applied (0 when the BOM does not make ``product``).

    ``inputs`` and ``outputs`` are ``production.bom.input``/``output`` records (``product``,
    ``quantity``, ``unit``); ``quantity`` is in the unit of the product's output line.
    """
    made = sum(
        float(o.get("quantity") or 0.0) for o in outputs if int(o.get("product") or 0) == product
    )
    if made <= 0:
        return [], 0.0
    factor = quantity / made
    moves = []
    for line in inputs:
        unit = units.get(int(line["unit"]))
        needed = float(line.get("quantity") or 0.0) * factor
        moves.append(
            (int(line["product"]), int(line["unit"]), ceil_to(needed, unit.rounding if unit else 0))
        )
    return moves, factor


def allocation_note(
    *,
    allocated: float,
    quantity: float | None,
    first_ship: dt.date | str | None,
    run: dt.datetime | None,
) -> str:
    """The line sheetloop writes into a sale line's note for an allocation result:
    ``sheetloop: confirmed 40 on 2026-12-07 (run 2026-11-25 10:00)``; a partial one says
    ``confirmed 30 of 40, first on ...``."""
    confirmed = _number(allocated)
    whole = quantity is None or allocated >= quantity - 1e-9
    text = f"{NOTE_PREFIX} confirmed {confirmed}"
    if not whole:
        text += f" of {_number(quantity or 0.0)}"
    if allocated > 0 and first_ship is not None:
        when = first_ship.isoformat() if isinstance(first_ship, dt.date) else str(first_ship)
        text += f" on {when}" if whole else f", first on {when}"
    if run is not None:
        text += f" (run {run:%Y-%m-%d %H:%M})"
    return text


def replace_note_line(note: str | None, line: str) -> str:
    """``note`` with its sheetloop line (if any) replaced by ``line``, every other line kept
    as it was; the line goes last when the note had none."""
    kept = [
        existing
        for existing in (note or "").splitlines()
        if not existing.startswith(f"{NOTE_PREFIX} confirmed")
    ]
    return "\n".join([*kept, line])


def _number(value: float) -> str:
    return f"{value:.6g}" if not float(value).is_integer() else str(int(value))
