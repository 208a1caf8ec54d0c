"""OAuth per data center against the sandbox's accounts server: B24, refresh on 401, refused refresh tokens."""

from __future__ import annotations

import logging

import pytest
from starlette.applications import Starlette

from leadsync.agent.connectors.base import WriteInput
from leadsync.agent.connectors.zoho.client import ZohoConnector
from leadsync.agent.connectors.zoho.oauth import token_lifetime_s
from leadsync.agent.connectors.zoho.sandbox import ManualClock, SandboxState, ZohoFaults
from leadsync.common.errors import CrmAuthError, ValidationError

from .conftest import API_DOMAIN, OAUTH, ConnectorFactory, api_requests

HOUR_MS = 3_600_000


@pytest.mark.parametrize(("answer", "seconds"), [
    ({"expires_in": 3_600_000, "expires_in_sec": 3600}, 3600.0),
    ({"expires_in": 3600}, 3600.0),
    ({"expires_in": 3_600_000}, 3600.0),
    ({"expires_in_sec": "1800"}, 1800.0),
    ({}, 3600.0),
])
def test_token_lifetime_reads_seconds_whatever_the_unit_of_expires_in(answer: dict, seconds: float) -> None:
    assert token_lifetime_s(answer) == seconds


async def test_b24_two_hours_of_interval_syncs_refresh_two_or_three_times_and_fail_nothing(
        make_connector: ConnectorFactory, state: SandboxState, faults: ZohoFaults, clock: ManualClock) -> None:
    faults.oauth_expires_in_ms = True  # {"expires_in": 3600000, "expires_in_sec": 3600}
    saved: list[dict[str, str]] = []
    connector = make_connector(save_credentials=saved.append)
    lead = next(iter(state.rows["Leads"]))
    for _ in range(13):  # a sync every 10 minutes for two hours
        pages = [p async for p in connector.pull_changes("contact", {"since_ms": clock() - 600_000}, properties=())]
        assert pages[-1].done
        [result] = await connector.update("lead", [WriteInput(ref="1", id=lead,
                                                              properties={"Lead_Score": str(clock() % 100)})])
        assert result.ok, result.error
        clock.advance(600_000)
    assert 2 <= connector.session.refreshes <= 3
    assert state.status_counts[401] == 0
    assert len(saved) == connector.session.refreshes
    assert saved[-1]["api_domain"] == API_DOMAIN
    assert 0 < int(saved[-1]["access_token_expires_at"]) - clock() <= HOUR_MS  # read as an hour, not 1000


async def test_a_401_refreshes_once_and_retries_once(make_connector: ConnectorFactory, state: SandboxState,
                                                    app: Starlette) -> None:
    connector = make_connector()
    await connector.list_properties("lead")
    assert connector.session.refreshes == 1
    app.state.oauth.expire_access_tokens()
    state.reset_counters()
    owners = await connector.list_owners()
    assert owners
    assert connector.session.refreshes == 2
    assert state.status_counts[401] == 1
    assert [r.status for r in api_requests(state, "GET", "/users")][:2] == [401, 200]


async def test_a_second_401_in_a_row_is_final(make_connector: ConnectorFactory, faults: ZohoFaults) -> None:
    connector = make_connector()
    await connector.list_properties("lead")
    faults.fail_next("/crm/v8/users", "GET", 401, times=2)
    with pytest.raises(CrmAuthError):
        await connector.list_owners()
    assert connector.session.refreshes == 2


async def test_a_refused_refresh_token_marks_needs_reauth_and_asks_no_more(
        make_connector: ConnectorFactory, state: SandboxState) -> None:
    statuses: list[str] = []
    connector = make_connector({**OAUTH, "refresh_token": "1000.revoked.token"}, on_status=statuses.append)
    with pytest.raises(CrmAuthError) as refused:
        await connector.list_owners()
    assert refused.value.category == "needs_reauth" and "invalid_code" in refused.value.message
    assert statuses == ["needs_reauth"] and connector.session.needs_reauth
    calls = connector.api_calls
    with pytest.raises(CrmAuthError):
        await connector.list_properties("lead")
    assert connector.api_calls == calls


async def test_stored_tokens_are_used_without_asking_again(make_connector: ConnectorFactory) -> None:
    first = make_connector()
    await first.list_properties("lead")
    second = make_connector(first.current_credentials())
    await second.list_properties("contact")
    assert second.session.refreshes == 0


def test_missing_credentials_are_named_without_values() -> None:
    with pytest.raises(ValidationError, match="client_secret"):
        ZohoConnector("https://accounts.zoho.eu", {"client_id": "id", "refresh_token": "1000.secret.value"})


async def test_secrets_never_reach_the_logs(make_connector: ConnectorFactory, faults: ZohoFaults,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    connector = make_connector()
    await connector.list_properties("lead")
    token = connector.current_credentials()["access_token"]
    faults.fail_next("/crm/v8/users", "GET", 503, times=1)
    await connector.list_owners()
    text = caplog.text + repr(connector) + repr(connector.session)
    for secret in (token, OAUTH["client_secret"], OAUTH["refresh_token"]):
        assert secret not in text
