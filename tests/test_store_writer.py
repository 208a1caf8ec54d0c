"""``Store.write``: a whole transaction run on the writer's thread in one hand-off (``agent/store/writer.py``).

Committed whole or not at all: an error in the work, a work that awaits something other than the store, and
a cancelled caller each leave the store as a transaction would; the statements run on the writer's thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from leadsync.agent.store.queries import contacts, links
from leadsync.agent.store.queries.contacts import PulledContact
from leadsync.agent.store.queries.links import Link
from leadsync.agent.store.store import WAL_CHECKPOINT_PAGES, Store, row_chunks
from leadsync.agent.store.writer import SuspendedWrite


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "store.db")
    yield opened
    await opened.close()


async def _settings(store: Store) -> dict[str, object]:
    return await store.get_settings()


async def _put(db: aiosqlite.Connection, key: str, value: str) -> None:
    await db.execute("INSERT INTO settings(key, value) VALUES (?, ?)", (key, f'"{value}"'))


async def test_a_write_commits_its_statements_and_returns_what_the_work_returns(store: Store) -> None:
    threads: list[int] = []

    async def work(db: aiosqlite.Connection) -> int:
        threads.append(threading.get_ident())
        await _put(db, "a", "1")
        async with db.execute("SELECT count(*) FROM settings WHERE key = 'a'") as cur:
            row = await cur.fetchone()
        await db.executemany("INSERT INTO settings(key, value) VALUES (?, '0')", [("b",), ("c",)])
        assert row is not None
        return int(row[0])

    assert await store.write(work) == 1
    assert threads and threads[0] != threading.get_ident()  # the work ran on the writer's thread
    assert await _settings(store) == {"a": "1", "b": 0, "c": 0}
    assert not store.writer.in_transaction


async def test_an_error_in_the_work_rolls_all_of_it_back(store: Store) -> None:
    async def work(db: aiosqlite.Connection) -> None:
        await _put(db, "a", "1")
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        await store.write(work)
    assert await _settings(store) == {}
    assert not store.writer.in_transaction
    async with store.transaction() as db:  # the store writes again
        await _put(db, "b", "2")
    assert await _settings(store) == {"b": "2"}


async def test_a_failing_statement_rolls_back_the_earlier_ones(store: Store) -> None:
    async def work(db: aiosqlite.Connection) -> None:
        await _put(db, "a", "1")
        await _put(db, "a", "again")  # the key is the primary key

    with pytest.raises(aiosqlite.IntegrityError):
        await store.write(work)
    assert await _settings(store) == {}


@pytest.mark.parametrize(("delay", "error"), [(0, SuspendedWrite), (0.01, RuntimeError)])
async def test_a_work_that_awaits_the_event_loop_is_refused_and_rolled_back(
        store: Store, delay: float, error: type[Exception]) -> None:
    async def work(db: aiosqlite.Connection) -> None:
        await _put(db, "a", "1")
        await asyncio.sleep(delay)  # 0: a bare yield to the loop; else the thread has no running loop at all
        await _put(db, "b", "2")

    with pytest.raises(error):
        await store.write(work)
    assert await _settings(store) == {}
    assert not store.writer.in_transaction


async def test_a_cancelled_caller_leaves_the_transaction_whole(store: Store) -> None:
    started = threading.Event()
    release = threading.Event()

    async def work(db: aiosqlite.Connection) -> None:
        await _put(db, "a", "1")
        started.set()
        release.wait(5)  # the caller is cancelled while the thread is here
        await _put(db, "b", "2")

    task = asyncio.create_task(store.write(work))
    assert await asyncio.to_thread(started.wait, 5)
    task.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with store.transaction() as db:  # waits for the thread; nothing is left open
        await _put(db, "c", "3")
    assert await _settings(store) == {"a": "1", "b": "2", "c": "3"}


async def test_a_stale_open_transaction_is_rolled_back_first(store: Store) -> None:
    await store.writer.execute("BEGIN IMMEDIATE")  # as a task cancelled mid-statement leaves it
    await _put(store.writer, "stale", "x")
    await store.write(lambda db: _put(db, "a", "1"))
    assert await _settings(store) == {"a": "1"}


async def test_a_dry_run_view_writes_through_savepoints_and_keeps_nothing(store: Store) -> None:
    async with store.dry_run() as view:
        await view.write(lambda db: _put(db, "a", "1"))
        async with view.reader.execute("SELECT value FROM settings WHERE key = 'a'") as cur:
            assert await cur.fetchone() is not None
    assert await _settings(store) == {}


def test_row_chunks_are_power_of_two_slices_in_order_covering_every_item() -> None:
    for count in (0, 1, 7, 256, 257, 1000):
        items = list(range(count))
        parts = list(row_chunks(items, 256))
        assert [x for part in parts for x in part] == items
        assert all(len(part) & (len(part) - 1) == 0 and len(part) <= 256 for part in parts)
    assert len({len(p) for count in range(1, 1001) for p in row_chunks(list(range(count)), 256)}) == 9


class Recording:
    """A connection that records the text of every statement run through it."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db
        self.texts: set[str] = set()

    def execute(self, sql: str, *args: Any) -> Any:
        self.texts.add(sql)
        return self.db.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        self.texts.add(sql)
        return self.db.executemany(sql, *args)


async def test_a_pull_page_has_a_few_statement_shapes_whatever_its_size(store: Store) -> None:
    # SQLite compiles every distinct statement text and keeps it in the connection's statement cache (128):
    # a text per list length (IN (?, ?, ...), VALUES (...), (...)) held 20 MB during a large pull
    made, seen = 0, set()
    for size in range(1, 301, 7):
        new = [PulledContact(made + k + 1, {"email": f"c{made + k}@example.org"}, f"c{made + k}@example.org", None,
                             {}, 1, 1) for k in range(size)]
        made += size

        async def page(db: aiosqlite.Connection, new: list[PulledContact] = new) -> None:
            rec: Any = Recording(db)
            await contacts.insert_pulled_contacts(rec, new)
            await links.upsert_pulled_links(rec, [Link(c.id, "hubspot", "contact", str(c.id), 1, 1) for c in new])
            assert len(await contacts.linked_contacts(rec, "hubspot", [str(c.id) for c in new])) == len(new)
            assert len(await contacts.contacts_with_emails(rec, [str(c.email_norm) for c in new])) == len(new)
            seen.update(rec.texts)

        await store.write(page)
    assert made > 6_000
    assert len(seen) <= 8 + 8 + 2, sorted(t[:60] for t in seen)  # 8 slice sizes of contacts, 8 of links, 2 selects


async def test_the_writer_checkpoints_the_wal_only_past_its_page_threshold(store: Store) -> None:
    """``WAL_CHECKPOINT_PAGES`` (not SQLite's 1,000) decides when a commit checkpoints: ~3,000 pages written
    in 30 transactions all stay in the WAL file, which a checkpoint at 1,000 pages would have restarted."""
    async with store.writer.execute("PRAGMA wal_autocheckpoint") as cur:
        assert (await cur.fetchone())[0] == WAL_CHECKPOINT_PAGES  # type: ignore[index]
    filler = "x" * 4000

    async def fill(db: aiosqlite.Connection, batch: int) -> None:
        await db.executemany("INSERT INTO settings(key, value) VALUES (?, ?)",
                             [(f"fill-{batch}-{i}", f'"{filler}"') for i in range(100)])

    for batch in range(30):
        await store.write(lambda db, b=batch: fill(db, b))
    wal = store.path.with_name(store.path.name + "-wal")
    assert wal.stat().st_size > 2_500 * 4096
