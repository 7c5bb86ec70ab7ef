"""Published transportation problems come out at their published optimal cost.

Each problem becomes an allocation with one bucket: a source is a site whose supply is
available in period 1, a destination is a customer with one demand line due in period 1,
and the unit costs are the customer lanes. Supply covers demand (balanced, or more
supply than demand), so every line is served in full, fairness does not enter, and the
last stage (lane cost) is the transportation problem itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import pytest

from sheetloop.solver.allocation import allocate
from sheetloop.solver.buckets import Calendar


@dataclass(frozen=True)
class Published:
    source: str
    supply: dict[str, float]
    demand: dict[str, float]
    cost: list[list[float]]  # rows: sources in order of ``supply``; columns: ``demand``
    optimum: float


# Dantzig, "Linear Programming and Extensions" (1963), section 3.3, as the GAMS model
# library's first model TRNSPORT (Rosenthal, "GAMS: A User's Guide", ch. 2): canning
# plants to markets, cost = $90 per case per thousand miles x distance, in thousands of
# dollars. Supply 950 > demand 900. Published optimum z = 153.675.
DANTZIG_TRNSPORT = Published(
    source="Dantzig 1963 / GAMS model library TRNSPORT",
    supply={"seattle": 350, "san-diego": 600},
    demand={"new-york": 325, "chicago": 300, "topeka": 275},
    cost=[[90 * d / 1000 for d in row] for row in [[2.5, 1.7, 1.8], [2.5, 1.8, 1.4]]],
    optimum=153.675,
)

# Taylor, "Introduction to Management Science", chapter 6 (transportation): the wheat
# shipping example, grain elevators in Kansas City, Omaha and Des Moines to mills in
# Chicago, St. Louis and Cincinnati, $ per ton. Balanced (600 tons). Published optimal
# cost $4,525 (also worked at https://www.coursehero.com/file/6380529/).
TAYLOR_WHEAT = Published(
    source="Taylor, Introduction to Management Science, wheat shipping example",
    supply={"kansas-city": 150, "omaha": 175, "des-moines": 275},
    demand={"chicago": 200, "st-louis": 100, "cincinnati": 300},
    cost=[[6, 8, 10], [7, 11, 11], [4, 5, 12]],
    optimum=4525,
)

# Hillier and Lieberman, "Introduction to Operations Research", section 8.1 (9.1 in
# later editions): the P&T Company ships canned peas from three canneries (Bellingham,
# Eugene, Albert Lea) to four warehouses (Sacramento, Salt Lake City, Rapid City,
# Albuquerque), $ per truckload. Balanced (300 truckloads). Published optimum Z = $152,535.
HILLIER_LIEBERMAN_PT = Published(
    source="Hillier & Lieberman, Introduction to Operations Research, P&T Company",
    supply={"bellingham": 75, "eugene": 125, "albert-lea": 100},
    demand={"sacramento": 80, "salt-lake-city": 65, "rapid-city": 70, "albuquerque": 85},
    cost=[[464, 513, 654, 867], [352, 416, 690, 791], [995, 682, 388, 685]],
    optimum=152535,
)

PROBLEMS = [DANTZIG_TRNSPORT, TAYLOR_WHEAT, HILLIER_LIEBERMAN_PT]


def as_allocation(problem: Published) -> dict[str, object]:
    sources, destinations = list(problem.supply), list(problem.demand)
    return {
        "supply": pd.DataFrame(
            {
                "Site": sources,
                "Item": "GOODS",
                "Available": 1.0,
                "Qty": [float(problem.supply[s]) for s in sources],
            }
        ),
        "demand": pd.DataFrame(
            {
                "Demand": [f"to-{d}" for d in destinations],
                "Item": "GOODS",
                "Site": None,
                "Customer": destinations,
                "Due": 1.0,
                "Qty": [float(problem.demand[d]) for d in destinations],
            }
        ),
        "lanes": pd.DataFrame(
            [
                {"Site": s, "Customer": d, "Cost": float(problem.cost[i][j]), "Transit": 0}
                for i, s in enumerate(sources)
                for j, d in enumerate(destinations)
            ]
        ),
        "calendar": Calendar.create("period", dt.date(2026, 1, 5), 1),
        "max_lateness": 0,
    }


@pytest.mark.parametrize("solver", ["highs", "cbc"])
@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.source)
def test_published_transportation_problem_reaches_its_published_optimal_cost(
    problem: Published, solver: str
) -> None:
    result = allocate(**as_allocation(problem), solver=solver)  # type: ignore[arg-type]
    assert result.summary.cost == pytest.approx(problem.optimum, rel=1e-9)
    assert result.allocation["Cost"].sum() == pytest.approx(problem.optimum, rel=1e-9)
    assert (result.demand_status["Short"] == 0).all()
    shipped = result.allocation.groupby("Site")["Qty"].sum()
    for site, qty in shipped.items():
        assert qty <= problem.supply[str(site)] + 1e-9
