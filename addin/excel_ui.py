"""Excel's user interface while a command runs in it: a status-bar message, no repainting.

``with excel_ui(book) as ui: ...; ui.progress("planning...")`` turns screen updating off
and shows progress in the status bar; both are restored however the block ends. Where the
engine has no such settings (xlwings' remote engine, a book without an app) it does
nothing, silently: a setting is changed only if its current value could be read, so
there is always something to restore.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import xlwings as xw

log = logging.getLogger(__name__)

_UNREAD = object()


class ExcelUi:
    """The status bar and screen updating of one Excel application."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._status: Any = _UNREAD
        self._screen: Any = _UNREAD

    def start(self) -> None:
        """Remember both settings, then turn screen updating off."""
        self._status = self._get("status_bar")
        self._screen = self._get("screen_updating")
        if self._screen is not _UNREAD:
            self._set("screen_updating", False)

    def progress(self, text: str) -> None:
        """Show ``text`` in Excel's status bar (where the status bar could be read)."""
        if self._status is not _UNREAD:
            self._set("status_bar", text)

    def restore(self) -> None:
        """Put back what ``start`` found; each setting on its own, so one failing to
        restore does not keep the other from it."""
        if self._screen is not _UNREAD:
            self._set("screen_updating", self._screen)
        if self._status is not _UNREAD:
            # False hands the status bar back to Excel.
            self._set("status_bar", self._status if self._status else False)

    def _get(self, name: str) -> Any:
        try:
            return getattr(self._app, name)
        except Exception:  # the engine lacks it (NotImplementedError) or Excel is busy
            return _UNREAD

    def _set(self, name: str, value: object) -> None:
        try:
            setattr(self._app, name, value)
        except Exception as exc:  # never let the UI cost the user the command
            log.debug("Excel's %s could not be set: %s", name, exc)


def _app_of(book: Any) -> Any:
    try:
        return book.app
    except Exception:  # a book of an engine without applications
        return None


@contextmanager
def excel_ui(book: xw.Book) -> Iterator[ExcelUi]:
    """Screen updating off and status-bar progress for the block; always restored."""
    ui = ExcelUi(_app_of(book))
    ui.start()
    try:
        yield ui
    finally:
        ui.restore()
