"""Merging pulled records into a user's table: the rules of contract §1.4 for pull."""

from __future__ import annotations

from typing import Any

from sheetloop.connectors.sync import GONE, SYNCED, Records, Stream, plan_pull
from sheetloop.workbooks.interface import RawTable
from sheetloop.workbooks.schema import CUSTOMERS

STREAM = Stream(CUSTOMERS, key=("Customer",), columns=("Customer", "Name", "Tier"))
HEADERS = ["Customer", "Name", "Tier", "My Notes", "Origin", "Sync Status", "crm Id"]


def table(*rows: list[Any], headers: list[str] | None = None) -> RawTable:
    return RawTable("Customers", "Customers", 1, 0, headers or HEADERS, [list(r) for r in rows])


def records(*rows: tuple[str, str, str, int], complete: bool = True) -> Records:
    return Records(
        rows=[{"Customer": c, "Name": n, "Tier": t} for _, c, n, t in rows],
        ids=[i for i, *_ in rows],
        complete=complete,
    )


def test_a_changed_record_updates_only_its_mapped_cells() -> None:
    raw = table(["ACME", "Acme", 2.0, "call Fri", "crm", SYNCED, "17"])
    diff = plan_pull(raw, records(("17", "ACME", "Acme Corp", 1)), STREAM, "crm")
    assert diff.patch.updates == {0: {"Name": "Acme Corp", "Tier": 1}}
    assert (diff.created, diff.updated, diff.unchanged, diff.removed) == (0, 1, 0, 0)


def test_an_unchanged_record_writes_nothing() -> None:
    raw = table(["ACME", "Acme", 2.0, "", "crm", SYNCED, "17"])
    diff = plan_pull(raw, records(("17", "ACME", "Acme", 2)), STREAM, "crm")
    assert diff.patch.empty and diff.unchanged == 1


def test_codes_read_as_numbers_match_their_text() -> None:
    raw = table([100.0, "Hundred", 1.0, "", "crm", SYNCED, 5.0])
    diff = plan_pull(raw, records(("5", "100", "Hundred", 1)), STREAM, "crm")
    assert diff.patch.empty


def test_new_records_are_appended_with_origin_status_and_id() -> None:
    raw = table(["ACME", "Acme", 2.0, "", "crm", SYNCED, "17"])
    diff = plan_pull(
        raw, records(("17", "ACME", "Acme", 2), ("18", "BOLT", "Bolt", 3)), STREAM, "crm"
    )
    assert diff.patch.appends == [
        {
            "Customer": "BOLT",
            "Name": "Bolt",
            "Tier": 3,
            "Origin": "crm",
            "Sync Status": SYNCED,
            "crm Id": "18",
        }
    ]
    assert diff.created == 1


def test_a_row_the_user_typed_is_never_touched_even_with_the_same_key() -> None:
    raw = table(["ACME", "My Acme", 1.0, "", None, None, None])
    diff = plan_pull(raw, records(("17", "ACME", "Acme", 2)), STREAM, "crm")
    assert diff.patch.updates == {} and diff.patch.appends == []
    assert diff.conflicts == 1
    assert "write crm in its Origin" in diff.notes[0]


def test_a_row_of_another_connection_is_never_touched_or_marked() -> None:
    raw = table(["ACME", "Acme", 2.0, "", "erp", SYNCED, None])
    diff = plan_pull(raw, records(), STREAM, "crm")
    assert diff.patch.updates == {} and diff.removed == 0


def test_a_vanished_record_is_marked_gone_and_pruned_only_on_request() -> None:
    raw = table(
        ["ACME", "Acme", 2.0, "", "crm", SYNCED, "17"],
        ["BOLT", "Bolt", 3.0, "", "crm", SYNCED, "18"],
    )
    marked = plan_pull(raw, records(("17", "ACME", "Acme", 2)), STREAM, "crm")
    assert marked.patch.updates == {1: {"Sync Status": GONE}} and marked.removed == 1
    pruned = plan_pull(raw, records(("17", "ACME", "Acme", 2)), STREAM, "crm", prune=True)
    assert pruned.patch.removes == [1] and pruned.patch.updates == {}


def test_an_incremental_read_marks_nothing_gone() -> None:
    raw = table(
        ["ACME", "Acme", 2.0, "", "crm", SYNCED, "17"],
        ["BOLT", "Bolt", 3.0, "", "crm", SYNCED, "18"],
    )
    diff = plan_pull(raw, records(("17", "ACME", "Acme", 1), complete=False), STREAM, "crm")
    assert diff.removed == 0 and 1 not in diff.patch.updates


def test_a_renamed_key_follows_the_id_not_the_old_key() -> None:
    raw = table(["ACME", "Acme", 2.0, "", "crm", SYNCED, "17"])
    diff = plan_pull(raw, records(("17", "ACME-EU", "Acme", 2)), STREAM, "crm")
    assert diff.patch.updates == {0: {"Customer": "ACME-EU"}} and diff.created == 0


def test_missing_sync_columns_are_added_to_the_table() -> None:
    raw = table(["ACME", "Acme", 2.0], headers=["Customer", "Name", "Tier"])
    diff = plan_pull(raw, records(("17", "BOLT", "Bolt", 3)), STREAM, "crm")
    assert diff.patch.new_columns == ["Origin", "Sync Status", "crm Id"]
