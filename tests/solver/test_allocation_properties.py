"""Properties every allocation has, on random small instances (hypothesis)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from support.allocation_cases import Instance
from support.allocation_strategies import ITEMS, SITES, calendar, instances

from sheetloop.solver.allocation import AllocationResult, allocate

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(instance: Instance) -> AllocationResult:
    return allocate(**instance.kwargs())  # type: ignore[arg-type]


def customer_fill(result: AllocationResult, customer: str) -> float:
    rows = result.demand_status[result.demand_status["Customer"] == customer]
    return float(rows["Allocated"].sum() / rows["Qty"].sum())


@SETTINGS
@given(instances())
def test_no_site_ships_more_of_an_item_than_it_has_by_any_bucket(instance: Instance) -> None:
    result = run(instance)
    periods = instance.calendar.periods
    supply = instance.supply.assign(
        Bucket=np.clip(instance.supply["Available"].astype(int) - 1, 0, None)
    )
    supply = supply[supply["Bucket"] < periods]
    for (site, item), shipped in result.allocation.groupby(["Site", "Item"]):
        had = supply[(supply["Site"] == site) & (supply["Item"] == item)]
        for t in range(periods):
            out = shipped.loc[shipped["Ship"] <= t, "Qty"].sum()
            available = had.loc[had["Bucket"] <= t, "Qty"].sum()
            assert out <= available + 1e-6, (site, item, t, out, available)


@SETTINGS
@given(instances())
def test_every_demand_line_is_allocated_plus_short_equals_its_quantity(instance: Instance) -> None:
    result = run(instance)
    status = result.demand_status
    assert np.allclose(status["Allocated"] + status["Short"], status["Qty"], atol=1e-9)
    assert (status["Allocated"] >= 0).all() and (status["Short"] >= 0).all()
    shipped = result.allocation.groupby("Demand")["Qty"].sum()
    allocated = status.set_index("Demand")["Allocated"]
    assert np.allclose(shipped.reindex(allocated.index, fill_value=0.0), allocated, atol=1e-6)
    short_lines = set(status.loc[status["Short"] > 1e-6, "Demand"])
    flagged = {
        m.split()[1]
        for m in result.exceptions.loc[result.exceptions["Code"] == "SHORTAGE", "Message"]
    }
    assert flagged == short_lines


@SETTINGS
@given(instances(), st.data())
def test_moving_a_customer_to_a_more_important_tier_never_lowers_its_fill_rate(
    instance: Instance, data: st.DataObject
) -> None:
    customers = instance.customers
    movable = customers.loc[customers["Tier"] > 1, "Customer"].tolist()
    ordering = set(instance.demand["Customer"])
    movable = [c for c in movable if c in ordering]
    assume(movable)
    customer = data.draw(st.sampled_from(movable))
    before = run(instance)
    promoted = customers.assign(
        Tier=np.where(customers["Customer"] == customer, customers["Tier"] - 1, customers["Tier"])
    )
    after = run(dataclasses.replace(instance, customers=promoted))
    if before.demand_status["Customer"].eq(customer).any():
        assert customer_fill(after, customer) >= customer_fill(before, customer) - 1e-6


@SETTINGS
@given(instances(with_lanes=False))
def test_with_ample_supply_everywhere_nobody_is_short(instance: Instance) -> None:
    ample = pd.DataFrame(
        [
            {"Site": site, "Item": item, "Available": 1.0, "Qty": 1000.0}
            for site in SITES
            for item in ITEMS
        ]
    )
    result = run(dataclasses.replace(instance, supply=ample))
    assert (result.demand_status["Short"] == 0).all()
    assert (result.demand_status["Fill %"] == 1).all()
    assert (result.allocation["Late"] == 0).all()
    assert not (result.exceptions["Code"] == "SHORTAGE").any()
    assert result.bottlenecks.empty


@SETTINGS
@given(
    st.lists(st.integers(1, 50), min_size=2, max_size=5),
    st.integers(1, 100),
    st.booleans(),
)
def test_within_a_tier_short_supply_is_shared_at_equal_fill_rates(
    quantities: list[int], supply: int, split_lines: bool
) -> None:
    # One site, one item, one bucket, every customer in the same tier: nothing but the
    # fair share tells them apart, so every customer gets the same fill rate.
    demand_rows = []
    for k, q in enumerate(quantities):
        parts = [q] if not split_lines or q < 2 else [q // 2, q - q // 2]
        demand_rows += [
            {
                "Demand": f"D{k}-{n}",
                "Item": "A",
                "Site": None,
                "Customer": f"C{k}",
                "Due": 1.0,
                "Qty": float(p),
            }
            for n, p in enumerate(parts)
        ]
    result = allocate(
        supply=pd.DataFrame(
            [{"Site": "MAIN", "Item": "A", "Available": 1.0, "Qty": float(supply)}]
        ),
        demand=pd.DataFrame(demand_rows),
        customers=pd.DataFrame({"Customer": [f"C{k}" for k in range(len(quantities))], "Tier": 2}),
        calendar=calendar(periods=1),
        max_lateness=0,
    )
    expected = min(1.0, supply / sum(quantities))
    for k in range(len(quantities)):
        assert abs(customer_fill(result, f"C{k}") - expected) < 1e-6
