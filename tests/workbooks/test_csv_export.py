"""Output tables as CSV: what pandas would write, formula-safe, at any size."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sheetloop.workbooks import csv_export
from sheetloop.workbooks.csv_export import export_csv, write_csv
from sheetloop.workbooks.interface import TableWrite
from sheetloop.workbooks.schema import PEGGING


def written(tmp_path: Path, frame: pd.DataFrame) -> bytes:
    path = tmp_path / "table.csv"
    write_csv(path, frame)
    return path.read_bytes()


def rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads UTF-8
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline="")))


def test_plain_values_are_written_as_pandas_writes_them(tmp_path: Path):
    rng = np.random.default_rng(0)
    n = 500
    frame = pd.DataFrame(
        {
            "Order": [f"O-{k}" for k in range(n)],
            "Qty": np.where(
                rng.random(n) < 0.1, np.nan, rng.random(n) * 10.0 ** rng.integers(-6, 9, n)
            ),
            "Whole": rng.integers(-(10**12), 10**12, n),
            "Firm": rng.random(n) < 0.5,
            "Due": pd.Timestamp("2026-11-30") + pd.to_timedelta(rng.integers(0, 700, n), "D"),
            "Note": [None if k % 4 else f"note {k}, with a comma" for k in range(n)],
            "Odd": [[1.5, "x", None, -0.0, float("inf")][k % 5] for k in range(n)],
        }
    )
    frame.loc[3, "Due"] = pd.NaT
    expected = frame.to_csv(index=False, date_format="%Y-%m-%d", lineterminator=os.linesep)
    assert written(tmp_path, frame) == b"\xef\xbb\xbf" + expected.encode("utf-8")


def test_numbers_read_back_exactly(tmp_path: Path):
    rng = np.random.default_rng(1)
    numbers = np.concatenate(
        [rng.random(2_000) * 10.0 ** rng.integers(-12, 18, 2_000), [0.0, 1e-4, 1e16, 0.1 + 0.2]]
    )
    back = [float(r[0]) for r in rows(written(tmp_path, pd.DataFrame({"Qty": numbers})))[1:]]
    assert back == numbers.tolist()


def test_text_a_spreadsheet_would_run_as_a_formula_gets_an_apostrophe(tmp_path: Path):
    risky = ["=HYPERLINK(1)", "+1", "-2", "@SUM(A1)", "\tTab", "safe", "a=b"]
    frame = pd.DataFrame(
        {
            "Text": risky,
            "Categories": pd.Categorical(risky),
            "Strings": pd.Series(risky, dtype="str"),
            "=Header": range(len(risky)),
            "Negative": [-1.5] * len(risky),
        }
    )
    table = rows(written(tmp_path, frame))
    assert table[0] == ["Text", "Categories", "Strings", "'=Header", "Negative"]
    safe = ["'=HYPERLINK(1)", "'+1", "'-2", "'@SUM(A1)", "'\tTab", "safe", "a=b"]
    assert [r[:3] for r in table[1:]] == [[s, s, s] for s in safe]
    assert {r[4] for r in table[1:]} == {"-1.5"}  # numbers are not text


def test_text_with_commas_quotes_and_line_breaks_is_quoted(tmp_path: Path):
    texts = ['a "quoted" word', "one, two", "two\nlines", "carriage\rreturn", "=a,b", "plain"]
    data = written(tmp_path, pd.DataFrame({"Text": texts}))
    assert [r[0] for r in rows(data)[1:]] == [*texts[:4], "'=a,b", "plain"]
    assert b'"carriage\rreturn"' in data  # a bare CR would end the row for many readers


def test_unicode_is_kept_and_nul_characters_are_dropped(tmp_path: Path):
    texts = ["Müller", "東京", "nul\x00byte", "", None]
    table = rows(written(tmp_path, pd.DataFrame({"Text": texts, "N": range(5)})))
    assert [r[0] for r in table[1:]] == ["Müller", "東京", "nulbyte", "", ""]


def test_a_table_is_written_in_pieces_that_join_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(csv_export, "_ROWS_AT_ONCE", 7)
    frame = pd.DataFrame(
        {
            "Order": pd.Categorical([f"O{k % 5}" for k in range(100)]),
            "Demand": [f"D{k}" for k in range(100)],
            "Qty": np.arange(100) / 4,
        }
    )
    table = rows(written(tmp_path, frame))
    assert table[1:] == [[f"O{k % 5}", f"D{k}", repr(k / 4)] for k in range(100)]


def test_export_writes_one_file_per_table_named_after_it(tmp_path: Path):
    frame = pd.DataFrame({"Order": ["O1"], "Demand": ["D1"], "Qty": [2.0]})
    (path,) = export_csv(tmp_path / "out", [TableWrite(PEGGING, frame)])
    assert path == tmp_path / "out" / "Pegging.csv"
    assert rows(path.read_bytes()) == [["Order", "Demand", "Qty"], ["O1", "D1", "2.0"]]
