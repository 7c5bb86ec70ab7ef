"""The worksheet XML of an output table: every cell as its value says, at any size."""

from __future__ import annotations

import datetime as dt
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sheetloop.workbooks import sheet_xml
from sheetloop.workbooks.blank_package import write_blank_package
from sheetloop.workbooks.byte_blocks import constant, float_block, int_block, squeeze
from sheetloop.workbooks.interface import TableWrite
from sheetloop.workbooks.schema import PLANNED_ORDERS, SETTINGS
from sheetloop.workbooks.sheet_xml import FORMATS, QUOTED_TEXT, render_table_sheet
from sheetloop.workbooks.styles_xml import Styles
from sheetloop.workbooks.zip_package import Package

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
SPACE = "{http://www.w3.org/XML/1998/namespace}space"

# Values that have caught writers out: markup, controls, Excel's own escapes, spaces,
# formula starts, other scripts, and every kind of missing.
TRICKY: list[Any] = [
    "plain",
    "a&b<c>d",
    "ctrl\x01char",
    "nul\x00char",
    "_x0041_ looks escaped",
    "\ufffe",
    " leading",
    "trailing\t",
    "\u00a0no-break space",
    "=SUM(A1)",
    "+1",
    "-x",
    "@me",
    "Müller",
    "東京",
    "line\nbreak",
    "",
    None,
    float("nan"),
    pd.NaT,
    1.5,
    3,
    True,
    dt.date(2026, 1, 2),
]


@pytest.fixture
def styles(tmp_path: Path) -> Iterator[Styles]:
    write_blank_package(tmp_path / "blank.xlsx")
    with Package(tmp_path / "blank.xlsx") as package:
        yield Styles(package)


def cells(xml: bytes) -> dict[str, tuple[str | None, str | None, str, bool]]:
    """Each cell by reference: (style, type, text, keeps its spaces)."""
    found = {}
    for c in ET.fromstring(xml).iter(f"{MAIN}c"):
        text = "".join(c.itertext())
        kept = any(t.get(SPACE) == "preserve" for t in c.iter(f"{MAIN}t"))
        found[c.get("r", "")] = (c.get("s"), c.get("t"), text, kept)
    return found


def excel_text(value: str) -> str:
    """A cell's text as written: characters XML forbids as _xHHHH_, and a literal _xHHHH_
    protected by escaping its underscore."""
    value = re.sub(r"_x([0-9A-Fa-f]{4})_", r"_x005F_x\1_", value)
    return re.sub(
        r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", lambda m: f"_x{ord(m.group()):04X}_", value
    )


def expected_text_cell(
    value: Any, style: int, quoted: int, *, numbers: bool = False
) -> tuple[str | None, str | None, str, bool] | None:
    if (
        value is None
        or value is pd.NaT
        or value == ""
        or (isinstance(value, float) and math.isnan(value))
    ):
        return None
    if numbers and type(value) in (float, int):
        return (None, None, repr(value), False)
    text = sheet_xml.as_text(value) if not isinstance(value, str) else value
    kept = text[:1].isspace() or text[-1:].isspace()
    s = quoted if text.startswith(("=", "+", "-", "@")) else style
    return (str(s), "inlineStr", excel_text(text), kept)


def test_every_text_cell_is_written_as_its_value_says(
    styles: Styles, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(sheet_xml, "_CELLS_PER_BATCH", 20)  # several batches of rows
    n = 3 * len(TRICKY)
    values = [TRICKY[k % len(TRICKY)] for k in range(n)]
    reversed_values = values[::-1]
    frame = pd.DataFrame(
        {
            "Order": values,
            "Item": pd.Categorical([v if isinstance(v, str) else "x" for v in reversed_values]),
        }
    )
    xml = render_table_sheet(TableWrite(PLANNED_ORDERS, frame), styles, "rId1").xml
    found = cells(xml)
    style, quoted = (
        styles.index(FORMATS[PLANNED_ORDERS.column("Order").kind]),
        styles.index(QUOTED_TEXT),
    )
    for k in range(n):
        for letter, value in (("A", values[k]), ("B", frame["Item"].iat[k])):
            want = expected_text_cell(value, style, quoted)
            assert found.get(f"{letter}{k + 2}") == want, (letter, k, value)


def test_a_free_text_column_keeps_numbers_as_numbers(styles: Styles):
    frame = pd.DataFrame({"Setting": ["A", "B", "C", "D"], "Value": [26, 1.5, "=1", None]})
    found = cells(render_table_sheet(TableWrite(SETTINGS, frame), styles, "rId1").xml)
    assert found["B2"] == (None, None, "26", False)
    assert found["B3"] == (None, None, "1.5", False)
    assert found["B4"][1:] == ("inlineStr", "=1", False)
    assert found["B4"][0] == str(styles.index(QUOTED_TEXT))
    assert "B5" not in found


def test_numbers_dates_and_yes_no_cells(styles: Styles):
    frame = pd.DataFrame(
        {
            "Order": ["O1", "O2", "O3"],
            "Due": [pd.Timestamp("2026-11-30"), pd.NaT, pd.Timestamp("1900-03-01 12:00")],
            "Qty": [2.0, float("inf"), 0.1 + 0.2],
            "Firm": [True, False, True],
            "Score": np.array([1, -7, 10**17]),
        }
    )
    found = cells(render_table_sheet(TableWrite(PLANNED_ORDERS, frame), styles, "rId1").xml)
    assert [found[f"B{r}"][2] for r in (2, 4)] == ["46356.0", "61.5"]
    assert "B3" not in found and "C3" not in found
    assert [found[f"C{r}"][2] for r in (2, 4)] == ["2.0", "0.30000000000000004"]
    assert [found[f"D{r}"][2] for r in (2, 3, 4)] == ["yes", "no", "yes"]
    assert [found[f"E{r}"][2] for r in (2, 3, 4)] == ["1.0", "-7.0", "1e+17"]


def test_cells_beside_the_table_join_its_rows_and_follow_it(styles: Styles):
    frame = pd.DataFrame({"Order": ["O1", "O2"], "Qty": [1.0, 2.0]})
    side = {2: [(5, "level")], 3: [(5, 4.0)], 9: [(5, "below")]}
    xml = render_table_sheet(TableWrite(PLANNED_ORDERS, frame), styles, "rId1", side_cells=side).xml
    rows = [
        (r.get("r"), [c.get("r") for c in r.iter(f"{MAIN}c")])
        for r in ET.fromstring(xml).iter(f"{MAIN}row")
    ]
    assert rows == [
        ("1", ["A1", "B1"]),
        ("2", ["A2", "B2", "F2"]),
        ("3", ["A3", "B3", "F3"]),
        ("9", ["F9"]),
    ]


def test_floats_are_written_as_repr_writes_them():
    rng = np.random.default_rng(3)
    values = np.concatenate(
        [
            # More than the 131,072 values formatted at once.
            np.round(rng.random(200_000) * 10.0 ** rng.integers(-5, 8, 200_000), 6),
            rng.random(1_000) * 10.0 ** rng.integers(-300, 300, 1_000),
            [0.0, -0.0, 1e-4, 9.99e-5, 1e16, 1e16 - 2, -123456.789, 1 / 3, 5e-324],
            [float("nan"), float("inf"), -float("inf")],
        ]
    )
    block, finite = float_block(values)
    texts = squeeze([block, constant("\n", len(values))]).decode().split("\n")
    written = iter(texts)
    assert [next(written) if ok else None for ok in finite] == [
        repr(v) if math.isfinite(v) else None for v in values.tolist()
    ]


def test_integers_are_written_as_str_writes_them():
    values = np.array([0, 7, -7, 9_999, 10_000, 10**17, -(2**63), 2**63 - 1], dtype=np.int64)
    texts = squeeze([int_block(values), constant("\n", len(values))]).decode().split("\n")[:-1]
    assert texts == [str(v) for v in values.tolist()]


def test_a_categorical_column_of_a_few_rows_from_many_categories(styles: Styles):
    # A sheet keeps the first million rows of a pegging table whose Order categories are
    # every planned order: only the categories the rows use are written.
    categories = pd.Index([f"O{k}" for k in range(5_000)], dtype=object)
    orders = pd.Categorical.from_codes([4_999, 7, 7, -1], categories=categories)
    frame = pd.DataFrame({"Order": orders, "Qty": [1.0, 2.0, 3.0, 4.0]})
    found = cells(render_table_sheet(TableWrite(PLANNED_ORDERS, frame), styles, "rId1").xml)
    assert [found.get(f"A{r}", (None, None, None, False))[2] for r in range(2, 6)] == [
        "O4999",
        "O7",
        "O7",
        None,
    ]
