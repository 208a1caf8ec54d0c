"""The app as a whole: the TUI never imports the agent, and every action is in the command palette."""

from __future__ import annotations

import subprocess
import sys

from textual.command import CommandPalette

from leadsync.agent.daemon import Agent
from tests.tui.conftest import make_app, wait_until


def test_the_tui_does_not_import_the_agent() -> None:
    code = ("import sys, leadsync.tui.app; "
            "bad = sorted(m for m in sys.modules if m.startswith('leadsync.agent')); "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


async def test_every_action_is_in_the_command_palette(agent: Agent) -> None:
    app = make_app(agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.link.connected, what="the agent")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for title in ("Contacts", "Sync", "Settings", "Sync now", "Refresh", "Search contacts",
                      "Clear contact filters", "Open selected contact", "Toggle push", "Save settings",
                      "Plan (dry run)", "Check mapped fields", "Retry connecting"):
            assert title in titles
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
        await pilot.press(*"Settings")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.main_tabs.active == "settings", what="the Settings tab")


async def test_number_keys_switch_tabs(agent: Agent) -> None:
    app = make_app(agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.link.connected, what="the agent")
        for key, tab in (("2", "sync"), ("3", "settings"), ("1", "contacts")):
            await pilot.press(key)
            assert app.main_tabs.active == tab
