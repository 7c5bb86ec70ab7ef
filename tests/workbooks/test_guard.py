"""The guard refuses hostile or broken workbook files quickly, unread, and lets real ones pass.

Every hostile file is built here from scratch with zipfile. Each refusal must name the file
and the problem, come within seconds, and leave the file's bytes untouched.
"""

from __future__ import annotations

import hashlib
import io
import struct
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from sheetloop.errors import BookUnreadableError
from sheetloop.workbooks.guard import GuardLimits, check_book_file

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "xlsxwriter"
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
SECONDS = 5.0  # "refused within seconds": generous for a loaded CI machine

# --- building packages ------------------------------------------------------------------------


def sheet_xml(rows: str, *, dimension: str | None = None) -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        f'{DECLARATION}<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">{dim}'
        f"<sheetData>{rows}</sheetData></worksheet>"
    )


def table_xml(ref: str) -> str:
    return (
        f'{DECLARATION}<table xmlns="{MAIN_NS}" id="1" name="Orders" displayName="Orders" '
        f'ref="{ref}"><tableColumns count="1"><tableColumn id="1" name="Qty"/></tableColumns>'
        "</table>"
    )


SMALL_SHEET = sheet_xml(
    '<row r="1"><c r="A1" t="inlineStr"><is><t>Qty</t></is></c></row>'
    '<row r="2"><c r="A2"><v>12</v></c></row>',
    dimension="A1:A2",
)


def package_parts(sheets: dict[str, str]) -> dict[str, str | bytes]:
    """The parts of a minimal workbook with these sheets (name -> worksheet XML)."""
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    sheet_list = "".join(
        f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"/>'
        for i, name in enumerate(sheets, start=1)
    )
    sheet_rels = "".join(
        f'<Relationship Id="rId{i}" Type="{REL_NS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    parts: dict[str, str | bytes] = {
        "[Content_Types].xml": (
            f'{DECLARATION}<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
            f'sheet.main+xml"/>{overrides}</Types>'
        ),
        "_rels/.rels": (
            f'{DECLARATION}<Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1" '
            f'Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'{DECLARATION}<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
            f"<sheets>{sheet_list}</sheets></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            f'{DECLARATION}<Relationships xmlns="{PKG_REL_NS}">{sheet_rels}</Relationships>'
        ),
    }
    for i, xml in enumerate(sheets.values(), start=1):
        parts[f"xl/worksheets/sheet{i}.xml"] = xml
    return parts


def write_zip(
    path: Path,
    parts: dict[str, str | bytes],
    *,
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return path


def write_book(
    path: Path,
    sheets: dict[str, str] | None = None,
    *,
    extra: Mapping[str, str | bytes] | None = None,
    omit: tuple[str, ...] = (),
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    parts = package_parts(sheets if sheets is not None else {"Data": SMALL_SHEET})
    parts.update(extra or {})
    for name in omit:
        del parts[name]
    return write_zip(path, parts, compression=compression)


def central_records(data: bytes) -> dict[str, int]:
    """Offsets of the central-directory record of each entry, by name."""
    end = data.rfind(b"PK\x05\x06")
    count, _, start = struct.unpack_from("<HLL", data, end + 10)
    records = {}
    at = start
    for _ in range(count):
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, at + 28)
        records[data[at + 46 : at + 46 + name_len].decode()] = at
        at += 46 + name_len + extra_len + comment_len
    return records


def patch_central_record(path: Path, name: str, **fields: int) -> None:
    """Overwrite fields of one entry's central-directory record (what readers trust)."""
    layout = {"crc": (16, "<L"), "compress_size": (20, "<L"), "file_size": (24, "<L")}
    data = bytearray(path.read_bytes())
    at = central_records(bytes(data))[name]
    for field, value in fields.items():
        offset, fmt = layout[field]
        struct.pack_into(fmt, data, at + offset, value)
    path.write_bytes(bytes(data))


def big_rows(count: int, *, with_refs: bool = True, first: int = 1) -> str:
    """``count`` rows of 15 cells; tens of MB for tens of thousands of rows."""
    letters = "ABCDEFGHIJKLMNO"
    out = []
    for r in range(first, first + count):
        if with_refs:
            cells = "".join(
                f'<c r="{c}{r}" s="1"><v>{r}.{i}25</v></c>' for i, c in enumerate(letters)
            )
            out.append(f'<row r="{r}" spans="1:15">{cells}</row>')
        else:
            cells = "".join(f"<c><v>{r}.{i}25</v></c>" for i in range(len(letters)))
            out.append(f"<row>{cells}</row>")
    return "".join(out)


# --- checking a refusal -----------------------------------------------------------------------


def digest(path: Path) -> str | None:
    if not path.is_file():
        return None
    with open(path, "rb") as fh:  # not Path.open, which one test makes fail
        return hashlib.sha256(fh.read()).hexdigest()


def refused(path: Path, *phrases: str, **options: object) -> str:
    """Check that the guard refuses ``path`` quickly, unchanged, naming it and the problem."""
    before = digest(path)
    started = time.perf_counter()
    with pytest.raises(BookUnreadableError) as caught:
        check_book_file(path, **options)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    message = str(caught.value)
    assert elapsed < SECONDS, f"took {elapsed:.1f}s to refuse: {message}"
    assert digest(path) == before, "the check changed the file"
    assert caught.value.exit_code == 2
    assert str(path) in message
    for phrase in phrases:
        assert phrase.lower() in message.lower(), f"{phrase!r} not in: {message}"
    return message


def passes(path: Path, **options: object) -> None:
    before = digest(path)
    check_book_file(path, **options)  # type: ignore[arg-type]
    assert digest(path) == before


# --- the books built here are real workbooks --------------------------------------------------


def test_the_clean_test_book_is_a_workbook_that_calamine_reads_and_the_guard_passes(
    tmp_path: Path,
) -> None:
    book = write_book(tmp_path / "clean.xlsx")
    sheet = CalamineWorkbook.from_path(str(book)).get_sheet_by_name("Data")
    assert sheet.to_python() == [["Qty"], [12.0]]
    passes(book)


# --- the path itself --------------------------------------------------------------------------


def test_a_missing_file_is_refused_and_named(tmp_path: Path) -> None:
    refused(tmp_path / "nowhere.xlsx", "no such file")


def test_a_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "looks_like.xlsx"
    folder.mkdir()
    refused(folder, "is a folder")


def test_an_unreadable_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    book = write_book(tmp_path / "locked.xlsx")
    real_open = Path.open

    def denied(self: Path, *args: object, **kwargs: object) -> object:
        if self == book:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", denied)
    refused(book, "cannot read", "permission denied")


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    refused(empty, "empty")


# --- what kind of file ------------------------------------------------------------------------


def test_a_csv_renamed_to_xlsx_is_refused_as_not_a_zip(tmp_path: Path) -> None:
    fake = tmp_path / "orders.xlsx"
    fake.write_text("Item,Qty\nBolt,12\n")
    refused(fake, "not a zip", "CSV", "save it as an Excel Workbook")


def test_an_encrypted_workbook_is_refused_with_advice_to_remove_the_password(
    tmp_path: Path,
) -> None:
    # Excel stores a password-protected workbook as an OLE2 compound file, like a legacy .xls.
    ole2 = tmp_path / "secret.xlsx"
    ole2.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4088))
    refused(ole2, "password-protected (encrypted)", "old .xls", "remove the password", ".xlsx")


def test_a_truncated_zip_is_refused(tmp_path: Path) -> None:
    book = write_book(tmp_path / "cut.xlsx")
    data = book.read_bytes()
    book.write_bytes(data[: len(data) // 2])
    refused(book, "damaged or truncated")


def test_a_part_failing_its_crc_is_refused(tmp_path: Path) -> None:
    book = write_book(tmp_path / "flipped.xlsx", compression=zipfile.ZIP_STORED)
    data = bytearray(book.read_bytes())
    at = data.index(b"<v>12</v>")
    data[at + 3] = ord("9")  # still well-formed XML, but not the bytes the CRC vouches for
    book.write_bytes(bytes(data))
    refused(book, "xl/worksheets/sheet1.xml", "CRC")


def test_a_zip_without_content_types_is_refused(tmp_path: Path) -> None:
    book = write_book(tmp_path / "bare.xlsx", omit=("[Content_Types].xml",))
    refused(book, "not an Office Open XML workbook", "[Content_Types].xml")


def test_a_zip_without_a_workbook_part_is_refused(tmp_path: Path) -> None:
    book = write_book(tmp_path / "parts.xlsx", omit=("xl/workbook.xml",))
    refused(book, "not an Excel workbook", "xl/workbook.xml")


def test_an_xlsb_binary_workbook_is_named_as_such(tmp_path: Path) -> None:
    book = write_book(
        tmp_path / "binary.xlsx", omit=("xl/workbook.xml",), extra={"xl/workbook.bin": b"\0"}
    )
    refused(book, ".xlsb")


# --- zip bombs --------------------------------------------------------------------------------


def test_parts_declaring_more_than_two_gib_in_all_are_refused(tmp_path: Path) -> None:
    blobs = {f"xl/media/blob{i}.bin": b"x" * 1000 for i in range(3)}
    book = write_book(tmp_path / "huge.xlsx", extra=blobs)
    for name in blobs:  # 1 GiB each at a believable 10:1 ratio
        patch_central_record(book, name, file_size=2**30, compress_size=2**30 // 10)
    refused(book, "zip bomb", "3.0 GiB")


def test_a_part_with_an_extreme_compression_ratio_is_refused(tmp_path: Path) -> None:
    book = write_book(tmp_path / "ratio.xlsx", extra={"xl/media/zeros.bin": bytes(64 * 2**20)})
    refused(book, "zip bomb", "xl/media/zeros.bin", ":1")


def test_a_package_with_too_many_entries_is_refused(tmp_path: Path) -> None:
    crowd: dict[str, str | bytes] = {f"xl/media/p{i}.bin": b"" for i in range(10_001)}
    book = write_book(tmp_path / "crowd.xlsx", extra=crowd)
    refused(book, "zip bomb", "10,0", "entries")


def test_a_part_expanding_beyond_its_declared_size_is_refused_without_expanding_it(
    tmp_path: Path,
) -> None:
    # 64 MiB of zeros behind a header that claims 1,000 bytes: a reader trusting the header
    # would never stop; the guard stops at byte 1,001.
    book = write_book(tmp_path / "liar.xlsx", extra={"xl/media/blob.bin": bytes(64 * 2**20)})
    patch_central_record(book, "xl/media/blob.bin", file_size=1000)
    refused(book, "zip bomb", "xl/media/blob.bin", "declares 1,000 bytes but expands to more")


def test_overlapping_entries_are_refused(tmp_path: Path) -> None:
    book = write_book(tmp_path / "overlap.xlsx", compression=zipfile.ZIP_STORED)
    data = book.read_bytes()
    with zipfile.ZipFile(book) as z:
        first, second = sorted(z.infolist(), key=lambda i: i.header_offset)[:2]
    # The first entry now claims the second one's bytes as its own.
    grown = second.header_offset + 200 - (first.header_offset + 30 + len(first.filename))
    patch_central_record(book, first.filename, compress_size=grown, file_size=grown)
    assert book.read_bytes() != data
    refused(book, "zip bomb", "overlap")


# --- XML entity bombs and external entities ---------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol0 "lol">'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    + "]>\n"
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
)


@pytest.mark.parametrize(
    ("part", "prolog", "what"),
    [
        ("xl/workbook.xml", BILLION_LAUGHS, "<!DOCTYPE>"),
        ("xl/_rels/workbook.xml.rels", EXTERNAL_ENTITY, "<!DOCTYPE>"),
        ("xl/worksheets/sheet1.xml", BILLION_LAUGHS, "<!DOCTYPE>"),
        ("docProps/core.xml", "<!doctype core>", "<!DOCTYPE>"),
        ("xl/drawings/vmlDrawing1.vml", '<!ENTITY lol "lol">', "<!ENTITY>"),
    ],
    ids=["billion-laughs-workbook", "xxe-rels", "billion-laughs-sheet", "doctype-core", "vml"],
)
def test_a_dtd_before_the_root_element_of_any_xml_part_is_refused(
    tmp_path: Path, part: str, prolog: str, what: str
) -> None:
    parts = package_parts({"Data": SMALL_SHEET})
    body = str(parts.get(part, "<core/>")).removeprefix(DECLARATION)
    parts[part] = prolog + body
    book = write_zip(tmp_path / "entities.xlsx", parts)
    refused(book, part, "DTD", what, "entity")


def test_a_dtd_in_a_utf16_part_is_found_too(tmp_path: Path) -> None:
    parts = package_parts({"Data": SMALL_SHEET})
    body = str(parts["xl/workbook.xml"]).removeprefix(DECLARATION)
    prolog = EXTERNAL_ENTITY.replace('version="1.0"', 'version="1.0" encoding="UTF-16"')
    parts["xl/workbook.xml"] = (prolog + body).encode("utf-16")
    book = write_zip(tmp_path / "wide.xlsx", parts)
    refused(book, "xl/workbook.xml", "DTD")


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le"], ids=["with-bom", "without-bom"])
def test_utf16_sheets_are_measured_like_any_other(tmp_path: Path, codec: str) -> None:
    def utf16(xml: str) -> bytes:
        return xml.replace("UTF-8", "UTF-16").encode(codec)

    sane = write_book(
        tmp_path / "sane.xlsx", extra={"xl/worksheets/sheet1.xml": utf16(SMALL_SHEET)}
    )
    passes(sane)
    far = utf16(sheet_xml(corner_rows()))
    book = write_book(tmp_path / "far.xlsx", extra={"xl/worksheets/sheet1.xml": far})
    refused(book, "sheet 'Data'", "XFD1048576")


def test_xml_in_an_encoding_that_disguises_markup_is_refused(tmp_path: Path) -> None:
    # In UTF-7 "<!DOCTYPE" can be spelled without a single "<" byte.
    utf7 = SMALL_SHEET.replace("UTF-8", "UTF-7").encode()
    book = write_book(tmp_path / "utf7.xlsx", extra={"xl/worksheets/sheet1.xml": utf7})
    refused(book, "xl/worksheets/sheet1.xml", "UTF-7", "UTF-8 or UTF-16")


# --- absurd dimensions ------------------------------------------------------------------------


def corner_rows(*, near: str = "A1", far: str = "XFD1048576") -> str:
    near_row, far_row = (
        near.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        far.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    )
    return (
        f'<row r="{near_row}"><c r="{near}"><v>1</v></c></row>'
        f'<row r="{far_row}"><c r="{far}"><v>2</v></c></row>'
    )


def test_a_sheet_spanning_a1_to_xfd1048576_is_refused_naming_the_sheet(tmp_path: Path) -> None:
    # calamine would allocate 17 billion cells (512 GiB) and abort the process.
    book = write_book(tmp_path / "corner.xlsx", {"Plan": sheet_xml(corner_rows())})
    refused(book, "sheet 'Plan'", "A1", "XFD1048576", "17,179,869,184 cells", "Ctrl+End")


def test_a_sheet_whose_dimension_understates_its_cells_is_still_measured(
    tmp_path: Path,
) -> None:
    book = write_book(tmp_path / "liar.xlsx", {"Plan": sheet_xml(corner_rows(), dimension="A1:B2")})
    refused(book, "sheet 'Plan'", "XFD1048576")


def test_an_empty_formatted_cell_far_away_counts_like_any_cell(tmp_path: Path) -> None:
    rows = '<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576" s="1"/></row>'
    book = write_book(tmp_path / "styled.xlsx", {"Plan": sheet_xml(rows)})
    refused(book, "sheet 'Plan'", "XFD1048576")


def test_a_cell_outside_excels_grid_is_refused(tmp_path: Path) -> None:
    book = write_book(tmp_path / "grid.xlsx", {"Plan": sheet_xml(corner_rows(far="ZZZZ99999999"))})
    refused(book, "sheet 'Plan'", "outside Excel's grid")


@pytest.mark.parametrize(
    "rows",
    [
        # No r on the far cell: calamine places it after the previous row.
        '<row r="1"><c r="XFD1"><v>1</v></c></row><row r="1048576"><c><v>2</v></c></row>',
        # A second r attribute: calamine takes the last one.
        '<row r="1"><c r="A1"><v>1</v></c><c r="B1"  r="XFD1048576"><v>2</v></c></row>',
        # Single quotes and spaces around '='.
        "<row r='1'><c r='A1'><v>1</v></c><c r = 'XFD1048576'><v>2</v></c></row>",
        # A namespace prefix on the cells.
        f'<row r="1"><c r="A1"><v>1</v></c></row><x:row xmlns:x="{MAIN_NS}" r="1048576">'
        '<x:c r="XFD1048576"><x:v>2</x:v></x:c></x:row>',
        # Lower-case references.
        '<row r="1"><c r="a1"><v>1</v></c></row>'
        '<row r="1048576"><c r="xfd1048576"><v>2</v></c></row>',
        # A character reference inside r.
        '<row r="1"><c r="A1"><v>1</v></c><c r="&#88;FD1048576"><v>2</v></c></row>',
    ],
    ids=["no-r", "second-r", "quotes", "prefix", "lower-case", "char-ref"],
)
def test_far_cells_written_in_unusual_ways_are_still_found(tmp_path: Path, rows: str) -> None:
    book = write_book(tmp_path / "unusual.xlsx", {"Plan": sheet_xml(rows, dimension="A1")})
    refused(book, "sheet 'Plan'")


@pytest.mark.parametrize(
    ("with_refs", "dimension"),
    [(True, "A1:O30000"), (True, None), (False, None)],
    ids=["with-dimension", "without-dimension", "without-references"],
)
def test_a_stray_cell_after_megabytes_of_real_data_is_found(
    tmp_path: Path, with_refs: bool, dimension: str | None
) -> None:
    stray = '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    rows = big_rows(30_000, with_refs=with_refs) + stray
    book = write_book(tmp_path / "stray.xlsx", {"Plan": sheet_xml(rows, dimension=dimension)})
    refused(book, "sheet 'Plan'", "XFD1048576")


def test_a_sheet_stored_under_another_extension_is_still_measured(tmp_path: Path) -> None:
    # calamine parses whatever the sheet's relationship points to, whatever its name.
    parts = package_parts({"Plan": sheet_xml(corner_rows())})
    parts["xl/worksheets/sheet1.dat"] = parts.pop("xl/worksheets/sheet1.xml")
    rels = str(parts["xl/_rels/workbook.xml.rels"]).replace("sheet1.xml", "sheet1.dat")
    parts["xl/_rels/workbook.xml.rels"] = rels
    book = write_zip(tmp_path / "renamed.xlsx", parts)
    refused(book, "sheet 'Plan'", "sheet1.dat")


def test_a_table_covering_an_absurd_range_is_refused(tmp_path: Path) -> None:
    book = write_book(
        tmp_path / "table.xlsx", extra={"xl/tables/table1.xml": table_xml("C3:XFD1048576")}
    )
    refused(book, "table 'Orders'", "C3", "XFD1048576")


def test_only_the_sheets_to_be_read_are_measured(tmp_path: Path) -> None:
    book = write_book(
        tmp_path / "two.xlsx", {"Data": SMALL_SHEET, "Junk": sheet_xml(corner_rows())}
    )
    passes(book, sheets_to_read=["Data"])
    refused(book, "sheet 'Junk'", sheets_to_read=["Data", "Junk"])
    refused(book, "sheet 'Junk'")


def test_the_cell_limit_is_a_setting(tmp_path: Path) -> None:
    book = write_book(tmp_path / "small.xlsx", {"Data": sheet_xml(corner_rows(far="J10"))})
    passes(book)
    refused(book, "100 cells", "at most 99", limits=GuardLimits(max_cells=99))


# --- legitimate workbooks pass ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("with_refs", "dimension", "prefix"),
    [(True, "A1:O30000", ""), (True, None, ""), (False, None, ""), (True, "A1:O30000", "x")],
    ids=["with-dimension", "without-dimension", "without-references", "prefixed"],
)
def test_a_large_genuine_sheet_passes_however_its_cells_are_written(
    tmp_path: Path, with_refs: bool, dimension: str | None, prefix: str
) -> None:
    xml = sheet_xml(big_rows(30_000, with_refs=with_refs), dimension=dimension)
    if prefix:
        xml = (
            xml.replace(
                "<worksheet xmlns=", f'<{prefix}:worksheet xmlns:{prefix}="{MAIN_NS}" xmlns='
            )
            .replace("</worksheet>", f"</{prefix}:worksheet>")
            .replace("<c r=", f"<{prefix}:c r=")
            .replace("</c>", f"</{prefix}:c>")
        )
    book = write_book(tmp_path / "genuine.xlsx", {"Data": xml})
    passes(book)


CORPUS_BOOKS = sorted(CORPUS.glob("*.xls[xm]")) if CORPUS.is_dir() else []


@pytest.mark.parametrize(
    "book",
    CORPUS_BOOKS
    or [pytest.param(None, marks=pytest.mark.skip(reason=f"sample corpus {CORPUS} is absent"))],
    ids=lambda book: book.name if isinstance(book, Path) else "corpus",
)
def test_every_excel_sample_workbook_passes(book: Path) -> None:
    passes(book)


def test_the_order_of_parts_in_the_zip_does_not_matter(tmp_path: Path) -> None:
    # Sheets stored before xl/workbook.xml are still named and measured.
    parts = package_parts({"Data": SMALL_SHEET, "Plan": sheet_xml(corner_rows())})
    book = write_zip(tmp_path / "reversed.xlsx", dict(reversed(parts.items())))
    with zipfile.ZipFile(book) as z:
        assert z.namelist()[0] == "xl/worksheets/sheet2.xml"
    refused(book, "sheet 'Plan'")
    passes(book, sheets_to_read=["Data"])


# --- however a sheet is written, its true extent decides ------------------------------------

ROWS_NEAR = [1, 2, 3]
ROWS_FAR = [1_048_574, 1_048_576]
COLS_NEAR = [1, 2, 3]
COLS_FAR = [16_382, 16_384]
SPELLINGS = {
    "plain": '<c r="{ref}"',
    "lower": '<c r="{lower}"',
    "quotes": "<c r='{ref}'",
    "spaces": '<c r = "{ref}"',
    "tab": '<c\tr="{ref}"',
    "r-last": '<c s="1" r="{ref}"',
    "prefix": '<x:c r="{ref}"',
    "no-r": "<c",
}


def column_name(number: int) -> str:
    name = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        name = chr(65 + rest) + name
    return name


cells_strategy = st.lists(
    st.tuples(
        st.sampled_from(ROWS_NEAR + ROWS_FAR),
        st.sampled_from(COLS_NEAR + COLS_FAR),
        st.sampled_from(sorted(SPELLINGS)),
        st.booleans(),  # written empty (<c .../>)
        st.booleans(),  # its row element carries r
    ),
    min_size=1,
    max_size=6,
)


def written_sheet(cells: list[tuple[int, int, str, bool, bool]], dimension: str | None) -> str:
    rows = []
    for row, col, spelling, empty, row_has_r in cells:
        ref = f"{column_name(col)}{row}"
        tag = SPELLINGS[spelling].format(ref=ref, lower=ref.lower())
        end = "/" if empty else ""
        body = "" if empty else ("<x:v>1</x:v></x:c>" if spelling == "prefix" else "<v>1</v></c>")
        row_start = f'<row r="{row}">' if row_has_r else "<row>"
        rows.append(f"{row_start}{tag}{end}>{body}</row>")
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        f'{DECLARATION}<worksheet xmlns="{MAIN_NS}" xmlns:x="{MAIN_NS}">{dim}'
        f"<sheetData>{''.join(rows)}</sheetData></worksheet>"
    )


def calamine_extent(xml: str) -> tuple[int, int, int, int] | None:
    """Where calamine puts each cell (its rules, on ElementTree): the block they span.

    Measured on python-calamine 0.9.1: a cell without r goes one column right of the
    previous cell, in the row after the previous row element (or the row its r names).
    """
    row = col = 0
    spots = []
    for event, el in ET.iterparse(io.BytesIO(xml.encode()), events=("start", "end")):
        local = el.tag.rpartition("}")[2]
        if local == "row" and event == "start" and "r" in el.attrib:
            row = int(el.attrib["r"]) - 1
        elif local == "row" and event == "end":
            row, col = row + 1, 0
        elif local == "c" and event == "start":
            ref = el.attrib.get("r")
            if ref is None:
                spots.append((row + 1, col + 1))
            else:  # a reference moves the column cursor, never the row one
                letters = ref.rstrip("0123456789").upper()
                col = sum(26**i * (ord(ch) - 64) for i, ch in enumerate(reversed(letters))) - 1
                spots.append((int(ref[len(letters) :]), col + 1))
            col += 1
    if not spots:
        return None
    rows, cols = [r for r, _ in spots], [c for _, c in spots]
    return min(rows), min(cols), max(rows), max(cols)


@settings(max_examples=300, deadline=None)
@given(
    cells=cells_strategy,
    dimension=st.sampled_from([None, "A1", "A1:C3", "A1:XFD1048576"]),
    max_cells=st.sampled_from([9, 5_000, 50_000_000]),
)
def test_the_guard_refuses_exactly_the_sheets_whose_cells_span_too_much(
    cells: list[tuple[int, int, str, bool, bool]], dimension: str | None, max_cells: int
) -> None:
    xml = written_sheet(cells, dimension)
    extent = calamine_extent(xml)
    if extent is None:
        too_much = False
    else:
        top, left, bottom, right = extent
        off_grid = bottom > 1_048_576 or right > 16_384
        too_much = off_grid or (bottom - top + 1) * (right - left + 1) > max_cells
    with tempfile.TemporaryDirectory() as folder:
        book = write_book(Path(folder) / "drawn.xlsx", {"Plan": xml})
        try:
            check_book_file(book, limits=GuardLimits(max_cells=max_cells))
        except BookUnreadableError as exc:
            assert too_much, f"refused a sheet spanning {extent}: {exc}"
            assert "sheet 'Plan'" in str(exc)
        else:
            assert not too_much, f"passed a sheet spanning {extent}"


@settings(max_examples=150, deadline=None)
@given(
    cells=st.lists(
        st.tuples(
            st.sampled_from(ROWS_NEAR),
            st.sampled_from(COLS_NEAR),
            st.sampled_from(sorted(SPELLINGS)),
            st.just(False),  # only cells with values: calamine's extent ignores empty ones
            st.booleans(),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_the_extent_above_is_where_calamine_really_puts_the_cells(
    cells: list[tuple[int, int, str, bool, bool]],
) -> None:
    # Keeps the oracle honest; near cells only, so a wrong oracle cannot make calamine
    # allocate much.
    xml = written_sheet(cells, None)
    extent = calamine_extent(xml)
    assert extent is not None
    top, left, bottom, right = extent
    with tempfile.TemporaryDirectory() as folder:
        book = write_book(Path(folder) / "drawn.xlsx", {"Plan": xml})
        sheet = CalamineWorkbook.from_path(str(book)).get_sheet_by_name("Plan")
        assert sheet.start == (top - 1, left - 1)
        assert sheet.end == (bottom - 1, right - 1)
