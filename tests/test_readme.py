"""The README says how to set up, and its table reference is current."""

from __future__ import annotations

import re
from pathlib import Path

from sheetloop.workbooks.docs import END, START, tables_markdown
from sheetloop.workbooks.schema import TABLES

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_table_reference_is_generated_from_the_current_schema():
    generated = README.split(START, 1)[1].split(END, 1)[0].strip()
    assert generated == tables_markdown().strip(), (
        "README is stale: run python -m sheetloop.workbooks.docs README.md"
    )
    for name in TABLES:
        if name != "SheetloopHelp":
            assert f"#### {name} " in generated


def test_the_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one():
    setup = README.split("## Set-up", 1)[1].split("##", 1)[0]
    commands = re.findall(
        r"^\./scripts/\S+", setup.split("```bash", 1)[1].split("```")[0], re.MULTILINE
    )
    assert commands == ["./scripts/demo.sh", "./scripts/test.sh"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./scripts/test.sh" in ci
    for script in commands:
        assert (ROOT / script).stat().st_mode & 0o111, f"{script} is not executable"


def test_every_command_has_a_readme_section():
    from sheetloop.addin.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for command in sub.choices:  # type: ignore[union-attr]
        assert f"`{command}" in README, f"README does not mention {command}"
