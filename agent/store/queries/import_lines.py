"""``temp.import_lines``: for a file sent in chunks under one ``import_id``, the first line each email match
key was seen on, so an email on two lines of one file is found across chunks without the agent holding
the file's keys in memory (a TEMP table of the writer connection: it lives on disk in SQLite's temp
file, within the page cache's bound, and is gone when the agent restarts).

``temp.import_files`` keeps when each ``import_id`` was last used (monotonic s); a file not heard from
for :data:`IDLE_S` is forgotten, and the client's last chunk (``last: true``) forgets it at once."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from leadsync.agent.store.queries.contacts_local import MATCH_CHUNK
from leadsync.agent.store.store import chunks

IDLE_S = 3600.0

_SCHEMA = (
    "CREATE TEMP TABLE IF NOT EXISTS import_files (import_id TEXT PRIMARY KEY, used_s REAL NOT NULL)",
    "CREATE TEMP TABLE IF NOT EXISTS import_lines (import_id TEXT NOT NULL, email_key TEXT NOT NULL, "
    "line INTEGER NOT NULL, PRIMARY KEY (import_id, email_key)) WITHOUT ROWID",
)


async def claim_lines(db: aiosqlite.Connection, import_id: str, keys: Sequence[tuple[str, int]],
                      now_s: float) -> dict[str, int]:
    """Record ``(email key, line)`` pairs of one chunk and return, for every key given, the first line
    it was seen on in this file (an earlier chunk's, else this chunk's first). Forgets files idle for
    more than :data:`IDLE_S` (``now_s``: monotonic seconds). Call inside a write transaction."""
    for statement in _SCHEMA:
        await db.execute(statement)
    stale = [r[0] for r in await db.execute_fetchall(
        "SELECT import_id FROM temp.import_files WHERE used_s < ?", (now_s - IDLE_S,))]
    for old in stale:
        await forget_file(db, old)
    await db.execute("INSERT INTO temp.import_files (import_id, used_s) VALUES (?, ?) "
                     "ON CONFLICT (import_id) DO UPDATE SET used_s = excluded.used_s", (import_id, now_s))
    first: dict[str, int] = {}
    for part in chunks(list(dict.fromkeys(k for k, _ in keys)), MATCH_CHUNK):
        async with db.execute(f"SELECT email_key, line FROM temp.import_lines WHERE import_id = ? "
                              f"AND email_key IN ({', '.join('?' * len(part))})", [import_id, *part]) as cur:
            first.update((row[0], row[1]) for row in await cur.fetchall())
    new: list[tuple[str, str, int]] = []
    for key, line in keys:
        if key not in first:
            first[key] = line
            new.append((import_id, key, line))
    await db.executemany("INSERT INTO temp.import_lines (import_id, email_key, line) VALUES (?, ?, ?)", new)
    return first


async def forget_file(db: aiosqlite.Connection, import_id: str) -> None:
    """Drop what is kept for ``import_id`` (its last chunk was answered, or it went idle)."""
    for statement in _SCHEMA:
        await db.execute(statement)
    await db.execute("DELETE FROM temp.import_lines WHERE import_id = ?", (import_id,))
    await db.execute("DELETE FROM temp.import_files WHERE import_id = ?", (import_id,))


async def kept_keys(db: aiosqlite.Connection) -> int:
    """How many (file, email key) pairs are kept now (for tests and the health of long imports)."""
    for statement in _SCHEMA:
        await db.execute(statement)
    rows = await db.execute_fetchall("SELECT count(*) FROM temp.import_lines")
    return int(next(iter(rows))[0])
