"""The store's reader connection: every query runs to its end in one hand-off to the connection's thread.

SQLite gives a connection one read snapshot while any of its statements is unfinished. An aiosqlite cursor
read in steps (``execute``, then ``fetchone``/``fetchall``, then ``close``: three hand-offs) keeps its
statement unfinished across awaits, and any other task's query on the same connection in between reads that
older snapshot: a contact just committed on the writer (``contacts.create`` reading it back) was then not
found. :class:`ReaderConnection` steps each statement to its end and resets it in the same hand-off, and
hands back an ``aiosqlite.Cursor`` over the rows already read, so no statement stays open between awaits.
Queries on the reader are small pages (keyset paging, chunks of ids), so holding a result whole costs little.
aiosqlite 0.22's ``Connection._execute`` (as in :mod:`.writer`) runs the step on the thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, cast

import aiosqlite
from aiosqlite.context import contextmanager


class _Fetched:
    """A finished query's rows behind the sqlite3 cursor methods ``aiosqlite.Cursor`` calls."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._rows: Iterator[Any] = iter(cursor.fetchall())
        self.description = cursor.description
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid
        self.arraysize = cursor.arraysize
        self.row_factory = cursor.row_factory
        cursor.close()

    def fetchone(self) -> Any:
        return next(self._rows, None)

    def fetchmany(self, size: int | None = None) -> list[Any]:
        return list(islice(self._rows, size or self.arraysize))

    def fetchall(self) -> list[Any]:
        return list(self._rows)

    def close(self) -> None:
        self._rows = iter(())


class ReaderConnection(aiosqlite.Connection):
    """An aiosqlite connection whose ``execute`` runs the statement to its end at once (module doc)."""

    @contextmanager
    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> aiosqlite.Cursor:
        fetched = await self._execute(_run, self._conn, sql, list(parameters or ()))  # type: ignore[no-untyped-call]
        return aiosqlite.Cursor(self, cast(sqlite3.Cursor, fetched))


def _run(conn: sqlite3.Connection, sql: str, parameters: list[Any]) -> _Fetched:
    return _Fetched(conn.execute(sql, parameters))


def connect_reader(path: Path) -> ReaderConnection:
    """A :class:`ReaderConnection` to the database at ``path`` in autocommit mode; await it to open it."""

    def connector() -> sqlite3.Connection:
        return sqlite3.connect(str(path), isolation_level=None)

    return ReaderConnection(connector, iter_chunk_size=64)
