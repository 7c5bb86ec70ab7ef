"""Headless LibreOffice converts, recalculates and renders books for the tests."""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest

from support import libreoffice
from support.corpus import corpus_files
from support.libreoffice import (
    SINGLE_PAGE_SHEETS_PDF,
    convert,
    pdf_page_count,
    recalculated_values,
    require_soffice,
)
from support.ooxml import invariant_violations


def test_require_soffice_returns_an_executable_or_skips() -> None:
    soffice = require_soffice()
    assert os.access(soffice, os.X_OK)


def test_a_missing_libreoffice_skips_the_test_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(libreoffice, "soffice_path", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="install Debian's libreoffice-calc-nogui"):
        require_soffice()


def test_a_missing_libreoffice_fails_the_test_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(libreoffice, "soffice_path", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must provide it"):
        require_soffice()


def test_every_corpus_workbook_converts_to_an_xlsx_that_satisfies_the_invariants(
    tmp_path: Path,
) -> None:
    # A second writer's output doubles as a check that the invariant checker accepts
    # sound books it was not developed against.
    files = corpus_files()
    outputs = convert(files, "xlsx", tmp_path)
    assert [o.name for o in outputs] == [f"{f.stem}.xlsx" for f in files]
    assert {o.name: invariant_violations(o) for o in outputs if invariant_violations(o)} == {}


def test_every_corpus_workbook_renders_to_a_pdf_of_at_least_one_page(tmp_path: Path) -> None:
    outputs = convert(corpus_files(), "pdf", tmp_path)
    pages = {pdf.name: pdf_page_count(pdf) for pdf in outputs}
    assert {name: count for name, count in pages.items() if count < 1} == {}


def _two_long_sheets(path: Path) -> Path:
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "Demand"
    second = book.create_sheet("Supply")
    for sheet in (first, second):
        for row in range(1, 301):
            sheet.cell(row=row, column=1, value=f"line {row}")
    book.save(path)
    return path


def test_the_single_page_filter_renders_each_sheet_on_one_page(tmp_path: Path) -> None:
    book = _two_long_sheets(tmp_path / "long.xlsx")
    (paged,) = convert([book], "pdf", tmp_path / "paged")
    (single,) = convert([book], SINGLE_PAGE_SHEETS_PDF, tmp_path / "single")
    assert pdf_page_count(paged) > 2
    assert pdf_page_count(single) == 2


def test_the_page_count_without_pdfinfo_agrees_with_pdfinfo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("pdfinfo") is None:
        pytest.skip("pdfinfo (poppler-utils) is not installed, so there is nothing to agree with")
    (pdf,) = convert([_two_long_sheets(tmp_path / "long.xlsx")], "pdf", tmp_path / "out")
    with_pdfinfo = pdf_page_count(pdf)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert pdf_page_count(pdf) == with_pdfinfo


def _book_with_stale_values(path: Path) -> Path:
    """A book whose cached formula results are wrong, as a careless writer leaves them."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Plan"
    sheet["A1"], sheet["A2"] = 2, 3
    sheet["A3"] = "=A1*A2"
    sheet["A4"] = "=NOSUCHFUNCTION(1)"
    book.save(path)
    with zipfile.ZipFile(path) as package:
        parts = {name: package.read(name) for name in package.namelist()}
    sheet_xml = parts["xl/worksheets/sheet1.xml"].decode()
    # openpyxl writes the empty value as <v /> or, with lxml installed, <v></v> or <v/>.
    stale = re.sub(r"<f>A1\*A2</f><v\s*(?:/>|></v>)", "<f>A1*A2</f><v>99</v>", sheet_xml)
    assert stale != sheet_xml, "openpyxl no longer writes an empty cached value"
    parts["xl/worksheets/sheet1.xml"] = stale.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in parts.items():
            package.writestr(name, data)
    return path


def test_recalculated_values_ignore_stale_cached_results(tmp_path: Path) -> None:
    book = _book_with_stale_values(tmp_path / "stale.xlsx")
    assert recalculated_values(book, tmp_path) == {"Plan": [[2], [3], [6], ["#NAME?"]]}


def test_a_failed_conversion_raises_with_libreoffice_output(tmp_path: Path) -> None:
    # A plain text file opens as a text document, which has no xlsx export filter.
    notes = tmp_path / "notes.txt"
    notes.write_text("not a spreadsheet\n", encoding="utf-8")
    with pytest.raises(AssertionError, match=r"did not write \['notes.xlsx'\](.|\n)*stderr:"):
        convert([notes], "xlsx", tmp_path / "out", timeout=120)


def test_a_conversion_that_runs_too_long_raises(tmp_path: Path) -> None:
    book = _two_long_sheets(tmp_path / "long.xlsx")
    with pytest.raises(
        AssertionError, match=r"did not convert \['long.xlsx'\] to pdf within 0.05 s"
    ):
        convert([book], "pdf", tmp_path / "out", timeout=0.05)


def test_convert_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    require_soffice()
    book = _two_long_sheets(tmp_path / "long.xlsx")
    with pytest.raises(AssertionError, match="would overwrite an input"):
        convert([book], "xlsx", tmp_path)
