"""How long generating a synthetic company takes, and how big it is.

Run: ``python benchmarks/bench_demo_data.py [ITEMS ...]`` (default 10,000 and 100,000).
"""

from __future__ import annotations

import datetime as dt
import sys
import time

from sheetloop.workbooks.demo_data import demo_company, synthetic_company

HORIZON_START = dt.date(2026, 11, 30)


def measure(items: int) -> str:
    """One generation of ``items`` items: the time taken and each table's row count."""
    began = time.perf_counter()
    tables = synthetic_company(items, horizon_start=HORIZON_START)
    seconds = time.perf_counter() - began
    rows = ", ".join(f"{name} {len(frame):,}" for name, frame in tables.items())
    return f"synthetic_company({items:,}): {seconds:.2f} s  ({rows})"


def main(argv: list[str]) -> None:
    """Print the generation time of the demo and of each requested size."""
    began = time.perf_counter()
    demo_company(HORIZON_START)
    print(f"demo_company: {time.perf_counter() - began:.3f} s")
    for items in [int(arg) for arg in argv] or [10_000, 100_000]:
        print(measure(items))


if __name__ == "__main__":
    main(sys.argv[1:])
