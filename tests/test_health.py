"""``sync.health``: connection state, API budget, backlog, last runs and open errors by cause, each problem with
its next step; and the call counts behind the budget (:class:`ApiUsage`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from leadsync.agent.connectors.ratelimit import RateLimit
from leadsync.agent.connectors.usage import ApiUsage
from leadsync.common.instants import now_ms
from leadsync.common.rpc import RpcClient
from tests.conftest import CrmWorld, connect_side


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_usage_counts_each_window_and_each_hour() -> None:
    clock = FakeClock(10 * 3600.0)
    usage = ApiUsage(clock=clock).counting({"default": RateLimit(100, 10.0), "hour": RateLimit(5000, 3600.0)})
    for _ in range(3):
        usage.note(("default", "hour"))
    clock.now += 11  # out of the 10 s window, inside the hour
    usage.note(("default",))
    snap = usage.snapshot()
    windows = {w.name: (w.used, w.left, w.limit) for w in snap.windows}
    assert windows == {"default": (1, 99, 100), "hour": (3, 4997, 5000)}
    assert snap.calls_per_hour[-1] == 4 and snap.day_calls == 4 and len(snap.calls_per_hour) == 24
    clock.now += 3600  # the next hour: the count moves one bar left
    snap = usage.snapshot()
    assert snap.calls_per_hour[-2:] == [4, 0]
    assert {w.name: w.used for w in snap.windows} == {"default": 0, "hour": 0}


def test_usage_reads_back_past_runs_into_the_chart() -> None:
    clock = FakeClock(100 * 3600.0)
    usage = ApiUsage(clock=clock)
    usage.seed([((100 * 3600 - 7200) * 1000, 40), ((100 * 3600 - 30 * 3600) * 1000, 9)])
    snap = usage.snapshot()
    assert snap.calls_per_hour[-3] == 40 and snap.day_calls == 40  # 30 h ago is outside the chart
    assert snap.since == (100 * 3600 - 30 * 3600) * 1000


async def test_no_crm_says_to_connect_one(client: RpcClient) -> None:
    health = await client.call("sync.health")
    assert health["connection"]["state"] == "not_connected"
    (problem,) = [p for p in health["problems"] if p["area"] == "connection"]
    assert "crm.connect" in problem["next_step"]
    assert health["budget"]["windows"] == [] and health["runs"] == [] and health["errors"] == []


async def test_synced_world_counts_the_calls_and_shows_the_runs(synced_agent: CrmWorld,
                                                                world_client: RpcClient) -> None:
    health = await world_client.call("sync.health")
    assert health["connection"]["state"] == "ok" and health["problems"] == []
    run = health["runs"][0]
    assert run["status"] == "ok" and not run["problem"]
    windows = {w["name"]: w for w in health["budget"]["windows"]}
    assert set(windows) == {"default", "search"} and windows["default"]["limit"] == 100_000
    # every call of the run, plus those of crm.connect, fell in the last hour or two
    assert sum(health["budget"]["calls_per_hour"][-2:]) == health["budget"]["day_calls"] > run["api_calls"] > 0
    quota = health["budget"]["quota"]  # the sandbox's day quota (X-HubSpot-RateLimit-Daily), as it counted
    assert (quota["limit"], quota["used"]) == (250_000, health["budget"]["day_calls"])


async def test_errors_grouped_by_cause_with_a_sample_and_the_retry(synced_agent: CrmWorld,
                                                                   world_client: RpcClient) -> None:
    user = await world_client.call("users.create", {"email": "nobody@corp.example"})  # no CRM owner matches
    ids = [(await world_client.call("contacts.create", {"created_by": user["id"],
                                                         "fields": {"email": f"held{i}@example.org"}}))["id"]
           for i in range(2)]
    partial = await world_client.call("sync.run", {"wait": True})
    assert partial["status"] == "partial"
    health = await world_client.call("sync.health")
    (group,) = health["errors"]
    assert (group["code"], group["errors"], group["contacts"]) == ("no_owner", 2, 2)
    assert group["sample"]["contact_id"] in ids and group["retry"] == {"code": "no_owner"}
    assert "fallback_owner" in group["next_step"] and "leadsync errors retry --code no_owner" in group["next_step"]
    assert health["runs"][0]["problem"] and health["runs"][0]["status"] == "partial"
    areas = [p["area"] for p in health["problems"]]
    assert areas == ["runs", "errors"]
    assert all(p["next_step"].endswith(".") for p in health["problems"])


async def test_needs_reauth_and_a_spent_quota_say_what_to_do(synced_agent: CrmWorld,
                                                             world_client: RpcClient) -> None:
    agent = synced_agent.agent
    agent.quota_blocked_until_ms = now_ms() + 3_600_000
    health = await world_client.call("sync.health")
    assert health["connection"]["state"] == "quota_spent"
    assert health["connection"]["quota_blocked_until"] == agent.quota_blocked_until_ms
    assert "start again by themselves" in health["problems"][0]["next_step"]
    await agent.set_connection_status("needs_reauth")
    health = await world_client.call("sync.health")
    assert health["connection"]["state"] == "needs_reauth"
    assert "crm.reauth" in health["problems"][0]["next_step"]


async def test_the_daily_quota_the_crm_reports_and_its_problem_near_the_end(synced_agent: CrmWorld,
                                                                            world_client: RpcClient) -> None:
    synced_agent.faults.daily_limit = 1_000  # what the sandbox reports in X-HubSpot-RateLimit-Daily(-Remaining)
    await world_client.call("sync.run", {"wait": True})
    health = await world_client.call("sync.health")
    quota = health["budget"]["quota"]
    assert (quota["limit"], quota["used"], quota["left"]) == (1_000, health["budget"]["day_calls"],
                                                              1_000 - health["budget"]["day_calls"])
    assert health["problems"] == []
    synced_agent.agent.api_usage.note_quota(95, 100)
    (problem,) = (await world_client.call("sync.health"))["problems"]
    assert problem["area"] == "budget" and "95 of its 100" in problem["message"]
    assert "sync_interval_minutes" in problem["next_step"]


@pytest.mark.parametrize("crm", ["salesforce", "autotask"])
async def test_each_crm_shows_its_own_limits(short_tmp: Path, crm: str) -> None:
    from tests.crm_worlds import make_side

    world = await connect_side(short_tmp, make_side(crm, contacts=20))
    try:
        async with RpcClient(world.agent.socket_path) as client:
            await client.call("sync.run", {"wait": True})
            budget: dict[str, Any] = (await client.call("sync.health"))["budget"]
    finally:
        await world.agent.stop()
    windows = {w["name"]: w for w in budget["windows"]}
    if crm == "autotask":  # a rolling hour, as Autotask counts its threshold
        assert windows["hour"]["period_s"] == 3600 and windows["hour"]["used"] > 0
        assert budget["quota"] is None
    else:  # Salesforce reports its rolling 24 h allocation on every answer (Sforce-Limit-Info)
        assert budget["quota"]["limit"] > budget["quota"]["used"] > 0
