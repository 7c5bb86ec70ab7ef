"""``sheetloop allocate`` on a workbook: the README's worked example, and what it keeps."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from support.books import make_book, sha256

from sheetloop.addin import cli
from sheetloop.workbooks import schema
from sheetloop.workbooks.file_book import FileBook
from sheetloop.workbooks.reading import parse_table

MONDAY = dt.date(2026, 11, 30)
README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def example(tmp_path: Path) -> Path:
    """The README's worked example: 60 bikes, one tier-1 and two tier-2 customers."""
    return make_book(
        tmp_path / "example.xlsx",
        {
            "Settings": [
                ["Setting", "Value"],
                ["Horizon Start", MONDAY],
                ["Periods", 4],
                ["Max Lateness", 1],
            ],
            "Items": [["Item"], ["BIKE"]],
            "Inventory": [["Item", "Site", "On Hand"], ["BIKE", "MAIN", 60]],
            "Customers": [
                ["Customer", "Name", "Tier", "Service Target"],
                ["ACME", "Acme Cycles", 1, 0.95],
                ["BOLT", "Bolt Bikes", 2, 0.9],
                ["CRUX", "Crux Sport", 2, 0.9],
            ],
            "Demand": [
                ["Demand", "Item", "Site", "Customer", "Due", "Qty"],
                ["SO-1", "BIKE", "MAIN", "ACME", MONDAY, 40],
                ["SO-2", "BIKE", "MAIN", "BOLT", MONDAY, 30],
                ["SO-3", "BIKE", "MAIN", "CRUX", MONDAY, 20],
            ],
        },
    )


def table(path: Path, name: str):  # type: ignore[no-untyped-def]
    raw = FileBook.open(path).find_table(name)
    assert raw is not None, f"{name} was not written"
    return parse_table(raw, schema.table(name))[0].frame


def test_the_readme_worked_example_is_what_allocate_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = example(tmp_path)
    assert cli.main(["allocate", str(path)]) == 0
    status = table(path, "DemandStatus")
    for row in status.itertuples(index=False):
        line = (
            f"| {row.Demand} | {row.Customer} | {int(row.Tier)} | {row.Qty:g} | "
            f"{row.Allocated:g} | {row.Short:g} | {row[7]:.0%} | "
            f"{'yes' if row[8] else 'no'} |"
        )
        assert line in README, f"README's example is stale: {line}"
    service = table(path, "CustomerService")
    assert service["Customer"].tolist()[-1] == "ACME"  # least served first
    assert "Allocation" in FileBook.open(path).table_names()


def test_allocate_keeps_the_plan_rows_of_exceptions_and_replaces_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = example(tmp_path)
    assert cli.main(["plan", str(path)]) == 0
    plan_codes = set(table(path, "Exceptions")["Code"])
    cli.main(["allocate", str(path)])
    cli.main(["allocate", str(path)])
    codes = table(path, "Exceptions")["Code"].tolist()
    assert plan_codes <= set(codes)
    assert codes.count("SHORTAGE") == 2  # BOLT and CRUX, once each after two runs


def test_a_solver_that_cannot_finish_writes_nothing_and_exits_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    from sheetloop.addin import allocating
    from sheetloop.errors import SolverError

    def out_of_time(**_: object) -> None:
        raise SolverError("HiGHS ran out of time (Time Limit 600 s): raise Time Limit")

    monkeypatch.setattr(allocating, "allocate", out_of_time)
    path = example(tmp_path)
    before = sha256(path)
    assert cli.main(["allocate", str(path)]) == 4
    assert "ran out of time" in capsys.readouterr().err
    assert sha256(path) == before


def test_an_unknown_solver_setting_is_named_at_its_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = make_book(
        tmp_path / "b.xlsx",
        {
            "Settings": [["Setting", "Value"], ["Solver", "gurobi"]],
            "Items": [["Item"], ["A"]],
            "Demand": [["Demand", "Item", "Due", "Qty"]],
        },
    )
    assert cli.main(["allocate", str(path)]) == 1
    assert "Settings!B2" in capsys.readouterr().err
