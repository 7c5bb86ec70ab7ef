"""Secrets come from the environment or the keyring, never from the workbook, and never
show in a message."""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from sheetloop.connectors.http import KEYRING_SERVICE, Redactor, Secret, redact, resolve_secret
from sheetloop.errors import UsageError

TOKEN = "pat-na1-7f3c9e2a-51d4-4b8e-9c0d-3e2f1a6b8c7d"


def test_an_env_reference_reads_the_environment_variable(monkeypatch):
    monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
    secret = resolve_secret("env:HUBSPOT_TOKEN", connection="crm")
    assert secret.reveal() == TOKEN


def test_the_scheme_is_case_insensitive_and_blanks_around_it_are_ignored(monkeypatch):
    monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
    assert resolve_secret("  ENV: HUBSPOT_TOKEN ", connection="crm").reveal() == TOKEN


def test_an_environment_mapping_can_be_given_instead_of_the_process_environment():
    secret = resolve_secret("env:T", connection="crm", environ={"T": "abc123"})
    assert secret.reveal() == "abc123"


def test_a_secret_prints_as_stars_everywhere():
    secret = Secret(TOKEN)
    shown = [str(secret), repr(secret), f"{secret}", f"{secret!r}", str([secret])]
    assert all(TOKEN not in text for text in shown)
    assert str(secret) == repr(secret) == "***"


def test_a_missing_variable_names_the_connection_the_variable_and_how_to_set_it(monkeypatch):
    monkeypatch.delenv("ERP_PASSWORD", raising=False)
    with pytest.raises(UsageError) as caught:
        resolve_secret("env:ERP_PASSWORD", connection="erp")
    message = str(caught.value)
    assert "'erp'" in message
    assert "ERP_PASSWORD" in message
    assert "is not set" in message
    assert "export ERP_PASSWORD=" in message and "setx ERP_PASSWORD" in message
    assert caught.value.exit_code == 2


def test_an_empty_variable_counts_as_missing(monkeypatch):
    monkeypatch.setenv("ERP_PASSWORD", "")
    with pytest.raises(UsageError, match=r"ERP_PASSWORD.*is empty"):
        resolve_secret("env:ERP_PASSWORD", connection="erp")


@pytest.mark.parametrize("cell", [TOKEN, "vault:" + TOKEN, "Bearer " + TOKEN])
def test_a_cell_that_holds_the_secret_itself_is_refused_without_echoing_it(cell):
    with pytest.raises(UsageError) as caught:
        resolve_secret(cell, connection="crm")
    message = str(caught.value)
    assert "Auth must say where the secret comes from (env:NAME or keyring:NAME)" in message
    assert "never the secret itself" in message
    assert TOKEN not in message and "7f3c9e2a" not in message


def test_an_env_reference_to_something_that_is_no_variable_name_is_not_echoed():
    with pytest.raises(UsageError) as caught:
        resolve_secret("env:" + TOKEN, connection="crm")
    assert "not a variable name" in str(caught.value)
    assert "7f3c9e2a" not in str(caught.value)


def test_an_empty_auth_cell_says_what_to_write():
    with pytest.raises(UsageError, match="has no Auth: write env:NAME"):
        resolve_secret("  ", connection="crm")


@pytest.fixture
def plaintext_keyring(tmp_path: Path) -> Iterator[object]:
    keyring = pytest.importorskip("keyring")
    pytest.importorskip("keyrings.alt")
    from keyrings.alt.file import PlaintextKeyring

    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")  # never the user's real keyring
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield keyring
    keyring.set_keyring(previous)


def test_a_keyring_reference_reads_the_sheetloop_service(plaintext_keyring):
    plaintext_keyring.set_password(KEYRING_SERVICE, "hubspot", TOKEN)
    assert resolve_secret("keyring:hubspot", connection="crm").reveal() == TOKEN


def test_a_keyring_entry_that_holds_nothing_says_how_to_store_it(plaintext_keyring):
    with pytest.raises(UsageError) as caught:
        resolve_secret("keyring:hubspot", connection="crm")
    assert "keyring set sheetloop hubspot" in str(caught.value)
    assert "'crm'" in str(caught.value)


def test_a_missing_keyring_backend_says_so_and_suggests_env():
    keyring = pytest.importorskip("keyring")
    from keyring.backends.fail import Keyring as NoBackend

    previous = keyring.get_keyring()
    keyring.set_keyring(NoBackend())
    try:
        with pytest.raises(UsageError) as caught:
            resolve_secret("keyring:hubspot", connection="crm")
    finally:
        keyring.set_keyring(previous)
    message = str(caught.value)
    assert "no keyring backend is available" in message
    assert "env:NAME" in message and "'crm'" in message


def test_a_missing_keyring_package_says_so_and_suggests_env(monkeypatch):
    monkeypatch.setitem(sys.modules, "keyring", None)  # makes `import keyring` fail
    with pytest.raises(UsageError) as caught:
        resolve_secret("keyring:hubspot", connection="crm")
    assert "keyring package is not installed" in str(caught.value)
    assert "env:NAME" in str(caught.value)


def test_the_redactor_masks_a_secret_and_its_encoded_forms():
    secret = "s3cr3t/with+odd=chars&more"
    forms = [
        secret,
        quote(secret, safe=""),
        base64.b64encode(secret.encode()).decode(),
        base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
    ]
    text = " | ".join(f"form {i}: {form}" for i, form in enumerate(forms))
    masked = Redactor([Secret(secret)])(text)
    assert all(form not in masked for form in forms)
    assert masked.count("***") == len(forms)
    assert "form 3: ***" in masked


def test_the_redactor_masks_a_longer_secret_whole_when_it_contains_a_shorter_one():
    masked = redact("key=abcdef123456 and abc", ["abc", "abcdef123456"])
    assert masked == "key=*** and ***"


def test_an_empty_secret_changes_nothing():
    assert redact("nothing to hide", [Secret(""), ""]) == "nothing to hide"


def test_an_excerpt_prefers_the_message_of_a_json_error_and_is_short_and_masked():
    redactor = Redactor([TOKEN])
    body = '{"status": "error", "message": "Token ' + TOKEN + ' expired", "category": "X"}'
    assert redactor.excerpt(body) == "Token *** expired"
    long_html = "<html><body><h1>Bad Gateway</h1>" + "x" * 1000 + "</body></html>"
    excerpt = redactor.excerpt(long_html, limit=50)
    assert excerpt.startswith("Bad Gateway") and len(excerpt) == 50 and "<" not in excerpt
