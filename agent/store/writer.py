"""The store's writer connection: an aiosqlite connection that can run a whole transaction on its own thread
in one hand-off (:meth:`WriterConnection.run_transaction`).

Every aiosqlite call is a hand-off: the call is queued for the connection's thread, which runs it and wakes
the event loop through its self-pipe; under load each wake-up waits a turn of the loop, and the thread waits
for the GIL held by the loop's own work. A pulled page is some 20 statements, so most of its time was those
hand-offs (2026-12-07, 50,000 contacts: BEGIN and COMMIT alone took 3 s of 9.6). :meth:`run_transaction`
queues one function instead: it runs BEGIN IMMEDIATE, the caller's coroutine and COMMIT on the thread, each
statement the coroutine awaits running at once on that thread (aiosqlite's queries all go through
``Connection._execute``, which this class overrides for calls made from the thread itself while it runs such
a transaction; aiosqlite 0.22, the version the locks pin).

The coroutine may await only this connection (and plain coroutines that await it): anything else (a sleep,
a CRM call, another connection) would need the event loop, so it is refused with :class:`SuspendedWrite`
and the transaction rolled back.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

T = TypeVar("T")

_on_thread = threading.local()
"""``active`` is True on a writer's thread while it runs a :meth:`WriterConnection.run_transaction`."""


class SuspendedWrite(RuntimeError):
    """A transaction's coroutine awaited something other than its connection (see the module docstring)."""


class WriterConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls made from its own thread, inside :meth:`run_transaction`, run at
    once instead of being queued behind themselves. Made by :func:`connect_writer`."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if getattr(_on_thread, "active", False):
            return fn(*args, **kwargs)
        return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    async def run_transaction(self, work: Callable[[aiosqlite.Connection], Coroutine[Any, Any, T]]) -> T:
        """Run ``work(self)`` inside ``BEGIN IMMEDIATE`` ... ``COMMIT`` as one call on the connection's thread;
        returns what it returns. A transaction left open before (by a task cancelled mid-statement) is rolled
        back first. When ``work`` raises, or COMMIT fails (a full disk), the transaction is rolled back and
        the error raised here: nothing of it stays. Raises :class:`SuspendedWrite` (rolled back too) when
        ``work`` awaits anything but this connection.

        Cancelling the awaiting task does not stop the call: the transaction is committed or rolled back
        whole on the thread, as it would be had the task not been cancelled; the caller sees CancelledError.
        """
        result: T = await super()._execute(self._transaction_on_thread, work)  # type: ignore[no-untyped-call]
        return result

    def _transaction_on_thread(self, work: Callable[[aiosqlite.Connection], Coroutine[Any, Any, T]]) -> T:
        conn: sqlite3.Connection = self._conn
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.execute("BEGIN IMMEDIATE")
        _on_thread.active = True
        try:
            result = _drive(work(self))
            _on_thread.active = False
            conn.execute("COMMIT")
            return result
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            _on_thread.active = False


def _drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end without an event loop: it must not suspend (every await it makes completes at
    once)."""
    try:
        yielded = coro.send(None)
    except StopIteration as stop:
        result: T = stop.value
        return result
    coro.close()
    raise SuspendedWrite(f"a write transaction awaited {yielded!r}, not the store's writer: it was rolled back")


def connect_writer(path: Path) -> WriterConnection:
    """A :class:`WriterConnection` to the database at ``path`` in autocommit mode (``isolation_level=None``:
    transactions are the store's own BEGIN and COMMIT); await it to open it, as ``aiosqlite.connect``."""

    def connector() -> sqlite3.Connection:
        return sqlite3.connect(str(path), isolation_level=None)

    return WriterConnection(connector, iter_chunk_size=64)
