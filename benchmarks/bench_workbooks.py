"""Reading and writing big workbooks, against baselines measured in the same run.

    python benchmarks/bench_workbooks.py [--items 100000] [--rows 100000] [--skip-openpyxl]

1. Read a synthetic company (``--items`` items: Items, a ~2.7-line-per-item BOM, 2 demand
   rows per item, inventory, receipts) into validated tables, against a bare
   python-calamine read of the same tables and openpyxl's read-only mode.
2. Write a ``--rows`` × 15 output table into an existing workbook (the company's book, with
   its input sheets), against
   openpyxl's load + add + save of the same rows and xlsxwriter writing them to a new
   file (when xlsxwriter is installed).

Each step runs in a fresh process, so its peak memory (max RSS) is its own. Timings are
printed, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

HORIZON = dt.date(2026, 11, 30)
INPUT_TABLES = ("Settings", "Items", "BOM", "Inventory", "Receipts", "Demand", "Customers", "Lanes")


def output_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    start = pd.Timestamp(HORIZON)
    return pd.DataFrame(
        {
            "Order": [f"I{i:06d}@MAIN#{i % 104}" for i in range(rows)],
            "Item": [f"I{i:06d}" for i in range(rows)],
            "Site": "MAIN",
            "Kind": np.where(rng.random(rows) < 0.5, "make", "buy"),
            "Release": start + pd.to_timedelta(rng.integers(0, 700, rows), "D"),
            "Due": start + pd.to_timedelta(rng.integers(7, 707, rows), "D"),
            "Qty": np.round(rng.random(rows) * 100, 2),
            "Pegged To": [f"SO-{i}, SO-{i + 1} +3 more" for i in range(rows)],
            "Firm": rng.random(rows) < 0.1,
            "External Id": None,
            "Synced At": pd.NaT,
            "Sync Status": None,
            "Score": rng.random(rows),
            "Bucket": rng.integers(0, 104, rows),
            "Note": "planned",
        }
    )


# --- steps (each runs in its own process) ---------------------------------------------------


def step_read_sheetloop(book: Path, _: Path, __: int) -> str:
    from sheetloop.workbooks.calamine_reader import CalamineReader
    from sheetloop.workbooks.validation import load_book

    loaded = load_book(CalamineReader(book), "check", today=HORIZON)
    return f"{sum(len(t) for t in loaded.tables.values()):,} rows, {len(loaded.errors)} errors"


def step_read_calamine(book: Path, _: Path, __: int) -> str:
    import python_calamine as pc

    wb = pc.CalamineWorkbook.from_path(str(book), load_tables=True)
    rows = sum(len(wb.get_table_by_name(n).to_python()) for n in INPUT_TABLES)
    return f"{rows:,} rows"


def step_read_openpyxl(book: Path, _: Path, __: int) -> str:
    import openpyxl

    wb = openpyxl.load_workbook(book, read_only=True, data_only=True)
    rows = sum(sum(1 for _ in wb[n].iter_rows(values_only=True)) for n in INPUT_TABLES)
    return f"{rows:,} rows"


def step_write_sheetloop(_: Path, target: Path, rows: int) -> str:
    from sheetloop.workbooks.file_book import FileBook
    from sheetloop.workbooks.interface import TableWrite
    from sheetloop.workbooks.schema import PLANNED_ORDERS

    frame = output_frame(rows)
    started = time.perf_counter()
    book = FileBook.open(target)
    book.replace_table(TableWrite(PLANNED_ORDERS, frame))
    book.save()
    return f"{rows:,} rows (write alone {time.perf_counter() - started:.2f} s)"


def step_write_openpyxl(_: Path, target: Path, rows: int) -> str:
    import openpyxl

    frame = output_frame(rows)
    started = time.perf_counter()
    wb = openpyxl.load_workbook(target)
    ws = wb.create_sheet("PlannedOrders")
    ws.append(list(frame.columns))
    for row in frame.astype(object).where(frame.notna(), None).itertuples(index=False):
        ws.append(list(row))
    wb.save(target)
    return f"{rows:,} rows (write alone {time.perf_counter() - started:.2f} s)"


def step_write_xlsxwriter(_: Path, target: Path, rows: int) -> str:
    import xlsxwriter

    frame = output_frame(rows)
    started = time.perf_counter()
    new = target.with_name("new.xlsx")
    wb = xlsxwriter.Workbook(str(new))
    ws = wb.add_worksheet("PlannedOrders")
    ws.write_row(0, 0, list(frame.columns))
    for r, row in enumerate(
        frame.astype(object).where(frame.notna(), None).itertuples(index=False), start=1
    ):
        ws.write_row(r, 0, [None if v is None else v for v in row])
    wb.close()
    return f"{rows:,} rows to a new file (write alone {time.perf_counter() - started:.2f} s)"


STEPS: dict[str, Callable[[Path, Path, int], str]] = {
    "read_sheetloop": step_read_sheetloop,
    "read_calamine": step_read_calamine,
    "read_openpyxl": step_read_openpyxl,
    "write_sheetloop": step_write_sheetloop,
    "write_openpyxl": step_write_openpyxl,
    "write_xlsxwriter": step_write_xlsxwriter,
}


def run_step(name: str, book: Path, target: Path, rows: int) -> dict[str, object]:
    """Run one step in a fresh process; its wall time and peak memory."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--step", name, str(book), str(target), str(rows)],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        return {"name": name, "error": done.stderr.strip().splitlines()[-1:]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["seconds"] = result.get("seconds", seconds)
    return {"name": name, **result}


def child(name: str, book: Path, target: Path, rows: int) -> None:
    started = time.perf_counter()
    detail = STEPS[name](book, target, rows)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_mb": peak_memory_mb(), "detail": detail}))


def peak_memory_mb() -> float:
    """This process's peak resident memory. (ru_maxrss would also count the parent's peak:
    Linux keeps it across exec.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    divisor = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes there, KiB here
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / divisor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--skip-openpyxl",
        action="store_true",
        help="skip the slow openpyxl baselines (about 20 + 60 s at 100,000)",
    )
    parser.add_argument("--step", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        name, book, target, rows = args.step
        child(name, Path(book), Path(target), int(rows))
        return

    from sheetloop.workbooks.demo_data import synthetic_company
    from sheetloop.workbooks.template import init_book

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        book = folder / "company.xlsx"
        started = time.perf_counter()
        init_book(book, synthetic_company(args.items, horizon_start=HORIZON))
        print(
            f"built a {args.items:,}-item company book in {time.perf_counter() - started:.1f} s "
            f"({book.stat().st_size / 1e6:.1f} MB)"
        )

        # Output tables are written into the planning book itself: an existing workbook
        # whose other sheets (the company's input tables) a writer has to keep.
        def fresh_target() -> Path:
            target = folder / "target.xlsx"
            shutil.copy(book, target)
            return target

        reads = ["read_sheetloop", "read_calamine"] + (
            [] if args.skip_openpyxl else ["read_openpyxl"]
        )
        writes = ["write_sheetloop"] + ([] if args.skip_openpyxl else ["write_openpyxl"])
        try:
            import xlsxwriter  # noqa: F401

            writes.append("write_xlsxwriter")
        except ImportError:
            print("(xlsxwriter is not installed: its baseline is skipped)")
        results = {r: run_step(r, book, book, args.rows) for r in reads}
        results |= {w: run_step(w, book, fresh_target(), args.rows) for w in writes}

    print(f"\n{'step':18} {'seconds':>8} {'peak MB':>8}  detail")
    for r in results.values():
        if "error" in r:
            print(f"{r['name']:18} failed: {r['error']}")
            continue
        print(f"{r['name']:18} {r['seconds']:8.2f} {r['peak_mb']:8.0f}  {r['detail']}")

    def ratio(a: str, b: str) -> str:
        ra, rb = results.get(a), results.get(b)
        if not ra or not rb or "error" in ra or "error" in rb:
            return "n/a"
        return f"{float(ra['seconds']) / float(rb['seconds']):.2f}x"  # type: ignore[arg-type]

    print("\nratios (time of the first / time of the second):")
    print(
        f"  read+validate / bare calamine read:  {ratio('read_sheetloop', 'read_calamine')}"
        "  (target ≤ 1.5x)"
    )
    print(f"  read+validate / openpyxl read-only:  {ratio('read_sheetloop', 'read_openpyxl')}")
    print(
        f"  write / openpyxl load+add+save:      {ratio('write_sheetloop', 'write_openpyxl')}"
        "  (target ≤ 1/12, and ≤ 5 s)"
    )
    print(f"  write / xlsxwriter new file:         {ratio('write_sheetloop', 'write_xlsxwriter')}")


if __name__ == "__main__":
    main()
