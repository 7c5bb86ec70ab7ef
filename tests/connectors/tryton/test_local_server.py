"""The local Tryton server: a golden database built once and cached, servers that start on
a free loopback port from private copies of it, stop cleanly, and can be killed."""

from __future__ import annotations

import errno
import re
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from sheetloop.connectors.tryton import (
    DEMO_COMPANY_NAME,
    DEMO_CURRENCY_CODE,
    TRYTON_MODULES,
    LocalTryton,
    TrytonNotInstalledError,
    golden_database,
    golden_database_path,
    require_tryton,
)
from sheetloop.errors import ExternalSystemError, UsageError

needs_tryton = pytest.mark.usefixtures("needs_tryton")


def _port_is_taken(port: int) -> bool:
    """Whether a server listens on ``port`` (closed connections lingering do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
        return False


# --- the golden database ----------------------------------------------------------------


def test_the_golden_database_is_built_once_then_returned_from_the_cache(tryton_server):
    first = golden_database()
    before = first.stat()
    started = time.monotonic()
    second = golden_database()
    elapsed = time.monotonic() - started
    after = second.stat()
    assert second == first
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (
        before.st_ino,
        before.st_mtime_ns,
        before.st_size,
    )
    assert elapsed < 1.0


@needs_tryton
def test_the_golden_database_is_keyed_by_tryton_version_in_the_configured_cache(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("SHEETLOOP_TRYTON_CACHE", str(tmp_path / "cache"))
    path = golden_database_path()
    assert path.parent == tmp_path / "cache"
    assert path.name.startswith(f"tryton-{require_tryton()}-")
    assert path.suffix == ".sqlite"
    assert golden_database_path(tmp_path / "other").parent == tmp_path / "other"


@needs_tryton
def test_a_caller_waiting_for_another_builder_reuses_its_database(tmp_path):
    """Two processes racing: the one that waits on the lock takes the file the other made."""
    if sys.platform == "win32":  # pragma: no cover
        pytest.skip("the race is simulated with a POSIX file lock")
    import fcntl

    target = golden_database_path(tmp_path)
    messages: list[str] = []
    result: list[Path] = []
    with target.with_suffix(".lock").open("a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        waiter = threading.Thread(
            target=lambda: result.append(golden_database(tmp_path, progress=messages.append))
        )
        waiter.start()
        deadline = time.monotonic() + 10
        while not messages and time.monotonic() < deadline:
            time.sleep(0.02)
        assert messages and "waiting for another process" in messages[0]
        target.write_bytes(b"built by the other process")
        fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    waiter.join(timeout=10)
    assert result == [target]
    assert target.read_bytes() == b"built by the other process"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".build-")]


def test_the_golden_database_has_the_planning_modules_and_the_demo_company(tryton):
    client = tryton.client
    activated = {
        row["name"]
        for row in client.search_read("ir.module", [("state", "=", "activated")], ["name"])
    }
    assert set(TRYTON_MODULES) <= activated
    (company,) = client.search_read("company.company", [], ["rec_name", "currency.code"])
    assert company["rec_name"] == DEMO_COMPANY_NAME
    assert company["currency."]["code"] == DEMO_CURRENCY_CODE
    (admin,) = client.read("res.user", [client.user_id], ["login", "company", "companies"])
    assert admin["login"] == "admin"
    assert admin["company"] == company["id"]
    assert admin["companies"] == [company["id"]]
    assert client.search_count("stock.location", [("type", "=", "warehouse")]) >= 1


# --- servers ----------------------------------------------------------------------------


@needs_tryton
def test_a_server_listens_on_a_free_loopback_port_until_stopped():
    server = LocalTryton.start()
    try:
        assert server.url == f"http://127.0.0.1:{server.port}/"
        assert server.running
        assert _port_is_taken(server.port)
        answer = requests.post(
            f"{server.url}rpc/",
            json={"id": 1, "method": "common.server.version", "params": []},
            timeout=5,
        )
        assert answer.json()["result"] == ".".join(require_tryton().split(".")[:2])
        assert server.log_path.is_file()
        assert server.database_path.is_file()
        workdir = server.workdir
    finally:
        server.stop()
    assert not server.running
    assert not _port_is_taken(server.port)
    assert not workdir.exists()


@needs_tryton
def test_a_context_manager_stops_the_server_on_leaving(tmp_path):
    with LocalTryton.start(workdir=tmp_path / "srv") as server, server.client() as client:
        assert client.search_count("company.company", []) == 1
    assert not server.running
    assert (tmp_path / "srv").is_dir()  # a workdir the caller chose is the caller's to keep
    assert "stopped" in repr(server)


@needs_tryton
def test_kill_ends_the_server_at_once_like_a_crash():
    server = LocalTryton.start()
    try:
        server.kill()
        assert not server.running
        with pytest.raises(requests.ConnectionError):
            requests.post(f"{server.url}rpc/", json={}, timeout=2)
    finally:
        server.stop()
    assert not server.workdir.exists()


def test_each_server_serves_its_own_copy_of_the_database(tryton):
    code = tryton.code("ISOLATED")
    with LocalTryton.start() as other:
        assert other.database != tryton.server.database
        assert other.port != tryton.server.port
        with other.client() as client:
            client.create("party.party", [{"name": "Only here", "code": code}])
            assert client.search_count("party.party", [("code", "=", code)]) == 1
    assert tryton.client.search_count("party.party", [("code", "=", code)]) == 0


@needs_tryton
def test_a_server_that_cannot_serve_its_database_fails_with_the_end_of_its_log(tmp_path):
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"")
    with pytest.raises(ExternalSystemError) as caught:
        LocalTryton.start(broken, workdir=tmp_path / "srv", timeout=30)
    message = str(caught.value)
    assert f"cannot serve its copy of {broken}" in message
    assert "Is that file a Tryton database" in message
    assert "log ends with" in message
    config = (tmp_path / "srv" / "trytond.conf").read_text(encoding="utf-8")
    port = int(re.search(r"listen = 127\.0\.0\.1:(\d+)", config).group(1))
    assert not _port_is_taken(port)  # the failed server was stopped, not left behind


@needs_tryton
def test_a_missing_database_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="No Tryton database file"):
        LocalTryton.start(tmp_path / "missing.sqlite")


# --- Tryton missing ---------------------------------------------------------------------


def test_without_trytond_the_user_is_told_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "trytond", None)  # makes trytond unimportable
    for attempt in (
        require_tryton,
        lambda: golden_database(tmp_path),
        lambda: LocalTryton.start(),
    ):
        with pytest.raises(TrytonNotInstalledError) as caught:
            attempt()
        assert "Tryton is not installed" in str(caught.value)
        assert 'pip install "sheetloop[tryton]"' in str(caught.value)
        assert caught.value.exit_code == 2
    assert not list(tmp_path.iterdir())


@needs_tryton
def test_a_missing_tryton_module_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "trytond.modules.sale_opportunity", None)
    with pytest.raises(TrytonNotInstalledError) as caught:
        require_tryton()
    assert "trytond_sale_opportunity" in str(caught.value)
    assert 'pip install "sheetloop[tryton]"' in str(caught.value)
