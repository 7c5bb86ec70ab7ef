"""The table contract, declared once.

Every input and output table of the workbook contract is described here: its columns,
their types, defaults, allowed values and help text, its key and its references to other
tables. Validation, the template, the help sheet, the readers and the writer's number
formats all read this module; nothing else repeats it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Kind(Enum):
    """How a column's cells are read, checked and formatted."""

    TEXT = "text"  # free text
    CODE = "code"  # an identifier (item, site, customer...): always text, 123 == "123"
    NUMBER = "number"
    INTEGER = "whole number"
    DATE = "date"  # a real date, or a period number when Bucket = period
    DATETIME = "date and time"
    YESNO = "yes/no"
    CHOICE = "choice"
    FRACTION = "fraction"  # a number from 0 to 1, shown as a percentage


@dataclass(frozen=True)
class Column:
    """One column of a table."""

    name: str
    kind: Kind = Kind.TEXT
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    minimum_exclusive: bool = False
    maximum: float | None = None
    maximum_exclusive: bool = False
    help: str = ""
    references: tuple[str, str] | None = None  # (table, column) this column must exist in
    width: float | None = None

    @property
    def key(self) -> str:
        """The lenient form of the header (case, spaces, ``_`` and ``-`` ignored)."""
        return header_key(self.name)

    def describe_type(self) -> str:
        """The column's type in words, for the help sheet and messages."""
        if self.kind is Kind.CHOICE:
            return " | ".join(self.choices)
        text = self.kind.value
        bounds = []
        if self.minimum is not None:
            bounds.append(f"{'>' if self.minimum_exclusive else '≥'} {_fmt(self.minimum)}")
        if self.maximum is not None:
            bounds.append(f"{'<' if self.maximum_exclusive else '≤'} {_fmt(self.maximum)}")
        return f"{text} {', '.join(bounds)}".strip() if bounds else text

    def describe_default(self) -> str:
        if self.required:
            return "required"
        if self.default is None or self.default == "":
            return ""
        if isinstance(self.default, bool):
            return "yes" if self.default else "no"
        return _fmt(self.default)


class Role(Enum):
    INPUT = "input"  # owned by the user
    OUTPUT = "output"  # replaced by sheetloop on each run
    LOG = "log"  # appended by sheetloop, never rewritten


@dataclass(frozen=True)
class Table:
    """One table of the contract."""

    name: str
    role: Role
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    help: str = ""
    # Output tables whose columns after the fixed ones vary from run to run (MRP buckets).
    open_columns: bool = False

    def column(self, name: str) -> Column:
        """The column with this (leniently matched) header; KeyError if none."""
        wanted = header_key(name)
        for col in self.columns:
            if col.key == wanted:
                return col
        raise KeyError(f"table {self.name} has no column {name!r}")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def sheet(self) -> str:
        """The sheet the table lives on by default."""
        return self.name


@dataclass(frozen=True)
class Setting:
    """One row of the ``Settings`` table."""

    name: str
    kind: Kind
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None

    @property
    def key(self) -> str:
        return header_key(self.name)


_HEADER_NOISE = re.compile(r"[\s_\-]+")


def header_key(header: object) -> str:
    """Lenient header matching: case, spaces, underscores and hyphens are ignored."""
    return _HEADER_NOISE.sub("", str(header)).casefold()


def _fmt(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- column helpers: keep the declarations below short and uniform -------------------------


def code(name: str, help: str = "", **kw: Any) -> Column:
    return Column(name, Kind.CODE, help=help, **kw)


def text(name: str, help: str = "", **kw: Any) -> Column:
    return Column(name, Kind.TEXT, help=help, **kw)


def number(name: str, help: str = "", **kw: Any) -> Column:
    return Column(name, Kind.NUMBER, help=help, **kw)


def quantity(name: str = "Qty", help: str = "", **kw: Any) -> Column:
    """A quantity that must be greater than zero."""
    kw.setdefault("required", True)
    return Column(
        name, Kind.NUMBER, minimum=0, minimum_exclusive=True, help=help or "quantity, > 0", **kw
    )


def nonneg(name: str, help: str = "", default: float | None = 0, **kw: Any) -> Column:
    return Column(name, Kind.NUMBER, minimum=0, default=default, help=help, **kw)


def date(name: str, help: str = "", **kw: Any) -> Column:
    return Column(name, Kind.DATE, help=help, **kw)


def yesno(name: str, help: str = "", default: bool = False, **kw: Any) -> Column:
    return Column(name, Kind.YESNO, default=default, help=help, **kw)


def choice(name: str, choices: tuple[str, ...], help: str = "", **kw: Any) -> Column:
    return Column(name, Kind.CHOICE, choices=choices, help=help, **kw)


ITEM_REF = ("Items", "Item")
CUSTOMER_REF = ("Customers", "Customer")

LOT_RULES = ("L4L", "FOQ", "EOQ", "POQ", "LUC", "SM", "WW")
BUCKETS = ("week", "day", "month", "period")
SOLVERS = ("highs", "cbc")
DEFAULT_SITE = "MAIN"

# Columns every input table may carry (contract §1.2, last paragraph).
SYNC_COLUMNS = (
    text("Origin", "blank for rows you typed; the connection's name for rows pull brought"),
    text("Sync Status", "set by pull and push"),
)


def _planning_params(site_level: bool) -> tuple[Column, ...]:
    """Planning parameters shared by Items and ItemSites (ItemSites overrides Items)."""
    blank_means = "blank: the item's value" if site_level else ""
    return (
        code("Supplier", f"default supplier of a buy item. {blank_means}".strip()),
        nonneg(
            "Lead Time",
            "calendar days for date buckets, whole periods for Bucket = period",
            default=None if site_level else 0,
        ),
        nonneg(
            "Safety Stock",
            "per site; projected on hand is kept at or above it",
            default=None if site_level else 0,
        ),
        choice(
            "Lot Rule",
            LOT_RULES,
            "L4L lot-for-lot, FOQ fixed order quantity, EOQ economic order quantity, POQ "
            "periodic order quantity, LUC least unit cost, SM Silver-Meal, WW Wagner-Whitin",
            default=None if site_level else "L4L",
        ),
        number(
            "Lot Size",
            "required for FOQ: an order is the smallest whole number of lots covering the need",
            minimum=0,
            minimum_exclusive=True,
        ),
        Column(
            "POQ Periods",
            Kind.INTEGER,
            minimum=1,
            help="for POQ: one order covers this many buckets (blank: EOQ / average demand)",
        ),
        nonneg("Min Order Qty", default=None if site_level else 0),
        number(
            "Order Multiple",
            "orders are rounded up to a multiple",
            minimum=0,
            minimum_exclusive=True,
        ),
    )


ITEMS = Table(
    "Items",
    Role.INPUT,
    (
        code("Item", "item code; always text (00123 keeps its zeros)", required=True),
        text("Description"),
        choice("Type", ("make", "buy"), "default: make if it has BOM components, else buy"),
        text("UoM", default="EA"),
        *_planning_params(site_level=False),
        Column(
            "Assembly Scrap %",
            Kind.NUMBER,
            minimum=0,
            maximum=100,
            maximum_exclusive=True,
            default=0,
            help="share of an order lost in making it",
        ),
        nonneg("Unit Cost"),
        nonneg(
            "Setup Cost", "cost per order (EOQ, LUC, SM, WW; POQ without POQ Periods)", default=None
        ),
        number(
            "Holding Cost",
            "cost of holding one unit for one bucket (same rules as Setup Cost)",
            minimum=0,
            minimum_exclusive=True,
        ),
        *SYNC_COLUMNS,
    ),
    key=("Item",),
    help="Master data: one row per item.",
)

ITEM_SITES = Table(
    "ItemSites",
    Role.INPUT,
    (
        code("Item", required=True, references=ITEM_REF),
        code("Site", required=True),
        *_planning_params(site_level=True),
        *SYNC_COLUMNS,
    ),
    key=("Item", "Site"),
    help="Optional per-site overrides of the Items planning parameters.",
)

BOM = Table(
    "BOM",
    Role.INPUT,
    (
        code("Parent", required=True, references=ITEM_REF),
        code("Component", required=True, references=ITEM_REF),
        quantity("Qty Per", "component quantity per parent unit, > 0"),
        Column(
            "Scrap %",
            Kind.NUMBER,
            minimum=0,
            default=0,
            help="component scrap: requirement = parent qty × Qty Per × (1 + Scrap %/100)",
        ),
        *SYNC_COLUMNS,
    ),
    key=("Parent", "Component"),
    help="Bills of material: one row per parent and component. Cycles are an error.",
)

INVENTORY = Table(
    "Inventory",
    Role.INPUT,
    (
        code("Item", required=True, references=ITEM_REF),
        code("Site", default=DEFAULT_SITE),
        nonneg("On Hand"),
        nonneg("Allocated", "already promised; subtracted from on hand"),
        *SYNC_COLUMNS,
    ),
    key=("Item", "Site"),
    help="Stock per item and site.",
)

RECEIPTS = Table(
    "Receipts",
    Role.INPUT,
    (
        code("Order", required=True),
        code("Item", required=True, references=ITEM_REF),
        code("Site", default=DEFAULT_SITE),
        date("Due", required=True),
        quantity("Qty"),
        choice("Kind", ("PO", "WO", "TO"), "purchase, work or transfer order"),
        code("External Id", "the order's id in the ERP"),
        *SYNC_COLUMNS,
    ),
    key=("Order", "Item", "Site", "Due"),
    help="Open, firm supply: purchase, work and transfer orders.",
)

DEMAND = Table(
    "Demand",
    Role.INPUT,
    (
        code("Demand", required=True),
        code("Item", required=True, references=ITEM_REF),
        code("Site", "blank: any site (MRP plans it at MAIN)"),
        code("Customer", references=CUSTOMER_REF),
        date("Due", required=True),
        quantity("Qty"),
        choice("Kind", ("order", "forecast"), default="order"),
        *SYNC_COLUMNS,
    ),
    key=("Demand",),
    help="Independent demand: customer orders and forecast.",
)

CUSTOMERS = Table(
    "Customers",
    Role.INPUT,
    (
        code("Customer", required=True),
        text("Name"),
        Column("Tier", Kind.INTEGER, minimum=1, default=3, help="1 = most important"),
        code("Region"),
        Column(
            "Service Target", Kind.FRACTION, minimum=0, maximum=1, help="target fill rate, 0..1"
        ),
        *SYNC_COLUMNS,
    ),
    key=("Customer",),
    help="The CRM's customer list. Extra CRM columns you keep are preserved.",
)

LANES = Table(
    "Lanes",
    Role.INPUT,
    (
        code("Site", required=True),
        code("Customer", "a customer's own lane wins over its region's", references=CUSTOMER_REF),
        code("Region"),
        nonneg("Cost", "per unit shipped"),
        Column("Transit", Kind.INTEGER, minimum=0, default=0, help="buckets"),
        *SYNC_COLUMNS,
    ),
    key=("Site", "Customer", "Region"),
    help="Which site may serve which customer or region, at what cost.",
)

SUPPLY = Table(
    "Supply",
    Role.INPUT,
    (
        code("Site", default=DEFAULT_SITE),
        code("Item", required=True, references=ITEM_REF),
        date("Available", required=True),
        quantity("Qty"),
        *SYNC_COLUMNS,
    ),
    key=("Site", "Item", "Available"),
    help="Optional supply for allocation; when absent it is derived from stock and orders.",
)

CONNECTIONS = Table(
    "Connections",
    Role.INPUT,
    (
        code("Connection", required=True),
        choice("System", ("tryton", "hubspot", "salesforce", "rest"), required=True),
        text("URL"),
        text("Database", "Tryton's database name"),
        text("User"),
        text(
            "Auth",
            "where the secret comes from: env:NAME or keyring:NAME (never the secret)",
            default="env:",
        ),
        text("Options", "key=value; key=value"),
    ),
    key=("Connection",),
    help="External systems to sync with. Secrets are never stored in the workbook.",
)

SETTINGS = Table(
    "Settings",
    Role.INPUT,
    (code("Setting", required=True), text("Value")),
    key=("Setting",),
    help="Run settings; unknown settings are an error.",
)

SETTING_SPECS: tuple[Setting, ...] = (
    Setting(
        "Horizon Start",
        Kind.DATE,
        None,
        "first day of the plan; snaps back to the start of its bucket "
        "(default: Monday of the current week)",
    ),
    Setting(
        "Bucket",
        Kind.CHOICE,
        "week",
        "time bucket: week (Monday), day, month or period",
        choices=BUCKETS,
    ),
    Setting("Periods", Kind.INTEGER, 26, "number of buckets in the horizon", minimum=1),
    Setting("Solver", Kind.CHOICE, "highs", "LP solver for allocation", choices=SOLVERS),
    Setting("Time Limit", Kind.NUMBER, 600, "seconds for all solver work of one run", minimum=0),
    Setting("Max Lateness", Kind.INTEGER, 4, "buckets a delivery may be late", minimum=0),
    Setting(
        "Allocate Planned Orders",
        Kind.YESNO,
        False,
        "count all planned orders as supply for allocation",
    ),
    Setting("Allocate Forecast", Kind.YESNO, False, "allocate forecast as well as orders"),
    Setting("MRP Grid Items", Kind.INTEGER, 2000, "how many items the MRP grid shows", minimum=0),
    Setting(
        "Pegging Demands",
        Kind.INTEGER,
        10,
        "demands listed per order in Pegging; the rest are summed as (other demands); 0: no "
        "pegging",
        minimum=0,
    ),
)

# --- outputs ---------------------------------------------------------------------------------

SYNC_OUT = (
    code("External Id"),
    Column("Synced At", Kind.DATETIME),
    text("Sync Status"),
)

PLANNED_ORDERS = Table(
    "PlannedOrders",
    Role.OUTPUT,
    (
        code("Order", required=True),
        code("Item", required=True),
        code("Site", required=True),
        choice("Kind", ("make", "buy"), required=True),
        date("Release"),
        date("Due", required=True),
        quantity("Qty"),
        text("Pegged To", "the first demands this order serves, then +N more"),
        yesno("Firm", "yes: kept as you left it and netted as supply"),
        *SYNC_OUT,
    ),
    key=("Order",),
    help="Planned orders from MRP. Mark a row Firm to keep it; your own columns are kept.",
)

PEGGING = Table(
    "Pegging",
    Role.OUTPUT,
    (code("Order", required=True), code("Demand", required=True), number("Qty")),
    key=("Order", "Demand"),
    help="Which demand each planned order serves, through every BOM level.",
)

MRP_GRID = Table(
    "MRP",
    Role.OUTPUT,
    (
        code("Item", required=True),
        code("Site", required=True),
        text("Line", required=True),
        number("Safety Stock", "of the item at the site: projected on hand below it is red"),
    ),
    key=("Item", "Site", "Line"),
    help="The time-phased MRP record: one column per bucket.",
    open_columns=True,
)

EXCEPTIONS = Table(
    "Exceptions",
    Role.OUTPUT,
    (code("Item"), code("Site"), date("When"), code("Code", required=True), text("Message")),
    help="What needs a planner's attention, most urgent first.",
)

ALLOCATION = Table(
    "Allocation",
    Role.OUTPUT,
    (
        code("Demand", required=True),
        code("Customer"),
        code("Item"),
        code("Site"),
        date("Ship"),
        number("Qty"),
        Column("Late", Kind.INTEGER, help="buckets"),
        number("Cost"),
    ),
    key=("Demand", "Site", "Ship"),
    help="Who gets what, when and from where.",
)

DEMAND_STATUS = Table(
    "DemandStatus",
    Role.OUTPUT,
    (
        code("Demand", required=True),
        code("Customer"),
        Column("Tier", Kind.INTEGER),
        code("Item"),
        number("Qty"),
        number("Allocated"),
        number("Short"),
        Column("Fill %", Kind.FRACTION),
        yesno("Below Target"),
    ),
    key=("Demand",),
    help="How well each demand line is served.",
)

CUSTOMER_SERVICE = Table(
    "CustomerService",
    Role.OUTPUT,
    (
        code("Customer", required=True),
        Column("Tier", Kind.INTEGER),
        number("Qty", "demand allocated"),
        number("Allocated"),
        Column("Fill %", Kind.FRACTION),
        Column("Service Target", Kind.FRACTION),
        yesno("Below Target"),
    ),
    key=("Customer",),
    help="Fill rate per customer over all its lines, least served first, with a chart.",
)

BOTTLENECKS = Table(
    "Bottlenecks",
    Role.OUTPUT,
    (
        code("Site"),
        code("Item"),
        date("When"),
        number("Shadow Price", "what one more unit of supply is worth"),
        Column("Helps Tier", Kind.INTEGER),
    ),
    help="Supply that limits service, from the allocation's dual values.",
)

SYNC_LOG = Table(
    "SyncLog",
    Role.LOG,
    (
        Column("Time", Kind.DATETIME),
        code("Connection"),
        text("Direction"),
        text("Table"),
        *(
            Column(n, Kind.INTEGER)
            for n in ("Created", "Updated", "Unchanged", "Removed", "Conflicts", "Failed")
        ),
        text("Message"),
    ),
    help="One row per sync of one table; appended, never rewritten.",
)

RUN_LOG = Table(
    "RunLog",
    Role.LOG,
    (Column("Time", Kind.DATETIME), text("Command"), text("Status"), text("Summary")),
    help="One row per plan or allocate run.",
)

PROBLEMS = Table(
    "Problems",
    Role.OUTPUT,
    (text("Where"), text("Severity"), text("Problem")),
    help="Problems found in the workbook's data; each links to its cell.",
)

HELP = Table(
    "SheetloopHelp",
    Role.OUTPUT,
    (
        text("Table"),
        text("Column"),
        text("Type"),
        text("Default"),
        Column("Meaning", Kind.TEXT, width=80),
    ),
    help="What every column of every table means; written by sheetloop init.",
)

INPUT_TABLES: tuple[Table, ...] = (
    SETTINGS,
    ITEMS,
    ITEM_SITES,
    BOM,
    INVENTORY,
    RECEIPTS,
    DEMAND,
    CUSTOMERS,
    LANES,
    SUPPLY,
    CONNECTIONS,
)
OUTPUT_TABLES: tuple[Table, ...] = (
    PLANNED_ORDERS,
    PEGGING,
    MRP_GRID,
    EXCEPTIONS,
    ALLOCATION,
    DEMAND_STATUS,
    CUSTOMER_SERVICE,
    BOTTLENECKS,
    SYNC_LOG,
    RUN_LOG,
)
TABLES: dict[str, Table] = {t.name: t for t in (*INPUT_TABLES, *OUTPUT_TABLES, PROBLEMS, HELP)}

# Input tables `init` puts into a new template: every input table but the optional Supply,
# whose mere presence switches allocation from derived supply to the table's.
TEMPLATE_TABLES: tuple[Table, ...] = tuple(t for t in INPUT_TABLES if t is not SUPPLY)


def table(name: str) -> Table:
    """The contract's table with this name (leniently matched)."""
    wanted = header_key(name)
    for t in TABLES.values():
        if header_key(t.name) == wanted:
            return t
    raise KeyError(f"no table {name!r} in the contract")


def setting(name: str) -> Setting | None:
    wanted = header_key(name)
    return next((s for s in SETTING_SPECS if s.key == wanted), None)


def _check_schema() -> None:
    # A declaration mistake here would surface as confusing reading errors: fail at import.
    for t in TABLES.values():
        names = [c.key for c in t.columns]
        if len(set(names)) != len(names):
            raise AssertionError(f"duplicate column in {t.name}")
        for k in t.key:
            t.column(k)
        for c in t.columns:
            if c.references and c.references[0] not in TABLES:
                raise AssertionError(f"{t.name}.{c.name} references unknown table")


_check_schema()

__all__ = [
    "INPUT_TABLES",
    "OUTPUT_TABLES",
    "SETTING_SPECS",
    "TABLES",
    "TEMPLATE_TABLES",
    "Column",
    "Kind",
    "Role",
    "Setting",
    "Table",
    "header_key",
    "setting",
    "table",
]
