"""Injected faults: the scripted queue (case B15), random faults, drops, latency, the admin API."""

from __future__ import annotations

import httpx
import pytest

from leadsync.agent.connectors.hubspot.sandbox import FaultSwitches, SandboxState
from leadsync.agent.connectors.hubspot.sandbox.middleware import ConnectionDropped

SEARCH = "/crm/v3/objects/contacts/search"
BATCH_UPDATE = "/crm/v3/objects/contacts/batch/update"


async def test_first_two_searches_and_batch_updates_answer_429_then_succeed(
    client: httpx.AsyncClient, faults: FaultSwitches, state: SandboxState
) -> None:
    faults.fail_next(SEARCH, "POST", 429, times=2, retry_after=1)
    faults.fail_next(BATCH_UPDATE, "POST", 429, times=2, retry_after=1)
    contact_id = state.live_contact_ids()[0]
    update = {"inputs": [{"id": contact_id, "properties": {"jobtitle": "Buyer"}}]}
    searches = [await client.post(SEARCH, json={"limit": 1}) for _ in range(3)]
    updates = [await client.post(BATCH_UPDATE, json=update) for _ in range(3)]
    assert [a.status_code for a in searches] == [429, 429, 200]
    assert [a.status_code for a in updates] == [429, 429, 200]
    assert searches[0].headers["Retry-After"] == "1"
    assert updates[1].json()["policyName"] == "SECONDLY"
    snapshot = state.get_contact(contact_id)
    assert snapshot is not None and snapshot.properties["jobtitle"] == "Buyer"
    assert state.write_requests == 3  # the refused writes were still sent
    assert state.records_written == 1


async def test_scripted_faults_match_route_templates_and_methods(
    client: httpx.AsyncClient, faults: FaultSwitches
) -> None:
    faults.fail_next("/crm/v3/objects/contacts/{contactId}", "GET", 503)
    assert (await client.post(SEARCH, json={})).status_code == 200
    answer = await client.get("/crm/v3/objects/contacts/1001")
    assert answer.status_code == 503 and answer.json()["status"] == "error"
    assert (await client.get("/crm/v3/objects/contacts/1001")).status_code == 200


async def test_dropped_connection_raises_through_asgi_transport(
    client: httpx.AsyncClient, faults: FaultSwitches
) -> None:
    faults.fail_next(SEARCH, "POST", 0)
    with pytest.raises(ConnectionDropped):
        await client.post(SEARCH, json={})
    assert (await client.post(SEARCH, json={})).status_code == 200


async def test_random_faults_are_reproducible_from_the_seed(client: httpx.AsyncClient) -> None:
    def pattern(seed: int) -> list[bool]:
        switches = FaultSwitches(seed=seed)
        return [switches.roll(0.3) for _ in range(50)]

    assert pattern(3) == pattern(3)
    assert pattern(3) != pattern(4)
    assert 5 < sum(pattern(3)) < 25


async def test_random_5xx_and_429_rates(client: httpx.AsyncClient, faults: FaultSwitches) -> None:
    faults.update({"error_5xx_rate": 1.0, "error_5xx_status": 502})
    assert (await client.get("/crm/v3/objects/contacts")).status_code == 502
    faults.update({"error_5xx_rate": 0.0, "error_429_rate": 1.0})
    limited = await client.get("/crm/v3/objects/contacts")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"


async def test_admin_endpoint_changes_switches_at_run_time(client: httpx.AsyncClient, faults: FaultSwitches) -> None:
    answer = await client.post(
        "/__sandbox/faults",
        json={"latency_ms": 5, "fail_next": [{"route": SEARCH, "method": "POST", "status": 500, "times": 1}]},
    )
    assert answer.status_code == 200
    assert answer.json()["latency_ms"] == 5 and answer.json()["scripted"][0]["status"] == 500
    assert faults.latency_ms == 5
    assert (await client.post(SEARCH, json={})).status_code == 500
    assert (await client.get("/__sandbox/faults")).json()["scripted"] == []
    refused = await client.post("/__sandbox/faults", json={"no_such_switch": 1})
    assert refused.status_code == 400 and refused.json()["category"] == "VALIDATION_ERROR"


async def test_slow_body_still_delivers_the_whole_answer(client: httpx.AsyncClient, faults: FaultSwitches) -> None:
    faults.slow_body_ms = 20
    answer = await client.get("/crm/v3/objects/contacts", params={"limit": 5})
    assert answer.status_code == 200 and len(answer.json()["results"]) == 5


async def test_wrong_or_missing_token_is_401_in_hubspots_shape(app: object, client: httpx.AsyncClient) -> None:
    anonymous = await client.get("/crm/v3/objects/contacts", headers={"Authorization": ""})
    wrong = await client.get("/crm/v3/objects/contacts", headers={"Authorization": "Bearer nope"})
    for answer in (anonymous, wrong):
        assert answer.status_code == 401
        assert answer.json()["category"] == "INVALID_AUTHENTICATION"
        assert answer.json()["correlationId"]


async def test_unknown_route_is_404_in_hubspots_shape(client: httpx.AsyncClient) -> None:
    answer = await client.get("/crm/v3/objects/widgets")
    assert answer.status_code == 404
    assert answer.json()["status"] == "error" and answer.json()["category"] == "OBJECT_NOT_FOUND"


async def test_token_none_switches_the_auth_check_off(state: SandboxState) -> None:
    from leadsync.agent.connectors.hubspot.sandbox import create_app

    app = create_app(state, token=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as http:
        assert (await http.get("/crm/v3/objects/contacts")).status_code == 200
