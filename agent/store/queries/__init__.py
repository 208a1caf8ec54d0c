"""The store's SQL, one module per table (``contacts``, ``crm_links`` in :mod:`.links`, ``base_values``,
``cursors``, ...): each holds the statements on its table and the typed rows (msgspec Structs) they read
or write, so callers never index a positional tuple.

Every function takes the connection to run on: the writer inside ``Store.transaction`` (or a dry run's
savepoint) for writes, ``Store.reader`` for reads outside one. Batches stay batches: a function given a
list of rows runs one ``executemany``.
"""
