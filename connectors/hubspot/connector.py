"""Sync a workbook with HubSpot's CRM (API v3): companies are ``Customers``, deals can be
forecast ``Demand``, and allocation results go back to the deals.

- pull ``Customers``: every company with a customer code (``key_property``), 100 a page;
  the version of each is its ``updatedAt``.
- pull ``Demand`` (``forecast=yes``): open deals with an item, a quantity and a close date,
  as forecast rows ``deal-<id>``, the customer being the deal's associated company.
- push ``Customers``: rows pulled or pushed before update their company by id
  (``batch/update``); new rows are upserted on the key property (``batch/upsert``), so a
  company that already has that code is updated, not duplicated. 100 inputs a call.
- push ``DemandStatus`` (``forecast=yes``): each deal's allocated quantity and the last
  ship date of its allocations, into ``confirmed_qty_property`` and
  ``confirmed_date_property``. Those two properties are sheetloop's to write, so a deal
  edited in HubSpot meanwhile is no conflict. A row is sent when its ``Allocated``
  changed since the last push (the push engine fingerprints the ``DemandStatus`` row): a
  ship date that moves while the quantity stays goes with the deal's next change.

HTTP 429 is retried after HubSpot's ``Retry-After`` by the HTTP layer; any other failure
becomes an :class:`~sheetloop.errors.ExternalSystemError` that quotes HubSpot's category
and message, never the token.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from sheetloop.connectors.connections import Connection
from sheetloop.connectors.http import (
    BearerAuth,
    CursorPaginator,
    HttpSession,
    RetryPolicy,
    paginate,
    redact_resolved,
    resolve_secret,
)
from sheetloop.connectors.hubspot.mapping import (
    DEFAULT_URL,
    HubSpotOptions,
    associated_ids,
    company_properties,
    customer_row,
    forecast_row,
    hubspot_number,
    number_text,
    text_value,
)
from sheetloop.connectors.sync.merge import ORIGIN
from sheetloop.connectors.sync.pull import SyncBook
from sheetloop.connectors.sync.push import PartialSendError, PushRow, Sent
from sheetloop.connectors.sync.streams import Records, Stream, id_column, normalise, spec_column
from sheetloop.errors import ExternalSystemError
from sheetloop.workbooks.interface import RawTable
from sheetloop.workbooks.schema import ALLOCATION, CUSTOMERS, DEMAND, DEMAND_STATUS, header_key

#: HubSpot takes at most 100 inputs in one batch call and 100 records in one page.
BATCH_LIMIT = 100
PAGE_LIMIT = 100
OBJECTS = "/crm/v3/objects"

#: How every HubSpot connection retries; a module attribute so that tests can swap in a
#: policy whose sleep does not wait.
RETRY_POLICY = RetryPolicy()

CUSTOMERS_STREAM = Stream(CUSTOMERS, key=("Customer",), columns=("Customer", "Name", "Tier"))
FORECAST_STREAM = Stream(
    DEMAND, key=("Demand",), columns=("Demand", "Item", "Customer", "Due", "Qty", "Kind")
)
RESULTS_STREAM = Stream(DEMAND_STATUS, key=("Demand",), columns=("Demand", "Allocated"))


class HubSpotSession(HttpSession):
    """An :class:`HttpSession` whose failures quote HubSpot's error body (category,
    message, details, correlation id) with advice for HubSpot's own causes."""

    def _status_failure(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        response: requests.Response,
        attempts: int,
    ) -> ExternalSystemError:
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        reason = f" {response.reason}" if response.reason else ""
        said, category = describe_error(response.text)
        said = self.redactor().excerpt(said, limit=400) if said else ""
        said = f" HubSpot said: {said}." if said else ""
        advice = hubspot_advice(response.status_code, category, self.name)
        return self.failure(
            method,
            url,
            f"failed with HTTP {response.status_code}{reason}{tries}.{said} {advice}",
            params,
        )


def describe_error(body: str) -> tuple[str, str]:
    """A HubSpot error body (``{"status": "error", "message", "category",
    "correlationId", "errors": [...]}``, or ``errorType``/``policyName`` for rate limits)
    in words, and its category ("" when the body is not one)."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip(), ""
    if not isinstance(data, dict):
        return body.strip(), ""
    category = str(data.get("category") or data.get("errorType") or "")
    message = str(data.get("message") or "").strip()
    details = [
        str(e["message"]).strip()
        for e in data.get("errors") or []
        if isinstance(e, dict) and e.get("message") and str(e["message"]).strip() != message
    ]
    parts = [f"{category}: {message}" if category else message, *details[:3]]
    text = "; ".join(p for p in parts if p)
    if data.get("correlationId"):
        text += f" (correlation id {data['correlationId']})"
    return text, category


def hubspot_advice(status: int, category: str, name: str) -> str:
    """What to do about a HubSpot failure."""
    if status == 401 or category == "INVALID_AUTHENTICATION":
        return (
            f"HubSpot refused the access token: check that the variable the Auth cell of "
            f"connection {name!r} names holds the private app's current access token "
            f"(HubSpot: Settings > Integrations > Private Apps; rotating it there ends the "
            f"old one)."
        )
    if status == 403 or category == "MISSING_SCOPES":
        return (
            f"The private app behind connection {name!r} lacks a scope: give it "
            f"crm.objects.companies.read and .write (and crm.objects.deals.read and .write "
            f"with forecast=yes)."
        )
    if status == 429:
        return (
            "HubSpot's rate limit was still reached after waiting as it asked: run again "
            "in a minute (a daily limit resets at midnight in the account's time zone)."
        )
    if status == 404:
        return f"Nothing at this address: leave the URL of connection {name!r} blank for HubSpot."
    if status == 400 or category == "VALIDATION_ERROR":
        return (
            f"HubSpot refused the values sent: check the property names and tier_values "
            f"in the Options of connection {name!r} against the properties in HubSpot."
        )
    if status >= 500:
        return "HubSpot itself failed: try again later (status.hubspot.com says more)."
    return "HubSpot refused the request: see its message above."


@dataclass
class _BatchAnswer:
    """What one batch call said about its inputs: the records by id (or by unique
    property value for an upsert) and the errors by the ids they name."""

    results: list[dict[str, Any]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class HubSpotConnector:
    """A ``hubspot`` connection: a :class:`~sheetloop.connectors.sync.Source` and a
    :class:`~sheetloop.connectors.sync.Sink` over HubSpot's CRM objects API."""

    def __init__(self, connection: str, options: HubSpotOptions, session: HttpSession) -> None:
        self.connection = connection
        self.options = options
        self.session = session
        # company id -> customer code, learnt while reading companies, for the deals.
        self._codes: dict[str, str | None] = {}
        # Filled by prepare(): the deal of each pulled forecast row, and the date of the
        # last shipment allocated to each demand.
        self._deals: dict[str, str] = {}
        self._confirmed: dict[str, str] = {}
        self._send_dates = True

    @classmethod
    def from_connection(
        cls, connection: Connection, book_dir: Path, *, retry: RetryPolicy | None = None
    ) -> HubSpotConnector:
        """The connector of a ``Connections`` row: URL (blank: HubSpot's), the private
        app's access token from Auth (``env:NAME``), and Options."""
        options = HubSpotOptions.from_connection(connection)
        token = resolve_secret(connection.auth, connection=connection.name)
        session = HubSpotSession(
            connection.url or DEFAULT_URL,
            name=connection.name,
            auth=BearerAuth(token),
            secrets=[token],
            retry=retry if retry is not None else RETRY_POLICY,
        )
        return cls(connection.name, options, session)

    # -- pull --------------------------------------------------------------------------

    def streams(self) -> Sequence[Stream]:
        """``Customers``, and ``Demand`` with ``forecast=yes``."""
        return [CUSTOMERS_STREAM, FORECAST_STREAM] if self.options.forecast else [CUSTOMERS_STREAM]

    def read(self, stream: Stream, cursor: str | None) -> Records:
        """Every record of ``stream`` (HubSpot's list has no "changed since": each read is
        complete)."""
        if stream.name == FORECAST_STREAM.name:
            return self._read_deals()
        return self._read_companies()

    def _list(self, object_type: str, properties: Sequence[str], **extra: str) -> Iterator[Any]:
        params = {"limit": PAGE_LIMIT, "properties": ",".join(properties), **extra}
        for page in paginate(
            self.session,
            f"{OBJECTS}/{object_type}",
            paginator=CursorPaginator(),
            params=params,
        ):
            yield from page

    def _read_companies(self) -> Records:
        rows: list[dict[str, Any]] = []
        ids: list[str] = []
        versions: list[str] = []
        seen: set[str] = set()
        for record in self._list("companies", self.options.company_properties()):
            ident = str(record["id"])
            if ident in seen:
                continue  # pages that shift under the read may repeat a company
            seen.add(ident)
            row = customer_row(record, self.options)
            self._codes[ident] = None if row is None else row["Customer"]
            if row is None:
                continue
            rows.append(row)
            ids.append(ident)
            versions.append(str(record.get("updatedAt") or ""))
        return Records(rows, ids, versions=versions)

    def _read_deals(self) -> Records:
        deals = list(self._list("deals", self.options.deal_properties(), associations="companies"))
        companies = {c for d in deals for c in associated_ids(d, "companies")[:1]}
        self._learn_codes(sorted(companies - self._codes.keys(), key=_numeric_first))
        rows: list[dict[str, Any]] = []
        ids: list[str] = []
        versions: list[str] = []
        seen: set[str] = set()
        for record in deals:
            company = next(iter(associated_ids(record, "companies")), None)
            customer = self._codes.get(company) if company is not None else None
            row = forecast_row(record, self.options, customer)
            if row is None or str(record["id"]) in seen:
                continue
            seen.add(str(record["id"]))
            rows.append(row)
            ids.append(str(record["id"]))
            versions.append(str(record.get("updatedAt") or ""))
        return Records(rows, ids, versions=versions)

    def _learn_codes(self, company_ids: Sequence[str]) -> None:
        """Read the customer codes of companies the deals name that no read saw yet."""
        for answer in self._batch(
            "companies",
            "read",
            [{"id": i} for i in company_ids],
            properties=[self.options.key_property],
        ):
            for record in answer.results:
                props = record.get("properties") or {}
                self._codes[str(record["id"])] = text_value(props.get(self.options.key_property))

    # -- push --------------------------------------------------------------------------

    def push_streams(self) -> Sequence[Stream]:
        """``Customers``, and ``DemandStatus`` (allocation results) with ``forecast=yes``."""
        return [CUSTOMERS_STREAM, RESULTS_STREAM] if self.options.forecast else [CUSTOMERS_STREAM]

    def prepare(self, book: SyncBook) -> None:
        """Learn which deal each pulled forecast row came from (``Demand``) and the last
        ship date allocated to each demand (``Allocation``)."""
        if not self.options.forecast:
            return
        self._deals = _deal_of_demand(book.find_table(DEMAND.name), self.connection)
        self._confirmed, self._send_dates = _last_ship_dates(book.find_table(ALLOCATION.name))

    def versions(self, stream: Stream, record_ids: Sequence[str]) -> dict[str, str]:
        """Each company's ``updatedAt`` (batch read); {} for deals, whose confirmed
        properties only sheetloop writes."""
        if stream.name != CUSTOMERS_STREAM.name:
            return {}
        found: dict[str, str] = {}
        for answer in self._batch("companies", "read", [{"id": i} for i in record_ids]):
            for record in answer.results:
                found[str(record["id"])] = str(record.get("updatedAt") or "")
        return found

    def extra_values(self, stream: Stream, values: dict[str, Any]) -> dict[str, Any]:
        """The confirmed date sent with an allocation result: a moved ship date alone
        makes the row changed."""
        if stream.name != RESULTS_STREAM.name:
            return {}
        return {"Confirmed Date": self._confirmed.get(text_value(values.get("Demand")) or "")}

    def send(self, stream: Stream, rows: Sequence[PushRow]) -> list[Sent]:
        """Send ``rows`` in batches of at most 100."""
        if stream.name == RESULTS_STREAM.name:
            return self._send_results(rows)
        return self._send_customers(rows)

    def _send_customers(self, rows: Sequence[PushRow]) -> list[Sent]:
        sent: list[Sent] = []
        updates: list[tuple[PushRow, dict[str, Any]]] = []
        creates: list[tuple[PushRow, dict[str, Any]]] = []
        key = self.options.key_property
        for row in rows:
            props = company_properties(row.values, self.options)
            if row.record_id is not None:
                updates.append((row, {"id": row.record_id, "properties": props}))
            elif key not in props:
                sent.append(Sent(row.index, error="no Customer code to find the company by"))
            else:
                code = props.pop(key)
                creates.append((row, {"idProperty": key, "id": code, "properties": props}))
        try:
            sent += self._write("companies", "update", updates, by=lambda r: str(r["id"]))
            sent += self._write(
                "companies",
                "upsert",
                creates,
                by=lambda r: text_value((r.get("properties") or {}).get(key)) or "",
            )
        except PartialSendError as exc:
            raise PartialSendError(str(exc), sent + exc.sent) from exc
        return sent

    def _send_results(self, rows: Sequence[PushRow]) -> list[Sent]:
        updates: list[tuple[PushRow, dict[str, Any]]] = []
        for row in rows:
            demand = text_value(row.values.get("Demand")) or ""
            deal = self._deals.get(demand)
            if deal is None:
                # Not a forecast row pulled from this connection's deals: left alone, so
                # it stays pending (and counted as such by a dry run).
                continue
            qty = hubspot_number(row.values.get("Allocated"))
            props = {self.options.confirmed_qty_property: number_text(qty or 0.0)}
            if self._send_dates:
                # "" clears the date of a deal that no longer gets anything.
                props[self.options.confirmed_date_property] = self._confirmed.get(demand, "")
            updates.append((row, {"id": deal, "properties": props}))
        return self._write("deals", "update", updates, by=lambda r: str(r["id"]))

    def _write(
        self,
        object_type: str,
        action: str,
        pending: Sequence[tuple[PushRow, dict[str, Any]]],
        *,
        by: Callable[[dict[str, Any]], str],
    ) -> list[Sent]:
        """One batch call per 100 inputs; each row's outcome from the record or error
        the answer has for it (``by`` gives a result's match key: its id, or its value of
        the upsert's unique property)."""
        sent: list[Sent] = []
        for chunk in _chunks(pending, BATCH_LIMIT):
            inputs = [payload for _, payload in chunk]
            try:
                answer = next(self._batch(object_type, action, inputs))
            except ExternalSystemError as exc:
                # The batches before this one were taken: say so, so they are recorded.
                raise PartialSendError(str(exc), sent) from exc
            found = {by(record): record for record in answer.results}
            for row, payload in chunk:
                wanted = str(payload["id"])
                record = found.get(wanted)
                if record is not None:
                    sent.append(
                        Sent(
                            row.index,
                            record_id=str(record["id"]),
                            version=str(record.get("updatedAt") or "") or None,
                        )
                    )
                else:
                    error = redact_resolved(
                        answer.errors.get(wanted, "HubSpot did not confirm this record")
                    )
                    sent.append(Sent(row.index, error=error))
        return sent

    def _batch(
        self,
        object_type: str,
        action: str,
        inputs: Sequence[dict[str, Any]],
        *,
        properties: Sequence[str] | None = None,
    ) -> Iterator[_BatchAnswer]:
        """POST ``batch/<action>`` per 100 inputs. Reads, updates and upserts are safe to
        repeat, so the HTTP layer may retry them after a lost connection."""
        for chunk in _chunks(inputs, BATCH_LIMIT):
            body: dict[str, Any] = {"inputs": list(chunk)}
            if action == "read":
                body["properties"] = list(properties or [])
            data = self.session.request_json(
                "POST",
                f"{OBJECTS}/{object_type}/batch/{action}",
                json=body,
                idempotent=action in ("read", "update", "upsert"),
            )
            yield _answer(data)

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()


def _answer(data: Any) -> _BatchAnswer:
    """A batch answer (200, or 207 when some inputs failed) as results and errors by id."""
    answer = _BatchAnswer()
    if not isinstance(data, dict):
        return answer
    answer.results = [r for r in data.get("results") or [] if isinstance(r, dict) and "id" in r]
    for error in data.get("errors") or []:
        if not isinstance(error, dict):
            continue
        said, _ = describe_error(json.dumps(error))
        ids = (error.get("context") or {}).get("ids") or []
        for ident in ids:
            answer.errors[str(ident)] = said
    return answer


def _numeric_first(ident: str) -> tuple[int, str]:
    return (int(ident), "") if ident.isdigit() else (0, ident)


def _column_index(raw: RawTable) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, header in enumerate(raw.headers):
        index.setdefault(header_key(header), i)
    return index


def _cell(row: list[Any], index: Mapping[str, int], column: str) -> Any:
    i = index.get(header_key(column))
    return row[i] if i is not None and i < len(row) else None


def _deal_of_demand(raw: RawTable | None, connection: str) -> dict[str, str]:
    """Demand id -> deal id, for the ``Demand`` rows pulled from ``connection``."""
    if raw is None:
        return {}
    index = _column_index(raw)
    out: dict[str, str] = {}
    for row in raw.rows:
        origin = text_value(_cell(row, index, ORIGIN))
        demand = text_value(_cell(row, index, "Demand"))
        deal = text_value(_cell(row, index, id_column(connection)))
        if origin and origin.casefold() == connection.casefold() and demand and deal:
            out[demand] = deal
    return out


def _last_ship_dates(raw: RawTable | None) -> tuple[dict[str, str], bool]:
    """Demand id -> the last ``Ship`` date allocated to it (ISO; demands without an
    allocation are absent), and whether ship dates are dates at all (with ``Bucket =
    period`` they are period numbers, which no HubSpot date property can hold)."""
    if raw is None:
        return {}, True
    index = _column_index(raw)
    ship_column = spec_column(ALLOCATION, "Ship")
    out: dict[str, str] = {}
    dates = True
    for row in raw.rows:
        demand = text_value(_cell(row, index, "Demand"))
        qty = hubspot_number(_cell(row, index, "Qty"))
        if demand is None or qty is None or qty <= 0:
            continue
        ship = normalise(_cell(row, index, "Ship"), ship_column)
        if not isinstance(ship, dt.date):
            dates = dates and ship is None
            continue
        out[demand] = max(out.get(demand, ""), ship.isoformat())
    return out, dates
