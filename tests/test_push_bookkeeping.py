"""The push's batched bookkeeping: owner changes recorded for a whole chunk with one SELECT per
``OWNER_CHUNK`` contacts leave the store as recording them one by one did, and a chunk of mixed answers
(confirmed creates and updates, a refusal, a write not sent, an owner a to-do asked for and one the CRM
refused) ends with every write confirmed, linked or an open error.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from leadsync.agent import backlog
from leadsync.agent.connectors.autotask.client import CAPABILITIES as autotask_caps
from leadsync.agent.connectors.base import Connector, WriteResult
from leadsync.agent.connectors.hubspot.client import CAPABILITIES as hubspot_caps
from leadsync.agent.connectors.salesforce.client import CAPABILITIES as salesforce_caps
from leadsync.agent.connectors.zoho.client import CAPABILITIES as zoho_caps
from leadsync.agent.engine.context import RunContext
from leadsync.agent.engine.push import OWNER_OPERATION, PlannedWrite, PushPlan, apply_push_results
from leadsync.agent.store.queries import ownership
from leadsync.agent.store.store import Store

OWNER_PROP = "hubspot_owner_id"


async def seeded(path: Path, owners: list[str | None]) -> Store:
    store = await Store.open(path)
    async with store.transaction() as db:
        await db.execute("INSERT INTO sync_runs(id, trigger, status, started_at) VALUES (5, 'manual', 'ok', 1)")
        await db.executemany(
            "INSERT INTO contacts(id, email, email_norm, owner_id, source, created_at, updated_at, local_rev, "
            "push_wanted) VALUES (?, ?, ?, ?, 'api', 1, 1, 2, 1)",
            [(n + 1, f"c{n}@example.org", f"c{n}@example.org", o) for n, o in enumerate(owners)])
    return store


async def state(store: Store) -> tuple[list[Any], list[Any]]:
    contacts = await store.fetchall("SELECT id, owner_id FROM contacts ORDER BY id")
    history = await store.fetchall("SELECT contact_id, old_owner, new_owner, source, sync_run_id, changed_at "
                                   "FROM ownership_history ORDER BY id")
    return [tuple(r) for r in contacts], [tuple(r) for r in history]


async def test_batched_owner_changes_leave_the_store_as_one_by_one(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ownership, "OWNER_CHUNK", 3)  # several SELECTs, a contact's two changes across them
    owners: list[str | None] = ["10", None, "11", "12", "10", None, "13"]
    changes: list[tuple[int, str | None, str]] = [
        (1, "10", "create"),   # unchanged: no history
        (2, "20", "create"),   # None -> 20
        (3, None, "crm"),      # 11 -> None
        (4, "21", "todo"),
        (4, "23", "crm"),      # the same contact again: 21 -> 23
        (5, "24", "crm"),
        (2, "20", "crm"),      # back to what it just became: no history
        (7, "13", "todo"),
        (6, None, "crm"),
    ]
    one = await seeded(tmp_path / "one.db", owners)
    many = await seeded(tmp_path / "many.db", owners)
    try:
        async with one.transaction() as db:
            for contact_id, owner, source in changes:
                await ownership.record_owner_change(db, contact_id, owner, source, 5, 1234)
        async with many.transaction() as db:
            await ownership.record_owner_changes(db, changes, 5, 1234)
        expected = await state(one)
        assert await state(many) == expected
        assert expected[1] == [(2, None, "20", "create", 5, 1234), (3, "11", None, "crm", 5, 1234),
                               (4, "12", "21", "todo", 5, 1234), (4, "21", "23", "crm", 5, 1234),
                               (5, "10", "24", "crm", 5, 1234)]
    finally:
        await one.close()
        await many.close()


def _ctx(run_id: int) -> RunContext:
    caps = SimpleNamespace(owner_property=OWNER_PROP, new_lead_object="contact", forward_only=frozenset())
    connector = cast(Connector, SimpleNamespace(name="hubspot", capabilities=caps))
    return RunContext(run_id=run_id, connector=connector, mappings=(), properties={})


async def test_a_chunk_of_mixed_answers_is_recorded_write_by_write(tmp_path: Path) -> None:
    store = await seeded(tmp_path / "s.db", ["10"] * 6)
    async with store.transaction() as db:
        run_id = int((await (await db.execute(
            "INSERT INTO sync_runs(trigger, status, started_at) VALUES ('manual', 'running', 1) RETURNING id"
        )).fetchone())[0])
        await db.execute("INSERT INTO crm_links(contact_id, crm, object_type, crm_id, linked_at) "
                         "VALUES (5, 'hubspot', 'contact', '905', 1), (6, 'hubspot', 'contact', '906', 1)")
        await db.execute("UPDATE contacts SET crm_state = 'linked', owner_push = '30' WHERE id IN (5, 6)")

    def create(n: int, owner: str = "10") -> PlannedWrite:
        return PlannedWrite(n, "create", 2, {"email": f"c{n - 1}@example.org", OWNER_PROP: owner}, {"email": "x"})

    plan = PushPlan(writes=[
        create(1), create(2, owner="40"), create(3), create(4),
        PlannedWrite(5, "update", 2, {OWNER_PROP: "30"}, {}, crm_id="905", owner_push="30"),
        PlannedWrite(6, "update", 2, {OWNER_PROP: "30"}, {}, crm_id="906", owner_push="30"),
    ])
    results = {
        1: WriteResult(ref="1", ok=True, id="801", created=True),
        2: WriteResult(ref="2", ok=True, id="802", created=False),  # an upsert found it: linked
        3: WriteResult(ref="3", ok=False, error="bad email", error_code="INVALID_EMAIL"),
        4: WriteResult(ref="4", ok=False, error="unavailable", error_code="UNAVAILABLE", not_sent=True),
        5: WriteResult(ref="5", ok=True, id="905"),
        6: WriteResult(ref="6", ok=False, id="906", error="read only", error_code="OWNER_READ_ONLY"),
    }
    ctx = _ctx(run_id)
    try:
        async with store.transaction() as db:
            await apply_push_results(db, ctx, plan, results, "contact")
        rows = {r["id"]: dict(r) for r in await store.fetchall(
            "SELECT c.id, c.owner_id, c.owner_push, c.synced_rev, c.crm_state, l.crm_id FROM contacts c "
            "LEFT JOIN crm_links l ON l.contact_id = c.id")}
        errors = {r["contact_id"]: dict(r) for r in await store.fetchall(
            "SELECT contact_id, code, operation, local_rev FROM sync_errors WHERE resolved_at IS NULL")}
        history = [tuple(r) for r in await store.fetchall(
            "SELECT contact_id, old_owner, new_owner, source FROM ownership_history ORDER BY id")]
    finally:
        await store.close()
    assert (ctx.counts.created_crm, ctx.counts.linked, ctx.counts.updated_crm, ctx.counts.failed) == (1, 1, 1, 3)
    # confirmed: linked (creates), revision confirmed, owner as sent, the to-do's owner no longer waiting
    for n, crm_id in ((1, "801"), (2, "802"), (5, "905")):
        assert (rows[n]["crm_state"], rows[n]["crm_id"], rows[n]["synced_rev"]) == ("linked", crm_id, 2)
    assert (rows[2]["owner_id"], rows[5]["owner_id"], rows[5]["owner_push"]) == ("40", "30", None)
    assert history == [(2, "10", "40", "create"), (5, "10", "30", "todo")]
    # not confirmed: an open error each, nothing linked or confirmed
    assert (errors[3]["code"], errors[3]["local_rev"]) == ("INVALID_EMAIL", 2)
    assert (errors[4]["code"], errors[4]["local_rev"]) == ("UNAVAILABLE", None)  # queued for the next run
    assert (errors[6]["operation"], errors[6]["local_rev"]) == (OWNER_OPERATION, None)
    for n in (3, 4):
        assert (rows[n]["crm_state"], rows[n]["crm_id"], rows[n]["synced_rev"]) == ("none", None, 0)
    assert (rows[6]["owner_id"], rows[6]["owner_push"], rows[6]["synced_rev"]) == ("10", None, 0)
    assert set(errors) == {3, 4, 6}


def test_a_live_push_rate_needs_a_span_beyond_the_rate_limiters_burst(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(backlog.time, "monotonic", lambda: now[0])
    rate = backlog.PushRate()
    for done, at in ((0, 100.0), (500, 100.05), (1000, 100.1)):  # the bucket's burst: 1,000 in 0.1 s
        now[0] = at
        rate.note({"type": "progress", "phase": "push", "run_id": 1, "done": done})
    assert rate.per_second() is None
    now[0] = 100.0 + backlog.MIN_RATE_SPAN_S
    rate.note({"type": "progress", "phase": "push", "run_id": 1, "done": 2_800})
    assert rate.per_second() == pytest.approx(2_800 / backlog.MIN_RATE_SPAN_S)


@pytest.mark.parametrize(("crm", "requests"), [
    ("hubspot", 500),              # 500 batch upserts of 100
    ("salesforce", 250 + 500),     # 250 collections of 200, after a SOQL look-up per 100 emails
    ("zoho", 500 + 5_000),         # 500 writes of 100, after a search per 10 emails
    ("autotask", 50_000),          # one contact a request
])
async def test_a_drain_estimate_before_any_rate_counts_the_look_ups(tmp_path: Path, crm: str,
                                                                    requests: int) -> None:
    caps = {"hubspot": hubspot_caps, "salesforce": salesforce_caps, "zoho": zoho_caps,
            "autotask": autotask_caps}[crm]
    connector = cast(Connector, SimpleNamespace(capabilities=caps))
    store = await Store.open(tmp_path / "s.db")
    try:  # no run has pushed yet, and the running push has measured nothing: 0.1 s a request
        estimate = await backlog.drain_estimate(store, connector, backlog.PushRate(), 50_000)
    finally:
        await store.close()
    assert estimate == pytest.approx(requests * 0.1)


async def test_a_drain_estimate_takes_a_slow_first_chunk_as_the_pace(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(backlog.time, "monotonic", lambda: now[0])
    rate = backlog.PushRate()
    rate.note({"type": "progress", "phase": "push", "run_id": 1, "done": 0})
    now[0] = 130.0  # the first chunk of 500 (5 batches of 100) has taken 30 s and is still under way
    connector = cast(Connector, SimpleNamespace(capabilities=hubspot_caps))
    store = await Store.open(tmp_path / "s.db")
    try:
        estimate = await backlog.drain_estimate(store, connector, rate, 50_000)
    finally:
        await store.close()
    assert estimate == pytest.approx(100 * 30.0)
