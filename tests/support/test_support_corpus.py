"""The corpus helper finds every sample workbook, or says why a test cannot use them."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import corpus
from support.corpus import corpus_file, corpus_files


def test_corpus_files_are_the_xlsx_and_xlsm_files_sorted() -> None:
    files = corpus_files()
    assert files == sorted(files)
    assert {f.suffix for f in files} <= {".xlsx", ".xlsm"}
    assert all(f.is_file() for f in files)
    assert {"table02.xlsx", "macro01.xlsm"} <= {f.name for f in files}


def test_an_absent_corpus_skips_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(corpus, "CORPUS_DIR", tmp_path / "nowhere")
    with pytest.raises(pytest.skip.Exception, match="the workbook corpus is absent"):
        corpus_files()


def test_a_corpus_folder_without_workbooks_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "README.md").write_text("no books here\n", encoding="utf-8")
    monkeypatch.setattr(corpus, "CORPUS_DIR", tmp_path)
    with pytest.raises(pytest.fail.Exception, match=r"holds no \.xlsx/\.xlsm file"):
        corpus_files()


def test_corpus_file_finds_a_workbook_by_name() -> None:
    assert corpus_file("table02.xlsx").name == "table02.xlsx"
