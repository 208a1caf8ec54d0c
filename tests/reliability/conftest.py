"""Helpers for the reliability tests (issue 7): OAuth worlds on a manual clock, and real processes.

- :func:`oauth_world`: an agent connected through OAuth (client id, secret, refresh token) to an
  in-process sandbox; the connector, the sandbox and its token lifetimes share one ManualClock.
- :class:`SandboxProcess` / :class:`AgentProcess`: ``leadsync sandbox`` and ``leadsync agent`` as real
  subprocesses (the agent's stderr goes to a file the tests read).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from leadsync.agent.connectors.hubspot.sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    ManualClock,
)
from leadsync.agent.daemon import Agent
from leadsync.common.rpc import RpcClient
from tests.conftest import SANDBOX_URL, make_sandbox

LEADSYNC = Path(sys.executable).parent / "leadsync"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
OAUTH_CREDENTIALS = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET,
                     "refresh_token": DEFAULT_REFRESH_TOKEN}


@dataclass
class OAuthWorld:
    """An agent connected by OAuth to an in-process sandbox, all on ``clock``."""

    clock: ManualClock
    state: Any
    app: Any
    agent: Agent

    @property
    def oauth(self) -> Any:
        return self.app.state.oauth

    @property
    def faults(self) -> Any:
        return self.app.state.faults

    def token_requests(self) -> int:
        return int(self.state.requests[("POST", "/oauth/v1/token")])

    def refused(self) -> int:
        """401 answers the sandbox has served."""
        return int(self.state.status_counts.get(401, 0))


def clocked_options(clock: ManualClock) -> dict[str, Any]:
    """Connector options that put the connector's wall clock, monotonic clock and sleeps on ``clock``."""

    async def sleep(seconds: float) -> None:
        clock.advance(max(1, math.ceil(seconds * 1000)))

    return {"now_ms": clock, "clock": lambda: clock() / 1000, "sleep": sleep}


async def oauth_world(tmp: Path, *, contacts: int = 200, lifetime_s: int = 1800, expires_in_ms: bool = False,
                      clock: ManualClock | None = None) -> OAuthWorld:
    """Sandbox + agent, connected with ``OAUTH_CREDENTIALS`` (the connect makes the first refresh)."""
    clock = clock or ManualClock(T0)
    state, app = make_sandbox(contacts=contacts, clock=clock, oauth_token_lifetime_s=lifetime_s,
                              oauth_expires_in_ms=expires_in_ms)
    agent = Agent(tmp / "data", tmp / "agent.sock",
                  connector_options={"transport": httpx.ASGITransport(app=app), "rate_limit_per_10s": 100_000,
                                     "search_per_s": 1000.0, **clocked_options(clock)})
    await agent.start()
    async with RpcClient(agent.socket_path) as client:
        await client.call("crm.connect", {"crm": "hubspot", "base_url": SANDBOX_URL,
                                          "credentials": dict(OAUTH_CREDENTIALS)})
    return OAuthWorld(clock, state, app, agent)


# --- real processes ------------------------------------------------------------------------------


def wait_for_event(sock: Path, method: str, params: dict[str, Any], until: Callable[[dict[str, Any]], bool],
                   timeout_s: float = 60.0) -> Any:
    """Subscribe to the agent's events, call ``method``, and once an event satisfying ``until`` has arrived
    return ``(answer, event)`` (AssertionError if none does within ``timeout_s``)."""

    async def run() -> Any:
        async with RpcClient(sock, timeout_s=timeout_s) as client:
            await client.call("events.subscribe", {})
            answer = await client.call(method, params)

            async def first() -> dict[str, Any]:
                async for event in client.events():
                    if until(event):
                        return event
                raise AssertionError("the agent closed the connection before the event")

            try:
                return answer, await asyncio.wait_for(first(), timeout_s)
            except TimeoutError:
                raise AssertionError(f"no matching event within {timeout_s} s") from None

    return asyncio.run(run())



def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADSYNC_", "NOTIFY_", "WATCHDOG_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class SandboxProcess:
    """``leadsync sandbox --port 0 --contacts N`` in a subprocess; ``url`` once it listens.

    HubSpot's own rate limits are switched off through the admin API unless ``keep_limits``."""

    def __init__(self, contacts: int, *, keep_limits: bool = False) -> None:
        self.proc = subprocess.Popen([str(LEADSYNC), "sandbox", "--port", "0", "--contacts", str(contacts)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_env(), text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        self.url = json.loads(line)["url"]
        self.http = httpx.Client(base_url=self.url, timeout=30)
        if not keep_limits:
            self.admin("POST", "/__sandbox/faults", {"rate_limit_per_10s": None, "search_rate_limit_per_s": None})

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.http.request(method, path, json=body)
        answer.raise_for_status()
        return answer.json()

    def api(self, method: str, path: str, token: str, body: Any = None, params: Any = None) -> Any:
        answer = self.http.request(method, path, json=body, params=params,
                                   headers={"Authorization": f"Bearer {token}"})
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def all_contacts(self, token: str, properties: str = "email,company,jobtitle,firstname") -> list[dict[str, Any]]:
        """Every live contact, through the list API (paged by ``after``)."""
        out: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100, "properties": properties}
            if after:
                params["after"] = after
            page = self.api("GET", "/crm/v3/objects/contacts", token, params=params)
            out += page["results"]
            after = (page.get("paging") or {}).get("next", {}).get("after")
            if not after:
                return out

    def close(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class NotifySocket:
    """A datagram socket standing in for systemd's ``$NOTIFY_SOCKET``; collects what the agent sends
    (``READY=1`` once its socket listens, ``RELOADING=1``/``READY=1`` around a SIGHUP reload,
    ``STOPPING=1``, ``WATCHDOG=1``) in ``messages``, in order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.exists():
            path.unlink()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.messages: list[str] = []

    def collect(self, seconds: float = 0.0) -> list[str]:
        """Read what has arrived, waiting at least ``seconds`` (and up to 0.05 s for a first message)."""
        deadline = time.monotonic() + seconds
        while self.sock.fileno() != -1:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                if time.monotonic() >= deadline:
                    break
        return self.messages

    def wait_for(self, state: str, *, timeout_s: float = 15.0, since: int = 0,
                 process: subprocess.Popen[bytes] | None = None) -> int:
        """The index in ``messages`` of the first message from ``since`` on that holds ``state`` (a line
        such as ``READY=1``); AssertionError after ``timeout_s`` seconds, or at once when ``process`` has
        exited without sending it."""
        deadline = time.monotonic() + timeout_s
        while True:
            exited = process is not None and process.poll() is not None
            self.collect()  # after the exit check, so what it sent before it exited counts
            found = next((i for i in range(since, len(self.messages)) if state in self.messages[i].splitlines()),
                         None)
            if found is not None:
                return found
            if exited or self.sock.fileno() == -1 or time.monotonic() > deadline:
                raise AssertionError(f"{state} never sent; got {self.messages}")

    def close(self) -> None:
        """Keep what has arrived (``messages`` still answers :meth:`wait_for`), then close and unlink."""
        if self.sock.fileno() != -1:
            self.collect()
            self.sock.close()
        self.path.unlink(missing_ok=True)


class AgentProcess:
    """``leadsync agent --data-dir D --socket S`` in a subprocess, its stderr appended to ``log_path``, its
    ``$NOTIFY_SOCKET`` messages in ``notify``; ``wrap``: a command that execs the agent (``unshare ...``)."""

    def __init__(self, data: Path, sock: Path, log_path: Path, *, args: list[str] | None = None,
                 env: dict[str, str] | None = None, wrap: list[str] | None = None) -> None:
        self.sock = sock
        self.log_path = log_path
        self._log: IO[bytes] = open(log_path, "ab")  # closed in kill9(), terminate(), close()
        if sock.exists():
            sock.unlink()
        self.notify = NotifySocket(sock.with_name(sock.name + ".notify"))  # closed with the log
        self.proc = subprocess.Popen([*(wrap or []), str(LEADSYNC), "agent", "--data-dir", str(data), "--socket",
                                      str(sock), *(args or [])], stdout=subprocess.DEVNULL, stderr=self._log,
                                     env=_env({**(env or {}), "NOTIFY_SOCKET": str(self.notify.path)}))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Until the agent says READY=1 on its notify socket, as it does once its socket listens."""
        try:
            self.notify.wait_for("READY=1", timeout_s=timeout_s, process=self.proc)
        except AssertionError:
            code = self.proc.poll()
            raise AssertionError(f"the agent did not become ready (exit code {code}): "
                                 f"{self.log_path.read_text()}") from None

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._close_files()

    def terminate(self, timeout_s: float = 15.0) -> int:
        """SIGTERM, then wait for the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout_s)
        self._close_files()
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close_files()

    def _close_files(self) -> None:
        if not self._log.closed:
            self._log.close()
        self.notify.close()
