"""Push rules and scheduling (issue 4): manual, interval, threshold and to-do pushes, the master switch,
priority, attribution, the dry run (case S16) and the scheduler."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_SUBMITTED, JobSubmissionEvent

from leadsync.agent import lifecycle
from leadsync.agent.daemon import INTERVAL_JOB
from leadsync.common.emails import normalize_email as norm_email
from leadsync.common.errors import RpcCode
from leadsync.common.instants import now_ms
from leadsync.common.rpc import RpcClient, RpcError
from tests.conftest import SideWorld, connect_side
from tests.crm_worlds import make_side, plain_text_field
from tests.test_ownership import owners, user_for
from tests.test_sync import all_contacts
from tests.waiting import eventually, run_finished, run_started


async def creator(client: RpcClient) -> dict[str, Any]:
    owner = next(o for o in await owners(client) if o["active"])
    return await user_for(client, owner)


async def fire_interval_job(world: SideWorld) -> str:
    """Make the interval job due now and wait for the scheduler's decision: ``"submitted"``, or
    ``"skipped"`` while the job's last run still runs (max_instances=1)."""
    decided: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_decision(event: JobSubmissionEvent) -> None:
        if event.job_id == INTERVAL_JOB and not decided.done():
            decided.set_result("submitted" if event.code == EVENT_JOB_SUBMITTED else "skipped")

    scheduler = world.agent.scheduler
    scheduler.add_listener(on_decision, EVENT_JOB_SUBMITTED | EVENT_JOB_MAX_INSTANCES)
    try:
        scheduler.get_job(INTERVAL_JOB).modify(next_run_time=dt.datetime.now(dt.UTC))
        return await asyncio.wait_for(decided, 10)
    finally:
        scheduler.remove_listener(on_decision)


def with_company(contacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The contacts whose CRM record has a company (a Salesforce Contact has none: its company is its Account)."""
    return [c for c in contacts if c["company"] is not None]


async def history(client: RpcClient) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = await client.call("sync.history", {"limit": 100})
    return runs


async def test_interval_change_takes_effect_without_restart(crm_world: SideWorld, crm_client: RpcClient) -> None:
    job = crm_world.agent.scheduler.get_job(INTERVAL_JOB)
    assert job.trigger.interval == dt.timedelta(minutes=60)
    await crm_client.call("settings.update", {"sync_interval_minutes": 10})
    job = crm_world.agent.scheduler.get_job(INTERVAL_JOB)
    assert job.trigger.interval == dt.timedelta(minutes=10)
    assert job.coalesce is True and job.max_instances == 1  # a missed run is not run twice
    now = dt.datetime(2026, 3, 8, 6, 55, tzinfo=dt.UTC)  # a controllable clock: the trigger's own arithmetic
    assert job.trigger.get_next_fire_time(now, now) == now + dt.timedelta(minutes=10)
    status = await crm_client.call("sync.status")
    assert status["interval_minutes"] == 10 and status["next_interval_run"] is not None
    await crm_client.call("settings.update", {"sync_interval_minutes": 1440})
    assert crm_world.agent.scheduler.get_job(INTERVAL_JOB).trigger.interval == dt.timedelta(days=1)


async def test_scheduler_fires_and_coalesces_with_a_running_sync(crm_world: SideWorld,
                                                                 crm_client: RpcClient) -> None:
    crm_world.faults.latency_ms = 30  # long enough for the second firing to land during the first run
    await crm_client.call("events.subscribe")
    assert await fire_interval_job(crm_world) == "submitted"
    await run_started(crm_client, "interval")
    assert await fire_interval_job(crm_world) == "skipped"
    joined = await crm_client.call("sync.run", {"wait": True})  # a manual full run asked for meanwhile
    assert joined["trigger"] == "interval"
    assert crm_world.agent.current_run is None and not crm_world.agent._queue
    runs = await history(crm_client)
    assert [r["trigger"] for r in runs] == ["interval"]
    assert runs[0]["pulled"] == crm_world.crm.count() and runs[0]["status"] == "ok"


async def test_push_disabled_means_zero_writes_from_every_trigger(crm_synced: SideWorld,
                                                                  crm_client: RpcClient) -> None:
    user = await creator(crm_client)
    await crm_client.call("settings.update", {"push_enabled": False, "score_threshold": 50})
    writes = crm_synced.crm.writes()
    new = await crm_client.call("contacts.create", {"created_by": user["id"], "fields": {
        "email": "quiet@example.org", "first_name": "Q", "last_name": "Quiet", "company": "Hush",
        "phone": "+1 555 0106", "lead_score": 1}})
    contacts = with_company(await all_contacts(crm_client))
    edited, assignee = contacts[7], user
    if crm_synced.crm.crm == "autotask":
        # an Autotask contact's owner is its company's: a to-do cannot move it (the record fails alone, see
        # test_ownership), so here the to-do goes to the contact's own owner
        others = {o["crm_id"]: o for o in await owners(crm_client)
                  if o["active"] and o["crm_id"] != user["crm_owner_id"]}
        edited = next(c for c in contacts[7:] if c["owner_id"] in others)
        assignee = await user_for(crm_client, others[edited["owner_id"]])
    field = plain_text_field(crm_synced.crm.crm)
    await crm_client.call("contacts.update", {"id": edited["id"], "fields": {field: "Quiet Co"}})
    # manual
    with pytest.raises(RpcError) as err:
        await crm_client.call("contacts.push", {"ids": [new["id"]]})
    assert err.value.code == RpcCode.PUSH_DISABLED and "push is disabled" in err.value.message
    # threshold
    scored = await crm_client.call("contacts.score", {"id": new["id"], "score": 99})
    assert scored["threshold_push"] is False
    # to-do
    answer = await crm_client.call("todos.assign", {"contact_id": edited["id"], "assignee": assignee["id"],
                                                    "title": "t"})
    assert answer["pushed"] is False
    # interval: still pulls (a CRM edit of another field than the local one: no conflict)
    pulled = "first_name" if field == "job_title" else "job_title"
    crm_synced.crm.set(edited["crm_id"], {pulled: "Pulled Anyway"})
    before = len(await history(crm_client))
    await crm_client.call("events.subscribe")
    assert await fire_interval_job(crm_synced) == "submitted"
    finished = await run_finished(crm_client, "interval")
    runs = await history(crm_client)
    assert len(runs) == before + 1 and runs[0]["id"] == finished["id"]
    assert runs[0]["trigger"] == "interval" and runs[0]["updated_local"] == 1
    assert crm_synced.crm.writes() == writes
    # back on: what accumulated goes out
    await crm_client.call("settings.update", {"push_enabled": True})
    await run_finished(crm_client, "interval")
    assert crm_synced.crm.find("quiet@example.org") is not None
    assert crm_synced.crm.get(edited["crm_id"])[field] == "Quiet Co"


async def test_each_trigger_is_attributed(crm_synced: SideWorld, crm_client: RpcClient) -> None:
    await crm_client.call("settings.update", {"score_threshold": "hot"})  # a named interest level: 70
    contacts = with_company(await all_contacts(crm_client))
    manual, hot, todo, interval = contacts[10], contacts[11], contacts[12], contacts[13]
    listed = await owners(crm_client)
    if crm_synced.crm.crm == "autotask":
        # an Autotask contact's owner is its company's: a to-do cannot move it (the record fails alone, see
        # test_ownership), so the assignee already owns the contact and the to-do push carries a pending edit
        active = {o["crm_id"] for o in listed if o["active"]}
        todo, interval = [c for c in contacts[12:] if c["owner_id"] in active][:2]
    field = plain_text_field(crm_synced.crm.crm)
    await crm_client.call("contacts.update", {"id": manual["id"], "fields": {field: "By Hand"}})
    await crm_client.call("contacts.push", {"ids": [manual["id"]]})
    await crm_client.call("contacts.update", {"id": hot["id"], "fields": {"lead_score": 10}})
    await crm_client.call("sync.run", {"wait": True})  # pushes the score 10 as a plain manual full run
    # the threshold push writes the score; Autotask maps no lead score, so there it carries a pending edit
    hot_edit = ("lead_score", "75") if "lead_score" in crm_synced.crm.names else (field, "Scored Hot")
    if hot_edit[0] != "lead_score":
        await crm_client.call("contacts.update", {"id": hot["id"], "fields": {field: "Scored Hot"}})
    await crm_client.call("events.subscribe")
    result = await crm_client.call("contacts.score", {"id": hot["id"], "score": 75})
    assert result["threshold_push"] is True
    await run_finished(crm_client, "threshold")
    assert crm_synced.crm.get(hot["crm_id"])[hot_edit[0]] == hot_edit[1]
    if crm_synced.crm.crm == "autotask":
        other = next(o for o in listed if o["crm_id"] == todo["owner_id"])
        await crm_client.call("contacts.update", {"id": todo["id"], "fields": {field: "To Do"}})
    else:
        other = next(o for o in listed if o["active"] and o["crm_id"] != todo["owner_id"])
    assignee = await user_for(crm_client, other)
    await crm_client.call("todos.assign", {"contact_id": todo["id"], "assignee": assignee["id"], "title": "go"})
    await crm_client.call("contacts.update", {"id": interval["id"], "fields": {field: "On Schedule"}})
    assert await fire_interval_job(crm_synced) == "submitted"
    await run_finished(crm_client, "interval")
    assert crm_synced.crm.get(interval["crm_id"])[field] == "On Schedule"
    triggers = {}
    for contact in (manual, hot, todo, interval):
        log = await crm_client.call("sync.log", {"contact_id": contact["id"]})
        triggers[contact["id"]] = log[0]["trigger"]
    assert triggers == {manual["id"]: "manual", hot["id"]: "threshold", todo["id"]: "todo",
                        interval["id"]: "interval"}
    runs = await history(crm_client)
    assert {"manual", "threshold", "todo", "interval"} <= {r["trigger"] for r in runs}
    assert all(r["finished_at"] >= r["started_at"] for r in runs)


async def bulk_local_contacts(world: SideWorld, count: int, user_id: int, owner_id: str) -> None:
    """Insert ``count`` local contacts marked for push straight into the store (a bulk change)."""
    stamp = now_ms()
    async with world.agent.store.transaction() as db:
        await db.executemany(
            "INSERT INTO contacts(email, email_norm, first_name, last_name, company, phone, lifecycle_stage, "
            "owner_id, created_by, source, created_at, updated_at, push_wanted) "
            "VALUES (?, ?, 'Bulk', 'Backlog', 'Bulk Co', '+1 555 0107', 'lead', ?, ?, 'import', ?, ?, 1)",
            [(f"bulk{i}@example.org", norm_email(f"bulk{i}@example.org"), owner_id, user_id, stamp, stamp)
             for i in range(count)])


@pytest.mark.slow  # 1 to 12 s per CRM: 50,000 local contacts in the backlog
async def test_s12_hot_lead_overtakes_a_50000_backlog(short_tmp: Path, crm_name: str) -> None:
    # the connector's own limit paces every CRM; HubSpot's sandbox also enforces HubSpot's 100 per 10 s
    side = make_side(crm_name, contacts=50, **({"rate_limit_per_10s": 100} if crm_name == "hubspot" else {}))
    world = await connect_side(short_tmp, side, rate_limit_per_10s=100)
    try:
        async with RpcClient(world.agent.socket_path) as client:
            await client.call("sync.run", {"wait": True})
            seeded = side.count()
            user = await creator(client)
            await bulk_local_contacts(world, 50_000, user["id"], user["crm_owner_id"])
            await client.call("settings.update", {"score_threshold": 80})
            hot = await client.call("contacts.create", {"created_by": user["id"], "fields": {
                "email": "hot@example.org", "first_name": "H", "last_name": "Hot", "company": "Hotco",
                "phone": "+1 555 0108", "lead_score": 5}})
            await client.call("events.subscribe")
            await world.agent.request_sync("interval", wait=False, pull=False)
            # the backlog is draining (Autotask writes one contact a request, after its look-ups: about 30
            # contacts per 10 s at this rate)
            pushed = 20 if crm_name == "autotask" else 100
            # (read at the CRM, not from the agent's progress events: the drain estimate below is taken this
            # early in the run, while the first batches are still in flight)
            await eventually(lambda: side.count() > seeded + pushed, timeout_s=30, what=f"{pushed} contacts pushed")
            status = await client.call("sync.status")
            assert status["backlog"]["pending_push"] > 40_000
            drain_s = status["backlog"]["estimated_drain_s"]
            assert status["backlog"]["oldest_changed_at"] is not None
            await client.call("contacts.score", {"id": hot["id"], "score": 85})
            await run_finished(client, "threshold")
            landed = side.count()
            assert side.find("hot@example.org") is not None
            # ordering, not timing: the hot lead lands while the backlog has barely moved
            assert landed < seeded + 5_000
            log = await client.call("sync.log", {"contact_id": hot["id"]})
            assert log[0]["trigger"] == "threshold"
    finally:
        await world.agent.stop()
    # at 100 requests per 10 s, 50,000 contacts take over a minute to push
    assert drain_s > 30


async def test_s16_dry_run_before_first_sync_matches_the_run(short_tmp: Path, crm_name: str) -> None:
    side = make_side(crm_name, contacts=3_000)
    world = await connect_side(short_tmp, side)
    try:
        async with RpcClient(world.agent.socket_path) as client:
            owner = (await client.call("crm.status"))["user_email"]
            user = await client.call("users.create", {"email": owner})
            live = side.count()
            shared_ids = [i for i in side.ids() if side.get(i)["email"]][:120]  # Autotask: some have none
            shared = [side.get(i)["email"] for i in shared_ids]
            rows = [[n + 2, [email.upper(), "Shared", "", "", ""]] for n, email in enumerate(shared)]
            rows += [[n + 200, [f"local{n}@example.org", "Local", "Only", "Localco", "+1 555 0109"]]
                     for n in range(380)]  # Autotask: the new company needs a phone
            report = await client.call("contacts.import", {"as_user": user["id"], "rows": rows, "header": [
                "Email", "First Name", "Last Name", "Company", "Phone"]})
            assert report["created"] == 500
            plan = await client.call("sync.plan")
            assert side.writes() == 0
            assert plan["counts"]["local"] == {"create": live - 120, "link": 120}
            # a first link keeps the later lifecycle stage on both sides: the shared CRM contacts whose stage
            # ranks below the imported one's are moved forward (never back), and only those are updated
            imported_stage = (await all_contacts(client))[0]["lifecycle_stage"]
            promoted = sum(lifecycle.is_demotion(imported_stage, side.get(i).get("lifecycle_stage"))
                           for i in shared_ids)
            assert plan["counts"]["crm"] == {"create": 380} | ({"update": promoted} if promoted else {})
            assert plan["field_counts"]["crm"][side.names["email"]] == 380
            assert len(await all_contacts(client)) == 500  # nothing written locally either
            planned_creates = {i["contact_id"] for i in plan["items"] if i["side"] == "crm" and i["op"] == "create"}
            planned_updates = {i["contact_id"] for i in plan["items"] if i["side"] == "crm" and i["op"] == "update"}
            run = await client.call("sync.run", {"wait": True})
            assert (run["created_local"], run["linked"], run["created_crm"]) == (live - 120, 120, 380)
            assert run["updated_crm"] == promoted
            log = await client.call("sync.log", {"sync_run_id": run["id"], "limit": 1000})
            assert {w["contact_id"] for w in log if w["op"] == "create"} == planned_creates
            assert {w["contact_id"] for w in log if w["op"] == "update"} == planned_updates
            again = await client.call("sync.plan")
            assert again["counts"] == {"local": {}, "crm": {}}
    finally:
        await world.agent.stop()


async def test_a_subscriber_that_never_reads_does_not_block_the_agent(crm_synced: SideWorld,
                                                                      crm_client: RpcClient) -> None:
    reader, writer = await asyncio.open_unix_connection(str(crm_synced.agent.socket_path))
    writer.write(b'{"jsonrpc": "2.0", "id": 1, "method": "events.subscribe"}\n')
    await writer.drain()
    await reader.readline()  # subscribed; from here on it reads nothing
    for _ in range(30):
        run = await crm_client.call("sync.run", {"wait": True})
        assert run["status"] == "ok"
    contact = (await all_contacts(crm_client))[0]
    for i in range(300):  # a flood of contact events
        await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"company": f"c{i}"}})
    assert (await crm_client.call("agent.status"))["pid"] > 0
    writer.close()


async def test_events_stream_progress_and_run_end(crm_synced: SideWorld) -> None:
    async with RpcClient(crm_synced.agent.socket_path) as client:
        await client.call("events.subscribe")
        crm_synced.crm.set(crm_synced.crm.ids()[0], {"job_title": "Evented"})
        await client.call("sync.run", {"wait": True})
        seen = []
        async for event in client.events():
            seen.append(event["type"])
            if event["type"] == "run_finished":
                break
    assert seen[0] == "run_started" and "progress" in seen and "contacts_changed" in seen


async def test_a_spent_daily_quota_stops_syncs_until_it_resets_and_says_so(crm_synced: SideWorld,
                                                                           crm_client: RpcClient) -> None:
    if crm_synced.crm.crm == "autotask":
        pytest.skip("Autotask has no daily quota: its limit is a threshold per rolling hour (429 + Retry-After), "
                    "which the connector paces and retries (tests/autotask)")
    # from now on HubSpot answers 429 with policyName DAILY, Salesforce 403 REQUEST_LIMIT_EXCEEDED, Zoho 429
    # (daily API credits)
    crm_synced.faults.daily_limit = 0
    crm_synced.crm.set(crm_synced.crm.ids()[0], {"job_title": "After Quota"})
    run = await crm_client.call("sync.run", {"wait": True})
    assert run["status"] == "failed" and "CrmQuotaExhaustedError" in run["error"]
    requests = crm_synced.crm.requests()
    with pytest.raises(RpcError) as err:
        await crm_client.call("sync.run", {"wait": True})
    assert err.value.code == RpcCode.CRM_RATE_LIMITED and "daily API quota is spent" in err.value.message
    status = await crm_client.call("sync.status")
    assert status["quota_blocked_until"] > run["finished_at"]
    assert crm_synced.crm.requests() == requests  # nothing more was sent
