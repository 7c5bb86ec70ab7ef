"""Lot-sizing rules: Wagner-Whitin is optimal; the heuristics and static rules follow their
textbook definitions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sheetloop.solver.lot_rules import (
    eoq,
    eoq_lots,
    least_unit_cost,
    lots_covering,
    order_quantity,
    poq_periods,
    poq_spans,
    schedule_cost,
    silver_meal,
    wagner_whitin,
)


def brute_force_cost(net: np.ndarray, setup: float, holding: float) -> float:
    """The cheapest cost over every set of order periods (orders only where needed)."""
    need = [t for t in range(len(net)) if net[t] > 0]
    if not need:
        return 0.0
    best = float("inf")
    for k in range(len(need)):
        for rest in itertools.combinations(need[1:], k):
            starts = [need[0], *rest]
            cost = 0.0
            for i, s in enumerate(starts):
                end = starts[i + 1] if i + 1 < len(starts) else len(net)
                cost += setup + holding * sum((t - s) * net[t] for t in range(s, end))
            best = min(best, cost)
    return best


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(0, 60), min_size=1, max_size=8),
    st.integers(1, 300),
    st.integers(1, 5),
)
def test_wagner_whitin_matches_a_brute_force_optimum(demand: list[int], setup: int, holding: int):
    net = np.array(demand, dtype=float)
    cover = wagner_whitin(net, setup, holding)
    assert schedule_cost(net, cover, setup, holding) == pytest.approx(
        brute_force_cost(net, setup, holding)
    )
    covered = np.zeros(len(net), dtype=bool)
    for t in np.flatnonzero(cover):
        covered[t : t + cover[t]] = True
    assert covered[net > 0].all(), "every requirement is covered by an order"


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(0, 60), min_size=1, max_size=10), st.integers(1, 300), st.integers(1, 5)
)
def test_the_heuristics_never_beat_the_optimum(demand: list[int], setup: int, holding: int):
    net = np.array(demand, dtype=float)
    optimum = schedule_cost(net, wagner_whitin(net, setup, holding), setup, holding)
    for rule in (silver_meal, least_unit_cost):
        assert schedule_cost(net, rule(net, setup, holding), setup, holding) >= optimum - 1e-9


def test_silver_meal_extends_while_the_cost_per_period_falls():
    # Nahmias' example shape: S = 100, h = 1; requirements 50, 60, 90, 70.
    # Order in 1: cost/period 100 -> (100+60)/2 = 80 -> (100+60+180)/3 = 113 (stop);
    # order in 3: 100 -> (100+70)/2 = 85 (extend to the end).
    cover = silver_meal(np.array([50.0, 60, 90, 70]), 100, 1)
    assert cover.tolist() == [2, 0, 2, 0]


def test_least_unit_cost_extends_while_the_cost_per_unit_falls():
    # S = 100, h = 1; 50, 60: per unit 100/50 = 2.0 -> 160/110 = 1.45 -> (160+180)/200 = 1.7.
    cover = least_unit_cost(np.array([50.0, 60, 90]), 100, 1)
    assert cover.tolist() == [2, 0, 1]


def test_static_rules_and_order_quantity_steps():
    assert lots_covering(np.array([1.0, 10, 11]), np.array([10.0, 10, 10])).tolist() == [10, 10, 20]
    assert eoq(100, 50, 1) == 100  # sqrt(2·100·50/1) = 100
    assert eoq(10, 7, 3) == 7  # sqrt(46.67) = 6.83 rounds up
    assert poq_periods(100, 50, 1) == 1 and poq_periods(25, 50, 1) == 2  # 50/25 = 2
    qty = order_quantity(
        np.array([9.0, 1.0, 30.0]),
        np.array([10.0, 0, 0]),
        np.array([0.0, 5, 0]),
        np.array([np.nan, np.nan, 8]),
    )
    assert qty.tolist() == [10.0, 5.0, 32.0]  # 9/0.9 = 10; raised to 5; rounded to 8s


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 1e5, allow_nan=False),
            st.floats(0.01, 1e4, allow_nan=False),
            st.floats(0.001, 100, allow_nan=False),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_eoq_and_poq_for_many_records_equal_their_one_record_definitions(
    cases: list[tuple[float, float, float]],
) -> None:
    average, setup, holding = (np.array(column) for column in zip(*cases, strict=True))
    lots = eoq_lots(average, setup, holding)
    spans = poq_spans(average, setup, holding)
    for k, (d, s, h) in enumerate(cases):
        one = eoq(d, s, h)
        assert (np.isnan(lots[k]) and one == 0) or lots[k] == one
        assert spans[k] == poq_periods(d, s, h)
