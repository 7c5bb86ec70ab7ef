"""Sync with external systems: the HTTP layer (:mod:`.http`), the sync engine
(:mod:`.sync`: merging pulled records into the user's tables, finding what to push, state
and log in the book), the ``Connections`` table (:mod:`.connections`) and one connector per
system (:mod:`.tryton`, :mod:`.hubspot`, :mod:`.rest`), chosen by :mod:`.registry`.

Nothing here imports xlwings: a connector works on the workbook interface, so it syncs a
file on disk and a live Excel book alike.
"""
