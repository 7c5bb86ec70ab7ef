"""The faces of sheetloop: the command line (``cli``) and, in Excel, the add-in.

``commands`` composes the workbook, solver and connector packages into what each command
does; ``planning`` turns a workbook's tables into the MRP engine's inputs and its results
back into output tables.
"""
