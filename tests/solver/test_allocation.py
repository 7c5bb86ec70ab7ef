"""The allocation engine's rules, solvers, failures and outputs, on hand-made cases."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pulp
import pytest
from support.allocation_cases import synthetic

from sheetloop.errors import SolverError
from sheetloop.solver.allocation import (
    ALLOCATION_COLUMNS,
    BOTTLENECK_COLUMNS,
    EXCEPTION_COLUMNS,
    STATUS_COLUMNS,
    AllocationResult,
    allocate,
)
from sheetloop.solver.allocation.backends import Solution, make_backend
from sheetloop.solver.allocation.inputs import prepare
from sheetloop.solver.allocation.lexicographic import solve_lexicographic
from sheetloop.solver.allocation.model import build_model
from sheetloop.solver.buckets import Calendar

PERIODS = Calendar.create("period", dt.date(2026, 1, 5), 6)


def frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def three_customers(**overrides: object) -> dict[str, object]:
    """The README's case: one short item, three customers in two tiers."""
    case: dict[str, object] = {
        "supply": frame([{"Site": "MAIN", "Item": "WIDGET", "Available": 1.0, "Qty": 100.0}]),
        "demand": frame(
            [
                {"Demand": "SO-1", "Item": "WIDGET", "Customer": "ACME", "Due": 2.0, "Qty": 60.0},
                {"Demand": "SO-2", "Item": "WIDGET", "Customer": "BOLT", "Due": 2.0, "Qty": 40.0},
                {"Demand": "SO-3", "Item": "WIDGET", "Customer": "CORE", "Due": 2.0, "Qty": 60.0},
            ]
        ),
        "customers": frame(
            [
                {"Customer": "ACME", "Tier": 1, "Service Target": 0.95},
                {"Customer": "BOLT", "Tier": 2, "Service Target": 0.5},
                {"Customer": "CORE", "Tier": 2, "Service Target": 0.9},
            ]
        ),
        "calendar": PERIODS,
    }
    case.update(overrides)
    return case


def status_of(result: AllocationResult, demand: str) -> pd.Series:
    return result.demand_status.set_index("Demand").loc[demand]


# --- priorities and fairness ------------------------------------------------------


def test_the_most_important_tier_is_served_first_and_the_next_shares_the_rest_fairly() -> None:
    result = allocate(**three_customers())  # type: ignore[arg-type]
    assert status_of(result, "SO-1")["Allocated"] == 60
    # 40 left for BOLT (40) and CORE (60): both at 40 %.
    assert status_of(result, "SO-2")["Allocated"] == pytest.approx(16)
    assert status_of(result, "SO-3")["Allocated"] == pytest.approx(24)
    assert status_of(result, "SO-2")["Fill %"] == pytest.approx(0.4)
    assert list(result.demand_status["Below Target"]) == [False, True, True]
    assert result.summary.fill_levels == {2: [pytest.approx(0.4)]}


def test_a_customer_without_a_customers_row_is_tier_3() -> None:
    result = allocate(**three_customers(customers=None))  # type: ignore[arg-type]
    assert set(result.demand_status["Tier"]) == {3}
    # One tier: everybody at 100 / 160.
    assert np.allclose(result.demand_status["Fill %"], 100 / 160)


def test_fair_share_raises_the_others_when_a_customer_cannot_get_more() -> None:
    # CORE can only be served from EAST (10 units); MAIN's 50 go to ACME and BOLT.
    result = allocate(
        supply=frame(
            [
                {"Site": "MAIN", "Item": "A", "Available": 1.0, "Qty": 50.0},
                {"Site": "EAST", "Item": "A", "Available": 1.0, "Qty": 10.0},
            ]
        ),
        demand=frame(
            [
                {"Demand": "1", "Item": "A", "Customer": "ACME", "Due": 1.0, "Qty": 50.0},
                {"Demand": "2", "Item": "A", "Customer": "BOLT", "Due": 1.0, "Qty": 50.0},
                {"Demand": "3", "Item": "A", "Customer": "CORE", "Due": 1.0, "Qty": 50.0},
            ]
        ),
        lanes=frame(
            [
                {"Site": "MAIN", "Customer": "ACME", "Cost": 1.0},
                {"Site": "MAIN", "Customer": "BOLT", "Cost": 1.0},
                {"Site": "EAST", "Customer": "CORE", "Cost": 1.0},
                {"Site": "EAST", "Customer": "ACME", "Cost": 1.0},
            ]
        ),
        calendar=PERIODS,
    )
    fills = result.demand_status.set_index("Demand")["Fill %"]
    # Round 1: everybody 20 % (CORE holds EAST's 10 units alone); round 2: ACME and
    # BOLT share MAIN's 50 at 50 % each.
    assert fills["3"] == pytest.approx(0.2)
    assert fills["1"] == pytest.approx(0.5)
    assert fills["2"] == pytest.approx(0.5)
    assert result.summary.fill_levels[3] == [pytest.approx(0.2), pytest.approx(0.5)]


# --- lanes, sites and time --------------------------------------------------------


def test_a_customers_own_lane_wins_over_its_regions_lane() -> None:
    result = allocate(
        supply=frame(
            [
                {"Site": "NORTH", "Item": "A", "Available": 1.0, "Qty": 100.0},
                {"Site": "SOUTH", "Item": "A", "Available": 1.0, "Qty": 100.0},
            ]
        ),
        demand=frame([{"Demand": "1", "Item": "A", "Customer": "ACME", "Due": 2.0, "Qty": 10.0}]),
        customers=frame([{"Customer": "ACME", "Tier": 1, "Region": "EU"}]),
        lanes=frame(
            [
                {"Site": "NORTH", "Region": "EU", "Cost": 1.0},
                {"Site": "SOUTH", "Region": "EU", "Cost": 2.0},
                {"Site": "NORTH", "Customer": "ACME", "Cost": 5.0},
            ]
        ),
        calendar=PERIODS,
    )
    # NORTH costs 5 for ACME (its own lane), SOUTH 2 (the region's): SOUTH is cheaper.
    assert list(result.allocation["Site"]) == ["SOUTH"]
    assert result.summary.cost == pytest.approx(20)


def test_without_lanes_every_site_serves_every_customer_at_no_cost() -> None:
    result = allocate(
        supply=frame([{"Site": "FAR", "Item": "A", "Available": 1.0, "Qty": 5.0}]),
        demand=frame([{"Demand": "1", "Item": "A", "Customer": "X", "Due": 1.0, "Qty": 5.0}]),
        calendar=PERIODS,
    )
    assert list(result.allocation["Site"]) == ["FAR"]
    assert result.summary.cost == 0


def test_a_line_with_a_site_is_served_from_that_site_only() -> None:
    result = allocate(
        supply=frame(
            [
                {"Site": "MAIN", "Item": "A", "Available": 1.0, "Qty": 5.0},
                {"Site": "EAST", "Item": "A", "Available": 1.0, "Qty": 50.0},
            ]
        ),
        demand=frame(
            [{"Demand": "1", "Item": "A", "Site": "MAIN", "Customer": "X", "Due": 1.0, "Qty": 8.0}]
        ),
        lanes=frame([{"Site": "EAST", "Customer": "X", "Cost": 1.0}]),
        calendar=PERIODS,
    )
    assert list(result.allocation["Site"]) == ["MAIN"]
    assert status_of(result, "1")["Short"] == 3


def test_a_line_no_lane_reaches_is_short_and_the_exception_says_why() -> None:
    result = allocate(
        supply=frame([{"Site": "MAIN", "Item": "A", "Available": 1.0, "Qty": 50.0}]),
        demand=frame([{"Demand": "D9", "Item": "A", "Customer": "X", "Due": 1.0, "Qty": 8.0}]),
        lanes=frame([{"Site": "MAIN", "Customer": "Y", "Cost": 1.0}]),
        calendar=PERIODS,
    )
    assert result.allocation.empty
    (message,) = result.exceptions["Message"]
    assert "D9" in message and "no supply of A" in message and "short 8 of 8" in message


def test_exception_messages_say_whose_demand_is_short_by_how_much_why_and_what_ships_late() -> None:
    result = allocate(
        supply=frame([{"Site": "MAIN", "Item": "A", "Available": 3.0, "Qty": 10.0}]),
        demand=pd.DataFrame(
            {
                "Demand": ["SO-1", "SO-2", "SO-3"],
                "Item": ["A", "B", "B"],
                "Site": ["MAIN", None, "EAST"],
                "Customer": ["ACME", None, "ACME"],
                "Due": [2.0, 1.0, 1.0],
                "Qty": [12.0, 4.5, 1.0],
            }
        ),
        customers=frame([{"Customer": "ACME", "Tier": 1}]),
        calendar=PERIODS,
        max_lateness=2,
    )
    rows = result.exceptions.astype(object).where(result.exceptions.notna(), None)
    assert rows.to_dict("records") == [
        {
            "Item": "B",
            "Site": None,
            "Bucket": 0,
            "Code": "SHORTAGE",
            "Message": "demand SO-2 (tier 3) is short 4.5 of 4.5 due 1: no supply of B on a "
            "lane to it can arrive by 3",
        },
        {
            "Item": "B",
            "Site": "EAST",
            "Bucket": 0,
            "Code": "SHORTAGE",
            "Message": "demand SO-3 of ACME (tier 1) is short 1 of 1 due 1: no supply of B at "
            "site EAST can arrive by 3",
        },
        {
            "Item": "A",
            "Site": "MAIN",
            "Bucket": 1,
            "Code": "SHORTAGE",
            "Message": "demand SO-1 of ACME (tier 1) is short 2 of 12 due 2 (83% served)",
        },
        {
            "Item": "A",
            "Site": "MAIN",
            "Bucket": 2,
            "Code": "LATE",
            "Message": "demand SO-1 of ACME (tier 1): 10 ship 3 and arrive 1 bucket after the "
            "due 2",
        },
    ]


def test_transit_makes_a_delivery_late_and_late_is_reported_within_the_limit() -> None:
    case = {
        "supply": frame([{"Site": "MAIN", "Item": "A", "Available": 3.0, "Qty": 10.0}]),
        "demand": frame([{"Demand": "1", "Item": "A", "Customer": "X", "Due": 2.0, "Qty": 10.0}]),
        "lanes": frame([{"Site": "MAIN", "Customer": "X", "Cost": 1.0, "Transit": 1}]),
        "calendar": PERIODS,
    }
    result = allocate(**case, max_lateness=2)  # type: ignore[arg-type]
    row = result.allocation.iloc[0]
    # Available in bucket 2 (period 3), one bucket in transit: arrives 2 buckets late.
    assert (row["Ship"], row["Late"], row["Qty"]) == (2, 2, 10)
    late = result.exceptions[result.exceptions["Code"] == "LATE"]
    assert "arrive 2 buckets after the due 2" in late["Message"].iloc[0]
    assert result.summary.lateness == pytest.approx(20)
    too_late = allocate(**case, max_lateness=1)  # type: ignore[arg-type]
    assert status_of(too_late, "1")["Short"] == 10


def test_lateness_is_minimised_before_cost() -> None:
    # A cheap site whose stock comes late against a dear one on time.
    result = allocate(
        supply=frame(
            [
                {"Site": "CHEAP", "Item": "A", "Available": 3.0, "Qty": 10.0},
                {"Site": "DEAR", "Item": "A", "Available": 1.0, "Qty": 10.0},
            ]
        ),
        demand=frame([{"Demand": "1", "Item": "A", "Customer": "X", "Due": 1.0, "Qty": 10.0}]),
        lanes=frame(
            [
                {"Site": "CHEAP", "Customer": "X", "Cost": 1.0},
                {"Site": "DEAR", "Customer": "X", "Cost": 9.0},
            ]
        ),
        calendar=PERIODS,
    )
    assert list(result.allocation["Site"]) == ["DEAR"]
    assert result.allocation["Late"].sum() == 0


def test_demand_due_before_the_horizon_counts_in_the_first_bucket_and_after_it_is_left_out() -> (
    None
):
    result = allocate(
        supply=frame([{"Site": "MAIN", "Item": "A", "Available": 0.0, "Qty": 10.0}]),
        demand=frame(
            [
                {"Demand": "OLD", "Item": "A", "Customer": "X", "Due": -3.0, "Qty": 4.0},
                {"Demand": "FAR", "Item": "A", "Customer": "X", "Due": 99.0, "Qty": 4.0},
            ]
        ),
        calendar=PERIODS,
        max_lateness=0,
    )
    assert list(result.demand_status["Demand"]) == ["OLD"]
    assert status_of(result, "OLD")["Allocated"] == 4
    assert result.allocation["Ship"].tolist() == [0]
    assert result.summary.lines_beyond_horizon == 1


def test_weekly_buckets_take_dates() -> None:
    weeks = Calendar.create("week", dt.date(2026, 11, 30), 4)
    result = allocate(
        supply=frame(
            [{"Site": "MAIN", "Item": "A", "Available": pd.Timestamp("2026-12-09"), "Qty": 7.0}]
        ),
        demand=frame(
            [
                {
                    "Demand": "1",
                    "Item": "A",
                    "Customer": "X",
                    "Due": pd.Timestamp("2026-12-10"),
                    "Qty": 9.0,
                }
            ]
        ),
        calendar=weeks,
    )
    assert result.allocation["Ship"].tolist() == [1]
    (message,) = result.exceptions["Message"]
    assert "due 2026-12-07" in message


def test_supply_that_reaches_nobody_needs_no_solver() -> None:
    result = allocate(
        supply=frame([{"Site": "MAIN", "Item": "B", "Available": 1.0, "Qty": 7.0}]),
        demand=frame([{"Demand": "1", "Item": "A", "Customer": "X", "Due": 1.0, "Qty": 9.0}]),
        calendar=PERIODS,
    )
    assert result.summary.stages == []
    assert status_of(result, "1")["Short"] == 9


# --- outputs ------------------------------------------------------------------------


def test_output_tables_have_the_contract_columns() -> None:
    result = allocate(**three_customers())  # type: ignore[arg-type]
    assert list(result.allocation.columns) == ALLOCATION_COLUMNS
    assert list(result.demand_status.columns) == STATUS_COLUMNS
    assert list(result.bottlenecks.columns) == BOTTLENECK_COLUMNS
    assert list(result.exceptions.columns) == EXCEPTION_COLUMNS
    assert ALLOCATION_COLUMNS == [
        "Demand",
        "Customer",
        "Item",
        "Site",
        "Ship",
        "Qty",
        "Late",
        "Cost",
    ]


def test_bottlenecks_name_the_short_supply_and_the_tier_it_would_help() -> None:
    result = allocate(**three_customers())  # type: ignore[arg-type]
    (row,) = result.bottlenecks.itertuples(index=False)
    # One more unit at MAIN by the latest useful bucket (due bucket 1 + max lateness 4,
    # clipped to the horizon's last bucket 5) serves one more unit of tier 2.
    assert (row.Site, row.Item, row.Bucket, row._3, row._4) == ("MAIN", "WIDGET", 5, 1.0, 2)


def test_the_summary_reports_solver_status_stages_and_shortages_by_tier() -> None:
    summary = allocate(**three_customers()).summary  # type: ignore[arg-type]
    assert summary.solver == "highs" and summary.status == "optimal"
    assert [s.name for s in summary.stages] == [
        "tier 1: served",
        "tier 2: served",
        "tier 2: fair share round 1",
        "lateness",
    ]
    assert summary.short_by_tier == {1: 0.0, 2: 60.0}
    text = summary.text()
    assert text.startswith("HiGHS optimal in 4 stages")
    assert "tier 2 40.0% served (60 short)" in text


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # PuLP 3.3 on its 4.0 renames
def test_the_model_can_be_written_as_lp_and_mps_and_reproduces_the_last_optimum(
    tmp_path: Path,
) -> None:
    result = allocate(
        **three_customers(
            lanes=frame(
                [
                    {"Site": "MAIN", "Region": None, "Customer": c, "Cost": k}
                    for c, k in (("ACME", 1.0), ("BOLT", 2.0), ("CORE", 3.0))
                ]
            )
        )
    )  # type: ignore[arg-type]
    lp_text = result.write_model(tmp_path / "allocation.lp").read_text()
    assert "balance_MAIN_WIDGET_b0" in lp_text and "hold_served_tier1" in lp_text
    mps = result.write_model(tmp_path / "allocation.mps")
    _, problem = pulp.LpProblem.fromMPS(str(mps))
    problem.solve(pulp.PULP_CBC_CMD(msg=False))
    assert pulp.value(problem.objective) == pytest.approx(result.summary.cost, rel=1e-7)
    with pytest.raises(ValueError, match=r"\.lp or \.mps"):
        result.write_model(tmp_path / "allocation.txt")


# --- solvers and failures -----------------------------------------------------------


def test_cbc_and_highs_reach_the_same_objective_levels() -> None:
    instance = synthetic(sites=3, customers=12, items=3, periods=6, seed=7)
    by_solver = {
        solver: allocate(**instance.kwargs(), solver=solver).staged  # type: ignore[arg-type]
        for solver in ("highs", "cbc")
    }
    highs, cbc = by_solver["highs"], by_solver["cbc"]
    assert highs.fill_levels, "the instance should exercise fair share"
    assert cbc.served == pytest.approx(highs.served, rel=1e-7)
    assert set(cbc.fill_levels) == set(highs.fill_levels)
    for tier, levels in highs.fill_levels.items():
        assert cbc.fill_levels[tier] == pytest.approx(levels, rel=1e-6)
    assert cbc.lateness == pytest.approx(highs.lateness, rel=1e-7)
    assert cbc.cost == pytest.approx(highs.cost, rel=1e-7)


def test_without_warm_starts_the_optimum_is_the_same() -> None:
    instance = synthetic(sites=3, customers=12, items=3, periods=6, seed=3)
    warm = allocate(**instance.kwargs()).staged  # type: ignore[arg-type]
    cold = allocate(**instance.kwargs(), warm_start=False).staged  # type: ignore[arg-type]
    assert cold.cost == pytest.approx(warm.cost, rel=1e-9)
    assert cold.lateness == pytest.approx(warm.lateness, rel=1e-9)


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_a_time_limit_too_short_is_a_solver_error_that_says_so(solver: str) -> None:
    instance = synthetic(sites=5, customers=100, items=5, seed=1)
    with pytest.raises(SolverError, match=r"time limit of 0\.001 s") as caught:
        allocate(**instance.kwargs(), solver=solver, time_limit=0.001)  # type: ignore[arg-type]
    assert caught.value.exit_code == 4
    assert "Raise Time Limit in Settings" in caught.value.message


def test_a_solver_that_stops_on_its_time_limit_is_a_solver_error() -> None:
    class StopsOnTime:
        name = "highs"
        fill_tolerance = precision = 1e-9

        def tolerance(self, z: float) -> float:
            return 1e-9

        def load(self, program: object) -> None: ...
        def add_columns(self, lower: object, upper: object) -> None: ...
        def add_rows(self, rows: object, lower: object, upper: object) -> None: ...
        def set_objective(self, cost: object, maximize: bool) -> None: ...
        def set_bounds(self, columns: object, lower: object, upper: object) -> None: ...

        def solve(self, seconds: float) -> Solution:
            empty = np.zeros(0)
            return Solution("time limit", np.nan, empty, empty, seconds, 0, "Time limit reached")

    model = build_model(prepare(**three_customers()))  # type: ignore[arg-type]
    with pytest.raises(SolverError, match="stopped in stage 'tier 1: served'"):
        solve_lexicographic(model, StopsOnTime(), 60)  # type: ignore[arg-type]


def test_a_later_highs_stage_gets_the_time_it_is_given_however_long_earlier_stages_took() -> None:
    """HiGHS holds its time limit against the run time of all its solves of one model (see
    ERGO-Code/HiGHS#1477), which would cut a later stage short by the time the earlier
    stages took: a run would fail long before its Time Limit."""
    model = build_model(prepare(**synthetic(sites=10, customers=100, items=10).kwargs()))  # type: ignore[arg-type]
    backend = make_backend("highs")
    backend.load(model.program)
    every_line = np.ones(len(model.data.lines), dtype=bool)
    backend.set_objective(model.served_by(every_line), True)
    first = backend.solve(600)
    assert first.status == "optimal" and first.seconds > 0.01
    # A next stage with little left to do from the first's optimum, given half its time.
    every_line[0] = False
    backend.set_objective(model.served_by(every_line), True)
    again = backend.solve(first.seconds / 2)
    assert again.status == "optimal"


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_a_model_the_solver_cannot_solve_is_a_solver_error(solver: str) -> None:
    model = build_model(prepare(**three_customers()))  # type: ignore[arg-type]
    # Demand more than nothing from a balance row: no stock level can satisfy it.
    lower = model.program.row_lower.copy()
    lower[0] = upper0 = -5.0
    upper = model.program.row_upper.copy()
    upper[0] = upper0
    broken = dataclasses.replace(
        model, program=dataclasses.replace(model.program, row_lower=lower, row_upper=upper)
    )
    with pytest.raises(SolverError, match=r"failed on the allocation model .*infeasible"):
        solve_lexicographic(broken, make_backend(solver), 60)


def test_a_quantity_that_is_not_a_number_is_a_solver_error_naming_the_row() -> None:
    case = three_customers()
    demand = case["demand"].astype({"Qty": object})  # type: ignore[union-attr]
    demand.loc[1, "Qty"] = "lots"
    with pytest.raises(SolverError, match=r"Demand row 2 has no valid Qty \('lots'\)"):
        allocate(**{**case, "demand": demand})  # type: ignore[arg-type]


def test_a_matrix_with_a_number_that_is_not_a_number_is_refused() -> None:
    model = build_model(prepare(**three_customers()))  # type: ignore[arg-type]
    matrix = model.program.matrix.copy()
    matrix.data[0] = np.nan
    broken = dataclasses.replace(model.program, matrix=matrix)
    with pytest.raises(SolverError, match="broken: a coefficient is not a number"):
        make_backend("highs").load(broken)


def test_an_unknown_solver_is_a_solver_error() -> None:
    with pytest.raises(SolverError, match=r"unknown solver 'gurobi'.*highs or cbc"):
        allocate(**three_customers(), solver="gurobi")  # type: ignore[arg-type]


def test_a_missing_highs_is_a_solver_error_that_suggests_cbc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "highspy", None)
    with pytest.raises(SolverError, match=r"HiGHS solver is not installed.*cbc"):
        allocate(**three_customers())  # type: ignore[arg-type]


def test_a_bottleneck_is_only_reported_where_one_more_unit_would_serve_more():
    """Checked by perturbation: a unit arriving in the reported bucket serves one more
    unit; one arriving after the last bucket any shipment can leave serves nothing."""
    import datetime as dt

    import pandas as pd

    from sheetloop.solver.allocation import allocate
    from sheetloop.solver.buckets import Calendar

    calendar = Calendar.create("week", dt.date(2026, 11, 30), 4)
    monday = pd.Timestamp("2026-11-30")
    customers = pd.DataFrame({"Customer": ["ACME", "BOLT"], "Tier": [1, 2]})
    demand = pd.DataFrame(
        {
            "Demand": ["SO-1", "SO-2"],
            "Item": "BIKE",
            "Site": "MAIN",
            "Customer": ["ACME", "BOLT"],
            "Due": monday,
            "Qty": [40.0, 30.0],
        }
    )

    def served(extra_week: int | None) -> tuple[float, pd.DataFrame]:
        rows = [{"Site": "MAIN", "Item": "BIKE", "Available": monday, "Qty": 60.0}]
        if extra_week is not None:
            rows.append(
                {
                    "Site": "MAIN",
                    "Item": "BIKE",
                    "Qty": 1.0,
                    "Available": monday + pd.Timedelta(weeks=extra_week),
                }
            )
        result = allocate(
            supply=pd.DataFrame(rows),
            demand=demand,
            calendar=calendar,
            customers=customers,
            max_lateness=1,
        )
        return float(result.demand_status["Allocated"].sum()), result.bottlenecks

    base, bottlenecks = served(None)
    assert len(bottlenecks) == 1
    reported = int(bottlenecks["Bucket"].iloc[0])
    assert served(reported)[0] == base + 1
    for later in range(reported + 1, 4):
        assert served(later)[0] == base
