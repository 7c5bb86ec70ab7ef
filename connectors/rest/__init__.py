"""Generic REST: any JSON API mapped to workbook tables by a declarative config."""

from sheetloop.connectors.rest.config import RestConfig, RestTable, load_config
from sheetloop.connectors.rest.connector import RestConnector, dig, latest_cursor

__all__ = ["RestConfig", "RestConnector", "RestTable", "dig", "latest_cursor", "load_config"]
