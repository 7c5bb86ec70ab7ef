"""HubSpot CRM: companies as ``Customers``, deals as forecast ``Demand``, allocation
results back to the deals (CRM objects API v3, private app access token)."""

from sheetloop.connectors.hubspot.connector import (
    BATCH_LIMIT,
    CUSTOMERS_STREAM,
    FORECAST_STREAM,
    PAGE_LIMIT,
    RESULTS_STREAM,
    HubSpotConnector,
    HubSpotSession,
    describe_error,
)
from sheetloop.connectors.hubspot.mapping import (
    DEAL_PREFIX,
    DEFAULT_URL,
    HubSpotOptions,
    company_properties,
    customer_row,
    forecast_row,
    hubspot_date,
    parse_tier_values,
    tier_from_hubspot,
    tier_to_hubspot,
)

__all__ = [
    "BATCH_LIMIT",
    "CUSTOMERS_STREAM",
    "DEAL_PREFIX",
    "DEFAULT_URL",
    "FORECAST_STREAM",
    "PAGE_LIMIT",
    "RESULTS_STREAM",
    "HubSpotConnector",
    "HubSpotOptions",
    "HubSpotSession",
    "company_properties",
    "customer_row",
    "describe_error",
    "forecast_row",
    "hubspot_date",
    "parse_tier_values",
    "tier_from_hubspot",
    "tier_to_hubspot",
]
