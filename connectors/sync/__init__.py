"""The sync engine: merge pulled records into the user's tables, find what to push, and
keep each connection's state and log in the book."""

from sheetloop.connectors.sync.log import SyncEntry, sync_log_frame
from sheetloop.connectors.sync.merge import GONE, ORIGIN, SYNC_STATUS, SYNCED, PullDiff, plan_pull
from sheetloop.connectors.sync.pull import PullResult, Source, SyncBook, choose_streams, pull
from sheetloop.connectors.sync.push import (
    CONFLICT,
    EXTERNAL_ID,
    PUSHED,
    SYNCED_AT,
    PartialSendError,
    PushPlan,
    PushResult,
    PushRow,
    Sent,
    Sink,
    plan_push,
    push,
)
from sheetloop.connectors.sync.state import TableState, load_state, save_state
from sheetloop.connectors.sync.streams import Records, Stream, id_column, normalise, row_hash

__all__ = [
    "CONFLICT",
    "EXTERNAL_ID",
    "GONE",
    "ORIGIN",
    "PUSHED",
    "SYNCED",
    "SYNCED_AT",
    "SYNC_STATUS",
    "PartialSendError",
    "PullDiff",
    "PullResult",
    "PushPlan",
    "PushResult",
    "PushRow",
    "Records",
    "Sent",
    "Sink",
    "Source",
    "Stream",
    "SyncBook",
    "SyncEntry",
    "TableState",
    "choose_streams",
    "id_column",
    "load_state",
    "normalise",
    "plan_pull",
    "plan_push",
    "pull",
    "push",
    "row_hash",
    "save_state",
    "sync_log_frame",
]
