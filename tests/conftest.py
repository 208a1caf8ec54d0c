"""Shared fixtures: an agent on a temp socket, and a client that talks to it like a script would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from leadsync.agent.daemon import Agent
from leadsync.common.rpc import RpcClient


@pytest.fixture
def short_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short temp dir: Unix socket paths are limited to ~107 bytes."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix="ls-"))


@pytest.fixture
async def agent(short_tmp: Path) -> AsyncIterator[Agent]:
    """An agent with an empty store and no CRM connection."""
    agent = Agent(short_tmp / "data", short_tmp / "agent.sock")
    await agent.start()
    yield agent
    await agent.stop()


@pytest.fixture
async def client(agent: Agent) -> AsyncIterator[RpcClient]:
    async with RpcClient(agent.socket_path) as client:
        yield client


async def call(client: RpcClient, method: str, params: dict[str, Any] | None = None) -> Any:
    return await client.call(method, params)


# --- an agent connected to an in-process HubSpot sandbox ---------------------------------------------

SANDBOX_URL = "http://sandbox.test"
SANDBOX_TOKEN = "sandbox-token"


class CrmWorld:
    """The sandbox state, its app and the agent connected to it, for tests that drive both sides."""

    def __init__(self, state: Any, app: Any, agent: Agent) -> None:
        self.state = state
        self.app = app
        self.agent = agent

    @property
    def faults(self) -> Any:
        return self.app.state.faults


def make_sandbox(contacts: int = 200, seed: int = 42, clock: Any = None, **faults: Any) -> tuple[Any, Any]:
    """A seeded sandbox state and its app; HubSpot's rate limits are off unless given in ``faults``."""
    from leadsync.agent.connectors.hubspot.sandbox import FaultSwitches, create_app
    from leadsync.agent.connectors.hubspot.sandbox.seed import build_state

    state = build_state(contacts=contacts, seed=seed, clock=clock)
    switches = FaultSwitches(**{"rate_limit_per_10s": None, "search_rate_limit_per_s": None, **faults})
    app = create_app(state, faults=switches, token=SANDBOX_TOKEN)
    return state, app


async def connect_world(short_tmp: Path, state: Any, app: Any, **options: Any) -> CrmWorld:
    import httpx

    transport = httpx.ASGITransport(app=app)
    agent = Agent(short_tmp / "data", short_tmp / "agent.sock", watch=False,  # tests run watch ticks themselves
                  connector_options={"transport": transport, "rate_limit_per_10s": 100_000, "search_per_s": 1000.0,
                                     **options})
    await agent.start()
    async with RpcClient(agent.socket_path) as client:
        await client.call("crm.connect", {"crm": "hubspot", "base_url": SANDBOX_URL,
                                          "credentials": {"token": SANDBOX_TOKEN}})
    return CrmWorld(state, app, agent)


@pytest.fixture
async def world(short_tmp: Path) -> AsyncIterator[CrmWorld]:
    """An agent connected to a HubSpot sandbox seeded with 200 contacts (not yet synced)."""
    state, app = make_sandbox()
    world = await connect_world(short_tmp, state, app)
    yield world
    await world.agent.stop()


@pytest.fixture
async def world_client(world: CrmWorld) -> AsyncIterator[RpcClient]:
    async with RpcClient(world.agent.socket_path) as client:
        yield client


@pytest.fixture
async def synced_agent(world: CrmWorld, world_client: RpcClient) -> CrmWorld:
    """The world after one full sync (every CRM contact pulled, owners known, the search index built). For the
    TUI tests too."""
    run = await world_client.call("sync.run", {"wait": True})
    assert run["status"] == "ok", run
    await search_index_built(world.agent)
    return world


async def search_index_built(agent: Agent) -> None:
    """Wait for the search index's build that a first full pull leaves to after its run (none: no wait), so that a
    test's events start with its own run's."""
    if agent.store.search_build is not None:
        await agent.store.search_build


# --- the same, for every CRM (issue 9: every engine guarantee holds for each) --------------------------

class SideWorld:
    """An agent connected to one CRM's sandbox; ``crm`` reads and edits the CRM side in local field names."""

    def __init__(self, side: Any, agent: Agent) -> None:
        self.crm = side
        self.agent = agent

    @property
    def faults(self) -> Any:
        """The sandbox's fault switches (``latency_ms``, ``daily_limit``, ... as each CRM's sandbox has them)."""
        return self.crm.app.state.faults


async def connect_side(short_tmp: Path, side: Any, **options: Any) -> SideWorld:
    """Start an agent whose connector reaches ``side``'s sandbox in-process, and connect it."""
    from tests.crm_worlds import BASE_URLS, SocketLikeTransport

    transport = SocketLikeTransport(side.app)
    agent = Agent(short_tmp / "data", short_tmp / "agent.sock", watch=False,  # tests run watch ticks themselves
                  connector_options={"transport": transport, "rate_limit_per_10s": 100_000, "search_per_s": 1000.0,
                                     **options})
    await agent.start()
    async with RpcClient(agent.socket_path) as client:
        await client.call("crm.connect", {"crm": side.crm, "base_url": BASE_URLS[side.crm],
                                          "credentials": side.credentials()})
    return SideWorld(side, agent)


@pytest.fixture(params=["hubspot", "salesforce", "zoho", "autotask"])
def crm_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def crm_world(short_tmp: Path, crm_name: str) -> AsyncIterator[SideWorld]:
    """An agent connected to a sandbox of each CRM in turn, seeded with about 200 records (not yet synced)."""
    from tests.crm_worlds import make_side

    world = await connect_side(short_tmp, make_side(crm_name))
    yield world
    await world.agent.stop()


@pytest.fixture
async def crm_client(crm_world: SideWorld) -> AsyncIterator[RpcClient]:
    async with RpcClient(crm_world.agent.socket_path) as client:
        yield client


@pytest.fixture
async def crm_synced(crm_world: SideWorld, crm_client: RpcClient) -> SideWorld:
    """``crm_world`` after one full sync (its search index built)."""
    run = await crm_client.call("sync.run", {"wait": True})
    assert run["status"] == "ok", run
    await search_index_built(crm_world.agent)
    return crm_world
