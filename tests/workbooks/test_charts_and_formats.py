"""Conditional formats and native charts on the sheets sheetloop writes.

Planners see shortfalls at a glance: cells are highlighted by live Excel rules (a
``<conditionalFormatting>`` on the sheet, a differential format in ``xl/styles.xml``), and
charts are real Excel charts (a drawing part, chart parts, their relationships and
content types) whose series reference the written table's cells. Everything is checked
with readers that share no code with the writer: the standard library for the package,
LibreOffice and poppler for what a person sees.
"""

from __future__ import annotations

import dataclasses
import html
import posixpath
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from support.corpus import CORPUS_DIR, corpus_file, corpus_files
from support.libreoffice import SINGLE_PAGE_SHEETS_PDF, convert, pdf_page_count
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

from sheetloop.workbooks.blank_package import write_blank_package
from sheetloop.workbooks.file_book import STATE_SHEET, FileBook
from sheetloop.workbooks.interface import (
    WARNING,
    ChartSpec,
    ColumnSeries,
    ConditionalFormat,
    Highlight,
    RowSeries,
    TableWrite,
)
from sheetloop.workbooks.schema import DEMAND_STATUS, MRP_GRID

CHART_NS = "http://schemas.openxmlformats.org/drawingml/2006/chart"
DRAWING_NS = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
CT_CHART = "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"
CT_DRAWING = "application/vnd.openxmlformats-officedocument.drawing+xml"
_C = f"{{{CHART_NS}}}"
_M = f"{{{MAIN_NS}}}"

#: The index parts a save may rewrite (everything else of the user's stays byte-identical).
INDEX_PARTS = frozenset(
    {CONTENT_TYPES, "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml"}
)

# --------------------------------------------------------------------------- the data

LINES = (
    "Gross Requirements",
    "Scheduled Receipts",
    "Projected On Hand",
    "Net Requirements",
    "Planned Receipts",
    "Planned Releases",
)
BUCKETS = ("2026-12-07", "2026-12-14", "2026-12-21", "2026-12-28", "2027-01-04", "2027-01-11")
SAFETY_STOCK = {"A-100": 10.0, "B-200": 20.0}
# Distinct values, so that each can be found on the rendered page by its text.
ON_HAND = {"A-100": (31, 17, 7, -6, 23, 19), "B-200": (58, 53, 47, 41, 36, 29)}
NET = {"A-100": (0, 0, 3, 16, 0, 0), "B-200": (0, 0, 0, 0, 0, 0)}
BELOW_SAFETY_STOCK = ("7", "-6")  # A-100's on hand under its safety stock of 10
# Colours far from the highlight colours, so that a highlighted cell is never taken for
# a line of the chart.
LEVEL_COLOURS = {"A-100": "00B050", "B-200": "7030A0"}
ON_HAND_COLOURS = {"A-100": "4472C4", "B-200": "ED7D31"}

# The grid's layout as written: the header at row 1, columns A.. in frame order.
FIRST_BUCKET, LAST_BUCKET = "E", "J"  # Item, Site, Line, Safety Stock, then the buckets


def grid_frame(items: tuple[str, ...] = ("A-100", "B-200")) -> pd.DataFrame:
    """The MRP grid of two records with their safety stock as a column."""
    rows = []
    for item in items:
        for line in LINES:
            if line == "Projected On Hand":
                values = ON_HAND[item]
            elif line == "Net Requirements":
                values = NET[item]
            else:
                values = (5, 5, 5, 5, 5, 5)
            rows.append(
                {
                    "Item": item,
                    "Site": "MAIN",
                    "Line": line,
                    "Safety Stock": SAFETY_STOCK[item],
                    **{b: float(v) for b, v in zip(BUCKETS, values, strict=True)},
                }
            )
    return pd.DataFrame(rows)


SHORTFALL_RULE = ConditionalFormat(
    BUCKETS, "<", against="Safety Stock", where={"Line": "Projected On Hand"}
)
NET_RULE = ConditionalFormat(
    BUCKETS, ">", value=0, where={"Line": "Net Requirements"}, highlight=WARNING
)


def on_hand_chart(items: tuple[str, ...] = ("A-100", "B-200")) -> ChartSpec:
    series: list[RowSeries] = []
    for item in items:
        row = {"Item": item, "Line": "Projected On Hand"}
        series.append(RowSeries(f"{item} on hand", row, color=ON_HAND_COLOURS[item]))
        series.append(
            RowSeries(f"{item} safety stock", row, level="Safety Stock", color=LEVEL_COLOURS[item])
        )
    return ChartSpec("Projected on hand against safety stock", tuple(series), across=BUCKETS)


def mrp_write(**changes: object) -> TableWrite:
    write = TableWrite(
        MRP_GRID, grid_frame(), formats=[SHORTFALL_RULE, NET_RULE], charts=[on_hand_chart()]
    )
    for name, value in changes.items():
        setattr(write, name, value)
    return write


def service_frame(rows: int = 4) -> pd.DataFrame:
    customers = ["ACME", "Beta", "Gamma", "Delta", "Epsilon", "Zeta"][:rows]
    fill = [1.0, 0.75, 1.0, 0.25, 0.5, 0.9][:rows]
    return pd.DataFrame(
        {
            "Demand": [f"D{i + 1}" for i in range(rows)],
            "Customer": customers,
            "Tier": [1, 2, 2, 3, 3, 1][:rows],
            "Item": ["A-100"] * rows,
            "Qty": [40.0] * rows,
            "Allocated": [40.0 * f for f in fill],
            "Short": [40.0 * (1 - f) for f in fill],
            "Fill %": fill,
            "Below Target": [f < 0.95 for f in fill],
        }
    )


def service_chart(**changes: object) -> ChartSpec:
    spec = ChartSpec(
        "Fill rate by customer",
        (ColumnSeries("Fill rate", "Fill %"),),
        kind="bar",
        categories="Customer",
    )
    return dataclasses.replace(spec, **changes)  # type: ignore[arg-type]


def service_write(chart_sheet: str | None = "Service Chart", rows: int = 4) -> TableWrite:
    return TableWrite(
        DEMAND_STATUS,
        service_frame(rows),
        formats=[ConditionalFormat(("Fill %",), "<", value=0.95)],
        charts=[service_chart()],
        chart_sheet=chart_sheet,
    )


def write(path: Path, *writes: TableWrite) -> Path:
    book = FileBook.open(path)
    for w in writes:
        book.replace_table(w)
    book.save()
    return path


@pytest.fixture
def blank(tmp_path: Path) -> Path:
    path = tmp_path / "plan.xlsx"
    write_blank_package(path)
    return path


# --------------------------------------------------------------------------- package reading
# The standard library only: the writer's package code must not judge itself.


def read(path: Path, part: str) -> bytes:
    with zipfile.ZipFile(path) as package:
        return package.read(part)


def xml(path: Path, part: str) -> ET.Element:
    return ET.fromstring(read(path, part))


def patch_part(path: Path, part: str, change: Callable[[bytes], bytes]) -> None:
    """Edit one part of a package, as another program saving the book would."""
    with zipfile.ZipFile(path) as package:
        parts = {n: package.read(n) for n in package.namelist()}
    edited = change(parts[part])
    assert edited != parts[part], f"the edit of {part} changed nothing"
    parts[part] = edited
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in parts.items():
            package.writestr(name, data)


def part_names(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as package:
        return {n for n in package.namelist() if not n.endswith("/")}


def _resolve(source: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(source), target))


def _rels_part(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{name}.rels")


def rels(path: Path, part: str) -> list[tuple[str, str, str]]:
    """(Id, type's last segment, target part) of each internal relationship of ``part``."""
    rels_part = "_rels/.rels" if part == "" else _rels_part(part)
    if rels_part not in part_names(path):
        return []
    return [
        (r.get("Id", ""), r.get("Type", "").rsplit("/", 1)[-1], _resolve(part, r.get("Target", "")))
        for r in xml(path, rels_part).iter(f"{{{PKG_REL_NS}}}Relationship")
        if r.get("TargetMode") != "External"
    ]


def sheet_part(path: Path, name: str) -> str:
    workbook = xml(path, "xl/workbook.xml")
    targets = {rid: target for rid, _, target in rels(path, "xl/workbook.xml")}
    for sheet in workbook.iter(f"{_M}sheet"):
        if sheet.get("name") == name:
            return targets[sheet.get(f"{{{DOC_REL_NS}}}id", "")]
    raise AssertionError(f"{path.name} has no sheet {name!r}")


def sheet_names(path: Path) -> list[str]:
    return [s.get("name", "") for s in xml(path, "xl/workbook.xml").iter(f"{_M}sheet")]


def drawings_of(path: Path, sheet: str) -> list[str]:
    return [t for _, kind, t in rels(path, sheet_part(path, sheet)) if kind == "drawing"]


def charts_of(path: Path, sheet: str) -> list[str]:
    return [
        target
        for drawing in drawings_of(path, sheet)
        for _, kind, target in rels(path, drawing)
        if kind == "chart"
    ]


def unreachable(path: Path) -> set[str]:
    """Parts no relationship chain from the package root leads to (orphans)."""
    seen: set[str] = set()
    todo = [""]
    while todo:
        part = todo.pop()
        for _, _, target in rels(path, part):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return {
        p
        for p in part_names(path)
        if p not in seen and p != CONTENT_TYPES and not p.endswith(".rels")
    }


def overrides(path: Path) -> dict[str, str]:
    types = xml(path, CONTENT_TYPES)
    return {
        o.get("PartName", "").lstrip("/"): o.get("ContentType", "")
        for o in types.iter(f"{{{CT_NS}}}Override")
    }


def dxfs(path: Path) -> tuple[str | None, list[ET.Element]]:
    element = xml(path, "xl/styles.xml").find(f"{_M}dxfs")
    assert element is not None, "styles.xml has no dxfs"
    return element.get("count"), list(element)


def cf_rules(path: Path, sheet: str) -> list[tuple[str, str, str]]:
    """(sqref, dxfId, formula) of each conditional formatting rule on the sheet."""
    root = xml(path, sheet_part(path, sheet))
    return [
        (cf.get("sqref", ""), rule.get("dxfId", ""), rule.findtext(f"{_M}formula") or "")
        for cf in root.findall(f"{_M}conditionalFormatting")
        for rule in cf.findall(f"{_M}cfRule")
    ]


def series(path: Path, chart: str) -> list[dict[str, object]]:
    """Each series of a chart part: its name, value and category formulas, cached values."""
    out = []
    for ser in xml(path, chart).iter(f"{_C}ser"):
        val = ser.find(f"{_C}val/{_C}numRef")
        cat = ser.find(f"{_C}cat/{_C}strRef")
        assert val is not None and cat is not None
        out.append(
            {
                "name": ser.findtext(f"{_C}tx/{_C}v"),
                "values": val.findtext(f"{_C}f"),
                "categories": cat.findtext(f"{_C}f"),
                "cache": [float(v.text or "") for v in val.iter(f"{_C}v")],
                "labels": [v.text for v in cat.iter(f"{_C}v")],
            }
        )
    return out


def cell_values(path: Path, sheet: str) -> dict[str, str]:
    """Cell reference -> its text or number, as written."""
    out = {}
    for cell in xml(path, sheet_part(path, sheet)).iter(f"{_M}c"):
        inline = cell.find(f"{_M}is/{_M}t")
        out[cell.get("r", "")] = (
            inline.text or "" if inline is not None else cell.findtext(f"{_M}v") or ""
        )
    return out


# Children of a worksheet in schema order (ECMA-376 CT_Worksheet), as far as they matter.
WORKSHEET_ORDER = (
    "dimension",
    "sheetViews",
    "sheetFormatPr",
    "cols",
    "sheetData",
    "mergeCells",
    "phoneticPr",
    "conditionalFormatting",
    "dataValidations",
    "hyperlinks",
    "pageMargins",
    "pageSetup",
    "headerFooter",
    "drawing",
    "legacyDrawing",
    "tableParts",
    "extLst",
)


def child_order(path: Path, sheet: str) -> list[str]:
    return [c.tag.split("}")[-1] for c in xml(path, sheet_part(path, sheet))]


# --------------------------------------------------------------------------- conditional formats


def test_conditional_formats_sit_between_the_sheet_data_and_the_data_validations(
    blank: Path,
) -> None:
    write(blank, mrp_write())
    order = child_order(blank, "MRP")
    assert "conditionalFormatting" in order and "drawing" in order
    ranks = [WORKSHEET_ORDER.index(tag) for tag in order]
    assert ranks == sorted(ranks), order
    assert invariant_violations(blank) == []


def test_a_rule_compares_each_bucket_with_the_safety_stock_of_its_own_row(blank: Path) -> None:
    write(blank, mrp_write())
    rules = cf_rules(blank, "MRP")
    assert [(sqref, formula) for sqref, _, formula in rules] == [
        (
            f"{FIRST_BUCKET}2:{LAST_BUCKET}13",
            'AND(ISNUMBER(E2),$C2="Projected On Hand",E2<$D2)',
        ),
        (f"{FIRST_BUCKET}2:{LAST_BUCKET}13", 'AND(ISNUMBER(E2),$C2="Net Requirements",E2>0)'),
    ]


def test_each_rule_points_at_a_differential_format_with_its_fill(blank: Path) -> None:
    write(blank, mrp_write())
    count, entries = dxfs(blank)
    assert count == str(len(entries)) == "2"
    fills = [e.find(f"{_M}fill/{_M}patternFill/{_M}bgColor") for e in entries]
    by_id = {
        dxf_id: fills[int(dxf_id)].get("rgb")  # type: ignore[union-attr]
        for _, dxf_id, _ in cf_rules(blank, "MRP")
    }
    assert sorted(by_id.values()) == ["FFFFC7CE", "FFFFEB9C"]


def test_the_dxfs_are_created_in_schema_position_when_the_book_has_none(blank: Path) -> None:
    patch_part(blank, "xl/styles.xml", lambda text: text.replace(b'<dxfs count="0"/>', b""))
    assert xml(blank, "xl/styles.xml").find(f"{_M}dxfs") is None
    write(blank, mrp_write())
    children = [c.tag.split("}")[-1] for c in xml(blank, "xl/styles.xml")]
    assert children.index("dxfs") == children.index("cellStyles") + 1
    assert children.index("dxfs") < children.index("tableStyles")
    assert dxfs(blank)[0] == "2"


def test_an_empty_self_closed_dxfs_is_opened_up(blank: Path) -> None:
    assert b'<dxfs count="0"/>' in read(blank, "xl/styles.xml")
    write(blank, mrp_write())
    count, entries = dxfs(blank)
    assert count == str(len(entries)) == "2"


def test_an_extensions_own_dxfs_is_left_alone(blank: Path) -> None:
    timeline_styles = (
        b'<extLst><ext uri="{9260A510-F301-46a8-8635-F512D64BE5F5}" '
        b'xmlns:x15="http://schemas.microsoft.com/office/spreadsheetml/2010/11/main">'
        b'<x15:dxfs count="1"><dxf><font><b/></font></dxf></x15:dxfs></ext></extLst>'
    )
    patch_part(
        blank,
        "xl/styles.xml",
        lambda text: text.replace(b"</styleSheet>", timeline_styles + b"</styleSheet>"),
    )
    write(blank, mrp_write())
    assert dxfs(blank)[0] == "2"
    assert timeline_styles in read(blank, "xl/styles.xml")


def test_rewriting_reuses_the_differential_formats(blank: Path) -> None:
    write(blank, mrp_write(), service_write())
    styles = read(blank, "xl/styles.xml")
    write(blank, mrp_write(), service_write())
    assert read(blank, "xl/styles.xml") == styles
    count, entries = dxfs(blank)
    assert count == str(len(entries)) == "2"  # the Fill % rule shares the red one


def test_an_identical_differential_format_already_in_the_book_is_reused(blank: Path) -> None:
    excel_red = (
        b'<dxfs count="2"><dxf><font><b/></font></dxf><dxf><font><color rgb="FF9C0006"/></font>'
        b'<fill><patternFill><bgColor rgb="FFFFC7CE"/></patternFill></fill></dxf></dxfs>'
    )
    patch_part(blank, "xl/styles.xml", lambda text: text.replace(b'<dxfs count="0"/>', excel_red))
    before = blank.with_name("before.xlsx")
    shutil.copy2(blank, before)
    write(blank, mrp_write(formats=[SHORTFALL_RULE]))
    assert [dxf_id for _, dxf_id, _ in cf_rules(blank, "MRP")] == ["1"]
    assert dxfs(blank)[0] == "2"
    assert lost_entries(before, blank) == []


def test_a_book_with_its_own_conditional_formats_keeps_them(tmp_path: Path) -> None:
    original = corpus_file("cond_format01.xlsx")
    book = Path(shutil.copy2(original, tmp_path / original.name))
    write(book, mrp_write())
    assert lost_entries(original, book) == []
    diff = package_changes(original, book)
    assert diff.removed == ()
    assert [p for p in diff.changed if p not in INDEX_PARTS and not p.startswith("docProps/")] == []
    # The book's own rule keeps its dxf (index 0); ours are appended after it.
    assert cf_rules(book, "Sheet1") == [("A1", "0", "5")]
    assert sorted(dxf_id for _, dxf_id, _ in cf_rules(book, "MRP")) == ["1", "2"]


def test_a_rule_without_a_comparison_highlights_every_cell_of_matching_rows(blank: Path) -> None:
    rule = ConditionalFormat(("Fill %",), where={"Below Target": "yes"})
    write(blank, TableWrite(DEMAND_STATUS, service_frame(), formats=[rule]))
    assert [(s, f) for s, _, f in cf_rules(blank, "DemandStatus")] == [("H2:H5", '$I2="yes"')]


def test_a_rule_over_columns_apart_gets_one_range_per_block(blank: Path) -> None:
    rule = ConditionalFormat(("Qty", "Short", "Allocated", "Tier"), ">", value=1.5)
    write(blank, TableWrite(DEMAND_STATUS, service_frame(), formats=[rule]))
    assert [(s, f) for s, _, f in cf_rules(blank, "DemandStatus")] == [
        ("C2:C5", "AND(ISNUMBER(C2),C2>1.5)"),
        ("E2:G5", "AND(ISNUMBER(E2),E2>1.5)"),
    ]


def test_an_empty_table_gets_no_rules_and_no_chart(blank: Path) -> None:
    write(blank, mrp_write(frame=grid_frame()[0:0]))
    assert cf_rules(blank, "MRP") == []
    assert drawings_of(blank, "MRP") == []
    assert invariant_violations(blank) == []


@pytest.mark.parametrize(
    "rule",
    [
        ConditionalFormat(("No Such Bucket",), ">", value=0),
        ConditionalFormat(BUCKETS, "<", against="Reorder Point"),
        ConditionalFormat(BUCKETS, ">", value=0, where={"Kind": "x"}),
        ConditionalFormat(BUCKETS, ">"),
        ConditionalFormat(BUCKETS, ">", value=0, against="Safety Stock"),
    ],
    ids=["column", "against", "where", "no-threshold", "two-thresholds"],
)
def test_a_rule_that_does_not_fit_the_table_is_refused_before_anything_is_written(
    blank: Path, rule: ConditionalFormat
) -> None:
    before = read(blank, "xl/workbook.xml")
    with pytest.raises(ValueError, match="MRP"):
        write(blank, mrp_write(formats=[rule]))
    assert read(blank, "xl/workbook.xml") == before


def test_a_colour_that_is_not_hex_is_refused(blank: Path) -> None:
    rule = ConditionalFormat(BUCKETS, ">", value=0, highlight=Highlight("red"))
    with pytest.raises(ValueError, match="RRGGBB"):
        write(blank, mrp_write(formats=[rule]))


# --------------------------------------------------------------------------- charts


def test_the_line_chart_series_reference_the_on_hand_rows_of_the_grid(blank: Path) -> None:
    write(blank, mrp_write())
    (chart,) = charts_of(blank, "MRP")
    found = series(blank, chart)
    header = f"'MRP'!${FIRST_BUCKET}$1:${LAST_BUCKET}$1"
    # Rows 4 and 10 are the records' Projected On Hand lines.
    assert [(s["name"], s["values"]) for s in found[0::2]] == [
        ("A-100 on hand", f"'MRP'!${FIRST_BUCKET}$4:${LAST_BUCKET}$4"),
        ("B-200 on hand", f"'MRP'!${FIRST_BUCKET}$10:${LAST_BUCKET}$10"),
    ]
    assert {s["categories"] for s in found} == {header}
    assert found[0]["labels"] == list(BUCKETS)
    assert found[0]["cache"] == list(map(float, ON_HAND["A-100"]))
    cells = cell_values(blank, "MRP")
    assert [cells[f"{c}4"] for c in "EFGHIJ"] == [repr(float(v)) for v in ON_HAND["A-100"]]


def test_a_safety_stock_line_references_its_values_in_the_chart_data_block(blank: Path) -> None:
    write(blank, mrp_write())
    (chart,) = charts_of(blank, "MRP")
    levels = series(blank, chart)[1::2]
    cells = cell_values(blank, "MRP")
    for level, item in zip(levels, SAFETY_STOCK, strict=True):
        assert level["cache"] == [SAFETY_STOCK[item]] * len(BUCKETS)
        m = re.fullmatch(r"'MRP'!\$([A-Z]+)\$(\d+):\$([A-Z]+)\$(\d+)", str(level["values"]))
        assert m is not None, level["values"]
        first, row, last, row2 = m.groups()
        assert row == row2
        referenced = [k for k in cells if re.fullmatch(rf"[A-Z]+{row}", k)]
        values = [float(cells[k]) for k in referenced if first <= k[: -len(row)] <= last]
        assert values == [SAFETY_STOCK[item]] * len(BUCKETS)
        assert f"{item} safety stock" in cells.values()


def test_charts_beside_the_table_start_right_of_it_at_the_header_row(blank: Path) -> None:
    write(blank, mrp_write(note="Showing 2 of 2 items"))
    (drawing,) = drawings_of(blank, "MRP")
    (anchor,) = xml(blank, drawing).findall(f"{{{DRAWING_NS}}}twoCellAnchor")
    start = anchor.find(f"{{{DRAWING_NS}}}from")
    assert start is not None
    # 10 columns (A..J), one empty column, then the chart (0-based column 11 = L); the
    # header is at row 3 after the note (0-based 2).
    assert (start.findtext(f"{{{DRAWING_NS}}}col"), start.findtext(f"{{{DRAWING_NS}}}row")) == (
        "11",
        "2",
    )
    assert invariant_violations(blank) == []


def test_a_bar_chart_shows_the_first_rows_of_a_column(blank: Path) -> None:
    chart = service_chart(max_rows=3)
    write(blank, TableWrite(DEMAND_STATUS, service_frame(6), charts=[chart]))
    (part,) = charts_of(blank, "DemandStatus")
    (found,) = series(blank, part)
    assert found["values"] == "'DemandStatus'!$H$2:$H$4"
    assert found["categories"] == "'DemandStatus'!$B$2:$B$4"
    assert found["labels"] == ["ACME", "Beta", "Gamma"]
    assert found["cache"] == [1.0, 0.75, 1.0]
    bar = xml(blank, part).find(f".//{_C}barChart/{_C}barDir")
    assert bar is not None and bar.get("val") == "bar"


def test_a_chart_part_and_its_drawing_are_linked_and_typed(blank: Path) -> None:
    write(blank, mrp_write())
    (drawing,) = drawings_of(blank, "MRP")
    (chart,) = charts_of(blank, "MRP")
    types = overrides(blank)
    assert (types[drawing], types[chart]) == (CT_DRAWING, CT_CHART)
    sheet = xml(blank, sheet_part(blank, "MRP"))
    element = sheet.find(f"{_M}drawing")
    assert element is not None
    drawing_rel = {
        rid for rid, kind, _ in rels(blank, sheet_part(blank, "MRP")) if kind == "drawing"
    }
    assert drawing_rel == {element.get(f"{{{DOC_REL_NS}}}id")}
    assert unreachable(blank) == set()
    assert invariant_violations(blank) == []


def test_charts_on_a_separate_sheet_reference_the_table_on_its_own_sheet(blank: Path) -> None:
    write(blank, service_write())
    assert drawings_of(blank, "DemandStatus") == []
    (chart,) = charts_of(blank, "Service Chart")
    assert series(blank, chart)[0]["values"] == "'DemandStatus'!$H$2:$H$5"
    state = cell_values(blank, STATE_SHEET)
    assert "Service Chart" in state["B" + _state_row(state, "owned_sheets")].split("\n")


def _state_row(cells: dict[str, str], key: str) -> str:
    return next(ref[1:] for ref, value in cells.items() if ref.startswith("A") and value == key)


def test_a_users_sheet_with_the_chart_sheets_name_is_left_alone(blank: Path) -> None:
    book = FileBook.open(blank)
    book.replace_table(TableWrite(MRP_GRID, grid_frame()))
    book.save()
    # The user's own "Service Chart": an existing sheet sheetloop does not own.
    patch_part(
        blank, "xl/workbook.xml", lambda text: text.replace(b'name="MRP"', b'name="Service Chart"')
    )
    users = sheet_part(blank, "Service Chart")
    before = read(blank, users)
    for _ in range(2):
        write(blank, service_write())
    assert read(blank, users) == before
    assert drawings_of(blank, "Service Chart") == []
    assert "Service Chart (2)" in sheet_names(blank)
    assert "Service Chart (3)" not in sheet_names(blank)
    assert len(charts_of(blank, "Service Chart (2)")) == 1


def test_charts_never_take_over_a_sheet_that_holds_a_table(blank: Path) -> None:
    write(blank, mrp_write(charts=[]), service_write(chart_sheet="MRP"))
    assert cell_values(blank, "MRP")["A1"] == "Item"
    assert charts_of(blank, "MRP") == []
    assert len(charts_of(blank, "MRP (2)")) == 1
    assert invariant_violations(blank) == []


def test_a_chart_that_does_not_fit_the_table_is_refused(blank: Path) -> None:
    apart = ChartSpec("x", (RowSeries("a", {"Item": "A-100"}),), across=(BUCKETS[0], BUCKETS[2]))
    mixed = ChartSpec(
        "x", (RowSeries("a", {"Item": "A-100"}), ColumnSeries("b", "Item")), across=BUCKETS
    )
    missing = ChartSpec("x", (ColumnSeries("b", "Fill"),), categories="Item")
    for chart in (apart, mixed, missing):
        with pytest.raises(ValueError, match="MRP"):
            write(blank, mrp_write(charts=[chart]))


def test_a_flat_line_takes_the_colour_of_its_rows_line_by_default(blank: Path) -> None:
    uncoloured = ChartSpec(
        "x",
        tuple(
            dataclasses.replace(s, color=None)
            for s in on_hand_chart().series
            if isinstance(s, RowSeries)
        ),
        across=BUCKETS,
    )
    write(blank, mrp_write(charts=[uncoloured]))
    (chart,) = charts_of(blank, "MRP")
    colours = [
        ser.find(".//{http://schemas.openxmlformats.org/drawingml/2006/main}srgbClr")
        for ser in xml(blank, chart).iter(f"{_C}ser")
    ]
    a_line, a_level, b_line, b_level = (c.get("val") for c in colours if c is not None)
    assert a_line == a_level != b_line == b_level


def test_a_series_whose_row_is_absent_is_left_out(blank: Path) -> None:
    write(blank, mrp_write(charts=[on_hand_chart(("A-100",))], frame=grid_frame(("B-200",))))
    assert charts_of(blank, "MRP") == []
    write(
        blank, mrp_write(charts=[on_hand_chart(("A-100", "B-200"))], frame=grid_frame(("A-100",)))
    )
    (chart,) = charts_of(blank, "MRP")
    assert [s["name"] for s in series(blank, chart)] == ["A-100 on hand", "A-100 safety stock"]


# --------------------------------------------------------------------------- rewriting


def test_rewriting_twice_leaves_one_drawing_and_one_chart_per_sheet(blank: Path) -> None:
    write(blank, mrp_write(), service_write())
    first = blank.with_name("first.xlsx")
    shutil.copy2(blank, first)
    write(blank, mrp_write(), service_write())
    write(blank, mrp_write(), service_write())
    assert part_names(blank) == part_names(first)
    assert [len(drawings_of(blank, s)) for s in ("MRP", "DemandStatus", "Service Chart")] == [
        1,
        0,
        1,
    ]
    assert len(charts_of(blank, "MRP")) == len(charts_of(blank, "Service Chart")) == 1
    assert len([p for p in part_names(blank) if p.startswith("xl/charts/")]) == 2
    diff = package_changes(first, blank)
    assert diff.removed == diff.added == ()
    state = sheet_part(blank, STATE_SHEET)
    assert [p for p in diff.changed if p != state and not p.startswith("docProps/")] == []
    assert unreachable(blank) == set()
    assert lost_entries(first, blank) == []


def test_new_data_rewrites_the_same_chart_parts(blank: Path) -> None:
    write(blank, mrp_write())
    names = part_names(blank)
    frame = grid_frame()
    frame[BUCKETS[0]] = frame[BUCKETS[0]] + 1
    write(blank, mrp_write(frame=frame))
    assert part_names(blank) == names
    (chart,) = charts_of(blank, "MRP")
    assert series(blank, chart)[0]["cache"][0] == ON_HAND["A-100"][0] + 1


def test_fewer_charts_remove_the_extra_chart_parts(blank: Path) -> None:
    write(blank, mrp_write(charts=[on_hand_chart(), on_hand_chart(("B-200",))]))
    two = charts_of(blank, "MRP")
    assert len(two) == 2
    write(blank, mrp_write())
    assert charts_of(blank, "MRP") == two[:1]
    assert two[1] not in part_names(blank)
    assert two[1] not in overrides(blank)
    assert unreachable(blank) == set()
    assert invariant_violations(blank) == []


def test_a_write_without_charts_removes_the_drawing_and_its_charts(blank: Path) -> None:
    write(blank, mrp_write(), service_write())
    write(blank, mrp_write(charts=[]), service_write(rows=0))
    assert [p for p in part_names(blank) if p.startswith(("xl/charts/", "xl/drawings/"))] == []
    assert [p for p in overrides(blank) if p.startswith(("xl/charts/", "xl/drawings/"))] == []
    assert "drawing" not in child_order(blank, "MRP")
    assert "drawing" not in child_order(blank, "Service Chart")
    assert unreachable(blank) == set()
    assert invariant_violations(blank) == []


def test_moving_charts_to_their_own_sheet_takes_them_off_the_table_sheet(blank: Path) -> None:
    write(blank, mrp_write())
    write(blank, mrp_write(chart_sheet="MRP Chart"))
    assert drawings_of(blank, "MRP") == []
    assert len(charts_of(blank, "MRP Chart")) == 1
    assert len([p for p in part_names(blank) if p.startswith("xl/charts/")]) == 1
    assert unreachable(blank) == set()


def test_a_drawing_that_is_not_sheetloops_is_never_touched(blank: Path) -> None:
    write(blank, mrp_write())
    (drawing,) = drawings_of(blank, "MRP")
    (chart,) = charts_of(blank, "MRP")
    # As if a planner had drawn on sheetloop's sheet: the frame no longer carries
    # sheetloop's name, so the drawing is the planner's.
    patch_part(
        blank, drawing, lambda text: text.replace(b'name="sheetloop chart 1"', b'name="My chart"')
    )
    theirs = {p: read(blank, p) for p in (drawing, chart, _rels_part(drawing))}
    write(blank, mrp_write(charts=[]))
    write(blank, mrp_write())
    assert {p: read(blank, p) for p in theirs} == theirs
    assert drawing in drawings_of(blank, "MRP")
    assert len(drawings_of(blank, "MRP")) == 2
    assert invariant_violations(blank) == []


# --------------------------------------------------------------------------- corpus books


def chart_books() -> list[Path]:
    return [p for p in corpus_files() if p.name.startswith(("chart", "theme"))]


def test_corpus_books_with_charts_keep_theirs_byte_identical(tmp_path: Path) -> None:
    books = chart_books()
    assert len(books) >= 5, "the corpus lost its chart books"
    for original in books:
        book = Path(shutil.copy2(original, tmp_path / original.name))
        write(book, mrp_write(), service_write())
        theirs = {p for p in part_names(original) if p.startswith(("xl/charts/", "xl/drawings/"))}
        assert theirs, original.name
        diff = package_changes(original, book)
        assert diff.removed == ()
        changed = [
            p for p in diff.changed if p not in INDEX_PARTS and not p.startswith("docProps/")
        ]
        assert changed == [], original.name
        assert lost_entries(original, book) == [], original.name
        assert invariant_violations(book) == [], original.name
        assert unreachable(book) <= unreachable(original), original.name
        ours = set(charts_of(book, "MRP")) | set(charts_of(book, "Service Chart"))
        assert len(ours) == 2 and not ours & theirs, original.name
        first = tmp_path / f"first-{original.name}"
        shutil.copy2(book, first)
        write(book, mrp_write(), service_write())
        assert part_names(book) == part_names(first), original.name
        assert read(book, "xl/styles.xml") == read(first, "xl/styles.xml"), original.name


# --------------------------------------------------------------------------- what a person sees


def _poppler(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        import os

        reason = f"poppler's {tool} is not installed (Debian's poppler-utils)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}. CI must provide it.")
        pytest.skip(reason)
    return found


DPI = 72  # one pixel per PDF point


def rendered_page(pdf: Path, page: int) -> np.ndarray:
    """The page as an RGB pixel array, rendered by poppler (a binary PPM, read as is)."""
    prefix = pdf.with_name(f"{pdf.stem}-page{page}")
    subprocess.run(
        [_poppler("pdftoppm"), "-r", str(DPI), "-f", str(page), "-l", str(page), str(pdf), prefix],
        check=True,
        timeout=120,
    )
    subprocess.run(  # a PNG beside it, for a person to look at
        [
            _poppler("pdftoppm"),
            "-png",
            "-r",
            str(DPI),
            "-f",
            str(page),
            "-l",
            str(page),
            pdf,
            prefix,
        ],
        check=True,
        timeout=120,
    )
    (ppm,) = pdf.parent.glob(f"{prefix.name}-*.ppm")
    data = ppm.read_bytes()
    m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", data)
    assert m is not None, "not a binary PPM"
    width, height = int(m.group(1)), int(m.group(2))
    return np.frombuffer(data[m.end() :], np.uint8).reshape(height, width, 3)


def words(pdf: Path, page: int) -> list[tuple[str, float, float, float, float]]:
    """(text, x0, y0, x1, y1) of each word on the page, in points from the top left."""
    run = subprocess.run(
        [_poppler("pdftotext"), "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    pattern = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
    return [
        (html.unescape(t), float(a), float(b), float(c), float(d))
        for a, b, c, d, t in re.findall(pattern, run.stdout)
    ]


def rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) for i in (0, 2, 4)])


def near(pixels: np.ndarray, colour: str, tolerance: int = 24) -> np.ndarray:
    return np.abs(pixels.astype(int) - rgb(colour)).max(axis=-1) <= tolerance


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A book with the MRP grid (rules, a chart beside it) and DemandStatus (a rule, a
    chart on its own sheet), rendered by LibreOffice with one page per sheet."""
    folder = tmp_path_factory.mktemp("rendered")
    book = folder / "charts.xlsx"
    write_blank_package(book)
    write(book, mrp_write(), service_write())
    (pdf,) = convert([book], SINGLE_PAGE_SHEETS_PDF, folder / "pdf")
    return pdf


def test_libreoffice_renders_one_page_per_sheet_with_the_charts_titles(rendered: Path) -> None:
    # MRP, DemandStatus, Service Chart and sheetloop's state sheet.
    assert pdf_page_count(rendered) == 4
    mrp = " ".join(w[0] for w in words(rendered, 1))
    service = " ".join(w[0] for w in words(rendered, 3))
    assert "Projected on hand against safety stock" in mrp
    assert "A-100 safety stock" in mrp
    assert "Fill rate by customer" in service
    assert all(customer in service for customer in ("ACME", "Beta", "Gamma", "Delta"))


def test_on_hand_below_safety_stock_is_filled_red_and_the_rest_is_not(rendered: Path) -> None:
    pixels = rendered_page(rendered, 1)
    boxes = words(rendered, 1)

    def fill_left_of(text: str, nth: int = 0) -> np.ndarray:
        found = [b for b in boxes if b[0] == text]
        _, x0, y0, _, y1 = found[nth]
        # A few points left of the right-aligned number, inside its cell.
        return pixels[int((y0 + y1) / 2 * DPI / 72), int((x0 - 3) * DPI / 72)]

    for below in BELOW_SAFETY_STOCK:
        assert near(fill_left_of(below)[None], "FFC7CE").all(), below
    for fine in ("31", "58"):  # on hand at or above safety stock
        assert near(fill_left_of(fine)[None], "FFFFFF").all(), fine
    assert near(fill_left_of("16")[None], "FFEB9C").all()  # net requirements: amber
    red = near(pixels, "FFC7CE")
    assert red.sum() > 0


def test_the_chart_draws_a_flat_safety_stock_line_beside_the_table(rendered: Path) -> None:
    pixels = rendered_page(rendered, 1)
    # The last bucket's header is the table's (the leftmost of the words with its text; the
    # others are the chart's category labels).
    table_right = min(x1 for t, _, _, x1, _ in words(rendered, 1) if t == BUCKETS[-1])
    for item, colour in LEVEL_COLOURS.items():
        mask = near(pixels, colour, tolerance=16)
        ys, xs = np.nonzero(mask)
        assert len(xs), f"no {item} safety stock line drawn"
        assert xs.min() > table_right * DPI / 72  # right of the table
        # The most populated pixel row is the dashed line: long and flat.
        row = np.bincount(ys).argmax()
        span = xs[ys == row]
        assert span.max() - span.min() > 200, item
    on_hand = near(pixels, ON_HAND_COLOURS["A-100"], tolerance=40)
    ys, _ = np.nonzero(on_hand)
    assert ys.max() - ys.min() > 50  # the on-hand line goes up and down


def test_the_corpus_chart_books_open_in_libreoffice_with_both_sets_of_charts(
    tmp_path: Path,
) -> None:
    books = []
    for original in chart_books():
        book = Path(shutil.copy2(original, tmp_path / original.name))
        books.append(write(book, mrp_write(), service_write()))
    pdfs = convert(books, "pdf", tmp_path / "pdf")
    for pdf in pdfs:
        text = " ".join(
            w[0] for page in range(1, pdf_page_count(pdf) + 1) for w in words(pdf, page)
        )
        assert "Projected on hand against safety stock" in text, pdf.name
        assert "Fill rate by customer" in text, pdf.name


def test_the_corpus_is_there_for_the_chart_proofs() -> None:
    if not CORPUS_DIR.is_dir():
        pytest.skip("the workbook corpus is absent")
    assert chart_books()
