"""Sync with the Tryton ERP: the connector behind ``pull``/``push`` of a ``tryton``
connection, a JSON-RPC client and a local server for tests and demos."""

from sheetloop.connectors.tryton.connector import TrytonConnector
from sheetloop.connectors.tryton.local_server import (
    DEMO_COMPANY_NAME,
    DEMO_CURRENCY_CODE,
    LOCAL_ADMIN_LOGIN,
    LOCAL_ADMIN_PASSWORD,
    TRYTON_MODULES,
    LocalTryton,
    TrytonNotInstalledError,
    golden_database,
    golden_database_path,
    require_tryton,
)
from sheetloop.connectors.tryton.rpc import (
    Domain,
    Order,
    TrytonClient,
    TrytonError,
    TrytonFailure,
    TrytonSessionAuth,
    decode_tryton_json,
    encode_tryton_json,
)
from sheetloop.connectors.tryton.seed import SeedSummary, seed_company

__all__ = [
    "DEMO_COMPANY_NAME",
    "DEMO_CURRENCY_CODE",
    "LOCAL_ADMIN_LOGIN",
    "LOCAL_ADMIN_PASSWORD",
    "TRYTON_MODULES",
    "Domain",
    "LocalTryton",
    "Order",
    "SeedSummary",
    "TrytonClient",
    "TrytonConnector",
    "TrytonError",
    "TrytonFailure",
    "TrytonNotInstalledError",
    "TrytonSessionAuth",
    "decode_tryton_json",
    "encode_tryton_json",
    "golden_database",
    "golden_database_path",
    "require_tryton",
    "seed_company",
]
