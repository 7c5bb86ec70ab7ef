"""``sheetloop excel``: a planning workbook made ready for Excel's buttons (through xlwings).

xlwings runs Python from Excel with a VBA module; the Run macro of its quickstart template
(``SampleCall``) runs ``import <book name>; <book name>.main()``. sheetloop writes no VBA
of its own, so the ready book is built around that template:

- the book is saved as ``<module>.xlsm``, its name a valid Python module name
  (``Plan 2026 (v2).xlsx`` -> ``plan_2026_v2.xlsm``), beside the original (or ``--out``);
- ``<module>.py`` goes next to it: its ``main()`` runs the action chosen on the ``Control``
  sheet, and one function per action serves buttons users add themselves;
- the VBA project is the installed xlwings' standalone quickstart project, copied at run
  time (never shipped with sheetloop), so Run works without the xlwings add-in and always
  matches the xlwings that Python imports;
- an ``xlwings.conf`` sheet (the name xlwings reads settings from) names the UDF module and
  the Python interpreter; a ``Control`` sheet, owned by sheetloop, holds the action
  dropdown, the connection cell for Pull/Push, a short how-to and the Run button.

Everything else of the book is copied byte for byte (contract §3): only the package's
content types, the workbook part (its sheet list and VBA code name) and the workbook's
relationships change, and parts are added. A book with a VBA project of its own is
refused, since sheetloop never replaces a user's macros, unless that project is xlwings'
own: then the book keeps it and only gets its settings (and a missing Control sheet).
"""

from __future__ import annotations

import importlib.util
import io
import json
import keyword
import posixpath
import re
import string
import struct
import sys
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from sheetloop.errors import UsageError
from sheetloop.workbooks.cell_patch import Cell, SheetCells
from sheetloop.workbooks.file_book import FileBook, write_state_sheet
from sheetloop.workbooks.guard import check_book_file
from sheetloop.workbooks.ooxml import (
    NS_MAIN,
    NS_REL,
    WorkbookIndex,
    add_relationship,
    ensure_override,
    read_rels,
    resolve,
)
from sheetloop.workbooks.safe_save import atomic_write, book_write_lock, refuse_if_open_in_excel
from sheetloop.workbooks.sheet_xml import escape_text
from sheetloop.workbooks.zip_package import Package

__all__ = [
    "ACTIONS",
    "CONF_SHEET",
    "UDF_MODULES",
    "ExcelSetup",
    "make_excel_book",
    "module_name_for",
    "module_source",
    "vba_stream_names",
    "xlwings_template",
]

#: The actions of the Control sheet's dropdown, each a macro of ``sheetloop.addin.macros``.
ACTIONS = ("Plan", "Allocate", "Run", "Check", "Pull", "Push")
#: The sheet xlwings reads its settings from (``_xlwings.conf`` would be inactive).
CONF_SHEET = "xlwings.conf"
#: What the ``UDF Modules`` setting names, for xlwings' Import Functions.
UDF_MODULES = "sheetloop.addin.udfs"
CONTROL_SHEET = "Control"
ACTION_CELL = "B3"
CONNECTION_CELL = "B4"
#: The template's macro that runs ``import <book name>; <book name>.main()``.
RUN_MACRO = "SampleCall"
#: xlwings' template whose VBA carries the xlwings module itself (no add-in needed to run).
TEMPLATE = "quickstart_standalone.xlsm"
_ADDIN_TEMPLATE = "quickstart.xlsm"  # its VBA refers to the add-in's project instead
_VBA_PART = "vbaProject.bin"

_CT_TYPES = "[Content_Types].xml"
_CT_MACRO_WORKBOOK = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
_CT_VBA = "application/vnd.ms-office.vbaProject"
_CT_VML = "application/vnd.openxmlformats-officedocument.vmlDrawing"
_REL_VBA = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
_REL_VML = NS_REL + "/vmlDrawing"
_STATE_CONTROL = "excel_control_sheet"
_MARKER = '# Written by "sheetloop excel"'
_MODULE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
# Names Windows refuses as file names, whatever the extension.
_WINDOWS_DEVICES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10))} | {
    f"lpt{i}" for i in range(1, 10)
}
# The book's folder goes first on Python's path when Excel runs it: a module of the book's
# name would hide these even where they are not installed yet.
_ALWAYS_TAKEN = {"sheetloop", "xlwings", "pandas", "numpy", "scipy", "openpyxl"}
_EMPTY_SHEET = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<worksheet xmlns="{NS_MAIN}"><sheetData/></worksheet>'
)


@dataclass(frozen=True)
class ExcelSetup:
    """What ``sheetloop excel`` wrote."""

    book: Path  # the .xlsm
    module: Path  # the .py beside it
    module_name: str  # what xlwings imports: the .xlsm's and the .py's name
    control_sheet: str
    interpreter: tuple[str, str] | None  # (xlwings.conf key, path) written, None: none
    vba_added: bool  # False: the book already had xlwings' VBA project, kept as it was

    def summary(self) -> list[str]:
        """What was written and what the planner does next, line by line."""
        book, module = self.book.name, self.module.name
        setting = f", {self.interpreter[0]} = {self.interpreter[1]}" if self.interpreter else ""
        lines = [
            f"wrote {book} and {module} in {self.book.parent.resolve()}",
            f"{CONF_SHEET}: UDF Modules = {UDF_MODULES}{setting}",
        ]
        if not self.vba_added:
            lines.append("  the book's xlwings VBA project was kept as it was")
        if self.interpreter is None:
            lines.append(
                "  no interpreter written: Excel runs the Python set in the xlwings add-in, "
                "or 'python'; to choose one: --interpreter PATH"
            )
        return [
            *lines,
            "next steps:",
            f"  1. keep {book} and {module} together (move or copy both)",
            f"  2. a downloaded {book}: right-click it > Properties > Unblock (Windows)",
            "  3. macOS only, once: xlwings runpython install",
            f"  4. open {book} in Excel, enable macros, choose an action on the "
            f"{self.control_sheet} sheet and click Run",
        ]


# --- names -----------------------------------------------------------------------------------


def module_name_for(book: Path) -> str:
    """A Python module name for the book's file name that imports nothing else.

    Lower case ASCII letters, digits and ``_`` (``Plan 2026 (v2).xlsx`` -> ``plan_2026_v2``),
    starting with a letter; never a keyword, a standard-library or installed top-level
    module (``pandas.xlsx`` -> ``pandas_book``), nor a device name Windows refuses.
    """
    ascii_name = unicodedata.normalize("NFKD", book.stem).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_") or "planning_book"
    if name[0].isdigit():
        name = f"book_{name}"
    if not _name_taken(name):
        return name
    n = 1
    while _name_taken(candidate := f"{name}_book" + (str(n) if n > 1 else "")):
        n += 1
    return candidate


def _name_taken(name: str) -> bool:
    if keyword.iskeyword(name) or name in _ALWAYS_TAKEN or name in _WINDOWS_DEVICES:
        return True
    if name in sys.stdlib_module_names or name in sys.builtin_module_names:
        return True
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):  # a broken installed package still takes the name
        return True
    return spec is not None and not _ours(spec.origin)


def _ours(origin: str | None) -> bool:
    """Whether a module file is one sheetloop excel wrote (when Python's path holds the
    book's folder, the book's own module is found: it takes no name from the book)."""
    try:
        with open(origin or "", encoding="utf-8") as source:
            return source.read(len(_MARKER)) == _MARKER
    except (OSError, UnicodeDecodeError):
        return False


def _check_module_name(path: Path) -> None:
    name = path.stem
    if _MODULE_NAME.match(name) and not _name_taken(name):
        return
    raise UsageError(
        f"{path}: xlwings runs the book as 'import {name}', so its name must be a Python "
        "module name of lower-case letters, digits and '_' that no installed module "
        f"already uses: use --out {path.with_name(module_name_for(path) + '.xlsm')}"
    )


# --- xlwings' template ------------------------------------------------------------------------


def xlwings_template(name: str = TEMPLATE) -> Path:
    """The installed xlwings' quickstart workbook ``name``; raises when xlwings lacks it."""
    spec = importlib.util.find_spec("xlwings")
    folders = list(spec.submodule_search_locations or []) if spec else []
    if not folders:
        raise UsageError(
            "xlwings is not installed in this Python: install it (pip install xlwings) and "
            "run sheetloop excel again"
        )
    path = Path(folders[0]) / name
    if not path.is_file():
        raise UsageError(
            f"xlwings' workbook template {path} is missing: reinstall xlwings "
            "(pip install --force-reinstall xlwings) and run sheetloop excel again"
        )
    return path


def _template_vba(template: Path) -> bytes:
    try:
        with zipfile.ZipFile(template) as package:
            data = package.read(f"xl/{_VBA_PART}")
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise UsageError(
            f"xlwings' workbook template {template} has no readable VBA project ({exc}): "
            "reinstall xlwings (pip install --force-reinstall xlwings)"
        ) from exc
    # The standalone project carries xlwings' module and the Run macro's module (Module1,
    # SampleCall). A future template without them would leave the Run button dead.
    if template.name == TEMPLATE and not {"xlwings", "Module1"} <= vba_stream_names(data):
        raise UsageError(
            f"the VBA project of {template} lacks xlwings' module or the {RUN_MACRO} macro's "
            "module, which sheetloop's Run button needs: install an xlwings version that "
            "sheetloop supports (pip install 'xlwings>=0.33')"
        )
    return data


# --- VBA projects ------------------------------------------------------------------------------

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_END_OF_CHAIN = 0xFFFFFFFE
_NO_SECTOR = 0xFFFFFFFF
_DIRECTORY_ENTRY = 128
_STREAM = 2


def vba_stream_names(data: bytes) -> set[str]:
    """The stream names of a VBA project file (an OLE compound file, MS-CFB), among them
    one per VBA module; empty when ``data`` is not a readable compound file."""
    try:
        return _stream_names(data)
    except (struct.error, ValueError, UnicodeDecodeError):
        return set()


def _stream_names(data: bytes) -> set[str]:
    if data[:8] != _OLE2_MAGIC:
        return set()
    (shift,) = struct.unpack_from("<H", data, 0x1E)
    if shift not in (9, 12):
        return set()
    size = 1 << shift
    count = len(data) // size - 1  # the header takes the first sector's place

    def sector(i: int) -> tuple[int, ...]:
        if not 0 <= i < count:
            raise ValueError(f"sector {i} outside the file")
        return struct.unpack_from(f"<{size // 4}I", data, (i + 1) * size)

    fat_count, first_directory = struct.unpack_from("<2I", data, 0x2C)
    next_difat, difat_count = struct.unpack_from("<2I", data, 0x44)
    difat = list(struct.unpack_from("<109I", data, 0x4C))
    for _ in range(min(difat_count, count)):
        if next_difat in (_END_OF_CHAIN, _NO_SECTOR):
            break
        *entries, next_difat = sector(next_difat)
        difat += entries
    fat = [entry for s in difat[:fat_count] for entry in sector(s)]
    names: set[str] = set()
    current, seen = first_directory, set()
    while current != _END_OF_CHAIN:
        if current in seen or current >= len(fat):
            raise ValueError("broken directory chain")
        seen.add(current)
        start = (current + 1) * size
        for offset in range(start, start + size, _DIRECTORY_ENTRY):
            length, kind = struct.unpack_from("<HB", data, offset + 64)
            if kind == _STREAM and 2 <= length <= 64:
                names.add(data[offset : offset + length - 2].decode("utf-16-le"))
        current = fat[current]
    return names


def _is_xlwings_project(data: bytes, templates: list[bytes]) -> bool:
    """A VBA project xlwings made: one of its templates as it is, or any project that
    carries xlwings' own VBA module (the standalone template after Excel saved it)."""
    return data in templates or "xlwings" in vba_stream_names(data)


def _vba_part(package: Package, workbook_part: str) -> str | None:
    """The book's VBA project part, if it has one (related to the workbook or not)."""
    for rel in read_rels(package, workbook_part):
        if rel.type == _REL_VBA and not rel.external:
            part = resolve(workbook_part, rel.target)
            if part in package:
                return part
    default = _default_vba_part(workbook_part)
    return default if default in package else None


def _default_vba_part(workbook_part: str) -> str:
    return posixpath.join(posixpath.dirname(workbook_part), _VBA_PART)


def _attach_vba(package: Package, workbook_part: str, part: str, data: bytes | None) -> None:
    """Make ``part`` the workbook's VBA project, writing ``data`` into it (None: keep it)."""
    if data is not None:
        package.write(part, data)
    ensure_override(package, part, _CT_VBA)
    related = {resolve(workbook_part, r.target) for r in read_rels(package, workbook_part)}
    if part not in related:
        add_relationship(package, workbook_part, _REL_VBA, part)


# --- the generated Python module ----------------------------------------------------------------

_MODULE_SOURCE = string.Template(
    '''$marker for $module.xlsm: running it again rewrites this file.
"""The Python side of the buttons in $module.xlsm.

The workbook's Run button (the $run_macro macro from xlwings) runs
``import $module; $module.main()``: main() runs the action chosen on the $control_name
sheet. plan(), allocate(), run(), check(), pull() and push() each run one action, for
buttons of your own: a macro that calls RunPython "import $module; $module.plan()".
Keep this file next to the workbook and keep both names.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import xlwings as xw

from sheetloop.errors import UsageError

CONTROL_SHEET = $control_literal
ACTION_CELL = "$action_cell"
CONNECTION_CELL = "$connection_cell"
ACTIONS = $actions


def _macros() -> ModuleType:
    # Imported when a button is clicked, not when Excel loads this file: the sheetloop
    # installed at that moment runs, and a broken installation shows its error in Excel.
    return importlib.import_module("sheetloop.addin.macros")


def _connection(book: Any) -> str | None:
    """The connection named on the Control sheet (None when the cell is empty)."""
    value = book.sheets[CONTROL_SHEET][CONNECTION_CELL].value
    text = "" if value is None else str(value).strip()
    return text or None


def _run(action: str, book: Any) -> None:
    macro = getattr(_macros(), action.lower())
    if action in ("Pull", "Push"):
        macro(book, connection=_connection(book))
    else:
        macro(book)


def main() -> None:
    """Run the action chosen in the Control sheet's dropdown."""
    book = xw.Book.caller()
    chosen = book.sheets[CONTROL_SHEET][ACTION_CELL].value
    wanted = str(chosen or "").strip().casefold()
    action = next((a for a in ACTIONS if a.casefold() == wanted), None)
    if action is None:
        raise UsageError(
            f"{CONTROL_SHEET}!{ACTION_CELL} holds {chosen!r}, which is not an action: "
            f"choose one of {', '.join(ACTIONS)} from its dropdown, then click Run again."
        )
    _run(action, book)


def plan() -> None:
    """MRP: planned orders, pegging, exceptions."""
    _run("Plan", xw.Book.caller())


def allocate() -> None:
    """Allocate constrained supply to demand by priority."""
    _run("Allocate", xw.Book.caller())


def run() -> None:
    """Plan, then allocate."""
    _run("Run", xw.Book.caller())


def check() -> None:
    """Validate every table; problems go to the Problems sheet."""
    _run("Check", xw.Book.caller())


def pull() -> None:
    """Refresh tables from the connection named on the Control sheet (empty: every one)."""
    _run("Pull", xw.Book.caller())


def push() -> None:
    """Send changed rows to the connection named on the Control sheet."""
    _run("Push", xw.Book.caller())
'''
)


def module_source(module_name: str, control_sheet: str = CONTROL_SHEET) -> str:
    """The ``<module>.py`` that xlwings imports for the book ``<module>.xlsm``."""
    return _MODULE_SOURCE.substitute(
        marker=_MARKER,
        module=module_name,
        run_macro=RUN_MACRO,
        control_name=control_sheet,
        control_literal=json.dumps(control_sheet, ensure_ascii=False),
        action_cell=ACTION_CELL,
        connection_cell=CONNECTION_CELL,
        actions="(" + ", ".join(json.dumps(a) for a in ACTIONS) + ")",
    )


# --- the sheets --------------------------------------------------------------------------------


def _text_cell(ref: str, text: str, style: int | None = None) -> str:
    s = f' s="{style}"' if style is not None else ""
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{escape_text(text)}</t></is></c>'


def _how_to(module: str) -> list[str]:
    return [
        "How to",
        "1. Choose an action in B3: Plan (MRP), Allocate (supply to demand by priority), "
        "Run (plan, then allocate), Check (validate every table), Pull or Push.",
        "2. For Pull and Push, type the name of a connection from the Connections table in "
        "B4 (Pull with B4 empty pulls every connection).",
        f"3. Click Run. Without the button: Alt+F8 (Mac: Tools > Macro > Macros), choose "
        f"{RUN_MACRO}, click Run.",
        "4. Results go to sheetloop's own sheets (PlannedOrders, MRP, Exceptions, "
        "Allocation, ...); problems in the data are listed on the Problems sheet.",
        "",
        f"Excel runs {module}.py, which must stay next to this workbook: keep both names "
        f"({module}.xlsm, {module}.py).",
        f"Python settings (interpreter, UDF Modules) are on the {CONF_SHEET} sheet.",
        f'Buttons of your own: a macro that calls RunPython "import {module}; {module}.plan()" '
        "(or allocate, run, check, pull, push).",
    ]


def _control_sheet_xml(module: str, vml_rid: str) -> str:
    rows = {
        1: _text_cell("A1", "sheetloop: plan, allocate and sync this workbook from Excel"),
        3: _text_cell("A3", "Action") + _text_cell(ACTION_CELL, ACTIONS[0]),
        4: _text_cell("A4", "Connection"),
    }
    for i, line in enumerate(_how_to(module), start=6):
        if line:
            rows[i] = _text_cell(f"A{i}", line)
    data = "".join(f'<row r="{r}">{cells}</row>' for r, cells in sorted(rows.items()))
    choices = ",".join(ACTIONS)
    validations = (
        '<dataValidations count="2">'
        '<dataValidation type="list" allowBlank="1" showInputMessage="1" showErrorMessage="1" '
        f'errorTitle="Action" error={quoteattr(f"Choose one of {choices}.")} '
        'promptTitle="Action" prompt="Choose what Run does, then click Run." '
        f'sqref="{ACTION_CELL}"><formula1>"{choices}"</formula1></dataValidation>'
        '<dataValidation allowBlank="1" showInputMessage="1" promptTitle="Connection" '
        'prompt="For Pull and Push: a name from the Connections table. Empty: Pull pulls '
        f'every connection." sqref="{CONNECTION_CELL}"/>'
        "</dataValidations>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{NS_MAIN}" xmlns:r="{NS_REL}">'
        f'<dimension ref="A1:B{max(rows)}"/>'
        '<sheetViews><sheetView showGridLines="0" workbookViewId="0">'
        f'<selection activeCell="{ACTION_CELL}" sqref="{ACTION_CELL}"/></sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
        '<cols><col min="1" max="1" width="14" customWidth="1"/>'
        '<col min="2" max="2" width="18" customWidth="1"/>'
        '<col min="3" max="3" width="4" customWidth="1"/></cols>'
        f"<sheetData>{data}</sheetData>{validations}"
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
        f'footer="0.3"/><legacyDrawing r:id="{vml_rid}"/></worksheet>'
    )


def _run_button_vml(block: int) -> str:
    """A form button (legacy VML, as Excel stores one) over D3:E4 that runs the Run macro.

    ``block`` is the drawing's shape-id block: shape ids are unique across the workbook,
    1024 per block, and other drawings of the book may hold the lower blocks.
    """
    return (
        '<xml xmlns:v="urn:schemas-microsoft-com:vml" '
        'xmlns:o="urn:schemas-microsoft-com:office:office" '
        'xmlns:x="urn:schemas-microsoft-com:office:excel">'
        f'<o:shapelayout v:ext="edit"><o:idmap v:ext="edit" data="{block}"/></o:shapelayout>'
        '<v:shapetype id="_x0000_t201" coordsize="21600,21600" o:spt="201" '
        'path="m,l,21600r21600,l21600,xe"><v:stroke joinstyle="miter"/>'
        '<v:path shadowok="f" o:extrusionok="f" strokeok="f" fillok="f" o:connecttype="rect"/>'
        '<o:lock v:ext="edit" shapetype="t"/></v:shapetype>'
        f'<v:shape id="_x0000_s{block * 1024 + 1}" type="#_x0000_t201" '
        'style="position:absolute;margin-left:224pt;margin-top:30pt;width:96pt;height:30pt;'
        'z-index:1;mso-wrap-style:tight" o:button="t" fillcolor="buttonFace [67]" '
        'strokecolor="windowText [64]" o:insetmode="auto">'
        '<v:fill color2="buttonFace [67]" o:detectmouseclick="t"/>'
        '<o:lock v:ext="edit" rotation="t"/>'
        '<v:textbox style="mso-direction-alt:auto" o:singleclick="f">'
        '<div style="text-align:center"><font face="Calibri" size="220" color="#000000">'
        "Run</font></div></v:textbox>"
        '<x:ClientData ObjectType="Button"><x:Anchor>3, 0, 2, 0, 5, 0, 4, 0</x:Anchor>'
        "<x:PrintObject>False</x:PrintObject><x:AutoFill>False</x:AutoFill>"
        f"<x:FmlaMacro>[0]!{RUN_MACRO}</x:FmlaMacro>"
        "<x:TextHAlign>Center</x:TextHAlign><x:TextVAlign>Center</x:TextVAlign>"
        "</x:ClientData></v:shape></xml>"
    )


def _free_vml_block(package: Package) -> int:
    used = [0]
    for name in package.names():
        if name.lower().endswith(".vml"):
            text = package.read(name).decode("utf-8", "replace")
            for found in re.findall(r'idmap\b[^>]*?\bdata="([^"]*)"', text):
                used += [int(n) for n in re.findall(r"\d+", found)]
    return max(used) + 1


def _add_control_sheet(package: Package, index: WorkbookIndex, name: str, module: str) -> None:
    sheet = index.add_sheet(name, _EMPTY_SHEET)
    vml = package.unused_name("xl/drawings/vmlDrawing{}.vml")
    package.write(vml, _run_button_vml(_free_vml_block(package)))
    ensure_override(package, vml, _CT_VML)
    rid = add_relationship(package, sheet.part, _REL_VML, vml)
    package.write(sheet.part, _control_sheet_xml(module, rid))


def _set_conf(
    package: Package, index: WorkbookIndex, rows: list[list[object]], settings: dict[str, str]
) -> None:
    """Give the xlwings.conf sheet these settings (key in A, value in B), keeping its other
    rows. xlwings reads the keys from A1 down to the first empty cell, case-insensitively,
    and fails on a key listed twice."""
    sheet = index.sheet(CONF_SHEET)
    if sheet is None:
        sheet = index.add_sheet(CONF_SHEET, _EMPTY_SHEET)
        rows = []
    keys = [_key(row) for row in rows]  # column A as it will be
    cells = SheetCells(package.read_text(sheet.part))

    def text(value: str) -> Callable[[str, Cell | None], str]:
        return lambda ref, old: _text_cell(ref, value, old.style if old else None)

    for key, value in settings.items():
        block = _settings_block(keys)
        if key.casefold() in block:
            row = block.index(key.casefold()) + 1
        else:
            # The empty row under the settings takes the key, so the rows right below it
            # join the settings.
            row = len(block) + 1
            keys[row - 1 : row] = [key.casefold()]
            cells.set(row, 0, text(key))
        cells.set(row, 1, text(value))
    block = _settings_block(keys)
    repeated = sorted({k for k in block if block.count(k) > 1})
    if repeated:
        raise UsageError(
            f"the {CONF_SHEET} sheet would list {', '.join(repeated)} twice in A1:A{len(block)} "
            "(xlwings reads settings from A1 down to the first empty cell and fails on a "
            "repeated one): leave two empty rows under the settings at the top of that "
            "sheet, then run sheetloop excel again"
        )
    package.write(sheet.part, cells.to_xml())


def _key(row: list[object]) -> str:
    return str(row[0]).strip().casefold() if row and row[0] is not None else ""


def _settings_block(keys: list[str]) -> list[str]:
    """The keys xlwings reads: from A1 down to the first empty cell."""
    return keys[: keys.index("")] if "" in keys else keys


# --- the package -------------------------------------------------------------------------------


def _make_macro_enabled(package: Package, workbook_part: str) -> None:
    """The workbook part's content type becomes the macro-enabled one."""
    text = package.read_text(_CT_TYPES)
    override = re.search(
        r'<(?:\w+:)?Override\b[^>]*\bPartName="/' + re.escape(workbook_part) + r'"[^>]*>',
        text,
        re.IGNORECASE,
    )
    if override is None:
        ensure_override(package, workbook_part, _CT_MACRO_WORKBOOK)
        return
    tag = re.sub(r'\bContentType="[^"]*"', f'ContentType="{_CT_MACRO_WORKBOOK}"', override.group(0))
    package.write(_CT_TYPES, text[: override.start()] + tag + text[override.end() :])


def _set_code_name(package: Package, workbook_part: str) -> None:
    """Name the workbook ``ThisWorkbook`` for VBA, as the template's project calls it, unless
    the book has a code name already (otherwise Excel adds a second workbook object)."""
    text = package.read_text(workbook_part)
    root = re.search(r"<(\w+:)?workbook\b[^>]*>", text)
    if root is None:
        return
    # Only the main namespace's elements: extLst holds an x14:workbookPr of its own.
    main = re.escape(root.group(1) or "")
    pr = re.search(rf"<{main}workbookPr\b([^>]*?)(/?)>", text)
    if pr is not None:
        if re.search(r"\bcodeName=", pr.group(1)):
            return
        at = pr.end() - len(pr.group(2)) - 1
        package.write(workbook_part, text[:at] + ' codeName="ThisWorkbook"' + text[at:])
        return
    # workbookPr follows fileVersion and fileSharing when the book has them (CT_Workbook).
    after = root.end()
    for follower in ("fileVersion", "fileSharing"):
        found = re.search(rf"<{main}{follower}\b[^>]*?(?:/>|>.*?</{main}{follower}>)", text, re.S)
        if found is not None:
            after = max(after, found.end())
    element = f'<{root.group(1) or ""}workbookPr codeName="ThisWorkbook"/>'
    package.write(workbook_part, text[:after] + element + text[after:])


def _control_sheet_name(index: WorkbookIndex, state: dict[str, str]) -> tuple[str, bool]:
    """The Control sheet's name and whether the book already has sheetloop's Control sheet."""
    recorded = state.get(_STATE_CONTROL)
    if recorded and index.sheet(recorded) is not None:
        return recorded, True
    # A sheet of that name the user made stays theirs: ours takes another name.
    name, n = CONTROL_SHEET, 1
    while index.sheet(name) is not None:
        name = f"sheetloop {CONTROL_SHEET}" + (f" ({n})" if n > 1 else "")
        n += 1
    return name, False


def _interpreter(interpreter: str | None) -> tuple[str, str] | None:
    """The xlwings.conf key and path of the Python Excel runs: a given path goes to the key
    of its kind (Windows or macOS); by default this Python, where Excel runs (Windows or
    macOS), and nothing elsewhere."""
    if interpreter is not None:
        windows = bool(re.match(r"^(?:[A-Za-z]:[\\/]|\\\\)", interpreter)) or (
            interpreter.lower().endswith(".exe")
        )
        return ("Interpreter_Win" if windows else "Interpreter_Mac", interpreter)
    if sys.platform == "win32":
        return ("Interpreter_Win", sys.executable)
    if sys.platform == "darwin":
        return ("Interpreter_Mac", sys.executable)
    return None


def _target(book: Path, out: Path | None) -> Path:
    if out is None:
        return book.with_name(module_name_for(book) + ".xlsm")
    if out.is_dir():
        return out / f"{module_name_for(book)}.xlsm"
    if out.suffix.lower() != ".xlsm":
        raise UsageError(
            f"{out}: the book Excel runs macros from must be an .xlsm file: "
            f"use --out {out.with_name(module_name_for(out) + '.xlsm')}"
        )
    _check_module_name(out)
    return out


def _check_module_file(module: Path) -> None:
    if not module.exists():
        return
    if not _ours(str(module)):
        raise UsageError(
            f"{module} exists and was not written by sheetloop excel: Excel would run it for "
            "the book. Rename or move it, or choose another name with --out."
        )


def make_excel_book(
    book: Path, out: Path | None = None, *, interpreter: str | None = None
) -> ExcelSetup:
    """Write ``book`` as an xlwings-ready ``<module>.xlsm`` plus ``<module>.py`` beside it.

    ``out`` is the .xlsm to write, or a folder for it (default: beside ``book``);
    ``interpreter`` the Python Excel should run (default: this one on Windows or macOS;
    none elsewhere, and xlwings then uses its add-in's setting or ``python``). ``book``
    is never changed, except when it is itself the target and already an xlwings book:
    then only its settings are updated. Raises :class:`UsageError` for a book with VBA of
    its own, an existing target made from another book, or a name Python cannot import.
    """
    if book.suffix.lower() not in (".xlsx", ".xlsm"):
        raise UsageError(f"{book}: sheetloop excel works on .xlsx and .xlsm workbooks")
    check_book_file(book)
    target = _target(book, out)
    module = target.with_suffix(".py")
    in_place = target.exists() and target.resolve() == book.resolve()
    if target.exists() and not in_place:
        raise UsageError(
            f"{target} exists already. To update its settings: sheetloop excel {target}. To "
            f"make it again from {book.name}: delete or rename {target.name} first, or "
            "choose another name with --out."
        )
    _check_module_file(module)
    setting = _interpreter(interpreter)
    settings = {"UDF Modules": UDF_MODULES} | (dict([setting]) if setting else {})
    template = xlwings_template()
    vba = _template_vba(template)
    known = [vba]
    if (addin_template := template.with_name(_ADDIN_TEMPLATE)).is_file():
        known.append(_template_vba(addin_template))
    state, conf_rows = _records(book)
    if in_place:
        refuse_if_open_in_excel(target)
    with book_write_lock(target, command="excel"):
        buffer = io.BytesIO()
        with Package(book) as package:
            index = WorkbookIndex(package)
            existing = _vba_part(package, index.part)
            if existing is not None and not _is_xlwings_project(package.read(existing), known):
                raise UsageError(
                    f"{book}: the book has VBA macros of its own, and sheetloop never replaces "
                    "a book's macros. Save a copy without them (File > Save As > Excel "
                    "Workbook (.xlsx)), run sheetloop excel on that copy, then copy your "
                    "macros into the new .xlsm in Excel's VBA editor (Alt+F11)."
                )
            if existing is None and in_place:
                raise UsageError(
                    f"{book}: sheetloop excel does not change the book it is given, and "
                    f"{target.name} would be written over it: choose another name with --out "
                    f"(e.g. --out {target.with_name(target.stem + '_excel.xlsm')})"
                )
            part = existing or _default_vba_part(index.part)
            _attach_vba(package, index.part, part, None if existing else vba)
            control = _edit(package, target.stem, state, (conf_rows, settings))
            package.save_to(buffer)
        # The source is closed before the target replaces it (Windows cannot replace an
        # open file).
        atomic_write(target, lambda f: f.write(buffer.getbuffer()))
    atomic_write(module, lambda f: f.write(module_source(target.stem, control).encode()))
    return ExcelSetup(target, module, target.stem, control, setting, existing is None)


def _records(book: Path) -> tuple[dict[str, str], list[list[object]]]:
    """sheetloop's record kept in the book and the rows of its xlwings.conf sheet. The
    reader is gone when this returns, so the book is not held open while it is replaced."""
    reader = FileBook(book)
    rows = reader.reader.sheet_rows(CONF_SHEET) if CONF_SHEET in reader.sheet_names else []
    return reader.state(), rows


def _edit(
    package: Package,
    module_name: str,
    state: dict[str, str],
    conf: tuple[list[list[object]], dict[str, str]],
) -> str:
    """Make the package a macro-enabled book with sheetloop's Control sheet and the
    xlwings.conf ``conf`` (its rows, the settings to give it); returns the Control sheet's
    name."""
    index = WorkbookIndex(package)
    _make_macro_enabled(package, index.part)
    _set_code_name(package, index.part)
    control, has_control = _control_sheet_name(index, state)
    if not has_control:
        _add_control_sheet(package, index, control, module_name)
    _set_conf(package, index, *conf)
    _write_state(package, state, control)
    return control


def _write_state(package: Package, state: dict[str, str], control: str) -> None:
    owned = set(filter(None, state.get("owned_sheets", "").split("\n")))
    record = {
        **state,
        _STATE_CONTROL: control,
        "owned_sheets": "\n".join(sorted(owned | {control})),
    }
    write_state_sheet(package, WorkbookIndex(package), record)
