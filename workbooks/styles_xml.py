"""Cell formats sheetloop needs, added to ``xl/styles.xml`` without disturbing it.

The styles part only ever gains entries: a number format, a cell format (``xf``) and a
differential format (``dxf``, for conditional formatting) are appended when no identical
one exists, so running sheetloop again does not grow the part.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from sheetloop.workbooks.interface import Highlight
from sheetloop.workbooks.ooxml import NS_MAIN, insert_before_close
from sheetloop.workbooks.zip_package import Package

STYLES_PART = "xl/styles.xml"

_BUILTIN_FORMATS = {
    "General": 0,
    "0": 1,
    "0.00": 2,
    "#,##0": 3,
    "#,##0.00": 4,
    "0%": 9,
    "0.00%": 10,
    "@": 49,
}
_ATTR = re.compile(r'([\w:]+)="([^"]*)"')
_HEX_COLOUR = re.compile(r"^(?:[0-9A-Fa-f]{2})?[0-9A-Fa-f]{6}$")
# The children of styleSheet that come before dxfs (ECMA-376 CT_Stylesheet), last first:
# a new <dxfs> goes right after the last of them that the part has.
_BEFORE_DXFS = ("cellStyles", "cellXfs", "cellStyleXfs", "borders", "fills", "fonts", "numFmts")


@dataclass(frozen=True)
class CellFormat:
    """What a written cell looks like: a number format and a few flags."""

    number_format: str = "General"
    quote_prefix: bool = False  # text that would otherwise be read as a formula when edited
    wrap: bool = False


class Styles:
    """Appends the cell formats sheetloop asks for to a book's styles part."""

    def __init__(self, package: Package, part: str = STYLES_PART) -> None:
        self.package = package
        self.part = part
        self._cache: dict[CellFormat, int] = {}
        self._dxf_cache: dict[Highlight, int] = {}

    @property
    def _text(self) -> str:
        return self.package.read_text(self.part)

    def index(self, fmt: CellFormat) -> int:
        """The ``cellXfs`` index (the ``s`` attribute of a cell) of this format."""
        if fmt not in self._cache:
            self._cache[fmt] = self._find_or_add(fmt)
        return self._cache[fmt]

    def _num_fmt_id(self, code: str) -> int:
        if code in _BUILTIN_FORMATS:
            return _BUILTIN_FORMATS[code]
        text = self._text
        used = []
        for tag in re.findall(r"<(?:\w+:)?numFmt\b[^>]*>", text):
            attrs = dict(_ATTR.findall(tag))
            num_id = int(attrs.get("numFmtId", "0"))
            used.append(num_id)
            if _unescape(attrs.get("formatCode", "")) == code:
                return num_id
        new_id = max([163, *used]) + 1
        element = f'<numFmt numFmtId="{new_id}" formatCode={quoteattr(code)}/>'
        if re.search(r"<(\w+:)?numFmts\b", text):
            text = _bump_count(insert_before_close(text, "numFmts", element), "numFmts")
        else:
            # numFmts is the first child of styleSheet.
            root = re.search(r"<((?:\w+:)?)styleSheet\b[^>]*>", text)
            assert root is not None
            prefix = root.group(1)
            text = (
                text[: root.end()]
                + f'<{prefix}numFmts count="1">'
                + element.replace("<numFmt", f"<{prefix}numFmt")
                + f"</{prefix}numFmts>"
                + text[root.end() :]
            )
        self.package.write(self.part, text)
        return new_id

    def _find_or_add(self, fmt: CellFormat) -> int:
        num_id = self._num_fmt_id(fmt.number_format)
        wanted = {
            "numFmtId": str(num_id),
            "fontId": "0",
            "fillId": "0",
            "borderId": "0",
            "xfId": "0",
        }
        if num_id:
            wanted["applyNumberFormat"] = "1"
        if fmt.quote_prefix:
            wanted["quotePrefix"] = "1"
        alignment = '<alignment vertical="top" wrapText="1"/>' if fmt.wrap else ""
        if fmt.wrap:
            wanted["applyAlignment"] = "1"
        text = self._text
        block = re.search(r"<((?:\w+:)?)cellXfs\b[^>]*>(.*?)</(?:\w+:)?cellXfs>", text, re.S)
        if block is None:
            raise ValueError("styles part without cellXfs")
        prefix = block.group(1)
        xfs = re.findall(r"<(?:\w+:)?xf\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?xf>)", block.group(2), re.S)
        for i, (attrs, inner) in enumerate(xfs):
            if dict(_ATTR.findall(attrs)) == wanted and _same_alignment(inner, fmt.wrap):
                return i
        attrs = " ".join(f'{k}="{v}"' for k, v in wanted.items())
        element = (
            f"<{prefix}xf {attrs}>{alignment}</{prefix}xf>"
            if alignment
            else f"<{prefix}xf {attrs}/>"
        )
        text = _bump_count(insert_before_close(text, "cellXfs", element), "cellXfs")
        self.package.write(self.part, text)
        return len(xfs)

    def dxf_index(self, highlight: Highlight) -> int:
        """The ``dxfs`` index (a conditional format's ``dxfId``) of this highlight; an
        identical differential format already in the part is reused."""
        if highlight not in self._dxf_cache:
            self._dxf_cache[highlight] = self._find_or_add_dxf(highlight)
        return self._dxf_cache[highlight]

    def _find_or_add_dxf(self, highlight: Highlight) -> int:
        text = self._text
        root = re.search(r"<((?:\w+:)?)styleSheet\b[^>]*>", text)
        if root is None:
            raise ValueError("styles part without styleSheet")
        prefix = root.group(1)
        element = dxf_xml(highlight, prefix)
        wanted = _canonical(ET.fromstring(dxf_xml(highlight, "", namespaced=True)))
        existing = [
            dxf
            for block in ET.fromstring(text.encode("utf-8"))
            if _local(block.tag) == "dxfs"
            for dxf in block
            if _local(dxf.tag) == "dxf"
        ]
        for i, dxf in enumerate(existing):
            if _canonical(dxf) == wanted:
                return i
        # Only the stylesheet's own dxfs: an extension's (x15:dxfs) has a prefix of its own.
        block = re.search(rf"<{prefix}dxfs\b([^>]*?)(/?)>", text)
        if block and block.group(2):  # <dxfs count="0"/>
            opened = f"<{prefix}dxfs{block.group(1)}>{element}</{prefix}dxfs>"
            text = text[: block.start()] + opened + text[block.end() :]
        elif block:
            close = text.index(f"</{prefix}dxfs>", block.end())
            text = text[:close] + element + text[close:]
        else:
            at = _end_of_last(text, _BEFORE_DXFS) or root.end()
            text = text[:at] + f"<{prefix}dxfs>{element}</{prefix}dxfs>" + text[at:]
        self.package.write(self.part, _bump_count(text, f"{prefix}dxfs", "dxf"))
        return len(existing)


def dxf_xml(highlight: Highlight, prefix: str = "", *, namespaced: bool = False) -> str:
    """A differential format element: the font (bold, colour) and the solid fill."""
    for colour in (highlight.fill, highlight.font):
        if colour is not None and not _HEX_COLOUR.match(colour):
            raise ValueError(f"{colour!r} is not an RRGGBB colour")
    font = "<b/>" if highlight.bold else ""
    if highlight.font:
        font += f'<color rgb="{_argb(highlight.font)}"/>'
    body = (f"<font>{font}</font>" if font else "") + (
        f'<fill><patternFill><bgColor rgb="{_argb(highlight.fill)}"/></patternFill></fill>'
    )
    if prefix:
        body = re.sub(r"<(/?)(\w)", rf"<\1{prefix}\2", body)
    xmlns = f' xmlns="{NS_MAIN}"' if namespaced else ""
    return f"<{prefix}dxf{xmlns}>{body}</{prefix}dxf>"


def _argb(colour: str) -> str:
    return colour.upper() if len(colour) == 8 else "FF" + colour.upper()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _canonical(element: ET.Element) -> str:
    """A prefix-, namespace- and attribute-order-independent rendering, to compare dxfs."""
    attrs = "".join(f" {k}={v!r}" for k, v in sorted(element.attrib.items()))
    inner = "".join(_canonical(child) for child in element)
    tag = _local(element.tag)
    return f"<{tag}{attrs}>{(element.text or '').strip()}{inner}</{tag}>"


def _end_of_last(text: str, elements: tuple[str, ...]) -> int | None:
    for name in elements:
        close = re.search(rf"</(\w+:)?{name}\s*>", text) or re.search(
            rf"<(\w+:)?{name}\b[^>]*/>", text
        )
        if close:
            return close.end()
    return None


def _same_alignment(inner: str, wrap: bool) -> bool:
    has_wrap = bool(inner) and 'wrapText="1"' in inner
    return has_wrap == wrap and (wrap or not inner.strip())


def _bump_count(text: str, element: str, child: str = "xf|numFmt") -> str:
    """Set the ``count`` of the first ``element`` to its number of ``child`` elements."""
    m = re.search(rf"<((?:\w+:)?{element})\b([^>]*)>(.*?)</(?:\w+:)?{element}>", text, re.S)
    if not m:
        return text
    children = len(re.findall(rf"<(?:\w+:)?(?:{child})\b", m.group(3)))
    attrs = re.sub(r'\bcount="\d+"', f'count="{children}"', m.group(2))
    if "count=" not in attrs:
        attrs += f' count="{children}"'
    return (
        text[: m.start()]
        + f"<{m.group(1)}{attrs}>"
        + text[m.start() + len(f"<{m.group(1)}{m.group(2)}>") :]
    )


def _unescape(value: str) -> str:
    return (
        value.replace("&quot;", '"')
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )
