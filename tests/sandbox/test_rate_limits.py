"""HubSpot's rate limits: headers on every answer, 429 bodies naming the policy, Retry-After."""

from __future__ import annotations

import httpx

from leadsync.agent.connectors.hubspot.sandbox import FaultSwitches, ManualClock

LIST = "/crm/v3/objects/contacts"
SEARCH = "/crm/v3/objects/contacts/search"


async def test_every_answer_carries_decreasing_rate_limit_headers(
    client: httpx.AsyncClient, faults: FaultSwitches
) -> None:
    faults.rate_limit_per_10s = 100
    faults.daily_limit = 500_000
    first = await client.get(LIST)
    second = await client.get(LIST)
    missing = await client.get(f"{LIST}/424242")
    for answer in (first, second, missing):
        assert answer.headers["X-HubSpot-RateLimit-Max"] == "100"
        assert answer.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert answer.headers["X-HubSpot-RateLimit-Daily"] == "500000"
    remaining = [int(a.headers["X-HubSpot-RateLimit-Remaining"]) for a in (first, second, missing)]
    assert remaining == [99, 98, 97]
    assert int(second.headers["X-HubSpot-RateLimit-Daily-Remaining"]) == 499_998


async def test_over_the_ten_second_window_answers_429_secondly(
    client: httpx.AsyncClient, faults: FaultSwitches, clock: ManualClock
) -> None:
    faults.rate_limit_per_10s = 3
    for _ in range(3):
        assert (await client.get(LIST)).status_code == 200
    refused = await client.get(LIST)
    assert refused.status_code == 429
    body = refused.json()
    assert body["status"] == "error" and body["policyName"] == "SECONDLY" and body["errorType"] == "RATE_LIMIT"
    assert refused.headers["Retry-After"] == "10"
    assert refused.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    clock.advance(10_000)
    assert (await client.get(LIST)).status_code == 200


async def test_search_has_its_own_lower_limit(
    client: httpx.AsyncClient, faults: FaultSwitches, clock: ManualClock
) -> None:
    faults.search_rate_limit_per_s = 5
    answers = [await client.post(SEARCH, json={"limit": 1}) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[0].headers["X-HubSpot-RateLimit-Secondly"] == "5"
    assert answers[-1].json()["policyName"] == "SECONDLY"
    assert (await client.get(LIST)).status_code == 200  # other endpoints are not held back
    clock.advance(1_000)
    assert (await client.post(SEARCH, json={"limit": 1})).status_code == 200


async def test_daily_quota_answers_429_daily_until_midnight(
    client: httpx.AsyncClient, faults: FaultSwitches, clock: ManualClock
) -> None:
    faults.daily_limit = 2
    await client.get(LIST)
    await client.get(LIST)
    refused = await client.get(LIST)
    assert refused.status_code == 429
    assert refused.json()["policyName"] == "DAILY"
    assert refused.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    clock.advance(86_400_000)
    assert (await client.get(LIST)).status_code == 200


async def test_stats_count_the_429s_served(client: httpx.AsyncClient, faults: FaultSwitches) -> None:
    faults.rate_limit_per_10s = 1
    await client.get(LIST)
    await client.get(LIST)
    await client.get(LIST)
    stats = (await client.get("/__sandbox/stats")).json()
    assert stats["rate_limited"] == 2
    assert stats["requests"][f"GET {LIST}"] == 3
    assert stats["status_counts"] == {"200": 1, "429": 2}
