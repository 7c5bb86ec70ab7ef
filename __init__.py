"""sheetloop: an Excel workbook as the front end of a company's planning loop.

Sub-packages: ``workbooks`` (the table contract, reading, validation, safe write-back),
``solver`` (MRP and allocation engines, pure pandas in and out), ``connectors`` (sync with
ERP and CRM systems) and ``addin`` (the command line and the Excel add-in).
"""

from sheetloop.errors import SheetloopError

__version__ = "0.1.0"
#: Version of the workbook contract this release writes into books it saves.
CONTRACT_VERSION = "1.0"

__all__ = ["CONTRACT_VERSION", "SheetloopError", "__version__"]
