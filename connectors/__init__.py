"""Sync with external systems (ERP, CRM): not in this release yet."""
