"""Conditional formatting of the tables sheetloop writes (``<conditionalFormatting>``).

Every rule is written as an ``expression`` rule: one formula, relative to the top-left
cell of the range it covers, tests the cell, the row's filter columns and the comparison,
so a rule keeps working when a planner edits a cell in Excel. The look of a rule is a
differential format appended to ``xl/styles.xml`` (see :class:`~.styles_xml.Styles`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from sheetloop.workbooks.interface import ConditionalFormat, Highlight
from sheetloop.workbooks.problems import column_letter

_OPERATORS = ("<", "<=", ">", ">=", "=", "<>")


def render_conditional_formatting(
    table: str,
    formats: Sequence[ConditionalFormat],
    columns: Sequence[str],
    top: int,
    rows: int,
    dxf_index: Callable[[Highlight], int],
) -> str:
    """The ``<conditionalFormatting>`` elements for a table whose header is at row ``top``
    with ``rows`` data rows below it ('' when there is nothing to format).

    A rule naming a column the table lacks is a programming error: ValueError, naming the
    table and the column.
    """
    positions = {str(c): i for i, c in enumerate(columns)}
    checked = [check_rule(table, f, positions) for f in formats]
    if not rows:
        return ""
    first, last = top + 1, top + rows
    out = []
    priority = 0
    for rule in checked:
        dxf = dxf_index(rule.highlight)
        for left, right in column_blocks(sorted(positions[c] for c in rule.columns)):
            priority += 1
            cell = f"{column_letter(left)}{first}"
            formula = rule_formula(rule, cell, first, positions)
            sqref = f"{cell}:{column_letter(right)}{last}"
            out.append(
                f'<conditionalFormatting sqref="{sqref}"><cfRule type="expression" '
                f'dxfId="{dxf}" priority="{priority}"><formula>{_xml(formula)}</formula>'
                "</cfRule></conditionalFormatting>"
            )
    return "".join(out)


def check_rule(table: str, rule: ConditionalFormat, positions: dict[str, int]) -> ConditionalFormat:
    named = [*rule.columns, *rule.where, *([rule.against] if rule.against else [])]
    missing = [c for c in named if c not in positions]
    if missing:
        raise ValueError(
            f"a conditional format of the table {table} names the column(s) {missing}, "
            f"which the table does not have (it has {list(positions)})"
        )
    if rule.op is not None:
        if rule.op not in _OPERATORS:
            raise ValueError(f"{table}: {rule.op!r} is not one of {_OPERATORS}")
        if (rule.value is None) == (rule.against is None):
            raise ValueError(
                f"{table}: a conditional format with op {rule.op!r} needs exactly one of "
                "value (a number) or against (a column)"
            )
        if rule.value is not None and not math.isfinite(rule.value):
            raise ValueError(f"{table}: a conditional format's value must be a finite number")
    return rule


def column_blocks(indexes: list[int]) -> list[tuple[int, int]]:
    """Runs of adjacent column indexes, as (first, last) pairs."""
    blocks: list[tuple[int, int]] = []
    for i in dict.fromkeys(indexes):
        if blocks and blocks[-1][1] == i - 1:
            blocks[-1] = (blocks[-1][0], i)
        else:
            blocks.append((i, i))
    return blocks


def rule_formula(rule: ConditionalFormat, cell: str, row: int, positions: dict[str, int]) -> str:
    # $-anchored columns with a relative row: every cell of the range tests its own row.
    tests = [f"${column_letter(positions[c])}{row}={_literal(v)}" for c, v in rule.where.items()]
    if rule.op is not None:
        other = (
            f"${column_letter(positions[rule.against])}{row}"
            if rule.against is not None
            else _number(rule.value)
        )
        tests = [f"ISNUMBER({cell})", *tests, f"{cell}{rule.op}{other}"]
    if not tests:
        return "TRUE"
    return tests[0] if len(tests) == 1 else f"AND({','.join(tests)})"


def _literal(value: str | float) -> str:
    if isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    return _number(value)


def _number(value: float | None) -> str:
    assert value is not None
    as_float = float(value)
    return str(int(as_float)) if as_float.is_integer() else repr(as_float)


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
