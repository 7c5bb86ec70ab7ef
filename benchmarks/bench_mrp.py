"""MRP engine speed, against the simple reference implementation in the same run.

    python benchmarks/bench_mrp.py [--items 100000] [--levels 10] [--buckets 104]
                                   [--reference-items 2000] [--end-to-end]

Prints: the vectorised engine on the whole synthetic company; the engine and the
per-item, per-bucket reference (kept in tests/support) on the same smaller company, and
their ratio; pegging; and with ``--end-to-end`` ``sheetloop plan`` on a written book
(read, plan, write every output). Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.mrp_reference import reference_plan

from sheetloop.solver.buckets import Calendar
from sheetloop.solver.mrp import plan
from sheetloop.solver.pegging import peg
from sheetloop.workbooks.demo_data import synthetic_company

HORIZON = dt.date(2026, 11, 30)


def in_periods(company: dict[str, pd.DataFrame], buckets: int) -> dict[str, pd.DataFrame]:
    """The company with week numbers for dates and lead times in weeks (``Bucket = period``),
    the form the reference implementation understands."""
    out = {k: v.copy() for k, v in company.items()}
    start = pd.Timestamp(HORIZON)
    for name in ("Demand", "Receipts"):
        frame = out[name]
        frame["Due"] = ((pd.to_datetime(frame["Due"]) - start).dt.days // 7 + 1).astype(float)
        frame["Site"] = "MAIN"
        out[name] = frame[(frame["Due"] >= 1) & (frame["Due"] <= buckets)]
    items = out["Items"]
    items["Lead Time"] = [math.ceil(x / 7) for x in items["Lead Time"].fillna(0)]
    for column, default in (
        ("Safety Stock", 0.0),
        ("Min Order Qty", 0.0),
        ("Assembly Scrap %", 0.0),
    ):
        items[column] = items[column].fillna(default) if column in items else default
    for column in ("Lot Size", "POQ Periods", "Order Multiple"):
        if column not in items:
            items[column] = math.nan
    out["Inventory"] = out["Inventory"][out["Inventory"]["Site"] == "MAIN"]
    if "Scrap %" not in out["BOM"]:
        out["BOM"]["Scrap %"] = 0.0
    return out


def timed(label: str, action: object) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()  # type: ignore[operator]
    seconds = time.perf_counter() - started
    print(f"{label:48} {seconds:8.2f} s")
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--levels", type=int, default=10)
    parser.add_argument("--buckets", type=int, default=104)
    parser.add_argument("--reference-items", type=int, default=2_000)
    parser.add_argument("--end-to-end", action="store_true")
    args = parser.parse_args()
    calendar = Calendar.create("week", HORIZON, args.buckets)

    company = synthetic_company(
        args.items, levels=args.levels, buckets=args.buckets, horizon_start=HORIZON
    )
    print(
        f"{args.items:,} items, {len(company['BOM']):,} BOM lines, "
        f"{len(company['Demand']):,} demand rows, {args.buckets} weekly buckets, "
        f"{args.levels} levels"
    )
    _, result = timed(
        "engine, whole company",
        lambda: plan(
            items=company["Items"],
            calendar=calendar,
            bom=company["BOM"],
            inventory=company["Inventory"],
            receipts=company["Receipts"],
            demand=company["Demand"],
        ),
    )
    print(
        f"  {len(result.records):,} item-site records, "  # type: ignore[attr-defined]
        f"{len(result.planned_orders):,} planned orders"
    )  # type: ignore[attr-defined]

    small = in_periods(
        synthetic_company(
            args.reference_items, levels=args.levels, buckets=args.buckets, horizon_start=HORIZON
        ),
        args.buckets,
    )
    periods = Calendar.create("period", HORIZON, args.buckets)
    engine_s, small_result = timed(
        f"engine, {args.reference_items:,} items (MAIN only)",
        lambda: plan(
            items=small["Items"],
            calendar=periods,
            bom=small["BOM"],
            inventory=small["Inventory"],
            receipts=small["Receipts"],
            demand=small["Demand"],
        ),
    )
    reference_s, _ = timed(
        f"reference, {args.reference_items:,} items (MAIN only)",
        lambda: reference_plan(
            small["Items"],
            small["BOM"],
            small["Inventory"],
            small["Receipts"],
            small["Demand"],
            args.buckets,
        ),
    )
    print(f"  reference / engine: {reference_s / engine_s:.1f}x (target ≥ 5x)")
    timed(f"pegging, {args.reference_items:,} items", lambda: peg(small_result))  # type: ignore[arg-type]

    if args.end_to_end:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "sheetloop.addin.cli",
                    "demo",
                    tmp,
                    "--items",
                    str(args.items),
                    "--levels",
                    str(args.levels),
                    "--buckets",
                    str(args.buckets),
                    "--start",
                    HORIZON.isoformat(),
                ],
                check=True,
                capture_output=True,
            )
            book = next(Path(tmp).glob("*.xlsx"))
            timed(
                "sheetloop plan, end to end",
                lambda: subprocess.run(
                    [sys.executable, "-m", "sheetloop.addin.cli", "plan", str(book)], check=False
                ),
            )


if __name__ == "__main__":
    main()
