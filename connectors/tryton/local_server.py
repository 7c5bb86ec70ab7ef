"""A real Tryton server on this machine, for tests and the ERP demo.

``golden_database()`` builds, once per Tryton version and module set, an SQLite database
with the planning modules activated and a demo company the admin user works for; later
calls return the cached file at once. ``LocalTryton.start()`` copies that file under a
fresh database name into a private directory and serves it on a free port of 127.0.0.1.

Everything here is for local, throw-away servers: the admin password is a published
constant (``LOCAL_ADMIN_PASSWORD``) and must never protect real data.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import requests

from sheetloop.connectors.tryton.rpc import TrytonClient, encode_tryton_json
from sheetloop.errors import ExternalSystemError, UsageError

__all__ = [
    "DEMO_COMPANY_NAME",
    "DEMO_CURRENCY_CODE",
    "LOCAL_ADMIN_LOGIN",
    "LOCAL_ADMIN_PASSWORD",
    "TRYTON_MODULES",
    "LocalTryton",
    "TrytonNotInstalledError",
    "golden_database",
    "golden_database_path",
    "require_tryton",
]

#: The Tryton modules the planning loop syncs with (their dependencies come along).
TRYTON_MODULES: tuple[str, ...] = (
    "party",
    "product",
    "stock",
    "production",
    "purchase",
    "purchase_request",
    "sale",
    "sale_opportunity",
    "stock_supply",
    "stock_supply_production",
)
#: Login of the administrator of local servers.
LOCAL_ADMIN_LOGIN = "admin"
#: Password of the administrator of local test and demo servers ONLY. It is public, so a
#: database built with it must never hold real data or listen beyond 127.0.0.1.
LOCAL_ADMIN_PASSWORD = "sheetloop-local-only"
#: The company the golden database's admin works for.
DEMO_COMPANY_NAME = "sheetloop Demo Co"
DEMO_CURRENCY_CODE = "USD"

INSTALL_HINT = 'pip install "sheetloop[tryton]"'
# Bump when the golden database's content changes, so caches built before are not reused.
_GOLDEN_LAYOUT = 1
_CACHE_ENV = "SHEETLOOP_TRYTON_CACHE"
_BUILD_TIMEOUT = 1800.0
_STOP_TIMEOUT = 10.0
_PORT_ATTEMPTS = 3
_LOG_TAIL_LINES = 30

Progress = Callable[[str], None]


class TrytonNotInstalledError(UsageError):
    """The Tryton server (trytond) or one of its modules is missing (exit 2)."""


def require_tryton() -> str:
    """The installed trytond version; raises ``TrytonNotInstalledError`` when it is missing."""
    missing = [
        name
        for name in ("trytond", *(f"trytond.modules.{m}" for m in TRYTON_MODULES))
        if not _importable(name)
    ]
    if "trytond" in missing:
        raise TrytonNotInstalledError(
            f"Tryton is not installed in {sys.prefix}: {INSTALL_HINT}, then run again."
        )
    if missing:
        packages = ", ".join(f"trytond_{m.rsplit('.', 1)[1]}" for m in missing)
        raise TrytonNotInstalledError(
            f"Tryton is installed but misses modules sheetloop needs ({packages}): "
            f"{INSTALL_HINT}, then run again."
        )
    return importlib.metadata.version("trytond")


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


# --- the golden database ----------------------------------------------------------------


def golden_database_path(cache_dir: Path | None = None) -> Path:
    """Where the golden database for the installed Tryton lives (built or not)."""
    version = require_tryton()
    key = hashlib.sha256(
        repr((_GOLDEN_LAYOUT, TRYTON_MODULES, _tryton_distributions())).encode()
    ).hexdigest()[:12]
    return _cache_dir(cache_dir) / f"tryton-{version}-{key}.sqlite"


def golden_database(cache_dir: Path | None = None, *, progress: Progress | None = None) -> Path:
    """A ready SQLite Tryton database: planning modules activated, a demo company, and
    ``admin`` / ``LOCAL_ADMIN_PASSWORD`` working for that company.

    Built once per Tryton version and module set (about half a minute) into ``cache_dir``
    (default ``$SHEETLOOP_TRYTON_CACHE`` or ``~/.cache/sheetloop/tryton``); later calls
    return the cached file at once. Treat the file as read-only: ``LocalTryton`` serves
    copies of it. Concurrent callers wait for one build instead of racing.
    """
    say = progress or _silent
    target = golden_database_path(cache_dir)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(target.with_suffix(".lock"), say):
        if target.exists():  # another process built it while we waited
            return target
        # Holding the lock, a build directory left for this target is a dead builder's.
        for stale in target.parent.glob(f".build-{target.stem}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        _build_golden(target, say)
    return target


def _build_golden(target: Path, say: Progress) -> None:
    started = time.monotonic()
    # Built beside the target, then renamed: a reader never sees a half-built file.
    build_dir = Path(tempfile.mkdtemp(prefix=f".build-{target.stem}-", dir=target.parent))
    try:
        say("building the Tryton database (once; about half a minute)")
        seed = build_dir / "golden.sqlite"
        _activate_modules(build_dir, seed)
        say("creating the demo company")
        with LocalTryton.start(seed, workdir=build_dir / "server") as server:
            with server.client() as client:
                _create_demo_company(client)
            server.stop()
            _make_self_contained(server.database_path)
            os.replace(server.database_path, target)
        say(f"Tryton database ready in {time.monotonic() - started:.0f} s: {target}")
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)


def _activate_modules(build_dir: Path, database_file: Path) -> None:
    database_file.touch()  # trytond's SQLite backend only opens existing files
    config = _write_config(build_dir, port=None)
    passfile = build_dir / "admin-password"
    passfile.write_text(LOCAL_ADMIN_PASSWORD + "\n", encoding="utf-8")
    log_path = build_dir / "trytond-admin.log"
    command = [
        *_tryton_command("trytond-admin", "trytond.cli.admin"),
        "-c",
        str(config),
        "-d",
        database_file.stem,
        "--all",
        "--activate-dependencies",
        "-u",
        *TRYTON_MODULES,
    ]
    with log_path.open("wb") as log:
        try:
            # The empty line answers trytond-admin's question for the admin's e-mail.
            finished = subprocess.run(
                command,
                input=b"\n",
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_tryton_environment(TRYTONPASSFILE=str(passfile)),
                cwd=build_dir,
                timeout=_BUILD_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ExternalSystemError(
                f"Building the local Tryton database took longer than {_BUILD_TIMEOUT:.0f} s "
                f"and was stopped. Its log ends with:\n{_log_tail(log_path)}"
            ) from None
    if finished.returncode != 0:
        raise ExternalSystemError(
            f"Building the local Tryton database failed (trytond-admin exit "
            f"{finished.returncode}). Check that the Tryton packages are complete "
            f"({INSTALL_HINT}). Its log ends with:\n{_log_tail(log_path)}"
        )


def _create_demo_company(client: TrytonClient) -> None:
    # Draft sales, purchases and productions need a company (currency, warehouse: stock
    # made one) and a user working for it; no accounts are needed before invoicing.
    (currency,) = client.create(
        "currency.currency",
        [
            {
                "name": "U.S. Dollar",
                "code": DEMO_CURRENCY_CODE,
                "symbol": "$",
                "digits": 2,
                "rounding": Decimal("0.01"),
            }
        ],
    )
    (party,) = client.create(
        "party.party", [{"name": DEMO_COMPANY_NAME, "addresses": [("create", [{}])]}]
    )
    (company,) = client.create("company.company", [{"party": party, "currency": currency}])
    user_id = client.user_id
    if user_id is None:  # create() logged in; this only guards the type
        raise ExternalSystemError("The local Tryton server lost the admin session.")
    client.write("res.user", [([user_id], {"companies": [("add", [company])], "company": company})])


def _make_self_contained(database_file: Path) -> None:
    """Fold SQLite's write-ahead log into the file so that the file alone is the database."""
    connection = sqlite3.connect(database_file)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode=DELETE")
    finally:
        connection.close()


def _cache_dir(cache_dir: Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    configured = os.environ.get(_CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "sheetloop" / "tryton"


def _tryton_distributions() -> tuple[tuple[str, str], ...]:
    """Name and version of every installed Tryton package: any of them changes the schema."""
    found = {
        (dist.metadata["Name"].lower().replace("-", "_"), dist.version)
        for dist in importlib.metadata.distributions()
        if (dist.metadata["Name"] or "").lower().replace("-", "_").startswith("trytond")
    }
    return tuple(sorted(found))


@contextlib.contextmanager
def _exclusive_lock(path: Path, say: Progress) -> Iterator[None]:
    """Hold an OS file lock on ``path``; another process holding it makes us wait."""
    with path.open("a+b") as handle:
        if not _try_lock(handle):
            say("waiting for another process that builds the Tryton database")
            _lock(handle)
        try:
            yield
        finally:
            _unlock(handle)


if sys.platform == "win32":
    import msvcrt

    def _try_lock(handle: IO[bytes]) -> bool:
        handle.seek(0)  # msvcrt locks bytes from the current position
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _lock(handle: IO[bytes]) -> None:
        while not _try_lock(handle):
            time.sleep(0.5)

    def _unlock(handle: IO[bytes]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(handle: IO[bytes]) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _lock(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)

    def _unlock(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# --- the server -------------------------------------------------------------------------


class LocalTryton:
    """A trytond process serving a private copy of a database on 127.0.0.1.

    Use ``LocalTryton.start()`` (a context manager): leaving the block stops the server
    and removes the directory it made. ``kill()`` ends it abruptly, as a crash would.
    """

    def __init__(
        self,
        *,
        process: subprocess.Popen[bytes],
        log: IO[bytes],
        port: int,
        database: str,
        workdir: Path,
        remove_workdir: bool,
    ) -> None:
        self._process = process
        self._port = port
        self._database = database
        self._workdir = workdir
        self._log_path = workdir / "trytond.log"
        # Runs on stop() or, should the caller forget, when the interpreter exits.
        self._finalizer = weakref.finalize(
            self, _shut_down, process, log, workdir if remove_workdir else None
        )

    @classmethod
    def start(
        cls,
        database_file: Path | None = None,
        *,
        workdir: Path | None = None,
        timeout: float = 60.0,
        progress: Progress | None = None,
    ) -> LocalTryton:
        """Serve a copy of ``database_file`` (default: the golden database) on a free port.

        The copy, the configuration and the log go to ``workdir`` (default: a new temporary
        directory, removed on stop). Waits up to ``timeout`` seconds for the server to
        accept the admin's login; raises ``ExternalSystemError`` with the end of its log if
        it dies or does not answer.
        """
        require_tryton()
        source = Path(database_file) if database_file is not None else None
        if source is None:
            source = golden_database(progress=progress)
        elif not source.is_file():
            raise UsageError(f"No Tryton database file at {source}: give an existing .sqlite file.")
        remove_workdir = workdir is None
        directory = (
            Path(tempfile.mkdtemp(prefix="sheetloop-tryton-")) if workdir is None else workdir
        )
        directory.mkdir(parents=True, exist_ok=True)
        database = f"sheetloop_{uuid.uuid4().hex[:10]}"
        log_path = directory / "trytond.log"
        try:
            _copy_database(source, directory / f"{database}.sqlite")
            for attempt in range(1, _PORT_ATTEMPTS + 1):
                port = _free_port()
                process, log = _launch(directory, database, port)
                try:
                    _wait_until_ready(process, port, database, source, log_path, timeout)
                except _PortTaken:
                    # Another program took the port between our probe and trytond's bind.
                    _shut_down(process, log, None)
                    if attempt < _PORT_ATTEMPTS:
                        continue
                    raise ExternalSystemError(
                        f"The local Tryton server found no free port on 127.0.0.1 after "
                        f"{_PORT_ATTEMPTS} attempts. Its log ends with:\n{_log_tail(log_path)}"
                    ) from None
                except BaseException:
                    _shut_down(process, log, None)
                    raise
                return cls(
                    process=process,
                    log=log,
                    port=port,
                    database=database,
                    workdir=directory,
                    remove_workdir=remove_workdir,
                )
        except BaseException:
            if remove_workdir:
                shutil.rmtree(directory, ignore_errors=True)
            raise
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    # -- identity ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's root URL, e.g. ``http://127.0.0.1:8123/``."""
        return f"http://127.0.0.1:{self._port}/"

    @property
    def port(self) -> int:
        """The TCP port on 127.0.0.1 the server listens on."""
        return self._port

    @property
    def database(self) -> str:
        """The database name to log in to."""
        return self._database

    @property
    def user(self) -> str:
        """The administrator's login."""
        return LOCAL_ADMIN_LOGIN

    @property
    def password(self) -> str:
        """The administrator's password (``LOCAL_ADMIN_PASSWORD``)."""
        return LOCAL_ADMIN_PASSWORD

    @property
    def workdir(self) -> Path:
        """The directory holding the database copy, the configuration and the log."""
        return self._workdir

    @property
    def database_path(self) -> Path:
        """The SQLite file the server serves."""
        return self._workdir / f"{self._database}.sqlite"

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return self._log_path

    @property
    def pid(self) -> int:
        """The trytond process id."""
        return self._process.pid

    @property
    def running(self) -> bool:
        """Whether the trytond process is alive."""
        return self._process.poll() is None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"LocalTryton(url={self.url!r}, database={self._database!r}, {state})"

    # -- use -----------------------------------------------------------------------------

    def client(self, **options: Any) -> TrytonClient:
        """A ``TrytonClient`` for the admin of this server (options go to the client)."""
        return TrytonClient(self.url, self._database, self.user, self.password, **options)

    def stop(self) -> None:
        """Stop the server (politely, then by force) and remove the directory it made."""
        self._finalizer()

    def kill(self) -> None:
        """End the server at once, as a crash would; ``stop()`` still cleans up."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> LocalTryton:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _launch(workdir: Path, database: str, port: int) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    config = _write_config(workdir, port=port)
    log = (workdir / "trytond.log").open("ab")
    try:
        process = subprocess.Popen(
            [*_tryton_command("trytond", "trytond.cli"), "-c", str(config), "-d", database],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_tryton_environment(),
            cwd=workdir,
        )
    except OSError as exc:
        log.close()
        raise ExternalSystemError(
            f"Could not start the local Tryton server ({exc.strerror or exc}). "
            f"Reinstall Tryton: {INSTALL_HINT}."
        ) from None
    return process, log


def _wait_until_ready(
    process: subprocess.Popen[bytes],
    port: int,
    database: str,
    source: Path,
    log_path: Path,
    timeout: float,
) -> None:
    """Poll until the server answers and lets the admin in; raise with its log otherwise."""
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    version_call = encode_tryton_json({"id": 0, "method": "common.server.version", "params": []})
    while True:
        if process.poll() is not None:
            tail = _log_tail(log_path)
            if "address already in use" in tail.lower():
                raise _PortTaken()
            raise ExternalSystemError(
                f"The local Tryton server stopped while starting (exit {process.returncode}). "
                f"Its log ({log_path}) ends with:\n{tail}"
            )
        if time.monotonic() > deadline:
            raise ExternalSystemError(
                f"The local Tryton server did not answer on {url} within {timeout:g} s. "
                f"Its log ends with:\n{_log_tail(log_path)}"
            )
        try:
            answer = requests.post(
                f"{url}rpc/",
                data=version_call,
                headers={"Content-Type": "application/json"},
                timeout=2.0,
            )
        except requests.RequestException:
            answer = None
        if answer is not None and answer.status_code == 200:
            break
        time.sleep(0.1)
    # The first login loads the database: a broken one fails here rather than in a caller.
    client = TrytonClient(
        url,
        database,
        LOCAL_ADMIN_LOGIN,
        LOCAL_ADMIN_PASSWORD,
        timeout=max(deadline - time.monotonic(), 5.0),
    )
    try:
        client.login()
    except ExternalSystemError as exc:
        raise ExternalSystemError(
            f"The local Tryton server runs but cannot serve its copy of {source}: {exc} "
            "Is that file a Tryton database made by golden_database()? "
            f"The server's log ends with:\n{_log_tail(log_path)}"
        ) from None
    finally:
        client.close()


class _PortTaken(Exception):
    """The port picked was taken before trytond could bind it."""


def _shut_down(process: subprocess.Popen[bytes], log: IO[bytes], workdir: Path | None) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    log.close()
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)


def _copy_database(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    # A database left in write-ahead-log mode keeps recent commits in its -wal file.
    wal = source.with_name(source.name + "-wal")
    if wal.exists():
        shutil.copyfile(wal, target.with_name(target.name + "-wal"))


def _write_config(workdir: Path, *, port: int | None) -> Path:
    lines = [
        "[database]",
        "uri = sqlite://",
        f"path = {workdir}",
        "",
        "[session]",
        # Tests try wrong passwords on purpose: the default (5) would lock the admin out.
        "max_attempt = 1000",
        "max_attempt_ip_network = 100000",
        "",
    ]
    if port is not None:
        lines += ["[web]", f"listen = 127.0.0.1:{port}", ""]
    config = workdir / "trytond.conf"
    config.write_text("\n".join(lines), encoding="utf-8")
    return config


def _tryton_command(script: str, module: str) -> list[str]:
    """How to run a trytond command with the current Python environment's Tryton."""
    bindir = Path(sys.executable).parent
    for candidate in (bindir / script, bindir / f"{script}.exe"):
        if candidate.is_file():
            return [str(candidate)]
    # No console script beside this interpreter (e.g. a --user install): run the entry point.
    return [
        sys.executable,
        "-c",
        f"import sys; from {module} import main; sys.argv[0] = {script!r}; sys.exit(main())",
    ]


def _tryton_environment(**extra: str) -> dict[str, str]:
    # trytond reads TRYTOND_* variables as configuration: a user's own settings (a
    # PostgreSQL URI...) must not leak into a private local server.
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("TRYTOND_", "TRYTON"))}
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _log_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "(empty log)"


def _silent(message: str) -> None:
    """The default progress callback: say nothing."""
