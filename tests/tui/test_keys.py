"""The TUI by keyboard alone: every pane key the help screen lists reaches its pane, Escape goes back to the
pane's table, and every pane is in the command palette."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, Static, TabbedContent

from leadsync.agent.daemon import Agent
from leadsync.tui.app import LeadsyncApp
from leadsync.tui.contact_detail import ContactDetailScreen
from leadsync.tui.help_screen import HelpRow, HelpScreen
from leadsync.tui.keymap import PANES, PANES_BY_NAME
from tests.tui.conftest import make_app, wait_until
from tests.tui.screen_text import screen_text, static_text


async def open_help(pilot: Pilot[Any], app: LeadsyncApp) -> HelpScreen:
    await pilot.press("question_mark")
    await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help screen")
    assert isinstance(app.screen, HelpScreen)
    return app.screen


def pane_rows(rows: list[HelpRow]) -> list[tuple[HelpRow, str]]:
    """The help rows that show a pane, with the pane's name (from the action ``show_pane('name')``)."""
    return [(row, row.action.split("'")[1]) for row in rows
            if row.place == "Everywhere" and row.action.startswith("show_pane(")]


def assert_pane_shown(app: LeadsyncApp, name: str) -> None:
    pane = PANES_BY_NAME[name]
    focused = app.focused
    expected = app.shown_pane().focus if name == "sync" else pane.focus  # Sync: its sub-tab shown
    assert focused is not None and f"#{focused.id}" == expected, (name, focused)
    assert app.main_tabs.active == pane.tab
    if pane.sub_tab is not None:
        assert app.sync_view.query_one("#sync-tabs", TabbedContent).active == pane.sub_tab
    assert focused.region.width > 0 and focused.region.height > 0  # on screen, not in a hidden tab


async def test_every_pane_key_in_the_help_reaches_its_pane(small_agent: Agent) -> None:
    app = make_app(small_agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.contacts_view.settled and app.contacts_view.loaded > 0, what="the list")
        help_screen = await open_help(pilot, app)
        rows = pane_rows(help_screen.rows)
        assert {name for _, name in rows} == {pane.name for pane in PANES}  # the help lists every pane
        await pilot.press("escape")
        for row, name in rows:
            await pilot.press(row.key)
            await pilot.pause()
            assert_pane_shown(app, name)
            # the key is on screen with the pane's name: in the tab bar, and for Sync's panes in the footer too
            assert f"{row.shown} {PANES_BY_NAME[name].title}" in screen_text(app)
        # A pane key works from the help screen itself, and from a contact's screen.
        await open_help(pilot, app)
        await pilot.press("e")
        await pilot.pause()
        assert_pane_shown(app, "errors")
        await pilot.press("1", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ContactDetailScreen), what="the contact")
        await pilot.press("4")
        await pilot.pause()
        assert_pane_shown(app, "owners")


async def test_the_help_lists_every_key_of_every_view(small_agent: Agent) -> None:
    app = make_app(small_agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.link.connected, what="the agent")
        help_screen = await open_help(pilot, app)
        rows = help_screen.rows
        listed = {(row.place, row.shown) for row in rows}
        for expected in (("Sync › Errors", "t"), ("Sync › Errors", "a"), ("Sync › History", "u"),
                         ("Sync › Conflicts", "v"), ("Settings", "^s"), ("Smart lists", "^n"),
                         ("A contact", "e"), ("Import", "^r"), ("Contacts", "/")):
            assert expected in listed, expected
        shown = static_text(help_screen.query_one("#help-table", Static), width=240)
        assert all(row.description in shown for row in rows)  # the help shows what it lists


async def test_the_detail_scrolls_at_once_and_escape_goes_back(small_agent: Agent) -> None:
    app = make_app(small_agent.socket_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.contacts_view.settled and app.contacts_view.loaded > 0, what="the list")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ContactDetailScreen)
                         and app.screen.details is not None, what="the contact")
        body = app.screen.query_one("#detail-body")
        assert app.focused is body
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: body.scroll_y > 0, what="the scroll")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.focused is app.contacts_view.table, what="the table again")


async def test_escape_goes_back_to_the_panes_table(small_agent: Agent) -> None:
    app = make_app(small_agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.settings_view.settings is not None, what="the settings")
        for key, field in (("1", "#contacts-search"), ("3", "#interval"), ("5", "#sl-name")):
            await pilot.press(key)
            app.screen.query_one(field, Input).focus()
            await pilot.pause()
            await pilot.press("escape")
            await pilot.pause()
            assert app.focused is not None and f"#{app.focused.id}" == app.shown_pane().focus, key


async def test_every_pane_is_in_the_command_palette(small_agent: Agent) -> None:
    app = make_app(small_agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.link.connected, what="the agent")
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        for pane in PANES:
            assert f"({pane.key})" in commands[pane.title].help
        commands["Conflicts"].callback()
        await pilot.pause()
        assert_pane_shown(app, "conflicts")
