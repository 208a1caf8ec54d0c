"""The soak's world: one CRM sandbox served from the soak's own event loop (so the soak edits its records
between requests, never during one), a real ``leadsync agent`` process that can be restarted or killed, the
sandbox's admin switches (faults, quota, token expiry), and samples of the agent's memory and open files.

The sandbox is a :mod:`tests.crm_worlds` side (seeded state + app) served by uvicorn on 127.0.0.1; the agent
reaches it over TCP like any CRM. Admin switches go through the sandbox's own HTTP admin API
(``POST /__sandbox/faults``, ``POST /__sandbox/oauth``).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from leadsync.agent.connectors.registry import SPECS
from leadsync.common.rpc import RpcClient
from tests.crm_worlds import Side, make_side
from tests.reliability.conftest import OAUTH_CREDENTIALS, AgentProcess

AGENT_ENV = {"LEADSYNC_HUBSPOT_RATE_LIMIT_PER_10S": "100000"}
EXPIRE_SWITCH = {"hubspot": "expire_access_tokens", "salesforce": "expire_sessions", "zoho": "expire_tokens"}
"""Each OAuth sandbox's admin switch that expires every access token now (Autotask has no OAuth)."""
QUOTA_SWITCH = {"hubspot": "daily_limit", "salesforce": "daily_limit", "zoho": "daily_limit",
                "autotask": "hourly_threshold"}
"""Each sandbox's request quota switch (``None`` = unlimited)."""


class _Server(uvicorn.Server):
    """uvicorn, with an event set once it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.listening.set()


@dataclass
class Sample:
    """One reading of the agent process: seconds since the soak began, pid, RSS in KiB, open fds."""

    t: float
    pid: int
    rss_kib: int
    fds: int


def read_process(pid: int) -> tuple[int, int] | None:
    """``(VmRSS KiB, open fd count)`` of ``pid`` from /proc; None if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return rss, fds


def credentials(crm: str, side: Side) -> dict[str, str]:
    """The ``crm.connect`` credentials: OAuth where the CRM has it (so token expiry makes refreshes)."""
    if crm == "hubspot":
        return dict(OAUTH_CREDENTIALS)
    if crm == "salesforce":
        spec = next(s for s in SPECS if s.name == crm)
        return spec.sandbox_credentials("")
    return side.credentials()


@dataclass
class World:
    """A served sandbox and the agent process of one soak run (see the module docstring)."""

    crm: str
    side: Side
    tmp: Path
    url: str = ""
    agent: AgentProcess | None = None
    samples: list[Sample] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    _server: uvicorn.Server | None = None
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    admin: httpx.AsyncClient | None = None

    @classmethod
    async def open(cls, crm: str, tmp: Path, *, contacts: int, seed: int) -> World:
        """Seed and serve the sandbox; no agent yet (:meth:`start_agent`)."""
        world = cls(crm, make_side(crm, contacts=contacts, seed=seed), tmp)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        world.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = _Server(uvicorn.Config(world.side.app, log_level="critical", lifespan="off"))
        world._server = server
        world._tasks.append(asyncio.create_task(server.serve(sockets=[sock])))
        await asyncio.wait_for(server.listening.wait(), 10)
        world.admin = httpx.AsyncClient(base_url=world.url, timeout=30)
        world._tasks.append(asyncio.create_task(world._sample_forever()))
        return world

    @property
    def sock(self) -> Path:
        return self.tmp / "agent.sock"

    def rpc(self, timeout_s: float = 120.0) -> RpcClient:
        return RpcClient(self.sock, timeout_s=timeout_s)

    async def call(self, method: str, params: dict[str, Any] | None = None, timeout_s: float = 120.0) -> Any:
        async with self.rpc(timeout_s) as client:
            return await client.call(method, params or {})

    async def start_agent(self) -> None:
        agent = AgentProcess(self.tmp / "data", self.sock, self.tmp / "agent.log", env=AGENT_ENV)
        await asyncio.to_thread(agent.wait_ready)
        self.agent = agent

    async def stop_agent(self, *, kill: bool) -> None:
        """SIGKILL (``kill``) or SIGTERM the agent and wait for it to exit."""
        agent, self.agent = self.agent, None
        assert agent is not None
        await asyncio.to_thread(agent.kill9 if kill else agent.terminate)

    async def switch_faults(self, changes: dict[str, Any]) -> None:
        assert self.admin is not None
        (await self.admin.post("/__sandbox/faults", json=changes)).raise_for_status()

    async def expire_tokens(self) -> bool:
        """Expire every access token in the sandbox; False for a CRM without OAuth."""
        switch = EXPIRE_SWITCH.get(self.crm)
        if switch is None:
            return False
        assert self.admin is not None
        (await self.admin.post("/__sandbox/oauth", json={switch: True})).raise_for_status()
        return True

    async def token_grants(self) -> int:
        """Access tokens the sandbox's OAuth server has issued (0 without OAuth)."""
        if self.crm not in EXPIRE_SWITCH:
            return 0
        assert self.admin is not None
        body = (await self.admin.get("/__sandbox/oauth")).json()
        return int(body.get("issued", body.get("grants", 0)))

    def sample(self) -> None:
        if self.agent is None or self.agent.proc.poll() is not None:
            return
        read = read_process(self.agent.pid)
        if read is not None:
            self.samples.append(Sample(time.monotonic() - self.started, self.agent.pid, *read))

    async def _sample_forever(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.5)

    async def close(self) -> None:
        if self.agent is not None:
            self.agent.close()
            self.agent = None
        for task in self._tasks[1:]:
            task.cancel()
        if self._server is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._tasks[0], 10)
        if self.admin is not None:
            await self.admin.aclose()
