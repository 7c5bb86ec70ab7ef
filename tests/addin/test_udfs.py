"""Worksheet functions: what a cell formula gets back, through the path Excel's add-in uses.

Most tests call the functions as xlwings' add-in does: a worker process imports
``sheetloop.addin.udfs`` with xlwings in server mode, and ``custom_functions_call`` turns
the JSON an Excel client sends (every argument a 2-D list of cell values) into Python
arguments with each function's converters, calls it and converts the result back into
cell values. Others call the plain functions directly, which is all there is without
Excel: the decorators are then no-ops.

What this cannot reach: the Windows COM path (pywin32 and the add-in's VBA, which
``Import Functions`` generates from the same ``__xlfunc__`` metadata), Excel's function
wizard and Excel's own spilling of the returned arrays. That is acceptable because the
decorators are thin: they only declare names, docs and converters (asserted below), and
all behaviour lives in plain functions whose arguments arrive as the same 2-D lists and
scalars on every path.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.mrp_reference import OWN, SHARED, expected_row, load
from support.xlwings_udfs import SERVER_ENV, UdfWorker

from sheetloop.addin import udfs
from sheetloop.solver.buckets import Calendar
from sheetloop.solver.mrp import LINES, plan

RULES = ("L4L", "FOQ", "EOQ", "POQ", "LUC", "SM", "WW")
SIGNATURES = {
    "SL_MRP": (
        ["gross", "on_hand", "receipts", "lead_time"],
        [
            "safety_stock",
            "lot_rule",
            "lot_size",
            "min_qty",
            "multiple",
            "setup_cost",
            "holding_cost",
        ],
    ),
    "SL_LOTSIZE": (
        ["net_requirements", "rule"],
        ["lot_size", "setup_cost", "holding_cost", "min_qty", "multiple"],
    ),
    "SL_EOQ": (["demand", "setup_cost", "holding_cost"], []),
    "SL_EXPLODE": (["bom_range", "item", "qty"], []),
    "SL_ALLOCATE": (["supply", "demand", "priorities"], ["costs"]),
}
RANGE_ARGUMENTS = {
    "SL_MRP": {"gross", "receipts"},
    "SL_LOTSIZE": {"net_requirements"},
    "SL_EOQ": {"demand"},
    "SL_EXPLODE": {"bom_range"},
    "SL_ALLOCATE": {"supply", "demand", "priorities", "costs"},
}
ORLICKY_NET = [35, 10, 0, 40, 0, 20, 5, 10, 30]  # Orlicky ch. 8: S = 100, H = 1 per period


@pytest.fixture(scope="module")
def excel() -> Iterator[UdfWorker]:
    with UdfWorker() as worker:
        assert worker.ready == {"on_server": True}
        yield worker


@pytest.fixture(scope="module")
def metadata(excel: UdfWorker) -> dict[str, Any]:
    return excel.metadata()


# --- helpers ---------------------------------------------------------------------------------


def is_error(result: Any, argument: str) -> str:
    """The one-cell error text of ``result``, checked against the convention."""
    text = result[0][0] if isinstance(result, list) else result
    if isinstance(result, list):
        assert result == [[text]], f"an error is one cell, got {result!r}"
    assert isinstance(text, str), result
    assert text.startswith(f"{udfs.ERROR_PREFIX} {argument}: "), text
    assert "Traceback" not in text and "\n" not in text, text
    return text


def plan_record(
    gross: list[float],
    on_hand: float = 0.0,
    receipts: list[float] | None = None,
    lead_time: int = 0,
    safety_stock: float = 0.0,
    **item: Any,
) -> list[list[Any]]:
    """The six MRP lines ``sheetloop plan`` computes for a one-item book (period buckets)."""
    periods = len(gross)
    receipts = receipts or [0.0] * periods
    items = pd.DataFrame(
        [
            {
                "Item": "P",
                "Lead Time": float(lead_time),
                "Safety Stock": float(safety_stock),
                "Lot Rule": item.get("rule", "L4L"),
                "Lot Size": item.get("lot_size", np.nan),
                "POQ Periods": item.get("poq_periods", np.nan),
                "Min Order Qty": item.get("min_qty", 0.0),
                "Order Multiple": item.get("multiple", np.nan),
                "Setup Cost": item.get("setup_cost", np.nan),
                "Holding Cost": item.get("holding_cost", np.nan),
            }
        ]
    )
    result = plan(
        items=items,
        calendar=Calendar.create("period", dt.date(2026, 1, 5), periods),
        inventory=pd.DataFrame({"Item": ["P"], "Site": ["MAIN"], "On Hand": [float(on_hand)]}),
        receipts=pd.DataFrame(
            [
                {"Order": f"PO{t}", "Item": "P", "Site": "MAIN", "Due": t + 1.0, "Qty": q}
                for t, q in enumerate(receipts)
                if q
            ],
            columns=["Order", "Item", "Site", "Due", "Qty"],
        ),
        demand=pd.DataFrame(
            [
                {"Demand": f"SO{t}", "Item": "P", "Site": "MAIN", "Due": t + 1.0, "Qty": q}
                for t, q in enumerate(gross)
                if q
            ],
            columns=["Demand", "Item", "Site", "Due", "Qty"],
        ),
    )
    k = int(np.flatnonzero(result.records["Item"] == "P")[0])
    arrays = (
        result.gross,
        result.scheduled,
        result.on_hand,
        result.net,
        result.receipts,
        result.releases,
    )
    return [[line, *np.round(a[k], 6).tolist()] for line, a in zip(LINES, arrays, strict=True)]


def rounded(record: list[list[Any]]) -> list[list[Any]]:
    return [[r[0], *(round(float(v), 6) for v in r[1:])] for r in record]


def lot_cost(net: list[float], receipts: list[float], setup: float, holding: float) -> float:
    """Setups plus holding of what each period ends with (the contract's convention)."""
    ending = np.cumsum(receipts) - np.cumsum(net)
    assert (ending >= -1e-9).all(), "the receipts do not cover the requirements"
    return setup * int(np.count_nonzero(receipts)) + holding * float(ending.sum())


def single_item_cases() -> list[Path]:
    """Published one-item records that fit a row of periods from 1 (no past due)."""
    files = sorted(OWN.glob("*.json")) + (sorted(SHARED.glob("*.json")) if SHARED.exists() else [])
    fitting = []
    for path in files:
        case = load(path)
        item = case["items"][0]
        periods = [e["period"] for e in case["gross_requirements"] + case["scheduled_receipts"]]
        expected = [
            str(p)
            for line in case["expected"].values()
            if isinstance(line, dict)
            for row in line.values()
            if isinstance(row, dict)
            for p in row
        ]
        periods += [int(p) if p.isdigit() else 0 for p in expected]
        if (
            len(case["items"]) == 1
            and not case["bom"]
            and min(periods, default=1) >= 1
            and not item.get("scrap_pct")
            and not item.get("allocated")
        ):
            fitting.append(path)
    return fitting


# --- registration: what Excel is told ---------------------------------------------------------


def test_exactly_the_five_worksheet_functions_are_registered(metadata: dict[str, Any]):
    assert set(metadata) == set(SIGNATURES)
    assert {m["name"] for m in metadata.values()} == set(SIGNATURES)


@pytest.mark.parametrize("name", SIGNATURES)
def test_arguments_are_declared_in_order_with_the_optional_ones_last(
    metadata: dict[str, Any], name: str
):
    required, optional = SIGNATURES[name]
    args = metadata[name]["args"]
    assert [a["name"] for a in args] == required + optional
    assert [a["name"] for a in args if "optional" in a] == optional
    assert all(a["optional"] is None for a in args if "optional" in a)


@pytest.mark.parametrize("name", SIGNATURES)
def test_ranges_arrive_as_two_dimensional_lists_and_single_cells_as_values(
    metadata: dict[str, Any], name: str
):
    for arg in metadata[name]["args"]:
        options = arg["options"]
        # "Any" is xlwings' plain value converter; "object" would turn cells into object
        # handles instead.
        assert options["convert"] == "Any", arg
        if arg["name"] in RANGE_ARGUMENTS[name]:
            assert options.get("ndim") == 2, arg
        else:
            assert "ndim" not in options, arg
        assert "expand" not in options, arg


@pytest.mark.parametrize("name", SIGNATURES)
def test_results_spill_as_native_dynamic_arrays(metadata: dict[str, Any], name: str):
    ret = metadata[name]["ret"]["options"]
    assert "expand" not in ret  # legacy expansion would overwrite neighbouring cells
    assert ret["convert"] == ("float" if name == "SL_EOQ" else "list")
    assert metadata[name]["volatile"] is False


@pytest.mark.parametrize("name", SIGNATURES)
def test_the_function_wizard_gets_a_description_of_the_function_and_every_argument(
    metadata: dict[str, Any], name: str
):
    description = metadata[name]["ret"]["doc"]
    # Classic xlwings hands Excel at most 255 characters, on one line.
    assert 40 < len(description) <= 255 and "\n" not in description, description
    for arg in metadata[name]["args"]:
        assert not arg["doc"].startswith("Positional argument"), arg
        assert len(arg["doc"]) <= 255, arg


def test_the_office_js_manifest_lists_every_function_with_its_optional_arguments(
    excel: UdfWorker,
):
    functions = {f["name"]: f for f in excel.manifest()["functions"]}
    assert set(functions) == set(SIGNATURES)
    for name, (required, optional) in SIGNATURES.items():
        params = functions[name]["parameters"]
        assert [p["name"] for p in params] == required + optional
        assert [p["name"] for p in params if p.get("optional")] == optional


def test_without_the_server_variables_the_module_imports_and_the_decorators_do_nothing():
    env = {k: v for k, v in os.environ.items() if k not in SERVER_ENV}
    code = (
        "import json, sheetloop.addin.udfs as u, xlwings; "
        "print(json.dumps([xlwings.on_server, hasattr(u.SL_MRP, '__xlfunc__'), "
        "u.SL_EOQ(100, 50, 2), u.SL_LOTSIZE([[1, 2]], 'L4L')]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    on_server, decorated, eoq, lots = json.loads(done.stdout.strip().splitlines()[-1])
    assert (on_server, decorated) == (False, False)
    assert eoq == math.ceil(math.sqrt(2 * 100 * 50 / 2))
    assert lots == [[1.0, 2.0]]


# --- SL_MRP ------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", RULES)
def test_sl_mrp_is_the_record_sheetloop_plan_computes_for_the_same_item(
    excel: UdfWorker, rule: str
):
    gross = [20, 0, 35, 10, 0, 40, 25, 0, 15, 30]
    receipts = [0, 30, 0, 0, 0, 0, 0, 0, 0, 0]
    params: dict[str, Any] = {"setup_cost": 60.0, "holding_cost": 1.5, "min_qty": 12.0}
    lot_size = None
    if rule == "FOQ":
        params["lot_size"] = lot_size = 25.0
    if rule == "POQ":
        params["poq_periods"] = 3
        lot_size = 3
    cells = excel.call(
        "SL_MRP",
        gross,
        18,
        receipts,
        2,
        5,
        rule,
        lot_size,
        params["min_qty"],
        None,
        params["setup_cost"],
        params["holding_cost"],
    )
    expected = plan_record(gross, 18, receipts, 2, 5, rule=rule, **params)
    assert rounded(cells) == expected
    assert [row[0] for row in cells] == list(LINES)
    assert all(len(row) == len(gross) + 1 for row in cells)


@pytest.mark.parametrize("path", single_item_cases(), ids=lambda p: p.stem)
def test_sl_mrp_reproduces_published_records(excel: UdfWorker, path: Path):
    case = load(path)
    item = case["items"][0]
    periods = int(case["periods"])
    gross, receipts = [0.0] * periods, [0.0] * periods
    for g in case["gross_requirements"]:
        gross[int(g["period"]) - 1] += float(g["qty"])
    for r in case["scheduled_receipts"]:
        receipts[int(r["period"]) - 1] += float(r["qty"])
    rule = item.get("lot_rule", "L4L")
    lot_size = item.get("poq_periods") if rule == "POQ" else item.get("lot_size")
    cells = excel.call(
        "SL_MRP",
        gross,
        item["on_hand"],
        receipts,
        item.get("lead_time", 0),
        item.get("safety_stock", 0),
        rule,
        lot_size,
        item.get("min_order_qty"),
        item.get("order_multiple"),
        item.get("setup_cost"),
        item.get("holding_cost"),
    )
    by_line = {row[0]: [round(float(v), 6) for v in row[1:]] for row in cells}
    name = item["item"]
    assert by_line["Projected On Hand"] == expected_row(case, name, "projected_on_hand")
    assert by_line["Net Requirements"] == expected_row(case, name, "net_requirements")
    assert by_line["Planned Receipts"] == expected_row(case, name, "planned_order_receipts")
    assert by_line["Planned Releases"] == expected_row(case, name, "planned_order_releases")


def test_sl_mrp_reads_empty_cells_as_zero_and_one_empty_receipts_cell_as_none(excel: UdfWorker):
    with_blanks = excel.call("SL_MRP", [30, None, 30], None, None, None)
    explicit = excel.call("SL_MRP", [30, 0, 30], 0, [0, 0, 0], 0)
    assert with_blanks == explicit
    assert with_blanks[4] == ["Planned Receipts", 30.0, 0.0, 30.0]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    periods=st.integers(1, 8),
    rule=st.sampled_from(RULES),
    on_hand=st.integers(-20, 80),
    lead_time=st.integers(0, 3),
    safety_stock=st.integers(0, 15),
    min_qty=st.integers(0, 30),
    multiple=st.one_of(st.none(), st.integers(1, 10)),
)
def test_sl_mrp_called_directly_matches_plan_for_any_one_item(
    data: st.DataObject,
    periods: int,
    rule: str,
    on_hand: int,
    lead_time: int,
    safety_stock: int,
    min_qty: int,
    multiple: int | None,
):
    gross = data.draw(st.lists(st.integers(0, 60), min_size=periods, max_size=periods))
    receipts = data.draw(
        st.lists(st.sampled_from([0, 0, 0, 25]), min_size=periods, max_size=periods)
    )
    lot_size = data.draw(st.integers(1, 40)) if rule == "FOQ" else None
    poq = data.draw(st.one_of(st.none(), st.integers(1, 4))) if rule == "POQ" else None
    params: dict[str, Any] = {"setup_cost": 50.0, "holding_cost": 2.0, "min_qty": float(min_qty)}
    if multiple is not None:
        params["multiple"] = float(multiple)
    if lot_size is not None:
        params["lot_size"] = float(lot_size)
    if poq is not None:
        params["poq_periods"] = poq
    cells = udfs.SL_MRP(
        [gross],
        on_hand,
        [receipts],
        lead_time,
        safety_stock,
        rule,
        lot_size if rule == "FOQ" else poq,
        min_qty,
        multiple,
        50,
        2,
    )
    assert isinstance(cells, list), cells
    assert rounded(cells) == plan_record(
        gross, on_hand, receipts, lead_time, safety_stock, rule=rule, **params
    )


def test_python_callers_may_pass_flat_lists_arrays_or_a_column():
    row = udfs.SL_MRP([[30, 10, 40]], 20, None, 1)
    assert udfs.SL_MRP([30, 10, 40], 20, None, 1) == row
    assert udfs.SL_MRP(np.array([30.0, 10.0, 40.0]), 20, None, 1) == row
    assert udfs.SL_MRP([[30], [10], [40]], 20, None, 1) == row


# --- SL_LOTSIZE and SL_EOQ --------------------------------------------------------------------


def test_sl_lotsize_wagner_whitin_costs_least_of_all_rules_on_orlickys_schedule(
    excel: UdfWorker,
):
    case = load(OWN / "orlicky_fig8_15_ww.json")
    costs = {}
    for rule in RULES:
        lot_size = 50 if rule == "FOQ" else None
        [receipts] = excel.call("SL_LOTSIZE", ORLICKY_NET, rule, lot_size, 100, 1)
        costs[rule] = lot_cost(ORLICKY_NET, receipts, 100, 1)
    assert costs["WW"] == min(costs.values())
    assert costs["WW"] == case["expected"]["cost"]["total"]  # 395, as the book prints
    assert max(costs.values()) > costs["WW"]


@pytest.mark.parametrize("rule", RULES)
def test_sl_lotsize_plans_every_rule_so_that_no_period_runs_short(excel: UdfWorker, rule: str):
    net = [0, 12, 40, 0, 7, 33, 18, 0, 25, 9]
    [receipts] = excel.call("SL_LOTSIZE", net, rule, 30 if rule == "FOQ" else None, 80, 0.5)
    assert len(receipts) == len(net)
    assert (np.cumsum(receipts) - np.cumsum(net) >= -1e-9).all()
    if rule == "L4L":
        assert receipts == [float(q) for q in net]
    if rule == "FOQ":
        assert all(q % 30 == 0 for q in receipts)


def test_sl_lotsize_raises_orders_to_the_minimum_then_to_the_multiple(excel: UdfWorker):
    [receipts] = excel.call("SL_LOTSIZE", [5, 0, 23], "L4L", None, None, None, 10, 4)
    # Period 1 needs 5: raised to 10, rounded up to 12. That leaves 7, so period 3 needs 16,
    # already above the minimum and a multiple of 4.
    assert receipts == [12.0, 0.0, 16.0]


def test_sl_eoq_is_the_square_root_formula_rounded_up(excel: UdfWorker):
    assert excel.call("SL_EOQ", 100, 50, 2) == [[math.ceil(math.sqrt(2 * 100 * 50 / 2))]]
    assert excel.call("SL_EOQ", [[80, 120, 100]], 50, 2) == excel.call("SL_EOQ", 100, 50, 2)
    assert udfs.SL_EOQ(0, 50, 2) == 0.0


# --- SL_EXPLODE ---------------------------------------------------------------------------------

BOM = [
    ["Parent", "Component", "Qty Per", "Scrap %", "Note"],
    ["BIKE", "FRAME", 1, None, "welded"],
    ["BIKE", "WHEEL", 2, 0, None],
    ["FRAME", "TUBE", 3, 10, None],
    [None, None, None, None, None],
    ["WHEEL", "SPOKE", 32, 5, None],
    ["WHEEL", "TUBE", 0.5, None, None],
]


def test_sl_explode_multiplies_quantities_through_every_level_depth_first(excel: UdfWorker):
    cells = excel.call("SL_EXPLODE", BOM, "BIKE", 10)
    assert cells[0] == ["Level", "Component", "Qty Per", "Extended Qty"]
    lines = cells[1:]
    assert [(r[0], r[1]) for r in lines] == [
        (1, "FRAME"),
        (2, "TUBE"),
        (1, "WHEEL"),
        (2, "SPOKE"),
        (2, "TUBE"),
    ]
    scrap = {(r[0], r[1]): (r[3] or 0) / 100 for r in BOM[1:] if r[0]}
    for k, (level, component, per, extended) in enumerate(lines):
        parents = [r for r in lines[:k] if r[0] == level - 1]
        parent, parent_qty = ("BIKE", 10.0) if level == 1 else (parents[-1][1], parents[-1][3])
        factor = 1 + scrap[(parent, component)]
        assert extended == pytest.approx(parent_qty * per * factor)
    assert lines[3][3] == pytest.approx(10 * 2 * 32 * 1.05)


def test_sl_explode_matches_headers_leniently_and_codes_typed_as_numbers():
    bom = [
        ["parent", "COMPONENT", "qty_per", "scrap-%"],
        [100, "00123", 2, None],
        ["00123", 7, 4, None],
    ]
    cells = udfs.SL_EXPLODE(bom, "100", 1)
    assert cells[1:] == [[1, "00123", 2.0, 2.0], [2, "7", 4.0, 8.0]]


def test_sl_explode_names_the_loop_of_a_cyclic_bill(excel: UdfWorker):
    cyclic = [*BOM, ["TUBE", "BIKE", 1, None, None]]
    text = is_error(excel.call("SL_EXPLODE", cyclic, "BIKE", 1), "bom_range")
    loop = text.split("BOM cycle: ")[1].split(":")[0].split(" → ")
    assert loop[0] == loop[-1] and {"BIKE", "TUBE"} <= set(loop)


# --- SL_ALLOCATE --------------------------------------------------------------------------------

SUPPLY = [["Item", "Qty"], ["X", 10], ["Y", 50]]
DEMAND = [
    ["Demand", "Customer", "Item", "Qty"],
    ["SO1", "SMALL", "X", 8],
    ["SO2", "KEY", "X", 8],
    ["SO3", "SMALL", "Y", 5],
    ["SO4", "KEY", "Z", 3],
]
TIERS = [["Customer", "Tier"], ["KEY", 1], ["SMALL", 2]]


def allocated(cells: list[list[Any]]) -> dict[str, tuple[float, float]]:
    assert cells[0] == ["Demand", "Customer", "Item", "Allocated", "Short"]
    return {r[0]: (r[3], r[4]) for r in cells[1:]}


def test_sl_allocate_serves_the_higher_tier_first_when_supply_is_short(excel: UdfWorker):
    result = allocated(excel.call("SL_ALLOCATE", SUPPLY, DEMAND, TIERS))
    assert result["SO2"] == (8.0, 0.0)  # KEY, tier 1, fully served
    assert result["SO1"] == (2.0, 6.0)  # SMALL gets what is left


def test_sl_allocate_never_ships_more_than_supply_and_accounts_for_every_unit(
    excel: UdfWorker,
):
    cells = excel.call("SL_ALLOCATE", SUPPLY, DEMAND, TIERS)
    supply = {r[0]: r[1] for r in SUPPLY[1:]}
    shipped: dict[str, float] = {}
    for (demand, customer, item, got, short), line in zip(cells[1:], DEMAND[1:], strict=True):
        assert (demand, customer, item) == tuple(line[:3])
        assert got >= 0 and short >= 0 and got + short == pytest.approx(line[3])
        shipped[item] = shipped.get(item, 0.0) + got
    assert all(q <= supply.get(item, 0) + 1e-9 for item, q in shipped.items())
    assert allocated(cells)["SO4"] == (0.0, 3.0)  # no supply of Z at all


def test_sl_allocate_ranks_weights_like_tiers_the_largest_weight_first(excel: UdfWorker):
    weights = [["Customer", "Weight"], ["KEY", 7.5], ["SMALL", 1]]
    assert excel.call("SL_ALLOCATE", SUPPLY, DEMAND, weights) == excel.call(
        "SL_ALLOCATE", SUPPLY, DEMAND, TIERS
    )


def test_sl_allocate_costs_break_ties_but_never_override_priorities(excel: UdfWorker):
    costs = [["Customer", "Cost"], ["KEY", 500]]  # SMALL has no cost row: cost 0
    with_costs = allocated(excel.call("SL_ALLOCATE", SUPPLY, DEMAND, TIERS, costs))
    assert with_costs == allocated(excel.call("SL_ALLOCATE", SUPPLY, DEMAND, TIERS))
    assert with_costs["SO3"] == (5.0, 0.0)  # a customer without a cost is still served


def test_sl_allocate_shares_fairly_within_a_tier_and_serves_no_customer_at_tier_3():
    demand = [
        ["Demand", "Customer", "Item", "Qty"],
        ["A1", "A", "X", 6],
        ["B1", "B", "X", 12],
        ["N1", None, "X", 5],
    ]
    same_tier = [["Customer", "Tier"], ["A", 1], ["B", 1]]
    result = allocated(udfs.SL_ALLOCATE([["Item", "Qty"], ["X", 9]], demand, same_tier))
    assert result["A1"][0] / 6 == pytest.approx(result["B1"][0] / 12)  # equal fill rates
    assert result["N1"] == (0.0, 5.0)  # a line without customer has the default tier 3


# --- the error convention ---------------------------------------------------------------------

ROW = [10, 20, 30]
BAD_CALLS = [
    ("SL_MRP", (ROW, 0, None, 0, None, "ABC"), "lot_rule", "L4L, FOQ, EOQ, POQ, LUC, SM, WW"),
    ("SL_MRP", ([[1, 2, 3], [4, 5, 6]], 0, None, 0), "gross", "2 rows × 3 columns"),
    ("SL_MRP", ([10, "ten", 30], 0, None, 0), "gross", "cell 2"),
    ("SL_MRP", ([None, None, None], 0, None, 0), "gross", "empty"),
    ("SL_MRP", ([10, -5, 30], 0, None, 0), "gross", "≥ 0"),
    ("SL_MRP", (ROW, "plenty", None, 0), "on_hand", "'plenty'"),
    ("SL_MRP", (ROW, 0, [1, 2], 0), "receipts", "gross has 3"),
    ("SL_MRP", (ROW, 0, None, -1), "lead_time", "≥ 0"),
    ("SL_MRP", (ROW, 0, None, 1.5), "lead_time", "whole number"),
    ("SL_MRP", (ROW, 0, None, [[1, 2]]), "lead_time", "single cell"),
    ("SL_MRP", (ROW, 0, None, 0, -3), "safety_stock", "≥ 0"),
    ("SL_MRP", (ROW, 0, None, 0, None, "FOQ"), "lot_size", "lot size"),
    ("SL_MRP", (ROW, 0, None, 0, None, "POQ", 2.5), "lot_size", "whole number"),
    ("SL_MRP", (ROW, 0, None, 0, None, "SM", None, None, None, 10), "holding_cost", "both"),
    ("SL_MRP", (ROW, 0, None, 0, None, "L4L", None, None, 0), "multiple", "> 0"),
    ("SL_LOTSIZE", (ROW, "XYZ"), "rule", "not a lot rule"),
    ("SL_LOTSIZE", (ROW, "WW"), "setup_cost", "setup cost"),
    ("SL_LOTSIZE", ([5, -1], "L4L"), "net_requirements", "≥ 0"),
    ("SL_EOQ", ("lots", 50, 2), "demand", "'lots'"),
    ("SL_EOQ", (100, 50, 0), "holding_cost", "> 0"),
    ("SL_EOQ", (100, None, 2), "setup_cost", "empty"),
    ("SL_EXPLODE", ([["Parent", "Component"], ["A", "B"]], "A", 1), "bom_range", "Qty Per"),
    ("SL_EXPLODE", ([["Parent", "Component", "Qty Per"]], "A", 1), "bom_range", "no data rows"),
    ("SL_EXPLODE", ([None], "A", 1), "bom_range", "header row"),
    ("SL_EXPLODE", ([*BOM, ["BIKE", "FRAME", 2, 0, None]], "BIKE", 1), "bom_range", "duplicate"),
    ("SL_EXPLODE", (BOM, "CAR", 1), "item", "'CAR'"),
    ("SL_EXPLODE", (BOM, "BIKE", -2), "qty", "≥ 0"),
    ("SL_ALLOCATE", (SUPPLY, DEMAND, [["Customer", "Tier"], ["KEY", 1]]), "demand", "'SMALL'"),
    ("SL_ALLOCATE", (SUPPLY, DEMAND, [["Customer"], ["KEY"]]), "priorities", "Tier"),
    ("SL_ALLOCATE", ([["Item", "Qty"]], DEMAND, TIERS), "supply", "no data rows"),
    (
        "SL_ALLOCATE",
        (SUPPLY, [["Demand", "Item", "Qty"], ["SO1", "X", "many"]], TIERS),
        "demand",
        "row 2",
    ),
]


@pytest.mark.parametrize(
    ("name", "args", "argument", "says"),
    BAD_CALLS,
    ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(BAD_CALLS)],
)
def test_a_bad_argument_gives_one_cell_naming_it_and_what_to_do(
    excel: UdfWorker, name: str, args: tuple[Any, ...], argument: str, says: str
):
    text = is_error(excel.call(name, *args), argument)
    assert says in text


def test_a_bug_shows_as_one_cell_naming_the_function_and_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(udfs, "item_record", broken)
    text = is_error(udfs.SL_MRP([10], 0, None, 0), "SL_MRP")
    assert "internal error (ZeroDivisionError" in text and "report it" in text
    assert any(r.exc_info for r in caplog.records if r.name == udfs.__name__)


def test_a_solver_failure_names_the_function(monkeypatch: pytest.MonkeyPatch):
    from sheetloop.errors import SolverError

    def out_of_time(**kwargs: Any) -> None:
        raise SolverError("the highs solver did not finish within the time limit")

    monkeypatch.setattr(udfs, "allocate", out_of_time)
    text = is_error(udfs.SL_ALLOCATE(SUPPLY, DEMAND, TIERS), "SL_ALLOCATE")
    assert "time limit" in text
