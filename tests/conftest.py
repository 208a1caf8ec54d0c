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
