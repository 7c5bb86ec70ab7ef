"""Writing into a real Excel book loses nothing: the lossless-write proof over the corpus.

Every workbook of the shared corpus (charts, images, buttons, VBA, comments, tables,
defined names, ...) goes through what sheetloop does to a user's book:

1. ``init`` adds the input tables the book lacks;
2. a first run writes every output table empty and appends nothing to ``RunLog``;
3. a second run writes every output table full of awkward values (formula-like text,
   ``00123``, unicode, padded text, dates, date-times, yes/no, blanks) and appends a
   ``RunLog`` row.

After each save the book is checked with tools that share no code with the writer: the
standard library reads the package (every part the user made is byte-identical, only
sheetloop's own sheets and the package indexes change), python-calamine reads the values,
and LibreOffice opens and recalculates the result.

All books are written once, by a module-scoped fixture, so that LibreOffice converts them
all in one run; each test then checks one rule on one book.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import shutil
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import openpyxl
import pandas as pd
import pytest
import python_calamine as pc
from support.corpus import CORPUS_DIR, corpus_files
from support.libreoffice import convert, recalculated_values, require_soffice
from support.ooxml import (
    CONTENT_TYPES,
    CT_NS,
    DOC_REL_NS,
    MAIN_NS,
    PKG_REL_NS,
    invariant_violations,
    lost_entries,
    package_changes,
)

from sheetloop.workbooks.file_book import STATE_SHEET, FileBook
from sheetloop.workbooks.interface import RawTable, TableWrite
from sheetloop.workbooks.schema import (
    ALLOCATION,
    BOTTLENECKS,
    DEMAND_STATUS,
    EXCEPTIONS,
    MRP_GRID,
    PEGGING,
    PLANNED_ORDERS,
    RUN_LOG,
    TEMPLATE_TABLES,
    Kind,
    Table,
)
from sheetloop.workbooks.template import init_book

# --------------------------------------------------------------------------- the rules

#: Package parts every save may rewrite: the indexes that list sheetloop's sheets and
#: tables, the styles its cells use, and the document properties.
INDEX_PARTS = frozenset(
    {
        CONTENT_TYPES,
        "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels",
        "xl/styles.xml",
        "xl/sharedStrings.xml",
    }
)

OUTPUT_SPECS: tuple[Table, ...] = (
    PLANNED_ORDERS,
    PEGGING,
    MRP_GRID,
    EXCEPTIONS,
    ALLOCATION,
    DEMAND_STATUS,
    BOTTLENECKS,
)
#: Every table the two runs write, RunLog included.
WRITTEN_TABLES: tuple[Table, ...] = (*OUTPUT_SPECS, RUN_LOG)

# The MRP grid's bucket columns change from run to run: the second run's buckets replace
# the first run's (an old bucket is not a user column to carry over).
EMPTY_RUN_BUCKETS = ("2026-11-23", "2026-11-30")
FULL_RUN_BUCKETS = ("2026-11-30", "2026-12-07")

ORIGINAL, INIT, EMPTY, FULL = "original", "init", "empty-outputs", "full-outputs"
WRITTEN_STAGES = (INIT, EMPTY, FULL)
PREVIOUS = {INIT: ORIGINAL, EMPTY: INIT, FULL: EMPTY}

FORMULA_START = ("=", "+", "-", "@")

# The awkward values of the second run. Row r of column c takes pool[(r + c) % len(pool)],
# so every value of a pool lands in several columns of every table.
TEXTS: tuple[str, ...] = (
    "00123",  # a code with a leading zero: must stay text
    "=1+1",  # text that Excel would take for a formula: 2 if it ever became one
    "+2+2",
    "-3-3",
    "@SUM(4,4)",
    "Ünïcødé — 数量 ✓ 🚚",
    "  padded  ",
    "_x0041_ is not an escape",  # SpreadsheetML's own escape syntax, as literal text
    "two\nlines\tand a bell \x07",  # a control character XML 1.0 cannot carry
)
NUMBERS: tuple[float | None, ...] = (12.5, -0.25, 1_000_000.0, None, 0.0)
INTEGERS: tuple[int | None, ...] = (3, 0, -2, None)
DATES: tuple[dt.date | None, ...] = (dt.date(2026, 11, 30), dt.date(2028, 2, 29), None)
DATETIMES: tuple[dt.datetime | None, ...] = (
    dt.datetime(2026, 11, 30, 8, 15, 30),
    None,
    dt.datetime(1999, 12, 31, 23, 59, 59),
)
YES_NO: tuple[bool | None, ...] = (True, False, None)
ROWS = 4


def _pool(kind: Kind | None) -> Sequence[Any]:
    if kind in (Kind.NUMBER, Kind.FRACTION, None):  # None: an MRP bucket column
        return NUMBERS
    if kind is Kind.INTEGER:
        return INTEGERS
    if kind is Kind.DATE:
        return DATES
    if kind is Kind.DATETIME:
        return DATETIMES
    if kind is Kind.YESNO:
        return YES_NO
    return TEXTS  # text, codes and choices: written as text, whatever they look like


def _columns(spec: Table, buckets: Sequence[str]) -> list[tuple[str, Kind | None]]:
    columns: list[tuple[str, Kind | None]] = [(c.name, c.kind) for c in spec.columns]
    if spec.open_columns:
        columns += [(label, None) for label in buckets]
    return columns


def full_columns(spec: Table) -> list[tuple[str, Kind | None, list[Any]]]:
    """(name, kind, values) of every column the second run writes into ``spec``'s table."""
    columns = []
    for c, (name, kind) in enumerate(_columns(spec, FULL_RUN_BUCKETS)):
        pool = _pool(kind)
        columns.append((name, kind, [pool[(r + c) % len(pool)] for r in range(ROWS)]))
    return columns


def full_frame(spec: Table) -> pd.DataFrame:
    """A few rows of awkward values for every column of ``spec``."""
    return pd.DataFrame(
        {
            # Bucket columns are float columns, as the MRP writes them.
            name: pd.Series(values, dtype=float if kind is None else None)
            for name, kind, values in full_columns(spec)
        }
    )


def empty_frame(spec: Table) -> pd.DataFrame:
    """``spec``'s columns with no rows."""
    return pd.DataFrame(
        {name: pd.Series([], dtype=object) for name, _ in _columns(spec, EMPTY_RUN_BUCKETS)}
    )


def as_read_back(value: Any, kind: Kind | None) -> Any:
    """What a reader must see in a cell sheetloop wrote ``value`` into.

    Text stays the same text (formula-like text and ``00123`` included), numbers come back
    as numbers, dates as dates, yes/no as the words ``yes``/``no``, blanks as ``""``.
    """
    if value is None:
        return ""
    if kind is Kind.YESNO:
        return "yes" if value else "no"
    if kind in (Kind.NUMBER, Kind.INTEGER, Kind.FRACTION, None):
        return float(value)
    return value


def expected_rows(spec: Table) -> list[list[Any]]:
    """The rows a reader must find in ``spec``'s table after the second run."""
    columns = [[as_read_back(v, kind) for v in values] for _, kind, values in full_columns(spec)]
    return [list(row) for row in zip(*columns, strict=True)]


# --------------------------------------------------------------------------- the runs


def _corpus_names(suffix: str = "") -> list[str]:
    # Parameters are fixed at collection time, where corpus_files() may not skip; the
    # fixtures call it, so an absent corpus skips each test with the reason, and
    # test_the_proof_covers_every_corpus_file checks this list against it.
    if not CORPUS_DIR.is_dir():
        return ["(no corpus)"]
    return sorted(
        p.name
        for p in CORPUS_DIR.rglob("*")
        if p.suffix.lower() in {".xlsx", ".xlsm"} and p.name.lower().endswith(suffix)
    )


CORPUS_NAMES = _corpus_names()
MACRO_BOOK_NAMES = _corpus_names(".xlsm")


@dataclass
class Roundtrip:
    """One corpus book and its snapshots after each of sheetloop's saves."""

    name: str
    stages: dict[str, Path]
    init_added: list[str]
    failure: BaseException | None = None


def _snapshot(book: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(book, folder / book.name))


def _write_outputs(book_path: Path, full: bool) -> None:
    book = FileBook.open(book_path)
    for spec in OUTPUT_SPECS:
        book.replace_table(TableWrite(spec, full_frame(spec) if full else empty_frame(spec)))
    book.append_rows(RUN_LOG, full_frame(RUN_LOG) if full else empty_frame(RUN_LOG))
    book.save()


def _run_sheetloop_on(source: Path, workdir: Path) -> Roundtrip:
    original = _snapshot(source, workdir / ORIGINAL)
    trip = Roundtrip(source.name, {ORIGINAL: original}, [])
    book = _snapshot(original, workdir / "book")
    try:
        trip.init_added = init_book(book)
        trip.stages[INIT] = _snapshot(book, workdir / INIT)
        _write_outputs(book, full=False)
        trip.stages[EMPTY] = _snapshot(book, workdir / EMPTY)
        _write_outputs(book, full=True)
        trip.stages[FULL] = _snapshot(book, workdir / FULL)
    except Exception as exc:  # reported by every test of this book, not by all books
        trip.failure = exc
    return trip


@pytest.fixture(scope="module")
def roundtrips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Roundtrip]:
    """Every corpus book initialised, then written empty, then written full."""
    workdir = tmp_path_factory.mktemp("roundtrip")
    return {source.name: _run_sheetloop_on(source, workdir) for source in corpus_files()}


def _roundtrip(roundtrips: dict[str, Roundtrip], name: str) -> Roundtrip:
    trip = roundtrips[name]
    if trip.failure is not None:
        raise trip.failure
    return trip


@pytest.fixture(params=CORPUS_NAMES)
def roundtrip(request: pytest.FixtureRequest, roundtrips: dict[str, Roundtrip]) -> Roundtrip:
    """The roundtrip of one corpus book (every test using it runs for every book)."""
    return _roundtrip(roundtrips, request.param)


@pytest.fixture(params=MACRO_BOOK_NAMES)
def macro_roundtrip(request: pytest.FixtureRequest, roundtrips: dict[str, Roundtrip]) -> Roundtrip:
    """The roundtrip of one macro-enabled (.xlsm) corpus book."""
    return _roundtrip(roundtrips, request.param)


@pytest.fixture(scope="module")
def libreoffice_copies(
    roundtrips: dict[str, Roundtrip], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Every fully written book as LibreOffice saves it, all converted in one run."""
    require_soffice()
    names = [name for name, trip in roundtrips.items() if trip.failure is None]
    sources = [roundtrips[name].stages[FULL] for name in names]
    converted = convert(sources, "xlsx", tmp_path_factory.mktemp("libreoffice"))
    return dict(zip(names, converted, strict=True))


# --------------------------------------------------------------------------- package reading
# Read with the standard library only: the writer's own package code must not judge itself.


def _sheet_parts(path: Path) -> dict[str, str]:
    """Sheet name -> the part that holds the sheet."""
    with zipfile.ZipFile(path) as package:
        workbook = ET.fromstring(package.read("xl/workbook.xml"))
        rels = ET.fromstring(package.read("xl/_rels/workbook.xml.rels"))
    targets = {
        rel.get("Id"): _resolve("xl/workbook.xml", rel.get("Target", ""))
        for rel in rels.iter(f"{{{PKG_REL_NS}}}Relationship")
    }
    return {
        sheet.get("name", ""): targets[sheet.get(f"{{{DOC_REL_NS}}}id")]
        for sheet in workbook.iter(f"{{{MAIN_NS}}}sheet")
    }


def _resolve(source: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(source), target))


def _rels_part(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{name}.rels")


def _parts_of_sheets(path: Path, names: set[str]) -> set[str]:
    """The parts of the named sheets: each sheet, its relationships and what they point at."""
    parts: set[str] = set()
    sheet_parts = _sheet_parts(path)
    with zipfile.ZipFile(path) as package:
        stored = set(package.namelist())
        for name in names:
            part = sheet_parts[name]
            parts.add(part)
            rels = _rels_part(part)
            if rels not in stored:
                continue
            parts.add(rels)
            for rel in ET.fromstring(package.read(rels)).iter(f"{{{PKG_REL_NS}}}Relationship"):
                if rel.get("TargetMode") != "External":
                    parts.add(_resolve(part, rel.get("Target", "")))
    return parts


def _sheetloop_sheets(trip: Roundtrip, stage: str) -> set[str]:
    """The sheets sheetloop added to the book up to ``stage``."""
    return set(_sheet_parts(trip.stages[stage])) - set(_sheet_parts(trip.stages[ORIGINAL]))


def _expected_sheetloop_sheets(trip: Roundtrip, stage: str) -> set[str]:
    added = {*trip.init_added, STATE_SHEET}
    if stage in (EMPTY, FULL):
        added |= {spec.sheet for spec in WRITTEN_TABLES}
    return added


def _is_doc_props(part: str) -> bool:
    return part.startswith("docProps/")


def _content_type(path: Path, part: str) -> str | None:
    """The content type ``[Content_Types].xml`` gives ``part`` (Override, else Default)."""
    with zipfile.ZipFile(path) as package:
        types = ET.fromstring(package.read(CONTENT_TYPES))
    for override in types.iter(f"{{{CT_NS}}}Override"):
        if override.get("PartName", "").lstrip("/").lower() == part.lower():
            return override.get("ContentType")
    extension = part.rsplit(".", 1)[-1].lower()
    for default in types.iter(f"{{{CT_NS}}}Default"):
        if default.get("Extension", "").lower() == extension:
            return default.get("ContentType")
    return None


def _read_part(path: Path, part: str) -> bytes:
    with zipfile.ZipFile(path) as package:
        return package.read(part)


def _cells(path: Path, part: str) -> Iterator[ET.Element]:
    return ET.fromstring(_read_part(path, part)).iter(f"{{{MAIN_NS}}}c")


# --------------------------------------------------------------------------- value reading


def _calamine_contents(path: Path) -> dict[str, list[list[Any]]]:
    """Every sheet's and every table's values, as python-calamine reads them."""
    book = pc.CalamineWorkbook.from_path(str(path), load_tables=True)
    contents: dict[str, list[list[Any]]] = {}
    for sheet in book.sheet_names:
        contents[f"sheet {sheet!r}"] = book.get_sheet_by_name(sheet).to_python()
    for name in book.table_names or []:
        contents[f"table {name!r}"] = book.get_table_by_name(name).to_python()
    return contents


def _read_table(path: Path, spec: Table) -> RawTable:
    table = FileBook.open(path).find_table(spec.name)
    assert table is not None, f"{path.name}: the table {spec.name} cannot be found"
    assert table.is_table, f"{path.name}: {spec.name} is not an Excel table"
    return table


def _blank(row: Sequence[Any]) -> bool:
    return all(v in ("", None) for v in row)


# --------------------------------------------------------------------------- coverage


def test_the_proof_covers_every_corpus_file() -> None:
    files = corpus_files()
    assert sorted(f.name for f in files) == CORPUS_NAMES
    assert sorted(f.name for f in files if f.suffix.lower() == ".xlsm") == MACRO_BOOK_NAMES
    # LibreOffice names its outputs after the input's stem: two books with one stem would
    # overwrite each other's conversion.
    assert len({f.stem.lower() for f in files}) == len(files)


def test_init_adds_every_input_table_to_a_book_without_them(roundtrip: Roundtrip) -> None:
    assert sorted(roundtrip.init_added) == sorted(t.name for t in TEMPLATE_TABLES)


# --------------------------------------------------------------------------- nothing lost


@pytest.mark.parametrize("stage", WRITTEN_STAGES)
def test_every_part_the_user_made_stays_byte_identical(roundtrip: Roundtrip, stage: str) -> None:
    diff = package_changes(roundtrip.stages[ORIGINAL], roundtrip.stages[stage])
    assert diff.removed == ()
    rewritten = [p for p in diff.changed if p not in INDEX_PARTS and not _is_doc_props(p)]
    assert rewritten == [], f"{roundtrip.name}: sheetloop rewrote parts it does not own"


@pytest.mark.parametrize("stage", WRITTEN_STAGES)
def test_sheetloop_adds_only_its_own_sheets_and_their_tables(
    roundtrip: Roundtrip, stage: str
) -> None:
    added_sheets = _sheetloop_sheets(roundtrip, stage)
    assert added_sheets == _expected_sheetloop_sheets(roundtrip, stage)
    diff = package_changes(roundtrip.stages[ORIGINAL], roundtrip.stages[stage])
    assert set(diff.added) == _parts_of_sheets(roundtrip.stages[stage], added_sheets)


@pytest.mark.parametrize("stage", WRITTEN_STAGES)
def test_a_save_changes_only_sheetloop_parts_of_the_book_it_opened(
    roundtrip: Roundtrip, stage: str
) -> None:
    before, after = roundtrip.stages[PREVIOUS[stage]], roundtrip.stages[stage]
    ours = _parts_of_sheets(after, _sheetloop_sheets(roundtrip, stage))
    diff = package_changes(before, after)
    assert diff.removed == ()
    assert [p for p in diff.changed if p not in INDEX_PARTS | ours and not _is_doc_props(p)] == []


@pytest.mark.parametrize("stage", WRITTEN_STAGES)
def test_no_index_entry_is_lost(roundtrip: Roundtrip, stage: str) -> None:
    assert lost_entries(roundtrip.stages[PREVIOUS[stage]], roundtrip.stages[stage]) == []
    assert lost_entries(roundtrip.stages[ORIGINAL], roundtrip.stages[stage]) == []


@pytest.mark.parametrize("stage", WRITTEN_STAGES)
def test_the_package_and_table_invariants_hold(roundtrip: Roundtrip, stage: str) -> None:
    assert invariant_violations(roundtrip.stages[stage]) == []


@pytest.mark.parametrize("stage", WRITTEN_STAGES)
def test_calamine_reads_every_original_sheet_and_table_unchanged(
    roundtrip: Roundtrip, stage: str
) -> None:
    before = _calamine_contents(roundtrip.stages[ORIGINAL])
    after = _calamine_contents(roundtrip.stages[stage])
    assert {where: after.get(where) for where in before} == before


def test_the_workbook_keeps_its_content_type(roundtrip: Roundtrip) -> None:
    original = _content_type(roundtrip.stages[ORIGINAL], "xl/workbook.xml")
    assert original is not None
    assert _content_type(roundtrip.stages[FULL], "xl/workbook.xml") == original


def test_a_vba_project_is_kept_byte_for_byte_and_the_book_stays_macro_enabled(
    macro_roundtrip: Roundtrip,
) -> None:
    original, written = macro_roundtrip.stages[ORIGINAL], macro_roundtrip.stages[FULL]
    assert _read_part(written, "xl/vbaProject.bin") == _read_part(original, "xl/vbaProject.bin")
    assert _content_type(written, "xl/vbaProject.bin") == "application/vnd.ms-office.vbaProject"
    assert (
        _content_type(written, "xl/workbook.xml")
        == "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
    )


# --------------------------------------------------------------------------- what was written


@pytest.mark.parametrize("spec", WRITTEN_TABLES, ids=lambda spec: spec.name)
def test_empty_output_tables_read_back_as_their_headers_alone(
    roundtrip: Roundtrip, spec: Table
) -> None:
    table = _read_table(roundtrip.stages[EMPTY], spec)
    assert table.headers == list(empty_frame(spec).columns)
    assert all(_blank(row) for row in table.rows)


@pytest.mark.parametrize("spec", WRITTEN_TABLES, ids=lambda spec: spec.name)
def test_output_tables_read_back_as_written(roundtrip: Roundtrip, spec: Table) -> None:
    table = _read_table(roundtrip.stages[FULL], spec)
    assert table.headers == list(full_frame(spec).columns)
    assert table.rows == expected_rows(spec)


def test_text_that_looks_like_a_number_or_formula_reads_back_as_text(
    roundtrip: Roundtrip,
) -> None:
    # == above lets 3 equal 3.0; here the type itself must be text.
    rows = _read_table(roundtrip.stages[FULL], PLANNED_ORDERS).rows
    order_column = [row[0] for row in rows]
    assert order_column == [TEXTS[r % len(TEXTS)] for r in range(ROWS)]
    assert all(type(value) is str for value in order_column)


def test_no_cell_sheetloop_writes_holds_a_formula(roundtrip: Roundtrip) -> None:
    book = roundtrip.stages[FULL]
    sheet_parts = _sheet_parts(book)
    formulas = [
        f"{sheet}!{cell.get('r')}"
        for sheet in sorted(_sheetloop_sheets(roundtrip, FULL))
        for cell in _cells(book, sheet_parts[sheet])
        if cell.find(f"{{{MAIN_NS}}}f") is not None
    ]
    assert formulas == []


def test_writing_the_outputs_again_does_not_grow_the_styles(roundtrip: Roundtrip) -> None:
    first = _read_part(roundtrip.stages[EMPTY], "xl/styles.xml")
    second = _read_part(roundtrip.stages[FULL], "xl/styles.xml")
    assert second == first


def test_writing_the_same_outputs_again_changes_only_the_run_log_and_the_state(
    roundtrip: Roundtrip, tmp_path: Path
) -> None:
    before = roundtrip.stages[FULL]
    book = Path(shutil.copy2(before, tmp_path / before.name))
    _write_outputs(book, full=True)
    diff = package_changes(before, book)
    assert diff.removed == ()
    assert diff.added == ()
    allowed = _parts_of_sheets(book, {STATE_SHEET, RUN_LOG.sheet})
    assert [p for p in diff.changed if p not in allowed and not _is_doc_props(p)] == []
    assert len(_read_table(book, RUN_LOG).rows) == 2 * ROWS


def test_init_on_an_initialised_book_adds_nothing_and_changes_only_its_state(
    roundtrip: Roundtrip, tmp_path: Path
) -> None:
    before = roundtrip.stages[FULL]
    book = Path(shutil.copy2(before, tmp_path / before.name))
    assert init_book(book) == []
    diff = package_changes(before, book)
    assert diff.removed == ()
    assert diff.added == ()
    state_part = _sheet_parts(book)[STATE_SHEET]
    assert [p for p in diff.changed if p != state_part and not _is_doc_props(p)] == []


# --------------------------------------------------------------------------- LibreOffice


def test_libreoffice_opens_every_written_book(
    roundtrip: Roundtrip, libreoffice_copies: dict[str, Path]
) -> None:
    converted = libreoffice_copies[roundtrip.name]
    assert converted.is_file()
    book = openpyxl.load_workbook(converted)
    try:
        sheets = set(book.sheetnames)
    finally:
        book.close()
    assert set(_sheet_parts(roundtrip.stages[FULL])) <= sheets


def test_formula_like_text_stays_text_when_libreoffice_recalculates(
    roundtrips: dict[str, Roundtrip], tmp_path: Path
) -> None:
    # A book with formulas of its own, so that recalculation really runs.
    trip = _roundtrip(roundtrips, "array_formula01.xlsx")
    values = recalculated_values(trip.stages[FULL], tmp_path)
    grid = values[PLANNED_ORDERS.sheet]
    written = [
        (r, c, value)
        for c, (_, _, values) in enumerate(full_columns(PLANNED_ORDERS))
        for r, value in enumerate(values)
        if isinstance(value, str) and value.startswith(FORMULA_START)
    ]
    assert written, "the test data holds no formula-like text"
    assert [(r, c, grid[r + 1][c]) for r, c, _ in written] == written
