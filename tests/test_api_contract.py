"""The API is a contract: ``agent.methods`` (names, descriptions, JSON Schemas of the params, in order)
answers exactly what ``tests/fixtures/agent_methods.json`` holds.

A deliberate change to the API rewrites the fixture with ``python -m tests.test_api_contract`` and shows
in the diff of that file.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from leadsync.agent.daemon import Agent
from leadsync.common.rpc import RpcClient

FIXTURE = Path(__file__).parent / "fixtures" / "agent_methods.json"


async def test_agent_methods_match_the_fixture(client: RpcClient) -> None:
    listed = await client.call("agent.methods")
    assert listed == json.loads(FIXTURE.read_text())


async def _listed_methods() -> Any:
    home = Path(tempfile.mkdtemp(prefix="ls-"))
    agent = Agent(home / "data", home / "agent.sock")
    await agent.start()
    try:
        async with RpcClient(agent.socket_path) as client:
            return await client.call("agent.methods")
    finally:
        await agent.stop()


if __name__ == "__main__":
    FIXTURE.write_text(json.dumps(asyncio.run(_listed_methods()), indent=2, ensure_ascii=False) + "\n")
