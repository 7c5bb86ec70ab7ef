"""Worksheet and table XML for the tables sheetloop writes.

Cells are rendered column by column (one comprehension per column) and joined row by row,
which keeps a 100,000 × 15 table to a second or two. Text is written as inline strings,
so ``xl/sharedStrings.xml`` is never touched and text can never become a formula; text
that starts like a formula also gets Excel's quote prefix, so editing the cell later keeps
it text.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd

from sheetloop.workbooks.conditional_xml import render_conditional_formatting
from sheetloop.workbooks.interface import TableWrite, Validation
from sheetloop.workbooks.ooxml import NS_MAIN, NS_REL
from sheetloop.workbooks.problems import column_letter
from sheetloop.workbooks.schema import Column, Kind
from sheetloop.workbooks.styles_xml import CellFormat, Styles

EXCEL_MAX_ROWS = 1_048_576
_EXCEL_EPOCH = np.datetime64("1899-12-30", "s")
_NEEDS_ESCAPE = re.compile(r"[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_FORMULA_START = ("=", "+", "-", "@")

FORMATS: dict[Kind, CellFormat] = {
    Kind.CODE: CellFormat("@"),
    Kind.TEXT: CellFormat("@"),
    Kind.CHOICE: CellFormat("@"),
    Kind.YESNO: CellFormat("@"),
    Kind.NUMBER: CellFormat("General"),
    Kind.INTEGER: CellFormat("0"),
    Kind.FRACTION: CellFormat("0.0%"),
    Kind.DATE: CellFormat("yyyy-mm-dd"),
    Kind.DATETIME: CellFormat("yyyy-mm-dd hh:mm:ss"),
}
QUOTED_TEXT = CellFormat("@", quote_prefix=True)
WRAPPED_TEXT = CellFormat("@", wrap=True)


def escape_text(value: str) -> str:
    """Text as XML character data; characters XML 1.0 forbids use Excel's ``_xHHHH_``."""
    if not _NEEDS_ESCAPE.search(value):
        return value
    value = re.sub(r"_x([0-9A-Fa-f]{4})_", r"_x005F_x\1_", value)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", value)


@dataclass
class RenderedSheet:
    xml: str
    ref: str  # the table's range, e.g. A1:H10
    rows_written: int


def _text_cells(
    letter: str,
    rows: Sequence[str],
    values: Sequence[Any],
    style: int,
    quoted: int,
    *,
    numbers: bool = False,
) -> list[str]:
    """Text cells; with ``numbers``, numeric values (a free-text column such as Settings'
    Value) stay numbers, so Excel does not flag them as numbers stored as text."""
    out = []
    for r, v in zip(rows, values, strict=True):
        if v is None or v is pd.NA or v is pd.NaT or v == "" or (type(v) is float and v != v):
            out.append("")
            continue
        if numbers and (type(v) is float or type(v) is int):
            out.append(f'<c r="{letter}{r}"><v>{v!r}</v></c>')
            continue
        s = v if type(v) is str else as_text(v)
        space = ' xml:space="preserve"' if s[:1].isspace() or s[-1:].isspace() else ""
        s_style = quoted if s.startswith(_FORMULA_START) else style
        out.append(
            f'<c r="{letter}{r}" s="{s_style}" t="inlineStr"><is><t{space}>'
            f"{escape_text(s)}</t></is></c>"
        )
    return out


def is_missing(v: Any) -> bool:
    """A missing value in a frame being written (None, NA, NaT, NaN); empty text is not."""
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def as_text(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dt.datetime | pd.Timestamp):
        return v.isoformat(sep=" ") if v.time() != dt.time() else v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _number_cells(letter: str, rows: Sequence[str], values: Any, style: int) -> list[str]:
    nums = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
    texts = [repr(x) for x in nums.tolist()]
    return [
        "" if t in ("nan", "inf", "-inf") else f'<c r="{letter}{r}" s="{style}"><v>{t}</v></c>'
        for r, t in zip(rows, texts, strict=True)
    ]


def _date_cells(letter: str, rows: Sequence[str], values: Any, style: int) -> list[str]:
    series = pd.Series(values)
    if series.dtype.kind in "fiu":  # period numbers (Bucket = period)
        return _number_cells(letter, rows, series, 0)
    stamps = pd.to_datetime(series, errors="coerce").to_numpy(dtype="datetime64[s]")
    serial = (stamps - _EXCEL_EPOCH).astype("timedelta64[s]").astype(np.float64) / 86400.0
    serial[np.isnat(stamps)] = math.nan
    return _number_cells(letter, rows, serial, style)


def _yesno_cells(letter: str, rows: Sequence[str], values: Any, style: int) -> list[str]:
    as_text = [
        None
        if is_missing(v)
        else ("yes" if v in (True, 1) or str(v).casefold() in ("yes", "y", "x", "true") else "no")
        for v in values
    ]
    return _text_cells(letter, rows, as_text, style, style)


def column_formats(write: TableWrite) -> list[CellFormat]:
    """The cell format of each column of the frame, as the table is written."""
    formats = []
    for name in write.frame.columns:
        spec_col = _spec_column(write, name)
        formats.append(FORMATS[spec_col.kind] if spec_col else _guess_format(write.frame[name]))
    return formats


def render_table_sheet(
    write: TableWrite,
    styles: Styles,
    table_rid: str | None,
    header_row: int = 1,
    drawing_rid: str | None = None,
    side_cells: Mapping[int, Sequence[tuple[int, str | float]]] | None = None,
) -> RenderedSheet:
    """A whole worksheet holding one table (header at ``header_row``, data below it), with
    the table's conditional formats and, with ``drawing_rid``, its drawing of charts.

    ``side_cells`` (row -> [(0-based column, value)]) are plain cells right of the table,
    such as the data block of the charts drawn beside it.
    """
    frame = write.frame
    columns = list(frame.columns)
    n = len(frame)
    top = header_row
    rows = [str(top + 1 + i) for i in range(n)]
    quoted = styles.index(QUOTED_TEXT)
    header_style = styles.index(FORMATS[Kind.TEXT])
    rendered: list[list[str]] = []
    widths: list[float] = []
    col_styles: list[int] = []
    for i, (name, fmt) in enumerate(zip(columns, column_formats(write), strict=True)):
        spec_col = _spec_column(write, name)
        style = styles.index(fmt)
        col_styles.append(style)
        letter = column_letter(i)
        values = frame[name]
        kind = spec_col.kind if spec_col else None
        if kind in (Kind.NUMBER, Kind.INTEGER, Kind.FRACTION) or (
            kind is None and values.dtype.kind in "fiu"
        ):
            cells = _number_cells(letter, rows, values.to_numpy(), style)
        elif kind in (Kind.DATE, Kind.DATETIME) or (kind is None and values.dtype.kind == "M"):
            cells = _date_cells(letter, rows, values, style)
        elif kind is Kind.YESNO:
            cells = _yesno_cells(letter, rows, values.tolist(), style)
        else:
            cells = _text_cells(
                letter, rows, values.tolist(), style, quoted, numbers=kind is Kind.TEXT
            )
        rendered.append(cells)
        widths.append(_width(name, values, spec_col))

    last_col = column_letter(max(len(columns), 1) - 1)
    last_row = top + max(n, 1)  # an Excel table needs at least one (possibly empty) data row
    ref = f"A{top}:{last_col}{last_row}"
    header_cells = "".join(
        f'<c r="{column_letter(i)}{top}" s="{header_style}" t="inlineStr"><is><t>'
        f"{escape_text(str(name))}</t></is></c>"
        for i, name in enumerate(columns)
    )
    table_rows: list[tuple[str, str]] = []
    if write.note and top > 1:
        table_rows.append(
            ("1", f'<c r="A1" t="inlineStr"><is><t>{escape_text(write.note)}</t></is></c>')
        )
    table_rows.append((str(top), header_cells))
    data_rows = ((r, "".join(cells)) for r, *cells in zip(rows, *rendered, strict=True))
    side = render_cells(side_cells or {})
    parts = _merged_rows(table_rows, data_rows if n else iter(()), side)
    dimension = f"A1:{last_col}{last_row}"
    if side:
        side_right = max(c for cells in (side_cells or {}).values() for c, _ in cells)
        right = column_letter(max(len(columns) - 1, side_right))
        dimension = f"A1:{right}{max(last_row, *side)}"
    cols = "".join(
        f'<col min="{i + 1}" max="{i + 1}" width="{w:.1f}" style="{s}" customWidth="1"/>'
        for i, (w, s) in enumerate(zip(widths, col_styles, strict=True))
    )
    validations = _validations(write.validations, columns, top)
    conditional = render_conditional_formatting(
        write.spec.name, write.formats, [str(c) for c in columns], top, n, styles.dxf_index
    )
    drawing = f'<drawing r:id="{drawing_rid}"/>' if drawing_rid else ""
    pane = (
        f'<pane ySplit="{top}" topLeftCell="A{top + 1}" activePane="bottomLeft" '
        'state="frozen"/><selection pane="bottomLeft" activeCell="A{0}" sqref="A{0}"/>'.format(
            top + 1
        )
    )
    table_parts = (
        f'<tableParts count="1"><tablePart r:id="{table_rid}"/></tableParts>' if table_rid else ""
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{NS_MAIN}" xmlns:r="{NS_REL}">'
        f'<dimension ref="{dimension}"/>'
        f'<sheetViews><sheetView workbookViewId="0">{pane}</sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
        + (f"<cols>{cols}</cols>" if cols else "")
        + "<sheetData>"
        + "".join(parts)
        + "</sheetData>"
        + conditional
        + validations
        + '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
        'footer="0.3"/>' + drawing + table_parts + "</worksheet>"
    )
    return RenderedSheet(xml, ref, n)


def render_cells(cells: Mapping[int, Sequence[tuple[int, str | float]]]) -> dict[int, str]:
    """Plain cells (row -> [(0-based column, text or number)]) as each row's cell XML."""
    out = {}
    for row, values in cells.items():
        xml = []
        for col, value in sorted(values, key=lambda cv: cv[0]):
            ref = f"{column_letter(col)}{row}"
            if isinstance(value, str):
                xml.append(f'<c r="{ref}" t="inlineStr"><is><t>{escape_text(value)}</t></is></c>')
            elif math.isfinite(value):
                xml.append(f'<c r="{ref}"><v>{float(value)!r}</v></c>')
        out[row] = "".join(xml)
    return out


def _merged_rows(
    head: list[tuple[str, str]], data: Iterator[tuple[str, str]], side: dict[int, str]
) -> list[str]:
    """The ``<row>`` elements of the table's rows, with the side cells merged in by row
    (they are right of the table, so they follow its cells)."""
    if not side:
        return [f'<row r="{r}">{cells}</row>' for r, cells in [*head, *data]]
    pending = sorted(side.items())
    out, k = [], 0
    for r, cells in itertools.chain(head, data):
        number = int(r)
        while k < len(pending) and pending[k][0] < number:
            out.append(f'<row r="{pending[k][0]}">{pending[k][1]}</row>')
            k += 1
        if k < len(pending) and pending[k][0] == number:
            cells += pending[k][1]
            k += 1
        out.append(f'<row r="{r}">{cells}</row>')
    out.extend(f'<row r="{r}">{cells}</row>' for r, cells in pending[k:])
    return out


def render_table_part(table_id: int, name: str, ref: str, columns: Sequence[str]) -> str:
    """The table part (``xl/tables/tableN.xml``) of a table sheetloop writes."""
    cols = "".join(
        f'<tableColumn id="{i + 1}" name={quoteattr(table_column_name(c))}/>'
        for i, c in enumerate(columns)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<table xmlns="{NS_MAIN}" id="{table_id}" name={quoteattr(name)} '
        f'displayName={quoteattr(name)} ref="{ref}" totalsRowShown="0">'
        f'<autoFilter ref="{ref}"/><tableColumns count="{len(columns)}">{cols}'
        '</tableColumns><tableStyleInfo name="TableStyleMedium2" showFirstColumn="0" '
        'showLastColumn="0" showRowStripes="1" showColumnStripes="0"/></table>'
    )


def table_column_name(name: object) -> str:
    # Excel keeps line breaks in table column names as _x000a_; keep them out altogether.
    return re.sub(r"[\r\n]+", " ", str(name))


def _validations(validations: list[Validation], columns: list[str], top: int) -> str:
    items = []
    for v in validations:
        if v.column not in columns:
            continue
        letter = column_letter(columns.index(v.column))
        formula = ",".join(v.choices)
        items.append(
            '<dataValidation type="list" allowBlank="1" showErrorMessage="1" '
            f'sqref="{letter}{top + 1}:{letter}{EXCEL_MAX_ROWS}"><formula1>'
            f'"{escape_text(formula)}"</formula1></dataValidation>'
        )
    if not items:
        return ""
    return f'<dataValidations count="{len(items)}">{"".join(items)}</dataValidations>'


def _spec_column(write: TableWrite, name: str) -> Column | None:
    try:
        return write.spec.column(name)
    except KeyError:
        return None


def _guess_format(values: pd.Series) -> CellFormat:
    if values.dtype.kind in "fiu":
        return FORMATS[Kind.NUMBER]
    if values.dtype.kind == "M":
        return FORMATS[Kind.DATE]
    return CellFormat("General")


def _width(name: str, values: pd.Series, col: Column | None) -> float:
    if col and col.width:
        return col.width
    sample = values.head(200)
    longest = max((len(as_text(v)) for v in sample.tolist() if not is_missing(v)), default=0)
    if col and col.kind in (Kind.DATE,) and values.dtype.kind == "M":
        longest = 10
    return float(min(max(len(str(name)) + 4, longest + 2, 8), 60))


def render_chart_sheet(
    note: str,
    drawing_rid: str | None,
    cells: Mapping[int, Sequence[tuple[int, str | float]]] | None = None,
) -> str:
    """A sheet that holds only charts (of a table on another sheet), with a note at A1 and
    the ``cells`` of the charts' data block."""
    drawing = f'<drawing r:id="{drawing_rid}"/>' if drawing_rid else ""
    rendered = render_cells(cells or {})
    rows = "".join(f'<row r="{r}">{xml}</row>' for r, xml in sorted(rendered.items()))
    right = max((c for row in (cells or {}).values() for c, _ in row), default=0)
    dimension = f"A1:{column_letter(right)}{max(rendered, default=1)}"
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{NS_MAIN}" xmlns:r="{NS_REL}"><dimension ref="{dimension}"/>'
        '<sheetViews><sheetView workbookViewId="0"/></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/><sheetData><row r="1"><c r="A1" t="inlineStr">'
        f"<is><t>{escape_text(note)}</t></is></c></row>{rows}</sheetData>"
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
        f'footer="0.3"/><pageSetup orientation="landscape"/>{drawing}</worksheet>'
    )
