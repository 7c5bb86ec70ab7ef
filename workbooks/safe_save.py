"""Writing a book safely: never over Excel, never two writers at once, never half a file.

Three guards, used together by every command that saves a book:

- :func:`refuse_if_open_in_excel` -- Excel keeps the book open while it shows it and
  writes its own copy back on save, so anything written in place meanwhile is lost (or
  the replace fails on Windows). Excel announces an open book with an owner file
  ``~$<name>`` beside it; its presence is the signal to write elsewhere.
- :func:`book_write_lock` -- an operating-system lock on a hidden sidecar file
  ``.~sheetloop-<name>.lock`` serialises sheetloop processes writing one book. The lock
  dies with its process, so a crash never leaves the book blocked; the sidecar's content
  (pid, host, user, command, start time) only serves to tell a waiting user who holds it.
- :func:`atomic_write` -- the new content goes to a temporary file in the book's folder,
  is flushed to disk, and then takes the book's name in one ``os.replace``. A crash at any
  point leaves either the old book or the new one, whole. A crash before the replace may
  leave a temporary ``.~sheetloop-tmp-<8 hex>-<name>`` behind; the next successful save of
  that book removes it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import re
import secrets
import socket
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from sheetloop.errors import BookBusyError, UsageError

__all__ = [
    "LOCK_PREFIX",
    "TEMP_PREFIX",
    "atomic_write",
    "book_write_lock",
    "excel_lock_file",
    "refuse_if_open_in_excel",
]

#: Sidecar lock file of a book: ``.~sheetloop-Plan.xlsx.lock``.
LOCK_PREFIX = ".~sheetloop-"
#: Temporary file of a save in progress: ``.~sheetloop-tmp-1a2b3c4d-Plan.xlsx``.
TEMP_PREFIX = ".~sheetloop-tmp-"

_POLL_SECONDS = 0.05
# Windows cannot read a byte range another process has locked, so the lock sits far
# beyond the holder information at the start of the file (locking past the end is allowed).
_WINDOWS_LOCK_OFFSET = 0x7FFF_FFFF

if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _real(path: Path) -> Path:
    """The file a path stands for: two names of one book must share one lock and one save."""
    return Path(os.path.realpath(path))


# --- Excel ------------------------------------------------------------------------------


def _owner_file_names(name: str) -> list[str]:
    """Names Office may give the owner file of a book called ``name``, most usual first.

    Excel prefixes the whole name (``~$Plan.xlsx``); Office has also been seen to overwrite
    the first two characters of longer names instead (``PlanningBook.xlsx`` ->
    ``~$anningBook.xlsx``). Both are checked; the second only when the stem keeps at least
    one character, so that ``~$.xlsx``-like names are never taken for a lock.
    """
    names = ["~$" + name]
    stem_length = len(name) - len(Path(name).suffix)
    if stem_length > 2:
        names.append("~$" + name[2:])
    return names


def excel_lock_file(book: Path) -> Path | None:
    """The owner file Excel keeps beside ``book`` while it has the book open, if one exists.

    Looks beside the path as given and, when it is a link, beside the file it points to.
    """
    places = [(book.parent, book.name)]
    real = _real(book)
    if real != _real(book.parent) / book.name:
        places.append((real.parent, real.name))
    for folder, name in places:
        for candidate in _owner_file_names(name):
            owner = folder / candidate
            if owner.is_file():
                return owner
    return None


def refuse_if_open_in_excel(book: Path) -> None:
    """Raise :class:`BookBusyError` when Excel has ``book`` open (its ``~$`` file exists).

    Call it before writing over any existing book: the one updated in place, and an
    ``--out`` file that already exists (Excel may have that one open too).
    """
    owner = excel_lock_file(book)
    if owner is not None:
        raise BookBusyError(
            f"{book.name} is open in Excel (lock file {owner.name} exists): close it there, "
            f"or write elsewhere with --out OUT. If Excel is not running, the lock file is "
            f"left over from a crash: delete {owner} and try again."
        )


# --- one writer at a time ---------------------------------------------------------------


def _lock_path(book: Path) -> Path:
    real = _real(book)
    return real.parent / f"{LOCK_PREFIX}{real.name}.lock"


def _holder_info(command: str) -> bytes:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (containers, services)
        user = "unknown"
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "user": user,
        "command": command,
        "since": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    return json.dumps(info).encode("utf-8")


def _describe_holder(lock_path: Path) -> str:
    """Who holds the lock, as the holder wrote it; vague if it has not written yet."""
    try:
        info = json.loads(lock_path.read_bytes().decode("utf-8"))
        return (
            f"pid {info['pid']} on {info['host']}, user {info['user']}, "
            f"command '{info['command']}', since {info['since']}"
        )
    except (OSError, ValueError, KeyError, TypeError):
        return "holder details not available"


def _open_lock_file(lock_path: Path, book: Path) -> tuple[int, bool]:
    """Open (creating) the sidecar; the flag says whether holder details can be written.

    A sidecar left by another user's crashed run may be read-only for us: a read-only
    handle still takes the lock, it just cannot say who we are.
    """
    binary = getattr(os, "O_BINARY", 0)
    try:
        return os.open(lock_path, os.O_RDWR | os.O_CREAT | binary, 0o666), True
    except PermissionError:
        if lock_path.is_file():
            with contextlib.suppress(OSError):
                return os.open(lock_path, os.O_RDONLY | binary), False
        error: OSError = PermissionError("permission denied")
    except OSError as exc:
        error = exc
    raise UsageError(
        f"Cannot write {book.name}: cannot create the lock file {lock_path} "
        f"({error.strerror or error}). Check that the folder exists and is writable, or "
        f"write elsewhere with --out OUT."
    )


def _same_file(fd: int, lock_path: Path) -> bool:
    """Whether ``fd`` is still the file at ``lock_path`` (the releaser may have removed it)."""
    try:
        on_disk = os.stat(lock_path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _acquire(lock_path: Path, book: Path, wait: float) -> tuple[int, bool]:
    deadline = time.monotonic() + max(wait, 0.0)
    fd, writable = _open_lock_file(lock_path, book)
    while True:
        if _try_lock(fd):
            # A releaser removes the file before letting go of it, so a lock won on a file
            # that is no longer at the path is a lock on nothing: start over on the new one.
            if _same_file(fd, lock_path):
                if writable:
                    return fd, True
                # Someone else's leftover we cannot write to: while holding it, replace it
                # by our own, so waiters see who we are rather than a dead holder; if it
                # cannot be removed either, it still serves as the lock.
                try:
                    lock_path.unlink()
                except OSError:
                    return fd, False
            _unlock(fd)
            os.close(fd)
            fd, writable = _open_lock_file(lock_path, book)
            continue
        if time.monotonic() >= deadline:
            os.close(fd)
            raise BookBusyError(
                f"{book.name} is being written by another sheetloop process "
                f"({_describe_holder(lock_path)}); waited {wait:g} s. Try again when it has "
                f"finished, or write elsewhere with --out OUT."
            )
        time.sleep(_POLL_SECONDS)


def _release(fd: int, lock_path: Path) -> None:
    if sys.platform == "win32":
        # Windows cannot remove a file another process has open; a waiter that has it open
        # simply inherits it, which is as good.
        _unlock(fd)
        os.close(fd)
        with contextlib.suppress(OSError):
            lock_path.unlink()
        return
    # Remove while still holding the lock, so no one can win a lock on a file about to vanish.
    if _same_file(fd, lock_path):
        with contextlib.suppress(OSError):  # a leftover we may not remove stays harmless
            lock_path.unlink()
    _unlock(fd)
    os.close(fd)


@contextmanager
def book_write_lock(book: Path, *, command: str, wait: float = 5.0) -> Iterator[None]:
    """Hold the exclusive right to write ``book`` among sheetloop processes.

    A second process waits up to ``wait`` seconds, then raises :class:`BookBusyError`
    naming the holder (pid, host, user, ``command``, start time). The lock is the
    operating system's (``flock`` on POSIX, ``msvcrt.locking`` on Windows) on a hidden
    sidecar ``.~sheetloop-<name>.lock`` beside the book, removed on release; a sidecar left
    by a killed process holds no lock and does not block anyone. The lock is per open file,
    so one process taking it twice for one book waits on itself.
    """
    lock_path = _lock_path(book)
    fd, writable = _acquire(lock_path, book, wait)
    try:
        if writable:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, _holder_info(command))
        yield
    finally:
        _release(fd, lock_path)


# --- atomic save ------------------------------------------------------------------------


def _temp_pattern(name: str) -> re.Pattern[str]:
    return re.compile(re.escape(TEMP_PREFIX) + r"[0-9a-f]{8}-" + re.escape(name) + r"\Z")


def _create_temp(real: Path, book: Path) -> tuple[int, Path]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temp = real.parent / f"{TEMP_PREFIX}{secrets.token_hex(4)}-{real.name}"
        try:
            # 0o666 lets the umask decide, as for any new file; an existing book's own
            # permissions are copied over before the replace.
            return os.open(temp, flags, 0o666), temp
        except FileExistsError:
            continue
        except OSError as exc:
            raise UsageError(
                f"Cannot write {book.name}: cannot create a file in {real.parent} "
                f"({exc.strerror}). Check that the folder exists and is writable, or write "
                f"elsewhere with --out OUT."
            ) from exc


def _replace(temp: Path, real: Path, book: Path) -> None:
    attempts = 10 if sys.platform == "win32" else 1
    for attempt in range(attempts):
        try:
            os.replace(temp, real)
            return
        except PermissionError as exc:
            # On Windows a virus scanner or indexer may hold the book for a moment.
            if attempt + 1 < attempts:
                time.sleep(0.1)
                continue
            raise BookBusyError(
                f"Cannot replace {book.name}: another program has it open ({exc.strerror}). "
                f"Close it there, or write elsewhere with --out OUT."
            ) from exc


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    if sys.platform == "win32":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_stale_temps(real: Path) -> None:
    pattern = _temp_pattern(real.name)
    with contextlib.suppress(OSError), os.scandir(real.parent) as entries:
        for entry in entries:
            if pattern.match(entry.name):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def atomic_write(target: Path, write: Callable[[BinaryIO], object]) -> None:
    """Replace ``target`` with what ``write`` writes, all at once or not at all.

    ``write`` receives a binary file: a temporary ``.~sheetloop-tmp-<8 hex>-<name>`` in the
    target's folder. When it returns, the file is flushed and fsynced and then renamed over
    the target with ``os.replace`` (a link is followed: the file it points to is replaced).
    If ``write`` raises -- or the user presses Ctrl+C -- the temporary file is removed and
    the target is untouched. An existing target's permission bits carry over; a new target
    gets the usual permissions for new files.

    A process killed before the rename leaves its temporary file behind; each successful
    save removes every such leftover of the same book. Call it while holding
    :func:`book_write_lock`, which makes this save the book's only one in progress.
    """
    real = _real(target)
    fd, temp = _create_temp(real, target)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temp, stat.S_IMODE(os.stat(real).st_mode))
        _replace(temp, real, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    _sync_folder(real.parent)
    _remove_stale_temps(real)
