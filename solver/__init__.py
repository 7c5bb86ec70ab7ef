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
from sheetloop.solver.record import BomLine, ItemRecord, LotPolicy, explode, item_record, lot_sizes

__all__ = [
    "BomCycleError",
    "BomLine",
    "Calendar",
    "ItemRecord",
    "LotPolicy",
    "MrpResult",
    "consume_forecast",
    "eoq",
    "explode",
    "item_record",
    "least_unit_cost",
    "lot_sizes",
    "low_level_codes",
    "peg",
    "pegged_to",
    "plan",
    "poq_periods",
    "silver_meal",
    "wagner_whitin",
]
