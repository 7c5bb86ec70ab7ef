"""Independent checks of written .xlsx/.xlsm packages.

These checks deliberately share no code with sheetloop: a bug in the product's own
reading of a package must not hide the same bug in what the product wrote. Only the
standard library is used (``zipfile`` and ``xml.etree.ElementTree``).

Part names are zip member names without a leading slash (``xl/workbook.xml``). The
Open Packaging Conventions compare part names case-insensitively, and so do these checks
when they resolve a relationship target or a content-type override.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree as ET

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
DOC_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"

CONTENT_TYPES = "[Content_Types].xml"

_M = f"{{{MAIN_NS}}}"
_R_ID = f"{{{DOC_REL_NS}}}id"
_REL = f"{{{PKG_REL_NS}}}Relationship"

# Relationship types are compared by their last path segment so that the Strict
# (purl.oclc.org) spelling of a type is recognised too.
_OFFICE_DOCUMENT = "officeDocument"
_WORKSHEET = "worksheet"
_TABLE = "table"
_STYLES = "styles"
_SHARED_STRINGS = "sharedStrings"

_CELL_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?([0-9]{1,7})$")
_ESCAPED_CHAR = re.compile(r"_x([0-9A-Fa-f]{4})_")

# Children of these styles.xml collections are addressed by index from cells, tables
# and conditional formats, so existing ones may neither move nor change.
_STYLE_COLLECTIONS = ("fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "cellStyles", "dxfs")


# --------------------------------------------------------------------------- package


class _Package:
    """Read access to one zip package, with case-insensitive part lookup."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip = zipfile.ZipFile(path)
        self.parts = [n for n in self._zip.namelist() if not n.endswith("/")]
        self._by_lower = {n.lower(): n for n in self.parts}

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> _Package:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def find(self, part: str) -> str | None:
        """The stored name of ``part`` (compared case-insensitively), or None."""
        return self._by_lower.get(part.lower())

    def read(self, part: str) -> bytes:
        name = self.find(part)
        if name is None:
            raise KeyError(part)
        return self._zip.read(name)

    def xml(self, part: str) -> ET.Element:
        try:
            return ET.fromstring(self.read(part))
        except ET.ParseError as exc:
            # Name the part: the parser's own message only gives a line and column.
            raise ET.ParseError(f"{part}: {exc}") from exc


def _rels_part_of(part: str) -> str:
    """The relationships part that belongs to ``part`` ('' is the package root)."""
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{name}.rels")


def _source_of_rels(rels_part: str) -> str | None:
    """The part a relationships part belongs to: '' for the package, None if not a rels part."""
    folder, name = posixpath.split(rels_part)
    if posixpath.basename(folder) != "_rels" or not name.endswith(".rels"):
        return None
    return posixpath.join(posixpath.dirname(folder), name[: -len(".rels")])


def _resolve(source: str, target: str) -> str:
    """The part name a relative or absolute relationship target points at.

    May start with ``../`` when the target climbs out of the package; callers treat that
    as a part that does not exist.
    """
    target = unquote(target.split("#", 1)[0])
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(source), target))


@dataclass(frozen=True)
class _Rel:
    rel_id: str
    type: str
    target: str
    external: bool
    resolved: str  # the target part name; the raw target for external relationships

    @property
    def kind(self) -> str:
        return self.type.rsplit("/", 1)[-1]


def _relationships(pkg: _Package, source: str) -> list[_Rel]:
    """The relationships of ``source`` ('' for the package root); [] when it has none."""
    rels_part = _rels_part_of(source) if source else "_rels/.rels"
    if pkg.find(rels_part) is None:
        return []
    rels = []
    for rel in pkg.xml(rels_part).iter(_REL):
        target = rel.get("Target", "")
        external = rel.get("TargetMode") == "External"
        rels.append(
            _Rel(
                rel_id=rel.get("Id", ""),
                type=rel.get("Type", ""),
                target=target,
                external=external,
                resolved=target if external else _resolve(source, target),
            )
        )
    return rels


def _first_target(pkg: _Package, source: str, kind: str) -> str | None:
    for rel in _relationships(pkg, source):
        if rel.kind == kind and not rel.external:
            return pkg.find(rel.resolved)
    return None


def _workbook_part(pkg: _Package) -> str | None:
    return _first_target(pkg, "", _OFFICE_DOCUMENT)


# --------------------------------------------------------------------------- cells


def _column_number(letters: str) -> int:
    number = 0
    for ch in letters.upper():
        number = number * 26 + ord(ch) - ord("A") + 1
    return number


def _column_letters(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _cell_name(row: int, col: int) -> str:
    return f"{_column_letters(col)}{row}"


def _parse_cell(ref: str) -> tuple[int, int] | None:
    """(row, column) of an A1 reference, or None when it is not one."""
    match = _CELL_REF.match(ref)
    if match is None:
        return None
    return int(match.group(2)), _column_number(match.group(1))


@dataclass(frozen=True)
class _Area:
    top: int
    left: int
    bottom: int
    right: int

    @property
    def width(self) -> int:
        return self.right - self.left + 1

    def overlaps(self, other: _Area) -> bool:
        return not (
            self.right < other.left
            or other.right < self.left
            or self.bottom < other.top
            or other.bottom < self.top
        )


def _parse_area(ref: str) -> _Area | None:
    corners = [_parse_cell(c) for c in ref.split(":")]
    if not 1 <= len(corners) <= 2:
        return None
    first, last = corners[0], corners[-1]
    if first is None or last is None:
        return None
    return _Area(
        min(first[0], last[0]),
        min(first[1], last[1]),
        max(first[0], last[0]),
        max(first[1], last[1]),
    )


def _unescape(text: str) -> str:
    """Decode the ``_xHHHH_`` escapes SpreadsheetML uses for characters XML cannot carry."""
    return _ESCAPED_CHAR.sub(lambda m: chr(int(m.group(1), 16)), text)


def _rich_text(element: ET.Element) -> str:
    """The text of an ``si`` or ``is`` element: plain ``t`` plus runs, without phonetics."""
    pieces = [t.text or "" for t in element.findall(f"{_M}t")]
    pieces += [t.text or "" for t in element.findall(f"{_M}r/{_M}t")]
    return _unescape("".join(pieces))


def _sheet_cells(sheet: ET.Element) -> dict[tuple[int, int], ET.Element]:
    """Every ``c`` element by (row, column), following implied positions when ``r`` is absent."""
    cells: dict[tuple[int, int], ET.Element] = {}
    row_number = 0
    for row in sheet.iter(f"{_M}row"):
        row_number = int(row.get("r", row_number + 1))
        col = 0
        for cell in row.findall(f"{_M}c"):
            position = _parse_cell(cell.get("r", ""))
            col = position[1] if position else col + 1
            cells[(row_number, col)] = cell
    return cells


def _cell_text(cell: ET.Element | None, shared: list[str]) -> tuple[str | None, str]:
    """(text, '') for a text cell, else (None, a description of what the cell holds)."""
    if cell is None:
        return None, "an empty cell"
    kind = cell.get("t", "n")
    value = cell.find(f"{_M}v")
    if kind == "inlineStr":
        inline = cell.find(f"{_M}is")
        return (_rich_text(inline), "") if inline is not None else (None, "an empty inline string")
    if value is None or value.text is None:
        return None, "an empty cell"
    if kind == "str":
        return _unescape(value.text), ""
    if kind == "s":
        try:
            return shared[int(value.text)], ""
        except (ValueError, IndexError):
            return None, f"shared string {value.text!r}, which does not exist"
    names = {"n": "a number", "b": "a boolean", "e": "an error", "d": "a date"}
    return None, f"{names.get(kind, f'a cell of type {kind!r}')} ({value.text})"


# --------------------------------------------------------------------------- invariants


@dataclass(frozen=True)
class _Table:
    part: str
    sheet: str
    table_id: str
    name: str
    display_name: str
    ref: str
    area: _Area | None

    @property
    def where(self) -> str:
        return f"table {self.display_name or self.name!r} ({self.part}, sheet {self.sheet!r})"


def invariant_violations(path: Path) -> list[str]:
    """Every broken package or table invariant of the workbook at ``path``.

    Checks: table ids unique and table names (``name`` and ``displayName``) unique
    case-insensitively across the book; header cells are text equal to the
    ``tableColumn`` names; ``tableColumns count`` equals the ref's width; tables on one
    sheet do not overlap; every internal relationship targets an existing part; every
    part has a content type and every ``Override`` names an existing part; workbook
    sheets resolve, have unique names and ids; ``definedName/@localSheetId`` is in range.
    Returns one readable sentence per violation; an empty list means the book is sound.
    """
    try:
        pkg = _Package(path)
    except (zipfile.BadZipFile, OSError) as exc:
        return [f"{path.name}: not a readable zip package ({exc})"]
    with pkg:
        problems: list[str] = []
        for check in (_content_type_violations, _relationship_violations, _workbook_violations):
            try:
                problems += check(pkg)
            except ET.ParseError as exc:
                problems.append(f"not well-formed XML in {exc}")
        return problems


def _content_type_violations(pkg: _Package) -> list[str]:
    if pkg.find(CONTENT_TYPES) is None:
        return [f"{CONTENT_TYPES} is missing"]
    types = pkg.xml(CONTENT_TYPES)
    defaults = {d.get("Extension", "").lower() for d in types.iter(f"{{{CT_NS}}}Default")}
    overrides = [o.get("PartName", "") for o in types.iter(f"{{{CT_NS}}}Override")]
    problems = [
        f"{CONTENT_TYPES}: Override for {name} names a part that does not exist"
        for name in overrides
        if pkg.find(name.lstrip("/")) is None
    ]
    overridden = {name.lstrip("/").lower() for name in overrides}
    for part in pkg.parts:
        if part == CONTENT_TYPES or part.lower() in overridden:
            continue
        # The extension is everything after the last dot of the last segment, so that
        # "_rels/.rels" has the extension "rels" (posixpath.splitext would say none).
        name = posixpath.basename(part)
        extension = name.rsplit(".", 1)[1].lower() if "." in name else ""
        if extension not in defaults:
            problems.append(
                f"{part} has no content type (no Override and no Default for "
                f"extension {extension or '(none)'!r} in {CONTENT_TYPES})"
            )
    return problems


def _relationship_violations(pkg: _Package) -> list[str]:
    problems = []
    for rels_part in pkg.parts:
        source = _source_of_rels(rels_part)
        if source is None:
            continue
        if source and pkg.find(source) is None:
            problems.append(f"{rels_part} belongs to {source}, which does not exist")
            continue
        seen: set[str] = set()
        for rel in _relationships(pkg, source):
            if rel.rel_id in seen:
                problems.append(f"{rels_part}: relationship id {rel.rel_id} is used twice")
            seen.add(rel.rel_id)
            if not rel.external and pkg.find(rel.resolved) is None:
                problems.append(
                    f"{rels_part}: relationship {rel.rel_id} targets {rel.target!r} "
                    f"({rel.resolved}), which does not exist"
                )
    return problems


def _workbook_violations(pkg: _Package) -> list[str]:
    workbook_part = _workbook_part(pkg)
    if workbook_part is None:
        return ["_rels/.rels has no officeDocument relationship to an existing workbook part"]
    workbook = pkg.xml(workbook_part)
    rels = {rel.rel_id: rel for rel in _relationships(pkg, workbook_part)}
    problems = []
    names: set[str] = set()
    sheet_ids: set[str] = set()
    worksheets: list[tuple[str, str]] = []
    sheets = workbook.findall(f"{_M}sheets/{_M}sheet")
    for sheet in sheets:
        name, sheet_id, rel_id = sheet.get("name", ""), sheet.get("sheetId", ""), sheet.get(_R_ID)
        if name.lower() in names:
            problems.append(f"{workbook_part}: sheet name {name!r} is used twice")
        names.add(name.lower())
        if sheet_id in sheet_ids:
            problems.append(f"{workbook_part}: sheetId {sheet_id} is used twice")
        sheet_ids.add(sheet_id)
        rel = rels.get(rel_id or "")
        if rel is None:
            problems.append(f"{workbook_part}: sheet {name!r} has r:id {rel_id!r}, which is absent")
        elif rel.kind == _WORKSHEET and pkg.find(rel.resolved) is not None:
            worksheets.append((name, pkg.find(rel.resolved) or ""))
    for defined in workbook.iter(f"{_M}definedName"):
        local = defined.get("localSheetId")
        if local is not None and not (local.isdigit() and int(local) < len(sheets)):
            problems.append(
                f"{workbook_part}: definedName {defined.get('name')!r} has localSheetId {local}, "
                f"but the book has {len(sheets)} sheets"
            )
    problems += _table_violations(pkg, workbook_part, worksheets)
    return problems


def _shared_strings(pkg: _Package, workbook_part: str) -> list[str]:
    part = _first_target(pkg, workbook_part, _SHARED_STRINGS)
    if part is None:
        return []
    return [_rich_text(si) for si in pkg.xml(part).findall(f"{_M}si")]


def _table_violations(
    pkg: _Package, workbook_part: str, worksheets: list[tuple[str, str]]
) -> list[str]:
    shared: list[str] | None = None
    problems: list[str] = []
    tables: list[_Table] = []
    for sheet_name, sheet_part in worksheets:
        sheet = pkg.xml(sheet_part)
        rels = {rel.rel_id: rel for rel in _relationships(pkg, sheet_part)}
        sheet_tables: list[_Table] = []
        cells: dict[tuple[int, int], ET.Element] | None = None
        for table_part in sheet.findall(f"{_M}tableParts/{_M}tablePart"):
            rel = rels.get(table_part.get(_R_ID) or "")
            part = pkg.find(rel.resolved) if rel is not None and not rel.external else None
            if part is None:
                problems.append(
                    f"{sheet_part} (sheet {sheet_name!r}): tablePart r:id "
                    f"{table_part.get(_R_ID)!r} does not lead to a table part"
                )
                continue
            element = pkg.xml(part)
            ref = element.get("ref", "")
            table = _Table(
                part=part,
                sheet=sheet_name,
                table_id=element.get("id", ""),
                name=element.get("name", ""),
                display_name=element.get("displayName", ""),
                ref=ref,
                area=_parse_area(ref),
            )
            sheet_tables.append(table)
            if table.area is None:
                problems.append(f"{table.where}: ref {ref!r} is not a cell range")
                continue
            if shared is None:
                shared = _shared_strings(pkg, workbook_part)
            if cells is None:
                cells = _sheet_cells(sheet)
            problems += _column_violations(table, table.area, element, cells, shared)
        problems += _overlap_violations(sheet_tables)
        tables += sheet_tables
    problems += _uniqueness_violations(tables)
    return problems


def _column_violations(
    table: _Table,
    area: _Area,
    element: ET.Element,
    cells: dict[tuple[int, int], ET.Element],
    shared: list[str],
) -> list[str]:
    problems = []
    columns_element = element.find(f"{_M}tableColumns")
    columns = [] if columns_element is None else columns_element.findall(f"{_M}tableColumn")
    count = None if columns_element is None else columns_element.get("count")
    if count != str(area.width):
        problems.append(
            f"{table.where}: tableColumns count is {count}, but ref {table.ref} is "
            f"{area.width} columns wide"
        )
    if len(columns) != area.width:
        problems.append(
            f"{table.where}: {len(columns)} tableColumn elements for a ref {area.width} "
            "columns wide"
        )
    if element.get("headerRowCount", "1") == "0":
        return problems
    for offset, column in enumerate(columns[: area.width]):
        expected = _unescape(column.get("name", ""))
        cell = _cell_name(area.top, area.left + offset)
        text, holds = _cell_text(cells.get((area.top, area.left + offset)), shared)
        if text is None:
            problems.append(
                f"{table.where}: header cell {cell} holds {holds}, "
                f"not the text of column {expected!r}"
            )
        elif text != expected:
            problems.append(
                f"{table.where}: header cell {cell} reads {text!r}, "
                f"but the column is named {expected!r}"
            )
    return problems


def _overlap_violations(tables: list[_Table]) -> list[str]:
    problems = []
    for i, first in enumerate(tables):
        for second in tables[i + 1 :]:
            if first.area and second.area and first.area.overlaps(second.area):
                problems.append(
                    f"{first.where} at {first.ref} overlaps {second.where} at {second.ref}"
                )
    return problems


def _uniqueness_violations(tables: list[_Table]) -> list[str]:
    problems = []
    ids: dict[str, _Table] = {}
    names: dict[str, _Table] = {}
    for table in tables:
        if table.table_id in ids:
            other = ids[table.table_id]
            problems.append(
                f"{table.where}: table id {table.table_id} is also used by {other.where}"
            )
        ids.setdefault(table.table_id, table)
        for name in {table.name.lower(), table.display_name.lower()} - {""}:
            if name in names:
                problems.append(
                    f"{table.where}: table name {name!r} (case-insensitive) is also used by "
                    f"{names[name].where}"
                )
            names.setdefault(name, table)
    return problems


# --------------------------------------------------------------------------- differences


@dataclass(frozen=True)
class PackageDiff:
    """Parts removed, added and changed (decompressed bytes differ) between two packages."""

    removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when both packages hold the same parts with the same content."""
        return not (self.removed or self.added or self.changed)

    def touched(self) -> tuple[str, ...]:
        """Every part removed, added or changed, sorted."""
        return tuple(sorted({*self.removed, *self.added, *self.changed}))


def package_changes(before: Path, after: Path) -> PackageDiff:
    """The parts ``after`` removed, added or changed relative to ``before``.

    Part names are compared exactly as stored in the zip; compression, timestamps and
    member order do not count as changes.
    """
    with zipfile.ZipFile(before) as old, zipfile.ZipFile(after) as new:
        old_names = {n for n in old.namelist() if not n.endswith("/")}
        new_names = {n for n in new.namelist() if not n.endswith("/")}
        changed = [n for n in sorted(old_names & new_names) if old.read(n) != new.read(n)]
    return PackageDiff(
        removed=tuple(sorted(old_names - new_names)),
        added=tuple(sorted(new_names - old_names)),
        changed=tuple(changed),
    )


def _canonical(element: ET.Element) -> str:
    """A namespace-prefix and attribute-order independent rendering of ``element``.

    Whitespace-only text between child elements is layout and is dropped; text in leaf
    elements (``<t xml:space="preserve"> </t>``) is content and is kept.
    """
    attributes = "".join(f' {k}="{v}"' for k, v in sorted(element.attrib.items()))
    children = list(element)
    text = element.text or ""
    if children and not text.strip():
        text = ""
    inner = "".join(
        _canonical(child) + ("" if not (child.tail or "").strip() else (child.tail or ""))
        for child in children
    )
    return f"<{element.tag}{attributes}>{text}{inner}</{element.tag}>"


def _short(canonical: str, limit: int = 160) -> str:
    compact = canonical.replace(f"{{{MAIN_NS}}}", "")
    return compact if len(compact) <= limit else compact[: limit - 3] + "..."


def lost_entries(before: Path, after: Path) -> list[str]:
    """Everything ``after`` lost from the grow-only and index parts of ``before``.

    ``[Content_Types].xml`` must keep each Default and Override; the workbook part each
    sheet (name, sheetId, r:id, state) and definedName; the workbook's relationships each
    Relationship (Id, Type, target); ``styles.xml`` each numFmt and, as an unchanged
    prefix, the children of fonts, fills, borders, cellStyleXfs, cellXfs, cellStyles and
    dxfs; ``sharedStrings.xml`` its ``si`` entries as a prefix. Returns one sentence per
    lost or altered entry; an empty list means nothing was lost.
    """
    with _Package(before) as old, _Package(after) as new:
        lost = _lost_content_types(old, new)
        old_workbook, new_workbook = _workbook_part(old), _workbook_part(new)
        if old_workbook is None:
            return lost
        if new_workbook is None:
            return [*lost, f"the workbook part {old_workbook} is gone"]
        lost += _lost_workbook_entries(old, new, old_workbook, new_workbook)
        lost += _lost_workbook_rels(old, new, old_workbook, new_workbook)
        for kind, check in ((_STYLES, _lost_styles), (_SHARED_STRINGS, _lost_shared_strings)):
            old_part = _first_target(old, old_workbook, kind)
            if old_part is None:
                continue
            new_part = _first_target(new, new_workbook, kind)
            if new_part is None:
                lost.append(f"{old_part} is no longer part of the workbook")
                continue
            lost += check(old_part, old.xml(old_part), new.xml(new_part))
        return lost


def _missing(
    part: str, what: str, old: Iterable[tuple[str, ...]], new: Iterable[tuple[str, ...]]
) -> list[str]:
    kept = set(new)
    return [f"{part}: {what} {entry} was lost" for entry in old if entry not in kept]


def _lost_content_types(old: _Package, new: _Package) -> list[str]:
    if old.find(CONTENT_TYPES) is None:
        return []
    if new.find(CONTENT_TYPES) is None:
        return [f"{CONTENT_TYPES} is gone"]

    def entries(pkg: _Package) -> Iterator[tuple[str, ...]]:
        types = pkg.xml(CONTENT_TYPES)
        for d in types.iter(f"{{{CT_NS}}}Default"):
            yield ("Default", d.get("Extension", "").lower(), d.get("ContentType", ""))
        for o in types.iter(f"{{{CT_NS}}}Override"):
            yield ("Override", o.get("PartName", "").lower(), o.get("ContentType", ""))

    return _missing(CONTENT_TYPES, "entry", entries(old), entries(new))


def _lost_workbook_entries(old: _Package, new: _Package, old_part: str, new_part: str) -> list[str]:
    def sheets(workbook: ET.Element) -> Iterator[tuple[str, ...]]:
        for s in workbook.findall(f"{_M}sheets/{_M}sheet"):
            yield (
                s.get("name", ""),
                s.get("sheetId", ""),
                s.get(_R_ID, ""),
                s.get("state", "visible"),
            )

    def names(workbook: ET.Element) -> Iterator[tuple[str, ...]]:
        for defined in workbook.iter(f"{_M}definedName"):
            yield (_short(_canonical(defined)),)

    old_book, new_book = old.xml(old_part), new.xml(new_part)
    return _missing(
        new_part, "sheet (name, sheetId, r:id, state)", sheets(old_book), sheets(new_book)
    ) + _missing(new_part, "definedName", names(old_book), names(new_book))


def _lost_workbook_rels(old: _Package, new: _Package, old_part: str, new_part: str) -> list[str]:
    def entries(pkg: _Package, part: str) -> Iterator[tuple[str, ...]]:
        for rel in _relationships(pkg, part):
            yield (rel.rel_id, rel.type, rel.resolved, "External" if rel.external else "Internal")

    return _missing(
        _rels_part_of(new_part),
        "Relationship (Id, Type, target, mode)",
        entries(old, old_part),
        entries(new, new_part),
    )


def _lost_prefix(part: str, what: str, old: list[ET.Element], new: list[ET.Element]) -> list[str]:
    lost = []
    for index, entry in enumerate(old):
        before = _canonical(entry)
        if index >= len(new):
            lost.append(f"{part}: {what} entry {index} was removed: {_short(before)}")
        elif _canonical(new[index]) != before:
            lost.append(
                f"{part}: {what} entry {index} changed from {_short(before)} "
                f"to {_short(_canonical(new[index]))}"
            )
    return lost


def _lost_styles(part: str, old: ET.Element, new: ET.Element) -> list[str]:
    # Only the book's number-format table counts: dxfs carry their own numFmt copies,
    # which the dxfs prefix check covers.
    def formats(styles: ET.Element) -> Iterator[tuple[str, ...]]:
        for fmt in styles.findall(f"{_M}numFmts/{_M}numFmt"):
            yield (fmt.get("numFmtId", ""), fmt.get("formatCode", ""))

    lost = _missing(part, "numFmt (numFmtId, formatCode)", formats(old), formats(new))
    for collection in _STYLE_COLLECTIONS:
        lost += _lost_prefix(
            part, collection, _children(old, collection), _children(new, collection)
        )
    return lost


def _children(styles: ET.Element, collection: str) -> list[ET.Element]:
    element = styles.find(f"{_M}{collection}")
    return [] if element is None else list(element)


def _lost_shared_strings(part: str, old: ET.Element, new: ET.Element) -> list[str]:
    return _lost_prefix(part, "si", old.findall(f"{_M}si"), new.findall(f"{_M}si"))
