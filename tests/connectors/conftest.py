"""Fixtures for connector tests: a real local Tryton server and clients logged in to it.

The server is started once per test session from the cached golden database (built on
first use, about half a minute) and shared: each test gets a unique ``prefix`` for the
codes and names of the records it creates, so tests never see each other's data.
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sheetloop.connectors.tryton import LocalTryton, TrytonClient

TRYTON_MISSING = "trytond not installed: ./scripts/test.sh installs it"


def _load_records_helpers() -> None:
    # Test folders are not packages (importlib mode): register the record builders under
    # one unambiguous name so that test modules can `import tryton_records`.
    path = Path(__file__).resolve().parent / "tryton" / "records.py"
    spec = importlib.util.spec_from_file_location("tryton_records", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tryton_records"] = module
    spec.loader.exec_module(module)


_load_records_helpers()


def tryton_installed() -> bool:
    return importlib.util.find_spec("trytond") is not None


@dataclass
class TrytonTest:
    """What a Tryton test works with: the shared server, a logged-in admin client and a
    prefix unique to the test."""

    server: LocalTryton
    client: TrytonClient
    prefix: str

    def code(self, name: str) -> str:
        """A record code unique to this test, e.g. ``3f9a1c2e-W1``."""
        return f"{self.prefix}-{name}"


def _skip_without_tryton() -> None:
    if not tryton_installed():
        print(TRYTON_MISSING)
        pytest.skip(TRYTON_MISSING)


@pytest.fixture
def needs_tryton() -> None:
    """Skips a test that starts Tryton itself when trytond is not installed."""
    _skip_without_tryton()


@pytest.fixture(scope="session")
def tryton_server() -> Iterator[LocalTryton]:
    """A running local Tryton server on the golden database, shared by the session."""
    _skip_without_tryton()
    with LocalTryton.start(progress=print) as server:
        yield server


@pytest.fixture
def tryton(tryton_server: LocalTryton) -> Iterator[TrytonTest]:
    """A logged-in admin client on the shared server and a prefix unique to this test."""
    client = tryton_server.client()
    client.login()
    try:
        yield TrytonTest(server=tryton_server, client=client, prefix=uuid.uuid4().hex[:8])
    finally:
        client.close()
