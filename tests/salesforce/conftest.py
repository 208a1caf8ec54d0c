"""Fixtures for the Salesforce tests: a controlled clock, a small seeded org, the sandbox in-process
(httpx ``ASGITransport``) for the connector and on loopback (uvicorn thread) for the official
``simple-salesforce`` client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce
from starlette.applications import Starlette

from leadsync.agent.connectors.salesforce.client import SalesforceConnector
from leadsync.agent.connectors.salesforce.sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    FaultSwitches,
    ManualClock,
    RunningServer,
    SandboxState,
    build_state,
    create_app,
    serve_in_thread,
)
from tests.connector_time import T0, ConnectorTime

TOKEN = "test-session-id"
LOGIN_URL = "https://login.sandbox.test"
OAUTH = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET, "refresh_token": DEFAULT_REFRESH_TOKEN}


@pytest.fixture
def clock() -> ManualClock:
    """Time stands still at 2025-01-01T00:00:00Z until a test moves it."""
    return ManualClock(T0)


@pytest.fixture
def state(clock: ManualClock) -> SandboxState:
    """An org with 8 users, 300 Leads and 200 Contacts (seed 7) on the manual clock."""
    return build_state(leads=300, contacts=200, seed=7, clock=clock)


@pytest.fixture
def faults() -> FaultSwitches:
    return FaultSwitches()


@pytest.fixture
def app(state: SandboxState, faults: FaultSwitches) -> Starlette:
    return create_app(state, faults=faults, token=TOKEN)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to the app in-process with the static session id."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://sandbox.test",
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        yield http


MakeConnector = Callable[..., SalesforceConnector]


@pytest.fixture
def secret_store() -> dict[str, str]:
    """What the agent's secret store holds for the connection: the OAuth credentials, rotated tokens
    included (connectors made by ``make_connector`` save there and start from there)."""
    return dict(OAUTH)


@pytest.fixture
async def make_connector(app: Starlette, clock: ManualClock,
                         secret_store: dict[str, str]) -> AsyncIterator[MakeConnector]:
    """``make_connector(credentials=None, **options)``: a SalesforceConnector on the in-process sandbox
    whose sleeps, monotonic clock and wall clock are the sandbox's manual clock. Without ``credentials``
    it uses (and saves rotated tokens to) ``secret_store``, as the agent does."""
    made: list[SalesforceConnector] = []
    time = ConnectorTime(clock)

    def save(values: dict[str, str]) -> None:
        secret_store.clear()
        secret_store.update(values)

    def make(credentials: dict[str, str] | None = None, **options: Any) -> SalesforceConnector:
        options.setdefault("transport", httpx.ASGITransport(app=app))
        if credentials is None:
            credentials = dict(secret_store)
            options.setdefault("save_credentials", save)
        connector = SalesforceConnector(LOGIN_URL, credentials, sleep=time.sleep, clock=time.monotonic,
                                        now_ms=time.now_ms, **options)
        made.append(connector)
        return connector

    yield make
    for connector in made:
        await connector.aclose()


@pytest.fixture
async def connector(make_connector: MakeConnector) -> SalesforceConnector:
    return make_connector()


async def collect(pages: Any) -> list[Any]:
    """Every item of an async iterator."""
    return [page async for page in pages]


Collect = Callable[[Any], Awaitable[list[Any]]]


# -- the official client over loopback ----------------------------------------------------------------


class _HttpsToHttp(HTTPAdapter):
    """simple-salesforce always builds ``https://`` URLs; the loopback sandbox speaks plain HTTP."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        assert request.url is not None
        request.url = "http://" + request.url.removeprefix("https://")
        return super().send(request, *args, **kwargs)


@pytest.fixture
def loopback(app: Starlette) -> Iterator[RunningServer]:
    """The app served by uvicorn on 127.0.0.1 with a free port."""
    with serve_in_thread(app) as server:
        yield server


@pytest.fixture
def sf(loopback: RunningServer) -> Iterator[Salesforce]:
    """simple-salesforce pointed at the loopback sandbox with the static session id."""
    session = requests.Session()
    session.mount("https://127.0.0.1:", _HttpsToHttp())
    yield Salesforce(instance_url=loopback.url.replace("http://", "https://"), session_id=TOKEN, session=session,
                     version="60.0")
    session.close()
