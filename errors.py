"""The one error hierarchy of sheetloop.

Every error a user can cause or meet carries the exit status of the command-line
contract and a message that says what to do. Anything else that escapes is a bug
(exit 70).
"""

from __future__ import annotations

from collections.abc import Sequence


class SheetloopError(Exception):
    """Base of every error sheetloop raises on purpose."""

    exit_code = 70

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(SheetloopError):
    """Wrong usage of a command: a bad option, a missing file (exit 2)."""

    exit_code = 2


class BookUnreadableError(SheetloopError):
    """The file is not a workbook sheetloop can open, or it was refused as hostile (exit 2)."""

    exit_code = 2


class BookBusyError(SheetloopError):
    """The book is open in Excel or another sheetloop process writes it (exit 2)."""

    exit_code = 2


class InvalidDataError(SheetloopError):
    """The workbook's data is invalid (exit 1). ``problems`` lists every one found."""

    exit_code = 1

    def __init__(self, message: str, problems: Sequence[object] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class ExternalSystemError(SheetloopError):
    """An external system (ERP, CRM) failed (exit 3)."""

    exit_code = 3


class SolverError(SheetloopError):
    """A solver did not finish: time limit, failure or missing solver (exit 4)."""

    exit_code = 4


class ConflictError(SheetloopError):
    """A push left conflicts unsent (exit 5)."""

    exit_code = 5
