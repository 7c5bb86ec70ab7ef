"""The staged allocation LP against an independent solve of the same staged model written
directly for ``scipy.optimize.linprog`` (``support.allocation_reference``), on random
small instances: every stage's optimum is the same, with HiGHS and with CBC."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from support.allocation_cases import Instance
from support.allocation_reference import ReferenceResult, reference_solve
from support.allocation_strategies import instances

from sheetloop.solver.allocation import AllocationResult, allocate


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-5)


def assert_same_levels(result: AllocationResult, ref: ReferenceResult) -> None:
    staged = result.staged
    assert set(staged.served) == set(ref.served)
    for tier, z in ref.served.items():
        assert close(staged.served[tier], z), (tier, staged.served[tier], z)
    assert set(staged.fill_levels) == set(ref.fill_levels)
    for tier, levels in ref.fill_levels.items():
        assert len(staged.fill_levels[tier]) == len(levels), (tier, staged.fill_levels, levels)
        for mine, theirs in zip(staged.fill_levels[tier], levels, strict=True):
            assert close(mine, theirs), (tier, staged.fill_levels[tier], levels)
    assert close(staged.lateness, ref.lateness), (staged.lateness, ref.lateness)
    assert close(staged.cost, ref.cost), (staged.cost, ref.cost)


def reference(instance: Instance) -> ReferenceResult:
    return reference_solve(
        supply=instance.supply,
        demand=instance.demand,
        customers=instance.customers,
        lanes=instance.lanes,
        periods=instance.calendar.periods,
        max_lateness=instance.max_lateness,
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_every_stage_optimum_equals_an_independent_linprog_solve_with_highs(
    instance: Instance,
) -> None:
    result = allocate(**instance.kwargs(), solver="highs")  # type: ignore[arg-type]
    assert_same_levels(result, reference(instance))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_every_stage_optimum_equals_an_independent_linprog_solve_with_cbc(
    instance: Instance,
) -> None:
    result = allocate(**instance.kwargs(), solver="cbc")  # type: ignore[arg-type]
    assert_same_levels(result, reference(instance))
