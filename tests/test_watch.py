"""The watch pull (:mod:`leadsync.agent.watch`) on every CRM's sandbox: a CRM edit arrives with the next tick,
a tick when nothing changed costs at most 2 calls and stays out of the history, a tick never queues behind
another run or runs while the quota is spent, quiet ticks are pruned after 24 h, and the setting's range."""

from __future__ import annotations

import asyncio

import pytest

from leadsync.agent.daemon import Agent
from leadsync.agent.watch import QUIET_KEEP_MS, WATCH_JOB
from leadsync.common.instants import now_ms
from leadsync.common.rpc import RpcClient, RpcError
from tests.conftest import SideWorld


async def test_a_crm_edit_arrives_with_the_next_tick_and_a_quiet_tick_costs_two_calls_at_most(
        crm_synced: SideWorld, crm_client: RpcClient) -> None:
    agent, side = crm_synced.agent, crm_synced.crm
    contact = (await crm_client.call("contacts.list", {"filter": {"sync_state": "synced"}, "limit": 1}))["contacts"][0]
    quiet = await agent.watch.tick()
    assert quiet is not None and (quiet.trigger, quiet.status) == ("watch", "ok")
    assert 1 <= quiet.api_calls <= 2, quiet
    assert (quiet.created_local, quiet.updated_local, quiet.created_crm, quiet.updated_crm) == (0, 0, 0, 0)
    side.set(contact["crm_id"], {"phone": "+1 555 0199"})
    # a pull reads up to its start, exclusive (HubSpot: lastmodifieddate LT T): an edit in the same
    # millisecond as the tick comes with the tick after, so the tick here starts a few ms later
    await asyncio.sleep(0.005)
    changed = await agent.watch.tick()
    assert changed is not None and changed.updated_local == 1 and changed.created_crm == changed.updated_crm == 0
    assert (await crm_client.call("contacts.get", {"id": contact["id"]}))["phone"] == "+1 555 0199"

    shown = [r["id"] for r in await crm_client.call("sync.history", {"limit": 10})]
    assert changed.id in shown and quiet.id not in shown
    every = [r["id"] for r in await crm_client.call("sync.history", {"limit": 10, "include_quiet": True})]
    assert every[:2] == [changed.id, quiet.id]
    status = await crm_client.call("sync.status")
    assert status["last"]["id"] == changed.id  # a quiet tick does not hide the last run that changed something
    assert status["watch"] == {"interval_s": 60, "runs_24h": 2, "api_calls_24h": quiet.api_calls + changed.api_calls,
                               "calls_per_run": round((quiet.api_calls + changed.api_calls) / 2, 2),
                               "changed_runs_24h": 1, "last_at": changed.started_at}


async def test_a_tick_never_queues_and_waits_out_a_spent_quota(crm_synced: SideWorld, crm_client: RpcClient) -> None:
    agent = crm_synced.agent
    started = await crm_client.call("sync.run", {"wait": False})
    assert started["status"] in ("running", "queued")
    assert await agent.watch.tick() is None  # a run is running: it pulls anyway
    await crm_client.call("sync.run", {"wait": True})  # joins or follows it; the queue is empty after
    agent.quota_blocked_until_ms = now_ms() + 3_600_000
    assert await agent.watch.tick() is None
    agent.quota_blocked_until_ms = None
    assert await agent.watch.tick() is not None


async def test_quiet_ticks_older_than_a_day_are_pruned(crm_synced: SideWorld, crm_client: RpcClient) -> None:
    agent = crm_synced.agent
    old = await agent.watch.tick()
    assert old is not None
    async with agent.store.transaction() as db:
        await db.execute("UPDATE sync_runs SET started_at = ? WHERE id = ?", (now_ms() - QUIET_KEEP_MS - 1, old.id))
    new = await agent.watch.tick()
    assert new is not None
    every = [r["id"] for r in await crm_client.call("sync.history", {"limit": 50, "include_quiet": True})]
    assert new.id in every and old.id not in every


async def test_the_interval_setting_schedules_the_watch(agent: Agent, client: RpcClient) -> None:
    job = agent.scheduler.get_job(WATCH_JOB)
    assert job is not None and job.trigger.interval.total_seconds() == 60  # the default
    with pytest.raises(RpcError, match="watch_interval_seconds: 10 is out of range; allowed 15 to 600 seconds"):
        await client.call("settings.update", {"watch_interval_seconds": 10})
    await client.call("settings.update", {"watch_interval_seconds": 15})
    assert agent.scheduler.get_job(WATCH_JOB).trigger.interval.total_seconds() == 15
    await client.call("settings.update", {"watch_interval_seconds": 0})
    assert agent.scheduler.get_job(WATCH_JOB) is None
    assert (await client.call("settings.get"))["watch_interval_seconds"] == 0
    assert await agent.watch.tick() is None  # no CRM connected
