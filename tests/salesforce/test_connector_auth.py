"""Sessions: the refresh-token flow with rotation (case B24 style on a fake clock), one retry after a 401,
one refresh at a time, refused refresh tokens, the daily quota, secrets kept out of logs and errors."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from starlette.applications import Starlette

from leadsync.agent.connectors.salesforce.sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    FaultSwitches,
    ManualClock,
    OAuthServer,
    SandboxState,
)
from leadsync.common.errors import CrmAuthError, CrmQuotaExhaustedError
from tests.salesforce.conftest import OAUTH, TOKEN, MakeConnector, collect

MINUTE = 60_000


def oauth_of(app: Starlette) -> OAuthServer:
    server = app.state.oauth
    assert isinstance(server, OAuthServer)
    return server


async def interval_syncs(make_connector: MakeConnector, clock: ManualClock, hours: int, **options: object) -> None:
    """A sync (pull of Leads and Contacts) every 10 minutes for ``hours`` hours, start and end included."""
    connector = make_connector(**options)
    cursors: dict[str, dict[str, object] | None] = {"lead": None, "contact": None}
    for _ in range(hours * 6 + 1):
        for kind in ("lead", "contact"):
            pages = await collect(connector.pull_changes(kind, cursors[kind], properties=["Email"]))
            cursors[kind] = pages[-1].cursor or cursors[kind]
        clock.advance(10 * MINUTE)


async def test_b24_sessions_are_refreshed_before_they_end(make_connector: MakeConnector, app: Starlette,
                                                          clock: ManualClock, state: SandboxState) -> None:
    oauth_of(app).session_timeout_s = 3600
    await interval_syncs(make_connector, clock, 2, session_timeout_s=3600)
    assert oauth_of(app).issued in (2, 3)
    assert state.status_counts[401] == 0 and set(state.status_counts) == {200}


async def test_b24_an_explicit_lifetime_in_the_token_answer_is_read_in_seconds(
        make_connector: MakeConnector, app: Starlette, clock: ManualClock, state: SandboxState,
        faults: FaultSwitches) -> None:
    oauth_of(app).session_timeout_s = 3600
    faults.oauth_expires_in_ms = True  # expires_in: 3600000, expires_in_sec: 3600
    await interval_syncs(make_connector, clock, 2)  # the connector itself assumes 2-hour sessions
    assert oauth_of(app).issued in (2, 3) and state.status_counts[401] == 0


async def test_b24_a_shorter_session_timeout_costs_one_401_and_one_retry_per_session(
        make_connector: MakeConnector, app: Starlette, clock: ManualClock, state: SandboxState) -> None:
    oauth_of(app).session_timeout_s = 3600  # the org times out after 1 h; the connector assumes 2 h
    await interval_syncs(make_connector, clock, 2)
    assert state.status_counts[401] == 2  # at 60 and 120 minutes, each answered by a refresh and a retry
    assert oauth_of(app).issued == 3
    assert {s for s in state.status_counts if s != 401} == {200}


async def test_a_second_401_after_a_refresh_is_final(make_connector: MakeConnector, app: Starlette,
                                                     state: SandboxState) -> None:
    oauth_of(app).session_timeout_s = 0  # every session is over the moment it is issued
    with pytest.raises(CrmAuthError) as caught:
        await make_connector().connection_info()
    assert caught.value.status == 401 and caught.value.category == "INVALID_SESSION_ID"
    assert oauth_of(app).issued == 2
    assert state.requests[("GET", "/services/oauth2/userinfo")] == 2


async def test_concurrent_401s_refresh_a_rotating_token_once(make_connector: MakeConnector, app: Starlette) -> None:
    connector = make_connector()
    await asyncio.gather(*(connector.list_owners() for _ in range(5)))
    assert oauth_of(app).issued == 1
    oauth_of(app).expire_sessions()
    await asyncio.gather(*(connector.list_owners() for _ in range(5)))
    assert oauth_of(app).issued == 2 and oauth_of(app).refused == 0


class Recording(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, events: list[tuple[str, str]]) -> None:
        self.inner = inner
        self.events = events

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.events.append(("request", request.headers.get("authorization", "")))
        return await self.inner.handle_async_request(request)


async def test_rotated_tokens_are_stored_before_they_are_used(make_connector: MakeConnector, app: Starlette,
                                                             secret_store: dict[str, str]) -> None:
    events: list[tuple[str, str]] = []

    def save(values: dict[str, str]) -> None:
        events.append(("save", f"Bearer {values['access_token']}"))
        secret_store.update(values)

    connector = make_connector(dict(OAUTH), save_credentials=save,
                               transport=Recording(httpx.ASGITransport(app=app), events))
    await connector.list_owners()
    saved = next(n for n, e in enumerate(events) if e[0] == "save")
    used = next(n for n, e in enumerate(events) if e == ("request", events[saved][1]))
    assert saved < used
    assert secret_store["refresh_token"] != DEFAULT_REFRESH_TOKEN
    assert secret_store["instance_url"] == "https://login.sandbox.test"
    assert oauth_of(app).refresh(DEFAULT_CLIENT_ID, DEFAULT_REFRESH_TOKEN) is None  # the old one is spent
    assert oauth_of(app).refresh(DEFAULT_CLIENT_ID, secret_store["refresh_token"]) is not None


async def test_a_refused_refresh_token_needs_reauthentication_once(make_connector: MakeConnector, app: Starlette,
                                                                   state: SandboxState) -> None:
    statuses: list[str] = []
    oauth_of(app).revoke_refresh_tokens()
    connector = make_connector(dict(OAUTH), on_status=statuses.append)
    with pytest.raises(CrmAuthError) as caught:
        await connector.list_owners()
    assert caught.value.category == "needs_reauth" and "crm.reauth" in caught.value.message
    with pytest.raises(CrmAuthError):
        await connector.pull_changes("lead", None, properties=[]).__anext__()
    assert statuses == ["needs_reauth"]
    assert state.requests[("POST", "/services/oauth2/token")] == 1


async def test_the_spent_daily_quota_is_not_retried(make_connector: MakeConnector, faults: FaultSwitches,
                                                    state: SandboxState) -> None:
    faults.daily_limit = 0
    with pytest.raises(CrmQuotaExhaustedError) as caught:
        await make_connector().list_owners()
    assert caught.value.status == 403 and caught.value.category == "REQUEST_LIMIT_EXCEEDED"
    assert caught.value.retry_after_s == 3600  # a rolling 24-hour allocation: try again in an hour, not at midnight
    assert "TotalRequests Limit exceeded" in caught.value.message
    assert sum(n for (m, p), n in state.requests.items() if p.endswith("/query")) == 1


async def test_api_usage_is_read_from_every_answer(make_connector: MakeConnector) -> None:
    connector = make_connector()
    await connector.list_owners()
    await connector.list_properties("lead")
    assert connector.api_usage == (2, 100_000)


async def test_an_access_token_alone_works_until_its_session_ends(make_connector: MakeConnector,
                                                                  state: SandboxState) -> None:
    owners = await make_connector({"access_token": TOKEN}).list_owners()
    assert len(owners) == 8
    with pytest.raises(CrmAuthError):
        await make_connector({"access_token": "00Dwrong!session"}).list_owners()
    assert state.status_counts[401] == 1


async def test_secrets_never_reach_logs_or_errors(make_connector: MakeConnector, app: Starlette,
                                                  secret_store: dict[str, str], faults: FaultSwitches,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    oauth_of(app).session_timeout_s = 1
    connector = make_connector()
    messages: list[str] = []
    await connector.list_owners()
    oauth_of(app).expire_sessions()
    await connector.list_owners()
    faults.daily_limit = 0
    with pytest.raises(CrmQuotaExhaustedError) as caught:
        await connector.list_owners()
    messages.append(caught.value.message)
    oauth_of(app).revoke_refresh_tokens()
    oauth_of(app).expire_sessions()
    faults.daily_limit = None
    with pytest.raises(CrmAuthError) as refused:
        await connector.list_owners()
    messages += [refused.value.message, repr(connector), repr(connector.session)]
    secrets = [DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN, secret_store["refresh_token"],
               secret_store["access_token"], *oauth_of(app).sessions]
    text = caplog.text + "\n".join(messages)
    assert secrets and not [s for s in secrets if s in text]


async def test_current_credentials_hold_the_rotated_tokens(make_connector: MakeConnector, app: Starlette) -> None:
    connector = make_connector(dict(OAUTH))
    assert connector.current_credentials() == {**OAUTH}
    await connector.list_owners()
    current = connector.current_credentials()
    assert current is not None and current["refresh_token"] != DEFAULT_REFRESH_TOKEN
    assert current["instance_url"] == "https://login.sandbox.test" and current["access_token"] in oauth_of(app).sessions
    again = make_connector(current)  # a restarted agent resumes the stored session without a refresh
    await again.list_owners()
    assert oauth_of(app).issued == 1
    assert make_connector({"access_token": TOKEN}).current_credentials() is None


def test_an_access_token_that_cannot_travel_in_a_header_is_refused() -> None:
    from leadsync.agent.connectors.salesforce.client import SalesforceConnector
    from leadsync.common.errors import ValidationError

    with pytest.raises(ValidationError) as caught:
        SalesforceConnector("https://login.salesforce.com", {"access_token": "00D!abc def"})
    assert "abc def" not in caught.value.message
