"""The sandbox's OAuth endpoints speak HubSpot's wire format: ``POST /oauth/v1/token`` (form-encoded,
driven here by HubSpot's official client), token lifetimes by the sandbox's clock, the 401 an expired
token gets, and the token lookup that refuses private-app tokens."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from hubspot import HubSpot
from hubspot.oauth import ApiException as OAuthApiException

from leadsync.agent.connectors.hubspot.sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PRIVATE_APP_TOKEN,
    DEFAULT_REFRESH_TOKEN,
    ManualClock,
    RunningServer,
    serve_in_thread,
)
from tests.conftest import make_sandbox
from tests.reliability.conftest import T0

REFRESH = {"grant_type": "refresh_token", "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET,
           "refresh_token": DEFAULT_REFRESH_TOKEN}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def served(clock: ManualClock) -> Iterator[tuple[RunningServer, object]]:
    _, app = make_sandbox(contacts=5, clock=clock)
    with serve_in_thread(app) as server:
        yield server, app


def test_the_official_client_refreshes_a_token_and_uses_it(served: tuple[RunningServer, object]) -> None:
    server, _ = served
    tokens = HubSpot(host=server.url).oauth.tokens_api.create(**REFRESH)
    assert tokens.token_type == "bearer" and tokens.expires_in == 1800
    assert tokens.refresh_token == DEFAULT_REFRESH_TOKEN and tokens.access_token

    client = HubSpot(access_token=tokens.access_token, host=server.url)
    page = client.crm.contacts.basic_api.get_page(limit=2)
    info = client.oauth.access_tokens_api.get(tokens.access_token)
    assert len(page.results) == 2
    assert info.hub_id and info.user and 0 < info.expires_in <= 1800


def test_the_official_client_sees_a_bad_refresh_token_refused(served: tuple[RunningServer, object]) -> None:
    server, _ = served
    with pytest.raises(OAuthApiException) as caught:
        HubSpot(host=server.url).oauth.tokens_api.create(**{**REFRESH, "refresh_token": "nope"})
    assert caught.value.status == 400 and '"BAD_REFRESH_TOKEN"' in caught.value.body


async def test_an_access_token_expires_after_its_lifetime_by_the_sandbox_clock(clock: ManualClock) -> None:
    _, app = make_sandbox(contacts=5, clock=clock, oauth_token_lifetime_s=3600, oauth_expires_in_ms=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as http:
        answer = (await http.post("/oauth/v1/token", data=REFRESH)).json()
        headers = {"Authorization": f"Bearer {answer['access_token']}"}
        clock.advance(3_599_000)
        fresh = (await http.get("/crm/v3/owners", headers=headers)).status_code
        clock.advance(2 * 60_000)
        expired = await http.get("/crm/v3/owners", headers=headers)

    assert answer["expires_in"] == 3_600_000 and answer["expires_in_sec"] == 3600  # case B24's shape
    assert fresh == 200
    assert expired.status_code == 401
    body = expired.json()
    assert body["category"] == "EXPIRED_AUTHENTICATION" and body["status"] == "error"
    assert body["message"] == "The OAuth token used to make this call expired 1 minute(s) ago."
    assert body["context"]["expire time"] == ["2026-01-01T01:00:00.000Z"]


def test_token_endpoint_errors_and_the_private_app_token_lookup(served: tuple[RunningServer, object]) -> None:
    server, _ = served
    with httpx.Client(base_url=server.url) as http:
        grant = http.post("/oauth/v1/token", data={**REFRESH, "grant_type": "password"})
        client = http.post("/oauth/v1/token", data={**REFRESH, "client_id": "someone-else"})
        secret = http.post("/oauth/v1/token", data={**REFRESH, "client_secret": "wrong"})
        lookup = http.get(f"/oauth/v1/access-tokens/{DEFAULT_PRIVATE_APP_TOKEN}")
        details = http.get("/account-info/v3/details", headers={"Authorization": f"Bearer {DEFAULT_PRIVATE_APP_TOKEN}"})
    assert [r.json()["status"] for r in (grant, client, secret)] == ["BAD_GRANT_TYPE", "BAD_CLIENT_ID",
                                                                      "BAD_CLIENT_SECRET"]
    assert lookup.status_code == 400 and lookup.json()["message"] == "The access token must have the correct format"
    assert details.status_code == 200 and details.json()["portalId"]
