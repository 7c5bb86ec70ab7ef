"""How HubSpot records and workbook rows map onto each other: a connection's Options, the
tier scale, and the property values HubSpot sends and accepts (always text).

Pure functions only: the HTTP side lives in :mod:`.connector`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sheetloop.connectors.connections import Connection
from sheetloop.errors import UsageError

#: Where HubSpot's API lives; a connection with a blank URL uses it.
DEFAULT_URL = "https://api.hubapi.com"
#: A forecast row pulled from a deal is Demand ``deal-<deal id>``.
DEAL_PREFIX = "deal-"

# HubSpot's internal property names are lower-case letters, digits and underscores; a label
# such as "Customer Code" is what people paste by mistake.
_PROPERTY_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_WHOLE_NUMBER = re.compile(r"\d+")
_YES = ("yes", "y", "true", "1", "x")
_NO = ("no", "n", "false", "0", "")


@dataclass(frozen=True)
class HubSpotOptions:
    """What a hubspot connection's ``Options`` cell says (every key has a default).

    ``key_property`` is the company property holding the workbook's ``Customer`` code; it
    must be a property with unique values, since new customers are created by upsert on
    it. ``tier_values`` maps workbook tiers to the values of ``tier_property`` when that
    is a dropdown (``1:tier_1, 2:tier_2``); without it tiers travel as plain numbers.
    """

    key_property: str = "customer_code"
    name_property: str = "name"
    tier_property: str = "tier"
    tier_values: Mapping[int, str] = field(default_factory=dict)
    forecast: bool = False
    qty_property: str = "quantity"
    item_property: str = "item"
    exclude_stages: frozenset[str] = frozenset({"closedlost"})
    confirmed_qty_property: str = "confirmed_qty"
    confirmed_date_property: str = "confirmed_date"

    @classmethod
    def from_connection(cls, connection: Connection) -> HubSpotOptions:
        """The options of ``connection``, checked; a :class:`UsageError` names a bad one."""
        where = f"Connections ({connection.name}), Options"
        names = {
            key: _property_name(connection, key, default, where)
            for key, default in (
                ("key_property", cls.key_property),
                ("name_property", cls.name_property),
                ("tier_property", cls.tier_property),
                ("qty_property", cls.qty_property),
                ("item_property", cls.item_property),
                ("confirmed_qty_property", cls.confirmed_qty_property),
                ("confirmed_date_property", cls.confirmed_date_property),
            )
        }
        stages = connection.option("exclude_stages", "closedlost")
        return cls(
            key_property=names["key_property"],
            name_property=names["name_property"],
            tier_property=names["tier_property"],
            tier_values=parse_tier_values(connection.option("tier_values"), where),
            forecast=_yes_no(connection.option("forecast"), "forecast", where),
            qty_property=names["qty_property"],
            item_property=names["item_property"],
            exclude_stages=frozenset(s.strip() for s in stages.split(",") if s.strip()),
            confirmed_qty_property=names["confirmed_qty_property"],
            confirmed_date_property=names["confirmed_date_property"],
        )

    def company_properties(self) -> list[str]:
        """The company properties a pull asks for."""
        return [self.key_property, self.name_property, self.tier_property]

    def deal_properties(self) -> list[str]:
        """The deal properties a forecast pull asks for."""
        return [self.item_property, self.qty_property, "closedate", "dealstage", "dealname"]


def _property_name(connection: Connection, key: str, default: str, where: str) -> str:
    name = connection.option(key, default).strip() or default
    if not _PROPERTY_NAME.match(name):
        raise UsageError(
            f"{where}: {key}={name!r} is not a HubSpot property's internal name (lower-case "
            f"letters, digits and _, e.g. customer_code). HubSpot shows it under Settings > "
            f"Properties > the property > Internal name."
        )
    return name


def _yes_no(text: str, key: str, where: str) -> bool:
    value = text.strip().casefold()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise UsageError(f"{where}: {key} must be yes or no, not {text!r}")


def parse_tier_values(text: str, where: str) -> dict[int, str]:
    """``1:tier_1, 2:tier_2`` as {1: "tier_1", 2: "tier_2"} (blank: no mapping)."""
    out: dict[int, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        tier, colon, value = part.partition(":")
        if not colon or not tier.strip().isdigit() or int(tier) < 1 or not value.strip():
            raise UsageError(
                f"{where}: tier_values must list tier:value pairs separated by commas, "
                f"e.g. tier_values=1:tier_1, 2:tier_2, 3:tier_3 (found {part.strip()!r})"
            )
        out[int(tier)] = value.strip()
    return out


def tier_from_hubspot(value: Any, tier_values: Mapping[int, str]) -> int | None:
    """The workbook tier of a HubSpot tier value: the tier ``tier_values`` gives it, else
    the first whole number in it (``"1"``, ``"Tier 2"``, ``"tier_3"``); None when blank or
    unreadable (the workbook's default tier then applies)."""
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    for tier, shown in tier_values.items():
        if shown.casefold() == text.casefold():
            return tier
    found = _WHOLE_NUMBER.search(text)
    if found is None or int(found.group()) < 1:
        return None
    return int(found.group())


def tier_to_hubspot(tier: Any, tier_values: Mapping[int, str]) -> str | None:
    """The HubSpot value of a workbook tier: its ``tier_values`` entry, else the number;
    None for a blank or unreadable tier (nothing is sent)."""
    number = hubspot_number(tier)
    if number is None or not number.is_integer() or number < 1:
        return None
    return tier_values.get(int(number), str(int(number)))


def hubspot_number(value: Any) -> float | None:
    """A number from a HubSpot property value or a cell; None when blank or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip().replace(",", ""))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def number_text(value: float) -> str:
    """A number as HubSpot stores it: ``40`` rather than ``40.0``."""
    return str(int(value)) if value.is_integer() else repr(value)


def hubspot_date(value: Any) -> dt.date | None:
    """The date of a HubSpot date or datetime value: ISO 8601 (``2027-01-18`` or
    ``2027-01-18T00:00:00Z``) or epoch milliseconds, both read in UTC; None otherwise."""
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    if text.isdigit():
        return dt.datetime.fromtimestamp(int(text) / 1000, tz=dt.UTC).date()
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC)
    return stamp.date()


def text_value(value: Any) -> str | None:
    """A cell or property value as trimmed text; None when blank. Whole numbers typed as
    numbers lose their ``.0`` (customer ``123`` is ``"123"``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def customer_row(record: Mapping[str, Any], options: HubSpotOptions) -> dict[str, Any] | None:
    """The ``Customers`` row of a HubSpot company, or None when it has no customer code
    (such a company is not one of the planning loop's customers yet)."""
    props = record.get("properties") or {}
    code = text_value(props.get(options.key_property))
    if code is None:
        return None
    return {
        "Customer": code,
        "Name": text_value(props.get(options.name_property)),
        "Tier": tier_from_hubspot(props.get(options.tier_property), options.tier_values),
    }


def company_properties(values: Mapping[str, Any], options: HubSpotOptions) -> dict[str, str]:
    """The company properties a ``Customers`` row sets. Blank cells are left out: a push
    never clears a value in HubSpot."""
    out: dict[str, str] = {}
    code = text_value(values.get("Customer"))
    if code is not None:
        out[options.key_property] = code
    name = text_value(values.get("Name"))
    if name is not None:
        out[options.name_property] = name
    tier = tier_to_hubspot(values.get("Tier"), options.tier_values)
    if tier is not None:
        out[options.tier_property] = tier
    return out


def demand_id(deal_id: str) -> str:
    """The ``Demand`` id of a deal's forecast row."""
    return f"{DEAL_PREFIX}{deal_id}"


def forecast_row(
    record: Mapping[str, Any], options: HubSpotOptions, customer: str | None
) -> dict[str, Any] | None:
    """The forecast ``Demand`` row of a deal, or None when the deal cannot be one: its stage
    is excluded, or it lacks an item, a quantity above zero or a close date."""
    props = record.get("properties") or {}
    if text_value(props.get("dealstage")) in options.exclude_stages:
        return None
    item = text_value(props.get(options.item_property))
    qty = hubspot_number(props.get(options.qty_property))
    due = hubspot_date(props.get("closedate"))
    if item is None or qty is None or qty <= 0 or due is None:
        return None
    return {
        "Demand": demand_id(str(record["id"])),
        "Item": item,
        "Customer": customer,
        "Due": due,
        "Qty": qty,
        "Kind": "forecast",
    }


def associated_ids(record: Mapping[str, Any], object_type: str) -> list[str]:
    """The ids of the records of ``object_type`` a v3 record is associated with, the
    primary association first (its type is ``deal_to_company``; others are
    ``deal_to_company_unlabeled`` or labelled)."""
    found = (record.get("associations") or {}).get(object_type) or {}
    links = [a for a in found.get("results") or [] if isinstance(a, dict) and "id" in a]
    links.sort(key=lambda a: str(a.get("type") or "").endswith("_unlabeled"))
    ids: list[str] = []
    for link in links:
        if str(link["id"]) not in ids:
            ids.append(str(link["id"]))
    return ids
