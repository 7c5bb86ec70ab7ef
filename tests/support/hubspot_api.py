"""An imitation of HubSpot's CRM objects API (v3) on 127.0.0.1, for connector tests.

HubSpot cannot run here, so this serves what HubSpot documents for its CRM objects
(developers.hubspot.com: the Companies and Deals API references, "Batch" endpoints, "Error
handling" and "API usage guidelines and limits"), in memory:

- ``GET /crm/v3/objects/{companies|deals}``: ``limit`` (default 10, at most 100; more is a
  400), ``after`` (the cursor of ``paging.next.after``: the id the next page starts at),
  ``properties`` (comma-separated; only those come back, plus ``hs_object_id``,
  ``createdate`` and ``hs_lastmodifieddate``), ``associations=companies`` on deals
  (``{"companies": {"results": [{"id", "type": "deal_to_company"}]}}``); archived records
  are left out.
- ``POST /crm/v3/objects/{type}/batch/read|create|update|upsert`` with ``{"inputs": [...]}``
  of at most 100 inputs (more: 400 ``VALIDATION_ERROR``); the answer is ``{"status":
  "COMPLETE", "results", "startedAt", "completedAt"}`` (201 for create), or 207 with
  ``errors`` and ``numErrors`` when some inputs name no record (``OBJECT_NOT_FOUND``, the
  ids in ``context.ids``). Upsert finds records by the unique property ``idProperty`` and
  says ``"new"`` of each result.
- Property values are strings; every write moves ``updatedAt`` and
  ``hs_lastmodifieddate``. A property given options (a dropdown) refuses any other value
  with a 400 ``VALIDATION_ERROR`` for the whole batch.
- ``Authorization: Bearer <private app token>``: anything else is a 401 with the
  ``INVALID_AUTHENTICATION`` body HubSpot sends.
- On demand, a rate limit: the next N calls answer 429 with ``Retry-After`` and the
  ``RATE_LIMIT`` body (``policyName: TEN_SECONDLY_ROLLING``).
- Error bodies have HubSpot's shape: ``{"status": "error", "message", "correlationId",
  "category"}``.

Every request is recorded by the underlying :class:`LoopbackServer`.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from support.loopback_http import LoopbackServer, Received, Reply, loopback_server

OBJECT_TYPES = ("companies", "deals")
BATCH_ACTIONS = ("read", "create", "update", "upsert")
BATCH_LIMIT = 100
PAGE_LIMIT = 100
DEFAULT_PAGE = 10
_SINGULAR = {"companies": "COMPANY", "deals": "DEAL"}
# The type HubSpot names a deal's primary association with a record of each kind.
_ASSOCIATION = {"companies": "deal_to_company"}
_DEFAULT_PROPERTIES = {
    "companies": ("name", "domain"),
    "deals": ("dealname", "amount", "closedate", "pipeline", "dealstage"),
}
_ALWAYS = ("hs_object_id", "createdate", "hs_lastmodifieddate")
_START = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)


@dataclass
class CrmObject:
    """One record: HubSpot keeps every property value as text."""

    id: str
    properties: dict[str, str]
    created_at: str
    updated_at: str
    associations: dict[str, list[str]] = field(default_factory=dict)
    archived: bool = False

    def view(self, wanted: list[str] | None, object_type: str) -> dict[str, Any]:
        """The record as the API shows it, with the properties asked for."""
        names = list(_DEFAULT_PROPERTIES[object_type]) if wanted is None else wanted
        props = {n: self.properties.get(n) for n in (*names, *_ALWAYS)}
        return {
            "id": self.id,
            "properties": props,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "archived": self.archived,
        }


def error_body(message: str, category: str, **extra: Any) -> dict[str, Any]:
    """An error in HubSpot's documented shape."""
    return {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }


class HubSpotApi:
    """The imitation: records by type, the token it accepts, and the server's requests."""

    def __init__(self, server: LoopbackServer, token: str) -> None:
        self.server = server
        self.token = token
        self.objects: dict[str, dict[str, CrmObject]] = {t: {} for t in OBJECT_TYPES}
        self.options: dict[tuple[str, str], tuple[str, ...]] = {}
        self._lock = threading.Lock()
        self._next_id = {"companies": 1001, "deals": 5001}
        self._ticks = 0
        self._throttled = 0
        self._retry_after = "1"
        self._throttled_path = ""
        for object_type in OBJECT_TYPES:
            server.route("GET", f"/crm/v3/objects/{object_type}", self._lister(object_type))
            for action in BATCH_ACTIONS:
                server.route(
                    "POST",
                    f"/crm/v3/objects/{object_type}/batch/{action}",
                    self._batcher(object_type, action),
                )

    @property
    def url(self) -> str:
        return self.server.url

    # -- what a test does in "HubSpot" ---------------------------------------------------

    def add_company(self, **properties: Any) -> str:
        """Create a company (as a HubSpot user would); its id."""
        with self._lock:
            return self._create("companies", properties).id

    def add_deal(self, company: str | None = None, **properties: Any) -> str:
        """Create a deal, associated with ``company`` when given; its id."""
        with self._lock:
            deal = self._create("deals", properties)
            if company is not None:
                deal.associations["companies"] = [company]
            return deal.id

    def edit(self, object_type: str, object_id: str, **properties: Any) -> None:
        """Change a record in HubSpot (its ``updatedAt`` moves)."""
        with self._lock:
            self._update(self.objects[object_type][object_id], properties)

    def archive(self, object_type: str, object_id: str) -> None:
        """Delete a record in HubSpot (archived records are neither listed nor found)."""
        with self._lock:
            self.objects[object_type][object_id].archived = True

    def get(self, object_type: str, object_id: str) -> CrmObject:
        return self.objects[object_type][object_id]

    def find(self, object_type: str, prop: str, value: str) -> CrmObject | None:
        """The record whose ``prop`` is ``value``."""
        return next(
            (o for o in self.objects[object_type].values() if o.properties.get(prop) == value),
            None,
        )

    def dropdown(self, object_type: str, prop: str, *options: str) -> None:
        """Make ``prop`` an enumeration that accepts only ``options``."""
        self.options[(object_type, prop)] = options

    def rate_limit(self, calls: int, retry_after: int = 1, *, path: str = "") -> None:
        """Answer the next ``calls`` requests (to paths ending with ``path``, when given)
        with 429 and ``Retry-After``."""
        with self._lock:
            self._throttled = calls
            self._retry_after = str(retry_after)
            self._throttled_path = path

    def batch_calls(self, object_type: str, action: str) -> list[Received]:
        """The ``batch/<action>`` requests received for ``object_type``, in order."""
        return self.server.requests_to(f"/crm/v3/objects/{object_type}/batch/{action}", "POST")

    def posts(self) -> list[Received]:
        """Every POST received."""
        return [r for r in self.server.received if r.method == "POST"]

    def lists(self, object_type: str) -> list[Received]:
        """The list (GET) requests received for ``object_type``."""
        return self.server.requests_to(f"/crm/v3/objects/{object_type}", "GET")

    # -- the API -----------------------------------------------------------------------

    def _now(self) -> str:
        self._ticks += 1
        stamp = _START + dt.timedelta(seconds=self._ticks, milliseconds=self._ticks % 1000)
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"

    def _create(self, object_type: str, properties: Mapping[str, Any]) -> CrmObject:
        ident = str(self._next_id[object_type])
        self._next_id[object_type] += 1
        now = self._now()
        record = CrmObject(ident, {}, now, now)
        self.objects[object_type][ident] = record
        record.properties.update(
            {"hs_object_id": ident, "createdate": now, "hs_lastmodifieddate": now}
        )
        record.properties.update({k: _text(v) for k, v in properties.items()})
        return record

    def _update(self, record: CrmObject, properties: Mapping[str, Any]) -> None:
        record.properties.update({k: _text(v) for k, v in properties.items()})
        record.updated_at = self._now()
        record.properties["hs_lastmodifieddate"] = record.updated_at

    def _guard(self, request: Received, answer: Callable[[], Reply]) -> Reply:
        if request.header("Authorization") != f"Bearer {self.token}":
            return Reply(
                401,
                error_body(
                    "Authentication credentials not found. This API supports OAuth 2.0 "
                    "authentication and you can find more details at "
                    "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                    "INVALID_AUTHENTICATION",
                ),
            )
        with self._lock:
            if self._throttled > 0 and request.path.endswith(self._throttled_path):
                self._throttled -= 1
                body = error_body("You have reached your ten_secondly_rolling limit.", "")
                del body["category"]
                body |= {"errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}
                return Reply(
                    429,
                    body,
                    {
                        "Retry-After": self._retry_after,
                        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                        "X-HubSpot-RateLimit-Max": "100",
                        "X-HubSpot-RateLimit-Remaining": "0",
                    },
                )
            return answer()

    def _lister(self, object_type: str) -> Callable[[Received], Reply]:
        return lambda request: self._guard(request, lambda: self._list(object_type, request))

    def _batcher(self, object_type: str, action: str) -> Callable[[Received], Reply]:
        return lambda request: self._guard(
            request, lambda: self._batch(object_type, action, request)
        )

    def _list(self, object_type: str, request: Received) -> Reply:
        try:
            limit = int(request.arg("limit") or DEFAULT_PAGE)
            after = request.arg("after")
            start = int(after) if after is not None else None
        except ValueError:
            return Reply(400, error_body("limit and after must be numbers", "VALIDATION_ERROR"))
        if not 1 <= limit <= PAGE_LIMIT:
            return Reply(
                400,
                error_body(
                    f"The limit must be between 1 and {PAGE_LIMIT}; it was {limit}",
                    "VALIDATION_ERROR",
                ),
            )
        wanted = _names(request.query.get("properties"))
        associations = _names(request.query.get("associations")) or []
        records = sorted(
            (o for o in self.objects[object_type].values() if not o.archived),
            key=lambda o: int(o.id),
        )
        if start is not None:
            records = [o for o in records if int(o.id) >= start]
        page, rest = records[:limit], records[limit:]
        results = []
        for record in page:
            shown = record.view(wanted, object_type)
            links = {
                kind: {"results": [{"id": i, "type": _ASSOCIATION[kind]} for i in ids]}
                for kind, ids in record.associations.items()
                if kind in associations and ids
            }
            if links:
                shown["associations"] = links
            results.append(shown)
        body: dict[str, Any] = {"results": results}
        if rest:
            link = f"{self.url}/crm/v3/objects/{object_type}?limit={limit}&after={rest[0].id}"
            body["paging"] = {"next": {"after": rest[0].id, "link": link}}
        return Reply(200, body)

    def _batch(self, object_type: str, action: str, request: Received) -> Reply:
        try:
            data = request.json()
        except ValueError:
            return Reply(400, error_body("Invalid input JSON on line 1", "VALIDATION_ERROR"))
        inputs = data.get("inputs") if isinstance(data, dict) else None
        if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
            return Reply(400, error_body("inputs must be a list of objects", "VALIDATION_ERROR"))
        if len(inputs) > BATCH_LIMIT:
            return Reply(
                400,
                error_body(
                    f"The maximum number of inputs supported in a batch request is "
                    f"{BATCH_LIMIT}. Please reduce the number of items and try again",
                    "VALIDATION_ERROR",
                ),
            )
        if action != "read":
            refused = self._invalid(object_type, inputs)
            if refused is not None:
                return refused
        started = self._stamp()
        results: list[dict[str, Any]] = []
        missing: list[str] = []
        wanted = _names(data.get("properties")) if action == "read" else None
        for item in inputs:
            props = item.get("properties") or {}
            if action == "create":
                record = self._create(object_type, props)
                results.append(record.view(list(props), object_type))
                continue
            if action == "upsert":
                key, value = str(item.get("idProperty") or ""), str(item.get("id") or "")
                found = self.find(object_type, key, value) if key and value else None
                if found is None:
                    record = self._create(object_type, {**props, key: value})
                else:
                    record = found
                    self._update(record, props)
                shown = record.view([*props, key], object_type)
                results.append({**shown, "new": found is None})
                continue
            match = self.objects[object_type].get(str(item.get("id")))
            if match is None or match.archived:
                missing.append(str(item.get("id")))
                continue
            if action == "update":
                self._update(match, props)
                results.append(match.view(list(props), object_type))
            else:
                results.append(match.view(wanted or [], object_type))
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": self._stamp(),
        }
        if missing:
            body["errors"] = [
                error_body(
                    f"Could not get some {_SINGULAR[object_type]} objects, they may be "
                    f"deleted or not exist. Check that ids are valid.",
                    "OBJECT_NOT_FOUND",
                    context={"ids": missing},
                )
            ]
            body["numErrors"] = 1
            return Reply(207, body)
        return Reply(201 if action == "create" else 200, body)

    def _invalid(self, object_type: str, inputs: list[dict[str, Any]]) -> Reply | None:
        """HubSpot refuses the whole batch when a dropdown gets a value it does not offer."""
        for item in inputs:
            for name, value in (item.get("properties") or {}).items():
                allowed = self.options.get((object_type, name))
                if allowed is not None and _text(value) not in allowed:
                    detail = (
                        f"{_text(value)} was not one of the allowed options: [{', '.join(allowed)}]"
                    )
                    return Reply(
                        400,
                        error_body(
                            f'Property values were not valid: [{{"isValid":false,'
                            f'"message":"{detail}","error":"INVALID_OPTION","name":"{name}"}}]',
                            "VALIDATION_ERROR",
                            errors=[{"message": detail, "code": "INVALID_OPTION", "in": name}],
                        ),
                    )
        return None

    def _stamp(self) -> str:
        return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _names(values: Any) -> list[str] | None:
    """Property names from a query parameter (repeated, comma-separated) or a JSON list."""
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    return [n.strip() for v in values for n in str(v).split(",") if n.strip()]


@contextmanager
def hubspot_api(token: str) -> Iterator[HubSpotApi]:
    """A started imitation that accepts ``token``, shut down on exit."""
    with loopback_server() as server:
        yield HubSpotApi(server, token)
