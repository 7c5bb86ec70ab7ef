"""Pulling into tables of real Excel-made books loses nothing.

Every table of the shared corpus gets what ``pull`` writes into a user's table: a changed
cell, two rows added below (or a refusal naming the cells in the way) and a sync column
added at its right (or a refusal). Afterwards only the table's sheet and table parts, the
package indexes and sheetloop's own state sheet may differ, nothing is lost from the
indexes, the package invariants hold, python-calamine reads the grown table, and
LibreOffice opens the book.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import python_calamine as pc
from support.corpus import corpus_files
from support.libreoffice import convert, soffice_path
from support.ooxml import invariant_violations, lost_entries, package_changes

from sheetloop.errors import UsageError
from sheetloop.workbooks.file_book import FileBook
from sheetloop.workbooks.interface import TablePatch
from sheetloop.workbooks.schema import Role, Table

INDEX_PARTS = {
    "[Content_Types].xml",
    "xl/workbook.xml",
    "xl/_rels/workbook.xml.rels",
    "xl/styles.xml",
}


def tables_in(path: Path) -> list[str]:
    return list(pc.CalamineWorkbook.from_path(str(path), load_tables=True).table_names)


def corpus_tables() -> list[tuple[Path, str]]:
    return [(p, t) for p in corpus_files() for t in tables_in(p)]


def test_the_corpus_has_tables_to_pull_into() -> None:
    assert len(corpus_tables()) >= 5


def test_pulling_into_every_corpus_table_loses_nothing(tmp_path: Path) -> None:
    converted = []
    for source, name in corpus_tables():
        path = tmp_path / f"{source.stem}-{name}{source.suffix}"
        shutil.copy(source, path)
        book = FileBook.open(path)
        raw = book.find_table(name)
        assert raw is not None, f"{source.name}: {name} not found"
        spec = Table(name, Role.INPUT, ())
        first = str(raw.headers[0])
        patch = TablePatch(
            spec,
            updates={0: {first: "=not a formula"}} if raw.rows else {},
            appends=[{first: "pulled 1"}, {first: "pulled 2"}],
            new_columns=["Sync Status"],
        )
        book.patch_table(patch)
        try:
            book.save()
        except UsageError as exc:
            assert "in the way" in str(exc), f"{source.name} {name}: {exc}"
            assert package_changes(source, path).changed == (), "a refused pull wrote"
            continue
        where = f"{source.name} {name}"
        assert invariant_violations(path) == [], where
        assert lost_entries(source, path) == [], where
        diff = package_changes(source, path)
        assert diff.removed == (), where
        allowed = INDEX_PARTS | {
            p for p in diff.changed if p.startswith(("xl/worksheets/sheet", "xl/tables/"))
        }
        assert set(diff.changed) <= allowed, f"{where}: {set(diff.changed) - allowed}"
        after = FileBook.open(path).find_table(name)
        assert after is not None
        assert after.headers[-1] == "Sync Status", where
        # Empty rows at the bottom of a table are filled before it grows.
        used = len(raw.rows)
        while used > 1 and all(v in (None, "") for v in raw.rows[used - 1]):
            used -= 1
        assert len(after.rows) == max(len(raw.rows), used + 2), where
        assert [r[0] for r in after.rows[used : used + 2]] == ["pulled 1", "pulled 2"], where
        if raw.rows:
            assert after.rows[0][0] == "=not a formula", where
            width = len(raw.headers)
            assert [r[1:width] for r in after.rows[1 : len(raw.rows)]] == [
                r[1:width] for r in raw.rows[1:]
            ], where
        converted.append(path)
    print(f"{len(converted)} corpus tables grown, the others refused (cells in the way)")
    assert converted, "every corpus table refused to grow: the test proved nothing"
    if soffice_path() is None:
        pytest.skip("LibreOffice is not installed: ./scripts/test.sh installs it when root")
    outputs = convert(converted, "xlsx", tmp_path / "lo")
    assert all(p.is_file() for p in outputs)
