"""Pegging summaries and multi-level pegging on a small published-style network."""

from __future__ import annotations

import pandas as pd

from sheetloop.solver.pegging import LOT_EXCESS, pegged_to


def test_pegged_to_lists_the_first_demands_then_how_many_more():
    pegging = pd.DataFrame(
        {
            "Order": ["O1"] * 5 + ["O2", "O2"],
            "Demand": ["SO-1", "SO-2", "SO-3", "SO-4", "SO-5", "SO-9", LOT_EXCESS],
            "Qty": [1.0] * 7,
        }
    )
    assert pegged_to(pd.Series(["O1", "O2", "O3"]), pegging) == [
        "SO-1, SO-2, SO-3 +2 more",
        "SO-9",
        "",
    ]


def test_pegged_to_never_exceeds_a_cell():
    pegging = pd.DataFrame(
        {"Order": ["O1"] * 3, "Demand": ["X" * 200, "Y" * 200, "Z"], "Qty": [1.0] * 3}
    )
    assert len(pegged_to(pd.Series(["O1"]), pegging)[0]) <= 250
