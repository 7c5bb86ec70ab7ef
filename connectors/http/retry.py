"""When to try a request again, and how long to wait first.

A request is sent again only when doing so cannot do a thing twice: idempotent methods
(GET, HEAD, PUT, DELETE, OPTIONS), or any call its caller marks ``idempotent=True`` (a
JSON-RPC read is a POST but changes nothing). A failure before anything was sent (the
connection could not be opened) and HTTP 429 (the server refused to look at the request) are
safe for every method. Waits grow exponentially with jitter, and a server's ``Retry-After``
is obeyed up to a cap.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import requests
from urllib3.exceptions import NewConnectionError

from sheetloop.errors import UsageError

IDEMPOTENT_METHODS: frozenset[str] = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
RETRY_STATUSES: frozenset[int] = frozenset({429, 502, 503, 504})
#: Statuses that promise the request was not acted on, so any method may be sent again.
NOT_ACTED_ON_STATUSES: frozenset[int] = frozenset({429})


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay seconds or an HTTP date), with
    ``now`` the current Unix time; ``None`` when absent or unreadable, never negative."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # An HTTP date is GMT even when it fails to say so.
        return None
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to try a request and how long to wait between tries.

    ``max_attempts`` counts the first try. The wait before retry *n* (1-based) is drawn from
    ``[c/2, c]`` with ``c = min(max_backoff, backoff * 2**(n-1))`` (jitter keeps many
    clients from retrying in step), unless the server sent ``Retry-After``, which is
    followed up to ``max_retry_after`` seconds. ``sleep``, ``clock`` (Unix time) and
    ``random`` are injectable so tests never wait.
    """

    max_attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    statuses: Collection[int] = RETRY_STATUSES
    methods: Collection[str] = IDEMPOTENT_METHODS
    max_retry_after: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise UsageError(f"Retries: max_attempts must be 1 or more, not {self.max_attempts}.")
        if self.backoff < 0 or self.max_backoff < 0 or self.max_retry_after < 0:
            raise UsageError("Retries: backoff, max_backoff and max_retry_after must be ≥ 0.")
        object.__setattr__(self, "methods", frozenset(m.upper() for m in self.methods))
        object.__setattr__(self, "statuses", frozenset(self.statuses))

    def is_idempotent(self, method: str, idempotent: bool | None = None) -> bool:
        """Whether a call may be repeated: the caller's word when given, else by method."""
        if idempotent is not None:
            return idempotent
        return method.upper() in self.methods

    def retries_status(
        self, method: str, status: int, attempt: int, idempotent: bool | None = None
    ) -> bool:
        """Whether to try again after attempt number ``attempt`` got HTTP ``status``."""
        if attempt >= self.max_attempts or status not in self.statuses:
            return False
        return status in NOT_ACTED_ON_STATUSES or self.is_idempotent(method, idempotent)

    def retries_error(
        self, method: str, attempt: int, idempotent: bool | None = None, *, sent: bool = True
    ) -> bool:
        """Whether to try again after attempt ``attempt`` failed without an answer.

        ``sent=False`` means the connection could not even be opened, so nothing reached
        the server and any method is safe to resend.
        """
        if attempt >= self.max_attempts:
            return False
        return not sent or self.is_idempotent(method, idempotent)

    def backoff_wait(self, attempt: int) -> float:
        """Seconds to wait after attempt ``attempt`` (1-based) failed: exponential, jittered."""
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1))
        return ceiling / 2 + self.random() * ceiling / 2

    def wait_after(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before the next try: the server's ``Retry-After`` (capped at
        ``max_retry_after``) when it sent a readable one, else :meth:`backoff_wait`."""
        asked = parse_retry_after(retry_after, now=self.clock())
        if asked is not None:
            return min(asked, self.max_retry_after)
        return self.backoff_wait(attempt)


def never_sent(exc: requests.RequestException) -> bool:
    """Whether the connection could not be opened at all, so the server got nothing and
    even a write may be sent again."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, NewConnectionError):
            return True
        if isinstance(item, BaseException):
            stack.extend(item.args)
            stack.extend(x for x in (item.__cause__, item.__context__) if x is not None)
        reason = getattr(item, "reason", None)  # urllib3's MaxRetryError wraps the cause.
        if reason is not None:
            stack.append(reason)
    return False
