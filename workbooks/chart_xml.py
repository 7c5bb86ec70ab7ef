"""Native Excel charts of the tables sheetloop writes: chart parts and their drawing.

A chart's series reference cells (``'MRP'!$E$6:$P$6``) and carry the values as a cache,
so Excel and LibreOffice draw the chart on open without recalculating. A flat line (a
:class:`~.interface.RowSeries` with a ``level``, e.g. a safety stock) has no range of the
table to point at, and literal series values are not drawn by every reader, so its values
are written as plain numbers into a small *chart data* block under the charts, on the
sheet that shows them, and the series references that block. Pure functions: the parts
are placed in the package by ``drawing_parts``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from sheetloop.workbooks.interface import ChartSpec, ColumnSeries, RowSeries
from sheetloop.workbooks.problems import column_letter
from sheetloop.workbooks.sheet_xml import escape_text

NS_CHART = "http://schemas.openxmlformats.org/drawingml/2006/chart"
NS_DRAWING = "http://schemas.openxmlformats.org/drawingml/2006/main"
NS_SPREADSHEET_DRAWING = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
ANCHOR_NAME = "sheetloop chart"  # every chart sheetloop draws is named "sheetloop chart N"

# Office's default series colours.
PALETTE = ("4472C4", "ED7D31", "A5A5A5", "FFC000", "5B9BD5", "70AD47", "264478", "9E480E")
_CAT_AXIS, _VAL_AXIS = 510_001, 510_002
_GAP_COLUMNS = 1  # empty columns between a table and the charts beside it


@dataclass(frozen=True)
class TableLayout:
    """Where a written table's cells are: what a chart needs to reference them."""

    table: str
    sheet: str
    frame: pd.DataFrame
    top: int  # the header row (1-based); data from top + 1
    formats: Sequence[str]  # the number format of each column


@dataclass(frozen=True)
class Anchor:
    """A chart's cell rectangle on a sheet (0-based, ``to`` exclusive as Excel counts)."""

    col: int
    row: int
    cols: int
    rows: int


@dataclass(frozen=True)
class SeriesData:
    """One series as drawn: its look, its values and the cells they come from."""

    name: str
    color: str
    values: list[float | None]
    values_ref: str | None  # None: a flat line not yet placed in the chart data block
    fmt: str
    dashed: bool = False


def anchors(specs: Sequence[ChartSpec], col: int, row: int, gap: int = 2) -> list[Anchor]:
    """Charts stacked top to bottom from the cell (``col``, ``row``), 0-based."""
    out = []
    for spec in specs:
        cols, rows = spec.size
        out.append(Anchor(col, row, cols, rows))
        row += rows + gap
    return out


def beside(layout: TableLayout) -> tuple[int, int]:
    """The top-left cell (0-based column, row) of charts drawn beside a table."""
    return len(layout.frame.columns) + _GAP_COLUMNS, layout.top - 1


@dataclass
class Chart:
    """A chart's data, read from the table: what :func:`chart_xml` draws."""

    spec: ChartSpec
    categories: tuple[str, list[str]]  # the reference of the labels, and the labels
    series: list[SeriesData]


def chart_data(spec: ChartSpec, layout: TableLayout) -> Chart | None:
    """The data of ``spec`` read from the table, or None when none of its series has any
    (an empty table). ValueError for a spec that does not fit the table."""
    positions = {str(c): i for i, c in enumerate(layout.frame.columns)}
    row_series = [s for s in spec.series if isinstance(s, RowSeries)]
    if row_series and len(row_series) != len(spec.series):
        raise ValueError(f"{layout.table}: chart {spec.title!r} mixes row and column series")
    if spec.kind not in ("line", "column", "bar"):
        raise ValueError(f"{layout.table}: chart kind {spec.kind!r} is not line, column or bar")
    if row_series:
        categories, series = _across(spec, row_series, layout, positions)
    else:
        column_series = [s for s in spec.series if isinstance(s, ColumnSeries)]
        categories, series = _down(spec, column_series, layout, positions)
    return Chart(spec, categories, series) if series else None


def level_block(
    charts: Sequence[Chart], sheet: str, col: int, row: int
) -> dict[int, list[tuple[int, str | float]]]:
    """Place the values of the charts' flat lines as plain cells from (``col``, ``row``),
    1-based row and 0-based column, on ``sheet``, and point those series at them.

    Returns the cells, row -> [(column, value)]: a caption, then one row per flat line
    (its name, then its values); no cells when no chart has a flat line.
    """
    cells: dict[int, list[tuple[int, str | float]]] = {}
    r = row + 1
    for chart in charts:
        for i, s in enumerate(chart.series):
            if s.values_ref is not None:
                continue
            values = [v for v in s.values if v is not None]
            cells[r] = [(col, s.name), *((col + 1 + j, v) for j, v in enumerate(values))]
            ref = _range(sheet, col + 1, r, col + len(values), r)
            chart.series[i] = replace(s, values_ref=ref)
            r += 1
    if cells:
        cells[row] = [(col, "Chart data: the flat lines of the charts above.")]
    return cells


def chart_xml(chart: Chart) -> str:
    """The chart part (``xl/charts/chartN.xml``); flat lines must have been placed with
    :func:`level_block` first."""
    if any(s.values_ref is None for s in chart.series):
        raise ValueError(f"chart {chart.spec.title!r}: a flat line has no cells yet")
    value_format = chart.spec.value_format or chart.series[0].fmt
    return _chart_space(chart.spec, chart.categories, chart.series, value_format)


# --------------------------------------------------------------------------- the data


def _range(sheet: str, col0: int, row0: int, col1: int, row1: int) -> str:
    quoted = "'" + sheet.replace("'", "''") + "'"
    return f"{quoted}!${column_letter(col0)}${row0}:${column_letter(col1)}${row1}"


def _missing(
    layout: TableLayout, spec: ChartSpec, names: Sequence[str], positions: dict[str, int]
) -> None:
    missing = [n for n in names if n not in positions]
    if missing:
        raise ValueError(
            f"chart {spec.title!r} of the table {layout.table} names the column(s) {missing}, "
            f"which the table does not have (it has {list(positions)})"
        )


def _across(
    spec: ChartSpec, series: list[RowSeries], layout: TableLayout, positions: dict[str, int]
) -> tuple[tuple[str, list[str]], list[SeriesData]]:
    names = [
        *spec.across,
        *(c for s in series for c in s.where),
        *(s.level for s in series if s.level),
    ]
    _missing(layout, spec, names, positions)
    cols = [positions[c] for c in spec.across]
    if not cols or cols != list(range(cols[0], cols[0] + len(cols))):
        raise ValueError(
            f"chart {spec.title!r} of the table {layout.table}: across must name adjacent "
            "columns, in table order"
        )
    left, right = cols[0], cols[-1]
    categories = (_range(layout.sheet, left, layout.top, right, layout.top), list(spec.across))
    frame = layout.frame
    out = []
    row_colours: dict[int, str] = {}  # a flat line takes the colour of its row's line
    for s in series:
        row = _first_row(frame, s.where)
        if row is None:
            continue
        color = (
            s.color
            or (row_colours.get(row) if s.level else None)
            or PALETTE[len(row_colours) % len(PALETTE)]
        )
        if s.level is None:
            row_colours.setdefault(row, color)
        excel_row = layout.top + 1 + row
        if s.level is not None:
            level = _number(frame.iat[row, positions[s.level]])
            if level is None:
                continue
            fmt = layout.formats[positions[s.level]]
            out.append(SeriesData(s.name, color, [level] * len(cols), None, fmt, dashed=True))
            continue
        values = [_number(frame.iat[row, c]) for c in cols]
        ref = _range(layout.sheet, left, excel_row, right, excel_row)
        out.append(SeriesData(s.name, color, values, ref, layout.formats[left]))
    return categories, out


def _down(
    spec: ChartSpec, series: list[ColumnSeries], layout: TableLayout, positions: dict[str, int]
) -> tuple[tuple[str, list[str]], list[SeriesData]]:
    if spec.categories is None:
        raise ValueError(
            f"chart {spec.title!r} of the table {layout.table}: column series need categories "
            "(the column that labels the points)"
        )
    _missing(layout, spec, [spec.categories, *(s.column for s in series)], positions)
    n = min(len(layout.frame), max(spec.max_rows, 0))
    if not n:
        return ("", []), []
    first, last = layout.top + 1, layout.top + n
    cat = positions[spec.categories]
    labels = [_label(v) for v in layout.frame.iloc[:n, cat].tolist()]
    categories = (_range(layout.sheet, cat, first, cat, last), labels)
    out = []
    for i, s in enumerate(series):
        col = positions[s.column]
        values = [_number(v) for v in layout.frame.iloc[:n, col].tolist()]
        ref = _range(layout.sheet, col, first, col, last)
        color = s.color or PALETTE[i % len(PALETTE)]
        out.append(SeriesData(s.name, color, values, ref, layout.formats[col]))
    return categories, out


def _first_row(frame: pd.DataFrame, where: Any) -> int | None:
    mask = pd.Series(True, index=frame.index)
    for column, value in where.items():
        mask &= frame[column].astype(object) == value
    hits = mask.to_numpy().nonzero()[0]
    return int(hits[0]) if len(hits) else None


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _label(value: Any) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value.time().isoformat() == "00:00:00" else str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --------------------------------------------------------------------------- the XML


def _text(value: str) -> str:
    return escape_text(value)


def _num(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _points(values: Sequence[float | None]) -> str:
    return "".join(
        f'<c:pt idx="{i}"><c:v>{_num(v)}</c:v></c:pt>'
        for i, v in enumerate(values)
        if v is not None
    )


def _str_cache(labels: Sequence[str]) -> str:
    points = "".join(
        f'<c:pt idx="{i}"><c:v>{_text(v)}</c:v></c:pt>' for i, v in enumerate(labels) if v != ""
    )
    return f'<c:strCache><c:ptCount val="{len(labels)}"/>{points}</c:strCache>'


def _series_xml(index: int, s: SeriesData, categories: tuple[str, list[str]], kind: str) -> str:
    cat_ref, labels = categories
    cache = f'<c:formatCode>{_text(s.fmt)}</c:formatCode><c:ptCount val="{len(s.values)}"/>'
    values = (
        f"<c:val><c:numRef><c:f>{_text(s.values_ref or '')}</c:f><c:numCache>{cache}"
        f"{_points(s.values)}</c:numCache></c:numRef></c:val>"
    )
    fill = f'<a:solidFill><a:srgbClr val="{s.color}"/></a:solidFill>'
    if kind == "line":
        dash = '<a:prstDash val="dash"/>' if s.dashed else ""
        width = 19050 if s.dashed else 28575
        look = (
            f'<c:spPr><a:ln w="{width}" cap="rnd">{fill}{dash}<a:round/></a:ln></c:spPr>'
            '<c:marker><c:symbol val="none"/></c:marker>'
        )
    else:
        look = f'<c:spPr>{fill}</c:spPr><c:invertIfNegative val="0"/>'
    cat = f"<c:cat><c:strRef><c:f>{_text(cat_ref)}</c:f>{_str_cache(labels)}</c:strRef></c:cat>"
    tail = '<c:smooth val="0"/>' if kind == "line" else ""
    return (
        f'<c:ser><c:idx val="{index}"/><c:order val="{index}"/>'
        f"<c:tx><c:v>{_text(s.name)}</c:v></c:tx>{look}{cat}{values}{tail}</c:ser>"
    )


def _title(text: str, size: int = 1400) -> str:
    return (
        f'<c:title><c:tx><c:rich><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="{size}" '
        f'b="1"/></a:pPr><a:r><a:rPr lang="en-US" sz="{size}" b="1"/><a:t>{_text(text)}</a:t>'
        '</a:r></a:p></c:rich></c:tx><c:overlay val="0"/></c:title>'
    )


def _chart_space(
    spec: ChartSpec, categories: tuple[str, list[str]], series: list[SeriesData], value_format: str
) -> str:
    kind = spec.kind
    body = "".join(_series_xml(i, s, categories, kind) for i, s in enumerate(series))
    axes = f'<c:axId val="{_CAT_AXIS}"/><c:axId val="{_VAL_AXIS}"/>'
    if kind == "line":
        plot = (
            f'<c:lineChart><c:grouping val="standard"/><c:varyColors val="0"/>{body}'
            f'<c:marker val="1"/>{axes}</c:lineChart>'
        )
    else:
        direction = "bar" if kind == "bar" else "col"
        plot = (
            f'<c:barChart><c:barDir val="{direction}"/><c:grouping val="clustered"/>'
            f'<c:varyColors val="0"/>{body}<c:gapWidth val="80"/>{axes}</c:barChart>'
        )
    horizontal = kind == "bar"
    # Horizontal bars list the first row at the top: categories run max to min, and the
    # value axis then crosses at the last category to stay at the bottom.
    cat_axis = (
        f'<c:catAx><c:axId val="{_CAT_AXIS}"/><c:scaling><c:orientation '
        f'val="{"maxMin" if horizontal else "minMax"}"/></c:scaling><c:delete val="0"/>'
        f'<c:axPos val="{"l" if horizontal else "b"}"/><c:numFmt formatCode="General" '
        'sourceLinked="0"/><c:majorTickMark val="out"/><c:minorTickMark val="none"/>'
        f'<c:tickLblPos val="low"/><c:crossAx val="{_VAL_AXIS}"/><c:crosses val="autoZero"/>'
        '<c:auto val="1"/><c:lblAlgn val="ctr"/><c:lblOffset val="100"/>'
        '<c:noMultiLvlLbl val="0"/></c:catAx>'
    )
    val_axis = (
        f'<c:valAx><c:axId val="{_VAL_AXIS}"/><c:scaling><c:orientation val="minMax"/>'
        f'</c:scaling><c:delete val="0"/><c:axPos val="{"b" if horizontal else "l"}"/>'
        f'<c:majorGridlines/><c:numFmt formatCode="{_text(value_format)}" sourceLinked="0"/>'
        '<c:majorTickMark val="out"/><c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/>'
        f'<c:crossAx val="{_CAT_AXIS}"/><c:crosses val="{"max" if horizontal else "autoZero"}"/>'
        '<c:crossBetween val="between"/></c:valAx>'
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<c:chartSpace xmlns:c="{NS_CHART}" xmlns:a="{NS_DRAWING}" xmlns:r="{NS_REL}">'
        '<c:roundedCorners val="0"/><c:chart>'
        f'{_title(spec.title)}<c:autoTitleDeleted val="0"/><c:plotArea><c:layout/>'
        f"{plot}{cat_axis}{val_axis}</c:plotArea>"
        '<c:legend><c:legendPos val="b"/><c:overlay val="0"/></c:legend>'
        '<c:plotVisOnly val="1"/><c:dispBlanksAs val="gap"/></c:chart></c:chartSpace>'
    )


def render_drawing(placed: Sequence[tuple[Anchor, str]]) -> str:
    """The drawing part holding one chart frame per (anchor, relationship id to its chart)."""
    frames = []
    for n, (a, rid) in enumerate(placed, start=1):
        frames.append(
            '<xdr:twoCellAnchor editAs="oneCell">'
            f"<xdr:from><xdr:col>{a.col}</xdr:col><xdr:colOff>0</xdr:colOff>"
            f"<xdr:row>{a.row}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>"
            f"<xdr:to><xdr:col>{a.col + a.cols}</xdr:col><xdr:colOff>0</xdr:colOff>"
            f"<xdr:row>{a.row + a.rows}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>"
            '<xdr:graphicFrame macro=""><xdr:nvGraphicFramePr>'
            f'<xdr:cNvPr id="{n + 1}" name="{ANCHOR_NAME} {n}"/><xdr:cNvGraphicFramePr/>'
            '</xdr:nvGraphicFramePr><xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/>'
            f'</xdr:xfrm><a:graphic><a:graphicData uri="{NS_CHART}">'
            f'<c:chart xmlns:c="{NS_CHART}" xmlns:r="{NS_REL}" r:id="{rid}"/>'
            "</a:graphicData></a:graphic></xdr:graphicFrame><xdr:clientData/>"
            "</xdr:twoCellAnchor>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<xdr:wsDr xmlns:xdr="{NS_SPREADSHEET_DRAWING}" xmlns:a="{NS_DRAWING}">'
        + "".join(frames)
        + "</xdr:wsDr>"
    )
