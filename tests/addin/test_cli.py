"""The command line: its commands, messages and exit statuses (contract §2)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from support.books import make_book, sha256
from support.libreoffice import SINGLE_PAGE_SHEETS_PDF, convert, pdf_page_count, require_soffice

from sheetloop.addin import cli, commands
from sheetloop.workbooks.safe_save import book_write_lock


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_every_command_of_the_contract(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "init", "check", "plan", "allocate", "run", "pull", "push", "refresh"):
        assert command in out


def test_wrong_usage_exits_2(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["check"])
    assert exit_.value.code == 2


def test_init_writes_a_template_that_passes_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = tmp_path / "plan.xlsx"
    assert run(["init", str(path)], capsys)[0] == 0
    code, out, _ = run(["check", str(path)], capsys)
    assert code == 0 and "valid" in out


def test_init_on_an_existing_book_adds_only_what_it_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = make_book(
        tmp_path / "b.xlsx", {"Items": [["Item"], ["A"]], "Notes": [["x"], [1]]}, as_tables=False
    )
    code, out, _ = run(["init", str(path)], capsys)
    assert code == 0
    assert "Items" not in out.split("added to")[1].split(",")[0]
    assert "Demand" in out
    code, out, _ = run(["init", str(path)], capsys)
    assert code == 0 and "nothing to add" in out


def test_a_missing_book_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    code, _, err = run(["check", str(tmp_path / "nope.xlsx")], capsys)
    assert code == 2 and "nope.xlsx" in err


def test_a_file_that_is_not_a_workbook_exits_2_and_is_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = tmp_path / "data.xlsx"
    path.write_text("Item,Qty\nA,1\n")
    before = sha256(path)
    code, _, err = run(["check", str(path)], capsys)
    assert code == 2 and "data.xlsx" in err
    assert sha256(path) == before


def test_a_truncated_book_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    good = tmp_path / "good.xlsx"
    cli.main(["init", str(good)])
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    capsys.readouterr()
    code, _, err = run(["check", str(bad)], capsys)
    assert code == 2 and "bad.xlsx" in err


def test_a_password_protected_book_exits_2_with_advice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # Excel stores an encrypted workbook as an OLE2 compound file, not a zip.
    path = tmp_path / "secret.xlsx"
    path.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 4096)
    code, _, err = run(["check", str(path)], capsys)
    assert code == 2 and "password" in err.lower()


def test_a_book_open_in_excel_is_not_written_in_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = tmp_path / "plan.xlsx"
    cli.main(["init", str(path)])
    (tmp_path / "~$plan.xlsx").write_bytes(b"owner")
    before = sha256(path)
    make_book(tmp_path / "other.xlsx", {"Items": [["Item"], ["A"]]})
    code, _, err = run(["init", str(path)], capsys)
    assert code == 2 and "open in Excel" in err
    assert sha256(path) == before


def test_a_second_writer_exits_2_and_says_who_holds_the_book(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "plan.xlsx"
    cli.main(["init", str(path)])
    capsys.readouterr()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    with book_write_lock(path, command="plan"):
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from sheetloop.addin.cli import main; sys.exit(main(sys.argv[1:]))",
                "init",
                str(path),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert str(os.getpid()) in result.stderr and "plan" in result.stderr


def test_an_internal_error_is_one_line_and_a_log_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    def broken(path: Path) -> commands.Outcome:
        raise RuntimeError("boom")

    monkeypatch.setattr(commands, "check", broken)
    monkeypatch.setenv("SHEETLOOP_LOG_DIR", str(tmp_path / "logs"))
    code, _out, err = run(["check", str(tmp_path / "x.xlsx")], capsys)
    assert code == 70
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    logs = list((tmp_path / "logs").iterdir())
    assert len(logs) == 1 and str(logs[0]) in err
    assert "RuntimeError: boom" in logs[0].read_text()


def test_pull_and_push_without_connections_say_how_to_add_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = tmp_path / "plan.xlsx"
    cli.main(["init", str(path)])
    before = sha256(path)
    code, _, err = run(["pull", str(path)], capsys)
    assert code == 2 and "no connections: add a row to the Connections table" in err
    code, _, err = run(["push", str(path), "erp"], capsys)
    assert code == 2 and "no connections" in err
    assert sha256(path) == before


def test_the_demo_writes_a_valid_book_with_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    code, out, _ = run(["demo", str(tmp_path), "--start", "2026-11-30"], capsys)
    assert code == 0
    assert "45 items" in out and "25 customers" in out
    book = tmp_path / "sheetloop-demo.xlsx"
    assert run(["check", str(book)], capsys)[0] == 0
    with zipfile.ZipFile(book) as z:
        assert "xl/tables/table1.xml" in z.namelist()


def test_the_demo_is_deterministic_relative_to_its_horizon(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    from sheetloop.workbooks.file_book import FileBook

    a, b = tmp_path / "a", tmp_path / "b"
    run(["demo", str(a), "--start", "2026-11-30"], capsys)
    run(["demo", str(b), "--start", "2026-11-30"], capsys)
    book_a = FileBook.open(a / "sheetloop-demo.xlsx")
    book_b = FileBook.open(b / "sheetloop-demo.xlsx")
    for name in ("Items", "BOM", "Demand", "Receipts", "Customers"):
        ta, tb = book_a.find_table(name), book_b.find_table(name)
        assert ta is not None and tb is not None and ta.rows == tb.rows


def test_libreoffice_renders_every_sheet_of_the_demo_and_the_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    require_soffice()
    run(["demo", str(tmp_path), "--start", dt.date(2026, 11, 30).isoformat()], capsys)
    template = tmp_path / "template.xlsx"
    cli.main(["init", str(template)])
    pdfs = convert(
        [tmp_path / "sheetloop-demo.xlsx", template], SINGLE_PAGE_SHEETS_PDF, tmp_path / "pdf"
    )
    from sheetloop.workbooks.file_book import FileBook

    for pdf, book in zip(pdfs, (tmp_path / "sheetloop-demo.xlsx", template), strict=True):
        opened = FileBook.open(book)
        text = subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        visible = [s for s in opened.sheet_names if not s.startswith("_")]
        assert pdf_page_count(pdf) >= len(visible)
        for sheet in visible:
            raw = opened.find_table(sheet) or opened.find_table("SheetloopHelp")
            assert raw is not None
            assert raw.headers[0] in text, f"{sheet} did not render"


def test_a_book_from_a_newer_sheetloop_is_read_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    from sheetloop.workbooks.file_book import FileBook

    path = tmp_path / "plan.xlsx"
    cli.main(["init", str(path)])
    book = FileBook.open(path)
    book.set_state("contract_version", "99.0")
    book.save()
    state = FileBook.open(path).state()
    assert state["contract_version"] != "99.0", "saving records this release's contract"
    # Simulate a newer writer by editing the record after the save.
    import re
    import shutil
    import zipfile

    tmp = tmp_path / "newer.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if b"contract_version" in data:
                data = re.sub(
                    rb"(contract_version</t></is></c><c [^>]*><is><t[^>]*>)[^<]*",
                    rb"\g<1>99.0",
                    data,
                )
            dst.writestr(info, data)
    shutil.move(tmp, path)
    code, _, err = run(["check", str(path)], capsys)
    assert code == 0
    assert "written by a newer sheetloop (workbook contract 99.0" in err


def test_a_secret_in_an_error_is_masked_on_screen_and_in_the_crash_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    from sheetloop.connectors.http import resolve_secret
    from sheetloop.errors import ExternalSystemError

    monkeypatch.setenv("CRM_TOKEN", "pat-na1-0123456789abcdef")
    resolve_secret("env:CRM_TOKEN", connection="crm")  # as a connector does

    def leaky_bug(path: Path) -> commands.Outcome:
        raise RuntimeError("GET https://api.example.com/x?key=pat-na1-0123456789abcdef failed")

    def leaky_failure(path: Path) -> commands.Outcome:
        raise ExternalSystemError("crm answered 'bad token pat-na1-0123456789abcdef'")

    monkeypatch.setenv("SHEETLOOP_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setattr(commands, "check", leaky_bug)
    code, out, err = run(["check", str(tmp_path / "x.xlsx")], capsys)
    assert code == 70 and "***" in err
    monkeypatch.setattr(commands, "check", leaky_failure)
    code, out2, err2 = run(["check", str(tmp_path / "x.xlsx")], capsys)
    assert code == 3 and "***" in err2
    (log,) = (tmp_path / "logs").iterdir()
    for text in (out, err, out2, err2, log.read_text()):
        assert "0123456789abcdef" not in text
