"""sheetloop's state sheet as key/value rows, shared by both workbook adapters.

A cell holds at most 32,767 characters, so a long value (the sync fingerprints of a big
table) continues on rows named ``<key> ~2``, ``<key> ~3``, ...
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

STATE_SHEET = "_sheetloop"
CHUNK = 32_000
_CONTINUED = re.compile(r"^(.*) ~(\d+)$")


def state_rows(state: Mapping[str, str]) -> list[tuple[str, str]]:
    """The rows (key, value) that hold ``state``, long values split over several rows."""
    rows: list[tuple[str, str]] = []
    for key, value in sorted(state.items()):
        chunks = [value[i : i + CHUNK] for i in range(0, len(value), CHUNK)] or [""]
        rows.append((key, chunks[0]))
        rows.extend((f"{key} ~{n}", chunk) for n, chunk in enumerate(chunks[1:], start=2))
    return rows


def state_from_rows(rows: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The inverse of :func:`state_rows`."""
    pairs = list(rows)
    state = {k: v for k, v in pairs if not _CONTINUED.match(k)}
    continued = sorted(
        (m.group(1), int(m.group(2)), v) for k, v in pairs if (m := _CONTINUED.match(k))
    )
    for key, _, value in continued:
        if key in state:
            state[key] += value
    return state
