"""The file adapter of the workbook interface: a .xlsx/.xlsm on disk.

Reads go through python-calamine. Writes are staged and applied on ``save`` to the zip
package part by part: sheetloop's own sheets and tables are (re)written, the package
indexes gain entries, and every other part is copied byte for byte.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sheetloop import CONTRACT_VERSION, __version__
from sheetloop.errors import BookUnreadableError, UsageError
from sheetloop.workbooks.calamine_reader import CalamineReader
from sheetloop.workbooks.chart_xml import (
    Chart,
    TableLayout,
    anchors,
    beside,
    chart_data,
    chart_xml,
    level_block,
)
from sheetloop.workbooks.drawing_parts import set_charts
from sheetloop.workbooks.guard import check_book_file
from sheetloop.workbooks.interface import RawTable, TablePatch, TableWrite, stage_patch
from sheetloop.workbooks.ooxml import (
    CT_TABLE,
    NS_MAIN,
    REL_TABLE,
    TableEntry,
    WorkbookIndex,
    add_relationship,
    ensure_override,
    read_rels,
    tables,
)
from sheetloop.workbooks.reading import parse_table
from sheetloop.workbooks.safe_save import atomic_write
from sheetloop.workbooks.schema import Role, Table, header_key
from sheetloop.workbooks.sheet_xml import (
    EXCEL_MAX_ROWS,
    column_formats,
    escape_text,
    render_chart_sheet,
    render_table_part,
    render_table_sheet,
)
from sheetloop.workbooks.state_cells import STATE_SHEET, state_from_rows, state_rows
from sheetloop.workbooks.styles_xml import Styles
from sheetloop.workbooks.table_patch import apply_patch
from sheetloop.workbooks.user_columns import BUCKET_LABEL, with_user_columns
from sheetloop.workbooks.zip_package import Package

_EMPTY_SHEET = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    "<sheetData/></worksheet>"
)


@dataclass
class _Staged:
    write: TableWrite
    replace: bool  # False: add only if absent (init)


@dataclass
class FileBook:
    """A workbook file: read its tables, stage sheetloop's writes, save them safely."""

    path: Path
    _reader: CalamineReader | None = None
    _staged: list[_Staged] = field(default_factory=list)
    _state: dict[str, str] = field(default_factory=dict)
    _tables_read: dict[str, RawTable | None] = field(default_factory=dict)
    _patches: list[tuple[TablePatch, RawTable]] = field(default_factory=list)
    _columns: dict[str, list[str]] | None = None

    @classmethod
    def open(cls, path: Path, *, new_ok: bool = False) -> FileBook:
        """Open a book; hostile or broken files are refused before anything reads them."""
        if path.suffix.lower() not in (".xlsx", ".xlsm"):
            raise UsageError(f"{path}: sheetloop works on .xlsx and .xlsm workbooks")
        book = cls(path)
        if path.exists() or not new_ok:
            check_book_file(path)
        return book

    # --- reading ------------------------------------------------------------------------

    reads_in_background = True  # its reads go through python-calamine

    @property
    def reader(self) -> CalamineReader:
        if self._reader is None:
            self._reader = CalamineReader(self.path)
        return self._reader

    @property
    def sheet_names(self) -> list[str]:
        return self.reader.sheet_names

    def table_names(self) -> list[str]:
        return self.reader.table_names()

    def find_table(self, name: str) -> RawTable | None:
        # Commands look at some tables more than once (firm orders, user columns): read each
        # once per opening of the book.
        key = name.casefold()
        if key not in self._tables_read:
            self._tables_read[key] = self.reader.find_table(name)
        return self._tables_read[key]

    def state(self) -> dict[str, str]:
        """sheetloop's records kept in the book (contract version, owned sheets, sync
        state, ...), with the values staged by :meth:`set_state` since it was opened."""
        return {**self._saved_state(), **self._state}

    def _saved_state(self) -> dict[str, str]:
        if STATE_SHEET not in self.reader.sheet_names:
            return {}
        raw = self.reader.sheet_rows(STATE_SHEET)
        return state_from_rows((str(r[0]), str(r[1])) for r in raw if len(r) >= 2 and r[0] != "")

    # --- staging writes -----------------------------------------------------------------

    def replace_table(self, write: TableWrite) -> None:
        """Stage an output table; columns the user added to it are carried over by key."""
        write.frame = self._with_user_columns(write)
        self._staged.append(_Staged(write, replace=True))

    def add_table(self, write: TableWrite) -> None:
        self._staged.append(_Staged(write, replace=False))

    def append_rows(self, spec: Table, frame: pd.DataFrame) -> None:
        raw = self.find_table(spec.name)
        old = parse_table(raw, spec)[0].frame if raw is not None else None
        combined = frame if old is None or old.empty else pd.concat([old, frame], ignore_index=True)
        self._staged.append(_Staged(TableWrite(spec, combined), replace=True))

    def patch_table(self, patch: TablePatch) -> None:
        """Stage cell-level changes to a user's table (see :class:`TablePatch`)."""
        raw = self.find_table(patch.spec.name)
        if raw is None:
            raise UsageError(f"{self.path.name}: no table {patch.spec.name} to update")
        if not patch.empty:
            stage_patch(self._patches, patch, raw)

    def set_state(self, key: str, value: str) -> None:
        self._state[key] = value

    def _with_user_columns(self, write: TableWrite) -> pd.DataFrame:
        declared = self._declared_columns().get(header_key(write.spec.name))
        if declared is not None and not _user_columns_among(declared, write):
            # Nothing of the user's to carry over: the table's rows (a million, in a big
            # plan) need not be read.
            return write.frame
        return with_user_columns(self.find_table(write.spec.name), write)

    def _declared_columns(self) -> dict[str, list[str]]:
        """Each Excel table's column names as its table part declares them (no cell is
        read), by table name."""
        if self._columns is None:
            self._columns = {}
            if self.path.exists():
                with Package(self.path) as package:
                    for entry in tables(package, WorkbookIndex(package)):
                        root = ET.fromstring(package.read(entry.part))
                        names = [c.get("name", "") for c in root.iter(f"{{{NS_MAIN}}}tableColumn")]
                        self._columns[header_key(entry.name)] = names
        return self._columns

    # --- saving -------------------------------------------------------------------------

    def save(self, out: Path | None = None) -> Path:
        """Apply the staged writes and save atomically (to ``out``, or in place)."""
        target = out or self.path
        if not self.path.exists():
            raise UsageError(f"{self.path}: no such workbook")
        recorded = self._saved_state()
        owned_before = set(filter(None, recorded.get("owned_sheets", "").split("\n")))
        with Package(self.path) as package:
            writer = _PackageWriter(package, owned_before)
            for patch, raw in self._patches:
                apply_patch(package, writer.index, writer.styles, patch, raw)
            for staged in self._staged:
                writer.write_table(staged.write, replace=staged.replace)
            state = {
                **recorded,
                **self._state,
                "owned_sheets": "\n".join(sorted(owned_before | writer.owned)),
            }
            write_state_sheet(package, writer.index, state)
            writer.index.set_full_calc_on_load()
            atomic_write(target, package.save_to)
        self._staged.clear()
        self._patches.clear()
        self._reader = None
        self._tables_read.clear()
        self._columns = None
        return target


class _PackageWriter:
    """Applies table writes to a package."""

    def __init__(self, package: Package, owned_before: set[str]) -> None:
        self.package = package
        self.index = WorkbookIndex(package)
        self.styles = Styles(package)
        self.owned_before = owned_before  # sheets the book's record says sheetloop owns
        self.owned: set[str] = set()

    def write_table(self, write: TableWrite, *, replace: bool) -> None:
        spec = write.spec
        if len(write.frame) > EXCEL_MAX_ROWS - 2:
            raise UsageError(
                f"{spec.name} has {len(write.frame):,} rows, more than an Excel "
                "sheet holds: write it as CSV with --export DIR"
            )
        existing = self._find_table(spec.name)
        owned = self.owned_before | self.owned
        if existing is not None:
            if not replace:
                return
            if existing.sheet not in owned:
                raise UsageError(
                    f"the table {spec.name} is on the sheet {existing.sheet!r}, which sheetloop "
                    "does not own: sheetloop rewrites its output tables on sheets of their own. "
                    f"Delete or rename that table (or move it to a sheet named {spec.name})."
                )
            self.owned.add(existing.sheet)
            self._render(
                write, existing.sheet, existing.sheet_part, existing.rid, existing.part, existing.id
            )
            return
        name = write.sheet or spec.sheet
        sheet = self.index.sheet(name)
        if sheet is not None and sheet.name not in owned:
            if spec.role is Role.INPUT and not replace:
                return  # init: the user has a sheet of that name (the plain-sheet fallback)
            name = self._free_sheet_name(name)
            sheet = None
        if sheet is None:
            sheet = self.index.add_sheet(name, _EMPTY_SHEET)
        # An owned sheet without our table (the user deleted it): write it afresh.
        table_part = self.package.unused_name("xl/tables/table{}.xml")
        table_id = max((t.id for t in tables(self.package, self.index)), default=0) + 1
        rid = self._table_rel(sheet.part, table_part)
        ensure_override(self.package, table_part, CT_TABLE)
        self.owned.add(sheet.name)
        self._render(write, sheet.name, sheet.part, rid, table_part, table_id)

    def _table_rel(self, sheet_part: str, table_part: str) -> str:
        for rel in read_rels(self.package, sheet_part):
            if rel.type == REL_TABLE:
                return rel.id
        return add_relationship(self.package, sheet_part, REL_TABLE, table_part)

    def _render(
        self,
        write: TableWrite,
        sheet_name: str,
        sheet_part: str,
        rid: str,
        table_part: str,
        table_id: int,
    ) -> None:
        header_row = 3 if write.note else 1
        layout = TableLayout(
            write.spec.name,
            sheet_name,
            write.frame,
            header_row,
            [f.number_format for f in column_formats(write)],
        )
        charts = [d for c in write.charts if (d := chart_data(c, layout)) is not None]
        apart = write.chart_sheet is not None and (
            write.chart_sheet.casefold() != sheet_name.casefold()
        )
        col, row = beside(layout)
        drawing_rid, side_cells = self._draw(
            sheet_name, sheet_part, [] if apart else charts, col, row
        )
        rendered = render_table_sheet(
            write,
            self.styles,
            rid,
            header_row=header_row,
            drawing_rid=drawing_rid,
            side_cells=side_cells,
        )
        self.package.write(sheet_part, rendered.xml)
        self.package.write(
            table_part,
            render_table_part(
                table_id, write.spec.name, rendered.ref, [str(c) for c in write.frame.columns]
            ),
        )
        if apart and write.chart_sheet is not None:
            self._write_chart_sheet(write.chart_sheet, sheet_name, charts)

    def _draw(
        self, sheet_name: str, sheet_part: str, charts: list[Chart], col: int, row: int
    ) -> tuple[str | None, dict[int, list[tuple[int, str | float]]]]:
        """Give a sheet exactly these charts, stacked from (``col``, ``row``), 0-based;
        returns the ``<drawing>`` relationship id and the cells of the charts' data block."""
        placed = anchors([c.spec for c in charts], col, row)
        below = max((a.row + a.rows for a in placed), default=row) + 2  # 1-based row
        cells = level_block(charts, sheet_name, col, below)
        rid = set_charts(
            self.package,
            sheet_part,
            [(a, chart_xml(c)) for a, c in zip(placed, charts, strict=True)],
        )
        return rid, cells

    def _write_chart_sheet(self, name: str, table_sheet: str, charts: list[Chart]) -> None:
        """Charts of a table on a sheet of their own: the first sheet called ``name``,
        ``name (2)``, ... that sheetloop owns (and that holds no table) or the book lacks."""
        owned = {s.casefold() for s in self.owned_before | self.owned}
        candidate, n = name, 1
        while (sheet := self.index.sheet(candidate)) is not None and (
            sheet.name.casefold() not in owned
            or any(r.type == REL_TABLE for r in read_rels(self.package, sheet.part))
        ):
            n += 1
            candidate = f"{name} ({n})"
        if sheet is None:
            if not charts:
                return  # no charts to show: no sheet for them either
            sheet = self.index.add_sheet(candidate, _EMPTY_SHEET)
        self.owned.add(sheet.name)
        drawing_rid, cells = self._draw(sheet.name, sheet.part, charts, 1, 2)
        note = f"Charts of the {table_sheet} sheet, redrawn by every sheetloop run."
        self.package.write(sheet.part, render_chart_sheet(note, drawing_rid, cells))

    def _find_table(self, name: str) -> TableEntry | None:
        key = header_key(name)
        return next(
            (t for t in tables(self.package, self.index) if header_key(t.name) == key), None
        )

    def _free_sheet_name(self, name: str) -> str:
        n = 2
        while self.index.sheet(f"{name} ({n})") is not None:
            n += 1
        return f"{name} ({n})"


def _user_columns_among(declared: list[str], write: TableWrite) -> bool:
    """Whether a table's columns include one the user added (as ``with_user_columns``
    tells them from sheetloop's own)."""
    ours = {header_key(c) for c in write.frame.columns} | {c.key for c in write.spec.columns}
    return any(
        header_key(h) not in ours
        and h.strip()
        and not (write.spec.open_columns and BUCKET_LABEL.match(h.strip()))
        for h in declared
    )


def write_state_sheet(package: Package, index: WorkbookIndex, state: dict[str, str]) -> None:
    """Write sheetloop's record into the very hidden state sheet of ``package``, stamped
    with the contract and sheetloop versions and the time."""
    stamped = {
        **state,
        "contract_version": CONTRACT_VERSION,
        "sheetloop_version": __version__,
        "saved_at": dt.datetime.now().isoformat(timespec="seconds"),
    }
    rows = "".join(
        f'<row r="{i}"><c r="A{i}" t="inlineStr"><is><t>{escape_text(k)}</t></is></c>'
        f'<c r="B{i}" t="inlineStr"><is><t xml:space="preserve">{escape_text(v)}</t></is>'
        "</c></row>"
        for i, (k, v) in enumerate(state_rows(stamped), start=1)
    )
    xml = _EMPTY_SHEET.replace("<sheetData/>", f"<sheetData>{rows}</sheetData>")
    sheet = index.sheet(STATE_SHEET)
    if sheet is None:
        index.add_sheet(STATE_SHEET, xml, state="veryHidden")
    else:
        package.write(sheet.part, xml)


def open_book(path: Path) -> FileBook:
    """Open a workbook file for reading and writing (refusing hostile files)."""
    try:
        return FileBook.open(path)
    except BookUnreadableError:
        raise
    except OSError as exc:
        raise BookUnreadableError(f"{path}: cannot open ({exc.strerror})") from exc
