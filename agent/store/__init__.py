"""The local contact store: SQLite in WAL mode through aiosqlite, under versioned migrations."""

from leadsync.agent.store.store import Store

__all__ = ["Store"]
