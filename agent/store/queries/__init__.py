"""Per-table queries of the store, each returning typed rows (msgspec Structs), never positional tuples.

Reads take the :class:`~leadsync.agent.store.store.Store` (its reader connection); writes take the writer
connection of a transaction the caller holds (``async with store.transaction() as db``), so several of them
commit together.
"""
