"""Planning engines: pandas and numpy in, pandas out.

Imports nothing of sheetloop but :mod:`sheetloop.errors`, and never touches workbooks,
Excel or the network.
"""

from sheetloop.solver.bom import BomCycleError, low_level_codes
from sheetloop.solver.buckets import Calendar
from sheetloop.solver.lot_rules import (
    eoq,
    least_unit_cost,
    poq_periods,
    silver_meal,
    wagner_whitin,
)
from sheetloop.solver.mrp import MrpResult, consume_forecast, plan
from sheetloop.solver.pegging import peg, pegged_to

__all__ = [
    "BomCycleError",
    "Calendar",
    "MrpResult",
    "consume_forecast",
    "eoq",
    "least_unit_cost",
    "low_level_codes",
    "peg",
    "pegged_to",
    "plan",
    "poq_periods",
    "silver_meal",
    "wagner_whitin",
]
