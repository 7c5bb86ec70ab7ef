"""The faces of sheetloop: the command line (``cli``) and, in Excel, the add-in.

``commands`` composes the workbook, solver and connector packages into what each command
does: a core per command that works on either adapter of the workbook interface
(``plan_in``, ``allocate_in``, ...), and the command line's functions that run those cores
on a file. ``planning`` and ``allocating`` turn a workbook's tables into the engines'
inputs and their results back into output tables; ``syncing`` pulls and pushes.

In Excel: ``xlwings_book`` is the live adapter of the workbook interface, ``macros`` runs
the command line's cores on the open book (``RunPython "import sheetloop.addin.macros as
m; m.plan()"``), ``excel_ui`` keeps Excel's status bar and screen updating in hand.

Names are imported on first use, so the command line does not load xlwings and an Excel
function server does not load the solvers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sheetloop.addin.commands import (
        BookPlace,
        Outcome,
        Staged,
        allocate_in,
        check_in,
        plan_in,
        pull_in,
        push_in,
    )
    from sheetloop.addin.excel_ui import excel_ui
    from sheetloop.addin.macros import MacroResult
    from sheetloop.addin.xlwings_book import XlwingsBook

_HOMES = {
    "BookPlace": "commands",
    "Outcome": "commands",
    "Staged": "commands",
    "allocate_in": "commands",
    "check_in": "commands",
    "plan_in": "commands",
    "pull_in": "commands",
    "push_in": "commands",
    "excel_ui": "excel_ui",
    "MacroResult": "macros",
    "XlwingsBook": "xlwings_book",
}

__all__ = [
    "BookPlace",
    "MacroResult",
    "Outcome",
    "Staged",
    "XlwingsBook",
    "allocate_in",
    "check_in",
    "excel_ui",
    "plan_in",
    "pull_in",
    "push_in",
]
assert sorted(__all__) == sorted(_HOMES)


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
