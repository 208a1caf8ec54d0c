"""The search index left out row by row during a large pull and built in bulk after it (issue 15,
``agent/store/search_index.py``): a search while the index has a backlog gives the answers the index
gives; the bulk build (in chunks, with edits, creates and deletes before and between them) ends with the
index a from-scratch build makes; a first full pull into an empty store defers it, an incremental pull
does not; a pull that fails builds it; a backlog a crash left is built when the store opens, or by the
next pull. The index is compared with the documents of the contacts as they are (``SEARCH_DOC``)."""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from leadsync.agent.contacts import count_contacts
from leadsync.agent.engine import runner
from leadsync.agent.store import search_index
from leadsync.agent.store.migrations import SEARCH_DOC
from leadsync.agent.store.queries import contact_search
from leadsync.agent.store.queries.contacts_local import NewContact, insert_contact
from leadsync.agent.store.store import Store
from leadsync.common.answers import ContactFilter
from leadsync.common.paths import db_path
from leadsync.common.rpc import RpcClient, RpcError
from tests.conftest import SideWorld, connect_world, make_sandbox
from tests.test_contact_search import PEOPLE, add, expected, found

QUERIES = ["love", "ADA LOVE", "navy.mil", "7946 0958", "2025550143", "555-0143", "großm", "100% bio_k",
           "o'neil \"zed", "qz", "q", "ä", "Ö", "öK", "élise ök", "ärzte", "@", "zz", "nobody", "%", "_", "É", "55"]


async def index_and_docs(store: Store) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The index's (rowid, doc) rows and the documents of the contacts as they are, both by id."""
    index = await store.fetchall("SELECT rowid, doc FROM contacts_search ORDER BY rowid")
    docs = await store.fetchall(f"SELECT id, {SEARCH_DOC.format(p='contacts')} FROM contacts ORDER BY id")
    return [tuple(r) for r in index], [tuple(r) for r in docs]  # type: ignore[misc]


async def assert_index_complete(store: Store) -> None:
    index, docs = await index_and_docs(store)
    assert index == docs
    assert await search_index.pending_from(store.reader) is None
    async with store.transaction() as db:  # FTS5's own check of its index against its documents
        await db.execute("INSERT INTO contacts_search(contacts_search) VALUES ('integrity-check')")


async def test_a_search_with_a_backlog_answers_what_the_index_answers(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    indexed = await Store.open(tmp_path / "indexed.db")
    deferred = await Store.open(tmp_path / "deferred.db")
    partly = await Store.open(tmp_path / "partly.db")
    try:
        await add(indexed, PEOPLE)
        for store in (deferred, partly):
            assert await store.write(search_index.suspend_if_empty)
            await add(store, PEOPLE)
        assert await deferred.scalar("SELECT count(*) FROM contacts_search") == 0  # every answer read from rows
        monkeypatch.setattr(search_index, "BUILD_CHUNK", 3)
        assert await partly.write(search_index._build_chunk) == 3  # the first 3 indexed, the rest in the backlog
        assert await search_index.pending_from(partly.reader) == 4
        for window, rare in ((5000, 5000), (0, 5000), (0, 0)):  # each path of a short fragment
            monkeypatch.setattr(contact_search, "SCAN_WINDOW", window)
            monkeypatch.setattr(contact_search, "RARE_SHORT_DOCS", rare)
            for q in QUERIES:
                want = expected(PEOPLE, q)
                for store in (indexed, deferred, partly):
                    assert await found(store, q) == want, (q, store.path.name)
                    assert await count_contacts(store, ContactFilter(q=q)) == len(want), (q, store.path.name)
        assert await found(partly, "e", sync_state="local") == expected(PEOPLE, "e")
    finally:
        for store in (indexed, deferred, partly):
            await store.close()


def person(rng: random.Random, n: int) -> tuple[Any, ...]:
    letters = "abcdeqxzäÖ 0159@."
    return ("".join(rng.choice(letters) for _ in range(rng.randint(0, 9))), rng.choice(["Lee", "Qi", None]),
            f"p{n}@{rng.choice(['a.io', 'zq.org'])}", rng.choice(["", "Acme", "Zed Co", None]),
            rng.choice([None, f"+1 ({rng.randint(100, 999)}) {rng.randint(1000, 9999)}"]))


async def test_the_bulk_build_ends_with_the_index_of_the_contacts_as_they_are(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(15)
    monkeypatch.setattr(search_index, "BUILD_CHUNK", 64)
    store = await Store.open(tmp_path / "store.db")
    try:
        assert await store.write(search_index.suspend_if_empty)
        await add(store, [person(rng, n) for n in range(300)])
        async with store.transaction() as db:  # edits, deletes and a create (an API or import row) meanwhile
            await db.execute("UPDATE contacts SET company = 'Edited Inc', phone = '020 7946 1234' WHERE id % 7 = 0")
            await db.execute("DELETE FROM contacts WHERE id % 11 = 0")
            await insert_contact(db, NewContact(standard={"email": "made@here.io", "first_name": "Made"},
                                                email_norm="made@here.io", owner_id=None, created_by=None,
                                                source="import", fields={}, stamp=1, push=False))
        assert await store.scalar("SELECT count(*) FROM contacts_search") == 0
        for _ in range(2):
            assert await store.write(search_index._build_chunk) == 64
        assert await search_index.pending_from(store.reader) == 141  # ids 1-140 less the 12 deleted (11, 22...)
        async with store.transaction() as db:  # between chunks: on both sides of the backlog's start
            await db.execute("UPDATE contacts SET last_name = 'Between' WHERE id IN (5, 6, 200, 201)")
            await db.execute("DELETE FROM contacts WHERE id IN (8, 250)")
        await add(store, [person(rng, n) for n in range(300, 310)])
        assert await search_index.build(store) == 155  # 300 - 27 deleted + 1 made - 128 - 1 deleted + 10 added
        await assert_index_complete(store)
        assert len(await found(store, "between")) == 4
        assert await found(store, "made@here") == ["made@here.io"]
        # each chunk ran without FTS5's merging and set it back: rows written after the build merge again
        assert await store.scalar("SELECT v FROM contacts_search_config WHERE k = 'automerge'") == 4
        await add(store, [("After", "Build", "after@build.io", None, None)])  # row by row again
        await assert_index_complete(store)
        assert not await store.write(search_index.suspend_if_empty)  # a store with contacts: not deferred
    finally:
        await store.close()


async def test_a_backlog_left_by_a_crash_is_built_when_the_store_opens(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = await Store.open(path)
    assert store.search_build is None
    assert await store.write(search_index.suspend_if_empty)
    await add(store, PEOPLE)
    await store.close()  # what a kill -9 leaves: the backlog's row, the contacts, not their index
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT count(*) FROM contacts_search").fetchone() == (0,)
        assert raw.execute("SELECT pending_from FROM search_backlog").fetchone() == (1,)
    store = await Store.open(path)
    try:
        assert store.search_build is not None
        assert await store.search_build == len(PEOPLE)
        await assert_index_complete(store)
        assert await found(store, "love") == ["ada@example.org"]
    finally:
        await store.close()


async def test_closing_the_store_stops_every_build_also_one_chained_and_not_started(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "store.db"
    store = await Store.open(path)
    assert await store.write(search_index.suspend_if_empty)
    await add(store, PEOPLE)
    await store.close()
    started = asyncio.Event()

    async def endless_build(*args: Any, **kwargs: Any) -> int:
        started.set()
        await asyncio.Event().wait()
        return 0

    monkeypatch.setattr(search_index, "build", endless_build)
    store = await Store.open(path)  # its repair of the backlog is a build that runs until cancelled
    await asyncio.wait_for(started.wait(), 10)
    first = store.search_build
    chained = search_index.build_in_background(store)  # cancelled before it ever runs: it must not leave the first
    await store.close()
    assert first is not None and first.done() and chained.done() and not store.search_builds


def raw_state(path: Path) -> tuple[int, int, int]:
    """(backlog rows, indexed documents, contacts) as committed, read on a connection of its own."""
    with sqlite3.connect(path) as raw:
        return (raw.execute("SELECT count(*) FROM search_backlog").fetchone()[0],
                raw.execute("SELECT count(*) FROM contacts_search").fetchone()[0],
                raw.execute("SELECT count(*) FROM contacts").fetchone()[0])


class Events:
    """The events an agent emits, and the store's committed state at each pull progress event."""

    def __init__(self, world: Any) -> None:
        self.path = db_path(world.agent.data_dir)
        self.events: list[dict[str, Any]] = []
        self.at_pull: list[tuple[int, int, int]] = []
        emit = world.agent.emit

        def record(event: dict[str, Any]) -> None:
            self.events.append(event)
            if event.get("type") == "progress" and event.get("phase") == "pull":
                self.at_pull.append(raw_state(self.path))
            emit(event)

        world.agent.emit = record

    def indexing(self) -> list[tuple[int, int]]:
        return [(e["done"], e["total"]) for e in self.events if e.get("phase") == "search_index"]

    def clear(self) -> None:
        self.events.clear()
        self.at_pull.clear()


async def test_a_first_full_pull_builds_the_index_after_it_an_incremental_one_row_by_row(
        crm_world: SideWorld, crm_client: RpcClient, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    events = Events(crm_world)
    caplog.set_level(logging.INFO, "leadsync.store")
    gate = asyncio.Event()  # the build waits for the test: what the run's end looks like while it is still to come
    real_build = search_index.build

    async def gated_build(*args: Any, **kwargs: Any) -> int:
        await gate.wait()
        return await real_build(*args, **kwargs)

    monkeypatch.setattr(search_index, "build", gated_build)
    first = await crm_client.call("sync.run", {"wait": True})
    assert first["status"] == "ok", first
    contacts = raw_state(events.path)[2]
    assert contacts == first["created_local"] > 100
    assert events.at_pull and all(backlog == 1 and indexed == 0 for backlog, indexed, _ in events.at_pull)
    # The run has ended while its contacts are not indexed yet: a search reads them from the backlog.
    assert raw_state(events.path) == (1, 0, contacts) and events.indexing() == []
    assert (await crm_client.call("agent.status"))["search_backlog"] == contacts
    row = await crm_world.agent.store.fetchone("SELECT email FROM contacts ORDER BY id DESC LIMIT 1")
    assert row is not None
    page = await crm_client.call("contacts.list", {"filter": {"q": row[0]}})
    assert [c["email"] for c in page["contacts"]] == [row[0]]
    await crm_client.call("sync.plan")  # a dry run meanwhile starts no build of its own (on its rolled-back view)
    assert len([t for t in asyncio.all_tasks() if t.get_name() == "search-index-build" and not t.done()]) == 1

    gate.set()
    assert crm_world.agent.store.search_build is not None
    assert await crm_world.agent.store.search_build == contacts
    finished = next(i for i, e in enumerate(events.events) if e.get("type") == "run_finished")
    built = [i for i, e in enumerate(events.events) if e.get("phase") == "search_index"]
    assert built and min(built) > finished  # the build's progress follows the run's end, with the run's id
    assert {events.events[i]["run_id"] for i in built} == {first["id"]}
    assert events.indexing()[0] == (0, contacts) and events.indexing()[-1] == (contacts, contacts)
    assert f"building it for up to {contacts:,} contacts" in caplog.text
    await assert_index_complete(crm_world.agent.store)
    assert (await crm_client.call("agent.status"))["search_backlog"] == 0

    events.clear()
    crm_id = crm_world.crm.ids()[0]
    crm_world.crm.set(crm_id, {"last_name": "Zyzzyva"})
    crm_world.crm.add({"email": "later@example.org", "first_name": "Later", "last_name": "Qwertz"})
    second = await crm_client.call("sync.run", {"wait": True})
    assert second["status"] == "ok" and second["created_local"] == 1, second
    assert events.indexing() == []
    assert events.at_pull and all(backlog == 0 and indexed == total for backlog, indexed, total in events.at_pull)
    await assert_index_complete(crm_world.agent.store)
    page = await crm_client.call("contacts.list", {"filter": {"q": "zyzzyva"}})
    assert [c["crm_id"] for c in page["contacts"]] == [crm_id]
    page = await crm_client.call("contacts.list", {"filter": {"q": "qwertz"}})
    assert [c["email"] for c in page["contacts"]] == ["later@example.org"]


def fail_the_second_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pull's second transaction raises (one page per transaction)."""
    apply_page = runner._apply_page
    calls = 0

    async def failing_second(*args: Any, **kwargs: Any) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the second page fails")
        return await apply_page(*args, **kwargs)

    monkeypatch.setattr(runner, "_apply_page", failing_second)
    monkeypatch.setattr(runner, "page_groups", lambda pages: pages)


@pytest.mark.parametrize("build_fails", [False, True])
async def test_a_pull_that_fails_builds_the_index_else_the_next_pull_does(
        short_tmp: Path, monkeypatch: pytest.MonkeyPatch, build_fails: bool) -> None:
    world = await connect_world(short_tmp, *make_sandbox(contacts=500))
    store, path = world.agent.store, db_path(world.agent.data_dir)
    try:
        async with RpcClient(world.agent.socket_path) as client:
            with monkeypatch.context() as patch:
                fail_the_second_page(patch)
                if build_fails:
                    async def broken_build(*args: Any, **kwargs: Any) -> int:
                        raise RuntimeError("no build this time")

                    patch.setattr(search_index, "build", broken_build)
                with pytest.raises(RpcError, match="internal error"):  # a bug's exception, not a CRM's error
                    await client.call("sync.run", {"wait": True})
            run = (await client.call("sync.history", {"limit": 1}))[0]
            assert run["status"] == "failed" and "second page fails" in run["error"], run
            backlog, indexed, made = raw_state(path)
            assert 0 < made < 500
            if build_fails:  # left suspended: a search reads the rows, the next pull builds it
                assert (backlog, indexed) == (1, 0)
                row = await store.fetchone("SELECT email FROM contacts ORDER BY id DESC LIMIT 1")
                assert row is not None
                page = await client.call("contacts.list", {"filter": {"q": row[0]}})
                assert [c["email"] for c in page["contacts"]] == [row[0]]
                assert (await client.call("agent.status"))["search_backlog"] == made
            else:
                await assert_index_complete(store)  # built when the pull failed
            run = await client.call("sync.run", {"wait": True})  # resumes the pull from its cursor
            assert run["status"] == "ok", run
            assert (store.search_build is not None) == build_fails  # the backlog's rest, built after the run's end
            if store.search_build is not None:
                await store.search_build
            assert raw_state(path) == (0, 500, 500)
            await assert_index_complete(store)
    finally:
        await world.agent.stop()


async def test_an_agent_stopped_mid_pull_builds_the_index_before_it_ends(short_tmp: Path) -> None:
    world = await connect_world(short_tmp, *make_sandbox(contacts=500, latency_ms=40))
    path = db_path(world.agent.data_dir)
    try:
        async with RpcClient(world.agent.socket_path) as client:
            await client.call("sync.run", {"wait": False})
        for _ in range(500):
            if raw_state(path)[2] > 0:
                break
            await asyncio.sleep(0.01)
    finally:
        await world.agent.stop()
    backlog, indexed, made = raw_state(path)
    assert (backlog, indexed) == (0, made) and 0 < made < 500  # cut short, indexed when the run stopped
    store = await Store.open(path)
    try:
        assert store.search_build is None
        await assert_index_complete(store)
    finally:
        await store.close()


async def test_an_agent_stopped_during_the_build_after_a_pull_leaves_it_to_the_next_start(
        short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = await connect_world(short_tmp, *make_sandbox(contacts=300))
    path = db_path(world.agent.data_dir)
    started = asyncio.Event()

    async def endless_build(*args: Any, **kwargs: Any) -> int:
        started.set()
        await asyncio.Event().wait()  # cancelled by the agent's stop
        return 0

    try:
        with monkeypatch.context() as patch:
            patch.setattr(search_index, "build", endless_build)
            async with RpcClient(world.agent.socket_path) as client:
                run = await client.call("sync.run", {"wait": True})
            assert run["status"] == "ok" and run["created_local"] == 300, run
            await asyncio.wait_for(started.wait(), 10)
    finally:
        await world.agent.stop()  # returns: the build waiting in the background is cancelled, not awaited forever
    assert raw_state(path) == (1, 0, 300)
    store = await Store.open(path)
    try:
        assert store.search_build is not None
        assert await store.search_build == 300
        await assert_index_complete(store)
    finally:
        await store.close()
