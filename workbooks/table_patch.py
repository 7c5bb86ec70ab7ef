"""Apply a :class:`~sheetloop.workbooks.interface.TablePatch` to a user's table in a package.

The user's table stays where it is, with its formulas, styles and neighbours: named cells
change, rows are added below (only into empty cells), rows ``--prune`` removes close up
inside the table's columns, and the table part, data validations and conditional formats
follow the table's new size, as they would in Excel.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from sheetloop.errors import UsageError
from sheetloop.workbooks.cell_patch import (
    Cell,
    SheetCells,
    extend_ranges,
    format_ref,
    parse_ref,
    render_value_cell,
)
from sheetloop.workbooks.interface import TablePatch
from sheetloop.workbooks.ooxml import NS_MAIN, TableEntry, WorkbookIndex, tables
from sheetloop.workbooks.problems import column_letter
from sheetloop.workbooks.schema import header_key
from sheetloop.workbooks.sheet_xml import (
    EXCEL_MAX_ROWS,
    QUOTED_TEXT,
    escape_text,
    table_column_name,
)
from sheetloop.workbooks.styles_xml import CellFormat, Styles
from sheetloop.workbooks.zip_package import Package

_A1_IN_FORMULA = re.compile(r"(?<![A-Za-z_\[])\$?[A-Za-z]{1,3}\$?\d+(?![\w\(])")
_MAX_LISTED = 12


@dataclass
class _Geometry:
    sheet: str
    sheet_part: str
    header_row: int
    first_col: int
    headers: list[str]
    rows: int  # data rows now
    table: TableEntry | None
    blank_tail: int = 0  # empty rows at the bottom of the table (a new table has one)


def apply_patch(
    package: Package, index: WorkbookIndex, styles: Styles, patch: TablePatch, geometry: Any
) -> None:
    """Apply ``patch`` to the table ``geometry`` describes (a :class:`RawTable`)."""
    entry = next(
        (t for t in tables(package, index) if header_key(t.name) == header_key(geometry.name)),
        None,
    )
    sheet = index.sheet(geometry.sheet)
    if sheet is None or not sheet.part:
        raise UsageError(f"the sheet {geometry.sheet!r} of table {patch.spec.name} is missing")
    geo = _Geometry(
        sheet.name,
        sheet.part,
        geometry.header_row,
        geometry.first_col,
        [str(h) for h in geometry.headers],
        len(geometry.rows),
        entry if geometry.is_table else None,
        _blank_tail(geometry.rows, patch),
    )
    totals = geo.table is not None and 'totalsRowCount="1"' in package.read_text(geo.table.part)
    if totals and (patch.appends or patch.new_columns):
        raise UsageError(
            f"{geo.sheet}: the table {patch.spec.name} has a totals row, so pull cannot "
            "add rows or columns to it; switch its totals row off (Table Design) and run again"
        )
    _Patcher(package, styles, geo, patch).apply()


class _Patcher:
    def __init__(self, package: Package, styles: Styles, geo: _Geometry, patch: TablePatch):
        self.package = package
        self.styles = styles
        self.geo = geo
        self.patch = patch
        self.cells = SheetCells(package.read_text(geo.sheet_part))
        known = {header_key(h) for h in geo.headers}
        self.headers = geo.headers + [c for c in patch.new_columns if header_key(c) not in known]
        self.col_of = {header_key(h): geo.first_col + i for i, h in enumerate(self.headers)}
        self.quoted = styles.index(QUOTED_TEXT)
        self.date_style = styles.index(CellFormat("yyyy-mm-dd"))

    def column(self, name: str) -> int:
        col = self.col_of.get(header_key(name))
        if col is None:
            raise UsageError(
                f"{self.geo.sheet}: the table {self.patch.spec.name} has no column {name!r}"
            )
        return col

    def apply(self) -> None:
        geo, patch = self.geo, self.patch
        removed = set(patch.removes)
        # Empty rows at the bottom of the table are free: added rows fill them first.
        used = geo.rows - geo.blank_tail
        kept = [i for i in range(used) if i not in removed]
        final_rows = len(kept) + len(patch.appends)
        size = max(final_rows, geo.rows - len(removed & set(range(geo.rows))))
        top = geo.header_row + 1  # first data row
        old_bottom = geo.header_row + max(geo.rows, 1)
        new_bottom = geo.header_row + max(size, 1)
        right_old = geo.first_col + len(geo.headers) - 1
        right_new = geo.first_col + len(self.headers) - 1
        if new_bottom > EXCEL_MAX_ROWS:
            raise UsageError(
                f"{geo.sheet}: the table {patch.spec.name} would pass Excel's last row"
            )
        self._refuse_if_in_the_way(old_bottom, new_bottom, right_old, right_new)
        all_cols = range(geo.first_col, right_new + 1)
        # Closing up removed rows moves cells; snapshot them before anything changes.
        moves = [(pos, src) for pos, src in enumerate(kept) if pos != src]
        if moves:
            self._refuse_moving_formulas([src for _, src in moves], all_cols)
            snapshot = {
                (src, c): self.cells.cell(top + src, c) for _, src in moves for c in all_cols
            }
            for pos, src in moves:
                for c in all_cols:
                    self.cells.set(top + pos, c, _moved(snapshot[(src, c)]))
        for pos in range(len(kept), used):  # rows freed at the bottom
            for c in all_cols:
                if pos >= final_rows:
                    self.cells.set(top + pos, c, _cleared)
        for k, name in enumerate(self.headers[len(geo.headers) :]):
            col = right_old + 1 + k
            style = self._style_at(geo.header_row, right_old)
            self.cells.set(geo.header_row, col, self._renderer(name, style, keep_style=False))
        position = {src: pos for pos, src in enumerate(kept)}
        for index, values in patch.updates.items():
            if index in removed:
                continue
            row = top + position[index]
            for name, value in values.items():
                self.cells.set(row, self.column(name), self._renderer(value))
        formulas = self._calculated_formulas()
        last_data = top + len(kept) - 1 if kept else None
        for k, values in enumerate(patch.appends):
            row = top + len(kept) + k
            given = {self.column(n): v for n, v in values.items()}
            for c in all_cols:
                # A free row of the table keeps its own cells' style; a new row takes the
                # style of the last row with data.
                style = self._style_at(row, c)
                if style is None and last_data is not None:
                    style = self._style_at(last_data, c)
                if c in given:
                    self.cells.set(row, c, self._renderer(given[c], style, keep_style=False))
                elif c in formulas:
                    self.cells.set(row, c, _formula(formulas[c], style))
                elif style is not None:
                    self.cells.set(row, c, self._renderer(None, style, keep_style=False))
        xml = self.cells.to_xml()
        if size != geo.rows and geo.rows > 0:
            xml = extend_ranges(xml, (top, geo.first_col, old_bottom, right_old), new_bottom)
        self.package.write(geo.sheet_part, xml)
        if geo.table is not None:
            self._resize_table(format_ref(geo.header_row, geo.first_col, new_bottom, right_new))

    def _renderer(self, value: object, style: int | None = None, *, keep_style: bool = True) -> Any:
        def render(ref: str, old: Cell | None) -> str:
            s = old.style if keep_style and old is not None else style
            return render_value_cell(
                ref,
                value,
                s,
                quoted_style=self.quoted,
                date_style=self.date_style,
                escape=escape_text,
            )

        return render

    def _style_at(self, row: int | None, col: int) -> int | None:
        if row is None:
            return None
        cell = self.cells.cell(row, col)
        return None if cell is None else cell.style

    def _refuse_if_in_the_way(
        self, old_bottom: int, new_bottom: int, right_old: int, right_new: int
    ) -> None:
        geo = self.geo
        blocked: list[str] = []
        if new_bottom > old_bottom:
            blocked += self.cells.occupied(
                range(old_bottom + 1, new_bottom + 1), range(geo.first_col, right_new + 1)
            )
        if right_new > right_old:
            blocked += self.cells.occupied(
                range(geo.header_row, old_bottom + 1), range(right_old + 1, right_new + 1)
            )
        if blocked:
            more = " ..." if len(blocked) > _MAX_LISTED else ""
            shown = ", ".join(blocked[:_MAX_LISTED]) + more
            raise UsageError(
                f"{geo.sheet}: the table {self.patch.spec.name} must grow to take the "
                f"pulled rows, but these cells are in the way: {shown}. Move them (or the "
                "table) and run again; nothing was written."
            )

    def _refuse_moving_formulas(self, sources: list[int], cols: range) -> None:
        top = self.geo.header_row + 1
        for src in sources:
            for c in cols:
                cell = self.cells.cell(top + src, c)
                formula = None if cell is None else cell.formula
                if formula is not None and (
                    formula.startswith("<shared") or _A1_IN_FORMULA.search(formula)
                ):
                    raise UsageError(
                        f"{self.geo.sheet}!{column_letter(c)}{top + src}: --prune would move "
                        "this formula, and its cell references would then point at other "
                        "rows. Delete the rows marked 'gone' in Excel instead, or use "
                        "structured references (Table[[#This Row],[Column]])."
                    )

    def _calculated_formulas(self) -> dict[int, str]:
        if self.geo.table is None:
            return {}
        root = ET.fromstring(self.package.read(self.geo.table.part))
        out = {}
        for column in root.iter(f"{{{NS_MAIN}}}tableColumn"):
            formula = column.find(f"{{{NS_MAIN}}}calculatedColumnFormula")
            col = self.col_of.get(header_key(column.get("name", "")))
            if formula is not None and formula.text and col is not None:
                out[col] = escape(formula.text)
        return out

    def _resize_table(self, ref: str) -> None:
        assert self.geo.table is not None
        part = self.geo.table.part
        xml = self.package.read_text(part)
        for element in ("table", "autoFilter"):
            xml = re.sub(
                rf'(<(?:\w+:)?{element}\b[^>]*?\bref=")[^"]*(")', rf"\g<1>{ref}\g<2>", xml, count=1
            )
        new = self.headers[len(self.geo.headers) :]
        if new:
            ids = [int(i) for i in re.findall(r'<(?:\w+:)?tableColumn\b[^>]*?\bid="(\d+)"', xml)]
            prefix = re.match(r"[\s\S]*?<(\w+:)?tableColumns\b", xml)
            p = (prefix.group(1) or "") if prefix else ""
            extra = "".join(
                f'<{p}tableColumn id="{max(ids, default=0) + k + 1}" '
                f"name={quoteattr(table_column_name(name))}/>"
                for k, name in enumerate(new)
            )
            xml = re.sub(rf"</{p}tableColumns>", extra + f"</{p}tableColumns>", xml, count=1)
            xml = re.sub(
                r'(<(?:\w+:)?tableColumns\b[^>]*?\bcount=")(\d+)(")',
                lambda m: f"{m.group(1)}{len(ids) + len(new)}{m.group(3)}",
                xml,
                count=1,
            )
        self.package.write(part, xml)


def _moved(cell: Cell | None) -> Any:
    def render(ref: str, old: Cell | None) -> str:
        if cell is None:
            return ""
        return re.sub(r'(<(?:\w+:)?c\b[^>]*?\br=")[^"]*(")', rf"\g<1>{ref}\g<2>", cell.xml, count=1)

    return render


def _cleared(ref: str, old: Cell | None) -> str:
    return ""


def _formula(formula: str, style: int | None) -> Any:
    def render(ref: str, old: Cell | None) -> str:
        s = f' s="{style}"' if style is not None else ""
        return f'<c r="{ref}"{s}><f>{formula}</f></c>'

    return render


def _blank_tail(rows: list[list[Any]], patch: TablePatch) -> int:
    """How many rows at the bottom of the table are empty and not named by the patch."""
    named = set(patch.updates) | set(patch.removes)
    n = 0
    for i in range(len(rows) - 1, -1, -1):
        if i in named or any(v not in (None, "") for v in rows[i]):
            break
        n += 1
    return n


def data_range(header_row: int, first_col: int, rows: int, cols: int) -> str:
    """The A1 range of a table's data rows."""
    return format_ref(header_row + 1, first_col, header_row + max(rows, 1), first_col + cols - 1)


__all__ = ["apply_patch", "data_range", "parse_ref"]
