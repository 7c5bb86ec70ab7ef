"""Data of the demo company and of scaled synthetic companies, as contract tables.

``demo_company`` is the small bicycle maker ``sheetloop demo`` writes into a workbook:
hand-made, readable, and rich enough that ``plan`` and ``allocate`` have something to say
(shared components, every lot rule, past-due and misplaced receipts, a bike in short
supply). ``synthetic_company`` builds a company of any size for benchmarks, vectorised and
reproducible from a seed.

Both return ``{table name: DataFrame}`` with the contract's table and column names and no
file I/O. Dates are ``datetime64`` columns at midnight (the ``Horizon Start`` setting is a
``datetime.date``); item, site and customer codes are text; a blank cell is a missing
value (None or NaN). Every date is relative to the horizon start, so a demo made on any Monday
tells the same story.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from sheetloop.errors import UsageError

__all__ = ["DEMO_PERIODS", "demo_company", "synthetic_company"]

#: Weekly buckets in the demo's horizon.
DEMO_PERIODS = 26

_ITEM_COLUMNS = [
    "Item", "Description", "Type", "UoM", "Supplier", "Lead Time", "Safety Stock", "Lot Rule",
    "Lot Size", "POQ Periods", "Min Order Qty", "Order Multiple", "Assembly Scrap %",
    "Unit Cost", "Setup Cost", "Holding Cost",
]  # fmt: skip

_REGIONS = ("North", "South", "East", "West")
_SERVICE_TARGETS = {1: 0.98, 2: 0.95, 3: 0.90}
_SITE_NAMES = ("MAIN", "NORTH", "SOUTH", "EAST", "WEST")

IntArray = npt.NDArray[np.int64]


def _monday(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week: weekly plans start on Mondays."""
    day = dt.date(day.year, day.month, day.day)  # a datetime becomes its date
    return day - dt.timedelta(days=day.weekday())


def _dates(start: dt.date, offsets: Sequence[int] | npt.NDArray[np.integer[Any]]) -> Any:
    """Midnight dates ``offsets`` days after ``start``, as a datetime64 array."""
    days = np.asarray(offsets, dtype=np.int64).astype("timedelta64[D]")
    return (np.datetime64(start, "D") + days).astype("datetime64[ns]")


def _settings(horizon_start: dt.date, periods: int) -> pd.DataFrame:
    values = pd.Series([horizon_start, "week", periods, "highs"], dtype=object)
    return pd.DataFrame(
        {"Setting": ["Horizon Start", "Bucket", "Periods", "Solver"], "Value": values}
    )


# --- the demo company: a bicycle maker ---------------------------------------------------------


def _item(
    code: str,
    description: str,
    *,
    make: bool = False,
    uom: str = "EA",
    supplier: str | None = None,
    lead: int,
    cost: float,
    safety: float = 0,
    rule: str = "L4L",
    lot: float | None = None,
    poq: int | None = None,
    moq: float = 0,
    multiple: float | None = None,
    scrap: float = 0,
    setup: float | None = None,
    holding: float | None = None,
) -> dict[str, Any]:
    return dict(
        zip(
            _ITEM_COLUMNS,
            (code, description, "make" if make else "buy", uom, supplier, lead, safety, rule,
             lot, poq, moq, multiple, scrap, cost, setup, holding),
            strict=True,
        )
    )  # fmt: skip


_ALUTEC = "Alutec Tubing"
_COATINGS = "Rainbow Coatings"
_FASTENERS = "Fixit Fasteners"
_RIMWORKS = "Rimworks"
_TYRES = "Grip Tyres"
_VELOPARTS = "Velo Parts Asia"
_BOXES = "Boxmakers"

# Lead times are calendar days (weekly buckets); holding costs are per unit and week.
_DEMO_ITEMS = [
    # finished bikes (level 0)
    _item("BK-100", "City Bike 28in", make=True, lead=7, safety=10, cost=289.0),
    _item("BK-200", "Trekking Bike 28in, 24-speed", make=True, lead=7, safety=5,
          multiple=5, cost=459.0),
    _item("BK-300", "Kids Bike 20in", make=True, lead=7, rule="POQ", poq=2, cost=159.0),
    # frames, wheels and the drivetrain kit (level 1) and raw frames (level 2)
    _item("FR-100P", "City Frame, powder-coated blue", make=True, lead=7, cost=78.0),
    _item("FR-200P", "Trekking Frame, powder-coated green", make=True, lead=7, cost=96.0),
    _item("FR-300P", "Kids Frame, powder-coated red", make=True, lead=7, cost=41.0),
    _item("FR-100", "City Frame, welded raw", make=True, lead=14, rule="FOQ", lot=50,
          scrap=2, cost=62.0),
    _item("FR-200", "Trekking Frame, welded raw", make=True, lead=14, rule="FOQ", lot=40,
          scrap=3, cost=78.0),
    _item("FR-300", "Kids Frame, welded raw", make=True, lead=14, moq=30, cost=31.0),
    _item("WH-700F", "Front Wheel 700C, built", make=True, lead=7, rule="POQ", poq=2,
          cost=34.0),
    _item("WH-700R", "Rear Wheel 700C, built", make=True, lead=7, rule="POQ", poq=2,
          cost=52.0),
    _item("WH-20F", "Front Wheel 20in, built", make=True, lead=7, multiple=10, cost=18.0),
    _item("WH-20R", "Rear Wheel 20in, built", make=True, lead=7, multiple=10, cost=24.0),
    _item("DT-200", "Drivetrain Kit 8-speed", make=True, lead=7, rule="WW", setup=120,
          holding=0.9, cost=88.0),
    # purchased parts
    _item("TB-AL6", "Aluminium Tube Set 6061", supplier=_ALUTEC, lead=28, rule="EOQ",
          setup=250, holding=0.18, cost=38.0),
    _item("TB-ST", "Steel Tube Set, kids", supplier=_ALUTEC, lead=28, moq=50, cost=17.0),
    _item("PT-BLU", "Powder Coat, Ocean Blue", uom="KG", supplier=_COATINGS, lead=14,
          rule="FOQ", lot=25, cost=12.5),
    _item("PT-GRN", "Powder Coat, Forest Green", uom="KG", supplier=_COATINGS, lead=14,
          rule="FOQ", lot=25, cost=12.5),
    _item("PT-RED", "Powder Coat, Signal Red", uom="KG", supplier=_COATINGS, lead=14,
          rule="FOQ", lot=20, cost=13.0),
    _item("BT-M5", "Bolt M5x12, stainless", supplier=_FASTENERS, lead=7, safety=2000,
          rule="FOQ", lot=5000, cost=0.04),
    _item("BT-M6", "Bolt M6x16, stainless", supplier=_FASTENERS, lead=7, moq=2000,
          multiple=1000, cost=0.06),
    _item("RM-700", "Rim 700C, double wall, 32H", supplier=_RIMWORKS, lead=21, rule="LUC",
          setup=150, holding=0.07, cost=14.0),
    _item("RM-20", "Rim 20in, single wall, 28H", supplier=_RIMWORKS, lead=21, cost=7.0),
    _item("SP-290", "Spoke 290mm, stainless", supplier=_RIMWORKS, lead=14, safety=1000,
          moq=5000, multiple=500, cost=0.18),
    _item("SP-186", "Spoke 186mm, zinc-plated", supplier=_RIMWORKS, lead=14, rule="FOQ",
          lot=3000, cost=0.11),
    _item("HU-F", "Front Hub, quick release", supplier=_VELOPARTS, lead=28, rule="SM",
          setup=90, holding=0.04, cost=9.0),
    _item("HU-R", "Rear Hub, 8-speed cassette body", supplier=_VELOPARTS, lead=28,
          rule="SM", setup=90, holding=0.09, cost=19.0),
    _item("HU-R20", "Rear Hub, kids coaster brake", supplier=_VELOPARTS, lead=28, cost=12.0),
    _item("TY-700", "Tyre 700x38, puncture-resistant", supplier=_TYRES, lead=14, safety=40,
          rule="POQ", poq=3, cost=11.0),
    _item("TY-20", "Tyre 20x1.75", supplier=_TYRES, lead=14, rule="POQ", poq=3, cost=6.0),
    # POQ without POQ Periods: the period comes from EOQ / average demand
    _item("TU-700", "Inner Tube 700C, Presta valve", supplier=_TYRES, lead=14, rule="POQ",
          setup=40, holding=0.01, cost=2.4),
    _item("TU-20", "Inner Tube 20in, Schrader valve", supplier=_TYRES, lead=14, multiple=50,
          cost=1.8),
    _item("CH-116", "Chain 8-speed, 116 links", supplier=_VELOPARTS, lead=21, safety=30,
          multiple=50, cost=8.5),
    _item("CS-8", "Cassette 8-speed 11-32", supplier=_VELOPARTS, lead=28, rule="EOQ",
          setup=180, holding=0.08, cost=16.0),
    _item("CR-100", "Crankset 44T, 170mm", supplier=_VELOPARTS, lead=28, moq=100, cost=21.0),
    _item("DR-100", "Rear Derailleur 8-speed", supplier=_VELOPARTS, lead=35, rule="WW",
          setup=200, holding=0.09, cost=18.0),
    _item("SD-100", "Comfort Saddle, gel", supplier=_VELOPARTS, lead=14, cost=14.0),
    _item("SD-300", "Kids Saddle", supplier=_VELOPARTS, lead=14, cost=6.0),
    _item("SD-050", "Classic Saddle, leather (discontinued)", supplier=_VELOPARTS, lead=21,
          cost=22.0),
    _item("BR-V", "V-Brake Set, front and rear", supplier=_VELOPARTS, lead=21, rule="FOQ",
          lot=100, cost=15.0),
    _item("BR-D", "Hydraulic Disc Brake Set", supplier=_VELOPARTS, lead=28, rule="FOQ",
          lot=50, cost=64.0),
    _item("HB-100", "Handlebar and Stem, alloy", supplier=_VELOPARTS, lead=21, cost=17.0),
    _item("PD-100", "Pedals, pair, non-slip", supplier=_VELOPARTS, lead=14, multiple=20,
          cost=7.0),
    _item("LI-100", "Light Set, dynamo LED", supplier=_VELOPARTS, lead=21, cost=23.0),
    _item("BX-100", "Shipping Carton, bike", supplier=_BOXES, lead=7, rule="FOQ", lot=200,
          cost=3.2),
]  # fmt: skip

# (Parent, Component, Qty Per, Scrap %). Bolts, the chain and the crankset go into the bikes
# directly and into deeper assemblies too, so they appear at two levels.
_DEMO_BOM: list[tuple[str, str, float, float]] = [
    ("BK-100", "FR-100P", 1, 0), ("BK-100", "WH-700F", 1, 0), ("BK-100", "WH-700R", 1, 0),
    ("BK-100", "SD-100", 1, 0), ("BK-100", "BR-V", 1, 0), ("BK-100", "HB-100", 1, 0),
    ("BK-100", "PD-100", 1, 0), ("BK-100", "CH-116", 1, 0), ("BK-100", "CR-100", 1, 0),
    ("BK-100", "LI-100", 1, 0), ("BK-100", "BT-M5", 6, 0), ("BK-100", "BT-M6", 4, 0),
    ("BK-100", "BX-100", 1, 0),
    ("BK-200", "FR-200P", 1, 0), ("BK-200", "WH-700F", 1, 0), ("BK-200", "WH-700R", 1, 0),
    ("BK-200", "DT-200", 1, 0), ("BK-200", "SD-100", 1, 0), ("BK-200", "BR-D", 1, 0),
    ("BK-200", "HB-100", 1, 0), ("BK-200", "PD-100", 1, 0), ("BK-200", "LI-100", 1, 0),
    ("BK-200", "BT-M5", 8, 0), ("BK-200", "BT-M6", 4, 0), ("BK-200", "BX-100", 1, 0),
    ("BK-300", "FR-300P", 1, 0), ("BK-300", "WH-20F", 1, 0), ("BK-300", "WH-20R", 1, 0),
    ("BK-300", "SD-300", 1, 0), ("BK-300", "BR-V", 1, 0), ("BK-300", "HB-100", 1, 0),
    ("BK-300", "PD-100", 1, 0), ("BK-300", "CH-116", 1, 0), ("BK-300", "CR-100", 1, 0),
    ("BK-300", "BT-M5", 4, 0), ("BK-300", "BX-100", 1, 0),
    # overspray: a tenth of the powder never reaches the frame
    ("FR-100P", "FR-100", 1, 0), ("FR-100P", "PT-BLU", 0.4, 10),
    ("FR-200P", "FR-200", 1, 0), ("FR-200P", "PT-GRN", 0.45, 0),
    ("FR-300P", "FR-300", 1, 0), ("FR-300P", "PT-RED", 0.3, 0),
    ("FR-100", "TB-AL6", 1, 0), ("FR-100", "BT-M5", 2, 0),
    ("FR-200", "TB-AL6", 1, 0), ("FR-200", "BT-M5", 2, 0),
    ("FR-300", "TB-ST", 1, 0),
    ("WH-700F", "RM-700", 1, 0), ("WH-700F", "SP-290", 32, 0), ("WH-700F", "HU-F", 1, 0),
    ("WH-700F", "TY-700", 1, 0), ("WH-700F", "TU-700", 1, 0),
    ("WH-700R", "RM-700", 1, 0), ("WH-700R", "SP-290", 32, 0), ("WH-700R", "HU-R", 1, 0),
    ("WH-700R", "TY-700", 1, 0), ("WH-700R", "TU-700", 1, 0),
    ("WH-20F", "RM-20", 1, 0), ("WH-20F", "SP-186", 28, 0), ("WH-20F", "HU-F", 1, 0),
    ("WH-20F", "TY-20", 1, 0), ("WH-20F", "TU-20", 1, 0),
    ("WH-20R", "RM-20", 1, 0), ("WH-20R", "SP-186", 28, 0), ("WH-20R", "HU-R20", 1, 0),
    ("WH-20R", "TY-20", 1, 0), ("WH-20R", "TU-20", 1, 0),
    ("DT-200", "CS-8", 1, 0), ("DT-200", "CR-100", 1, 0), ("DT-200", "DR-100", 1, 0),
    ("DT-200", "CH-116", 1, 0),
]  # fmt: skip

# (Item, Site, Lead Time, Safety Stock, Supplier): the distribution centres differ a little.
_DEMO_ITEM_SITES: list[tuple[str, str, float | None, float | None, str | None]] = [
    ("BK-100", "NORTH", None, 5, None),
    ("BK-200", "SOUTH", 10, 2, None),
    ("TY-700", "NORTH", 7, None, "Nordic Rubber"),
]

_DEMO_SITES = ("MAIN", "NORTH", "SOUTH")

# Stock at the factory, by item: (On Hand, Allocated).
_DEMO_STOCK_MAIN: dict[str, tuple[float, float]] = {
    "BK-100": (60, 10), "BK-200": (18, 6), "BK-300": (30, 0),
    "FR-100P": (12, 0), "FR-200P": (8, 0), "FR-300P": (10, 0),
    "FR-100": (20, 0), "FR-200": (6, 0), "FR-300": (15, 0),
    "WH-700F": (40, 0), "WH-700R": (25, 0), "WH-20F": (20, 0), "WH-20R": (20, 0),
    "DT-200": (10, 0),
    "TB-AL6": (45, 0), "TB-ST": (30, 0),
    "PT-BLU": (18, 0), "PT-GRN": (9, 0), "PT-RED": (12, 0),
    "BT-M5": (9000, 1500), "BT-M6": (2500, 0),
    "RM-700": (120, 0), "RM-20": (60, 0),
    "SP-290": (4200, 0), "SP-186": (2500, 0),
    "HU-F": (90, 0), "HU-R": (45, 0), "HU-R20": (30, 0),
    "TY-700": (150, 20), "TY-20": (70, 0), "TU-700": (300, 0), "TU-20": (120, 0),
    "CH-116": (110, 0), "CS-8": (40, 0), "CR-100": (80, 0), "DR-100": (35, 0),
    "SD-100": (90, 0), "SD-300": (40, 0), "SD-050": (140, 0),
    "BR-V": (100, 0), "BR-D": (20, 0),
    # plenty of handlebars: the open purchase order for them comes too early
    "HB-100": (900, 0),
    "PD-100": (160, 0), "LI-100": (70, 0), "BX-100": (300, 0),
}  # fmt: skip

# The distribution centres hold bikes and a few spare parts: (Item, Site, On Hand, Allocated).
_DEMO_STOCK_DC: list[tuple[str, str, float, float]] = [
    ("BK-100", "NORTH", 25, 4), ("BK-200", "NORTH", 6, 0), ("BK-300", "NORTH", 8, 0),
    ("BK-100", "SOUTH", 10, 0), ("BK-200", "SOUTH", 4, 2), ("BK-300", "SOUTH", 12, 0),
    ("TY-700", "NORTH", 40, 0), ("TU-700", "NORTH", 60, 0), ("CH-116", "NORTH", 15, 0),
    ("TY-700", "SOUTH", 30, 0), ("TU-700", "SOUTH", 50, 0),
]  # fmt: skip

# (Order, Item, Site, Due in days from the horizon start, Qty, Kind)
_DEMO_RECEIPTS: list[tuple[str, str, str, int, float, str]] = [
    ("PO-4501", "TY-700", "MAIN", -3, 200, "PO"),  # past due: the supplier is late
    ("PO-4502", "SP-290", "MAIN", 9, 5000, "PO"),
    ("PO-4502", "SP-186", "MAIN", 9, 3000, "PO"),
    ("PO-4503", "RM-700", "MAIN", 16, 300, "PO"),
    ("PO-4504", "HB-100", "MAIN", 2, 300, "PO"),  # too early: stock lasts for weeks
    ("PO-4505", "SD-050", "MAIN", 23, 100, "PO"),  # not needed: the saddle is discontinued
    ("PO-4506", "TB-AL6", "MAIN", 11, 120, "PO"),
    ("PO-4507", "BT-M5", "MAIN", 4, 5000, "PO"),
    ("PO-4508", "CS-8", "MAIN", 25, 100, "PO"),
    ("WO-7001", "BK-100", "MAIN", 4, 40, "WO"),
    ("WO-7002", "BK-200", "MAIN", 8, 20, "WO"),
    ("WO-7003", "FR-200", "MAIN", 10, 40, "WO"),
    ("WO-7004", "WH-700R", "MAIN", 3, 60, "WO"),
    ("TO-9001", "BK-200", "NORTH", 2, 10, "TO"),  # shipped from MAIN, arrives at NORTH
]

# (Customer, Name, Tier, Region, Account Manager)
_DEMO_CUSTOMERS: list[tuple[str, str, int, str, str]] = [
    ("C-1001", "Velo City Stores", 1, "North", "Anna Berg"),
    ("C-1002", "Ride On Megastore", 1, "South", "Luis Ortega"),
    ("C-1003", "Urban Mobility Fleet", 1, "East", "Anna Berg"),
    ("C-1004", "Sportwelt Outlet", 1, "West", "Mei Tanaka"),
    ("C-1005", "Pedal Power", 2, "North", "Tom Walsh"),
    ("C-1006", "Spoke & Chain", 2, "South", "Luis Ortega"),
    ("C-1007", "Two Wheels Co.", 2, "East", "Mei Tanaka"),
    ("C-1008", "Green Commute", 2, "West", "Tom Walsh"),
    ("C-1009", "Hilltop Cycles", 2, "North", "Anna Berg"),
    ("C-1010", "Riverside Bikes", 2, "South", "Luis Ortega"),
    ("C-1011", "Campus Cycles", 2, "East", "Mei Tanaka"),
    ("C-1012", "Coastline Cycling", 2, "West", "Tom Walsh"),
    ("C-1013", "The Bike Shed", 3, "North", "Tom Walsh"),
    ("C-1014", "Freewheel Corner", 3, "North", "Anna Berg"),
    ("C-1015", "Gear Shift Cycles", 3, "South", "Luis Ortega"),
    ("C-1016", "Kickstand & Co.", 3, "South", "Mei Tanaka"),
    ("C-1017", "Cadence Cycles", 3, "East", "Tom Walsh"),
    ("C-1018", "Saddle Up", 3, "East", "Anna Berg"),
    ("C-1019", "Little Riders", 3, "North", "Luis Ortega"),
    ("C-1020", "Mountain Goat Bikes", 3, "West", "Mei Tanaka"),
    ("C-1021", "Sunday Spin", 3, "West", "Tom Walsh"),
    ("C-1022", "Tandem Traders", 3, "South", "Anna Berg"),
    ("C-1023", "Bell & Brake", 3, "East", "Luis Ortega"),
    ("C-1024", "Crank It Up", 3, "West", "Mei Tanaka"),
    ("C-1025", "Puncture Repair Cafe", 3, "North", "Tom Walsh"),
]

# Customer orders: (Demand, Customer, Item, Site (None: any), Due in days, Qty). The
# trekking bike sells far beyond its stock and open work orders.
_DEMO_ORDERS: list[tuple[str, str, str, str | None, int, float]] = [
    ("SO-1001", "C-1007", "BK-100", "MAIN", -4, 12),  # past due
    ("SO-1002", "C-1001", "BK-200", "MAIN", 0, 30),
    ("SO-1003", "C-1003", "BK-100", "MAIN", 1, 40),
    ("SO-1004", "C-1012", "BK-300", "MAIN", 1, 10),
    ("SO-1005", "C-1002", "BK-200", "SOUTH", 2, 12),
    ("SO-1006", "C-1015", "BK-100", None, 2, 6),
    ("SO-1007", "C-1004", "BK-200", "MAIN", 3, 20),
    ("SO-1008", "C-1009", "BK-300", "SOUTH", 4, 8),
    ("SO-1009", "C-1001", "BK-100", "NORTH", 7, 25),
    ("SO-1010", "C-1005", "BK-200", "MAIN", 7, 15),
    ("SO-1011", "C-1018", "BK-100", "MAIN", 8, 5),
    ("SO-1012", "C-1003", "BK-200", "NORTH", 9, 18),
    ("SO-1013", "C-1021", "BK-300", None, 9, 4),
    ("SO-1014", "C-1006", "BK-100", "MAIN", 10, 20),
    ("SO-1015", "C-1010", "BK-200", "MAIN", 11, 10),
    ("SO-1016", "C-1002", "BK-100", "SOUTH", 14, 30),
    ("SO-1017", "C-1013", "BK-300", "MAIN", 14, 12),
    ("SO-1018", "C-1008", "BK-200", "MAIN", 15, 14),
    ("SO-1019", "C-1016", "BK-100", "MAIN", 16, 8),
    ("SO-1020", "C-1004", "BK-300", "MAIN", 17, 15),
    ("SO-1021", "C-1023", "BK-100", None, 18, 3),
    ("SO-1022", "C-1011", "BK-200", "SOUTH", 21, 9),
    ("SO-1023", "C-1001", "BK-100", "MAIN", 21, 35),
    ("SO-1024", "C-1019", "BK-300", "NORTH", 22, 6),
    ("SO-1025", "C-1007", "BK-200", "MAIN", 23, 12),
    ("SO-1026", "C-1014", "BK-100", "NORTH", 24, 10),
    ("SO-1027", "C-1025", "BK-300", "MAIN", 28, 5),
    ("SO-1028", "C-1003", "BK-200", "MAIN", 28, 25),
    ("SO-1029", "C-1017", "BK-100", "MAIN", 29, 7),
    ("SO-1030", "C-1020", "BK-200", None, 30, 4),
    ("SO-1031", "C-1002", "BK-100", "MAIN", 35, 20),
    ("SO-1032", "C-1022", "BK-300", "SOUTH", 36, 6),
    ("SO-1033", "C-1009", "BK-200", "MAIN", 37, 8),
    ("SO-1034", "C-1024", "BK-100", "MAIN", 38, 5),
    ("SO-1035", "C-1006", "BK-200", "NORTH", 42, 10),
]

# Weekly forecast: (Item, Site, units in an average week).
_DEMO_FORECAST: list[tuple[str, str, int]] = [
    ("BK-100", "MAIN", 40), ("BK-100", "NORTH", 15), ("BK-200", "MAIN", 25),
    ("BK-200", "SOUTH", 10), ("BK-300", "MAIN", 15),
]  # fmt: skip

# Percent of an average week, one value per week of the horizon: a spring-summer peak.
_SEASON = (80, 85, 90, 95, 100, 110, 120, 130, 135, 140, 140, 135, 130,
           120, 115, 110, 105, 100, 95, 90, 90, 85, 85, 80, 80, 75)  # fmt: skip

# (Site, Customer, Region, Cost per unit, Transit in weeks): most lanes serve a region; a
# few key accounts have their own.
_DEMO_LANES: list[tuple[str, str | None, str | None, float, int]] = [
    ("MAIN", None, "North", 4.5, 1), ("MAIN", None, "South", 4.5, 1),
    ("MAIN", None, "East", 3.0, 0), ("MAIN", None, "West", 6.0, 1),
    ("NORTH", None, "North", 1.5, 0), ("NORTH", None, "East", 2.5, 1),
    ("SOUTH", None, "South", 1.5, 0), ("SOUTH", None, "West", 2.5, 1),
    ("MAIN", "C-1003", None, 0.0, 0),  # the fleet customer collects at the factory
    ("NORTH", "C-1001", None, 1.0, 0),
    ("SOUTH", "C-1002", None, 1.0, 0),
]  # fmt: skip


def demo_company(horizon_start: dt.date) -> dict[str, pd.DataFrame]:
    """The demo bicycle maker's input tables, every date relative to ``horizon_start``.

    ``horizon_start`` snaps back to its Monday. The result is the same on every call and,
    apart from its dates, the same for every horizon start. Tables: Settings, Items,
    ItemSites, BOM, Inventory, Receipts, Demand, Customers, Lanes.
    """
    start = _monday(horizon_start)
    assert len(_SEASON) == DEMO_PERIODS
    return {
        "Settings": _settings(start, DEMO_PERIODS),
        "Items": pd.DataFrame(_DEMO_ITEMS, columns=_ITEM_COLUMNS),
        "ItemSites": pd.DataFrame(
            _DEMO_ITEM_SITES, columns=["Item", "Site", "Lead Time", "Safety Stock", "Supplier"]
        ),
        "BOM": pd.DataFrame(_DEMO_BOM, columns=["Parent", "Component", "Qty Per", "Scrap %"]),
        "Inventory": _demo_inventory(),
        "Receipts": _demo_receipts(start),
        "Demand": _demo_demand(start),
        "Customers": _demo_customers(),
        "Lanes": pd.DataFrame(
            _DEMO_LANES, columns=["Site", "Customer", "Region", "Cost", "Transit"]
        ),
    }


def _demo_inventory() -> pd.DataFrame:
    rows = [(item, "MAIN", *stock) for item, stock in _DEMO_STOCK_MAIN.items()]
    rows += _DEMO_STOCK_DC
    return pd.DataFrame(rows, columns=["Item", "Site", "On Hand", "Allocated"])


def _demo_receipts(start: dt.date) -> pd.DataFrame:
    frame = pd.DataFrame(_DEMO_RECEIPTS, columns=["Order", "Item", "Site", "Due", "Qty", "Kind"])
    frame["Due"] = _dates(start, frame["Due"].to_numpy())
    return frame


def _demo_demand(start: dt.date) -> pd.DataFrame:
    orders = pd.DataFrame(
        _DEMO_ORDERS, columns=["Demand", "Customer", "Item", "Site", "Due", "Qty"]
    )
    orders["Kind"] = "order"
    forecast = pd.DataFrame(
        [
            (f"FC-{item}-{site}-W{week + 1:02d}", None, item, site, 7 * week,
             base * percent // 100, "forecast")
            for item, site, base in _DEMO_FORECAST
            for week, percent in enumerate(_SEASON)
        ],
        columns=["Demand", "Customer", "Item", "Site", "Due", "Qty", "Kind"],
    )  # fmt: skip
    demand = pd.concat([orders, forecast], ignore_index=True)
    demand["Due"] = _dates(start, demand["Due"].to_numpy())
    return demand[["Demand", "Item", "Site", "Customer", "Due", "Qty", "Kind"]]


def _demo_customers() -> pd.DataFrame:
    frame = pd.DataFrame(
        _DEMO_CUSTOMERS, columns=["Customer", "Name", "Tier", "Region", "Account Manager"]
    )
    frame.insert(4, "Service Target", frame["Tier"].map(_SERVICE_TARGETS))
    return frame


# --- synthetic companies for benchmarks ----------------------------------------------------


def synthetic_company(
    items: int,
    *,
    levels: int = 10,
    buckets: int = 104,
    sites: int = 3,
    customers: int = 500,
    horizon_start: dt.date,
    seed: int = 7,
) -> dict[str, pd.DataFrame]:
    """A random company of ``items`` items, the same for the same arguments and seed.

    Shape, for benchmarks to scale against:

    - Items: split evenly over ``levels`` BOM levels (the deeper levels take the
      remainder). Level 0 holds finished goods, the deepest level purchased parts, the
      others are made. Lot rules are mostly L4L, some FOQ and POQ.
    - BOM: every item above the deepest level has 2–4 components (fewer only where fewer
      deeper items exist), all from strictly deeper levels and at least one from the level
      just below; every item below level 0 has a parent on the level just above. So the
      graph is acyclic, an item's level is its low-level code and the BOM is exactly
      ``levels`` deep. About 3 lines per item above the deepest level: 270,000 lines for
      100,000 items in 10 levels. Components are shared between parents.
    - Inventory: every item at MAIN, about 30% of items at each other site.
    - Receipts: one open order for 10% of the items (``PO-`` for bought, ``WO-`` for made).
    - Demand: ``2 × items`` rows, on level-0 items only, spread over ``buckets`` weeks:
      about 30% customer orders in the first 13 weeks, the rest weekly forecast.
    - Customers: ``customers`` in 3 tiers (10% tier 1, 30% tier 2, the rest tier 3), in 4
      regions; Lanes: every site to every region.
    """
    if items < levels or levels < 1:
        raise UsageError(
            f"a synthetic company needs at least one item per BOM level: got {items} items "
            f"for {levels} levels. Ask for more items or fewer levels."
        )
    if buckets < 1 or sites < 1 or customers < 1:
        raise UsageError(
            f"a synthetic company needs at least one bucket, site and customer: got "
            f"buckets={buckets}, sites={sites}, customers={customers}."
        )
    start = _monday(horizon_start)
    rng = np.random.default_rng(seed)
    site_names = _synthetic_sites(sites)
    sizes = np.full(levels, items // levels, dtype=np.int64)
    sizes[levels - items % levels :] += 1
    starts = np.concatenate([[0], np.cumsum(sizes)])
    level = np.repeat(np.arange(levels), sizes)
    codes = _codes("L", level, np.arange(items), width=6, sep="-")
    cust = _synthetic_customers(customers)
    return {
        "Settings": _settings(start, buckets),
        "Items": _synthetic_items(rng, codes, level, levels),
        "BOM": _synthetic_bom(rng, codes, sizes, starts),
        "Inventory": _synthetic_inventory(rng, codes, site_names),
        "Receipts": _synthetic_receipts(rng, codes, level, levels, site_names, start),
        "Demand": _synthetic_demand(
            rng, codes[: sizes[0]], 2 * items, site_names, cust["Customer"], buckets, start
        ),
        "Customers": cust,
        "Lanes": _synthetic_lanes(site_names),
    }


def _synthetic_sites(count: int) -> list[str]:
    return [*_SITE_NAMES[:count], *(f"SITE{n + 1:02d}" for n in range(len(_SITE_NAMES), count))]


def _codes(prefix: str, level: Any, number: Any, *, width: int, sep: str = "") -> pd.Series:
    """Text codes like ``L3-000123`` built column-wise (fast for a million rows)."""
    numbers = pd.Series(number).astype(str).str.zfill(width)
    if level is None:
        return (prefix + numbers).astype(object)
    return (prefix + pd.Series(level).astype(str) + sep + numbers).astype(object)


def _pick(rng: np.random.Generator, choices: Sequence[float], size: int) -> Any:
    return np.asarray(choices)[rng.integers(0, len(choices), size)]


def _synthetic_items(
    rng: np.random.Generator, codes: pd.Series, level: IntArray, levels: int
) -> pd.DataFrame:
    n = len(codes)
    bought = level == levels - 1
    draw = rng.random(n)
    rule = np.where(draw < 0.8, "L4L", np.where(draw < 0.9, "FOQ", "POQ"))
    lot = np.where(rule == "FOQ", _pick(rng, (10, 20, 25, 50, 100, 200, 500), n), np.nan)
    poq = np.where(rule == "POQ", rng.integers(2, 5, n), np.nan)
    safety = np.where(rng.random(n) < 0.2, rng.integers(5, 101, n), 0)
    moq = np.where(rng.random(n) < 0.1, _pick(rng, (10, 25, 50, 100), n), 0)
    multiple = np.where(rng.random(n) < 0.1, _pick(rng, (5, 10, 25), n), np.nan)
    scrap = np.where(~bought & (rng.random(n) < 0.05), rng.integers(1, 4, n), 0)
    supplier = _codes("SUP-", None, rng.integers(1, 51, n), width=3)
    lead = np.where(bought, _pick(rng, (7, 14, 21, 28, 42, 56), n), _pick(rng, (7, 14), n))
    return pd.DataFrame(
        {
            "Item": codes,
            "Description": "Synthetic item, level " + pd.Series(level).astype(str),
            "Type": np.where(bought, "buy", "make"),
            "UoM": "EA",
            "Supplier": supplier.where(bought, None),
            "Lead Time": lead.astype(np.int64),
            "Safety Stock": safety.astype(np.int64),
            "Lot Rule": rule,
            "Lot Size": lot,
            "POQ Periods": poq,
            "Min Order Qty": moq.astype(np.int64),
            "Order Multiple": multiple,
            "Assembly Scrap %": scrap.astype(np.int64),
            "Unit Cost": np.round(rng.lognormal(2.5, 1.0, n), 2),
        }
    )


def _synthetic_bom(
    rng: np.random.Generator, codes: pd.Series, sizes: IntArray, starts: IntArray
) -> pd.DataFrame:
    parents: list[IntArray] = []
    children: list[IntArray] = []
    for k in range(len(sizes) - 1):
        parent, child = _level_links(
            rng,
            int(sizes[k]),
            int(sizes[k + 1]),
            int(starts[k]),
            int(starts[k + 1]),
            int(starts[-1]),
        )
        parents.append(parent)
        children.append(child)
    parent = np.concatenate(parents) if parents else np.empty(0, np.int64)
    child = np.concatenate(children) if children else np.empty(0, np.int64)
    order = np.lexsort((child, parent))
    parent, child = parent[order], child[order]
    n = len(parent)
    item_code = codes.to_numpy()
    return pd.DataFrame(
        {
            "Parent": item_code[parent],
            "Component": item_code[child],
            "Qty Per": _pick(rng, (1, 1, 1, 1, 1, 2, 2, 3, 4, 10), n).astype(np.int64),
            "Scrap %": np.where(rng.random(n) < 0.05, rng.integers(1, 6, n), 0),
        }
    )


def _level_links(
    rng: np.random.Generator,
    n_parents: int,
    n_below: int,
    first_parent: int,
    first_below: int,
    items: int,
) -> tuple[IntArray, IntArray]:
    """BOM links from one level's parents to components on deeper levels.

    The first links pair the level with the one just below so that each parent has a
    component there and each item there has a parent here: that fixes every item's level.
    The rest are drawn from all deeper levels, redrawing duplicates of a parent-component
    pair until none is left.
    """
    pool = items - first_below
    pairs = np.arange(max(n_parents, n_below))
    cover_parent = first_parent + pairs % n_parents
    cover_child = first_below + rng.permutation(n_below)[pairs % n_below]
    wanted = np.minimum(rng.integers(2, 5, n_parents), pool)
    covered = np.bincount(pairs % n_parents, minlength=n_parents)
    extra = np.maximum(wanted - covered, 0)
    extra_parent = np.repeat(first_parent + np.arange(n_parents), extra)
    parent = np.concatenate([cover_parent, extra_parent]).astype(np.int64)
    child = np.concatenate(
        [cover_child, first_below + rng.integers(0, pool, len(extra_parent))]
    ).astype(np.int64)
    drawn = np.zeros(len(parent), dtype=bool)
    drawn[len(cover_parent) :] = True
    while True:
        key = parent * items + child
        order = np.lexsort((drawn, key))  # by pair, the covering link first
        same = key[order][1:] == key[order][:-1]
        repeat = order[1:][same]
        if len(repeat) == 0:
            return parent, child
        child[repeat] = first_below + rng.integers(0, pool, len(repeat))


def _synthetic_inventory(
    rng: np.random.Generator, codes: pd.Series, site_names: list[str]
) -> pd.DataFrame:
    n = len(codes)
    item_index = [np.arange(n)]
    site_index = [np.zeros(n, dtype=np.int64)]
    for s in range(1, len(site_names)):
        held = np.flatnonzero(rng.random(n) < 0.3)
        item_index.append(held)
        site_index.append(np.full(len(held), s, dtype=np.int64))
    idx = np.concatenate(item_index)
    on_hand = rng.integers(0, 500, len(idx))
    allocated = np.where(rng.random(len(idx)) < 0.1, on_hand // 4, 0)
    return pd.DataFrame(
        {
            "Item": codes.to_numpy()[idx],
            "Site": np.asarray(site_names, dtype=object)[np.concatenate(site_index)],
            "On Hand": on_hand,
            "Allocated": allocated,
        }
    )


def _synthetic_receipts(
    rng: np.random.Generator,
    codes: pd.Series,
    level: IntArray,
    levels: int,
    site_names: list[str],
    start: dt.date,
) -> pd.DataFrame:
    n = len(codes)
    idx = np.sort(rng.choice(n, size=max(1, n // 10), replace=False))
    bought = level[idx] == levels - 1
    m = len(idx)
    site = np.where(rng.random(m) < 0.8, 0, rng.integers(0, len(site_names), m))
    number = pd.Series(np.arange(1, m + 1))
    order = np.where(
        bought,
        _codes("PO-", None, number, width=7),
        _codes("WO-", None, number, width=7),
    )
    return pd.DataFrame(
        {
            "Order": order,
            "Item": codes.to_numpy()[idx],
            "Site": np.asarray(site_names, dtype=object)[site],
            "Due": _dates(start, rng.integers(-7, 56, m)),
            "Qty": rng.integers(10, 500, m),
            "Kind": np.where(bought, "PO", "WO"),
        }
    )


def _synthetic_demand(
    rng: np.random.Generator,
    finished: pd.Series,
    rows: int,
    site_names: list[str],
    customer_codes: pd.Series,
    buckets: int,
    start: dt.date,
) -> pd.DataFrame:
    is_order = rng.random(rows) < 0.3
    week = np.where(
        is_order, rng.integers(0, min(13, buckets), rows), rng.integers(0, buckets, rows)
    )
    # orders fall on weekdays; forecast sits on the Monday that starts its week
    day = 7 * week + np.where(is_order, rng.integers(0, 5, rows), 0)
    draw = rng.random(rows)
    site = np.where(draw < 0.7, 0, rng.integers(0, len(site_names), rows))
    sites = np.asarray(site_names, dtype=object)[site]
    sites[draw >= 0.9] = None  # blank: any site
    customer = customer_codes.to_numpy(dtype=object)[rng.integers(0, len(customer_codes), rows)]
    customer[~is_order] = None  # forecast belongs to no customer
    numbers = np.arange(1, rows + 1)
    return pd.DataFrame(
        {
            "Demand": np.where(
                is_order,
                _codes("SO-", None, numbers, width=7),
                _codes("FC-", None, numbers, width=7),
            ),
            "Item": finished.to_numpy()[np.arange(rows) % len(finished)],
            "Site": sites,
            "Customer": customer,
            "Due": _dates(start, day),
            "Qty": np.where(is_order, rng.integers(1, 50, rows), rng.integers(5, 200, rows)),
            "Kind": np.where(is_order, "order", "forecast"),
        }
    )


def _synthetic_customers(count: int) -> pd.DataFrame:
    number = np.arange(count)
    # the first tenth are tier 1, the next three tenths tier 2: few key accounts, many small
    tier = np.where(number < round(0.1 * count), 1, np.where(number < round(0.4 * count), 2, 3))
    return pd.DataFrame(
        {
            "Customer": _codes("C-", None, number + 1, width=6),
            "Name": _codes("Customer ", None, number + 1, width=6),
            "Tier": tier,
            "Region": np.asarray(_REGIONS, dtype=object)[number % len(_REGIONS)],
            "Service Target": pd.Series(tier).map(_SERVICE_TARGETS).to_numpy(),
        }
    )


def _synthetic_lanes(site_names: list[str]) -> pd.DataFrame:
    rows = [
        (site, None, region, 1.0 + (s + r) % 4, (s + r) % 3)
        for s, site in enumerate(site_names)
        for r, region in enumerate(_REGIONS)
    ]
    return pd.DataFrame(rows, columns=["Site", "Customer", "Region", "Cost", "Transit"])
