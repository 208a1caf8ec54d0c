"""The live CLI verbs: ``leadsync sync`` (a rich progress bar on a terminal, lines when piped), ``leadsync
events`` (lines or JSON lines until Ctrl-C, reconnecting when the agent goes away) and ``leadsync health``."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from leadsync.agent import cli_live
from leadsync.agent.cli import main
from leadsync.agent.cli_health import sparkline
from leadsync.agent.daemon import Agent
from leadsync.common.rpc import RpcClient
from tests.conftest import CrmWorld

LEADSYNC = [sys.executable, "-m", "leadsync.agent.cli"]


async def test_sync_piped_prints_plain_progress_lines_then_the_outcome(world: CrmWorld,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert await asyncio.to_thread(main, ["--socket", str(world.agent.socket_path), "sync"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "sync #1 running (manual)"
    assert any(line.startswith("sync #1: pulling from the CRM (contacts) ") for line in lines[1:-1]), lines
    assert lines[-1].startswith("sync #1 ok: pulled 200,")
    assert not any("\x1b[" in line for line in lines)  # no terminal codes in a pipe


async def test_sync_on_a_terminal_draws_a_rich_progress_bar(world: CrmWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(cli_live, "make_console", lambda: Console(file=screen, force_terminal=True, width=100,
                                                                  highlight=False, soft_wrap=True))
    assert await asyncio.to_thread(main, ["--socket", str(world.agent.socket_path), "sync"]) == 0
    raw = screen.getvalue()
    assert "\x1b[2K" in raw and "━" in raw  # rich's bar, redrawn in place with terminal codes
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw)
    assert "pulling from the CRM (contacts)" in text and "200/200" in text
    assert text.rstrip().splitlines()[-1].startswith("sync #1 ok: pulled 200,")


async def test_sync_json_and_no_wait_keep_their_answers(world: CrmWorld, capsys: pytest.CaptureFixture[str]) -> None:
    sock = str(world.agent.socket_path)
    assert await asyncio.to_thread(main, ["--socket", sock, "sync", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "ok"
    assert await asyncio.to_thread(main, ["--socket", sock, "sync", "--no-wait"]) == 0
    assert "follow it with: leadsync events" in capsys.readouterr().out


async def _line(stream: asyncio.StreamReader) -> str:
    return (await asyncio.wait_for(stream.readline(), 20)).decode()


async def _events(socket: Path, *extra: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return await asyncio.create_subprocess_exec(*LEADSYNC, "--socket", str(socket), "events", *extra, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                preexec_fn=_ctrl_c_as_on_a_terminal)


def _ctrl_c_as_on_a_terminal() -> None:
    """In the child: SIGINT as a terminal gives it. A suite started in the background (``nohup ... &``)
    passes SIGINT ignored, and Python then leaves it ignored: Ctrl-C would never reach ``leadsync events``."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


async def _interrupt(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def _subscribed(agent: Agent) -> None:
    for _ in range(200):  # until the subprocess has subscribed (its session has an event queue)
        if any(s.events is not None for s in agent.server.sessions):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("leadsync events never subscribed")


async def test_events_streams_lines_and_ctrl_c_exits_0_without_a_traceback(agent: Agent, client: RpcClient) -> None:
    proc = await _events(agent.socket_path)
    assert proc.stdout is not None
    await _subscribed(agent)
    await client.call("users.create", {"email": "ev@corp.example"})
    line = await _line(proc.stdout)
    assert "users_changed" in line and '"user_id": 1' in line
    code, err = await _interrupt(proc)
    assert code == 0 and "Traceback" not in err, err


async def test_events_json_is_one_event_object_per_line(agent: Agent, client: RpcClient) -> None:
    proc = await _events(agent.socket_path, "--json")
    assert proc.stdout is not None
    await _subscribed(agent)
    await client.call("users.create", {"email": "ev@corp.example"})
    assert json.loads(await _line(proc.stdout)) == {"type": "users_changed", "user_id": 1}
    code, err = await _interrupt(proc)
    assert code == 0 and err == ""


async def test_events_says_when_the_agent_goes_away_and_comes_back(short_tmp: Path) -> None:
    first = Agent(short_tmp / "data", short_tmp / "agent.sock")
    await first.start()
    proc = await _events(first.socket_path)
    assert proc.stderr is not None and proc.stdout is not None
    await _subscribed(first)
    await first.stop()
    assert "went away; reconnecting" in await _line(proc.stderr)
    second = Agent(short_tmp / "data", short_tmp / "agent.sock")
    await second.start()
    try:
        assert "reconnected" in await _line(proc.stderr)
        await _subscribed(second)
        async with RpcClient(second.socket_path) as client:
            await client.call("users.create", {"email": "back@corp.example"})
        assert "users_changed" in await _line(proc.stdout)
        code, err = await _interrupt(proc)
        assert code == 0 and "Traceback" not in err
    finally:
        await second.stop()


def test_events_without_an_agent_exits_3(short_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--socket", str(short_tmp / "none.sock"), "events"]) == 3
    assert "no leadsync agent" in capsys.readouterr().err


def test_sparkline_scales_to_the_peak() -> None:
    assert sparkline([0, 1, 2, 4, 8]) == "▁▂▃▅█"
    assert sparkline([0, 0]) == "▁▁" and sparkline([]) == ""


async def test_health_without_a_crm_says_what_to_do_and_exits_1(agent: Agent,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert await asyncio.to_thread(main, ["--socket", str(agent.socket_path), "health"]) == 1
    out = capsys.readouterr().out
    assert "Connection  NOT CONNECTED" in out
    assert "next: Connect one: leadsync call crm.connect" in out


async def test_health_shows_the_partial_run_and_the_errors_by_cause(synced_agent: CrmWorld, world_client: RpcClient,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    user = await world_client.call("users.create", {"email": "nobody@corp.example"})
    contact = await world_client.call("contacts.create", {"created_by": user["id"],
                                                           "fields": {"email": "held@example.org"}})
    await world_client.call("sync.run", {"wait": True})
    sock = str(synced_agent.agent.socket_path)
    assert await asyncio.to_thread(main, ["--socket", sock, "health"]) == 1
    out = capsys.readouterr().out
    assert "Connection  ok  hubspot at http://sandbox.test" in out
    assert "requests per 10 s: " in out and "calls per hour, 24 h to now: " in out
    assert "PARTIAL" in out
    assert f"no_owner: 1 errors, 1 contacts; e.g. #1 contact {contact['id']}: " in out
    assert "retry all of these: leadsync errors retry --code no_owner" in out
    assert "Problems (2)" in out
    assert await asyncio.to_thread(main, ["--socket", sock, "health", "--json"]) == 1
    answer: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert answer["errors"][0]["retry"] == {"code": "no_owner"}


async def test_health_of_a_healthy_agent_exits_0(synced_agent: CrmWorld, capsys: pytest.CaptureFixture[str]) -> None:
    assert await asyncio.to_thread(main, ["--socket", str(synced_agent.agent.socket_path), "health"]) == 0
    assert "No problems." in capsys.readouterr().out
