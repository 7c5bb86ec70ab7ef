"""Shared steps of turning engine results into output tables."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sheetloop.solver.buckets import Calendar
from sheetloop.workbooks.interface import WorkbookReader
from sheetloop.workbooks.reading import parse_table
from sheetloop.workbooks.schema import EXCEPTIONS

#: Exception codes, most urgent first: what is already late, then customers not served,
#: then what should move, then what could wait.
URGENCY = (
    "PAST_DUE_RELEASE",
    "PAST_DUE_DEMAND",
    "PAST_DUE_RECEIPT",
    "SHORTAGE",
    "RESCHEDULE_IN",
    "LATE",
    "BELOW_SAFETY_STOCK",
    "RESCHEDULE_OUT",
    "CANCEL",
)


def bucket_dates(buckets: pd.Series | np.ndarray, calendar: Calendar) -> pd.Series:
    """Bucket indexes as the contract shows them: the bucket's first day, or its period
    number (1-based) with ``Bucket = period``."""
    values = np.asarray(buckets, dtype=np.int64)
    if not calendar.is_dated:
        return pd.Series(values + 1)
    if not len(values):
        return pd.Series(np.array([], dtype="datetime64[s]"))
    # Millions of orders share a hundred or so buckets: each bucket's date is made once,
    # and looked up in a table of the range of buckets (no sort of the millions).
    low, high = int(values.min()), int(values.max())
    if high - low > len(values):
        distinct, position = np.unique(values, return_inverse=True)
    else:
        distinct, position = np.arange(low, high + 1), values - low
    starts = np.array(
        [np.datetime64(calendar.start_of(int(b)), "s") for b in distinct], dtype="datetime64[s]"
    )
    return pd.Series(starts[position])


def exceptions_with(
    book: WorkbookReader, exceptions: pd.DataFrame, calendar: Calendar, keep_codes: Sequence[str]
) -> pd.DataFrame:
    """The ``Exceptions`` table: these rows (Item, Site, Bucket, Code, Message) plus the
    rows of the book's current table whose codes another command owns (``keep_codes``)."""
    frame = pd.DataFrame(
        {
            "Item": exceptions["Item"].to_numpy(object),
            "Site": exceptions["Site"].to_numpy(object),
            "When": bucket_dates(exceptions["Bucket"], calendar).to_numpy(),
            "Code": exceptions["Code"].to_numpy(object),
            "Message": exceptions["Message"].to_numpy(object),
        }
    )
    raw = book.find_table(EXCEPTIONS.name)
    if raw is None:
        return frame
    old, _ = parse_table(raw, EXCEPTIONS, periods=not calendar.is_dated)
    kept = old.frame[old.frame["Code"].isin(list(keep_codes))][frame.columns]
    both = pd.concat([frame, kept], ignore_index=True)
    urgency = both["Code"].map({code: k for k, code in enumerate(URGENCY)}).fillna(len(URGENCY))
    order = np.lexsort((both["When"].to_numpy(), urgency.to_numpy()))
    return both.iloc[order].reset_index(drop=True)
