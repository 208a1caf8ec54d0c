"""Fixtures for the Zoho tests: a controlled clock, a small seeded org, the sandbox in-process (httpx
``ASGITransport``) for the connector."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from leadsync.agent.connectors.zoho.client import ZohoConnector
from leadsync.agent.connectors.zoho.sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    ManualClock,
    SandboxState,
    ZohoFaults,
    build_state,
    create_app,
)
from tests.connector_time import T0, ConnectorTime

ACCOUNTS_URL = "https://accounts.zoho.test"
API_DOMAIN = "https://www.zohoapis.test"
OAUTH = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET, "refresh_token": DEFAULT_REFRESH_TOKEN}


@pytest.fixture
def clock() -> ManualClock:
    """Time stands still at 2025-01-01T00:00:00Z until a test moves it."""
    return ManualClock(T0)


@pytest.fixture
def state(clock: ManualClock) -> SandboxState:
    """A small org: 6 users, 60 Leads, 40 Contacts (seed 7), some converted and deleted."""
    return build_state(leads=60, contacts=40, seed=7, clock=clock)


@pytest.fixture
def faults() -> ZohoFaults:
    return ZohoFaults()


@pytest.fixture
def app(state: SandboxState, faults: ZohoFaults) -> Starlette:
    """The sandbox; tokens come only from its accounts server; API calls name a separate api_domain."""
    return create_app(state, faults=faults, token=None, api_domain=API_DOMAIN)


ConnectorFactory = Callable[..., ZohoConnector]


@pytest.fixture
async def make_connector(app: Starlette, clock: ManualClock) -> AsyncIterator[ConnectorFactory]:
    """Builds connectors on the sandbox and the manual clock; closes them after the test."""
    made: list[ZohoConnector] = []

    def build(credentials: dict[str, str] | None = None, **options: Any) -> ZohoConnector:
        time = ConnectorTime(clock)
        options.setdefault("sleep", time.sleep)
        options.setdefault("clock", time.monotonic)
        options.setdefault("now_ms", time.now_ms)
        options.setdefault("transport", httpx.ASGITransport(app))
        connector = ZohoConnector(ACCOUNTS_URL, credentials or dict(OAUTH), **options)
        made.append(connector)
        return connector

    yield build
    for connector in made:
        await connector.aclose()


@pytest.fixture
async def connector(make_connector: ConnectorFactory) -> ZohoConnector:
    return make_connector()


def api_requests(state: SandboxState, method: str | None = None, path_part: str = "") -> list[Any]:
    """Logged API calls (not the token endpoint), optionally of one method and containing ``path_part``."""
    return [r for r in state.request_log if r.path.startswith("/crm/") and (method is None or r.method == method)
            and path_part in r.path]
