"""Allocation instances for tests and benchmarks: a synthetic company of any size.

Every customer orders every item (``lines_per_pair`` lines, due in random buckets);
every site holds every item, arriving in a few random buckets; supply is ``supply_ratio``
of demand, so the tiers compete. Customers sit in regions, every site has a lane to
every region (random cost and transit), and every tenth customer has its own, cheaper
lane from one site.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sheetloop.solver.buckets import Calendar


@dataclass(frozen=True)
class Instance:
    supply: pd.DataFrame
    demand: pd.DataFrame
    customers: pd.DataFrame
    lanes: pd.DataFrame
    calendar: Calendar
    max_lateness: int

    def kwargs(self) -> dict[str, object]:
        """The instance as keyword arguments of ``allocate``."""
        return {
            "supply": self.supply,
            "demand": self.demand,
            "customers": self.customers,
            "lanes": self.lanes,
            "calendar": self.calendar,
            "max_lateness": self.max_lateness,
        }


def synthetic(
    *,
    sites: int,
    customers: int,
    items: int,
    periods: int = 10,
    lines_per_pair: int = 1,
    max_lateness: int = 4,
    supply_ratio: float = 0.8,
    tiers: int = 3,
    regions: int = 5,
    seed: int = 0,
) -> Instance:
    """A company of the given size, deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    site_names = np.array([f"S{s:03d}" for s in range(sites)], dtype=object)
    customer_names = np.array([f"C{c:05d}" for c in range(customers)], dtype=object)
    item_names = np.array([f"I{i:04d}" for i in range(items)], dtype=object)
    region_names = np.array([f"R{r}" for r in range(regions)], dtype=object)

    n_lines = customers * items * lines_per_pair
    cust = np.repeat(np.arange(customers), items * lines_per_pair)
    item = np.tile(np.repeat(np.arange(items), lines_per_pair), customers)
    qty = rng.integers(1, 100, n_lines).astype(float)
    demand = pd.DataFrame(
        {
            "Demand": [f"D{k:08d}" for k in range(n_lines)],
            "Item": item_names[item],
            "Site": None,
            "Customer": customer_names[cust],
            "Due": rng.integers(1, periods + 1, n_lines).astype(float),
            "Qty": qty,
        }
    )
    per_item = np.bincount(item, weights=qty, minlength=items)
    arrivals = 3
    s_site = np.repeat(np.arange(sites), items * arrivals)
    s_item = np.tile(np.repeat(np.arange(items), arrivals), sites)
    share = rng.random(len(s_site))
    share /= np.bincount(s_item, weights=share, minlength=items)[s_item]
    supply = pd.DataFrame(
        {
            "Site": site_names[s_site],
            "Item": item_names[s_item],
            "Available": rng.integers(1, periods + 1, len(s_site)).astype(float),
            "Qty": np.floor(per_item[s_item] * supply_ratio * share),
        }
    )
    supply = supply.groupby(["Site", "Item", "Available"], as_index=False)["Qty"].sum()
    customer_table = pd.DataFrame(
        {
            "Customer": customer_names,
            "Tier": rng.integers(1, tiers + 1, customers),
            "Region": region_names[rng.integers(0, regions, customers)],
            "Service Target": 0.95,
        }
    )
    region_lanes = pd.DataFrame(
        {
            "Site": np.repeat(site_names, regions),
            "Customer": None,
            "Region": np.tile(region_names, sites),
            "Cost": np.round(rng.uniform(1, 10, sites * regions), 2),
            "Transit": rng.integers(0, 3, sites * regions),
        }
    )
    own = customer_names[::10]
    own_lanes = pd.DataFrame(
        {
            "Site": site_names[rng.integers(0, sites, len(own))],
            "Customer": own,
            "Region": None,
            "Cost": np.round(rng.uniform(0.5, 1, len(own)), 2),
            "Transit": 0,
        }
    )
    return Instance(
        supply=supply,
        demand=demand,
        customers=customer_table,
        lanes=pd.concat([region_lanes, own_lanes], ignore_index=True),
        calendar=Calendar.create("period", dt.date(2026, 1, 5), periods),
        max_lateness=max_lateness,
    )
