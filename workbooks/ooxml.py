"""The package indexes: content types, relationships, the workbook's sheet list.

Reading uses ElementTree (safe here: the guard has refused any part with a DTD). Writing
never re-serialises a part another program wrote: it inserts text at well-defined places,
so namespace prefixes, ``mc:Ignorable`` lists and extension elements stay exactly as they
were, and a part only gains entries.
"""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from sheetloop.errors import BookUnreadableError
from sheetloop.workbooks.zip_package import Package

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
NS_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
REL_WORKSHEET = NS_REL + "/worksheet"
REL_TABLE = NS_REL + "/table"
REL_OFFICE_DOCUMENT = NS_REL + "/officeDocument"
REL_DRAWING = NS_REL + "/drawing"
REL_CHART = NS_REL + "/chart"
CT_WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CT_TABLE = "application/vnd.openxmlformats-officedocument.spreadsheetml.table+xml"
CT_DRAWING = "application/vnd.openxmlformats-officedocument.drawing+xml"
CT_CHART = "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"

# Elements that follow <calcPr> in a workbook (ECMA-376 CT_Workbook sequence).
_AFTER_CALCPR = (
    "oleSize",
    "customWorkbookViews",
    "pivotCaches",
    "smartTagPr",
    "smartTagTypes",
    "webPublishing",
    "fileRecoveryPr",
    "webPublishObjects",
    "extLst",
)


def rels_path(part: str) -> str:
    """The relationships part of a part: ``xl/workbook.xml`` -> ``xl/_rels/workbook.xml.rels``."""
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def resolve(source_part: str, target: str) -> str:
    """A relationship target as a part name."""
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(source_part), target))


def relative(source_part: str, target_part: str) -> str:
    return posixpath.relpath(target_part, posixpath.dirname(source_part))


@dataclass
class Relationship:
    id: str
    type: str
    target: str
    external: bool = False


def read_rels(package: Package, part: str) -> list[Relationship]:
    path = rels_path(part)
    if path not in package:
        return []
    root = ET.fromstring(package.read(path))
    return [
        Relationship(
            r.get("Id", ""),
            r.get("Type", ""),
            r.get("Target", ""),
            r.get("TargetMode") == "External",
        )
        for r in root.iter(f"{{{NS_PKG_REL}}}Relationship")
    ]


def add_relationship(package: Package, part: str, rel_type: str, target_part: str) -> str:
    """Add a relationship from ``part`` to ``target_part``; returns its new id."""
    path = rels_path(part)
    existing = {r.id for r in read_rels(package, part)}
    n = 1
    while f"rId{n}" in existing:
        n += 1
    rid = f"rId{n}"
    element = (
        f'<Relationship Id="{rid}" Type="{rel_type}" '
        f"Target={quoteattr(relative(part, target_part))}/>"
    )
    if path not in package:
        package.write(
            path,
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="{NS_PKG_REL}">{element}</Relationships>',
        )
    else:
        package.write(path, insert_before_close(package.read_text(path), "Relationships", element))
    return rid


def write_rels(package: Package, part: str, rels: list[Relationship]) -> None:
    """Write the whole relationships part of a part sheetloop owns."""
    body = "".join(
        f'<Relationship Id="{r.id}" Type="{r.type}" Target={quoteattr(r.target)}'
        + (' TargetMode="External"' if r.external else "")
        + "/>"
        for r in rels
    )
    package.write(
        rels_path(part),
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{NS_PKG_REL}">{body}</Relationships>',
    )


def ensure_override(package: Package, part: str, content_type: str) -> None:
    """Give a part its content type in ``[Content_Types].xml`` (if it has none yet)."""
    text = package.read_text("[Content_Types].xml")
    if re.search(r'PartName="/' + re.escape(part) + '"', text, re.IGNORECASE):
        return
    element = f'<Override PartName="/{escape(part)}" ContentType="{content_type}"/>'
    package.write("[Content_Types].xml", insert_before_close(text, "Types", element))


def remove_override(package: Package, part: str) -> None:
    """Drop a removed part's ``Override`` from ``[Content_Types].xml``."""
    text = package.read_text("[Content_Types].xml")
    pattern = (
        r"<(?:\w+:)?Override\b[^>]*\bPartName=\"/" + re.escape(escape(part)) + r"\"[^>]*?"
        r"(?:/>|>\s*</(?:\w+:)?Override>)"
    )
    package.write("[Content_Types].xml", re.sub(pattern, "", text, flags=re.IGNORECASE))


def insert_before_close(text: str, element: str, insertion: str) -> str:
    """Insert ``insertion`` before the closing tag of the first ``element`` (any prefix);
    a self-closing ``<element/>`` is opened up first."""
    close = re.search(rf"</(\w+:)?{element}\s*>", text)
    if close:
        return text[: close.start()] + insertion + text[close.start() :]
    empty = re.search(rf"<((?:\w+:)?{element})(\s[^>]*)?/>", text)
    if empty is None:
        raise BookUnreadableError(f"the workbook has no <{element}> where one is required")
    tag, attrs = empty.group(1), empty.group(2) or ""
    return text[: empty.start()] + f"<{tag}{attrs}>{insertion}</{tag}>" + text[empty.end() :]


@dataclass
class SheetEntry:
    name: str
    sheet_id: int
    rid: str
    part: str
    state: str  # visible | hidden | veryHidden


class WorkbookIndex:
    """The workbook part: its sheets and where they live."""

    def __init__(self, package: Package) -> None:
        self.package = package
        self.part = self._workbook_part()

    def _workbook_part(self) -> str:
        for rel in read_rels(self.package, ""):
            if rel.type == REL_OFFICE_DOCUMENT or rel.type.endswith("/officeDocument"):
                return resolve("", rel.target)
        if "xl/workbook.xml" in self.package:
            return "xl/workbook.xml"
        raise BookUnreadableError(f"{self.package.path.name}: no workbook part in the package")

    @property
    def text(self) -> str:
        return self.package.read_text(self.part)

    def sheets(self) -> list[SheetEntry]:
        root = ET.fromstring(self.package.read(self.part))
        targets = {r.id: resolve(self.part, r.target) for r in read_rels(self.package, self.part)}
        out = []
        for s in root.iter(f"{{{NS_MAIN}}}sheet"):
            rid = s.get(f"{{{NS_REL}}}id", "")
            out.append(
                SheetEntry(
                    s.get("name", ""),
                    int(s.get("sheetId", "0")),
                    rid,
                    targets.get(rid, ""),
                    s.get("state", "visible"),
                )
            )
        return out

    def sheet(self, name: str) -> SheetEntry | None:
        lowered = name.casefold()
        return next((s for s in self.sheets() if s.name.casefold() == lowered), None)

    def add_sheet(self, name: str, xml: str, *, state: str = "visible") -> SheetEntry:
        """Add a worksheet part and list it in the workbook (last)."""
        part = self.package.unused_name("xl/worksheets/sheet{}.xml")
        self.package.write(part, xml)
        ensure_override(self.package, part, CT_WORKSHEET)
        rid = add_relationship(self.package, self.part, REL_WORKSHEET, part)
        sheet_id = max((s.sheet_id for s in self.sheets()), default=0) + 1
        prefix = self._rel_prefix()
        state_attr = f' state="{state}"' if state != "visible" else ""
        element = (
            f'<{self._main_prefix()}sheet name={quoteattr(name)} sheetId="{sheet_id}"'
            f'{state_attr} {prefix}:id="{rid}"/>'
        )
        self.package.write(self.part, insert_before_close(self.text, "sheets", element))
        return SheetEntry(name, sheet_id, rid, part, state)

    def set_full_calc_on_load(self) -> None:
        """Make Excel recalculate every formula when it next opens the book."""
        text = self.text
        m = re.search(r"<((?:\w+:)?calcPr)\b([^>]*?)(/?)>", text)
        if m:
            attrs = m.group(2)
            if re.search(r'\bfullCalcOnLoad="(1|true)"', attrs):
                return
            attrs = re.sub(r'\s*\bfullCalcOnLoad="[^"]*"', "", attrs)
            new = f'<{m.group(1)}{attrs} fullCalcOnLoad="1"{m.group(3)}>'
            self.package.write(self.part, text[: m.start()] + new + text[m.end() :])
            return
        element = f'<{self._main_prefix()}calcPr fullCalcOnLoad="1"/>'
        for follower in _AFTER_CALCPR:
            f = re.search(rf"<(\w+:)?{follower}\b", text)
            if f:
                self.package.write(self.part, text[: f.start()] + element + text[f.start() :])
                return
        self.package.write(self.part, insert_before_close(text, "workbook", element))

    def _main_prefix(self) -> str:
        m = re.search(r"<(\w+:)?workbook\b", self.text)
        return m.group(1) or "" if m else ""

    def _rel_prefix(self) -> str:
        # Only a binding on the root element counts: some writers (openpyxl) bind the
        # prefix on each <sheet> element, where a new sibling cannot see it.
        root = re.search(r"<(?:\w+:)?workbook\b[^>]*>", self.text)
        m = re.search(r'xmlns:(\w+)="' + re.escape(NS_REL) + '"', root.group(0) if root else "")
        if m:
            return m.group(1)
        # No prefix bound to the relationships namespace there yet: bind one on the root.
        text = re.sub(r"<((?:\w+:)?workbook)\b", rf'<\1 xmlns:r="{NS_REL}"', self.text, count=1)
        self.package.write(self.part, text)
        return "r"


@dataclass
class TableEntry:
    part: str
    id: int
    name: str
    ref: str
    sheet: str  # sheet name
    sheet_part: str
    rid: str


def tables(package: Package, index: WorkbookIndex) -> list[TableEntry]:
    """Every table in the book, with the sheet that holds it."""
    out = []
    for sheet in index.sheets():
        if not sheet.part:
            continue
        for rel in read_rels(package, sheet.part):
            if rel.type != REL_TABLE or rel.external:
                continue
            part = resolve(sheet.part, rel.target)
            if part not in package:
                continue
            root = ET.fromstring(package.read(part))
            out.append(
                TableEntry(
                    part,
                    int(root.get("id", "0")),
                    root.get("displayName") or root.get("name") or "",
                    root.get("ref", ""),
                    sheet.name,
                    sheet.part,
                    rel.id,
                )
            )
    return out
