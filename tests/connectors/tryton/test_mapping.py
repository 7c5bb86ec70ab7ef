"""Tryton records to workbook rows and back, without a server: ids, units, lead times,
sites, tiers, receipts, demand, BOM explosion and the allocation note."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sheetloop.connectors.tryton.mapping import (
    NOTE_PREFIX,
    Unit,
    allocation_note,
    ceil_to,
    convert,
    customer_row,
    demand_row,
    earliest_open,
    explode_bom,
    first_lead_days,
    item_row,
    lead_days,
    line_positions,
    nested,
    open_quantity,
    order_marker,
    parse_ref,
    parse_sites,
    production_receipt_row,
    purchase_receipt_row,
    ref,
    replace_note_line,
    site_name,
    tier_of,
    unique_orders,
    version_of,
)
from sheetloop.errors import UsageError

PIECE = Unit(id=1, symbol="u", factor=1.0, rounding=1.0)
KG = Unit(id=2, symbol="kg", factor=1.0, rounding=0.01)
GRAM = Unit(id=3, symbol="g", factor=0.001, rounding=0.01)

# --- ids and versions -------------------------------------------------------------------


def test_a_reference_is_trytons_model_comma_id_text_and_reads_back():
    assert ref("purchase.line", 12) == "purchase.line,12"
    assert ref("production.bom", 2, 14, 15) == "production.bom,2/14/15"
    assert parse_ref("purchase.line,12", ["purchase.line", "production"]) == ("purchase.line", 12)
    assert parse_ref(" production,7 ", ["purchase.line", "production"]) == ("production", 7)


@pytest.mark.parametrize("text", [None, "", "12", "sale.line,3", "production,", "production,x"])
def test_a_reference_to_another_model_or_no_reference_is_not_read_as_one(text):
    assert parse_ref(text, ["purchase.line", "production"]) is None


def test_a_records_version_is_its_last_write_or_else_its_creation():
    created = dt.datetime(2026, 11, 1, 8, 0, 0, 123)
    written = dt.datetime(2026, 11, 2, 9, 30)
    assert version_of({"create_date": created, "write_date": None}) == created.isoformat()
    assert version_of({"create_date": created, "write_date": written}) == written.isoformat()


def test_nested_reads_dotted_fields_as_search_read_returns_them():
    line = {"sale.": {"number": "S7", "party.": {"code": "ACME"}}, "id": 3}
    assert nested(line, "sale.party.code") == "ACME"
    assert nested(line, "sale.number") == "S7"
    assert nested({"sale.": None}, "sale.party.code") is None


# --- units and quantities ---------------------------------------------------------------


def test_quantities_convert_between_units_of_one_category():
    assert convert(2500, GRAM, KG) == 2.5
    assert convert(1.5, KG, GRAM) == 1500
    assert convert(3, PIECE, PIECE) == 3
    assert convert(3, None, KG) == 3


@pytest.mark.parametrize(
    ("quantity", "rounding", "expected"),
    [(0.3, 0.1, 0.3), (2.01, 1.0, 3.0), (2.0, 1.0, 2.0), (1.234, 0.01, 1.24), (0.0, 1.0, 0.0)],
)
def test_component_quantities_round_up_to_their_unit_like_tryton(quantity, rounding, expected):
    assert ceil_to(quantity, rounding) == expected


@given(
    st.floats(min_value=0.001, max_value=1e6, allow_nan=False),
    st.sampled_from([1.0, 0.1, 0.01, 0.001, 5.0]),
)
def test_a_rounded_up_quantity_is_never_less_than_asked_and_at_most_one_step_more(q, rounding):
    rounded = ceil_to(q, rounding)
    assert rounded >= q - 1e-9
    assert rounded - q < rounding + 1e-9


def test_an_open_quantity_counts_moves_neither_done_nor_cancelled():
    moves = [
        {"state": "done", "quantity": 4.0},
        {"state": "cancelled", "quantity": 2.0},
        {"state": "draft", "quantity": 3.0},
        {"state": "assigned", "quantity": 1.0},
    ]
    assert open_quantity(10.0, moves) == 4.0
    assert open_quantity(10.0, []) == 10.0  # not processed yet: the whole line is open
    assert open_quantity(10.0, moves[:2]) == 0.0


@pytest.mark.parametrize(
    ("lead_time", "days"),
    [
        (dt.timedelta(days=7), 7),
        (dt.timedelta(hours=36), 2),
        (dt.timedelta(0), 0),
        (None, None),
    ],
)
def test_lead_times_become_whole_calendar_days_rounded_up(lead_time, days):
    assert lead_days(lead_time) == days


def test_the_first_lead_time_by_sequence_wins():
    records = [
        {"id": 1, "sequence": 20, "lead_time": dt.timedelta(days=3)},
        {"id": 2, "sequence": 10, "lead_time": None},
        {"id": 3, "sequence": 15, "lead_time": dt.timedelta(days=9)},
    ]
    assert first_lead_days(records) == 9
    assert first_lead_days([]) is None


def test_a_lines_position_counts_among_its_documents_lines_by_sequence_then_id():
    lines = [
        {"id": 7, "purchase": 1, "sequence": 2},
        {"id": 5, "purchase": 1, "sequence": 2},
        {"id": 9, "purchase": 1, "sequence": 1},
        {"id": 6, "purchase": 2, "sequence": None},
        {"id": 3, "purchase": 1, "sequence": None},  # unsequenced lines come last
    ]
    assert line_positions(lines, "purchase") == {9: 1, 5: 2, 7: 3, 3: 4, 6: 1}


def test_what_is_still_open_arrives_on_the_first_planned_date_of_its_open_moves():
    moves = [
        {"state": "done", "planned_date": dt.date(2026, 12, 1)},
        {"state": "draft", "planned_date": dt.date(2026, 12, 9)},
        {"state": "assigned", "planned_date": dt.date(2026, 12, 4)},
        {"state": "draft", "planned_date": None},
    ]
    assert earliest_open(moves) == dt.date(2026, 12, 4)
    assert earliest_open(moves[:1]) is None


# --- sites and tiers --------------------------------------------------------------------


def test_the_sites_option_maps_warehouse_codes_to_the_books_sites():
    sites = parse_sites("WH:MAIN, WH2 : EAST", "erp")
    assert sites == {"WH": "MAIN", "WH2": "EAST"}
    assert site_name({"id": 5, "code": "WH", "name": "Warehouse"}, sites) == "MAIN"
    assert site_name({"id": 6, "code": "NORTH", "name": "North"}, sites) == "NORTH"
    assert site_name({"id": 7, "code": None, "name": "Depot"}, sites) == "Depot"


def test_a_malformed_sites_option_names_the_connection_and_the_pair():
    with pytest.raises(UsageError) as caught:
        parse_sites("WH=MAIN", "erp")
    assert "Connections (erp)" in str(caught.value)
    assert "'WH=MAIN'" in str(caught.value)
    assert "sites=WH:MAIN" in str(caught.value)


def test_a_tier_comes_from_a_tier_category_and_the_lowest_number_wins():
    assert tier_of(["Retail", "Tier 2"], "Tier") == 2
    assert tier_of(["tier 3", "TIER 1"], "Tier") == 1
    assert tier_of(["Retail", "Tiers", "Tier"], "Tier") is None
    assert tier_of(["Priority 2"], "Priority") == 2
    assert tier_of(["Tier 0"], "Tier") is None  # tiers start at 1


# --- pull -------------------------------------------------------------------------------


def test_an_item_is_made_when_it_has_a_bom_and_bought_otherwise():
    product = {"id": 1, "code": "FG", "name": "Bike", "cost_price": Decimal("80.5"), "boms": [4]}
    row = item_row(product, unit=PIECE, supplier=None, lead_time=3)
    assert row == {
        "Item": "FG",
        "Description": "Bike",
        "Type": "make",
        "UoM": "u",
        "Supplier": None,
        "Lead Time": 3,
        "Unit Cost": 80.5,
    }
    bought = item_row({**product, "boms": []}, unit=PIECE, supplier="ACME", lead_time=None)
    assert (bought["Type"], bought["Supplier"]) == ("buy", "ACME")


def test_a_purchase_line_is_a_po_receipt_named_by_its_purchase_and_position():
    line = {"id": 12, "purchase": 4, "purchase.": {"number": "P0042", "id": 4}}
    row = purchase_receipt_row(
        line, item="RM", quantity=5.0, site="WH", due=dt.date(2026, 12, 7), position=2
    )
    assert row == {
        "Order": "P0042/2",
        "Item": "RM",
        "Site": "WH",
        "Due": dt.date(2026, 12, 7),
        "Qty": 5.0,
        "Kind": "PO",
        "External Id": "purchase.line,12",
    }


def test_a_production_is_a_wo_receipt_named_by_its_number_else_its_reference():
    numbered = {"id": 7, "number": "MO9", "reference": "FG@WH#2026-12-07"}
    draft = {"id": 8, "number": None, "reference": "FG@WH#2026-12-07"}
    bare = {"id": 9, "number": None, "reference": None}
    due = dt.date(2026, 12, 7)
    rows = [
        production_receipt_row(p, item="FG", quantity=1.0, site="WH", due=due)
        for p in (numbered, draft, bare)
    ]
    assert [r["Order"] for r in rows] == ["MO9", "FG@WH#2026-12-07", "production,9"]
    assert [r["External Id"] for r in rows] == ["production,7", "production,8", "production,9"]
    assert {r["Kind"] for r in rows} == {"WO"}


def test_receipts_that_would_share_a_key_are_told_apart_by_their_external_id():
    due = dt.date(2026, 12, 7)
    rows = [
        production_receipt_row(
            {"id": i, "reference": "X"}, item="FG", quantity=1, site="W", due=due
        )
        for i in (1, 2)
    ]
    unique_orders(rows)
    assert [r["Order"] for r in rows] == ["X", "X [production,2]"]


def test_a_sale_line_is_demand_named_by_its_sale_and_position_for_the_partys_code():
    line = {"id": 3, "sale": 2, "sale.": {"number": "S7", "party.": {"code": "ACME"}}}
    row = demand_row(line, item="FG", quantity=4.0, site="WH", due=dt.date(2026, 12, 1), position=1)
    assert row == {
        "Demand": "S7/1",
        "Item": "FG",
        "Site": "WH",
        "Customer": "ACME",
        "Due": dt.date(2026, 12, 1),
        "Qty": 4.0,
        "Kind": "order",
    }


def test_a_customer_row_has_a_tier_only_when_tiers_are_mapped():
    party = {"id": 5, "code": "ACME", "name": "Acme Corp"}
    assert customer_row(party, tier=1) == {"Customer": "ACME", "Name": "Acme Corp", "Tier": 1}
    assert customer_row(party, tier=None, with_tier=False) == {
        "Customer": "ACME",
        "Name": "Acme Corp",
    }


# --- push -------------------------------------------------------------------------------


def test_a_bom_is_exploded_for_the_quantity_made_and_rounded_up_per_unit():
    outputs = [{"product": 10, "quantity": 2.0, "unit": 1}]
    inputs = [
        {"product": 20, "quantity": 3.0, "unit": 1},  # 3 pieces per 2 made
        {"product": 21, "quantity": 0.5, "unit": 2},  # 0.5 kg per 2 made
    ]
    moves, factor = explode_bom(inputs, outputs, product=10, quantity=5.0, units={1: PIECE, 2: KG})
    assert factor == 2.5
    assert moves == [(20, 1, 8.0), (21, 2, 1.25)]  # 7.5 pieces round up to 8


def test_a_bom_that_does_not_make_the_product_explodes_to_nothing():
    moves, factor = explode_bom(
        [{"product": 20, "quantity": 1.0, "unit": 1}],
        [{"product": 11, "quantity": 1.0, "unit": 1}],
        product=10,
        quantity=5.0,
        units={1: PIECE},
    )
    assert (moves, factor) == ([], 0.0)


def test_the_allocation_note_says_what_was_confirmed_and_when():
    run = dt.datetime(2026, 11, 25, 10, 0, 31)
    full = allocation_note(allocated=40, quantity=40, first_ship=dt.date(2026, 12, 7), run=run)
    assert full == "sheetloop: confirmed 40 on 2026-12-07 (run 2026-11-25 10:00)"
    partial = allocation_note(allocated=30, quantity=40, first_ship=dt.date(2026, 12, 7), run=run)
    assert partial == "sheetloop: confirmed 30 of 40, first on 2026-12-07 (run 2026-11-25 10:00)"
    nothing = allocation_note(allocated=0, quantity=40, first_ship=None, run=None)
    assert nothing == "sheetloop: confirmed 0 of 40"
    assert allocation_note(allocated=2.5, quantity=2.5, first_ship=3, run=None).endswith(" on 3")


def test_sheetloops_note_line_replaces_its_previous_one_and_keeps_the_rest():
    note = "Call before delivery\nsheetloop: confirmed 10 on 2026-12-01\nDock 4"
    replaced = replace_note_line(note, "sheetloop: confirmed 12 on 2026-12-08")
    assert replaced == "Call before delivery\nDock 4\nsheetloop: confirmed 12 on 2026-12-08"
    assert replace_note_line(None, "sheetloop: confirmed 1") == "sheetloop: confirmed 1"


@given(
    st.lists(st.text(alphabet="abc :sheetlop", max_size=20), max_size=4),
    st.integers(min_value=0, max_value=999),
    st.integers(min_value=0, max_value=999),
)
def test_writing_the_note_line_twice_leaves_one_and_every_line_of_the_user(users, first, second):
    note = "\n".join(line for line in users if not line.startswith(NOTE_PREFIX))
    once = replace_note_line(note, f"{NOTE_PREFIX} confirmed {first}")
    twice = replace_note_line(once, f"{NOTE_PREFIX} confirmed {second}")
    assert twice.splitlines() == [*note.splitlines(), f"{NOTE_PREFIX} confirmed {second}"]


def test_a_planned_orders_marker_names_the_order():
    assert order_marker("FG@WH#2026-12-07") == "sheetloop: planned order FG@WH#2026-12-07"
