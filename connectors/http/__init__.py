"""The HTTP layer every connector stands on (built on ``requests``).

- :mod:`.secrets`: where a connection's secret comes from (``env:NAME``, ``keyring:NAME``)
  and masking it in every message;
- :mod:`.auth`: API key, bearer, basic and OAuth2 client-credentials authenticators, and the
  base for credentials that expire and are renewed (:class:`TokenAuth`);
- :mod:`.retry`: when a request is tried again and how long to wait;
- :mod:`.session`: :class:`HttpSession`, one per connection: timeouts, TLS, retries, errors;
- :mod:`.paginate`: paginators and :func:`paginate`.
"""

from sheetloop.connectors.http.auth import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    CredentialAuth,
    OAuth2ClientCredentials,
    RefreshableAuth,
    TokenAuth,
)
from sheetloop.connectors.http.paginate import (
    CursorPaginator,
    LinkHeaderPaginator,
    NextRequest,
    OffsetPaginator,
    PageNumberPaginator,
    PaginationError,
    Paginator,
    SinglePage,
    json_path,
    paginate,
    parse_link_header,
)
from sheetloop.connectors.http.retry import (
    IDEMPOTENT_METHODS,
    RETRY_STATUSES,
    RetryPolicy,
    parse_retry_after,
)
from sheetloop.connectors.http.secrets import (
    KEYRING_SERVICE,
    Redactor,
    Secret,
    redact,
    redact_resolved,
    resolve_secret,
)
from sheetloop.connectors.http.session import HttpSession

__all__ = [
    "IDEMPOTENT_METHODS",
    "KEYRING_SERVICE",
    "RETRY_STATUSES",
    "ApiKeyAuth",
    "BasicAuth",
    "BearerAuth",
    "CredentialAuth",
    "CursorPaginator",
    "HttpSession",
    "LinkHeaderPaginator",
    "NextRequest",
    "OAuth2ClientCredentials",
    "OffsetPaginator",
    "PageNumberPaginator",
    "PaginationError",
    "Paginator",
    "Redactor",
    "RefreshableAuth",
    "RetryPolicy",
    "Secret",
    "SinglePage",
    "TokenAuth",
    "json_path",
    "paginate",
    "parse_link_header",
    "parse_retry_after",
    "redact",
    "redact_resolved",
    "resolve_secret",
]
