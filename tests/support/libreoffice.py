"""Headless LibreOffice as an independent second reader of the workbooks sheetloop writes.

LibreOffice opens a book with its own parser, recalculates every formula and renders the
sheets to PDF: a book it cannot open, a formula it reads as ``#NAME?`` or a sheet that
prints on no page is a defect that Python readers of the package would not notice.

Each conversion runs with a private LibreOffice profile directory, so several test
processes can convert at the same time (one shared profile would make all but the first
``soffice`` hand their files to the first and exit).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import pytest

DEBIAN_SOFFICE = "/usr/lib/libreoffice/program/soffice"

# LibreOffice's default for .xlsx files is "never recalculate": it would show the cached
# values the file carries, which is exactly what these checks must not trust. 0 means
# "always recalculate on load".
_ALWAYS_RECALCULATE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
           xmlns:xs="http://www.w3.org/2001/XMLSchema"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">
  <prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop>
</item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">
  <prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop>
</item>
</oor:items>
"""

SINGLE_PAGE_SHEETS_PDF = (
    'pdf:calc_pdf_Export:{"SinglePageSheets":{"type":"boolean","value":"true"}}'
)
"""The ``convert`` format that renders every sheet on exactly one PDF page."""


def soffice_path() -> str | None:
    """The LibreOffice executable (``soffice`` or ``libreoffice`` on PATH, or Debian's), or None."""
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    return DEBIAN_SOFFICE if os.access(DEBIAN_SOFFICE, os.X_OK) else None


def require_soffice() -> str:
    """The LibreOffice executable; skips the calling test when there is none.

    On CI (the ``CI`` environment variable is set) a missing LibreOffice fails the test
    instead: the test script installs it there, so its absence is a broken setup, not an
    optional tool.
    """
    found = soffice_path()
    if found is not None:
        return found
    reason = (
        "LibreOffice is not installed (no soffice or libreoffice on PATH, no "
        f"{DEBIAN_SOFFICE}); install Debian's libreoffice-calc-nogui to run this test"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{reason}. CI must provide it.")
    pytest.skip(reason)


def _extension(fmt: str) -> str:
    # "pdf:calc_pdf_Export:{...}" writes .pdf: the part before the first colon is the
    # file extension, the rest names the filter and its options.
    return fmt.split(":", 1)[0]


def convert(paths: Sequence[Path], fmt: str, outdir: Path, timeout: float = 180) -> list[Path]:
    """Convert ``paths`` with one headless LibreOffice run; returns the outputs in order.

    ``fmt`` is a ``--convert-to`` argument such as ``xlsx``, ``pdf`` or
    :data:`SINGLE_PAGE_SHEETS_PDF`. Formulas are recalculated on load. Raises
    AssertionError, with LibreOffice's output, when an expected output file is missing.
    """
    soffice = require_soffice()
    sources = [Path(p).resolve() for p in paths]
    outdir = Path(outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    extension = _extension(fmt)
    outputs = [outdir / f"{source.stem}.{extension}" for source in sources]
    # LibreOffice names outputs after the input's stem: two inputs with one stem, or an
    # input converted onto itself, would silently lose a file.
    assert len(set(outputs)) == len(outputs), f"two inputs share a file name stem: {sources}"
    assert not set(outputs) & set(sources), f"outdir {outdir} would overwrite an input"
    for output in outputs:
        output.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="sheetloop-lo-profile-") as profile:
        user = Path(profile) / "user"
        user.mkdir()
        (user / "registrymodifications.xcu").write_text(_ALWAYS_RECALCULATE, encoding="utf-8")
        command = [
            soffice,
            f"-env:UserInstallation={Path(profile).as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            fmt,
            "--outdir",
            str(outdir),
            *map(str, sources),
        ]
        returncode, stdout, stderr = _run(command, timeout, sources, fmt)
    missing = [output.name for output in outputs if not output.is_file()]
    if missing:
        raise AssertionError(
            f"LibreOffice did not write {missing} in {outdir} (exit status {returncode}).\n"
            f"command: {' '.join(command)}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        )
    return outputs


def _run(command: list[str], timeout: float, sources: list[Path], fmt: str) -> tuple[int, str, str]:
    # soffice is a shell script that starts soffice.bin: on a timeout the whole process
    # group must go, or a stray office keeps running on a profile that is being deleted.
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        stdout, stderr = process.communicate()
        raise AssertionError(
            f"LibreOffice did not convert {[s.name for s in sources]} to {fmt} within "
            f"{timeout:g} s.\ncommand: {' '.join(command)}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        ) from None
    except BaseException:
        _kill_group(process)
        raise
    return process.returncode, stdout, stderr


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def recalculated_values(path: Path, tmpdir: Path) -> dict[str, list[list[object]]]:
    """Every sheet's cell values after LibreOffice recalculated the book.

    Returns sheet name -> rows of values (from A1 to the sheet's used extent). Formula
    errors appear as their text, e.g. ``"#NAME?"``. Chart sheets are left out.
    """
    (converted,) = convert([path], "xlsx", Path(tmpdir) / "recalculated")
    book = openpyxl.load_workbook(converted, data_only=True)
    try:
        return {
            sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)]
            for sheet in book.worksheets
        }
    finally:
        book.close()


def pdf_page_count(pdf: Path) -> int:
    """The number of pages of ``pdf``: from poppler's ``pdfinfo`` when installed."""
    pdfinfo = shutil.which("pdfinfo")
    if pdfinfo is not None:
        run = subprocess.run(
            [pdfinfo, str(pdf)], capture_output=True, text=True, timeout=60, check=False
        )
        match = re.search(r"^Pages:\s+(\d+)\s*$", run.stdout, re.MULTILINE)
        assert match is not None, f"pdfinfo could not read {pdf}:\n{run.stdout}{run.stderr}"
        return int(match.group(1))
    # Without poppler, count page objects. LibreOffice writes uncompressed object
    # dictionaries, so "/Type /Page" (not "/Pages") occurs once per page.
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", Path(pdf).read_bytes()))
