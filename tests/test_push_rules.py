"""Push rules and scheduling (issue 4): manual, interval, threshold and to-do pushes, the master switch,
priority, attribution, the dry run (case S16) and the scheduler."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from leadsync.agent.daemon import INTERVAL_JOB
from leadsync.agent.store.store import norm_email, now_ms
from leadsync.common.errors import RpcCode
from leadsync.common.rpc import RpcClient, RpcError
from tests.conftest import CrmWorld, connect_world, make_sandbox
from tests.test_ownership import owners, user_for
from tests.test_sync import all_contacts


async def creator(client: RpcClient) -> dict[str, Any]:
    owner = next(o for o in await owners(client) if o["active"])
    return await user_for(client, owner)


async def wait_for(predicate: Any, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def fire_interval_job(world: CrmWorld) -> None:
    world.agent.scheduler.get_job(INTERVAL_JOB).modify(next_run_time=dt.datetime.now(dt.UTC))
    await asyncio.sleep(0.05)


async def history(client: RpcClient) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = await client.call("sync.history", {"limit": 100})
    return runs


async def test_interval_change_takes_effect_without_restart(world: CrmWorld, world_client: RpcClient) -> None:
    job = world.agent.scheduler.get_job(INTERVAL_JOB)
    assert job.trigger.interval == dt.timedelta(minutes=60)
    await world_client.call("settings.update", {"sync_interval_minutes": 10})
    job = world.agent.scheduler.get_job(INTERVAL_JOB)
    assert job.trigger.interval == dt.timedelta(minutes=10)
    assert job.coalesce is True and job.max_instances == 1  # a missed run is not run twice
    now = dt.datetime(2026, 3, 8, 6, 55, tzinfo=dt.UTC)  # a controllable clock: the trigger's own arithmetic
    assert job.trigger.get_next_fire_time(now, now) == now + dt.timedelta(minutes=10)
    status = await world_client.call("sync.status")
    assert status["interval_minutes"] == 10 and status["next_interval_run"] is not None
    await world_client.call("settings.update", {"sync_interval_minutes": 1440})
    assert world.agent.scheduler.get_job(INTERVAL_JOB).trigger.interval == dt.timedelta(days=1)


async def test_scheduler_fires_and_coalesces_with_a_running_sync(world: CrmWorld, world_client: RpcClient) -> None:
    world.faults.latency_ms = 30  # long enough for the second firing to land during the first run
    await fire_interval_job(world)
    await wait_for(lambda: world.agent.current_run is not None)
    await fire_interval_job(world)
    await world_client.call("sync.run", {"wait": False})  # a manual full run asked for meanwhile
    await wait_for(lambda: world.agent.current_run is None and not world.agent._queue, 30)
    runs = await history(world_client)
    assert [r["trigger"] for r in runs] == ["interval"]
    assert runs[0]["pulled"] == 200 and runs[0]["status"] == "ok"


async def test_push_disabled_means_zero_writes_from_every_trigger(synced_agent: CrmWorld,
                                                                  world_client: RpcClient) -> None:
    world = synced_agent
    user = await creator(world_client)
    await world_client.call("settings.update", {"push_enabled": False, "score_threshold": 50})
    writes = world.state.write_requests
    new = await world_client.call("contacts.create", {"created_by": user["id"],
                                                      "fields": {"email": "quiet@example.org", "lead_score": 1}})
    edited = (await all_contacts(world_client))[7]
    await world_client.call("contacts.update", {"id": edited["id"], "fields": {"company": "Quiet Co"}})
    # manual
    with pytest.raises(RpcError) as err:
        await world_client.call("contacts.push", {"ids": [new["id"]]})
    assert err.value.code == RpcCode.PUSH_DISABLED and "push is disabled" in err.value.message
    # threshold
    scored = await world_client.call("contacts.score", {"id": new["id"], "score": 99})
    assert scored["threshold_push"] is False
    # to-do
    answer = await world_client.call("todos.assign", {"contact_id": edited["id"], "assignee": user["id"],
                                                      "title": "t"})
    assert answer["pushed"] is False
    # interval: still pulls
    world.state.update_contact(edited["crm_id"], {"jobtitle": "Pulled Anyway"})
    before = len(await history(world_client))
    await fire_interval_job(world)
    for _ in range(200):
        runs = await history(world_client)
        if len(runs) > before and runs[0]["status"] != "running":
            break
        await asyncio.sleep(0.05)
    assert runs[0]["trigger"] == "interval" and runs[0]["updated_local"] == 1
    assert world.state.write_requests == writes
    # back on: what accumulated goes out
    await world_client.call("settings.update", {"push_enabled": True})
    await wait_for(lambda: world.state.find_contact_by_email("quiet@example.org") is not None, 10)
    await wait_for(lambda: world.state.get_contact(edited["crm_id"]).properties.get("company") == "Quiet Co", 10)


async def test_each_trigger_is_attributed(synced_agent: CrmWorld, world_client: RpcClient) -> None:
    world = synced_agent
    await world_client.call("settings.update", {"score_threshold": "hot"})  # a named interest level: 70
    contacts = await all_contacts(world_client)
    manual, hot, todo, interval = contacts[10], contacts[11], contacts[12], contacts[13]
    await world_client.call("contacts.update", {"id": manual["id"], "fields": {"company": "By Hand"}})
    await world_client.call("contacts.push", {"ids": [manual["id"]]})
    await world_client.call("contacts.update", {"id": hot["id"], "fields": {"lead_score": 10}})
    await world_client.call("sync.run", {"wait": True})  # pushes the score 10 as a plain manual full run
    result = await world_client.call("contacts.score", {"id": hot["id"], "score": 75})
    assert result["threshold_push"] is True
    await wait_for(lambda: world.state.get_contact(hot["crm_id"]).properties.get("lead_score") == "75")
    other = next(o for o in await owners(world_client) if o["active"] and o["crm_id"] != todo["owner_id"])
    assignee = await user_for(world_client, other)
    await world_client.call("todos.assign", {"contact_id": todo["id"], "assignee": assignee["id"], "title": "go"})
    await world_client.call("contacts.update", {"id": interval["id"], "fields": {"company": "On Schedule"}})
    await fire_interval_job(world)
    await wait_for(lambda: world.state.get_contact(interval["crm_id"]).properties.get("company") == "On Schedule")
    await wait_for(lambda: world.agent.current_run is None)
    triggers = {}
    for contact in (manual, hot, todo, interval):
        log = await world_client.call("sync.log", {"contact_id": contact["id"]})
        triggers[contact["id"]] = log[0]["trigger"]
    assert triggers == {manual["id"]: "manual", hot["id"]: "threshold", todo["id"]: "todo",
                        interval["id"]: "interval"}
    runs = await history(world_client)
    assert {"manual", "threshold", "todo", "interval"} <= {r["trigger"] for r in runs}
    assert all(r["finished_at"] >= r["started_at"] for r in runs)


async def bulk_local_contacts(world: CrmWorld, count: int, user_id: int, owner_id: str) -> None:
    """Insert ``count`` local contacts marked for push straight into the store (a bulk change)."""
    stamp = now_ms()
    async with world.agent.store.transaction() as db:
        await db.executemany(
            "INSERT INTO contacts(email, email_norm, first_name, lifecycle_stage, owner_id, created_by, source, "
            "created_at, updated_at, push_wanted) VALUES (?, ?, 'Bulk', 'lead', ?, ?, 'import', ?, ?, 1)",
            [(f"bulk{i}@example.org", norm_email(f"bulk{i}@example.org"), owner_id, user_id, stamp, stamp)
             for i in range(count)])


async def test_s12_hot_lead_overtakes_a_50000_backlog(short_tmp: Path) -> None:
    state, app = make_sandbox(contacts=50, rate_limit_per_10s=100)
    world = await connect_world(short_tmp, state, app, rate_limit_per_10s=100)
    try:
        async with RpcClient(world.agent.socket_path) as client:
            await client.call("sync.run", {"wait": True})
            user = await creator(client)
            await bulk_local_contacts(world, 50_000, user["id"], user["crm_owner_id"])
            await client.call("settings.update", {"score_threshold": 80})
            hot = await client.call("contacts.create", {"created_by": user["id"],
                                                        "fields": {"email": "hot@example.org", "lead_score": 5}})
            await world.agent.request_sync("interval", wait=False, pull=False)
            await wait_for(lambda: state.contact_count() > 150, 30)  # the backlog is draining
            status = await client.call("sync.status")
            assert status["backlog"]["pending_push"] > 40_000
            assert status["backlog"]["estimated_drain_s"] > 30
            assert status["backlog"]["oldest_changed_at"] is not None
            await client.call("contacts.score", {"id": hot["id"], "score": 85})
            landed: list[int] = []

            def hot_landed() -> bool:
                if state.find_contact_by_email("hot@example.org") is not None:
                    landed.append(state.contact_count())
                    return True
                return False

            await wait_for(hot_landed, 30)
            # ordering, not timing: the hot lead lands while the backlog has barely moved
            assert landed[0] < 50 + 5_000
            for _ in range(200):  # the CRM answered; the agent records the write right after
                log = await client.call("sync.log", {"contact_id": hot["id"]})
                if log:
                    break
                await asyncio.sleep(0.05)
            assert log[0]["trigger"] == "threshold"
    finally:
        await world.agent.stop()


async def test_s16_dry_run_before_first_sync_matches_the_run(short_tmp: Path) -> None:
    state, app = make_sandbox(contacts=3_000)
    world = await connect_world(short_tmp, state, app)
    try:
        async with RpcClient(world.agent.socket_path) as client:
            owner = (await client.call("crm.status"))["user_email"]
            user = await client.call("users.create", {"email": owner})
            shared = [state.get_contact(i).properties["email"] for i in state.live_contact_ids()[:120]]
            rows = [[n + 2, [email.upper(), "Shared"]] for n, email in enumerate(shared)]
            rows += [[n + 200, [f"local{n}@example.org", "Local"]] for n in range(380)]
            report = await client.call("contacts.import", {"as_user": user["id"], "header": ["Email", "First Name"],
                                                           "rows": rows})
            assert report["created"] == 500
            plan = await client.call("sync.plan")
            assert state.write_requests == 0
            assert plan["counts"]["local"] == {"create": 2_880, "link": 120}
            assert plan["counts"]["crm"] == {"create": 380}
            assert plan["field_counts"]["crm"]["email"] == 380
            assert len(await all_contacts(client)) == 500  # nothing written locally either
            planned_creates = {i["contact_id"] for i in plan["items"] if i["side"] == "crm"}
            run = await client.call("sync.run", {"wait": True})
            assert (run["created_local"], run["linked"], run["created_crm"]) == (2_880, 120, 380)
            log = await client.call("sync.log", {"sync_run_id": run["id"], "limit": 1000})
            assert {w["contact_id"] for w in log if w["op"] == "create"} == planned_creates
            again = await client.call("sync.plan")
            assert again["counts"] == {"local": {}, "crm": {}}
    finally:
        await world.agent.stop()


async def test_a_subscriber_that_never_reads_does_not_block_the_agent(synced_agent: CrmWorld,
                                                                     world_client: RpcClient) -> None:
    reader, writer = await asyncio.open_unix_connection(str(synced_agent.agent.socket_path))
    writer.write(b'{"jsonrpc": "2.0", "id": 1, "method": "events.subscribe"}\n')
    await writer.drain()
    await reader.readline()  # subscribed; from here on it reads nothing
    for _ in range(30):
        run = await world_client.call("sync.run", {"wait": True})
        assert run["status"] == "ok"
    contact = (await all_contacts(world_client))[0]
    for i in range(300):  # a flood of contact events
        await world_client.call("contacts.update", {"id": contact["id"], "fields": {"company": f"c{i}"}})
    assert (await world_client.call("agent.status"))["pid"] > 0
    writer.close()


async def test_events_stream_progress_and_run_end(synced_agent: CrmWorld) -> None:
    async with RpcClient(synced_agent.agent.socket_path) as client:
        await client.call("events.subscribe")
        synced_agent.state.update_contact(synced_agent.state.live_contact_ids()[0], {"company": "Evented"})
        await client.call("sync.run", {"wait": True})
        seen = []
        async for event in client.events():
            seen.append(event["type"])
            if event["type"] == "run_finished":
                break
    assert seen[0] == "run_started" and "progress" in seen and "contacts_changed" in seen


async def test_a_spent_daily_quota_stops_syncs_until_it_resets_and_says_so(synced_agent: CrmWorld,
                                                                          world_client: RpcClient) -> None:
    synced_agent.faults.daily_limit = 0  # HubSpot answers 429 with policyName DAILY from now on
    synced_agent.state.update_contact(synced_agent.state.live_contact_ids()[0], {"company": "After Quota"})
    run = await world_client.call("sync.run", {"wait": True})
    assert run["status"] == "failed" and "CrmQuotaExhaustedError" in run["error"]
    requests = sum(synced_agent.state.requests.values())
    with pytest.raises(RpcError) as err:
        await world_client.call("sync.run", {"wait": True})
    assert err.value.code == RpcCode.CRM_RATE_LIMITED and "daily API quota is spent" in err.value.message
    status = await world_client.call("sync.status")
    assert status["quota_blocked_until"] > run["finished_at"]
    assert sum(synced_agent.state.requests.values()) == requests  # nothing more was sent
