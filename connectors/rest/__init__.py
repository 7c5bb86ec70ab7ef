"""Generic REST: any JSON API mapped to workbook tables by a declarative config."""

from sheetloop.connectors.rest.config import RestConfig, RestTable, load_config
from sheetloop.connectors.rest.connector import RestConnector, dig

__all__ = ["RestConfig", "RestConnector", "RestTable", "dig", "load_config"]
