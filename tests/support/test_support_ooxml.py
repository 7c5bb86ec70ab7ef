"""The independent package checker finds each broken invariant and nothing else."""

from __future__ import annotations

import zipfile
from pathlib import Path

from support.corpus import corpus_files
from support.ooxml import PackageDiff, invariant_violations, lost_entries, package_changes

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_SML = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def _book_parts() -> dict[str, str]:
    """A small, valid two-sheet book: tables Demand and Supply side by side on Data, and
    a table Plan on sheet Plan that covers the same cells as Demand (allowed: other sheet)."""

    def table(table_id: int, name: str, ref: str, columns: list[str]) -> str:
        cols = "".join(f'<tableColumn id="{i}" name="{c}"/>' for i, c in enumerate(columns, 1))
        return (
            f'<table xmlns="{_MAIN}" id="{table_id}" name="{name}" displayName="{name}" '
            f'ref="{ref}"><autoFilter ref="{ref}"/><tableColumns count="{len(columns)}">'
            f"{cols}</tableColumns></table>"
        )

    def rels(*targets: tuple[str, str, str]) -> str:
        items = "".join(
            f'<Relationship Id="{rid}" Type="{_DOC_REL}/{kind}" Target="{target}"/>'
            for rid, kind, target in targets
        )
        return f'<Relationships xmlns="{_PKG_REL}">{items}</Relationships>'

    def override(part: str, kind: str) -> str:
        return f'<Override PartName="/{part}" ContentType="{_SML}.{kind}+xml"/>'

    return {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            + override("xl/workbook.xml", "sheet.main")
            + override("xl/worksheets/sheet1.xml", "worksheet")
            + override("xl/worksheets/sheet2.xml", "worksheet")
            + override("xl/tables/table1.xml", "table")
            + override("xl/tables/table2.xml", "table")
            + override("xl/tables/table3.xml", "table")
            + override("xl/styles.xml", "styles")
            + override("xl/sharedStrings.xml", "sharedStrings")
            + "</Types>"
        ),
        "_rels/.rels": rels(("rId1", "officeDocument", "xl/workbook.xml")),
        "xl/workbook.xml": (
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_DOC_REL}"><sheets>'
            '<sheet name="Data" sheetId="1" r:id="rId1"/>'
            '<sheet name="Plan" sheetId="2" r:id="rId2"/></sheets><definedNames>'
            '<definedName name="_xlnm.Print_Area" localSheetId="1">Plan!$A$1:$A$2</definedName>'
            "</definedNames></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": rels(
            ("rId1", "worksheet", "worksheets/sheet1.xml"),
            ("rId2", "worksheet", "worksheets/sheet2.xml"),
            ("rId3", "styles", "styles.xml"),
            ("rId4", "sharedStrings", "sharedStrings.xml"),
        ),
        "xl/worksheets/sheet1.xml": (
            f'<worksheet xmlns="{_MAIN}" xmlns:r="{_DOC_REL}"><sheetData>'
            '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
            '<c r="D1" t="s"><v>0</v></c><c r="E1" t="s"><v>1</v></c></row>'
            '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2"><v>5</v></c></row>'
            '</sheetData><tableParts count="2"><tablePart r:id="rId1"/>'
            '<tablePart r:id="rId2"/></tableParts></worksheet>'
        ),
        "xl/worksheets/_rels/sheet1.xml.rels": rels(
            ("rId1", "table", "../tables/table1.xml"), ("rId2", "table", "../tables/table2.xml")
        ),
        "xl/worksheets/sheet2.xml": (
            f'<worksheet xmlns="{_MAIN}" xmlns:r="{_DOC_REL}"><sheetData>'
            '<row r="1"><c r="A1" t="s"><v>3</v></c></row></sheetData>'
            '<tableParts count="1"><tablePart r:id="rId1"/></tableParts></worksheet>'
        ),
        "xl/worksheets/_rels/sheet2.xml.rels": rels(("rId1", "table", "../tables/table3.xml")),
        "xl/tables/table1.xml": table(1, "Demand", "A1:B3", ["Item", "Qty"]),
        "xl/tables/table2.xml": table(2, "Supply", "D1:E3", ["Item", "Qty"]),
        "xl/tables/table3.xml": table(3, "Plan", "A1:A2", ["Week"]),
        "xl/sharedStrings.xml": (
            f'<sst xmlns="{_MAIN}" count="4" uniqueCount="4"><si><t>Item</t></si>'
            "<si><t>Qty</t></si><si><r><t>Wid</t></r><r><t>get</t></r></si>"
            "<si><t>Week</t></si></sst>"
        ),
        "xl/styles.xml": (
            f'<styleSheet xmlns="{_MAIN}"><numFmts count="1">'
            '<numFmt numFmtId="164" formatCode="0.0"/></numFmts>'
            '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
            '</borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" '
            'borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" '
            'fillId="0" borderId="0" xfId="0"/><xf numFmtId="164" fontId="0" fillId="0" '
            'borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs><cellStyles count="1">'
            '<cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles><dxfs count="0"/>'
            "</styleSheet>"
        ),
    }


def _write(path: Path, parts: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        for name, text in parts.items():
            package.writestr(name, text)
    return path


def _edited(tmp_path: Path, part: str, old: str, new: str, name: str = "edited.xlsx") -> Path:
    """The small book with ``old`` replaced by ``new`` in ``part``."""
    parts = _book_parts()
    assert old in parts[part], f"the test book's {part} has no {old!r}"
    parts[part] = parts[part].replace(old, new)
    return _write(tmp_path / name, parts)


def _original(tmp_path: Path) -> Path:
    return _write(tmp_path / "original.xlsx", _book_parts())


# --------------------------------------------------------------------------- corpus


def test_every_corpus_workbook_satisfies_every_invariant() -> None:
    found = {f.name: invariant_violations(f) for f in corpus_files()}
    assert {name: problems for name, problems in found.items() if problems} == {}


def test_a_corpus_workbook_compared_with_itself_has_no_changes_and_loses_nothing() -> None:
    for f in corpus_files():
        assert package_changes(f, f) == PackageDiff(), f.name
        assert lost_entries(f, f) == [], f.name


# --------------------------------------------------------------------------- invariants


def test_the_hand_made_book_satisfies_every_invariant(tmp_path: Path) -> None:
    assert invariant_violations(_original(tmp_path)) == []


def test_table_ids_must_be_unique_across_the_book(tmp_path: Path) -> None:
    book = _edited(tmp_path, "xl/tables/table3.xml", 'id="3"', 'id="1"')
    problems = invariant_violations(book)
    assert len(problems) == 1
    assert "table id 1 is also used by table 'Demand'" in problems[0]


def test_table_names_must_be_unique_case_insensitively_across_the_book(tmp_path: Path) -> None:
    book = _edited(tmp_path, "xl/tables/table3.xml", 'displayName="Plan"', 'displayName="DEMAND"')
    problems = invariant_violations(book)
    assert len(problems) == 1
    assert "table name 'demand'" in problems[0]


def test_tables_on_one_sheet_must_not_overlap(tmp_path: Path) -> None:
    # Supply moves onto Demand's cells, whose headers match its columns: only the overlap
    # is wrong.
    book = _edited(tmp_path, "xl/tables/table2.xml", "D1:E3", "A1:B3")
    assert invariant_violations(book) == [
        "table 'Demand' (xl/tables/table1.xml, sheet 'Data') at A1:B3 overlaps "
        "table 'Supply' (xl/tables/table2.xml, sheet 'Data') at A1:B3"
    ]


def test_tables_that_touch_without_sharing_a_cell_do_not_overlap(tmp_path: Path) -> None:
    parts = _book_parts()
    parts["xl/tables/table2.xml"] = parts["xl/tables/table2.xml"].replace("D1:E3", "C1:D3")
    parts["xl/worksheets/sheet1.xml"] = (
        parts["xl/worksheets/sheet1.xml"].replace('r="D1"', 'r="C1"').replace('r="E1"', 'r="D1"')
    )
    assert invariant_violations(_write(tmp_path / "touching.xlsx", parts)) == []


def test_a_header_cell_holding_a_number_is_reported(tmp_path: Path) -> None:
    book = _edited(
        tmp_path,
        "xl/worksheets/sheet1.xml",
        '<c r="B1" t="s"><v>1</v></c>',
        '<c r="B1"><v>7</v></c>',
    )
    assert invariant_violations(book) == [
        "table 'Demand' (xl/tables/table1.xml, sheet 'Data'): header cell B1 holds "
        "a number (7), not the text of column 'Qty'"
    ]


def test_a_missing_header_cell_is_reported(tmp_path: Path) -> None:
    book = _edited(tmp_path, "xl/worksheets/sheet1.xml", '<c r="E1" t="s"><v>1</v></c>', "")
    problems = invariant_violations(book)
    assert len(problems) == 1
    assert "header cell E1 holds an empty cell" in problems[0]


def test_header_text_must_equal_the_column_name(tmp_path: Path) -> None:
    book = _edited(tmp_path, "xl/tables/table2.xml", 'name="Qty"', 'name="Quantity"')
    assert invariant_violations(book) == [
        "table 'Supply' (xl/tables/table2.xml, sheet 'Data'): header cell E1 reads 'Qty', "
        "but the column is named 'Quantity'"
    ]


def test_inline_and_formula_strings_count_as_header_text(tmp_path: Path) -> None:
    parts = _book_parts()
    sheet = parts["xl/worksheets/sheet1.xml"]
    sheet = sheet.replace(
        '<c r="D1" t="s"><v>0</v></c>', '<c r="D1" t="inlineStr"><is><t>Item</t></is></c>'
    )
    sheet = sheet.replace(
        '<c r="E1" t="s"><v>1</v></c>', '<c r="E1" t="str"><f>"Qty"</f><v>Qty</v></c>'
    )
    parts["xl/worksheets/sheet1.xml"] = sheet
    assert "inlineStr" in sheet and 't="str"' in sheet
    assert invariant_violations(_write(tmp_path / "inline.xlsx", parts)) == []


def test_cells_without_a_reference_take_the_next_position(tmp_path: Path) -> None:
    # r is optional on rows and cells: positions then follow from the order.
    book = _edited(
        tmp_path,
        "xl/worksheets/sheet2.xml",
        '<row r="1"><c r="A1" t="s">',
        '<row><c t="s">',
    )
    assert invariant_violations(book) == []


def test_table_columns_count_must_equal_the_ref_width(tmp_path: Path) -> None:
    book = _edited(tmp_path, "xl/tables/table1.xml", 'count="2"', 'count="3"')
    assert invariant_violations(book) == [
        "table 'Demand' (xl/tables/table1.xml, sheet 'Data'): tableColumns count is 3, "
        "but ref A1:B3 is 2 columns wide"
    ]


def test_a_relationship_to_a_missing_part_is_reported(tmp_path: Path) -> None:
    book = _edited(
        tmp_path, "xl/_rels/workbook.xml.rels", 'Target="styles.xml"', 'Target="styles2.xml"'
    )
    assert invariant_violations(book) == [
        "xl/_rels/workbook.xml.rels: relationship rId3 targets 'styles2.xml' "
        "(xl/styles2.xml), which does not exist"
    ]


def test_a_dangling_table_relationship_is_reported_for_the_rels_and_the_sheet(
    tmp_path: Path,
) -> None:
    book = _edited(
        tmp_path,
        "xl/worksheets/_rels/sheet2.xml.rels",
        'Target="../tables/table3.xml"',
        'Target="../tables/table9.xml"',
    )
    problems = invariant_violations(book)
    assert problems[0] == (
        "xl/worksheets/_rels/sheet2.xml.rels: relationship rId1 targets "
        "'../tables/table9.xml' (xl/tables/table9.xml), which does not exist"
    )
    assert "tablePart r:id 'rId1' does not lead to a table part" in problems[1]
    assert len(problems) == 2


def test_absolute_and_relative_targets_resolve_to_the_same_part(tmp_path: Path) -> None:
    book = _edited(
        tmp_path,
        "xl/worksheets/_rels/sheet2.xml.rels",
        'Target="../tables/table3.xml"',
        'Target="/xl/tables/table3.xml"',
    )
    assert invariant_violations(book) == []


def test_a_target_climbing_out_of_the_package_does_not_exist(tmp_path: Path) -> None:
    book = _edited(
        tmp_path,
        "xl/worksheets/_rels/sheet2.xml.rels",
        'Target="../tables/table3.xml"',
        'Target="../../../xl/tables/table3.xml"',
    )
    assert any("../../../xl/tables/table3.xml" in p for p in invariant_violations(book))


def test_external_relationships_are_not_followed(tmp_path: Path) -> None:
    book = _edited(
        tmp_path,
        "xl/worksheets/_rels/sheet1.xml.rels",
        "</Relationships>",
        f'<Relationship Id="rId9" Type="{_DOC_REL}/hyperlink" '
        'Target="https://example.com/plan" TargetMode="External"/></Relationships>',
    )
    assert invariant_violations(book) == []


def test_a_part_without_content_type_is_reported(tmp_path: Path) -> None:
    parts = _book_parts()
    parts["xl/media/logo.png"] = "not really a png"
    assert invariant_violations(_write(tmp_path / "png.xlsx", parts)) == [
        "xl/media/logo.png has no content type (no Override and no Default for extension "
        "'png' in [Content_Types].xml)"
    ]


def test_an_override_for_a_missing_part_is_reported(tmp_path: Path) -> None:
    book = _edited(
        tmp_path,
        "[Content_Types].xml",
        "</Types>",
        f'<Override PartName="/xl/ghost.xml" ContentType="{_SML}.table+xml"/></Types>',
    )
    assert invariant_violations(book) == [
        "[Content_Types].xml: Override for /xl/ghost.xml names a part that does not exist"
    ]


def test_a_workbook_sheet_with_an_unknown_relationship_id_is_reported(tmp_path: Path) -> None:
    book = _edited(
        tmp_path, "xl/workbook.xml", 'sheetId="2" r:id="rId2"', 'sheetId="2" r:id="rId7"'
    )
    problems = invariant_violations(book)
    assert problems == ["xl/workbook.xml: sheet 'Plan' has r:id 'rId7', which is absent"]


def test_sheet_names_must_be_unique_case_insensitively(tmp_path: Path) -> None:
    book = _edited(tmp_path, "xl/workbook.xml", 'name="Plan"', 'name="DATA"')
    assert invariant_violations(book) == ["xl/workbook.xml: sheet name 'DATA' is used twice"]


def test_a_defined_name_local_to_a_sheet_that_does_not_exist_is_reported(tmp_path: Path) -> None:
    book = _edited(tmp_path, "xl/workbook.xml", 'localSheetId="1"', 'localSheetId="2"')
    assert invariant_violations(book) == [
        "xl/workbook.xml: definedName '_xlnm.Print_Area' has localSheetId 2, "
        "but the book has 2 sheets"
    ]


def test_malformed_xml_is_reported_not_raised(tmp_path: Path) -> None:
    book = _edited(tmp_path, "xl/tables/table2.xml", "</table>", "</tabel>")
    problems = invariant_violations(book)
    assert len(problems) == 1
    assert problems[0].startswith("not well-formed XML in xl/tables/table2.xml")


def test_a_file_that_is_not_a_zip_is_reported(tmp_path: Path) -> None:
    text = tmp_path / "notes.xlsx"
    text.write_text("just text", encoding="utf-8")
    assert invariant_violations(text) == [
        "notes.xlsx: not a readable zip package (File is not a zip file)"
    ]


# --------------------------------------------------------------------------- package changes


def test_package_changes_lists_removed_added_and_changed_parts(tmp_path: Path) -> None:
    parts = _book_parts()
    del parts["xl/tables/table3.xml"]
    parts["xl/tables/table4.xml"] = parts["xl/tables/table1.xml"]
    parts["xl/styles.xml"] = parts["xl/styles.xml"].replace('formatCode="0.0"', 'formatCode="0"')
    diff = package_changes(_original(tmp_path), _write(tmp_path / "after.xlsx", parts))
    assert diff == PackageDiff(
        removed=("xl/tables/table3.xml",),
        added=("xl/tables/table4.xml",),
        changed=("xl/styles.xml",),
    )
    assert not diff.is_empty
    assert diff.touched() == ("xl/styles.xml", "xl/tables/table3.xml", "xl/tables/table4.xml")


def test_compression_and_member_order_are_not_changes(tmp_path: Path) -> None:
    stored = tmp_path / "stored.xlsx"
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as package:
        for name, text in reversed(_book_parts().items()):
            package.writestr(name, text)
    diff = package_changes(_original(tmp_path), stored)
    assert diff.is_empty
    assert diff == PackageDiff()


# --------------------------------------------------------------------------- lost entries


def test_a_dropped_cell_format_is_lost(tmp_path: Path) -> None:
    after = _edited(
        tmp_path,
        "xl/styles.xml",
        '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>',
        "",
    )
    lost = lost_entries(_original(tmp_path), after)
    assert len(lost) == 1
    assert lost[0].startswith("xl/styles.xml: cellXfs entry 1 was removed: <xf ")


def test_an_altered_cell_format_is_lost(tmp_path: Path) -> None:
    after = _edited(tmp_path, "xl/styles.xml", 'applyNumberFormat="1"', 'applyNumberFormat="0"')
    lost = lost_entries(_original(tmp_path), after)
    assert len(lost) == 1
    assert lost[0].startswith("xl/styles.xml: cellXfs entry 1 changed from <xf ")


def test_appended_styles_strings_sheets_and_relationships_lose_nothing(tmp_path: Path) -> None:
    parts = _book_parts()
    parts["xl/styles.xml"] = (
        parts["xl/styles.xml"]
        .replace("</numFmts>", '<numFmt numFmtId="165" formatCode="0.00%"/></numFmts>')
        .replace("</cellXfs>", '<xf numFmtId="165" fontId="0" fillId="0" borderId="0"/></cellXfs>')
        .replace('<dxfs count="0"/>', '<dxfs count="1"><dxf><font><b/></font></dxf></dxfs>')
    )
    parts["xl/sharedStrings.xml"] = parts["xl/sharedStrings.xml"].replace(
        "</sst>", "<si><t>Allocation</t></si></sst>"
    )
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(
        "</sheets>", '<sheet name="Plan_out" sheetId="3" r:id="rId5"/></sheets>'
    )
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        "</Relationships>",
        f'<Relationship Id="rId5" Type="{_DOC_REL}/worksheet" Target="worksheets/sheet3.xml"/>'
        "</Relationships>",
    )
    after = _write(tmp_path / "grown.xlsx", parts)
    assert lost_entries(_original(tmp_path), after) == []


def test_prefix_and_attribute_order_do_not_count_as_changes(tmp_path: Path) -> None:
    # The same styles written by another serializer: "x:" prefixes, attributes reordered.
    parts = _book_parts()
    styles = parts["xl/styles.xml"].replace(
        f'<styleSheet xmlns="{_MAIN}">', f'<x:styleSheet xmlns:x="{_MAIN}">'
    )
    styles = styles.replace("<", "<x:").replace("<x:/", "</x:").replace("<x:x:", "<x:")
    styles = styles.replace(
        '<x:xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>',
        '<x:xf borderId="0" fillId="0" fontId="0" numFmtId="0"/>',
    )
    parts["xl/styles.xml"] = styles
    assert 'borderId="0" fillId="0"' in styles and "<x:styleSheet" in styles
    assert lost_entries(_original(tmp_path), _write(tmp_path / "prefixed.xlsx", parts)) == []


def test_reordered_shared_strings_are_lost(tmp_path: Path) -> None:
    after = _edited(
        tmp_path,
        "xl/sharedStrings.xml",
        "<si><t>Item</t></si><si><t>Qty</t></si>",
        "<si><t>Qty</t></si><si><t>Item</t></si>",
    )
    lost = lost_entries(_original(tmp_path), after)
    assert [entry.split(" changed")[0] for entry in lost] == [
        "xl/sharedStrings.xml: si entry 0",
        "xl/sharedStrings.xml: si entry 1",
    ]


def test_a_dropped_number_format_is_lost(tmp_path: Path) -> None:
    after = _edited(tmp_path, "xl/styles.xml", 'formatCode="0.0"', 'formatCode="0.00"')
    assert lost_entries(_original(tmp_path), after) == [
        "xl/styles.xml: numFmt (numFmtId, formatCode) ('164', '0.0') was lost"
    ]


def test_a_dropped_sheet_defined_name_relationship_and_content_type_are_lost(
    tmp_path: Path,
) -> None:
    parts = _book_parts()
    parts["xl/workbook.xml"] = (
        parts["xl/workbook.xml"]
        .replace('<sheet name="Plan" sheetId="2" r:id="rId2"/>', "")
        .replace(
            '<definedName name="_xlnm.Print_Area" localSheetId="1">Plan!$A$1:$A$2</definedName>', ""
        )
    )
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        f'<Relationship Id="rId2" Type="{_DOC_REL}/worksheet" Target="worksheets/sheet2.xml"/>', ""
    )
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        '<Default Extension="xml" ContentType="application/xml"/>', ""
    )
    lost = lost_entries(_original(tmp_path), _write(tmp_path / "dropped.xlsx", parts))
    assert lost == [
        "[Content_Types].xml: entry ('Default', 'xml', 'application/xml') was lost",
        "xl/workbook.xml: sheet (name, sheetId, r:id, state) ('Plan', '2', 'rId2', 'visible') "
        "was lost",
        'xl/workbook.xml: definedName (\'<definedName localSheetId="1" '
        'name="_xlnm.Print_Area">Plan!$A$1:$A$2</definedName>\',) was lost',
        "xl/_rels/workbook.xml.rels: Relationship (Id, Type, target, mode) ('rId2', "
        f"'{_DOC_REL}/worksheet', 'xl/worksheets/sheet2.xml', 'Internal') was lost",
    ]
