"""Time buckets of a plan: weeks (starting Monday), days, months, or plain period numbers.

A date belongs to the bucket that contains it; the horizon starts at the start of the
bucket containing ``Horizon Start``. Bucket indexes count from 0 (the first bucket of the
horizon); anything before it is negative (past due), anything from ``periods`` on lies
beyond the horizon.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

BucketKind = Literal["week", "day", "month", "period"]


@dataclass(frozen=True)
class Calendar:
    """The buckets of one plan."""

    bucket: BucketKind
    start: dt.date  # start of the first bucket (already snapped); unused for "period"
    periods: int

    @classmethod
    def create(cls, bucket: BucketKind, horizon_start: dt.date, periods: int) -> Calendar:
        """A calendar whose first bucket contains ``horizon_start``."""
        return cls(bucket, snap(bucket, horizon_start), periods)

    @property
    def is_dated(self) -> bool:
        return self.bucket != "period"

    def bucket_starts(self) -> list[dt.date]:
        """The first day of each bucket of the horizon (dated calendars only)."""
        return [self.start_of(i) for i in range(self.periods)]

    def start_of(self, index: int) -> dt.date:
        """First day of bucket ``index`` (may be negative or beyond the horizon)."""
        if self.bucket == "day":
            return self.start + dt.timedelta(days=index)
        if self.bucket == "week":
            return self.start + dt.timedelta(weeks=index)
        if self.bucket == "month":
            months = self.start.year * 12 + self.start.month - 1 + index
            return dt.date(months // 12, months % 12 + 1, 1)
        raise ValueError("a period calendar has no dates")

    def labels(self) -> list[str]:
        """Column headings of the buckets: ISO start dates, or period numbers."""
        if not self.is_dated:
            return [str(i + 1) for i in range(self.periods)]
        return [d.isoformat() for d in self.bucket_starts()]

    def index_of(self, values: pd.Series) -> npt.NDArray[np.int64]:
        """Bucket index of each value: dates (datetime64) or period numbers (1-based).

        Period ``1`` is index 0; period 0 or less is past due (negative).
        """
        if not self.is_dated:
            return (np.asarray(values, dtype=np.float64) - 1).astype(np.int64)
        days = (
            pd.to_datetime(values).to_numpy(dtype="datetime64[D]") - np.datetime64(self.start, "D")
        ).astype(np.int64)
        if self.bucket == "day":
            return days
        if self.bucket == "week":
            return np.floor_divide(days, 7)
        months = pd.to_datetime(values).to_numpy(dtype="datetime64[M]").astype(np.int64)
        start_month = np.datetime64(self.start, "M").astype(np.int64)
        return (months - start_month).astype(np.int64)


def snap(bucket: BucketKind, day: dt.date) -> dt.date:
    """The start of the bucket that contains ``day``."""
    if bucket == "week":
        return day - dt.timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def monday_of_this_week(today: dt.date | None = None) -> dt.date:
    """The default horizon start."""
    return snap("week", today or dt.date.today())
