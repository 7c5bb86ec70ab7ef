"""``sheetloop excel``: a planning workbook turned into an xlwings-ready .xlsm (contract §3:
nothing the user made is lost; the source book is never changed)."""

from __future__ import annotations

import importlib.util
import keyword
import re
import shutil
import sys
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import openpyxl
import pytest
import python_calamine as pc
import xlwings as xw
from hypothesis import given, settings
from hypothesis import strategies as st
from support.books import MINIMAL, make_book, sha256
from support.corpus import corpus_file, corpus_files
from support.libreoffice import convert
from support.ooxml import invariant_violations, lost_entries, package_changes
from support.xlwings_remote import remote_book

from sheetloop.addin import cli
from sheetloop.addin.excel_setup import (
    ACTIONS,
    CONF_SHEET,
    UDF_MODULES,
    ExcelSetup,
    make_excel_book,
    module_name_for,
    module_source,
    vba_stream_names,
    xlwings_template,
)
from sheetloop.errors import UsageError
from sheetloop.workbooks import init_book
from sheetloop.workbooks.file_book import FileBook

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"
MACRO_WORKBOOK = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
VBA_TYPE = "application/vnd.ms-office.vbaProject"
VBA_REL = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
WINDOWS_PYTHON = r"C:\Users\ann\AppData\Local\Programs\Python\Python311\python.exe"
# What sheetloop excel may change in a book: the package indexes. Everything else is kept.
INDEX_PARTS = {"[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels"}


# --- helpers ----------------------------------------------------------------------------------


def template_vba() -> bytes:
    with zipfile.ZipFile(xlwings_template()) as z:
        return z.read("xl/vbaProject.bin")


def planning_book(folder: Path, name: str = "Plan 2026 (v2).xlsx") -> Path:
    return make_book(
        folder / name,
        {
            **MINIMAL,
            "Notes": [["Note", "Formula"], ["=not a formula", "text"], ["kept", 3.5]],
        },
    )


def xml_of(path: Path, part: str) -> ET.Element:
    with zipfile.ZipFile(path) as z:
        return ET.fromstring(z.read(part))


def sheet_parts(path: Path) -> dict[str, str]:
    """Sheet name -> its part, read with the standard library only."""
    workbook = xml_of(path, "xl/workbook.xml")
    rels = xml_of(path, "xl/_rels/workbook.xml.rels")
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{PKG_REL}Relationship")}
    out = {}
    for sheet in workbook.iter(f"{MAIN}sheet"):
        target = targets[sheet.get(f"{REL}id")]
        out[sheet.get("name", "")] = (
            target.lstrip("/") if target.startswith("/") else ("xl/" + target)
        )
    return out


def conf_settings(path: Path) -> dict[str, Any]:
    """The xlwings.conf settings as xlwings' VBA reads them: from A1 down to the first empty
    key, keys upper-cased, every key once."""
    sheet = openpyxl.load_workbook(path)[CONF_SHEET]
    found: dict[str, Any] = {}
    row = 1
    while sheet.cell(row, 1).value not in (None, ""):
        key = str(sheet.cell(row, 1).value).upper()
        assert key not in found, f"xlwings.conf lists {key} twice (xlwings fails on that)"
        found[key] = sheet.cell(row, 2).value
        row += 1
    return found


def calamine_contents(path: Path) -> dict[str, Any]:
    book = pc.CalamineWorkbook.from_path(str(path), load_tables=True)
    return {
        "sheets": {s: book.get_sheet_by_name(s).to_python() for s in book.sheet_names},
        "tables": {t: book.get_table_by_name(t).to_python() for t in book.table_names or []},
    }


def assert_nothing_lost(source: Path, made: Path) -> None:
    """Every part of ``source`` is in ``made`` unchanged but the package indexes, which only
    gain entries (and the workbook's content type becomes the macro-enabled one)."""
    diff = package_changes(source, made)
    assert not diff.removed, diff.removed
    assert set(diff.changed) <= INDEX_PARTS, diff.changed
    allowed = re.compile(r"entry \('Override', '/xl/workbook\.xml', '[^']*'\) was lost$")
    lost = [entry for entry in lost_entries(source, made) if not allowed.search(entry)]
    assert lost == [], lost
    assert invariant_violations(made) == []
    before, after = calamine_contents(source), calamine_contents(made)
    assert after["tables"] == before["tables"]
    assert {s: after["sheets"][s] for s in before["sheets"]} == before["sheets"]


# --- the package --------------------------------------------------------------------------------


def test_the_xlsm_carries_the_installed_xlwings_vba_project_byte_for_byte(tmp_path: Path):
    setup = make_excel_book(planning_book(tmp_path))
    with zipfile.ZipFile(setup.book) as z:
        assert z.read("xl/vbaProject.bin") == template_vba()
    # the standalone project: xlwings' own module and the Run macro's module, no add-in needed
    assert {"xlwings", "Module1"} <= vba_stream_names(template_vba())
    assert setup.vba_added


def test_the_workbook_is_macro_enabled_and_related_to_its_vba_project(tmp_path: Path):
    setup = make_excel_book(planning_book(tmp_path))
    types_ = xml_of(setup.book, "[Content_Types].xml")
    overrides = {o.get("PartName"): o.get("ContentType") for o in types_.iter(f"{CT}Override")}
    assert overrides["/xl/workbook.xml"] == MACRO_WORKBOOK
    assert overrides["/xl/vbaProject.bin"] == VBA_TYPE
    rels = xml_of(setup.book, "xl/_rels/workbook.xml.rels")
    assert [
        r.get("Target") for r in rels.iter(f"{PKG_REL}Relationship") if r.get("Type") == VBA_REL
    ] == ["vbaProject.bin"]
    workbook_pr = xml_of(setup.book, "xl/workbook.xml").find(f"{MAIN}workbookPr")
    assert workbook_pr is not None and workbook_pr.get("codeName") == "ThisWorkbook"


def test_the_book_gets_a_name_xlwings_can_import_and_the_py_beside_it(tmp_path: Path):
    setup = make_excel_book(planning_book(tmp_path))
    assert setup.book == tmp_path / "plan_2026_v2.xlsm"
    assert setup.module == tmp_path / "plan_2026_v2.py"
    # xlwings' Run macro imports the workbook's name without its extension
    assert setup.book.stem == setup.module.stem == setup.module_name
    assert setup.book.is_file() and setup.module.is_file()


def test_the_source_book_is_never_changed_and_every_part_of_it_is_kept(tmp_path: Path):
    source = planning_book(tmp_path)
    digest = sha256(source)
    setup = make_excel_book(source)
    assert sha256(source) == digest
    assert_nothing_lost(source, setup.book)


def test_the_conf_sheet_names_the_udf_module_and_the_interpreter(tmp_path: Path):
    setup = make_excel_book(planning_book(tmp_path), interpreter=WINDOWS_PYTHON)
    assert conf_settings(setup.book) == {
        "UDF MODULES": UDF_MODULES,
        "INTERPRETER_WIN": WINDOWS_PYTHON,
    }
    assert setup.interpreter == ("Interpreter_Win", WINDOWS_PYTHON)


@pytest.mark.parametrize(
    ("given_path", "key"),
    [
        (r"C:\Python311\python.exe", "INTERPRETER_WIN"),
        (r"\\server\share\python.exe", "INTERPRETER_WIN"),
        ("/Users/ann/.venv/bin/python", "INTERPRETER_MAC"),
    ],
)
def test_a_given_interpreter_goes_to_the_key_of_its_system(
    tmp_path: Path, given_path: str, key: str
):
    setup = make_excel_book(planning_book(tmp_path), interpreter=given_path)
    assert conf_settings(setup.book)[key] == given_path


@pytest.mark.parametrize(
    ("platform", "key"), [("win32", "INTERPRETER_WIN"), ("darwin", "INTERPRETER_MAC")]
)
def test_by_default_excel_runs_the_python_that_made_the_book(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str, key: str
):
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(sys, "executable", "/some/where/python-of-sheetloop")
    setup = make_excel_book(planning_book(tmp_path))
    assert conf_settings(setup.book)[key] == "/some/where/python-of-sheetloop"


def test_where_excel_does_not_run_no_interpreter_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # An interpreter path of a Linux server would only break Excel's own setting.
    monkeypatch.setattr(sys, "platform", "linux")
    setup = make_excel_book(planning_book(tmp_path))
    assert conf_settings(setup.book) == {"UDF MODULES": UDF_MODULES}
    assert setup.interpreter is None
    assert any("--interpreter" in line for line in setup.summary())


# --- the Control sheet ---------------------------------------------------------------------------


def test_the_control_sheet_offers_the_six_actions_in_a_dropdown(tmp_path: Path):
    setup = make_excel_book(planning_book(tmp_path))
    wb = openpyxl.load_workbook(setup.book)
    sheet = wb[setup.control_sheet]
    lists = [v for v in sheet.data_validations.dataValidation if v.type == "list"]
    assert [(str(v.sqref), v.formula1) for v in lists] == [("B3", '"' + ",".join(ACTIONS) + '"')]
    assert ACTIONS == ("Plan", "Allocate", "Run", "Check", "Pull", "Push")
    assert sheet["B3"].value in ACTIONS
    assert sheet["A4"].value == "Connection" and sheet["B4"].value is None
    how_to = " ".join(str(c.value) for row in sheet["A6:A20"] for c in row if c.value)
    assert "SampleCall" in how_to and f"{setup.module_name}.py" in how_to


def test_the_run_button_calls_the_macro_that_imports_the_book(tmp_path: Path):
    setup = make_excel_book(planning_book(tmp_path))
    part = sheet_parts(setup.book)[setup.control_sheet]
    sheet = xml_of(setup.book, part)
    legacy = sheet.find(f"{MAIN}legacyDrawing")
    assert legacy is not None
    rels = xml_of(setup.book, part.replace("worksheets/", "worksheets/_rels/") + ".rels")
    target = next(
        r.get("Target", "")
        for r in rels.iter(f"{PKG_REL}Relationship")
        if r.get("Id") == legacy.get(f"{REL}id")
    )
    with zipfile.ZipFile(setup.book) as z:
        vml = z.read("xl/" + target.replace("../", "")).decode()
    assert "<x:FmlaMacro>[0]!SampleCall</x:FmlaMacro>" in vml
    assert 'ObjectType="Button"' in vml and ">Run</font>" in vml


def test_a_sheet_of_the_users_called_control_stays_theirs(tmp_path: Path):
    source = make_book(tmp_path / "plan.xlsx", {**MINIMAL, "Control": [["Budget"], [100]]})
    setup = make_excel_book(source)
    assert setup.control_sheet == "sheetloop Control"
    assert f'CONTROL_SHEET = "{setup.control_sheet}"' in setup.module.read_text()
    wb = openpyxl.load_workbook(setup.book)
    assert wb["Control"]["A1"].value == "Budget" and wb["Control"]["A2"].value == 100
    assert_nothing_lost(source, setup.book)


# --- other programs read it ---------------------------------------------------------------


def test_libreoffice_opens_the_xlsm_with_every_sheet_and_the_run_button(tmp_path: Path):
    setup = make_excel_book(planning_book(tmp_path))
    (ods,) = convert([setup.book], "ods", tmp_path / "lo")
    with zipfile.ZipFile(ods) as z:
        content = z.read("content.xml").decode()
    sheets = re.findall(r'<table:table table:name="([^"]+)"', content)
    assert sheets[:5] == ["Items", "Demand", "Notes", "Control", CONF_SHEET]
    button = re.search(r"<form:button\b[^>]*form:label=\"Run\"[^>]*>", content)
    assert button is not None
    assert "SampleCall" in content[button.start() : content.index("</form:button>", button.start())]


def test_sheetloop_saving_the_xlsm_later_keeps_its_vba(tmp_path: Path):
    setup = make_excel_book(planning_book(tmp_path))
    book = FileBook.open(setup.book)
    book.set_state("checked", "yes")
    book.save()
    with zipfile.ZipFile(setup.book) as z:
        assert z.read("xl/vbaProject.bin") == template_vba()
    overrides = {
        o.get("PartName"): o.get("ContentType")
        for o in xml_of(setup.book, "[Content_Types].xml").iter(f"{CT}Override")
    }
    assert overrides["/xl/workbook.xml"] == MACRO_WORKBOOK


def corpus_without_vba() -> Iterator[Path]:
    for path in corpus_files():
        with zipfile.ZipFile(path) as z:
            if not any(n.lower().endswith("vbaproject.bin") for n in z.namelist()):
                yield path


def test_every_corpus_book_without_vba_loses_nothing(tmp_path: Path):
    books = list(corpus_without_vba())
    assert len(books) >= 30
    for i, original in enumerate(books):
        source = shutil.copy(original, tmp_path / original.name)
        setup = make_excel_book(Path(source), tmp_path / f"made_{i}.xlsm")
        try:
            assert_nothing_lost(Path(source), setup.book)
        except AssertionError as exc:
            raise AssertionError(f"{original.name}: {exc}") from exc
        with zipfile.ZipFile(setup.book) as z:
            assert z.read("xl/vbaProject.bin") == template_vba(), original.name
        assert_code_name(source, setup.book)


def assert_code_name(source: Path, made: Path) -> None:
    """The workbook has a VBA code name: its own, or the template project's ThisWorkbook;
    nothing else of the workbook part's properties changed."""
    before, after = xml_of(source, "xl/workbook.xml"), xml_of(made, "xl/workbook.xml")
    old, new = before.find(f"{MAIN}workbookPr"), after.find(f"{MAIN}workbookPr")
    assert new is not None
    old_attrs = dict(old.attrib) if old is not None else {}
    assert new.attrib == {"codeName": "ThisWorkbook", **old_attrs}
    others = [e for e in after.iter() if e.tag.endswith("workbookPr") and e is not new]
    assert [e.attrib for e in others] == [
        e.attrib for e in before.iter() if e.tag.endswith("workbookPr") and e is not old
    ]


# --- books with VBA ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["macro01.xlsm", "macro02.xlsm", "button07.xlsm"])
def test_a_book_with_vba_of_its_own_is_refused_and_left_unchanged(tmp_path: Path, name: str):
    source = Path(shutil.copy(corpus_file(name), tmp_path / name))
    digest = sha256(source)
    with pytest.raises(UsageError, match="VBA macros of its own") as refused:
        make_excel_book(source)
    assert "Save a copy" in str(refused.value)
    assert sha256(source) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_book_made_before_gets_only_its_settings_updated(tmp_path: Path):
    first = make_excel_book(planning_book(tmp_path), interpreter=r"C:\old\python.exe")
    control = sheet_parts(first.book)[first.control_sheet]
    with zipfile.ZipFile(first.book) as z:
        control_xml = z.read(control)
    again = make_excel_book(first.book, interpreter=r"C:\new\python.exe")
    assert again.book == first.book and not again.vba_added
    assert conf_settings(again.book) == {
        "UDF MODULES": UDF_MODULES,
        "INTERPRETER_WIN": r"C:\new\python.exe",
    }
    with zipfile.ZipFile(again.book) as z:
        assert z.read("xl/vbaProject.bin") == template_vba()
        assert z.read(control) == control_xml
    assert list(sheet_parts(again.book)).count(first.control_sheet) == 1
    assert invariant_violations(again.book) == []


def test_the_books_own_module_on_pythons_path_does_not_rename_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    first = make_excel_book(planning_book(tmp_path))
    monkeypatch.syspath_prepend(str(tmp_path))  # run from the book's folder
    assert importlib.util.find_spec(first.module_name) is not None
    again = make_excel_book(first.book)
    assert again.book == first.book and again.module == first.module


def test_an_xlwings_quickstart_book_is_accepted_and_its_vba_kept(tmp_path: Path):
    for template in ("quickstart.xlsm", "quickstart_standalone.xlsm"):
        source = Path(shutil.copy(xlwings_template(template), tmp_path / f"qs_{template}"))
        with zipfile.ZipFile(source) as z:
            vba = z.read("xl/vbaProject.bin")
        setup = make_excel_book(source, tmp_path / f"made_{template.split('.')[0]}.xlsm")
        with zipfile.ZipFile(setup.book) as z:
            assert z.read("xl/vbaProject.bin") == vba
        assert not setup.vba_added
        assert "_xlwings.conf" in sheet_parts(setup.book)  # xlwings' inactive sheet: untouched
        assert conf_settings(setup.book)["UDF MODULES"] == UDF_MODULES


def test_an_xlwings_project_saved_again_is_known_by_its_xlwings_module(tmp_path: Path):
    # Excel rewrites vbaProject.bin on every save: the bytes differ, the modules stay.
    resaved = bytearray(template_vba())
    resaved[0x08] ^= 0xFF  # the header's unused CLSID field
    source = tmp_path / "resaved.xlsm"
    with zipfile.ZipFile(xlwings_template()) as src, zipfile.ZipFile(source, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, bytes(resaved) if item.filename == "xl/vbaProject.bin" else data)
    assert vba_stream_names(bytes(resaved)) == vba_stream_names(template_vba())
    setup = make_excel_book(source)
    with zipfile.ZipFile(setup.book) as z:
        assert z.read("xl/vbaProject.bin") == bytes(resaved)


def test_the_conf_sheet_keeps_the_users_other_settings(tmp_path: Path):
    source = make_book(
        tmp_path / "plan.xlsx",
        {
            **MINIMAL,
            CONF_SHEET: [
                ["Conda Env", "planning"],
                ["udf modules", "my_udfs"],
                [None, None],
                [None, None],
                ["Notes below the settings", "stay"],
            ],
        },
        as_tables=False,
    )
    setup = make_excel_book(source, interpreter="/opt/py/bin/python")
    assert conf_settings(setup.book) == {
        "CONDA ENV": "planning",
        "UDF MODULES": UDF_MODULES,
        "INTERPRETER_MAC": "/opt/py/bin/python",
    }
    wb = openpyxl.load_workbook(setup.book)
    assert [wb[CONF_SHEET]["A5"].value, wb[CONF_SHEET]["B5"].value] == [
        "Notes below the settings",
        "stay",
    ]


def test_settings_that_would_run_into_a_repeated_key_below_are_refused(tmp_path: Path):
    source = make_book(
        tmp_path / "plan.xlsx",
        {**MINIMAL, CONF_SHEET: [["Conda Env", "planning"], [None], ["UDF Modules", "x"]]},
        as_tables=False,
    )
    with pytest.raises(UsageError, match="udf modules twice"):
        make_excel_book(source, interpreter="/opt/py/bin/python")
    assert not (tmp_path / "plan.xlsm").exists()


def test_sheetloops_record_in_the_book_is_kept_and_owns_the_control_sheet(tmp_path: Path):
    source = planning_book(tmp_path)
    recorded = FileBook.open(source)
    recorded.set_state("pull_cursor", "2026-11-30")
    recorded.save()
    setup = make_excel_book(source)
    state = FileBook.open(setup.book).state()
    assert state["pull_cursor"] == "2026-11-30"
    assert setup.control_sheet in state["owned_sheets"].split("\n")


def test_the_run_button_takes_shape_ids_no_other_drawing_of_the_book_uses(tmp_path: Path):
    source = Path(shutil.copy(corpus_file("button04.xlsx"), tmp_path / "button04.xlsx"))

    def id_blocks(path: Path) -> list[set[int]]:
        with zipfile.ZipFile(path) as z:
            vml = [z.read(n).decode() for n in z.namelist() if n.endswith(".vml")]
        return [{int(d) for d in re.findall(r'idmap[^>]*data="(\d+)', text)} for text in vml]

    before = id_blocks(source)
    after = id_blocks(make_excel_book(source).book)
    assert before and len(after) == len(before) + 1
    (ours,) = [blocks for blocks in after if blocks not in before]
    assert not ours & set().union(*before)


def test_a_book_open_in_excel_is_not_updated(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    setup = make_excel_book(planning_book(tmp_path))
    (tmp_path / f"~${setup.book.name}").write_bytes(b"owner")
    digest = sha256(setup.book)
    assert cli.main(["excel", str(setup.book)]) == 2
    assert "open in Excel" in capsys.readouterr().err
    assert sha256(setup.book) == digest


def test_a_macro_enabled_book_without_vba_is_not_written_over(tmp_path: Path):
    source = make_book(tmp_path / "plan.xlsm", MINIMAL)
    digest = sha256(source)
    with pytest.raises(UsageError, match=r"--out .*plan_excel\.xlsm"):
        make_excel_book(source)
    assert sha256(source) == digest
    setup = make_excel_book(source, tmp_path / "plan_excel.xlsm")
    assert_nothing_lost(source, setup.book)


# --- what is refused --------------------------------------------------------------------------


def test_an_existing_xlsm_made_from_another_book_is_never_overwritten(tmp_path: Path):
    source = planning_book(tmp_path)
    setup = make_excel_book(source)
    digest = sha256(setup.book)
    with pytest.raises(UsageError, match="exists already"):
        make_excel_book(source)
    assert sha256(setup.book) == digest


def test_a_python_file_of_the_users_is_never_overwritten(tmp_path: Path):
    source = planning_book(tmp_path)
    mine = tmp_path / "plan_2026_v2.py"
    mine.write_text("print('my own code')\n")
    with pytest.raises(UsageError, match="not written by sheetloop"):
        make_excel_book(source)
    assert mine.read_text() == "print('my own code')\n"
    assert not (tmp_path / "plan_2026_v2.xlsm").exists()


@pytest.mark.parametrize("out", ["My Plan.xlsm", "pandas.xlsm", "class.xlsm", "plan.xlsx"])
def test_out_must_be_an_xlsm_whose_name_python_can_import(tmp_path: Path, out: str):
    with pytest.raises(UsageError, match="--out") as refused:
        make_excel_book(planning_book(tmp_path), tmp_path / out)
    suggested = re.search(r"--out (\S+\.xlsm)", str(refused.value))
    assert suggested is not None
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", Path(suggested.group(1)).stem)


def test_out_may_name_a_folder(tmp_path: Path):
    folder = tmp_path / "excel"
    folder.mkdir()
    setup = make_excel_book(planning_book(tmp_path), folder)
    assert setup.book == folder / "plan_2026_v2.xlsm" and setup.module.parent == folder


# --- module names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "module"),
    [
        ("Plan 2026 (v2).xlsx", "plan_2026_v2"),
        ("plan.xlsm", "plan"),
        ("Überplan März.xlsx", "uberplan_marz"),
        ("2026 plan.xlsx", "book_2026_plan"),
        ("(((.xlsx", "planning_book"),
        ("pandas.xlsx", "pandas_book"),
        ("sheetloop.xlsx", "sheetloop_book"),
        ("XLWINGS.xlsx", "xlwings_book"),
        ("json.xlsx", "json_book"),
        ("class.xlsx", "class_book"),
        ("CON.xlsx", "con_book"),
    ],
)
def test_the_module_name_comes_from_the_book_name(file_name: str, module: str):
    assert module_name_for(Path(file_name)) == module


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40).filter(lambda s: "/" not in s and "\0" not in s))
def test_every_book_name_gives_an_importable_name_that_hides_no_module(stem: str):
    name = module_name_for(Path(f"{stem}.xlsx"))
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", name)
    assert not keyword.iskeyword(name)
    assert name not in sys.stdlib_module_names
    assert importlib.util.find_spec(name) is None


# --- the generated module -----------------------------------------------------------------------


class FakeMacros:
    """Stands in for sheetloop.addin.macros: records which macro ran, with what."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object, dict[str, object]]] = []
        for name in ("plan", "allocate", "run", "check", "pull", "push"):
            setattr(self, name, self._recorder(name))

    def _recorder(self, name: str) -> Any:
        def macro(book: object = None, **kwargs: object) -> None:
            self.calls.append((name, book, kwargs))

        return macro


def load_generated(setup: ExcelSetup) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"generated_{setup.module_name}", setup.module)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def chosen(setup: ExcelSetup, action: str, connection: str | None, tmp_path: Path) -> Path:
    """A copy of the book with an action and a connection chosen on its Control sheet."""
    wb = openpyxl.load_workbook(setup.book, keep_vba=True)
    wb[setup.control_sheet]["B3"] = action
    wb[setup.control_sheet]["B4"] = connection
    copy = tmp_path / f"chosen_{action}.xlsm"
    wb.save(copy)
    return copy


@pytest.fixture
def macros(monkeypatch: pytest.MonkeyPatch) -> FakeMacros:
    fake = FakeMacros()
    module = types.ModuleType("sheetloop.addin.macros")
    for name in ("plan", "allocate", "run", "check", "pull", "push"):
        setattr(module, name, getattr(fake, name))
    monkeypatch.setitem(sys.modules, "sheetloop.addin.macros", module)
    return fake


def calling(monkeypatch: pytest.MonkeyPatch, book: xw.Book) -> None:
    monkeypatch.setattr(xw.Book, "caller", classmethod(lambda cls: book))


def test_the_generated_module_compiles_and_names_its_book(tmp_path: Path):
    setup = make_excel_book(planning_book(tmp_path))
    source = setup.module.read_text(encoding="utf-8")
    assert source == module_source(setup.module_name, setup.control_sheet)
    compile(source, str(setup.module), "exec")
    assert f"import {setup.module_name}; {setup.module_name}.main()" in source


@pytest.mark.parametrize("action", ACTIONS)
def test_main_runs_the_action_chosen_on_the_control_sheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, macros: FakeMacros, action: str
):
    setup = make_excel_book(planning_book(tmp_path))
    book = remote_book(chosen(setup, action.upper(), "ERP", tmp_path))
    calling(monkeypatch, book)
    load_generated(setup).main()
    expected: dict[str, object] = {"connection": "ERP"} if action in ("Pull", "Push") else {}
    assert macros.calls == [(action.lower(), book, expected)]


def test_an_empty_connection_cell_means_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, macros: FakeMacros
):
    setup = make_excel_book(planning_book(tmp_path))
    book = remote_book(chosen(setup, "Pull", None, tmp_path))
    calling(monkeypatch, book)
    load_generated(setup).main()
    assert macros.calls == [("pull", book, {"connection": None})]


def test_an_unknown_action_is_refused_naming_the_cell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, macros: FakeMacros
):
    setup = make_excel_book(planning_book(tmp_path))
    calling(monkeypatch, remote_book(chosen(setup, "Dance", None, tmp_path)))
    with pytest.raises(UsageError, match=r"Control!B3 holds 'Dance'.*Plan, Allocate"):
        load_generated(setup).main()
    assert macros.calls == []


@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_has_a_function_for_buttons_of_ones_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, macros: FakeMacros, action: str
):
    setup = make_excel_book(planning_book(tmp_path))
    # the dropdown says something else: a button of one's own runs its own action
    other = "Check" if action != "Check" else "Plan"
    book = remote_book(chosen(setup, other, "CRM", tmp_path))
    calling(monkeypatch, book)
    getattr(load_generated(setup), action.lower())()
    expected: dict[str, object] = {"connection": "CRM"} if action in ("Pull", "Push") else {}
    assert macros.calls == [(action.lower(), book, expected)]


def test_the_run_button_reaches_sheetloops_macros(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    source = tmp_path / "plan.xlsx"
    init_book(source)
    setup = make_excel_book(source)
    book = remote_book(setup.book)  # the Control sheet says Plan
    calling(monkeypatch, book)
    load_generated(setup).main()
    tables = [a["args"][-1] for a in book.json()["actions"] if a["func"] == "addTable"]
    assert "PlannedOrders" in tables and "MRP" in tables


# --- the command line ------------------------------------------------------------------------


def test_the_excel_command_writes_both_files_and_says_what_next(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    source = planning_book(tmp_path)
    code = cli.main(["excel", str(source), "--interpreter", WINDOWS_PYTHON])
    out = capsys.readouterr().out
    assert code == 0
    assert "plan_2026_v2.xlsm and plan_2026_v2.py" in out
    assert f"Interpreter_Win = {WINDOWS_PYTHON}" in out
    assert "Unblock" in out and "xlwings runpython install" in out
    assert (tmp_path / "plan_2026_v2.xlsm").is_file() and (tmp_path / "plan_2026_v2.py").is_file()


def test_the_excel_command_exits_2_for_a_missing_book(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    code = cli.main(["excel", str(tmp_path / "nowhere.xlsx")])
    assert code == 2
    assert "nowhere.xlsx" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_excel_command_exits_2_for_a_book_with_its_own_vba(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    source = shutil.copy(corpus_file("macro01.xlsm"), tmp_path / "macro01.xlsm")
    assert cli.main(["excel", str(source)]) == 2
    assert "never replaces" in capsys.readouterr().err


def test_the_excel_command_is_in_the_help(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit):
        cli.main(["excel", "--help"])
    out = capsys.readouterr().out
    assert "--interpreter" in out and "--out" in out and "Control" in out
