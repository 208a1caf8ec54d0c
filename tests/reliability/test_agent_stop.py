"""Stopping the agent in the middle of things: a cut-short run is recorded as interrupted, and callers waiting
for syncs that never ran get an answer instead of waiting forever."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from leadsync.agent.daemon import Agent
from leadsync.common.errors import LeadsyncError
from leadsync.common.rpc import RpcClient
from tests.conftest import connect_side
from tests.crm_worlds import make_side
from tests.waiting import eventually, run_started


async def test_stop_during_a_run_records_it_interrupted_with_what_it_committed(short_tmp: Path,
                                                                              crm_name: str) -> None:
    side = make_side(crm_name, contacts=3000, latency_ms=10)
    live = side.count()
    world = await connect_side(short_tmp, side)
    agent = world.agent
    async with RpcClient(agent.socket_path) as client:
        await client.call("events.subscribe", {})
        await agent.request_sync("manual", wait=False)
        run_id = None
        async for event in client.events():
            if event.get("type") == "progress" and event["done"] >= 200:
                run_id = event["run_id"]
                break

    await agent.stop()

    restarted = Agent(agent.data_dir, agent.socket_path, connector_options=agent.connector_options)
    await restarted.start()
    try:
        row = await restarted.store.fetchone("SELECT status, error FROM sync_runs WHERE id = ?", (run_id,))
        kept = await restarted.store.scalar("SELECT count(*) FROM contacts")
        finished = await restarted.request_sync("manual", wait=True)
    finally:
        await restarted.stop()
    assert (row["status"], row["error"]) == ("interrupted", "stopped by agent shutdown")
    assert 200 <= kept < live
    assert finished.status == "ok" and kept + finished.created_local == live


async def test_syncs_waiting_in_the_queue_fail_when_the_agent_stops(short_tmp: Path, crm_name: str) -> None:
    # 100 ms a request: the run takes seconds on every CRM (Autotask and Salesforce pull 2,000 records in a
    # few pages, which 10 ms let finish before the stop); the stop comes once it is under way
    world = await connect_side(short_tmp, make_side(crm_name, contacts=2000, latency_ms=100))
    agent = world.agent
    async with RpcClient(agent.socket_path) as client:
        await client.call("events.subscribe", {})
        running = asyncio.ensure_future(agent.request_sync("manual", wait=True))
        await run_started(client, "manual")
    assert agent.current_run is not None
    joined = asyncio.ensure_future(agent.request_sync("manual", wait=True, pull=False))  # joins the running run
    # given contacts and not urgent: the running run does not cover it, so it waits in the queue
    queued = asyncio.ensure_future(agent.request_sync("interval", wait=True, pull=False, contact_ids=[1]))
    await eventually(lambda: len(agent._queue) == 1, what="the request in the queue")

    await agent.stop()

    for waiter in (running, joined, queued):
        with pytest.raises((LeadsyncError, asyncio.CancelledError)):
            await asyncio.wait_for(waiter, 5)
    assert "the agent stopped before this sync could run" in str(queued.exception())
