"""Store migrations 7 and 8 on a store made by the code before them: open duplicate errors fold into one
counted error, nothing else changes, and the schema reaches the current version."""

from __future__ import annotations

from pathlib import Path

import aiosqlite

from leadsync.agent.store.migrations import MIGRATIONS, migrate
from leadsync.agent.store.store import Store


async def test_migration_7_folds_open_duplicates_into_one_counted_error(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    async with aiosqlite.connect(path, isolation_level=None) as db:  # a store at schema v6
        for statements in MIGRATIONS[:6]:
            for statement in statements:
                await db.execute(statement)
        await db.execute("PRAGMA user_version = 6")
        await db.execute("INSERT INTO sync_runs(id, trigger, status, started_at) VALUES (1, 'manual', 'ok', 1), "
                         "(2, 'manual', 'ok', 2), (3, 'manual', 'ok', 3)")
        rows = [(1, None, "X1", "pull", "conversion", "first", 100, None), (2, None, "X1", "pull", "conversion",
                "second", 200, None), (3, None, "X1", "pull", "conversion", "third", 300, None),
                (1, 7, None, "update", "INVALID", "other record", 150, None),
                (1, None, "X1", "pull", "conversion", "resolved long ago", 50, 60)]
        await db.executemany("INSERT INTO sync_errors(sync_run_id, contact_id, crm_id, operation, code, reason, "
                             "created_at, resolved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    store = await Store.open(path)
    try:
        found = await store.fetchall("SELECT sync_run_id, crm_id, reason, count, created_at, last_seen_at, "
                                     "resolved_at FROM sync_errors ORDER BY id")
        assert [tuple(r) for r in found] == [
            (3, "X1", "third", 3, 100, 300, None),  # the newest kept: seen 3 times, first at 100, last at 300
            (1, None, "other record", 1, 150, 150, None),
            (1, "X1", "resolved long ago", 1, 50, 50, 60),
        ]
        assert await store.scalar("PRAGMA user_version") == len(MIGRATIONS)
        assert await store.fetchall("SELECT * FROM run_changes") == []
    finally:
        await store.close()


async def test_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "store.db")
    try:
        assert await migrate(store.writer) == len(MIGRATIONS)
    finally:
        await store.close()
