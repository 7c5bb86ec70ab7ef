"""The workbook side: the table contract, reading, validation and safe write-back.

A workbook is reached through a small interface (:mod:`~sheetloop.workbooks.interface`)
with two adapters: a file on disk (:class:`FileBook`: python-calamine to read, surgical
zip edits to write) and, in Excel, a live xlwings book (in ``sheetloop.addin``).
"""

from sheetloop.workbooks.file_book import FileBook, open_book
from sheetloop.workbooks.interface import RawTable, TableWrite, Validation, Workbook
from sheetloop.workbooks.problems import Problem
from sheetloop.workbooks.reading import LoadedTable, parse_table
from sheetloop.workbooks.schema import INPUT_TABLES, OUTPUT_TABLES, TABLES, Column, Kind, Table
from sheetloop.workbooks.settings import Settings
from sheetloop.workbooks.template import init_book
from sheetloop.workbooks.validation import LoadedBook, load_book

__all__ = [
    "INPUT_TABLES",
    "OUTPUT_TABLES",
    "TABLES",
    "Column",
    "FileBook",
    "Kind",
    "LoadedBook",
    "LoadedTable",
    "Problem",
    "RawTable",
    "Settings",
    "Table",
    "TableWrite",
    "Validation",
    "Workbook",
    "init_book",
    "load_book",
    "open_book",
    "parse_table",
]
