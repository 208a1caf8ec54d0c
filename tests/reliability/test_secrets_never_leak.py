"""Secrets never appear in logs, API answers, events, process arguments or the store (issue 7, invariant 9):
only the secrets file (mode 0600) holds them.

Two syncs with known secrets: a private-app token, then an OAuth connection (client secret, refresh token,
the access tokens issued, a refresh on expiry and one after a 401). Everything the agent says or writes is
then searched for every one of them.
"""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadsync.agent.connectors.hubspot.sandbox import FaultSwitches, ManualClock, OAuthServer, create_app
from leadsync.agent.connectors.hubspot.sandbox.seed import build_state
from leadsync.agent.daemon import Agent
from leadsync.common.rpc import RpcClient, RpcError, call_once
from tests.conftest import SANDBOX_TOKEN, SANDBOX_URL
from tests.reliability.conftest import OAUTH_CREDENTIALS, T0, AgentProcess, SandboxProcess, clocked_options
from tests.waiting import next_event

TOKEN = "pat-na1-7f3c2a9e-5d1b-4c8e-9a6f-0b2d4e6f8a1c"
CLIENT_SECRET = "cs-4b9d2f7e1a3c5e8f0b2d4f6a8c0e2a4b"
REFRESH_TOKEN = "rt-na1-1e5c9a3f-7b2d-4f8e-a6c0-3d5f7b9e1c2a"
WRONG_TOKEN = "pat-na1-00000000-dead-beef-0000-wrongwrong00"
READ_METHODS = ["agent.status", "agent.methods", "crm.status", "sync.status", "sync.history", "sync.log",
                "errors.list", "settings.get", "mappings.list", "mappings.check", "users.list", "contacts.list",
                "conflicts.list", "smartlists.list", "todos.list", "sync.plan"]


def leaks(text: str, secrets: set[str]) -> list[str]:
    return sorted(s for s in secrets if s and s in text)


async def answers_and_events(client: RpcClient) -> str:
    """Every read method's answer, as JSON text."""
    out = {}
    for method in READ_METHODS:
        try:
            out[method] = await client.call(method)
        except RpcError as exc:
            out[method] = {"error": exc.message, "data": exc.data}
    return json.dumps(out)


async def test_secrets_stay_out_of_logs_answers_events_and_the_store(short_tmp: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "leadsync", "apscheduler"):  # the CLI quiets some of them for good
        caplog.set_level(logging.DEBUG, logger=name)
    clock = ManualClock(T0)
    oauth = OAuthServer(clock, client_secret=CLIENT_SECRET, refresh_token=REFRESH_TOKEN)
    state = build_state(contacts=150, clock=clock)
    app = create_app(state, faults=FaultSwitches(rate_limit_per_10s=None, search_rate_limit_per_s=None),
                     token=TOKEN, oauth=oauth)
    agent = Agent(short_tmp / "data", short_tmp / "agent.sock",
                  connector_options={"transport": httpx.ASGITransport(app=app), "rate_limit_per_10s": 100_000,
                                     "search_per_s": 1000.0, **clocked_options(clock)})
    await agent.start()
    said: list[str] = []
    try:
        async with RpcClient(agent.socket_path) as client, RpcClient(agent.socket_path) as listener:
            await listener.call("events.subscribe", {})
            with pytest.raises(RpcError) as refused:  # a wrong token: the error must not echo it
                await client.call("crm.connect", {"crm": "hubspot", "base_url": SANDBOX_URL,
                                                  "credentials": {"token": WRONG_TOKEN}})
            said.append(json.dumps([refused.value.message, refused.value.data]))
            said.append(json.dumps(await client.call("crm.connect", {"crm": "hubspot", "base_url": SANDBOX_URL,
                                                                     "credentials": {"token": TOKEN}})))
            said.append(json.dumps(await client.call("sync.run", {"wait": True})))
            said.append(await answers_and_events(client))
            await client.call("crm.disconnect")

            credentials = {**OAUTH_CREDENTIALS, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN}
            said.append(json.dumps(await client.call("crm.connect", {"crm": "hubspot", "base_url": SANDBOX_URL,
                                                                     "credentials": credentials})))
            clock.advance(31 * 60_000)  # expired: a refresh before the sync
            said.append(json.dumps(await client.call("sync.run", {"wait": True})))
            oauth.expire_access_tokens()  # refused mid-life: one refresh after a 401
            said.append(json.dumps(await client.call("sync.run", {"wait": True})))
            said.append(await answers_and_events(client))
            events: list[dict[str, Any]] = []

            def third_run_end(event: dict[str, Any]) -> bool:  # the last event of this test: reads send none
                events.append(event)
                return sum(e.get("type") == "run_finished" for e in events) == 3

            await next_event(listener, third_run_end, what="the end of the third sync run")
            while not listener._events.empty():
                events.append(listener._events.get_nowait())
            said.append(json.dumps(events))
    finally:
        await agent.stop()

    access_tokens = set(oauth.access_tokens)
    secrets = {TOKEN, WRONG_TOKEN, CLIENT_SECRET, REFRESH_TOKEN, *access_tokens}
    assert oauth.issued == 3 and state.status_counts[401] >= 1  # connect, expiry, after the 401
    assert len(events) > 5
    assert "/oauth/v1/access-tokens/***" in caplog.text  # httpx logged the token lookup's URL, redacted
    assert leaks(caplog.text, secrets) == []
    assert leaks(" ".join(str(r.args) for r in caplog.records), secrets) == []
    assert leaks("\n".join(said), secrets) == []
    data = agent.data_dir
    for name in ("leadsync.db", "leadsync.db-wal", "leadsync.db-shm"):
        if (data / name).exists():
            assert leaks((data / name).read_bytes().decode("latin-1"), secrets) == [], name
    stored = (data / "secrets" / "hubspot.json")
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600 and stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert {CLIENT_SECRET, REFRESH_TOKEN} <= set(json.loads(stored.read_text()).values())


def test_a_subprocess_agent_keeps_secrets_out_of_stderr_arguments_environment_and_store(short_tmp: Path) -> None:
    sandbox = SandboxProcess(200)
    agent = AgentProcess(short_tmp / "data", short_tmp / "agent.sock", short_tmp / "agent.log")
    try:
        agent.wait_ready()
        sock = agent.sock
        call_once(sock, "crm.connect", {"crm": "hubspot", "base_url": sandbox.url,
                                        "credentials": {"token": SANDBOX_TOKEN}})
        answers: list[Any] = [call_once(sock, "sync.run", {"wait": True}, timeout_s=60)]
        call_once(sock, "crm.disconnect")
        answers.append(call_once(sock, "crm.connect", {"crm": "hubspot", "base_url": sandbox.url,
                                                       "credentials": dict(OAUTH_CREDENTIALS)}))
        sandbox.admin("POST", "/__sandbox/oauth", {"expire_access_tokens": True})  # the next call gets a 401
        answers.append(call_once(sock, "sync.run", {"wait": True}, timeout_s=60))
        answers += [call_once(sock, method) for method in READ_METHODS]
        cmdline = Path(f"/proc/{agent.pid}/cmdline").read_bytes().decode()
        environ = Path(f"/proc/{agent.pid}/environ").read_bytes().decode("latin-1")
        issued = sandbox.admin("GET", "/__sandbox/oauth")["issued"]
    finally:
        code = agent.terminate() if agent.proc.poll() is None else agent.proc.returncode
        sandbox.close()
    stored = json.loads((short_tmp / "data" / "secrets" / "hubspot.json").read_text())
    secrets = {SANDBOX_TOKEN, OAUTH_CREDENTIALS["client_secret"], OAUTH_CREDENTIALS["refresh_token"],
               stored["access_token"]}
    assert code == 0 and issued == 2  # connect, then after the 401
    assert answers[1]["connected"] and answers[2]["status"] == "ok"
    assert leaks(agent.log_path.read_text(), secrets) == []
    assert leaks(cmdline + environ, secrets) == []
    assert leaks(json.dumps(answers), secrets) == []
    db = (short_tmp / "data" / "leadsync.db").read_bytes().decode("latin-1")
    assert leaks(db, secrets) == []
