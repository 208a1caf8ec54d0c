"""OAuth connections (issue 7, case B24): token lifetimes read in the right unit, proactive refresh, one
refresh for many 401s, tokens stored at once, a refused refresh token shown as needs_reauth; and
connection info for private-app tokens, which HubSpot's token lookup refuses."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadsync.agent.connectors.hubspot.client import HubSpotConnector
from leadsync.agent.connectors.hubspot.oauth import token_lifetime_s
from leadsync.agent.connectors.hubspot.sandbox import DEFAULT_PRIVATE_APP_TOKEN, ManualClock
from leadsync.agent.daemon import Agent
from leadsync.common.errors import CrmAuthError
from leadsync.common.rpc import RpcClient, RpcError
from tests.conftest import SANDBOX_URL, make_sandbox
from tests.reliability.conftest import OAUTH_CREDENTIALS, T0, OAuthWorld, clocked_options, oauth_world

MINUTE_MS = 60_000


@pytest.mark.parametrize(
    ("answer", "seconds"),
    [
        ({"expires_in": 1800}, 1800),  # HubSpot: seconds
        ({"expires_in": 3_600_000, "expires_in_sec": 3600}, 3600),  # case B24: the explicit field wins
        ({"expires_in": "3600", "expires_in_sec": "3600"}, 3600),  # strings are read too
        ({"expires_in": 3_600_000}, 3600),  # too long for seconds: milliseconds
        ({"expires_in": 10**13}, 86_400),  # never trusted for more than a day
        ({}, 1800),  # missing: HubSpot's 30 minutes
        ({"expires_in": -5}, 1800),
        ({"expires_in": True}, 1800),
        ({"expires_in": "soon"}, 1800),
    ],
)
def test_token_lifetime_is_read_in_seconds_preferring_an_explicit_seconds_field(answer: dict[str, Any],
                                                                                seconds: float) -> None:
    assert token_lifetime_s(answer) == seconds


async def interval_syncs(world: OAuthWorld, client: RpcClient, *, every_ms: int, until_ms: int) -> list[dict[str, Any]]:
    """Every ``every_ms`` of the shared clock: one local edit, one new lead, one CRM edit, then an interval
    sync (as the scheduler starts it). Returns the finished runs."""
    owner = next(o for o in (await client.call("users.list"))["unmatched_owners"] if o["active"])
    user = await client.call("users.create", {"email": owner["email"]})  # new leads are owned by their creator
    contacts = (await client.call("contacts.list", {"limit": 50}))["contacts"]
    runs: list[dict[str, Any]] = []
    step = 0
    while world.clock() - T0 <= until_ms:
        local, remote = contacts[step % 25], contacts[25 + step % 25]
        await client.call("contacts.update", {"id": local["id"], "fields": {"company": f"Local {step}"}})
        await client.call("contacts.create", {"created_by": user["id"],
                                              "fields": {"email": f"b24.lead{step}@example.org"}})
        world.state.update_contact(remote["crm_id"], {"jobtitle": f"Remote {step}"})
        run = await world.agent.request_sync("interval", wait=True)
        runs.append({"at_min": (world.clock() - T0) // MINUTE_MS, "status": run.status, "failed": run.failed,
                     "created_crm": run.created_crm, "updated_crm": run.updated_crm, "error": run.error})
        step += 1
        world.clock.advance(every_ms)
    return runs


async def test_b24_two_hours_of_interval_syncs_refresh_two_or_three_times_without_a_401(short_tmp: Path) -> None:
    # the token endpoint answers expires_in 3600000 (ms) beside expires_in_sec 3600; tokens last one hour
    world = await oauth_world(short_tmp, lifetime_s=3600, expires_in_ms=True)
    try:
        async with RpcClient(world.agent.socket_path) as client:
            first = await client.call("sync.run", {"wait": True})
            assert first["status"] == "ok"
            runs = await interval_syncs(world, client, every_ms=10 * MINUTE_MS, until_ms=120 * MINUTE_MS)
            status = await client.call("crm.status")
    finally:
        await world.agent.stop()

    assert len(runs) == 13  # minutes 0, 10, ..., 120
    assert [r for r in runs if r["status"] != "ok" or r["failed"]] == []
    assert sum(r["created_crm"] for r in runs) == 13 and all(r["updated_crm"] == 1 for r in runs)
    assert 2 <= world.oauth.issued <= 3, f"{world.oauth.issued} refreshes in two hours"
    # refreshed before expiry every time: HubSpot never had to refuse a token
    assert world.refused() == 0
    assert status["status"] == "connected"


async def test_b24_a_401_triggers_one_refresh_and_one_retry(short_tmp: Path) -> None:
    world = await oauth_world(short_tmp, lifetime_s=1800)
    try:
        async with RpcClient(world.agent.socket_path) as client:
            assert (await client.call("sync.run", {"wait": True}))["status"] == "ok"
            issued = world.oauth.issued
            world.state.reset_counters()
            world.oauth.expire_access_tokens()  # HubSpot revoked it early: the agent still thinks it is valid

            run = await client.call("sync.run", {"wait": True})
    finally:
        await world.agent.stop()

    assert run["status"] == "ok" and run["failed"] == 0
    assert world.oauth.issued == issued + 1
    log = list(world.state.request_log)
    refused = [i for i, entry in enumerate(log) if entry.status == 401]
    assert len(refused) == 1, [(e.method, e.path, e.status) for e in log]
    first = log[refused[0]]
    after = [(e.method, e.path, e.query, e.status) for e in log[refused[0] + 1: refused[0] + 3]]
    assert after == [("POST", "/oauth/v1/token", "", 200), (first.method, first.path, first.query, 200)]


def sandbox_connector(clock: ManualClock, app: Any, credentials: dict[str, str], **kw: Any) -> HubSpotConnector:
    return HubSpotConnector(SANDBOX_URL, oauth=credentials, transport=httpx.ASGITransport(app=app),
                            rate_limit_per_10s=100_000, search_per_s=1000.0, **clocked_options(clock), **kw)


async def test_b24_twenty_concurrent_401s_cause_one_refresh() -> None:
    clock = ManualClock(T0)
    state, app = make_sandbox(contacts=50, clock=clock, latency_ms=5)  # latency: all 20 are in flight at once
    connector = sandbox_connector(clock, app, OAUTH_CREDENTIALS)
    oauth = app.state.oauth
    await connector.list_properties("contact")
    assert oauth.issued == 1
    oauth.expire_access_tokens()

    answers = await asyncio.gather(*(connector.list_properties("contact") for _ in range(20)))

    assert all(answers)
    assert oauth.issued == 2
    assert state.status_counts[401] == 20  # all were refused, yet one refresh served them all
    await connector.aclose()


async def test_b24_requests_that_all_find_the_token_about_to_expire_refresh_once() -> None:
    clock = ManualClock(T0)
    _, app = make_sandbox(contacts=50, clock=clock, oauth_token_lifetime_s=1800)
    connector = sandbox_connector(clock, app, OAUTH_CREDENTIALS)
    await connector.list_properties("contact")
    clock.advance(29 * MINUTE_MS)  # inside the refresh margin (3 minutes for a 30-minute token)

    await asyncio.gather(*(connector.list_owners() for _ in range(10)))

    assert app.state.oauth.issued == 2
    assert app.state.crm.status_counts.get(401, 0) == 0
    await connector.aclose()


async def test_b24_new_tokens_are_stored_at_once_in_a_private_file(short_tmp: Path) -> None:
    world = await oauth_world(short_tmp)
    world.oauth.rotate_refresh_tokens = True  # a CRM whose refresh tokens are good once
    try:
        world.clock.advance(31 * MINUTE_MS)
        async with RpcClient(world.agent.socket_path) as client:
            assert (await client.call("sync.run", {"wait": True}))["status"] == "ok"
    finally:
        await world.agent.stop()
    path = world.agent.data_dir / "secrets" / "hubspot.json"
    stored = json.loads(path.read_text())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stored["refresh_token"] != OAUTH_CREDENTIALS["refresh_token"]  # the rotated one, not the old
    assert stored["refresh_token"] in world.oauth.refresh_tokens
    assert int(stored["access_token_expires_at"]) > world.clock()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp-")]

    # a restarted agent goes on with the stored tokens: no refresh needed, and the old refresh token is dead
    issued = world.oauth.issued
    restarted = Agent(world.agent.data_dir, world.agent.socket_path, connector_options=world.agent.connector_options)
    await restarted.start()
    try:
        async with RpcClient(restarted.socket_path) as client:
            run = await client.call("sync.run", {"wait": True})
    finally:
        await restarted.stop()
    assert run["status"] == "ok"
    assert world.oauth.issued == issued


async def test_a_refused_refresh_token_marks_the_connection_needs_reauth_and_stops_asking(short_tmp: Path) -> None:
    world = await oauth_world(short_tmp)
    try:
        async with RpcClient(world.agent.socket_path) as client:
            await client.call("events.subscribe", {})
            world.oauth.revoke_refresh_tokens()  # the app was uninstalled in HubSpot
            world.clock.advance(31 * MINUTE_MS)

            run = await client.call("sync.run", {"wait": True})
            status = await client.call("crm.status")
            asked = world.token_requests()
            again = await client.call("sync.run", {"wait": True})
            events = []
            async for event in client.events():
                events.append(event)
                if event.get("type") == "crm_status":
                    break
    finally:
        await world.agent.stop()

    assert run["status"] == "failed" and "re-authentication" in run["error"]
    assert status["status"] == "needs_reauth" and "reconnect" in status["warning"]
    assert again["status"] == "failed" and world.token_requests() == asked  # no second refusal asked for
    assert {"type": "crm_status", "status": "needs_reauth"} in events

    # the status survives a restart until the connection is made again
    restarted = Agent(world.agent.data_dir, world.agent.socket_path, connector_options=world.agent.connector_options)
    await restarted.start()
    try:
        async with RpcClient(restarted.socket_path) as client:
            assert (await client.call("crm.status"))["status"] == "needs_reauth"
            contacts = (await client.call("agent.status"))["contacts"]
            with pytest.raises(RpcError):  # a refresh token the CRM refuses changes nothing
                await client.call("crm.reauth", {"credentials": {**OAUTH_CREDENTIALS, "refresh_token": "wrong"}})
            assert (await client.call("crm.status"))["status"] == "needs_reauth"
            world.oauth.add_refresh_token("a-new-refresh-token")
            fresh = await client.call("crm.reauth", {"credentials": {
                **OAUTH_CREDENTIALS, "refresh_token": "a-new-refresh-token"}})
            assert fresh["status"] == "connected" and fresh["warning"] is None
            run = await client.call("sync.run", {"wait": True})
            assert run["status"] == "ok"
            assert (await client.call("agent.status"))["contacts"] == contacts + run["created_local"]
            assert (await client.call("crm.status"))["status"] == "connected"
    finally:
        await restarted.stop()


async def test_a_connector_with_a_refused_refresh_token_raises_an_auth_error_without_secrets() -> None:
    clock = ManualClock(T0)
    _, app = make_sandbox(contacts=10, clock=clock)
    statuses: list[str] = []
    connector = sandbox_connector(clock, app, {**OAUTH_CREDENTIALS, "refresh_token": "revoked-token-123"},
                                  on_status=statuses.append)
    with pytest.raises(CrmAuthError) as caught:
        await connector.list_owners()
    assert caught.value.category == "needs_reauth"
    assert "revoked-token-123" not in str(caught.value) and OAUTH_CREDENTIALS["client_secret"] not in str(caught.value)
    assert statuses == ["needs_reauth"]
    assert connector.oauth is not None and connector.oauth.needs_reauth
    await connector.aclose()


async def test_private_app_token_connects_through_account_details_as_an_admin(short_tmp: Path) -> None:
    state, app = make_sandbox(contacts=20)
    agent = Agent(short_tmp / "data", short_tmp / "agent.sock",
                  connector_options={"transport": httpx.ASGITransport(app=app), "rate_limit_per_10s": 100_000})
    await agent.start()
    try:
        async with RpcClient(agent.socket_path) as client:
            status = await client.call("crm.connect", {"crm": "hubspot", "base_url": SANDBOX_URL,
                                                       "credentials": {"token": DEFAULT_PRIVATE_APP_TOKEN}})
            run = await client.call("sync.run", {"wait": True})
    finally:
        await agent.stop()

    # HubSpot's token lookup refused the private-app token (400), so the portal came from account details
    assert state.status_counts[400] == 1
    assert state.requests[("GET", "/account-info/v3/details")] == 1
    assert status["connected"] and status["is_admin"] is True
    assert status["user_email"] == "" and "private-app" in status["note"] and status["warning"] is None
    assert run["status"] == "ok" and run["pulled"] == 20


async def test_private_app_connection_info_names_the_portal_and_says_why_the_user_is_unknown() -> None:
    state, app = make_sandbox(contacts=5)
    connector = HubSpotConnector(SANDBOX_URL, DEFAULT_PRIVATE_APP_TOKEN, transport=httpx.ASGITransport(app=app))
    info = await connector.connection_info()
    await connector.aclose()
    assert (info.user_email, info.user_id, info.is_admin, info.account_id) == ("", None, True, str(state.portal_id))
    assert info.note is not None and "every record" in info.note


async def test_oauth_connection_info_names_the_user_the_token_belongs_to() -> None:
    clock = ManualClock(T0)
    state, app = make_sandbox(contacts=5, clock=clock)
    connector = sandbox_connector(clock, app, OAUTH_CREDENTIALS)
    info = await connector.connection_info()
    await connector.aclose()
    assert info.user_email == state.token_user().email and info.is_admin and info.note is None


async def test_a_refused_reauth_leaves_the_working_connection_and_its_stored_tokens_alone(short_tmp: Path) -> None:
    world = await oauth_world(short_tmp)
    try:
        secrets_file = next((world.agent.data_dir / "secrets").iterdir())
        stored = secrets_file.read_bytes()
        async with RpcClient(world.agent.socket_path) as client:
            with pytest.raises(RpcError):
                await client.call("crm.reauth", {"credentials": {**OAUTH_CREDENTIALS, "refresh_token": "revoked"}})
            status = await client.call("crm.status")
            assert (status["status"], status["warning"]) == ("connected", None)
            assert secrets_file.read_bytes() == stored
            assert (await client.call("sync.run", {"wait": True}))["status"] == "ok"
    finally:
        await world.agent.stop()
