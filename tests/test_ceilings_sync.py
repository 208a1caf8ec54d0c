"""A full pull against a sandbox at a tight quota (Salesforce's rolling 24 h, Zoho's credits, Autotask's hourly
threshold, each scaled down to a 2 s window so the pull needs several windows) ends ``ok`` with every record,
the sandbox never refusing a call: no 403 ``REQUEST_LIMIT_EXCEEDED``, no 429, nothing reaching the user. A
quota spent for hours stops the run with when it resumes, no record failed and no refusal drawn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from leadsync.common.rpc import RpcClient
from tests.conftest import connect_side
from tests.crm_worlds import make_side

QUOTA = 6
"""Requests a window: below what a pull of the seeded records needs, so it spans several windows."""
WINDOW_S = 2
TIGHT: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # crm: (sandbox switches, connector options)
    "salesforce": ({"daily_limit": QUOTA, "quota_window_s": WINDOW_S, "query_page_size": 200},
                   {"quota_window_s": float(WINDOW_S)}),  # the allocation itself comes from Sforce-Limit-Info
    "zoho": ({"daily_limit": QUOTA, "credits_window_s": WINDOW_S},
             {"credits_per_day": QUOTA, "credits_window_s": float(WINDOW_S), "page_size": 50}),
    "autotask": ({"hourly_threshold": QUOTA, "threshold_window_s": WINDOW_S, "page_size": 100},
                 {"threshold_window_s": float(WINDOW_S)}),  # the threshold comes from ThresholdInformation
}


@pytest.mark.parametrize("crm", sorted(TIGHT))
async def test_a_pull_at_a_tight_quota_waits_for_the_window_and_no_refusal_reaches_the_user(
        short_tmp: Path, crm: str) -> None:
    switches, options = TIGHT[crm]
    side = make_side(crm, contacts=400, **switches)
    world = await connect_side(short_tmp, side, **options)
    try:
        async with RpcClient(world.agent.socket_path) as client:
            run = await client.call("sync.run", {"wait": True}, timeout_s=120)
    finally:
        await world.agent.stop()
    assert run["status"] == "ok" and run["failed"] == 0, run
    assert run["created_local"] == side.count()
    counts = side.state.status_counts
    assert counts[403] == 0 and counts[429] == 0, dict(counts)
    assert side.requests() > QUOTA  # the quota was binding: the connection and pull spanned several windows


async def test_a_quota_spent_for_hours_stops_the_run_with_when_it_resumes(short_tmp: Path) -> None:
    side = make_side("salesforce", contacts=400, daily_limit=8, query_page_size=200)  # a real 24 h window
    world = await connect_side(short_tmp, side)
    try:
        async with RpcClient(world.agent.socket_path) as client:
            run = await client.call("sync.run", {"wait": True}, timeout_s=120)
            health = await client.call("sync.health")
    finally:
        await world.agent.stop()
    assert run["status"] == "failed" and run["failed"] == 0, run
    assert "API quota spent (8 of 8 requests in the rolling 24 h); resumes at" in run["error"], run
    assert side.state.status_counts[403] == 0
    assert health is not None
