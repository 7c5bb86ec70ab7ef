"""The README's table reference, generated from the schema (``python -m
sheetloop.workbooks.docs README.md`` rewrites it in place; a test keeps it current)."""

from __future__ import annotations

import sys
from pathlib import Path

from sheetloop.workbooks.schema import HELP, SETTING_SPECS, SETTINGS, TABLES, Role

START = "<!-- tables:start (generated from workbooks/schema.py) -->"
END = "<!-- tables:end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def tables_markdown() -> str:
    """Markdown describing every table and column of the contract."""
    out: list[str] = []
    for spec in TABLES.values():
        if spec is HELP:
            continue
        owner = {
            Role.INPUT: "input, yours",
            Role.OUTPUT: "output, sheetloop's",
            Role.LOG: "log, appended by sheetloop",
        }[spec.role]
        key = f"; key {' + '.join(spec.key)}" if spec.key else ""
        out += [
            f"#### {spec.name} ({owner}{key})",
            "",
            spec.help,
            "",
            "| column | type | default | meaning |",
            "|---|---|---|---|",
        ]
        for c in spec.columns:
            out.append(
                f"| {_cell(c.name)} | {_cell(c.describe_type())} | "
                f"{_cell(c.describe_default())} | {_cell(c.help)} |"
            )
        if spec.open_columns:
            out.append(
                "| *one per bucket* | number | | headed by the bucket's start date "
                "(2026-11-30) or period number |"
            )
        if spec is SETTINGS:
            out += ["", "| setting | type | default | meaning |", "|---|---|---|---|"]
            for s in SETTING_SPECS:
                default = (
                    ("yes" if s.default else "no")
                    if isinstance(s.default, bool)
                    else ("" if s.default is None else str(s.default))
                )
                kind = " \\| ".join(s.choices) if s.choices else s.kind.value
                out.append(f"| {s.name} | {kind} | {default} | {_cell(s.help)} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def update_readme(path: Path) -> bool:
    """Rewrite the generated section of ``path``; True if it changed."""
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{tables_markdown()}{END}{tail}"
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":  # pragma: no cover
    changed = update_readme(Path(sys.argv[1] if len(sys.argv) > 1 else "README.md"))
    print("updated" if changed else "already current")
