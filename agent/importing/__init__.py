"""The agent side of ``contacts.import``: rows matched, cleaned and written.

The client side (reading the file, the column plan, date orders, sending chunks, the answer's shape)
is :mod:`leadsync.common.importfile`, shared by the CLI and the TUI. Here the agent matches owners
(:mod:`.owners`), cleans values (:mod:`.values`) and writes (:mod:`.apply`), under the same column
plan (:func:`leadsync.common.importfile.columns.plan_columns`) the client made.
"""
