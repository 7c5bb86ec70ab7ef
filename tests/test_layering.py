"""The dependency rule: solver imports nothing of ours but the error base; workbooks and
connectors never import xlwings; addin composes the rest."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]


def imports_of(package: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
    return found


def test_the_solver_imports_nothing_of_ours_but_the_error_base():
    ours = {m for m in imports_of("solver") if m.startswith("sheetloop")}
    assert all(m == "sheetloop.errors" or m.startswith("sheetloop.solver") for m in ours), ours


def test_the_solver_never_touches_workbooks_excel_or_the_network():
    forbidden = ("openpyxl", "python_calamine", "xlwings", "requests", "zipfile", "socket")
    assert not {m for m in imports_of("solver") if m.split(".")[0] in forbidden}


def test_workbooks_and_connectors_never_import_xlwings_or_the_addin():
    for package in ("workbooks", "connectors"):
        mods = imports_of(package)
        assert not {m for m in mods if m.split(".")[0] == "xlwings"}, package
        assert not {m for m in mods if m.startswith("sheetloop.addin")}, package
