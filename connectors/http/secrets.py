"""Where a connection's secret comes from, and keeping it out of every message.

A workbook's ``Connections.Auth`` cell never holds a secret: it says where to find one,
``env:NAME`` (an environment variable) or ``keyring:NAME`` (the system keyring, service
``sheetloop``). The value is wrapped in :class:`Secret`, which prints as ``***``, and every
error the HTTP layer raises goes through a :class:`Redactor` that knows the values in play.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from sheetloop.errors import UsageError

#: The keyring service sheetloop stores its secrets under (``keyring set sheetloop NAME``).
KEYRING_SERVICE = "sheetloop"

MASK = "***"

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Keyring entry names are free text, but one that looks like a token is more likely a pasted
# secret than a name: such names are never repeated back in a message.
_KEYRING_NAME = re.compile(r"[A-Za-z0-9_.@ -]{1,64}\Z")

_WHERE = "Auth must say where the secret comes from (env:NAME or keyring:NAME), never the secret"


class Secret:
    """A secret value that never shows itself: ``str``, ``repr`` and f-strings give ``***``.

    ``reveal()`` is the one way to the value, so every use of it is easy to find.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value itself: only for putting it on the wire."""
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return MASK


def resolve_secret(
    ref: str, *, connection: str, environ: Mapping[str, str] | None = None
) -> Secret:
    """Read the secret that a ``Connections.Auth`` cell (``env:NAME`` or ``keyring:NAME``)
    points at, for the connection named ``connection``.

    Raises :class:`UsageError` when the reference is malformed, holds what looks like the
    secret itself, or points at nothing; the message says how to fix it and never repeats a
    value that might be secret.
    """
    text = (ref or "").strip()
    if not text:
        raise UsageError(
            f"Connection {connection!r} has no Auth: write env:NAME (an environment variable "
            f"holding the secret) or keyring:NAME in the Auth cell of the Connections sheet."
        )
    scheme, colon, name = text.partition(":")
    scheme = scheme.strip().lower()
    name = name.strip()
    if not colon or scheme not in ("env", "keyring"):
        raise UsageError(
            f"Connection {connection!r}: {_WHERE} itself. Put the secret in an environment "
            f"variable and write env:NAME in the Auth cell; if the cell held a real secret, "
            f"remove it from the workbook and have it replaced (rotated)."
        )
    if scheme == "env":
        secret = _from_environment(name, connection, os.environ if environ is None else environ)
    else:
        secret = _from_keyring(name, connection)
    if len(secret.reveal()) >= _MASKABLE:
        _RESOLVED.add(secret)
    return secret


def _from_environment(name: str, connection: str, environ: Mapping[str, str]) -> Secret:
    if not _ENV_NAME.match(name):
        raise UsageError(
            f"Connection {connection!r}: the Auth cell's env: reference is not a variable "
            f"name (letters, digits and _ only, e.g. env:HUBSPOT_TOKEN). {_WHERE} itself."
        )
    value = environ.get(name, "")
    if not value:
        state = "is empty" if name in environ else "is not set"
        raise UsageError(
            f"Connection {connection!r} reads its secret from the environment variable "
            f"{name} (Auth: env:{name}), which {state}. Set it before running sheetloop: "
            f"`export {name}=...` (Linux, macOS) or `setx {name} ...` (Windows, then open a "
            f"new window), or change the Auth cell."
        )
    return Secret(value)


def _from_keyring(name: str, connection: str) -> Secret:
    if not _KEYRING_NAME.match(name):
        raise UsageError(
            f"Connection {connection!r}: the Auth cell's keyring: reference is not an entry "
            f"name (e.g. keyring:hubspot). {_WHERE} itself."
        )
    try:
        # Optional: only books that use keyring: need the package.
        keyring: Any = importlib.import_module("keyring")
    except ImportError:
        raise UsageError(
            f"Connection {connection!r} reads its secret from the keyring (Auth: "
            f"keyring:{name}), but the keyring package is not installed. Install it "
            f"(pip install keyring) or use env:NAME with an environment variable instead."
        ) from None
    errors: Any = importlib.import_module("keyring.errors")
    try:
        value = keyring.get_password(KEYRING_SERVICE, name)
    except errors.KeyringError as exc:
        raise UsageError(
            f"Connection {connection!r} reads its secret from the keyring (Auth: "
            f"keyring:{name}), but no keyring backend is available on this machine "
            f"({type(exc).__name__}; common on Linux without a desktop session). Use "
            f"env:NAME with an environment variable instead, or install a keyring backend."
        ) from None
    if not value:
        raise UsageError(
            f"Connection {connection!r} reads its secret from the keyring entry {name!r} of "
            f"service {KEYRING_SERVICE!r} (Auth: keyring:{name}), which holds nothing. Store "
            f"it with `keyring set {KEYRING_SERVICE} {name}`, or use env:NAME instead."
        )
    return Secret(value)


def _forms(value: str) -> set[str]:
    """The ways a secret may show up in a URL, a header or a JSON body."""
    raw = value.encode("utf-8")
    forms = {
        value,
        quote(value, safe=""),
        quote_plus(value, safe=""),
        json.dumps(value)[1:-1],
        base64.b64encode(raw).decode("ascii"),
        base64.urlsafe_b64encode(raw).decode("ascii"),
    }
    # Base64 text as it appears when padding is dropped (JWT-style, some URLs).
    forms |= {form.rstrip("=") for form in list(forms)}
    return {form for form in forms if form}


class Redactor:
    """Replaces every known secret value, and its URL-, JSON- and base64-encoded forms, by
    ``***`` in a text."""

    def __init__(self, secrets: Iterable[Secret | str] = ()) -> None:
        self._forms: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: Secret | str) -> None:
        """Know one more secret."""
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value:
            self._forms |= _forms(value)

    def __call__(self, text: str) -> str:
        # Longest first, so a secret that contains another one is masked whole.
        for form in sorted(self._forms, key=len, reverse=True):
            text = text.replace(form, MASK)
        return text

    def excerpt(self, body: str, limit: int = 240) -> str:
        """A short, redacted, one-line excerpt of a response body, fit for an error message:
        the ``message``/``error`` field of a JSON error when there is one, else the text
        with HTML tags and runs of whitespace removed."""
        text = _message_of_json(body) or _HTML_TAG.sub(" ", body)
        text = " ".join(self(text).split())
        if len(text) > limit:
            text = text[: limit - 1].rstrip() + "…"
        return text


_HTML_TAG = re.compile(r"<[^>]*>")
_MESSAGE_KEYS = ("message", "error_description", "error", "detail", "title", "faultString")


def _message_of_json(body: str) -> str:
    """The human-readable message of a JSON error body, or ``""``."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    for _ in range(3):  # {"error": {"message": ...}} is common; look a little way in.
        if not isinstance(data, dict):
            return ""
        for key in _MESSAGE_KEYS:
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return value
        nested = [data[key] for key in _MESSAGE_KEYS if isinstance(data.get(key), dict)]
        if not nested:
            return ""
        data = nested[0]
    return ""


def redact(text: str, secrets: Iterable[Secret | str]) -> str:
    """``text`` with every value of ``secrets`` (and its encoded forms) replaced by ``***``."""
    return Redactor(secrets)(text)


# Every secret this process has read, so that messages and crash logs written far from the
# connection that used it (the command line's last line of defence) can still mask it.
_RESOLVED = Redactor()
# Masking a value of two or three characters everywhere would mangle every message, and
# text substitution cannot protect a secret that short anyway.
_MASKABLE = 6


def redact_resolved(text: str) -> str:
    """``text`` with every secret this process has resolved masked as ``***``."""
    return _RESOLVED(text)
