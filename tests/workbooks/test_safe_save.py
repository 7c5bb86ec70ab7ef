"""Saving a book: never over an open Excel, never two writers at once, never half a file."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path
from typing import BinaryIO

import pytest

from sheetloop.errors import BookBusyError, UsageError
from sheetloop.workbooks.safe_save import (
    TEMP_PREFIX,
    atomic_write,
    book_write_lock,
    excel_lock_file,
    refuse_if_open_in_excel,
)

# Child processes report back as one JSON line; startup of the interpreter is excluded
# from the times they report.
_TRY_LOCK = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from sheetloop.errors import BookBusyError
    from sheetloop.workbooks.safe_save import book_write_lock

    book, wait = Path(sys.argv[1]), float(sys.argv[2])
    start = time.monotonic()
    try:
        with book_write_lock(book, command="allocate", wait=wait):
            result = {"got_lock": True}
    except BookBusyError as exc:
        result = {"got_lock": False, "message": exc.message, "exit_code": exc.exit_code}
    result["elapsed"] = time.monotonic() - start
    print(json.dumps(result))
    """
)

_HOLD_LOCK_UNTIL_KILLED = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sheetloop.workbooks.safe_save import book_write_lock

    book, ready = Path(sys.argv[1]), Path(sys.argv[2])
    with book_write_lock(book, command="refresh"):
        ready.write_text("locked")
        time.sleep(60)
    """
)

_DIE_WHILE_WRITING = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sheetloop.workbooks.safe_save import atomic_write

    book, ready = Path(sys.argv[1]), Path(sys.argv[2])

    def write(out):
        out.write(b"PK half a workbook")
        out.flush()
        ready.write_text("writing")
        time.sleep(60)

    atomic_write(book, write)
    """
)

_COUNT_UNDER_LOCK = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sheetloop.workbooks.safe_save import book_write_lock

    book, counter, rounds = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    for _ in range(rounds):
        with book_write_lock(book, command="plan", wait=30):
            value = int(counter.read_text())
            time.sleep(0.002)  # widen the window a second writer would need
            counter.write_text(str(value + 1))
    """
)


def _run_child(script: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(child: subprocess.Popen[str]) -> dict[str, object]:
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    result: dict[str, object] = json.loads(out)
    return result


def _wait_for(path: Path, child: subprocess.Popen[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if child.poll() is not None:
            pytest.fail(f"child ended early: {child.communicate()[1]}")
        if time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"child did not reach {path.name} in {timeout} s")
        time.sleep(0.02)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX))


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """A small, valid zip standing in for a workbook."""
    path = tmp_path / "Plan.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>" * 200)
    return path


# --- Excel's owner file -----------------------------------------------------------------


def test_a_book_without_an_owner_file_may_be_written(book: Path) -> None:
    assert excel_lock_file(book) is None
    refuse_if_open_in_excel(book)  # does not raise


def test_a_book_open_in_excel_is_not_written_in_place(book: Path) -> None:
    (book.parent / "~$Plan.xlsx").write_bytes(b"\x05Alice")

    with pytest.raises(BookBusyError) as caught:
        refuse_if_open_in_excel(book)

    assert caught.value.exit_code == 2
    assert caught.value.message.startswith(
        "Plan.xlsx is open in Excel (lock file ~$Plan.xlsx exists): close it there, "
        "or write elsewhere with --out OUT."
    )
    assert excel_lock_file(book) == book.parent / "~$Plan.xlsx"


def test_an_owner_file_that_overwrites_the_first_two_characters_counts(tmp_path: Path) -> None:
    book = tmp_path / "PlanningBook.xlsx"
    book.write_bytes(b"book")
    (tmp_path / "~$anningBook.xlsx").write_bytes(b"\x05Alice")

    assert excel_lock_file(book) == tmp_path / "~$anningBook.xlsx"
    with pytest.raises(BookBusyError, match=r"lock file ~\$anningBook\.xlsx exists"):
        refuse_if_open_in_excel(book)


def test_the_owner_file_of_another_book_does_not_count(book: Path) -> None:
    (book.parent / "~$Other.xlsx").write_bytes(b"\x05Alice")
    (book.parent / "~$Plan.xlsm").write_bytes(b"\x05Alice")

    assert excel_lock_file(book) is None


# --- one writer at a time ---------------------------------------------------------------


def test_a_second_process_waits_then_names_the_holder(book: Path) -> None:
    with book_write_lock(book, command="plan"):
        busy = _result(_run_child(_TRY_LOCK, book, 0.5))

    assert busy["got_lock"] is False
    assert busy["exit_code"] == 2
    assert 0.5 <= float(str(busy["elapsed"])) < 1.5
    message = str(busy["message"])
    assert message.startswith("Plan.xlsx is being written by another sheetloop process")
    assert f"pid {os.getpid()} on {socket.gethostname()}" in message
    assert "command 'plan'" in message
    assert "--out OUT" in message


def test_after_release_the_next_process_gets_the_lock_at_once(book: Path) -> None:
    with book_write_lock(book, command="plan"):
        pass

    result = _result(_run_child(_TRY_LOCK, book, 5))

    assert result["got_lock"] is True
    assert float(str(result["elapsed"])) < 0.5


def test_the_sidecar_says_who_holds_the_lock_and_is_removed_on_release(book: Path) -> None:
    sidecar = book.parent / ".~sheetloop-Plan.xlsx.lock"

    with book_write_lock(book, command="pull"):
        holder = json.loads(sidecar.read_text())
        assert holder["pid"] == os.getpid()
        assert holder["command"] == "pull"

    assert not sidecar.exists()


def test_the_lock_is_released_when_the_write_fails(book: Path) -> None:
    with pytest.raises(RuntimeError), book_write_lock(book, command="plan"):
        raise RuntimeError("solver crashed")

    with book_write_lock(book, command="plan", wait=0):
        pass  # taken again without waiting


def test_a_lock_left_by_a_killed_process_does_not_block(book: Path) -> None:
    ready = book.parent / "ready"
    holder = _run_child(_HOLD_LOCK_UNTIL_KILLED, book, ready)
    _wait_for(ready, holder)
    holder.kill()
    holder.wait(timeout=30)
    assert (book.parent / ".~sheetloop-Plan.xlsx.lock").exists() or sys.platform == "win32"

    start = time.monotonic()
    with book_write_lock(book, command="plan", wait=0):
        elapsed = time.monotonic() - start

    assert elapsed < 0.5


def test_a_leftover_sidecar_we_cannot_write_is_replaced_by_our_own(book: Path) -> None:
    # Another user's crashed run left its sidecar, read-only for us.
    sidecar = book.parent / ".~sheetloop-Plan.xlsx.lock"
    sidecar.write_text(
        json.dumps(
            {
                "pid": 1,
                "host": "elsewhere",
                "user": "bob",
                "command": "push",
                "since": "2026-01-05T08:00:00",
            }
        )
    )
    sidecar.chmod(0o444)

    with book_write_lock(book, command="plan", wait=0):
        assert json.loads(sidecar.read_text())["pid"] == os.getpid()


def test_writers_in_several_processes_never_overlap(book: Path) -> None:
    counter = book.parent / "counter"
    counter.write_text("0")
    processes, rounds = 4, 25

    children = [_run_child(_COUNT_UNDER_LOCK, book, counter, rounds) for _ in range(processes)]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err

    # A lost update would show as a count below the number of increments.
    assert int(counter.read_text()) == processes * rounds
    assert not (book.parent / ".~sheetloop-Plan.xlsx.lock").exists()


# --- atomic save ------------------------------------------------------------------------


def test_a_successful_save_replaces_the_content(book: Path) -> None:
    atomic_write(book, lambda out: out.write(b"new workbook"))

    assert book.read_bytes() == b"new workbook"
    assert _temps(book.parent) == []


def test_a_save_creates_a_book_that_did_not_exist(tmp_path: Path) -> None:
    new = tmp_path / "New.xlsx"

    atomic_write(new, lambda out: out.write(b"fresh"))

    assert new.read_bytes() == b"fresh"


@pytest.mark.parametrize("interruption", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_writer_that_fails_midway_leaves_the_book_untouched(
    book: Path, interruption: BaseException
) -> None:
    before = _sha256(book)

    def write(out: BinaryIO) -> None:
        out.write(b"PK half a workbook")
        raise interruption

    with pytest.raises(type(interruption)):
        atomic_write(book, write)

    assert _sha256(book) == before
    assert _temps(book.parent) == []


def test_a_writer_killed_midway_leaves_the_book_whole(book: Path) -> None:
    before = _sha256(book)
    ready = book.parent / "ready"
    writer = _run_child(_DIE_WHILE_WRITING, book, ready)
    _wait_for(ready, writer)
    writer.kill()
    writer.wait(timeout=30)

    assert _sha256(book) == before
    with zipfile.ZipFile(book) as archive:
        assert archive.testzip() is None
    # The dead writer's temporary file stays, recognisable by its name...
    [stale] = _temps(book.parent)
    assert stale.startswith(TEMP_PREFIX) and stale.endswith("-Plan.xlsx")

    atomic_write(book, lambda out: out.write(b"next save"))

    # ...until the next successful save of the book removes it.
    assert book.read_bytes() == b"next save"
    assert _temps(book.parent) == []


def test_a_save_leaves_leftovers_of_other_books_alone(book: Path) -> None:
    other = book.parent / f"{TEMP_PREFIX}0badc0de-Other.xlsx"
    other.write_bytes(b"someone else's")

    atomic_write(book, lambda out: out.write(b"new"))

    assert other.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_a_save_keeps_the_books_permission_bits(book: Path) -> None:
    book.chmod(0o640)

    atomic_write(book, lambda out: out.write(b"new"))

    assert stat.S_IMODE(book.stat().st_mode) == 0o640


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges there")
def test_a_linked_book_is_saved_through_its_link(book: Path, tmp_path: Path) -> None:
    link = tmp_path / "shortcut" / "Plan.xlsx"
    link.parent.mkdir()
    link.symlink_to(book)

    atomic_write(link, lambda out: out.write(b"via link"))

    assert link.is_symlink()
    assert book.read_bytes() == b"via link"


def test_saving_into_a_missing_folder_says_so(tmp_path: Path) -> None:
    target = tmp_path / "no such folder" / "Plan.xlsx"

    with pytest.raises(UsageError, match=r"Cannot write Plan\.xlsx: cannot create a file in"):
        atomic_write(target, lambda out: out.write(b"x"))
