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
import numpy.typing as npt
import pandas as pd

from sheetloop.workbooks.byte_blocks import (
    Block,
    constant,
    digits_block,
    float_block,
    only,
    placed,
    squeeze,
    text_lengths,
    utf8_block,
)
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
    xml: bytes  # UTF-8
    ref: str  # the table's range, e.g. A1:H10
    rows_written: int


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
    quoted = styles.index(QUOTED_TEXT)
    header_style = styles.index(FORMATS[Kind.TEXT])
    makers: list[_Cells] = []
    widths: list[float] = []
    col_styles: list[int] = []
    for i, (name, fmt) in enumerate(zip(columns, column_formats(write), strict=True)):
        spec_col = _spec_column(write, name)
        style = styles.index(fmt)
        col_styles.append(style)
        values = frame.iloc[:, i]
        makers.append(_cells(values, spec_col.kind if spec_col else None, style, quoted))
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
    side = render_cells(side_cells or {})
    head = _merged_rows(table_rows, iter(()), {r: x for r, x in side.items() if r <= top})
    beside = {r: x for r, x in side.items() if top < r <= top + n}
    below = sorted((r, x) for r, x in side.items() if r > top + n)
    data = _data_rows(makers, top, n, beside)
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
    before = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{NS_MAIN}" xmlns:r="{NS_REL}">'
        f'<dimension ref="{dimension}"/>'
        f'<sheetViews><sheetView workbookViewId="0">{pane}</sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
        + (f"<cols>{cols}</cols>" if cols else "")
        + "<sheetData>"
        + "".join(head)
    )
    after = (
        "".join(f'<row r="{r}">{x}</row>' for r, x in below)
        + "</sheetData>"
        + conditional
        + validations
        + '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
        'footer="0.3"/>' + drawing + table_parts + "</worksheet>"
    )
    xml = b"".join([before.encode("utf-8"), *data, after.encode("utf-8")])
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


# --- the cells of a table, as blocks ---------------------------------------------------------

# Bytes that make text take the slow path: what escape_text changes (& < > and control
# characters), and 0xEF, which starts the encodings of U+FFFE and U+FFFF (and of other
# characters: those take the slow path too, which is only slower).
_UNSAFE_BYTE = np.isin(
    np.arange(256), [*b"&<>", *range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xEF]
)
_FORMULA_BYTE = np.isin(np.arange(256), [ord(c) for c in _FORMULA_START])
_SPACE_BYTE = np.isin(np.arange(256), [*b" \t\n\r"])
_YES = ("yes", "y", "x", "true")
#: Cells made at once: a batch's blocks stay at some tens of megabytes.
_CELLS_PER_BATCH = 1_200_000


class _Cells:
    """How one column's cells are made, a range of rows at a time: blocks that side by
    side hold each row's cell XML after its reference (the caller writes ``<c r="B7``),
    and which rows have a cell."""

    def content(self, start: int, stop: int) -> tuple[list[Part], npt.NDArray[np.bool_]]:
        raise NotImplementedError


class _NumberCells(_Cells):
    def __init__(self, numbers: npt.NDArray[np.float64], style: int) -> None:
        self.numbers = numbers
        self.style = style

    def content(self, start: int, stop: int) -> tuple[list[Part], npt.NDArray[np.bool_]]:
        block, finite = float_block(self.numbers[start:stop])
        return [f'" s="{self.style}"><v>', block, "</v></c>"], finite


class _TextCells(_Cells):
    """Text cells; with ``numbers``, numeric values (a free-text column such as Settings'
    Value) stay numbers, so Excel does not flag them as numbers stored as text. Text
    starting like a formula gets the quote-prefix style ``quoted``."""

    def __init__(self, values: pd.Series, style: int, quoted: int, numbers: bool) -> None:
        self.style, self.quoted, self.numbers = style, quoted, numbers
        self.values = values.to_numpy(object)
        self.table: Block | None = None
        self.codes: npt.NDArray[np.int64] | None = None
        # How a cell opens: plain or quote-prefixed style, with or without kept spaces.
        self.starts = [
            f'" s="{s}" t="inlineStr"><is><t{space}>'
            for s in (style, quoted)
            for space in ("", ' xml:space="preserve"')
        ]
        self.openings = utf8_block(self.starts)
        if isinstance(values.dtype, pd.CategoricalDtype):
            # Each category once, the rows taking theirs by code; only the categories the
            # rows use (a sheet of a million pegging rows uses few of 7 million orders).
            codes = np.asarray(values.cat.codes, dtype=np.int64)
            categories = values.cat.categories.to_numpy(object)
            if len(categories) > len(codes):
                used = np.unique(codes[codes >= 0])
                categories = categories[used]
                codes = np.where(codes >= 0, np.searchsorted(used, codes), -1)
            parts, present = self._content(categories)
            content = np.concatenate(_blocks(parts, len(present)), axis=1)
            self.table = np.concatenate([content, np.zeros((1, content.shape[1]), np.uint8)])
            self.codes = np.where((codes >= 0) & np.append(present, False)[codes], codes, -1)

    def content(self, start: int, stop: int) -> tuple[list[Part], npt.NDArray[np.bool_]]:
        if self.table is not None and self.codes is not None:
            codes = self.codes[start:stop]
            return [self.table[codes]], codes >= 0
        return self._content(self.values[start:stop])

    def _content(self, values: npt.NDArray[np.object_]) -> tuple[list[Part], npt.NDArray[np.bool_]]:
        missing = pd.isna(values) | (values == "")
        texts = np.where(missing, "", values)
        slow = np.zeros(len(values), dtype=bool)
        if pd.api.types.infer_dtype(texts, skipna=False) != "string":
            odd = np.flatnonzero([type(v) is not str for v in texts.tolist()])
            slow[odd] = True
            texts[odd] = ""
        block = utf8_block(texts)
        rows = len(block)
        last = block[np.arange(rows), np.maximum(text_lengths(block) - 1, 0)]
        slow |= _UNSAFE_BYTE[block].any(axis=1) | (block[:, 0] >= 0x80) | (last >= 0x80)
        joined = "\n".join(texts.tolist())
        if "_x" in joined or "\0" in joined:
            slow |= np.array([("_x" in t or "\0" in t) for t in texts.tolist()], dtype=bool)
        kind = 2 * _FORMULA_BYTE[block[:, 0]] + (_SPACE_BYTE[block[:, 0]] | _SPACE_BYTE[last])
        slow_rows = np.flatnonzero(slow & ~missing)
        if not len(slow_rows):
            # Most batches open every cell alike: one constant then.
            opening: Part = self.openings[kind] if kind.any() else self.starts[0]
            return [opening, block, "</t></is></c>"], ~missing
        # The rare text that needs escaping (or is not text) is made one cell at a time.
        fast = ~slow[:, None]
        closing = constant("</t></is></c>", rows)
        blocks: list[Part] = [self.openings[kind] * fast, block * fast, closing * fast]
        odd_cells = [self._one(v) for v in values[slow_rows].tolist()]
        blocks.append(placed(np.zeros((rows, 1), dtype=np.uint8), slow_rows, odd_cells))
        return blocks, ~missing

    def _one(self, v: Any) -> str:
        if self.numbers and (type(v) is float or type(v) is int):
            return f'"><v>{v!r}</v></c>'
        s = v if type(v) is str else as_text(v)
        space = ' xml:space="preserve"' if s[:1].isspace() or s[-1:].isspace() else ""
        s_style = self.quoted if s.startswith(_FORMULA_START) else self.style
        return f'" s="{s_style}" t="inlineStr"><is><t{space}>{escape_text(s)}</t></is></c>'


def _cells(values: pd.Series, kind: Kind | None, style: int, quoted: int) -> _Cells:
    """How a column's cells are made, by its kind (or, for a column the table does not
    define, by its values)."""
    if kind in (Kind.NUMBER, Kind.INTEGER, Kind.FRACTION) or (
        kind is None and values.dtype.kind in "fiu"
    ):
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
        return _NumberCells(numbers, style)
    if kind in (Kind.DATE, Kind.DATETIME) or (kind is None and values.dtype.kind == "M"):
        if values.dtype.kind in "fiu":  # period numbers (Bucket = period)
            return _NumberCells(values.to_numpy(np.float64), 0)
        stamps = pd.to_datetime(values, errors="coerce").to_numpy(dtype="datetime64[s]")
        serial = (stamps - _EXCEL_EPOCH).astype("timedelta64[s]").astype(np.float64) / 86400.0
        serial[np.isnat(stamps)] = math.nan
        return _NumberCells(serial, style)
    if kind is Kind.YESNO:
        return _TextCells(_yes_no(values), style, style, numbers=False)
    return _TextCells(values, style, quoted, numbers=kind is Kind.TEXT)


def _yes_no(values: pd.Series) -> pd.Series:
    if values.dtype.kind == "b":
        return pd.Series(np.where(values.to_numpy(bool), "yes", "no").astype(object))
    codes, distinct = pd.factorize(values.astype(object), use_na_sentinel=True)
    words = np.array(
        ["yes" if v in (True, 1) or str(v).casefold() in _YES else "no" for v in distinct.tolist()]
        + [None],
        dtype=object,
    )
    return pd.Series(words[codes])


def _data_rows(makers: list[_Cells], top: int, n: int, beside: dict[int, str]) -> list[bytes]:
    """The table's data rows (``<row>`` elements), with the plain cells right of the table
    (``beside``, by row number) after each row's cells."""
    out = []
    letters = [column_letter(i) for i in range(len(makers))]
    batch = max(1, _CELLS_PER_BATCH // max(len(makers), 1))
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        rows = stop - start
        row_numbers = np.arange(top + 1 + start, top + 1 + stop, dtype=np.int64)
        reference = digits_block(row_numbers, np.ones(rows, dtype=bool))
        parts: list[Part] = ['<row r="', reference, '">']
        k = 0
        while k < len(makers):
            # Neighbouring number columns (the MRP grid's buckets) are made together.
            run = k
            while run < len(makers) and isinstance(makers[run], _NumberCells):
                run += 1
            if run - k > 1:
                numbers = [m for m in makers[k:run] if isinstance(m, _NumberCells)]
                parts.append(_number_run(numbers, letters[k:run], start, stop, reference))
                k = run
                continue
            content, present = makers[k].content(start, stop)
            cell = [f'<c r="{letters[k]}', reference, *content]
            if present.all():
                parts += cell
            elif present.any():
                parts += [only(block, present) for block in _blocks(cell, rows)]
            k += 1
        if beside:
            at = [r for r in beside if top + 1 + start <= r <= top + stop]
            parts.append(
                placed(
                    np.zeros((rows, 1), dtype=np.uint8),
                    np.array([r - top - 1 - start for r in at], dtype=np.intp),
                    [beside[r] for r in at],
                )
            )
        parts.append("</row>")
        out.append(squeeze(_blocks(parts, rows)))
    return out


def _number_run(
    cells: list[_NumberCells], letters: list[str], start: int, stop: int, reference: Block
) -> Block:
    """The cells of neighbouring number columns, side by side: one block for them all,
    made by a few broadcast copies rather than a few per column."""
    values = np.stack([c.numbers[start:stop] for c in cells], axis=1)
    rows, columns = values.shape
    block, finite = float_block(values.ravel())
    heads = utf8_block([f'<c r="{x}' for x in letters])
    styles = utf8_block([f'" s="{c.style}"><v>' for c in cells])
    tail = constant("</v></c>", 1)
    pieces = [
        np.broadcast_to(heads[None], (rows, columns, heads.shape[1])),
        np.broadcast_to(reference[:, None, :], (rows, columns, reference.shape[1])),
        np.broadcast_to(styles[None], (rows, columns, styles.shape[1])),
        block.reshape(rows, columns, -1),
        np.broadcast_to(tail[None], (rows, columns, tail.shape[1])),
    ]
    out = np.concatenate(pieces, axis=2)
    out[~finite.reshape(rows, columns)] = 0
    return out.reshape(rows, -1)


#: A piece of every row of a batch: the same text on each, or a block.
Part = str | Block


def _blocks(parts: Sequence[Part], rows: int) -> list[Block]:
    """Parts as blocks, neighbouring texts joined (fewer, wider pieces copy faster)."""
    out: list[Block] = []
    text = ""
    for part in parts:
        if isinstance(part, str):
            text += part
            continue
        if text:
            out.append(constant(text, rows))
            text = ""
        out.append(part)
    if text:
        out.append(constant(text, rows))
    return out
