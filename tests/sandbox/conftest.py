"""Fixtures for the HubSpot sandbox tests: a controlled clock, a small seeded account, the app
in-process (httpx ``ASGITransport``) and on loopback (uvicorn thread) for the official client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from hubspot import HubSpot
from starlette.applications import Starlette

from leadsync.agent.connectors.hubspot.sandbox import (
    FaultSwitches,
    ManualClock,
    RunningServer,
    SandboxState,
    build_state,
    create_app,
    serve_in_thread,
)

TOKEN = "test-token"
T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z


@pytest.fixture
def clock() -> ManualClock:
    """Time stands still at 2025-01-01T00:00:00Z until a test moves it."""
    return ManualClock(T0)


@pytest.fixture
def state(clock: ManualClock) -> SandboxState:
    """An account seeded with 300 contacts (seed 7) on the manual clock."""
    return build_state(contacts=300, seed=7, clock=clock)


@pytest.fixture
def faults() -> FaultSwitches:
    """HubSpot's limits switched off so tests only meet the limits they turn on."""
    return FaultSwitches(rate_limit_per_10s=None, search_rate_limit_per_s=None, daily_limit=None)


@pytest.fixture
def app(state: SandboxState, faults: FaultSwitches) -> Starlette:
    return create_app(state, faults=faults, token=TOKEN)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to the app in-process, authenticated."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sandbox", headers={"Authorization": f"Bearer {TOKEN}"}
    ) as http:
        yield http


@pytest.fixture
def loopback(app: Starlette) -> Iterator[RunningServer]:
    """The app served by uvicorn on 127.0.0.1 with a free port."""
    with serve_in_thread(app) as server:
        yield server


@pytest.fixture
def hubspot(loopback: RunningServer) -> HubSpot:
    """HubSpot's official Python client pointed at the loopback sandbox."""
    return HubSpot(access_token=TOKEN, host=loopback.url)
