"""Which connector serves a connection, by its ``System``."""

from __future__ import annotations

from pathlib import Path

from sheetloop.connectors.connections import SYSTEMS, Connection
from sheetloop.connectors.sync.pull import Source
from sheetloop.connectors.sync.push import Sink
from sheetloop.errors import UsageError


def open_source(connection: Connection, book_dir: Path) -> Source:
    """The connector that reads ``connection``'s system (a usage error for a system this
    release does not sync yet, or an unknown one)."""
    system = connection.system
    if system == "rest":
        from sheetloop.connectors.rest.connector import RestConnector

        return RestConnector.from_connection(connection, book_dir)
    if system == "tryton":
        from sheetloop.connectors.tryton.connector import TrytonConnector

        return TrytonConnector.from_connection(connection, book_dir)
    if system == "hubspot":
        from sheetloop.connectors.hubspot.connector import HubSpotConnector

        return HubSpotConnector.from_connection(connection, book_dir)
    if system in SYSTEMS:
        raise UsageError(
            f"Connections ({connection.name}): syncing with {system} is not available in "
            "this release yet; rest, tryton and hubspot connections are"
        )
    raise UsageError(
        f"Connections ({connection.name}): unknown System {system!r} (one of {', '.join(SYSTEMS)})"
    )


def open_sink(connection: Connection, book_dir: Path) -> Sink:
    """The connector that writes to ``connection``'s system."""
    system = connection.system
    if system == "tryton":
        from sheetloop.connectors.tryton.connector import TrytonConnector

        return TrytonConnector.from_connection(connection, book_dir)
    if system == "hubspot":
        from sheetloop.connectors.hubspot.connector import HubSpotConnector

        return HubSpotConnector.from_connection(connection, book_dir)
    if system in SYSTEMS:
        raise UsageError(
            f"Connections ({connection.name}): pushing to {system} is not available in this "
            "release yet"
        )
    raise UsageError(
        f"Connections ({connection.name}): unknown System {system!r} (one of {', '.join(SYSTEMS)})"
    )
