"""Time the workbook guard against a bare python-calamine read of the same sheet.

Builds a workbook with one 100,000-row x 15-column sheet (about 100 MB of XML, written the
way Excel writes it), then, in the same run, times `check_book_file` on it and
python-calamine opening the workbook and reading that sheet into Python values. Prints both
times and their ratio; also times the guard on the same sheet without its <dimension>
element, where every cell reference is collected instead of checked against it.

    .venv/bin/python benchmarks/bench_guard.py [--rows 100000] [--cols 15] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from python_calamine import CalamineWorkbook

from sheetloop.workbooks.guard import check_book_file

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
SHARED_STRINGS = 1000


def column_name(number: int) -> str:
    name = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        name = chr(65 + rest) + name
    return name


def sheet_xml(rows: int, cols: int, *, dimension: bool) -> bytes:
    """A worksheet as Excel writes it: a text column, then numbers and formulas."""
    letters = [column_name(c) for c in range(1, cols + 1)]
    parts = [
        f'{DECLARATION}<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}" '
        'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac">'
    ]
    if dimension:
        parts.append(f'<dimension ref="A1:{letters[-1]}{rows}"/>')
    parts.append('<sheetFormatPr defaultRowHeight="15" x14ac:dyDescent="0.25"/><sheetData>')
    for r in range(1, rows + 1):
        cells = [f'<c r="A{r}" t="s"><v>{r % SHARED_STRINGS}</v></c>']
        for i, letter in enumerate(letters[1:], start=1):
            value = f"{r * 7 + i}.{(r * 7919 + i * 104729) % 10**16:016d}"
            if i % 2 == 0:  # every other column a formula over the two before it
                formula = f"{letters[i - 2]}{r}*{letters[i - 1]}{r}"
                cells.append(f'<c r="{letter}{r}" s="2"><f>{formula}</f><v>{value}</v></c>')
            else:
                cells.append(f'<c r="{letter}{r}" s="1"><v>{value}</v></c>')
        parts.append(f'<row r="{r}" spans="1:{cols}" x14ac:dyDescent="0.25">')
        parts.append("".join(cells))
        parts.append("</row>")
    parts.append('</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" ')
    parts.append('header="0.3" footer="0.3"/></worksheet>')
    return "".join(parts).encode()


def write_book(path: Path, sheet: bytes) -> None:
    strings = "".join(f"<si><t>Item {i}</t></si>" for i in range(SHARED_STRINGS))
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    parts = {
        "[Content_Types].xml": (
            f'{DECLARATION}<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            f'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
            f'ContentType="{ct}.sheet.main+xml"/><Override PartName="/xl/worksheets/'
            f'sheet1.xml" ContentType="{ct}.worksheet+xml"/><Override PartName="/xl/'
            f'sharedStrings.xml" ContentType="{ct}.sharedStrings+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'{DECLARATION}<Relationships xmlns="http://schemas.openxmlformats.org/package/'
            f'2006/relationships"><Relationship Id="rId1" Type="{REL_NS}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'{DECLARATION}<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><sheets>'
            '<sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'{DECLARATION}<Relationships xmlns="http://schemas.openxmlformats.org/package/'
            f'2006/relationships"><Relationship Id="rId1" Type="{REL_NS}/worksheet" '
            f'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" '
            f'Type="{REL_NS}/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
        ),
        "xl/sharedStrings.xml": (
            f'{DECLARATION}<sst xmlns="{MAIN_NS}" count="{SHARED_STRINGS}" '
            f'uniqueCount="{SHARED_STRINGS}">{strings}</sst>'
        ),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for name, text in parts.items():
            z.writestr(name, text)
        z.writestr("xl/worksheets/sheet1.xml", sheet)


def best_of(repeat: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def read_with_calamine(path: Path) -> int:
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Data").to_python()
    return len(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cols", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        book = Path(folder) / "bench.xlsx"
        bare = Path(folder) / "bench-no-dimension.xlsx"
        started = time.perf_counter()
        sheet = sheet_xml(args.rows, args.cols, dimension=True)
        write_book(book, sheet)
        write_book(bare, sheet_xml(args.rows, args.cols, dimension=False))
        built = time.perf_counter() - started
        print(
            f"sheet: {args.rows:,} rows x {args.cols} columns, {len(sheet) / 1e6:.0f} MB of XML, "
            f"{book.stat().st_size / 1e6:.1f} MB zipped (built in {built:.1f} s)"
        )
        assert read_with_calamine(book) == args.rows

        guard = best_of(args.repeat, lambda: check_book_file(book))
        guard_bare = best_of(args.repeat, lambda: check_book_file(bare))
        calamine = best_of(args.repeat, lambda: read_with_calamine(book))

    print(f"guard (sheet with <dimension>):     {guard:6.3f} s")
    print(f"guard (sheet without <dimension>):  {guard_bare:6.3f} s")
    print(f"python-calamine read of the sheet:  {calamine:6.3f} s")
    print(f"guard / calamine read:              {guard / calamine:6.2f}")
    print(f"guard without dimension / read:     {guard_bare / calamine:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
