"""The demo company and the synthetic companies are valid, reproducible contract data."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from sheetloop.errors import UsageError
from sheetloop.workbooks import schema
from sheetloop.workbooks.demo_data import DEMO_PERIODS, demo_company, synthetic_company

MONDAY = dt.date(2026, 11, 30)
TABLE_NAMES = {"Settings", "Items", "ItemSites", "BOM", "Inventory", "Receipts", "Demand",
               "Customers", "Lanes"}  # fmt: skip
# Columns the CRM keeps beside the contract's (the contract preserves them).
CRM_EXTRAS = {"Customers": {"Account Manager"}}
FINISHED_BIKES = {"BK-100", "BK-200", "BK-300"}


def small_synthetic(
    items: int = 2_000, *, customers: int = 50, **kw: int
) -> dict[str, pd.DataFrame]:
    """A company small enough for tests; other arguments as ``synthetic_company``'s."""
    return synthetic_company(items, horizon_start=MONDAY, customers=customers, **kw)


@pytest.fixture(scope="module")
def demo() -> dict[str, pd.DataFrame]:
    return demo_company(MONDAY)


@pytest.fixture(scope="module")
def synthetic() -> dict[str, pd.DataFrame]:
    return small_synthetic()


@pytest.fixture(scope="module", params=["demo", "synthetic"])
def company(request: pytest.FixtureRequest) -> dict[str, pd.DataFrame]:
    return demo_company(MONDAY) if request.param == "demo" else small_synthetic()


# --- helpers -------------------------------------------------------------------------------


def low_level_codes(bom: pd.DataFrame) -> dict[str, int]:
    """Each BOM item's deepest level (0 = no parent); fails on a cycle."""
    children: dict[str, list[str]] = defaultdict(list)
    parents_left: dict[str, int] = defaultdict(int)
    for parent, component in zip(bom["Parent"], bom["Component"], strict=True):
        children[parent].append(component)
        parents_left[component] += 1
        parents_left.setdefault(parent, 0)
    level = {item: 0 for item, n in parents_left.items() if n == 0}
    ready = list(level)
    seen = 0
    while ready:
        item = ready.pop()
        seen += 1
        for child in children[item]:
            level[child] = max(level.get(child, 0), level[item] + 1)
            parents_left[child] -= 1
            if parents_left[child] == 0:
                ready.append(child)
    assert seen == len(parents_left), "the BOM has a cycle"
    return level


def path_levels(bom: pd.DataFrame) -> dict[str, set[int]]:
    """Every level at which each item appears, over all paths from a top item."""
    children: dict[str, list[str]] = defaultdict(list)
    for parent, component in zip(bom["Parent"], bom["Component"], strict=True):
        children[parent].append(component)
    tops = set(bom["Parent"]) - set(bom["Component"])
    found: dict[str, set[int]] = defaultdict(set)
    stack = [(top, 0) for top in tops]
    while stack:
        item, depth = stack.pop()
        found[item].add(depth)
        stack.extend((child, depth + 1) for child in children[item])
    return found


def setting(tables: dict[str, pd.DataFrame], name: str) -> object:
    settings = tables["Settings"]
    return settings.loc[settings["Setting"] == name, "Value"].item()


def date_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]


def supply_for_allocation(tables: dict[str, pd.DataFrame], item: str) -> float:
    """On hand − allocated + open receipts of ``item`` over every site."""
    inventory = tables["Inventory"]
    held = inventory[inventory["Item"] == item]
    receipts = tables["Receipts"]
    incoming = receipts.loc[receipts["Item"] == item, "Qty"].sum()
    return float((held["On Hand"] - held["Allocated"]).sum() + incoming)


# --- both kinds of company ---------------------------------------------------------------


def test_tables_are_the_contract_input_tables_without_supply_and_connections(
    company: dict[str, pd.DataFrame],
) -> None:
    expected = TABLE_NAMES if "ItemSites" in company else TABLE_NAMES - {"ItemSites"}
    assert set(company) == expected


def test_every_column_is_spelled_as_the_contract_header(
    company: dict[str, pd.DataFrame],
) -> None:
    for name, frame in company.items():
        allowed = set(schema.table(name).column_names) | CRM_EXTRAS.get(name, set())
        assert set(frame.columns) <= allowed, (name, set(frame.columns) - allowed)


def test_every_table_carries_its_required_columns(company: dict[str, pd.DataFrame]) -> None:
    for name, frame in company.items():
        required = {c.name for c in schema.table(name).columns if c.required}
        assert required <= set(frame.columns), (name, required - set(frame.columns))


def test_keys_are_unique(company: dict[str, pd.DataFrame]) -> None:
    for name, frame in company.items():
        key = list(schema.table(name).key)
        assert not frame.duplicated(subset=key).any(), name


def test_codes_are_text_and_dates_are_midnights(company: dict[str, pd.DataFrame]) -> None:
    for name, frame in company.items():
        for column in ("Item", "Parent", "Component", "Site", "Customer", "Order", "Demand"):
            if column in frame.columns:
                values = frame[column].dropna()
                assert values.map(lambda v: isinstance(v, str)).all(), (name, column)
        for column in date_columns(frame):
            assert (frame[column] == frame[column].dt.normalize()).all(), (name, column)


def test_every_reference_resolves(company: dict[str, pd.DataFrame]) -> None:
    items = set(company["Items"]["Item"])
    customers = set(company["Customers"]["Customer"])
    assert set(company["BOM"]["Parent"]) <= items
    assert set(company["BOM"]["Component"]) <= items
    for name in ("ItemSites", "Inventory", "Receipts", "Demand"):
        if name in company:
            assert set(company[name]["Item"]) <= items, name
    assert set(company["Demand"]["Customer"].dropna()) <= customers
    assert set(company["Lanes"]["Customer"].dropna()) <= customers
    assert set(company["Lanes"]["Region"].dropna()) <= set(company["Customers"]["Region"])
    sites = set(company["Inventory"]["Site"])
    for name in ("Receipts", "Demand", "Lanes", "ItemSites"):
        if name in company:
            assert set(company[name]["Site"].dropna()) <= sites, name


def test_numbers_stay_within_the_contract_ranges(company: dict[str, pd.DataFrame]) -> None:
    for name, frame in company.items():
        spec = schema.table(name)
        for column in spec.columns:
            if column.name not in frame.columns:
                continue
            values = frame[column.name].dropna()
            low, high = column.minimum, column.maximum
            if low is not None:
                above = values > low if column.minimum_exclusive else values >= low
                assert above.all(), (name, column.name)
            if high is not None:
                below = values < high if column.maximum_exclusive else values <= high
                assert below.all(), (name, column.name)
            if column.choices:
                assert set(values) <= set(column.choices), (name, column.name)
    assert (company["BOM"]["Scrap %"] < 100).all()
    assert (company["Receipts"]["Qty"] > 0).all()
    assert (company["Demand"]["Qty"] > 0).all()
    assert company["Customers"]["Tier"].isin([1, 2, 3]).all()
    assert company["Customers"]["Service Target"].between(0, 1).all()
    inventory = company["Inventory"]
    assert (inventory["Allocated"] <= inventory["On Hand"]).all()


def test_lot_rules_carry_the_parameters_they_need(company: dict[str, pd.DataFrame]) -> None:
    items = company["Items"]
    foq = items[items["Lot Rule"] == "FOQ"]
    assert foq["Lot Size"].notna().all() and (foq["Lot Size"] > 0).all()
    costed = items[
        items["Lot Rule"].isin(["EOQ", "LUC", "SM", "WW"])
        | ((items["Lot Rule"] == "POQ") & items["POQ Periods"].isna())
    ]
    if len(costed):
        assert costed["Setup Cost"].notna().all()
        assert (costed["Holding Cost"] > 0).all()


def test_make_items_have_components_and_buy_items_a_supplier(
    company: dict[str, pd.DataFrame],
) -> None:
    items = company["Items"].set_index("Item")
    parents = set(company["BOM"]["Parent"])
    assert set(items.index[items["Type"] == "make"]) == parents
    bought = items[items["Type"] == "buy"]
    assert bought["Supplier"].notna().all()


def test_demand_orders_name_a_customer_and_forecast_does_not(
    company: dict[str, pd.DataFrame],
) -> None:
    demand = company["Demand"]
    orders = demand[demand["Kind"] == "order"]
    forecast = demand[demand["Kind"] == "forecast"]
    assert len(orders) and len(forecast)
    assert orders["Customer"].notna().all()
    assert forecast["Customer"].isna().all()
    assert orders["Demand"].str.startswith("SO-").all()
    assert forecast["Demand"].str.startswith("FC-").all()


def test_demand_falls_on_top_level_items_only(company: dict[str, pd.DataFrame]) -> None:
    components = set(company["BOM"]["Component"])
    assert not set(company["Demand"]["Item"]) & components


def test_settings_plan_in_weeks_with_highs(company: dict[str, pd.DataFrame]) -> None:
    assert setting(company, "Bucket") == "week"
    assert setting(company, "Solver") == "highs"
    assert setting(company, "Horizon Start") == MONDAY


# --- the demo company --------------------------------------------------------------------


def test_demo_is_the_same_on_every_call(demo: dict[str, pd.DataFrame]) -> None:
    again = demo_company(MONDAY)
    assert set(again) == set(demo)
    for name, frame in demo.items():
        pd.testing.assert_frame_equal(again[name], frame, obj=name)


def test_a_later_horizon_shifts_the_demo_dates_and_nothing_else(
    demo: dict[str, pd.DataFrame],
) -> None:
    shift = dt.timedelta(weeks=5)
    later = demo_company(MONDAY + shift)
    assert setting(later, "Horizon Start") == MONDAY + shift
    for name, frame in demo.items():
        moved = later[name]
        dated = date_columns(frame)
        for column in dated:
            assert ((moved[column] - frame[column]) == pd.Timedelta(shift)).all(), name
        if name == "Settings":
            frame, moved = frame.iloc[1:], moved.iloc[1:]  # past the Horizon Start row
        pd.testing.assert_frame_equal(moved.drop(columns=dated), frame.drop(columns=dated))


def test_demo_horizon_start_snaps_back_to_its_monday() -> None:
    wednesday = MONDAY + dt.timedelta(days=2)
    tables = demo_company(wednesday)
    assert setting(tables, "Horizon Start") == MONDAY
    pd.testing.assert_frame_equal(tables["Demand"], demo_company(MONDAY)["Demand"])


def test_demo_plans_26_weeks(demo: dict[str, pd.DataFrame]) -> None:
    assert setting(demo, "Periods") == DEMO_PERIODS == 26


def test_demo_is_a_bicycle_maker_of_about_forty_items(demo: dict[str, pd.DataFrame]) -> None:
    items = demo["Items"]
    assert 35 <= len(items) <= 50
    assert set(items["Item"]) >= FINISHED_BIKES
    assert items.loc[items["Item"] == "BK-100", "Description"].item() == "City Bike 28in"
    assert (items["Unit Cost"] > 0).all()


def test_demo_bom_is_four_levels_deep(demo: dict[str, pd.DataFrame]) -> None:
    levels = low_level_codes(demo["BOM"])
    assert max(levels.values()) == 3
    assert {item for item, level in levels.items() if level == 0} == FINISHED_BIKES


def test_demo_shares_components_across_parents_and_levels(
    demo: dict[str, pd.DataFrame],
) -> None:
    bom = demo["BOM"]
    users = bom.groupby("Component")["Parent"].nunique()
    assert users["SP-290"] == 2  # front and rear wheel
    assert users["HU-F"] == 2
    at_two_levels = {item for item, found in path_levels(bom).items() if len(found) > 1}
    assert "BT-M5" in at_two_levels


def test_demo_uses_every_lot_rule_and_order_modifier(demo: dict[str, pd.DataFrame]) -> None:
    items = demo["Items"]
    assert set(items["Lot Rule"]) == set(schema.LOT_RULES)
    poq = items[items["Lot Rule"] == "POQ"]
    assert poq["POQ Periods"].notna().any() and poq["POQ Periods"].isna().any()
    assert (items["Safety Stock"] > 0).any()
    assert (items["Min Order Qty"] > 0).any()
    assert items["Order Multiple"].notna().any()
    scrapped = items[items["Assembly Scrap %"] > 0]
    assert 1 <= len(scrapped) <= 2 and (scrapped["Type"] == "make").all()
    assert (demo["BOM"]["Scrap %"] > 0).sum() == 1


def test_demo_make_lead_times_are_whole_weeks_and_buy_items_have_several_suppliers(
    demo: dict[str, pd.DataFrame],
) -> None:
    items = demo["Items"]
    made = items[items["Type"] == "make"]
    assert set(made["Lead Time"]) <= {7, 14}
    assert items.loc[items["Type"] == "buy", "Supplier"].nunique() >= 4


def test_demo_has_three_sites_and_site_overrides(demo: dict[str, pd.DataFrame]) -> None:
    inventory = demo["Inventory"]
    assert set(inventory["Site"]) == {"MAIN", "NORTH", "SOUTH"}
    assert set(demo["Items"]["Item"]) == set(inventory.loc[inventory["Site"] == "MAIN", "Item"])
    assert (inventory["Allocated"] > 0).any()
    assert len(demo["ItemSites"]) >= 1


def test_demo_has_25_customers_in_three_tiers_most_in_tier_3(
    demo: dict[str, pd.DataFrame],
) -> None:
    customers = demo["Customers"]
    assert len(customers) == 25
    count = customers["Tier"].value_counts()
    assert set(count.index) == {1, 2, 3}
    assert count[1] < count[2] < count[3]
    assert customers.groupby("Tier")["Service Target"].nunique().eq(1).all()
    assert customers.set_index("Tier")["Service Target"].sort_index().is_monotonic_decreasing
    assert customers["Account Manager"].notna().all()
    assert customers["Region"].nunique() >= 3


def test_demo_orders_fill_the_first_weeks_and_forecast_all_26(
    demo: dict[str, pd.DataFrame],
) -> None:
    demand = demo["Demand"]
    week = (demand["Due"] - pd.Timestamp(MONDAY)).dt.days // 7
    orders = demand["Kind"] == "order"
    assert set(range(4)) <= set(week[orders])
    assert week[orders].max() < DEMO_PERIODS // 2
    for bike in FINISHED_BIKES:
        weeks = set(week[~orders & (demand["Item"] == bike)])
        assert weeks == set(range(DEMO_PERIODS)), bike
    assert demand.loc[orders, "Site"].isna().any()  # some orders may ship from any site


def test_demo_has_a_past_due_order_and_a_past_due_receipt(
    demo: dict[str, pd.DataFrame],
) -> None:
    start = pd.Timestamp(MONDAY)
    demand = demo["Demand"]
    assert ((demand["Kind"] == "order") & (demand["Due"] < start)).any()
    assert not ((demand["Kind"] == "forecast") & (demand["Due"] < start)).any()
    assert (demo["Receipts"]["Due"] < start).any()


def test_demo_receipts_are_purchase_work_and_transfer_orders(
    demo: dict[str, pd.DataFrame],
) -> None:
    receipts = demo["Receipts"]
    assert set(receipts["Kind"]) == {"PO", "WO", "TO"}
    assert (receipts["Order"].str[:2] == receipts["Kind"]).all()
    assert (receipts["Kind"] == "TO").sum() == 1


def test_demo_receipt_for_a_discontinued_item_is_not_needed(
    demo: dict[str, pd.DataFrame],
) -> None:
    bom, demand = demo["BOM"], demo["Demand"]
    used = set(bom["Component"]) | set(demand["Item"])
    unneeded = set(demo["Receipts"]["Item"]) - used
    assert unneeded == {"SD-050"}


def test_demo_lanes_serve_regions_and_a_few_key_accounts(demo: dict[str, pd.DataFrame]) -> None:
    lanes = demo["Lanes"]
    by_customer = lanes["Customer"].notna()
    assert lanes.loc[by_customer, "Region"].isna().all()
    assert lanes.loc[~by_customer, "Region"].notna().all()
    assert 0 < by_customer.sum() < (~by_customer).sum()
    served = set(lanes["Region"].dropna())
    assert set(demo["Customers"]["Region"]) <= served


def test_demo_orders_for_some_bike_exceed_its_stock_and_receipts(
    demo: dict[str, pd.DataFrame],
) -> None:
    demand = demo["Demand"]
    orders = demand[demand["Kind"] == "order"].groupby("Item")["Qty"].sum()
    short = [bike for bike in FINISHED_BIKES if orders[bike] > supply_for_allocation(demo, bike)]
    assert short


# --- synthetic companies -----------------------------------------------------------------


def test_synthetic_is_the_same_for_the_same_seed(synthetic: dict[str, pd.DataFrame]) -> None:
    again = small_synthetic()
    for name, frame in synthetic.items():
        pd.testing.assert_frame_equal(again[name], frame, obj=name)


def test_synthetic_differs_for_another_seed(synthetic: dict[str, pd.DataFrame]) -> None:
    other = small_synthetic(seed=8)
    assert not other["BOM"].equals(synthetic["BOM"])
    assert not other["Demand"].equals(synthetic["Demand"])


@pytest.mark.parametrize("items", [1_000, 4_000])
def test_synthetic_row_counts_scale_with_items(items: int) -> None:
    tables = small_synthetic(items=items, customers=40)
    leaves = items - 9 * (items // 10)  # the deepest of 10 levels takes the remainder
    made = items - leaves
    assert len(tables["Items"]) == items
    assert 2 * made <= len(tables["BOM"]) <= 4 * made
    assert 2.8 * made <= len(tables["BOM"]) <= 3.2 * made
    assert len(tables["Demand"]) == 2 * items
    assert len(tables["Receipts"]) == items // 10
    assert len(tables["Customers"]) == 40
    inventory = tables["Inventory"]
    assert (inventory["Site"] == "MAIN").sum() == items
    assert items * 1.4 <= len(inventory) <= items * 1.8  # about 30% at each other site
    assert len(tables["Lanes"]) == 3 * 4


def test_synthetic_bom_is_exactly_as_deep_as_asked(synthetic: dict[str, pd.DataFrame]) -> None:
    levels = low_level_codes(synthetic["BOM"])
    assert max(levels.values()) == 9
    items = synthetic["Items"]
    assert set(levels) == set(items["Item"])
    # the code names the level it was generated on; the low-level code must agree
    for item, level in levels.items():
        assert item.startswith(f"L{level}-")


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_synthetic_honours_other_depths(depth: int) -> None:
    tables = small_synthetic(items=300, levels=depth)
    if depth == 1:
        assert tables["BOM"].empty and (tables["Items"]["Type"] == "buy").all()
    else:
        assert max(low_level_codes(tables["BOM"]).values()) == depth - 1


def test_synthetic_parents_have_two_to_four_components_shared_with_others(
    synthetic: dict[str, pd.DataFrame],
) -> None:
    bom = synthetic["BOM"]
    per_parent = bom.groupby("Parent").size()
    assert per_parent.between(2, 4).all()
    assert 2.8 <= per_parent.mean() <= 3.2
    assert (bom.groupby("Component")["Parent"].nunique() > 1).any()


def test_synthetic_lot_rules_are_mostly_l4l_with_some_foq_and_poq(
    synthetic: dict[str, pd.DataFrame],
) -> None:
    share = synthetic["Items"]["Lot Rule"].value_counts(normalize=True)
    assert set(share.index) == {"L4L", "FOQ", "POQ"}
    assert share["L4L"] > 0.7 and share["FOQ"] > 0.05 and share["POQ"] > 0.05


def test_synthetic_demand_spreads_over_the_buckets(synthetic: dict[str, pd.DataFrame]) -> None:
    due = synthetic["Demand"]["Due"]
    start = pd.Timestamp(MONDAY)
    weeks = (due - start).dt.days // 7
    assert weeks.min() >= 0 and weeks.max() == 103
    assert weeks.nunique() == 104
    assert synthetic["Demand"]["Site"].isna().any()
    assert setting(synthetic, "Periods") == 104


def test_synthetic_customers_fall_into_three_tiers(synthetic: dict[str, pd.DataFrame]) -> None:
    count = synthetic["Customers"]["Tier"].value_counts()
    assert count[1] < count[2] < count[3]


def test_synthetic_of_one_item_per_level_is_still_fully_deep() -> None:
    tables = small_synthetic(items=4, levels=4, customers=3, buckets=4, sites=1)
    assert max(low_level_codes(tables["BOM"]).values()) == 3
    assert set(tables["Inventory"]["Site"]) == {"MAIN"}


def test_synthetic_refuses_fewer_items_than_levels() -> None:
    with pytest.raises(UsageError, match="at least one item per BOM level"):
        small_synthetic(items=5, levels=10)


def test_synthetic_names_more_sites_than_the_usual_five() -> None:
    tables = small_synthetic(items=200, sites=7)
    assert set(tables["Inventory"]["Site"]) == {"MAIN", "NORTH", "SOUTH", "EAST", "WEST",
                                                "SITE06", "SITE07"}  # fmt: skip
    assert np.isin(tables["Lanes"]["Site"].unique(), tables["Inventory"]["Site"].unique()).all()
