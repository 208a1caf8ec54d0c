"""The search index (``contacts_search``, migration 9) built in bulk after a large pull instead of row by row
during it (issue 15): FTS5 costs about half as much indexing many rows in one ``INSERT ... SELECT`` as in
a trigger per inserted row (its pending terms are flushed and its segments merged per statement).

The backlog (``search_backlog``, migration 10) is one row, ``pending_from``: while it exists, contacts with
an id from there up are left out of the index by the insert trigger (the row and the trigger's condition
are the same state, so recording the suspension and stopping the trigger are one write). Edits and deletes
stay row by row: on a contact not indexed yet they change nothing, and the build reads its values as they
are then. :func:`build` indexes the backlog in id order, :data:`BUILD_CHUNK` contacts per transaction,
advancing ``pending_from`` in the same transaction, so that a crash at any point leaves a backlog that the
next build finishes; the last chunk deletes the row (per-row upkeep again). New contacts get an id above
every other (SQLite's rowid), so one made during a build is either below ``pending_from`` (indexed by the
trigger) or above (by a later chunk); either way once.

While there is a backlog, a search reads the documents of the contacts in it (see
:mod:`.queries.contact_search`); the index answers for the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import aiosqlite

from leadsync.agent.store.migrations import SEARCH_DOC
from leadsync.common.instants import now_ms

if TYPE_CHECKING:
    from leadsync.agent.store.store import Store

log = logging.getLogger("leadsync.store")

BUILD_CHUNK = 50_000
"""Contacts indexed per transaction of a build (about 0.7 CPU-s on the 2-core test machine, 2026-12-07)."""

AUTOMERGE = 4
"""FTS5's ``automerge`` setting outside a build chunk (its default: segments are merged 4 at a time as rows
are written). A chunk runs with 0 and sets this back in the same transaction: merging the segments a chunk
of 50,000 makes while it makes them cost a quarter of a 1M-contact build (13.5 -> 10.0 CPU-s), and the
unmerged segments leave a search at 1M at 0.4 ms p50, 1.2 ms p99 (was 0.2 / 0.9; 2-core machine,
2026-12-07). SQLite "FTS5", section 6.3 "The 'automerge' Configuration Option"."""

BuildProgress = Callable[[int, int], None]
"""Called after each chunk of a build with (contacts indexed so far, contacts in the backlog at the start)."""

_DOC = SEARCH_DOC.format(p="contacts")
_SET_AUTOMERGE = "INSERT INTO contacts_search(contacts_search, rank) VALUES ('automerge', ?)"


async def pending_from(db: aiosqlite.Connection) -> int | None:
    """The first contact id not indexed yet (the backlog's start), or None when the index is in step."""
    async with db.execute("SELECT pending_from FROM search_backlog WHERE id = 1") as cur:
        row = await cur.fetchone()
    return None if row is None else int(row[0])


async def suspend_if_empty(db: aiosqlite.Connection) -> bool:
    """In ``db``'s write transaction: when the store has no contact, start a backlog (the contacts made from
    now on are indexed by :func:`build`). True when there is a backlog now (started here or left by an
    earlier pull that did not finish), False when the index stays in step row by row."""
    if await pending_from(db) is not None:
        return True
    async with db.execute("SELECT max(id) FROM contacts") as cur:
        row = await cur.fetchone()
    if row is not None and row[0] is not None:
        return False
    await db.execute("INSERT INTO search_backlog(id, pending_from, suspended_at) VALUES (1, 1, ?)", (now_ms(),))
    return True


async def backlog_size(db: aiosqlite.Connection) -> int:
    """How many contacts are not in the index yet (0: in step)."""
    start = await pending_from(db)
    if start is None:
        return 0
    async with db.execute("SELECT count(*) FROM contacts WHERE id >= ?", (start,)) as cur:
        row = await cur.fetchone()
    return 0 if row is None else int(row[0])


async def _build_chunk(db: aiosqlite.Connection) -> int | None:
    """In ``db``'s write transaction: index the next :data:`BUILD_CHUNK` contacts of the backlog and move its
    start past them, or end it when they were the last; how many were indexed (None: there was no backlog)."""
    start = await pending_from(db)
    if start is None:
        return None
    async with db.execute("SELECT id FROM contacts WHERE id >= ? ORDER BY id LIMIT 1 OFFSET ?",
                          (start, BUILD_CHUNK)) as cur:
        row = await cur.fetchone()
    end = None if row is None else int(row[0])
    sql = f"INSERT INTO contacts_search(rowid, doc) SELECT id, {_DOC} FROM contacts WHERE id >= ?"
    await db.execute(_SET_AUTOMERGE, (0,))
    async with db.execute(sql + ("" if end is None else " AND id < ?"),
                          (start,) if end is None else (start, end)) as cur:
        indexed = cur.rowcount
    await db.execute(_SET_AUTOMERGE, (AUTOMERGE,))
    if end is None:
        await db.execute("DELETE FROM search_backlog WHERE id = 1")
    else:
        await db.execute("UPDATE search_backlog SET pending_from = ? WHERE id = 1", (end,))
    return indexed


async def build(store: Store, progress: BuildProgress | None = None) -> int:
    """Index the whole backlog, :data:`BUILD_CHUNK` contacts per transaction (other writers go between
    chunks); how many contacts it indexed (0 when there was no backlog). Contacts made meanwhile are
    indexed too. Logs the start and the end with the time taken. Safe to run while another build runs
    (each chunk reads the backlog's start in its own transaction).

    ``progress`` gets (0, the backlog's size at most) first: its id span, not a count, which would read the
    whole table through the reader's page cache (2 MB more memory at the end of a 100,000-contact pull);
    then (indexed so far, that size or more) after each chunk, and (indexed, indexed) at the end."""
    start = await pending_from(store.reader)
    if start is None:
        return 0
    span = int(await store.scalar("SELECT coalesce(max(id) - ? + 1, 0) FROM contacts", (start,)))
    if span > 0:
        log.info("search index: building it for up to %s contacts (left out row by row during a large pull)",
                 f"{span:,}")
        if progress is not None:
            progress(0, span)
    started, cpu = time.monotonic(), time.process_time()
    done = 0
    while (indexed := await store.write(_build_chunk)) is not None:
        done += indexed
        if progress is not None and indexed:
            progress(done, max(span, done))
        await asyncio.sleep(0)  # a waiting writer goes first
    if progress is not None and done < span:  # the span counted ids of contacts deleted meanwhile: the end is
        progress(done, done)                  # said all the same (0 of 0 when none was left to index)
    if not done:
        return 0
    log.info("search index: built, %s contacts in %.2f s (%.2f CPU-s of this process)", f"{done:,}",
             time.monotonic() - started, time.process_time() - cpu)
    return done


async def repair(store: Store, progress: BuildProgress | None = None) -> int:
    """:func:`build`, a failure logged (the backlog stays for the next pull or start), not raised: how many
    contacts it indexed. Run when the store opens (for a backlog a pull cut short by a crash left) and by
    :func:`build_in_background`."""
    try:
        return await build(store, progress)
    except Exception:
        log.exception("search index: the build of the backlog failed; the next pull or start builds it")
        return 0


def build_in_background(store: Store, progress: BuildProgress | None = None) -> asyncio.Task[int]:
    """Start :func:`repair` as ``store.search_build`` (after the build already there, if one runs) and return
    it: what is left of the backlog is indexed while the agent goes on. :meth:`Store.close` cancels and awaits
    every build not finished; their committed chunks stay and the next open goes on."""
    previous = store.search_build

    async def after_previous() -> int:
        if previous is not None:
            await previous  # repair raises nothing but a cancellation, which is ours too
        return await repair(store, progress)

    return store.track_search_build(asyncio.create_task(after_previous(), name="search-index-build"))


@asynccontextmanager
async def deferred(store: Store, *, enabled: bool = True,
                   progress: BuildProgress | None = None) -> AsyncIterator[bool]:
    """Around a pull: when ``enabled`` and the store has no contact (or a pull that did not finish left a
    backlog), the contacts made inside are left out of the index, for :func:`build` to index in bulk after
    it. When the body raises or is cancelled the build runs here, before the error goes on (when that build
    fails too, the backlog stays for the next pull or agent start). When the body ends, the build is the
    caller's to start once it has said the pull ended (:func:`build_in_background`: a sync run ends when its
    records are stored, and a search reads the backlog's rows until the index has them). Yields whether the
    index was deferred."""
    suspended = enabled and await store.write(suspend_if_empty)
    try:
        yield suspended
    except BaseException:
        if suspended:
            try:
                await build(store, progress)
            except Exception:  # the body's error is the one to raise; the backlog stays, built later
                log.exception("search index: the build after a failed pull failed; the next pull or start builds it")
        raise
