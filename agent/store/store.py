"""The store: one writer connection (transactions serialised by a lock) and one reader connection.

WAL mode lets the reader (RPC queries, the TUI) see the last committed state while a sync applies a
page, so browsing stays responsive during a sync and never sees a half-applied page.

Both connections know the SQL function ``leadsync_now_ms()``: the store's clock (:attr:`Store.clock`, epoch
ms UTC), which queries use for "now" (an automatic retry that is due) so that a test can move time; and
``leadsync_fold(text)``: ``text`` in lower case (Python's ``str.lower``, as the trigram index folds case),
what a search reads a document not indexed yet with (:mod:`.search_index`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import msgspec

from leadsync.agent.store.disk import secure_store_files
from leadsync.agent.store.migrations import migrate
from leadsync.agent.store.reader import connect_reader
from leadsync.agent.store.search_index import pending_from as search_pending_from
from leadsync.agent.store.search_index import repair as repair_search_index
from leadsync.agent.store.writer import WriterConnection, connect_writer
from leadsync.common.instants import NowMs, now_ms

T = TypeVar("T")

_json_encode = msgspec.json.encode
_json_decode = msgspec.json.decode


def dumps(value: Any) -> str:
    return _json_encode(value).decode()


def loads(text: str | bytes | None) -> Any:
    return None if text is None else _json_decode(text)


class Store:
    """Open with :meth:`open`; close with :meth:`close`.

    ``writer`` is used only inside :meth:`transaction` and :meth:`write`; ``reader`` only for queries.
    ``clock`` is what SQL reads as ``leadsync_now_ms()`` (:func:`~leadsync.common.instants.now_ms` unless a test
    sets another).
    """

    def __init__(self, path: Path, writer: WriterConnection, reader: aiosqlite.Connection) -> None:
        self.path = path
        self.writer = writer
        self.reader = reader
        self._write_lock = asyncio.Lock()
        self.clock: NowMs = now_ms
        self.search_build: asyncio.Task[int] | None = None
        """The latest search index build (:meth:`open`'s for a backlog a crash left, or one started after a pull;
        each waits for the one before it); None: none was started."""
        self.search_builds: set[asyncio.Task[int]] = set()
        """Every build task not finished yet: :meth:`close` cancels and awaits them all."""

    @classmethod
    async def open(cls, path: Path) -> Store:
        """Open (creating if needed) the store at ``path`` and bring its schema up to date. The directory is
        made 0700, the database (and so its WAL and SHM) 0600."""
        secure_store_files(path)
        writer = connect_writer(path)
        await writer
        await _configure(writer)
        await writer.execute("PRAGMA journal_mode=WAL")
        await writer.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        await migrate(writer)
        reader = connect_reader(path)
        await reader
        await _configure(reader)
        await reader.execute("PRAGMA query_only=ON")
        store = cls(path, writer, reader)
        for db in (writer, reader):
            await db.create_function("leadsync_now_ms", 0, lambda: store.clock())
            await db.create_function("leadsync_fold", 1, _fold, deterministic=True)
        if await search_pending_from(reader) is not None:  # a pull was cut short: its contacts are indexed now
            store.track_search_build(asyncio.create_task(repair_search_index(store), name="search-index-build"))
        return store

    def track_search_build(self, task: asyncio.Task[int]) -> asyncio.Task[int]:
        """Make ``task`` (a search index build) the latest :attr:`search_build` and one :meth:`close` waits for."""
        self.search_build = task
        self.search_builds.add(task)
        task.add_done_callback(self.search_builds.discard)
        return task

    async def close(self) -> None:
        builds = list(self.search_builds)
        for task in builds:
            task.cancel()  # their committed chunks stay; the next open goes on
        for task in builds:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        await self.reader.close()
        await self.writer.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """An immediate write transaction on the writer; committed on success, rolled back on error (a
        COMMIT that fails, as on a full disk, is rolled back too: nothing of it stays)."""
        async with self._write_lock:
            await self._rollback_stale()
            try:
                await self.writer.execute("BEGIN IMMEDIATE")
                yield self.writer
                await self.writer.execute("COMMIT")
            except BaseException:
                await asyncio.shield(self._rollback_stale())
                raise

    async def write(self, work: Callable[[aiosqlite.Connection], Coroutine[Any, Any, T]]) -> T:
        """``work(writer)`` in an immediate write transaction, like :meth:`transaction`, run whole on the
        writer's thread in one hand-off (:meth:`~leadsync.agent.store.writer.WriterConnection.run_transaction`:
        ``work`` may await only the connection it is given; SuspendedWrite otherwise). Returns what ``work``
        returns; committed on success, rolled back on error (a failed COMMIT too)."""
        async with self._write_lock:
            return await self.writer.run_transaction(work)

    async def _rollback_stale(self) -> None:
        """Roll back a transaction left open by a task cancelled mid-statement (its BEGIN or a write still
        ran in aiosqlite's thread). A no-op statement first lets any such statement finish."""
        await self.writer.execute("SELECT 1")
        if self.writer.in_transaction:
            await self.writer.execute("ROLLBACK")

    @asynccontextmanager
    async def dry_run(self) -> AsyncIterator[Store]:
        """A view of the store in which every write is rolled back at the end.

        Holds the write lock throughout (other writers wait), reads through the writer so they see the
        view's own writes, and turns each :meth:`transaction` into a savepoint.
        """
        async with self._write_lock:
            await self.writer.execute("BEGIN IMMEDIATE")
            try:
                yield _DryRunStore(self.path, self.writer)
            finally:
                await self.writer.execute("ROLLBACK")

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        """Every row of ``sql`` on the reader, in one hand-off to its thread (execute, fetch and close
        together: under load each hand-off waits a turn of the event loop)."""
        return list(await self.reader.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        async with self.reader.execute(sql, params) as cur:
            return await cur.fetchone()

    async def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def ping(self) -> None:
        """Run a no-op statement on the reader: returns once the store answers (a watchdog's check)."""
        await self.fetchone("SELECT 1")

    # settings ---------------------------------------------------------------------------------

    async def get_settings(self) -> dict[str, Any]:
        rows = await self.fetchall("SELECT key, value FROM settings")
        return {row[0]: loads(row[1]) for row in rows}

    async def put_settings(self, values: dict[str, Any]) -> None:
        async with self.transaction() as db:
            await db.executemany(
                "INSERT INTO settings(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [(k, dumps(v)) for k, v in values.items()],
            )


class _DryRunStore(Store):
    def __init__(self, path: Path, writer: WriterConnection) -> None:
        super().__init__(path, writer, writer)
        self._savepoints = 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        self._savepoints += 1
        name = f"dry{self._savepoints}"
        await self.writer.execute(f"SAVEPOINT {name}")
        try:
            yield self.writer
        except BaseException:
            await self.writer.execute(f"ROLLBACK TO {name}")
            raise
        await self.writer.execute(f"RELEASE {name}")

    async def write(self, work: Callable[[aiosqlite.Connection], Coroutine[Any, Any, T]]) -> T:
        async with self.transaction() as db:  # a savepoint of the view's transaction, through the loop
            return await work(db)


async def _configure(db: aiosqlite.Connection) -> None:
    db.row_factory = aiosqlite.Row
    await db.execute("PRAGMA foreign_keys=ON")
    await db.execute("PRAGMA busy_timeout=10000")
    await db.execute("PRAGMA synchronous=NORMAL")


WAL_CHECKPOINT_PAGES = 10_000
"""The writer checkpoints the WAL into the database once it holds this many pages (SQLite's default is
1,000; 10,000 pages of 4 KiB: a WAL file of up to ~40 MB while the agent runs, removed when it stops). With
``synchronous=NORMAL`` every checkpoint syncs the WAL and the database file to disk, and a pull rewrites the
same random pages of the email index in transaction after transaction, which one checkpoint copies once: a
100,000-contact pull spent 1.8-2.1 s of wall time in COMMIT (1.1-1.2 CPU-s) with 1,000 and 1.5-1.6 s
(0.87-0.93 CPU-s) with 10,000 (interleaved runs, 2-core machine, 2026-12-07); 4,000 was in between, and a
``journal_size_limit`` of 16 MB gave back half the gain. SQLite "Write-Ahead Logging", section 7
"Automatic Checkpoint"; "Pragma statements": wal_autocheckpoint."""


IN_JSON = "(SELECT value FROM json_each(?))"
"""The right side of ``x IN ...`` for a list given as one JSON-array parameter (:func:`json_list`): one statement
whatever the list's length. A statement per length (``IN (?, ?, ...)``) filled SQLite's statement cache (128
statements per connection): 100 lists of ~950 values held 20 MB (2026-12-07)."""


def json_list(values: Iterable[Any]) -> str:
    """``values`` (str, int, None) as the JSON array :data:`IN_JSON` reads."""
    return dumps(list(values))


def row_chunks(items: Sequence[Any], most: int) -> Iterable[Sequence[Any]]:
    """``items`` in consecutive slices whose lengths are powers of two of at most ``most`` (a power of two):
    a multi-row statement of one slice then has one of log2(most) + 1 shapes, so SQLite's statement cache
    holds a few of them whatever the row counts (see :data:`IN_JSON`)."""
    if most & (most - 1):
        raise ValueError(f"{most} is not a power of two")
    start = 0
    while start < len(items):
        left = len(items) - start
        size = most if left >= most else 1 << (left.bit_length() - 1)
        yield items[start : start + size]
        start += size


def _fold(text: str | None) -> str | None:
    return None if text is None else text.lower()


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
