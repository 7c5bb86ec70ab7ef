"""The shared corpus of real Excel-made workbooks, as seen from the tests.

The corpus lives beside the repository (``../shared/corpus``) and is not shipped with
it, so tests that need it skip, with the reason, when it is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = REPO_ROOT / ".." / "shared" / "corpus"

_SUFFIXES = {".xlsx", ".xlsm"}


def corpus_files() -> list[Path]:
    """Every .xlsx/.xlsm file under the corpus folder, sorted; skips the test if it is absent.

    Call it inside a test. A corpus folder that exists but holds no workbook fails the
    test: that is a broken checkout, not a missing optional resource.
    """
    if not CORPUS_DIR.is_dir():
        pytest.skip(
            f"the workbook corpus is absent: {CORPUS_DIR.resolve()} does not exist "
            "(it sits next to the repository as shared/corpus)"
        )
    files = sorted(p for p in CORPUS_DIR.rglob("*") if p.suffix.lower() in _SUFFIXES)
    if not files:
        pytest.fail(f"the workbook corpus {CORPUS_DIR.resolve()} holds no .xlsx/.xlsm file")
    return files


def corpus_file(name: str) -> Path:
    """The corpus workbook called ``name`` (``"table02.xlsx"``); skips if there is no corpus."""
    for path in corpus_files():
        if path.name == name:
            return path
    pytest.fail(f"the workbook corpus has no file named {name!r}")
