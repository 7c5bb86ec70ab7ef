"""The drawing and chart parts of the sheets sheetloop owns.

A sheet sheetloop owns gets exactly the charts of its latest write: its drawing part and
chart parts are reused by name (so writing the same charts again changes nothing), extra
ones are removed with everything only they referenced, and none are left behind when a
write has no charts. A drawing is sheetloop's only if every frame in it carries the name
sheetloop gives its charts; any other drawing on the sheet (a user's) is left as it is.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence

from sheetloop.workbooks.chart_xml import ANCHOR_NAME, Anchor, render_drawing
from sheetloop.workbooks.ooxml import (
    CT_CHART,
    CT_DRAWING,
    REL_CHART,
    REL_DRAWING,
    Relationship,
    add_relationship,
    ensure_override,
    read_rels,
    relative,
    rels_path,
    remove_override,
    resolve,
    write_rels,
)
from sheetloop.workbooks.zip_package import Package

_NAMES = re.compile(rb'<(?:\w+:)?cNvPr\b[^>]*?\bname="([^"]*)"')
_CHART_IDS = re.compile(rb'<(?:\w+:)?chart\b[^>]*?\b(?:\w+:)?id="([^"]*)"')


def set_charts(
    package: Package, sheet_part: str, charts: Sequence[tuple[Anchor, str]]
) -> str | None:
    """Make ``charts`` (anchor, chart part XML) the sheet's own charts.

    Returns the relationship id the sheet's ``<drawing r:id>`` must carry, or None when the
    sheet has no charts (its former drawing, if any, is gone).
    """
    ours = [
        rel
        for rel in read_rels(package, sheet_part)
        if rel.type == REL_DRAWING
        and not rel.external
        and _is_ours(package, resolve(sheet_part, rel.target))
    ]
    keep = ours[0] if ours and charts else None
    for rel in ours:
        if rel is not keep:
            _drop_relationship(package, sheet_part, rel.id)
            _remove_unreferenced(package, resolve(sheet_part, rel.target))
    if not charts:
        return None
    if keep is None:
        drawing = package.unused_name("xl/drawings/drawing{}.xml")
        ensure_override(package, drawing, CT_DRAWING)
        rid = add_relationship(package, sheet_part, REL_DRAWING, drawing)
        old_charts: list[str] = []
    else:
        drawing, rid = resolve(sheet_part, keep.target), keep.id
        old_charts = _charts_in_order(package, drawing)
    old_targets = [
        resolve(drawing, r.target) for r in read_rels(package, drawing) if not r.external
    ]
    parts = []
    for i, (_, xml) in enumerate(charts):
        part = (
            old_charts[i] if i < len(old_charts) else package.unused_name("xl/charts/chart{}.xml")
        )
        package.write(part, xml)
        ensure_override(package, part, CT_CHART)
        parts.append(part)
    rels = [
        Relationship(f"rId{i}", REL_CHART, relative(drawing, part))
        for i, part in enumerate(parts, 1)
    ]
    write_rels(package, drawing, rels)
    package.write(
        drawing, render_drawing([(a, r.id) for (a, _), r in zip(charts, rels, strict=True)])
    )
    for part in old_targets:
        if part not in parts:
            _remove_unreferenced(package, part)
    return rid


def _is_ours(package: Package, drawing: str) -> bool:
    if drawing not in package:
        return False
    names = _NAMES.findall(package.read(drawing))
    return bool(names) and all(n.decode("utf-8").startswith(ANCHOR_NAME) for n in names)


def _charts_in_order(package: Package, drawing: str) -> list[str]:
    """The chart parts of a drawing, in the order its frames show them."""
    by_id = {
        r.id: resolve(drawing, r.target)
        for r in read_rels(package, drawing)
        if r.type == REL_CHART and not r.external
    }
    ids = [m.decode("utf-8") for m in _CHART_IDS.findall(package.read(drawing))]
    return [by_id[i] for i in dict.fromkeys(ids) if i in by_id and by_id[i] in package]


def _drop_relationship(package: Package, part: str, rid: str) -> None:
    rels = [r for r in read_rels(package, part) if r.id != rid]
    if rels:
        write_rels(package, part, rels)
    else:
        package.remove(rels_path(part))


def _remove_unreferenced(package: Package, part: str) -> None:
    """Remove ``part`` and, in turn, the parts only it referenced, unless another
    relationship in the package still points at it."""
    if part not in package or _referenced(package, part):
        return
    targets = [resolve(part, r.target) for r in read_rels(package, part) if not r.external]
    package.remove(part)
    package.remove(rels_path(part))
    remove_override(package, part)
    for target in targets:
        _remove_unreferenced(package, target)


def _referenced(package: Package, part: str) -> bool:
    wanted = part.casefold()
    for name in package.names():
        folder, base = posixpath.split(name)
        if posixpath.basename(folder) != "_rels" or not base.endswith(".rels"):
            continue
        source = posixpath.join(posixpath.dirname(folder), base[: -len(".rels")])
        if source == "":
            continue
        if source not in package:
            continue
        for rel in read_rels(package, source):
            if not rel.external and resolve(source, rel.target).casefold() == wanted:
                return True
    return False
