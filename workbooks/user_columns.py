"""Columns the user added to an output table, carried over by key when sheetloop rewrites
it (shared by both workbook adapters)."""

from __future__ import annotations

import re

import pandas as pd

from sheetloop.workbooks.coerce import to_code
from sheetloop.workbooks.interface import RawTable, TableWrite
from sheetloop.workbooks.schema import header_key

# Bucket headers of an output table with open columns (the MRP grid) are sheetloop's own.
BUCKET_LABEL = re.compile(r"^\d{4}-\d{2}-\d{2}$|^-?\d+$")


def with_user_columns(raw: RawTable | None, write: TableWrite) -> pd.DataFrame:
    """The frame plus the columns the user added to the table, matched by its key, as the
    file adapter keeps them (new rows get blanks; without a key the column is blank)."""
    frame = write.frame
    if raw is None or not raw.rows:
        return frame
    ours = {header_key(c) for c in frame.columns} | {c.key for c in write.spec.columns}
    extras = [
        (i, h)
        for i, h in enumerate(raw.headers)
        if header_key(h) not in ours
        and str(h).strip()
        and not (write.spec.open_columns and BUCKET_LABEL.match(str(h).strip()))
    ]
    if not extras:
        return frame
    frame = frame.copy()
    key = list(write.spec.key)
    positions = [
        next((i for i, h in enumerate(raw.headers) if header_key(h) == header_key(k)), None)
        for k in key
    ]
    key_pos = [p for p in positions if p is not None]
    if not key or len(key_pos) != len(key):
        for _, h in extras:
            frame[h] = None
        return frame
    old_keys = [tuple(to_code([row[p]])[0][0] for p in key_pos) for row in raw.rows]
    new_keys = list(frame[key].astype(object).itertuples(index=False, name=None))
    for i, header in extras:
        by_key = {k: row[i] for k, row in zip(old_keys, raw.rows, strict=True)}
        frame[header] = [
            by_key.get(tuple(None if v is None else str(v) for v in k)) for k in new_keys
        ]
    return frame
