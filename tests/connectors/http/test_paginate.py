"""Every paginator returns each record exactly once, and none of them loops for ever."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from support.loopback_http import LoopbackServer, Reply, loopback_server

from sheetloop.connectors.http import (
    ApiKeyAuth,
    CursorPaginator,
    HttpSession,
    LinkHeaderPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    Paginator,
    RetryPolicy,
    Secret,
    SinglePage,
    json_path,
    paginate,
    parse_link_header,
)
from sheetloop.errors import ExternalSystemError

RECORDS = [{"id": i, "name": f"item {i}"} for i in range(1, 24)]  # 23: the last page is short


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with loopback_server() as running:
        yield running


@pytest.fixture
def session(server) -> Iterator[HttpSession]:
    with HttpSession(server.url, name="crm", retry=RetryPolicy(max_attempts=1)) as s:
        yield s


def ids(pages) -> list[int]:
    return [record["id"] for page in pages for record in page]


def walk(session, path, paginator, **kwargs) -> list[int]:
    return ids(paginate(session, path, paginator=paginator, **kwargs))


# --- page numbers --------------------------------------------------------------------


def page_numbers(request) -> Reply:
    page, size = int(request.arg("page")), int(request.arg("per_page") or 5)
    chunk = RECORDS[(page - 1) * size : page * size]
    return Reply(200, {"results": chunk, "total_pages": -(-len(RECORDS) // size)})


def test_page_numbers_with_a_page_count_fetch_exactly_that_many_pages(server, session):
    server.route("GET", "/items", page_numbers)
    paginator = PageNumberPaginator(size_param="per_page", size=5, total_pages_path="total_pages")
    assert walk(session, "/items", paginator) == [r["id"] for r in RECORDS]
    assert [r.arg("page") for r in server.requests_to("/items")] == ["1", "2", "3", "4", "5"]
    assert {r.arg("per_page") for r in server.requests_to("/items")} == {"5"}


def test_page_numbers_with_a_page_size_stop_after_a_short_page(server, session):
    server.route("GET", "/items", page_numbers)
    paginator = PageNumberPaginator(size_param="per_page", size=5)
    assert walk(session, "/items", paginator) == [r["id"] for r in RECORDS]
    assert len(server.requests_to("/items")) == 5


def test_page_numbers_alone_stop_at_the_first_empty_page(server, session):
    server.route("GET", "/items", page_numbers)
    assert walk(session, "/items", PageNumberPaginator()) == [r["id"] for r in RECORDS]
    assert len(server.requests_to("/items")) == 6


def test_a_server_that_ignores_the_page_number_is_stopped(server, session):
    server.replies("GET", "/items", Reply(200, {"results": RECORDS[:5]}))
    with pytest.raises(ExternalSystemError) as caught:
        walk(session, "/items", PageNumberPaginator())
    assert "same records as the page before" in str(caught.value)
    assert "endless loop" in str(caught.value)
    assert len(server.requests_to("/items")) == 2


# --- offsets -------------------------------------------------------------------------


def offsets(cap: int, with_total: bool):
    def handler(request) -> Reply:
        offset, limit = int(request.arg("offset")), int(request.arg("limit"))
        body = {"items": RECORDS[offset : offset + min(limit, cap)]}
        if with_total:
            body["meta"] = {"total": len(RECORDS)}
        return Reply(200, body)

    return handler


def test_offsets_with_a_total_stop_when_it_is_reached(server, session):
    server.route("GET", "/items", offsets(cap=10, with_total=True))
    paginator = OffsetPaginator(limit=10, total_path="meta.total")
    assert walk(session, "/items", paginator, record_path="items") == [r["id"] for r in RECORDS]
    assert [r.arg("offset") for r in server.requests_to("/items")] == ["0", "10", "20"]


def test_offsets_advance_by_what_came_when_the_server_caps_the_page_size(server, session):
    server.route("GET", "/items", offsets(cap=10, with_total=False))
    paginator = OffsetPaginator(limit=50)
    assert walk(session, "/items", paginator, record_path="items") == [r["id"] for r in RECORDS]
    assert [r.arg("offset") for r in server.requests_to("/items")] == ["0", "10", "20"]


def test_offsets_with_a_short_first_page_check_once_more_before_stopping(server, session):
    server.route("GET", "/items", offsets(cap=7, with_total=False))
    # 7 of 50 may be a cap or the end: one more page tells, and the cap is then known.
    got = walk(session, "/items", OffsetPaginator(limit=50), record_path="items")
    assert got == [r["id"] for r in RECORDS]
    assert [r.arg("offset") for r in server.requests_to("/items")] == ["0", "7", "14", "21"]


# --- cursors -------------------------------------------------------------------------


def hubspot_like(request) -> Reply:
    """HubSpot CRM v3 style: opaque ``after`` tokens in ``paging.next.after``."""
    after = request.arg("after")
    start = int(base64.b64decode(after)) if after else 0
    limit = int(request.arg("limit") or 10)
    body: dict = {"results": RECORDS[start : start + limit]}
    if start + limit < len(RECORDS):
        token = base64.b64encode(str(start + limit).encode()).decode()
        body["paging"] = {"next": {"after": token, "link": "?after=" + token}}
    return Reply(200, body)


def test_a_cursor_in_the_body_is_followed_to_the_last_page(server, session):
    server.route("GET", "/crm/v3/objects/contacts", hubspot_like)
    got = walk(
        session,
        "/crm/v3/objects/contacts",
        CursorPaginator(),
        params={"limit": 10, "properties": "email"},
    )
    assert got == [r["id"] for r in RECORDS]
    sent = server.requests_to("/crm/v3/objects/contacts")
    assert len(sent) == 3
    assert all(r.arg("properties") == "email" and r.arg("limit") == "10" for r in sent)
    assert sent[0].arg("after") is None and sent[1].arg("after") is not None


def test_a_repeated_cursor_is_stopped_with_a_clear_error(server, session):
    stuck = {"results": RECORDS[:3], "paging": {"next": {"after": "MTA="}}}
    server.replies(
        "GET", "/contacts", Reply(200, stuck), Reply(200, stuck | {"results": RECORDS[3:6]})
    )
    with pytest.raises(ExternalSystemError) as caught:
        walk(session, "/contacts", CursorPaginator())
    message = str(caught.value)
    assert "the API returned the same page token 'MTA=' twice" in message
    assert "stopping to avoid an endless loop" in message
    assert message.startswith("Connection 'crm': GET ")
    assert len(server.requests_to("/contacts")) == 2


# --- Link headers --------------------------------------------------------------------


def linked(request) -> Reply:
    page = int(request.arg("page") or 1)
    last = 5
    links = ['</items?page=1>; rel="first"', f'<{request.path}?page={last}>; rel="last"']
    if page > 1:
        links.append(f"</items?page={page - 1}>; rel=prev")
    if page < last:
        links.append(f'</items?page={page + 1}>; rel="next"')
    return Reply(200, RECORDS[(page - 1) * 5 : page * 5], {"Link": ", ".join(links)})


def test_link_headers_are_followed_through_next_among_other_relations(server, session):
    server.route("GET", "/items", linked)
    got = walk(session, "/items", LinkHeaderPaginator(), record_path="")
    assert got == [r["id"] for r in RECORDS]
    assert [r.arg("page") for r in server.requests_to("/items")] == [None, "2", "3", "4", "5"]


def test_a_next_link_pointing_back_is_stopped_and_its_key_is_masked(server):
    key = "lk-5e6f7a8b9c0d1e2f"
    server.replies(
        "GET",
        "/items",
        Reply(200, RECORDS[:2], {"Link": f'</items?page=2&key={key}>; rel="next"'}),
        Reply(200, RECORDS[2:4], {"Link": f'</items?page=2&key={key}>; rel="next"'}),
    )
    auth = ApiKeyAuth(Secret(key), query="key")
    with (
        HttpSession(server.url, name="shop", auth=auth) as session,
        pytest.raises(ExternalSystemError) as caught,
    ):
        walk(session, "/items", LinkHeaderPaginator(), record_path="")
    message = str(caught.value)
    assert "the same next link" in message and "endless loop" in message
    assert key not in message


def test_link_header_parsing_knows_several_relations_and_their_forms():
    header = (
        '<https://api.example.com/items?page=3&sort=a,b>; rel="next last", '
        '</items?page=1>; title="first, really"; rel=first, '
        '<https://api.example.com/items?page=1>; rel="prev"; rel="ignored", '
        '<https://elsewhere/next>; REL="NEXT"'
    )
    assert parse_link_header(header) == {
        "next": "https://api.example.com/items?page=3&sort=a,b",
        "last": "https://api.example.com/items?page=3&sort=a,b",
        "first": "/items?page=1",
        "prev": "https://api.example.com/items?page=1",
    }


@pytest.mark.parametrize("header", ["", "garbage", "<https://x/a>", "<https://x/a>; rel"])
def test_link_headers_without_relations_yield_nothing(header):
    assert parse_link_header(header) == {}


# --- the driver and guards ------------------------------------------------------------


def test_a_single_page_is_one_request(server, session):
    server.replies("GET", "/items", Reply(200, {"data": {"rows": RECORDS}}))
    assert walk(session, "/items", SinglePage(), record_path="data.rows") == [
        r["id"] for r in RECORDS
    ]
    assert len(server.requests_to("/items")) == 1


def test_the_next_page_is_fetched_only_when_asked_for(server, session):
    server.route("GET", "/crm/v3/objects/contacts", hubspot_like)
    pages = paginate(session, "/crm/v3/objects/contacts", paginator=CursorPaginator())
    assert [r["id"] for r in next(pages)] == list(range(1, 11))
    assert len(server.requests_to("/crm/v3/objects/contacts")) == 1


def test_a_paginator_can_walk_a_listing_again(server, session):
    server.route("GET", "/crm/v3/objects/contacts", hubspot_like)
    paginator = CursorPaginator()
    first = walk(session, "/crm/v3/objects/contacts", paginator)
    assert walk(session, "/crm/v3/objects/contacts", paginator) == first == list(range(1, 24))


def test_more_pages_than_max_pages_is_stopped(server, session):
    server.route("GET", "/crm/v3/objects/contacts", hubspot_like)
    with pytest.raises(ExternalSystemError, match=r"more than 2 pages.*raise max_pages"):
        walk(session, "/crm/v3/objects/contacts", CursorPaginator(max_pages=2))
    assert len(server.requests_to("/crm/v3/objects/contacts")) == 2


def test_a_missing_record_path_is_a_clear_error(server, session):
    server.replies("GET", "/items", Reply(200, {"data": []}))
    with pytest.raises(ExternalSystemError, match="without a list of records") as caught:
        walk(session, "/items", SinglePage(), record_path="results")
    assert "'results'" in str(caught.value) and "found nothing" in str(caught.value)


def test_records_that_are_not_objects_are_a_clear_error(server, session):
    server.replies("GET", "/items", Reply(200, {"results": [1, 2]}))
    with pytest.raises(ExternalSystemError, match="other than records"):
        walk(session, "/items", SinglePage())


def test_json_paths_walk_objects_and_list_indices():
    body = {"paging": {"next": {"after": "x"}}, "data": [{"id": 7}]}
    assert json_path(body, "paging.next.after") == "x"
    assert json_path(body, "data.0.id") == 7
    assert json_path(body, "data.1.id", "none") == "none"
    assert json_path(body, "") is body


def test_every_paginator_follows_the_common_protocol():
    for paginator in (
        SinglePage(),
        PageNumberPaginator(),
        OffsetPaginator(),
        CursorPaginator(),
        LinkHeaderPaginator(),
    ):
        assert isinstance(paginator, Paginator)
        first = paginator.first_request({"q": "x"})
        assert first["q"] == "x"
