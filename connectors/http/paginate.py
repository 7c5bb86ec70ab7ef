"""Paginators: small state machines that say which request fetches the next page.

Every paginator follows one protocol: :meth:`Paginator.first_request` turns the caller's
query parameters into those of the first page, and :meth:`Paginator.next_request` looks at a
page's response and records and answers the next page's parameters (same path), an absolute
URL to follow, or ``None`` when there is no next page. None of them can loop for ever: a page
token or next link seen twice, a page identical to the one before it, or more than
``max_pages`` pages stops the walk with an :class:`ExternalSystemError`.
:func:`paginate` drives one over an :class:`HttpSession`.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urljoin

import requests

from sheetloop.connectors.http.session import HttpSession
from sheetloop.errors import ExternalSystemError, UsageError

Params = dict[str, Any]
#: What :meth:`Paginator.next_request` answers: next page's params, a URL, or no next page.
NextRequest = Params | str | None

DEFAULT_MAX_PAGES = 10_000
_MISSING = object()


class PaginationError(ExternalSystemError):
    """The API's pages would never end (a repeated token or link, too many pages)."""


def json_path(body: Any, path: str, default: Any = None) -> Any:
    """The value at a dotted ``path`` (``"paging.next.after"``, ``"data.0.id"``) in a JSON
    body; the body itself for an empty path; ``default`` when any step is missing."""
    value = body
    for step in path.split(".") if path else ():
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return default
    return value


def _shown(token: str) -> str:
    return repr(token if len(token) <= 40 else token[:37] + "...")


class Paginator(ABC):
    """Base of every paginator: the loop guards, and the state reset by
    :meth:`first_request`, so one paginator object can walk a listing again."""

    def __init__(self, *, max_pages: int = DEFAULT_MAX_PAGES) -> None:
        if max_pages < 1:
            raise UsageError(f"Paging: max_pages must be 1 or more, not {max_pages}.")
        self.max_pages = max_pages
        self._reset({})

    def _reset(self, params: Mapping[str, Any]) -> None:
        self._base: Params = dict(params)
        self.pages = 1
        self._previous: str | None = None
        self._seen: set[str] = set()
        self._largest = 0

    def first_request(self, params: Mapping[str, Any]) -> Params:
        """The first page's query parameters, from the caller's ``params``."""
        self._reset(params)
        return {**self._base, **self._first()}

    def next_request(
        self, response: requests.Response, records: list[Any], *, body: Any = None
    ) -> NextRequest:
        """The next page's params (same path) or absolute URL, or ``None`` after the last
        page. ``body`` is the parsed response when the caller has it already."""
        if records:
            digest = hashlib.sha1(
                json.dumps(records, sort_keys=True, default=str).encode(), usedforsecurity=False
            ).hexdigest()
            if digest == self._previous:
                raise PaginationError(
                    f"the API returned page {self.pages} with the same records as the page "
                    f"before it: stopping to avoid an endless loop (does it ignore the "
                    f"paging parameters?)"
                )
            self._previous = digest
        self._largest = max(self._largest, len(records))
        nxt = self._next(response, records, body)
        if nxt is not None:
            self.pages += 1
            if self.pages > self.max_pages:
                raise PaginationError(
                    f"the API has more than {self.max_pages} pages: stopping to avoid an "
                    f"endless loop (raise max_pages if the data really is that large)"
                )
        return nxt

    def _first(self) -> Params:
        return {}

    @abstractmethod
    def _next(self, response: requests.Response, records: list[Any], body: Any) -> NextRequest:
        """The next request, loop guards aside."""

    def _short_page(self, records: list[Any], size: int | None) -> bool:
        # A page shorter than asked for is the last one — unless the server caps page sizes
        # below what was asked: then it is the last only when shorter than pages before it.
        return size is not None and len(records) < min(size, self._largest)

    def _once(self, token: str, what: str) -> None:
        if token in self._seen:
            raise PaginationError(
                f"the API returned the same {what} {_shown(token)} twice: stopping to avoid "
                f"an endless loop"
            )
        self._seen.add(token)

    @staticmethod
    def _body(response: requests.Response, body: Any) -> Any:
        return response.json() if body is None else body


class SinglePage(Paginator):
    """An answer that is the whole listing."""

    def _next(self, response: requests.Response, records: list[Any], body: Any) -> NextRequest:
        return None


class PageNumberPaginator(Paginator):
    """``?page=1``, ``?page=2``... until an empty page, the page count found at
    ``total_pages_path``, or (with ``size``) a short page. ``size_param`` asks for ``size``
    records per page."""

    def __init__(
        self,
        param: str = "page",
        *,
        start: int = 1,
        size_param: str | None = None,
        size: int | None = None,
        total_pages_path: str | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        if size_param and not size:
            raise UsageError(f"Paging: size_param {size_param!r} needs a page size (size=).")
        self.param = param
        self.start = start
        self.size_param = size_param
        self.size = size
        self.total_pages_path = total_pages_path
        super().__init__(max_pages=max_pages)

    def _first(self) -> Params:
        self._page = self.start
        return self._params()

    def _params(self) -> Params:
        params = {**self._base, self.param: self._page}
        if self.size_param:
            params[self.size_param] = self.size
        return params

    def _next(self, response: requests.Response, records: list[Any], body: Any) -> NextRequest:
        if not records:
            return None
        if self.total_pages_path:
            total = json_path(self._body(response, body), self.total_pages_path)
            if isinstance(total, int | float | str) and str(total).strip().isdigit():
                if self._page - self.start + 1 >= int(total):
                    return None
            elif self._short_page(records, self.size):
                return None
        elif self._short_page(records, self.size):
            return None
        self._page += 1
        return self._params()


class OffsetPaginator(Paginator):
    """``?offset=0&limit=100``, then ``offset=100``... The offset advances by the records
    received (a server may send fewer than asked), until an empty or short page or the
    total found at ``total_path``."""

    def __init__(
        self,
        offset_param: str = "offset",
        limit_param: str = "limit",
        limit: int = 100,
        *,
        start: int = 0,
        total_path: str | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        if limit < 1:
            raise UsageError(f"Paging: the page size (limit) must be 1 or more, not {limit}.")
        self.offset_param = offset_param
        self.limit_param = limit_param
        self.limit = limit
        self.start = start
        self.total_path = total_path
        super().__init__(max_pages=max_pages)

    def _first(self) -> Params:
        self._offset = self.start
        return self._params()

    def _params(self) -> Params:
        return {**self._base, self.offset_param: self._offset, self.limit_param: self.limit}

    def _next(self, response: requests.Response, records: list[Any], body: Any) -> NextRequest:
        if not records:
            return None
        self._offset += len(records)
        total = None
        if self.total_path:
            found = json_path(self._body(response, body), self.total_path)
            if isinstance(found, int | float | str) and str(found).strip().isdigit():
                total = int(found)
        if total is not None:
            if self._offset >= total:
                return None
        elif self._short_page(records, self.limit):
            return None
        return self._params()


class CursorPaginator(Paginator):
    """A next-page token in the JSON body (``paging.next.after`` for HubSpot), sent back
    as the ``param`` query parameter; no token means the last page."""

    def __init__(
        self,
        cursor_path: str = "paging.next.after",
        param: str = "after",
        *,
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> None:
        self.cursor_path = cursor_path
        self.param = param
        super().__init__(max_pages=max_pages)

    def _next(self, response: requests.Response, records: list[Any], body: Any) -> NextRequest:
        token = json_path(self._body(response, body), self.cursor_path)
        if token is None or token == "" or token is False:
            return None
        self._once(str(token), "page token")
        return {**self._base, self.param: token}


class LinkHeaderPaginator(Paginator):
    """RFC 8288 ``Link: <url>; rel="next"`` headers (GitHub, GitLab, many REST APIs)."""

    def __init__(self, rel: str = "next", *, max_pages: int = DEFAULT_MAX_PAGES) -> None:
        self.rel = rel.lower()
        super().__init__(max_pages=max_pages)

    def _next(self, response: requests.Response, records: list[Any], body: Any) -> NextRequest:
        link = parse_link_header(response.headers.get("Link", "")).get(self.rel)
        if not link:
            return None
        url = urljoin(response.url, link)  # Relative links resolve against the request URL.
        self._once(url, "next link")
        return url


def parse_link_header(value: str) -> dict[str, str]:
    """The targets of an RFC 8288 ``Link`` header by relation type (lower case); a link with
    ``rel="next last"`` counts for both, and the first link of a relation wins."""
    links: dict[str, str] = {}
    i, n = 0, len(value)
    while i < n:
        start = value.find("<", i)
        if start < 0:
            break
        end = value.find(">", start)
        if end < 0:
            break
        target = value[start + 1 : end].strip()
        i = end + 1
        rels: list[str] = []
        while True:
            while i < n and value[i] in " \t":
                i += 1
            if i >= n or value[i] != ";":
                break
            i += 1
            name_end = i
            while name_end < n and value[name_end] not in "=;,":
                name_end += 1
            name = value[i:name_end].strip().lower()
            i = name_end
            param = ""
            if i < n and value[i] == "=":
                i += 1
                while i < n and value[i] in " \t":
                    i += 1
                if i < n and value[i] == '"':
                    i += 1
                    chars: list[str] = []
                    while i < n and value[i] != '"':
                        if value[i] == "\\" and i + 1 < n:
                            i += 1
                        chars.append(value[i])
                        i += 1
                    i += 1
                    param = "".join(chars)
                else:
                    param_end = i
                    while param_end < n and value[param_end] not in ";,":
                        param_end += 1
                    param = value[i:param_end].strip()
                    i = param_end
            if name == "rel" and not rels:  # RFC 8288 §3.3: only the first rel counts.
                rels = param.lower().split()
        for rel in rels:
            links.setdefault(rel, target)
        comma = value.find(",", i)
        if comma < 0:
            break
        i = comma + 1
    return links


def paginate(
    session: HttpSession,
    path: str,
    *,
    paginator: Paginator,
    params: Mapping[str, Any] | None = None,
    record_path: str = "results",
) -> Iterator[list[dict[str, Any]]]:
    """GET ``path`` page after page as ``paginator`` says, yielding each non-empty page's
    records: the list at the dotted ``record_path`` of the JSON body (``""``: the body is
    the list). The next page is requested only when the consumer asks for it."""
    target = path
    query: Params | None = paginator.first_request(params or {})
    while True:
        response = session.request("GET", target, params=query)
        body = session.decode_json(response)
        records = json_path(body, record_path, _MISSING)
        where = f"'{record_path}' in the answer" if record_path else "the answer"
        if records is _MISSING or not isinstance(records, list):
            found = "nothing" if records is _MISSING else type(records).__name__
            raise session.failure(
                "GET",
                response.url,
                f"answered without a list of records at {where} (found {found}): check the "
                f"record path of this listing.",
            )
        if not all(isinstance(record, dict) for record in records):
            raise session.failure(
                "GET",
                response.url,
                f"answered with {where} holding something other than records (JSON "
                f"objects): check the record path of this listing.",
            )
        if records:
            yield records
        try:
            nxt = paginator.next_request(response, records, body=body)
        except PaginationError as exc:
            what = f"(page {paginator.pages}): {exc}."
            raise session.failure("GET", response.url, what) from None
        if nxt is None:
            return
        if isinstance(nxt, str):
            target, query = nxt, None
        else:
            target, query = path, nxt
