"""Change single cells of a user's worksheet, leaving every other byte of it alone.

``pull`` refreshes a few columns of the user's own tables: their sheets hold formulas,
styles, comments and whatever else the user made, so they are never re-rendered. The
sheet's ``<sheetData>`` is split into rows, only the rows that change are parsed into
cells, and those rows are rebuilt with the new cells in column order; a cell keeps its
style unless the new value needs one (dates, formula-looking text).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sheetloop.errors import BookUnreadableError
from sheetloop.workbooks.problems import column_letter

_SHEET_DATA = re.compile(r"<(\w+:)?sheetData\b[^>]*?(?:/>|>(.*?)</\1?sheetData>)", re.S)
_ROW = re.compile(r"<(?:\w+:)?row\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?row>)", re.S)
_CELL = re.compile(r"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_ROW_NUMBER = re.compile(r'\br="(\d+)"')
_CELL_REF = re.compile(r'\br="\$?([A-Za-z]{1,3})\$?(\d+)"')
_STYLE = re.compile(r'\bs="(\d+)"')
_SPANS = re.compile(r'\s+spans="[^"]*"')
_DIMENSION = re.compile(r'(<(?:\w+:)?dimension\b[^>]*?\bref=")([^"]*)(")')
_HAS_CONTENT = re.compile(r"<(?:\w+:)?(?:v|f|is)\b")
_A1 = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")


def column_index(letters: str) -> int:
    """0-based column index of a column's letters (``A`` is 0, ``AA`` is 26)."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def parse_ref(ref: str) -> tuple[int, int, int, int]:
    """``A2:D10`` as (first row, first col, last row, last col): rows 1-based, cols 0-based."""
    first, _, last = ref.partition(":")
    a, b = _A1.match(first), _A1.match(last or first)
    if a is None or b is None:
        raise ValueError(f"not a cell range: {ref!r}")
    return int(a[2]), column_index(a[1]), int(b[2]), column_index(b[1])


def format_ref(top: int, left: int, bottom: int, right: int) -> str:
    """The inverse of :func:`parse_ref`."""
    return f"{column_letter(left)}{top}:{column_letter(right)}{bottom}"


@dataclass
class Cell:
    """One ``<c>`` element as found in the sheet."""

    xml: str
    style: int | None
    has_content: bool  # a value, an inline string or a formula

    @property
    def formula(self) -> str | None:
        m = re.search(r"<(?:\w+:)?f\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?f>)", self.xml, re.S)
        if m is None:
            return None
        return m.group(2) or f"<shared {m.group(1).strip()}>"


def _cells_of(body: str) -> dict[int, Cell]:
    out: dict[int, Cell] = {}
    for m in _CELL.finditer(body):
        ref = _CELL_REF.search(m.group(1))
        if ref is None:
            raise BookUnreadableError(
                "a row of this sheet has cells without a reference (r=...): open it in "
                "Excel and save it once, then run again"
            )
        style = _STYLE.search(m.group(1))
        out[column_index(ref[1])] = Cell(
            m.group(0), int(style[1]) if style else None, bool(_HAS_CONTENT.search(m.group(0)))
        )
    return out


@dataclass
class _Row:
    number: int
    attrs: str
    body: str
    cells: dict[int, Cell] | None = None

    def parsed(self) -> dict[int, Cell]:
        if self.cells is None:
            self.cells = _cells_of(self.body)
        return self.cells


#: How a new cell is rendered: (A1 reference, the existing cell or None) -> cell XML or ""
CellRenderer = Callable[[str, Cell | None], str]


@dataclass
class SheetCells:
    """A worksheet's XML, split so single cells can be read and replaced cheaply."""

    xml: str
    _prefix: str = ""
    _head: str = ""
    _tail: str = ""
    _rows: dict[int, _Row] = field(default_factory=dict)
    _order: list[int] = field(default_factory=list)
    _changed: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        m = _SHEET_DATA.search(self.xml)
        if m is None:
            raise BookUnreadableError("a worksheet has no cell data element (sheetData)")
        self._prefix = m.group(1) or ""
        body = m.group(2) or ""
        self._head = self.xml[: m.start()]
        self._tail = self.xml[m.end() :]
        for rm in _ROW.finditer(body):
            number = _ROW_NUMBER.search(rm.group(1))
            if number is None:
                raise BookUnreadableError(
                    "a row of this sheet has no row number (r=...): open it in Excel and "
                    "save it once, then run again"
                )
            n = int(number[1])
            self._rows[n] = _Row(n, rm.group(1), rm.group(2) or "")
            self._order.append(n)

    def cell(self, row: int, col: int) -> Cell | None:
        """The cell at (1-based row, 0-based column), if the sheet has one there."""
        found = self._rows.get(row)
        return None if found is None else found.parsed().get(col)

    def occupied(self, rows: Iterable[int], cols: Iterable[int]) -> list[str]:
        """References of the cells with content in these rows and columns."""
        wanted = set(cols)
        out = []
        for r in rows:
            found = self._rows.get(r)
            if found is None or not found.body:
                continue
            for c, cell in sorted(found.parsed().items()):
                if c in wanted and cell.has_content:
                    out.append(f"{column_letter(c)}{r}")
        return out

    def set(self, row: int, col: int, render: CellRenderer) -> None:
        """Replace (or create) the cell at (row, col) with what ``render`` returns;
        an empty string removes the cell."""
        found = self._rows.get(row)
        if found is None:
            found = _Row(row, f' r="{row}"', "", {})
            self._rows[row] = found
            self._order.append(row)
        cells = found.parsed()
        xml = render(f"{column_letter(col)}{row}", cells.get(col))
        if xml:
            cells[col] = Cell(xml, None, True)
        else:
            cells.pop(col, None)
        self._changed.add(row)

    def to_xml(self) -> str:
        """The worksheet with the changed rows rebuilt and its dimension widened."""
        if not self._changed:
            return self.xml
        p = self._prefix
        parts = []
        for n in sorted(set(self._order)):
            row = self._rows[n]
            if n in self._changed:
                cells = row.parsed()
                if not cells and not _meaningful_row_attrs(row.attrs):
                    continue
                attrs = _SPANS.sub("", row.attrs)
                body = "".join(cells[c].xml for c in sorted(cells))
                parts.append(f"<{p}row{attrs}>{body}</{p}row>" if body else f"<{p}row{attrs}/>")
            elif row.body:
                parts.append(f"<{p}row{row.attrs}>{row.body}</{p}row>")
            else:
                parts.append(f"<{p}row{row.attrs}/>")
        data = f"<{p}sheetData>{''.join(parts)}</{p}sheetData>"
        return _widen_dimension(self._head, self._extent()) + data + self._tail

    def _extent(self) -> tuple[int, int, int, int] | None:
        rows = [n for n in self._rows if self._rows[n].body or self._rows[n].cells]
        if not rows:
            return None
        cols: list[int] = []
        for n in self._changed:
            cols.extend(self._rows[n].parsed())
        return min(rows), min(cols, default=0), max(rows), max(cols, default=0)


def _meaningful_row_attrs(attrs: str) -> bool:
    """A row element with no cells is kept when it carries a height, style or hiding."""
    return bool(re.search(r"\b(?:ht|s|hidden|customHeight|customFormat)=", attrs))


def _widen_dimension(head: str, extent: tuple[int, int, int, int] | None) -> str:
    m = _DIMENSION.search(head)
    if m is None or extent is None:
        return head
    try:
        top, left, bottom, right = parse_ref(m.group(2))
    except ValueError:
        return head
    new = format_ref(
        min(top, extent[0]), min(left, extent[1]), max(bottom, extent[2]), max(right, extent[3])
    )
    return head[: m.start(2)] + new + head[m.end(2) :]


def extend_ranges(
    xml: str, old: tuple[int, int, int, int], new_bottom: int, new_right: int | None = None
) -> str:
    """Grow the data validations and conditional formats that covered a table's data rows
    (``old``: its data range) so they cover the table's new size, as Excel does when a
    table grows."""
    top, left, bottom, right = old

    def grow(token: str) -> str:
        try:
            t, lc, b, rc = parse_ref(token)
        except ValueError:
            return token
        if t == top and b == bottom and left <= lc and rc <= right:
            return format_ref(t, lc, new_bottom, rc)
        return token

    def grow_list(m: re.Match[str]) -> str:
        tokens = m.group(2).split()
        return m.group(1) + " ".join(grow(t) for t in tokens) + m.group(3)

    xml = re.sub(r'(\bsqref=")([^"]*)(")', grow_list, xml)
    return re.sub(r"(<xm:sqref>)([^<]*)(</xm:sqref>)", grow_list, xml)


def render_value_cell(
    ref: str,
    value: object,
    style: int | None,
    *,
    quoted_style: int,
    date_style: int,
    escape: Callable[[str], str],
) -> str:
    """A cell holding ``value`` (text, number, date or blank) in the given style; text that
    starts like a formula gets the quote-prefix style so it stays text when edited."""
    import datetime as dt

    s = f' s="{style}"' if style is not None else ""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return f'<c r="{ref}"{s}/>' if style is not None else ""
    if isinstance(value, bool):
        value = "yes" if value else "no"
    if isinstance(value, int | float):
        if not math.isfinite(float(value)):
            return f'<c r="{ref}"{s}/>' if style is not None else ""
        return f'<c r="{ref}"{s}><v>{float(value)!r}</v></c>'
    if isinstance(value, dt.date):
        if isinstance(value, dt.datetime):
            delta = value - dt.datetime(1899, 12, 30)
        else:
            delta = dt.datetime.combine(value, dt.time()) - dt.datetime(1899, 12, 30)
        serial = delta.total_seconds() / 86400.0
        return f'<c r="{ref}" s="{date_style if style is None else style}"><v>{serial!r}</v></c>'
    text = str(value)
    if text.startswith(("=", "+", "-", "@")):
        s = f' s="{quoted_style}"'
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{escape(text)}</t></is></c>'


def cells_in(
    sheet: SheetCells, rows: Iterable[int], cols: Iterable[int]
) -> Mapping[tuple[int, int], Cell]:
    """The existing cells of these rows and columns."""
    wanted = list(cols)
    out = {}
    for r in rows:
        for c in wanted:
            cell = sheet.cell(r, c)
            if cell is not None:
                out[(r, c)] = cell
    return out
