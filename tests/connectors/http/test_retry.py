"""What is tried again, and how long sheetloop waits first."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from sheetloop.connectors.http import RetryPolicy, parse_retry_after
from sheetloop.errors import UsageError

NOW = 1_800_000_000.0


def policy(**overrides) -> RetryPolicy:
    defaults = {"clock": lambda: NOW, "random": lambda: 1.0, "sleep": lambda s: None}
    return RetryPolicy(**(defaults | overrides))


def test_waits_double_per_attempt_until_the_cap():
    p = policy(backoff=0.5, max_backoff=3.0)
    assert [p.backoff_wait(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.999])
def test_jitter_keeps_each_wait_between_half_and_all_of_its_ceiling(draw):
    p = policy(backoff=1.0, max_backoff=30.0, random=lambda: draw)
    for attempt in range(1, 8):
        ceiling = min(30.0, 2.0 ** (attempt - 1))
        assert ceiling / 2 <= p.backoff_wait(attempt) <= ceiling


def test_retry_after_in_seconds_is_obeyed():
    assert policy().wait_after(1, "2") == 2.0


def test_retry_after_as_an_http_date_counts_from_now():
    date = formatdate(NOW + 7, usegmt=True)
    assert policy().wait_after(1, date) == pytest.approx(7.0, abs=1.0)


def test_retry_after_in_the_past_means_no_wait():
    assert parse_retry_after(formatdate(NOW - 60, usegmt=True), now=NOW) == 0.0


def test_retry_after_is_capped():
    assert policy(max_retry_after=10.0).wait_after(1, "3600") == 10.0


@pytest.mark.parametrize("junk", ["soon", "", "Tuesday", None])
def test_an_unreadable_retry_after_falls_back_to_the_backoff(junk):
    p = policy(backoff=4.0)
    assert p.wait_after(1, junk) == p.backoff_wait(1) == 4.0


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "get"])
def test_idempotent_methods_are_retried_after_a_lost_connection(method):
    assert policy().retries_error(method, attempt=1)


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_other_methods_are_not_retried_after_a_lost_connection(method):
    assert not policy().retries_error(method, attempt=1)


def test_the_caller_can_mark_a_post_idempotent_or_a_get_not():
    p = policy()
    assert p.retries_error("POST", attempt=1, idempotent=True)
    assert not p.retries_error("GET", attempt=1, idempotent=False)


def test_a_connection_that_never_opened_is_retried_for_any_method():
    assert policy().retries_error("POST", attempt=1, sent=False)


@pytest.mark.parametrize("status", [502, 503, 504, 429])
def test_overload_and_gateway_statuses_are_retried_for_a_get(status):
    assert policy().retries_status("GET", status, attempt=1)


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_post_is_not_repeated_after_a_status_that_does_not_rule_out_its_effect(status):
    assert not policy().retries_status("POST", status, attempt=1)
    assert policy().retries_status("POST", status, attempt=1, idempotent=True)


def test_a_post_is_repeated_after_429_as_the_server_did_not_act_on_it():
    assert policy().retries_status("POST", 429, attempt=1)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 500])
def test_client_errors_and_plain_500_are_not_retried(status):
    assert not policy().retries_status("GET", status, attempt=1)


def test_no_retry_after_the_last_attempt():
    p = policy(max_attempts=3)
    assert p.retries_status("GET", 503, attempt=2)
    assert not p.retries_status("GET", 503, attempt=3)
    assert not p.retries_error("GET", attempt=3)


def test_statuses_and_methods_can_be_chosen():
    p = policy(statuses=(500,), methods=("get",))
    assert p.retries_status("GET", 500, attempt=1)
    assert not p.retries_status("GET", 503, attempt=1)
    assert not p.retries_error("DELETE", attempt=1)


@pytest.mark.parametrize(
    "bad", [{"max_attempts": 0}, {"backoff": -1.0}, {"max_backoff": -1}, {"max_retry_after": -5}]
)
def test_a_nonsense_policy_is_refused(bad):
    with pytest.raises(UsageError):
        RetryPolicy(**bad)
