"""Fixtures for the Autotask tests: a manual clock, a small seeded database, the sandbox in-process
(httpx ``ASGITransport``) and connectors on it whose sleeps move the sandbox clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from leadsync.agent.connectors.autotask.client import AutotaskConnector
from leadsync.agent.connectors.autotask.sandbox import (
    DEFAULT_INTEGRATION_CODE,
    DEFAULT_SECRET,
    DEFAULT_USERNAME,
    AutotaskState,
    FaultSwitches,
    ManualClock,
    build_state,
    create_app,
)
from tests.connector_time import T0, ConnectorTime

ZONE = "https://webservices2.sandbox.test/atservicesrest"
CREDENTIALS = {"username": DEFAULT_USERNAME, "secret": DEFAULT_SECRET, "integration_code": DEFAULT_INTEGRATION_CODE}
HEADERS = {"ApiIntegrationCode": DEFAULT_INTEGRATION_CODE, "UserName": DEFAULT_USERNAME, "Secret": DEFAULT_SECRET}


@pytest.fixture
def clock() -> ManualClock:
    """Time stands still at 2025-01-01T00:00:00Z until a test moves it."""
    return ManualClock(T0)


@pytest.fixture
def state(clock: ManualClock) -> AutotaskState:
    """8 resources, 20 companies, 100 contacts (seed 7) on the manual clock."""
    return build_state(contacts=100, companies=20, seed=7, clock=clock)


@pytest.fixture
def faults() -> FaultSwitches:
    return FaultSwitches()


@pytest.fixture
def app(state: AutotaskState, faults: FaultSwitches) -> Starlette:
    return create_app(state, faults=faults, zone_url=ZONE)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP to the sandbox with the API user's headers."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ZONE, headers=HEADERS) as http:
        yield http


ConnectorFactory = Callable[..., AutotaskConnector]


@pytest.fixture
async def make_connector(app: Starlette, clock: ManualClock) -> AsyncIterator[ConnectorFactory]:
    """``make_connector(**options)``: a connector on the in-process sandbox, on the manual clock."""
    made: list[AutotaskConnector] = []

    def make(**options: Any) -> AutotaskConnector:
        time = ConnectorTime(clock)
        base_url = options.pop("base_url", ZONE)
        settings: dict[str, Any] = {"transport": httpx.ASGITransport(app=app), "sleep": time.sleep,
                                    "clock": time.monotonic, "now_ms": time.now_ms,
                                    "rate_limit_per_10s": 10_000, "rate_limit_per_hour": 100_000, **options}
        connector = AutotaskConnector(base_url, dict(CREDENTIALS), **settings)
        connector.time = time  # type: ignore[attr-defined]
        made.append(connector)
        return connector

    yield make
    for connector in made:
        await connector.aclose()


@pytest.fixture
async def connector(make_connector: ConnectorFactory) -> AutotaskConnector:
    return make_connector()
