"""The reader connection never holds a read snapshot open between awaits (agent/store/reader.py): a query
read in steps while a write commits does not hide that write from the next query on the same connection."""

from __future__ import annotations

from pathlib import Path

from leadsync.agent.store.store import Store


async def test_a_write_committed_while_a_reader_cursor_is_open_is_seen_by_the_next_read(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    try:
        async with store.transaction() as db:
            await db.execute("INSERT INTO settings(key, value) VALUES ('a', '1'), ('b', '2')")
        async with store.reader.execute("SELECT key FROM settings ORDER BY key") as cursor:
            assert (await cursor.fetchone())[0] == "a"  # type: ignore[index]
            # another task commits on the writer while this cursor is between its reads
            async with store.transaction() as db:
                await db.execute("INSERT INTO settings(key, value) VALUES ('c', '3')")
            # and reads on the same reader connection: a statement left unfinished would pin the old snapshot
            assert await store.scalar("SELECT value FROM settings WHERE key = 'c'") == "3"
            assert [row[0] for row in await cursor.fetchall()] == ["b"]  # the cursor keeps its own rows
    finally:
        await store.close()


async def test_reader_cursors_page_and_iterate_like_aiosqlite_ones(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.db")
    try:
        async with store.transaction() as db:
            await db.executemany("INSERT INTO settings(key, value) VALUES (?, ?)",
                                 [(f"k{i:03}", str(i)) for i in range(150)])
        async with store.reader.execute("SELECT key FROM settings WHERE key LIKE 'k%' ORDER BY key") as cursor:
            first = await cursor.fetchmany(10)
            rest = [row[0] async for row in cursor]
        assert [r[0] for r in first] == [f"k{i:03}" for i in range(10)]
        assert rest == [f"k{i:03}" for i in range(10, 150)]
        assert await store.fetchone("SELECT key FROM settings WHERE key = 'nope'") is None
    finally:
        await store.close()
