"""``sheetloop init``: the planning template, generated from the schema.

A new book gets every input table (with dropdowns for enumerated columns), ``Settings``
prefilled with the defaults and a ``Help`` sheet explaining every column. An existing
book only gains the input tables it lacks; everything else in it is left as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from sheetloop.errors import UsageError
from sheetloop.workbooks.blank_package import write_blank_package
from sheetloop.workbooks.file_book import FileBook
from sheetloop.workbooks.interface import TableWrite, Validation
from sheetloop.workbooks.schema import (
    HELP,
    SETTING_SPECS,
    SETTINGS,
    TABLES,
    TEMPLATE_TABLES,
    Kind,
    Role,
    Table,
)
from sheetloop.workbooks.settings import settings_rows


def validations(spec: Table) -> list[Validation]:
    """Dropdowns for a table's enumerated columns."""
    out = [Validation(c.name, c.choices) for c in spec.columns if c.kind is Kind.CHOICE]
    out += [Validation(c.name, ("yes", "no")) for c in spec.columns if c.kind is Kind.YESNO]
    if spec is SETTINGS:
        out.append(Validation("Setting", tuple(s.name for s in SETTING_SPECS)))
    return out


def empty_frame(spec: Table) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series([], dtype=object) for c in spec.columns})


def table_write(spec: Table, frame: pd.DataFrame | None = None) -> TableWrite:
    """An input table as the template writes it: the contract's columns first, in order."""
    if frame is None:
        frame = settings_frame() if spec is SETTINGS else empty_frame(spec)
    ordered = [c.name for c in spec.columns if c.name in frame.columns]
    extra = [c for c in frame.columns if c not in ordered]
    missing = [c.name for c in spec.columns if c.name not in frame.columns]
    frame = frame.reindex(columns=[*ordered, *missing, *extra])
    return TableWrite(spec, frame, validations=validations(spec))


def settings_frame() -> pd.DataFrame:
    rows = settings_rows()
    return pd.DataFrame(
        {"Setting": [r[0] for r in rows], "Value": [None if r[1] is None else r[1] for r in rows]}
    )


def help_frame() -> pd.DataFrame:
    """One row per table and column of the contract, from the schema."""
    rows: list[dict[str, str]] = []
    for spec in TABLES.values():
        if spec is HELP:
            continue
        owner = "you" if spec.role is Role.INPUT else "sheetloop"
        rows.append(
            {
                "Table": spec.name,
                "Column": "",
                "Type": "table",
                "Default": "",
                "Meaning": f"{spec.help} (owned by {owner})",
            }
        )
        for c in spec.columns:
            rows.append(
                {
                    "Table": spec.name,
                    "Column": c.name,
                    "Type": c.describe_type(),
                    "Default": c.describe_default(),
                    "Meaning": c.help,
                }
            )
        if spec is SETTINGS:
            for s in SETTING_SPECS:
                default = s.default
                shown = (
                    ("yes" if default else "no")
                    if isinstance(default, bool)
                    else ("" if default is None else str(default))
                )
                rows.append(
                    {
                        "Table": "Settings",
                        "Column": s.name,
                        "Type": " | ".join(s.choices) if s.choices else s.kind.value,
                        "Default": shown,
                        "Meaning": s.help,
                    }
                )
    return pd.DataFrame(rows)


def init_book(
    path: Path, data: Mapping[str, pd.DataFrame] | None = None, out: Path | None = None
) -> list[str]:
    """Create a template at ``path`` or add the missing input tables to an existing book.

    Returns the names of the tables added. ``data`` optionally fills tables of a new book
    (the demo uses it)."""
    data = dict(data or {})
    if not path.exists():
        if out is not None:
            raise UsageError(f"{path}: no such workbook (init creates one without --out)")
        write_blank_package(path)
        book = FileBook.open(path)
        added = _add_tables(book, TEMPLATE_TABLES, data, include_help=True)
    else:
        book = FileBook.open(path)
        missing = [t for t in TEMPLATE_TABLES if book.find_table(t.name) is None]
        added = _add_tables(book, missing, data, include_help=False)
    book.save(out)
    return added


def _add_tables(
    book: FileBook, specs: Iterable[Table], data: Mapping[str, pd.DataFrame], include_help: bool
) -> list[str]:
    added = []
    if include_help:
        book.add_table(TableWrite(HELP, help_frame(), sheet="Help"))
    for spec in specs:
        book.add_table(table_write(spec, data.get(spec.name)))
        added.append(spec.name)
    return added
