"""Tryton's own supply wizard and ``sheetloop plan`` on one small company: what both buy and
make, and where and why they differ.

The company (``comparison_data.py``) is seeded into the real local Tryton (stock_supply,
stock_supply_production, purchase_request), the wizard ``stock.supply`` runs once, and its
purchase requests and production requests are read back. The same data goes into a
sheetloop book planned in **day** buckets: Tryton reasons in days (lead times are
durations, shortages are looked for day by day), so day buckets compare like with like;
week buckets would snap both sides' dates to Mondays and hide the one-day offsets below.
Tryton's order points become sheetloop's policy: ``min`` is the safety stock and every item
is planned lot-for-lot.

Where the rules coincide, both agree:

- the same items are made (TABLE, TOP) and bought (LEG, BOARD, SCREW) within Tryton's
  supply period;
- each production request has the quantity of one sheetloop make order: an order point
  with ``min = target`` is safety stock with lot-for-lot, and an item without an order point
  is planned with 0 and 0, sheetloop's defaults;
- a purchase request for an order point with ``min = target`` (LEG) has the quantity
  sheetloop plans in that window;
- both net stock on hand and open purchases, and both explode the BOM through every level:
  Tryton's wizard repeats until no new production request appears, and the input moves of
  the production requests are the components' demand on the next pass.

Where they differ (each one is asserted below, so this list cannot go stale):

1. **Supply period.** Tryton looks for shortages only within its supply period: production
   requests from today for ``production.configuration.supply_period`` days (default: today
   only), purchase requests from today + the supplier lead time for
   ``purchase.configuration.supply_period`` days (default: one day). sheetloop plans the
   whole horizon; a sale beyond the supply periods (SO-3) gets planned orders only there.
2. **One day earlier per make level.** Tryton plans a production to end the day before the
   shortage it covers (sheetloop's ``Due`` is the shortage day itself, as receipts arrive at
   the start of their bucket); its components are then needed one day earlier too, so on
   each make level between a sale and an order Tryton's date is one more day ahead of
   sheetloop's. Quantities are not affected.
3. **One purchase request per item and run.** Tryton's purchase request covers the lowest
   forecast stock in the window with one request dated at the first shortage; sheetloop
   plans one order per day with a net requirement. The request's quantity is the sum of
   those orders (LEG: one request, two sheetloop orders).
4. **A shortage inside the supplier lead time** (BOARD, 7 days). Tryton asks for it at
   today + lead time, the earliest the supplier can deliver, and orders today; sheetloop
   keeps the date it is needed, releases the order today and reports ``PAST_DUE_RELEASE``
   (expedite it).
5. **Order-up-to targets.** With an order point whose target is above its minimum (SCREW:
   20 and 100), Tryton orders up to the target: target − minimum more than sheetloop's
   safety-stock netting, which orders only the shortfall.
6. **A production that should have started before today loses its components.** Tryton
   gives such a request a start in the past (the spare TOP wanted tomorrow ends today, so
   it starts yesterday), and its forecast ignores draft moves dated before today: that
   production's components (BOARD) are never requested. sheetloop releases the order in
   the first bucket at the latest and plans its components.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from sheetloop.addin import cli
from sheetloop.connectors.tryton import LocalTryton
from sheetloop.workbooks import schema
from sheetloop.workbooks.file_book import FileBook
from sheetloop.workbooks.reading import parse_table
from sheetloop.workbooks.template import init_book


def _load_comparison_data() -> ModuleType:
    # Test folders are not packages (importlib mode): load the data module by its path.
    name = "supply_comparison_data"
    if name not in sys.modules:
        path = Path(__file__).resolve().parent / "comparison_data.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


data = _load_comparison_data()


@dataclass(frozen=True)
class Planned:
    """A sheetloop planned order and the demands it is pegged to (sales, or a
    ``(safety stock)``/``(lot excess)`` row)."""

    order: str
    item: str
    kind: str
    qty: float
    release: dt.date
    due: dt.date
    demands: tuple[str, ...]


@dataclass(frozen=True)
class Comparison:
    """Both planners' answers for the same company, as of Tryton's today."""

    today: dt.date
    tryton: list[data.Request]
    inputs: list[data.InputMove]
    sheetloop: list[Planned]
    exceptions: pd.DataFrame

    def requests(self, item: str) -> list[data.Request]:
        return [r for r in self.tryton if r.item == item]

    def orders(self, item: str) -> list[Planned]:
        """sheetloop's orders for ``item`` that fall inside Tryton's supply period."""
        return [
            o
            for o in self.sheetloop
            if o.item == item and tryton_date(o) < window_end(item, self.today)
        ]

    def orders_beyond_window(self) -> list[Planned]:
        return [o for o in self.sheetloop if tryton_date(o) >= window_end(o.item, self.today)]


def window_end(item: str, today: dt.date) -> dt.date:
    """The first day after the window in which the wizard looks for ``item``'s shortages."""
    part = data.part(item)
    if part.make:
        return today + dt.timedelta(days=data.PRODUCTION_SUPPLY_DAYS)
    return today + dt.timedelta(days=part.lead_days + data.PURCHASE_SUPPLY_DAYS)


def make_levels(order: Planned) -> int:
    """Manufactured items on the BOM path from the sale an order serves down to the
    order's item, both included: how many days earlier Tryton dates the same need
    (difference 2)."""
    sales = [s for s in data.SALES if s.ref in order.demands]
    levels = {
        sum(data.part(code).make for code in path)
        for sale in sales
        for path in data.bom_paths(sale.item, order.item)
    }
    assert len(levels) == 1, f"{order.order} serves sales on BOM paths of {levels} make levels"
    return levels.pop()


def tryton_date(order: Planned) -> dt.date:
    """The day Tryton dates the need a sheetloop order covers (difference 2)."""
    return order.due - dt.timedelta(days=make_levels(order))


def _table(path: Path, name: str) -> pd.DataFrame:
    raw = FileBook.open(path).find_table(name)
    assert raw is not None, f"sheetloop plan did not write {name}"
    return parse_table(raw, schema.table(name))[0].frame


def _as_date(value: object) -> dt.date:
    return pd.Timestamp(value).date()


def _plan_with_sheetloop(path: Path, today: dt.date) -> tuple[list[Planned], pd.DataFrame]:
    init_book(path, data.book_tables(today))
    assert cli.main(["plan", str(path)]) == 0
    pegging = _table(path, "Pegging")
    demands: dict[str, list[str]] = defaultdict(list)
    for order, demand in zip(pegging["Order"], pegging["Demand"], strict=True):
        demands[order].append(demand)
    orders = [
        Planned(
            order=row.Order,
            item=row.Item,
            kind=row.Kind,
            qty=float(row.Qty),
            release=_as_date(row.Release),
            due=_as_date(row.Due),
            demands=tuple(demands[row.Order]),
        )
        for row in _table(path, "PlannedOrders").itertuples()
    ]
    return orders, _table(path, "Exceptions")


@pytest.fixture(scope="module")
def comparison(tryton_server: LocalTryton, tmp_path_factory: pytest.TempPathFactory) -> Comparison:
    """One wizard run and one ``sheetloop plan`` on the same company.

    The wizard works on the whole database: it replaces every request it made before, for
    any product; the other tests' records only add requests this comparison ignores."""
    client = tryton_server.client()
    try:
        today = client.call("model.ir.date.today")
        seeded = data.seed_tryton(client, uuid.uuid4().hex[:8], today)
        previous = data.supply_periods(client)
        data.set_supply_periods(
            client,
            (
                dt.timedelta(days=data.PURCHASE_SUPPLY_DAYS),
                dt.timedelta(days=data.PRODUCTION_SUPPLY_DAYS),
            ),
        )
        try:
            data.run_supply_wizard(client, seeded.company.warehouse, today)
        finally:
            data.set_supply_periods(client, previous)
        if client.call("model.ir.date.today") != today:
            pytest.skip("the comparison ran across midnight, which moves Tryton's dates: rerun")
        requests = data.read_requests(client, seeded)
        inputs = data.read_request_inputs(client, seeded)
    finally:
        client.close()
    book = tmp_path_factory.mktemp("supply-comparison") / "company.xlsx"
    orders, exceptions = _plan_with_sheetloop(book, today)
    return Comparison(today, requests, inputs, orders, exceptions)


# --- where the rules coincide ---------------------------------------------------------------


def test_both_make_and_buy_the_same_items_within_trytons_supply_period(comparison: Comparison):
    tryton = {(r.item, r.kind) for r in comparison.tryton}
    sheetloop = {
        (o.item, o.kind)
        for o in comparison.sheetloop
        if tryton_date(o) < window_end(o.item, comparison.today)
    }
    assert tryton == sheetloop
    assert {item for item, kind in tryton if kind == "make"} == {
        p.code for p in data.PARTS if p.make
    }
    assert {item for item, kind in tryton if kind == "buy"} == {
        p.code for p in data.PARTS if not p.make
    }


def test_each_production_request_has_the_quantity_of_one_sheetloop_make_order(
    comparison: Comparison,
):
    for part in (p for p in data.PARTS if p.make):
        requests = comparison.requests(part.code)
        orders = comparison.orders(part.code)
        assert len(requests) >= 2, f"the data should give {part.code} several orders"
        assert [r.qty for r in requests] == [o.qty for o in orders], part.code


def test_components_are_requested_only_through_the_bom_and_tryton_explodes_every_level(
    comparison: Comparison,
):
    # No sale asks for LEG, SCREW or BOARD: their demand is the productions' input moves.
    sold = {s.item for s in data.SALES}
    components = {b.component for b in data.BOM} - sold
    assert components <= {r.item for r in comparison.tryton}
    # The second level too: BOARD is consumed by the TOP productions Tryton requested.
    top_requests = {r.start for r in comparison.requests("TOP")}
    board_inputs = {m.date for m in comparison.inputs if m.item == "BOARD"}
    assert board_inputs == top_requests


def test_a_lot_for_lot_order_point_buys_what_sheetloop_plans_by_the_first_shortage(
    comparison: Comparison,
):
    leg = data.part("LEG")
    assert leg.order_point is not None
    assert leg.order_point.minimum == leg.order_point.target
    (request,) = comparison.requests("LEG")
    orders = comparison.orders("LEG")
    assert request.qty == sum(o.qty for o in orders)
    assert request.date == tryton_date(orders[0])
    assert request.start == request.date - dt.timedelta(days=leg.lead_days)


def test_both_net_stock_on_hand_and_the_open_purchase(comparison: Comparison):
    (purchase,) = data.PURCHASES
    screw = data.part(purchase.item)
    assert screw.order_point is not None
    # PO-1 arrives before the first TABLE production starts, so the lowest projected stock
    # in the window is on hand + PO-1 - everything the TABLE productions consume.
    first_start = min(r.start for r in comparison.requests("TABLE"))
    assert comparison.today + dt.timedelta(days=purchase.day) < first_start
    consumed = sum(
        line.qty_per * o.qty
        for o in comparison.orders("TABLE")
        for line in data.BOM
        if line.parent == "TABLE" and line.component == purchase.item
    )
    lowest = screw.on_hand + purchase.qty - consumed
    assert lowest < screw.safety_stock
    assert sum(o.qty for o in comparison.orders(screw.code)) == screw.safety_stock - lowest
    (request,) = comparison.requests(screw.code)
    assert request.qty == screw.order_point.target - lowest


# --- where they differ --------------------------------------------------------------------


def test_1_tryton_plans_only_its_supply_period_sheetloop_the_whole_horizon(comparison: Comparison):
    for request in comparison.tryton:
        assert request.date < window_end(request.item, comparison.today), request
    beyond = comparison.orders_beyond_window()
    assert {o.item for o in beyond} == {p.code for p in data.PARTS}
    (far,) = [s for s in data.SALES if s.day >= data.PRODUCTION_SUPPLY_DAYS]
    assert all(o.demands == (far.ref,) for o in beyond)
    assert sum(o.qty for o in beyond if o.item == far.item) == far.qty


def test_2_tryton_ends_a_production_the_day_before_its_need_one_day_more_per_make_level(
    comparison: Comparison,
):
    shifts = set()
    for part in (p for p in data.PARTS if p.make):
        for request, order in zip(
            comparison.requests(part.code), comparison.orders(part.code), strict=True
        ):
            shift = make_levels(order)
            shifts.add(shift)
            assert request.date == order.due - dt.timedelta(days=shift), order.order
            assert request.start == request.date - dt.timedelta(days=part.lead_days)
            assert order.release == order.due - dt.timedelta(days=part.lead_days)
    # A TABLE order is one day ahead, a TOP for a TABLE two: the offset grows per level.
    assert shifts == {1, 2}


def test_3_tryton_makes_one_purchase_request_per_item_where_sheetloop_orders_per_day(
    comparison: Comparison,
):
    for part in (p for p in data.PARTS if not p.make):
        assert len(comparison.requests(part.code)) == 1, part.code
    orders = comparison.orders("LEG")
    assert len(orders) == 2
    assert len({o.due for o in orders}) == 2
    (request,) = comparison.requests("LEG")
    assert request.qty == sum(o.qty for o in orders)


def test_4_a_need_within_the_lead_time_waits_for_today_plus_lead_time_or_is_flagged_past_due(
    comparison: Comparison,
):
    lead = dt.timedelta(days=data.part("BOARD").lead_days)
    today = comparison.today
    (request,) = comparison.requests("BOARD")
    first_need = min(tryton_date(o) for o in comparison.orders("BOARD"))
    assert first_need < today + lead
    assert request.date == today + lead
    assert request.start == today
    late = [o for o in comparison.orders("BOARD") if o.due - lead < today]
    assert len(late) >= 1
    assert all(o.release == today for o in late)
    codes = comparison.exceptions.query("Item == 'BOARD'")["Code"].tolist()
    assert "PAST_DUE_RELEASE" in codes


def test_5_an_order_point_target_above_its_minimum_orders_up_to_the_target(comparison: Comparison):
    screw = data.part("SCREW")
    assert screw.order_point is not None
    assert screw.order_point.target > screw.order_point.minimum
    (request,) = comparison.requests("SCREW")
    orders = comparison.orders("SCREW")
    assert request.qty - sum(o.qty for o in orders) == (
        screw.order_point.target - screw.order_point.minimum
    )
    assert request.date == tryton_date(orders[0])


def test_6_tryton_forgets_the_components_of_a_production_that_should_have_started_already(
    comparison: Comparison,
):
    today = comparison.today
    (late_top,) = [r for r in comparison.requests("TOP") if r.start < today]
    assert late_top.date == today
    forgotten = [m for m in comparison.inputs if m.date < today]
    assert [(m.item, m.date) for m in forgotten] == [("BOARD", late_top.start)]
    # sheetloop plans the same TOP (released today) and the BOARD it consumes.
    (top,) = [o for o in comparison.orders("TOP") if o.demands == ("SO-TOP",)]
    assert top.release == today
    (board,) = [o for o in comparison.orders("BOARD") if o.demands == ("SO-TOP",)]
    assert board.qty == sum(m.qty for m in forgotten)
    (request,) = comparison.requests("BOARD")
    assert request.qty == sum(o.qty for o in comparison.orders("BOARD")) - board.qty
