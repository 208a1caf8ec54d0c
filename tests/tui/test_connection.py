"""The no-agent screen, and reconnecting by itself when an agent appears (and goes away again)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.message import Message

from leadsync.agent.daemon import Agent
from leadsync.tui.app import LeadsyncApp
from leadsync.tui.connection import RECONNECT_S
from leadsync.tui.messages import AgentConnected, AgentLost
from leadsync.tui.no_agent import NoAgentScreen
from tests.tui.conftest import make_app, wait_until
from tests.tui.screen_text import screen_text


async def test_no_agent_screen_shows_the_socket_and_how_to_start_one(short_tmp: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    sock = short_tmp / "agent.sock"
    monkeypatch.setenv("LEADSYNC_SOCKET", str(sock))  # the default path: the plain command applies
    app = make_app(sock)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, NoAgentScreen), what="the no-agent screen")
        text = screen_text(app)
        assert "No leadsync agent is running" in text
        assert str(sock) in text
        assert "leadsync agent" in text
        assert "--socket" not in text


async def test_a_non_default_socket_gets_the_matching_start_command(short_tmp: Path) -> None:
    sock = short_tmp / "elsewhere.sock"
    app = make_app(sock)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, NoAgentScreen), what="the no-agent screen")
        assert f"leadsync --socket {sock} agent" in screen_text(app)


async def test_reconnects_when_the_agent_starts_and_shows_the_screen_when_it_stops(short_tmp: Path) -> None:
    sock = short_tmp / "agent.sock"
    seen: list[Message] = []
    app = make_app(sock)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, NoAgentScreen), what="the no-agent screen")
        agent = Agent(short_tmp / "data", sock)
        await agent.start()
        try:
            await wait_until(pilot, lambda: app.link.connected and not isinstance(app.screen, NoAgentScreen),
                             what="the reconnect")
            assert any(isinstance(m, AgentConnected) for m in seen)
            await wait_until(pilot, lambda: "No contacts" in screen_text(app), what="the empty contact list")
        finally:
            lost_before = sum(isinstance(m, AgentLost) for m in seen)
            await agent.stop()
        await wait_until(pilot, lambda: isinstance(app.screen, NoAgentScreen), what="the no-agent screen again")
        assert sum(isinstance(m, AgentLost) for m in seen) > lost_before
        assert not app.link.connected


def test_polls_every_two_seconds_by_default(short_tmp: Path) -> None:
    assert RECONNECT_S == 2.0
    assert LeadsyncApp(short_tmp / "agent.sock").reconnect_s == RECONNECT_S
