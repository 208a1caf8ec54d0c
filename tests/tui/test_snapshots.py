"""Screenshots of the main screens, compared with the accepted ones in ``snapshots/``.

Nothing in them depends on the clock or on the run: the agent holds fixed data (ids included), times
are frozen, the no-agent screen tries a fixed path. Update after a deliberate change with
``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at the report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from leadsync.tui.app import LeadsyncApp
from leadsync.tui.contact_detail import ContactDetailScreen
from leadsync.tui.help_screen import HelpScreen
from leadsync.tui.import_screen import ImportScreen
from leadsync.tui.no_agent import NoAgentScreen
from leadsync.tui.settings_confirm import ConfirmWritesScreen
from tests.tui.conftest import ThreadedAgent, make_app, wait_until

SnapCompare = Callable[..., bool]
Step = Callable[[Pilot[Any]], Awaitable[None]]

pytestmark = pytest.mark.usefixtures("frozen_time")


def loaded(app: LeadsyncApp) -> bool:
    return (app.link.connected and app.contacts_view.settled and app.contacts_view.loaded > 0
            and app.settings_view.settings is not None)


def steps(app: LeadsyncApp, *keys: str, theme: str | None = None,
          then: Callable[[], bool] | None = None) -> Step:
    async def run_before(pilot: Pilot[Any]) -> None:
        if theme:
            app.theme = theme
        await wait_until(pilot, lambda: loaded(app), what="the dashboard")
        if keys:
            await pilot.press(*keys)
        if then is not None:
            await wait_until(pilot, then, what="the screen")
        await pilot.pause(0.2)

    return run_before


def sync_loaded(app: LeadsyncApp) -> bool:
    return "Waiting" not in str(app.sync_view.query_one("#sync-summary", Static).content)


def detail_loaded(app: LeadsyncApp) -> bool:
    return isinstance(app.screen, ContactDetailScreen) and app.screen.details is not None


SCREENS: dict[str, tuple[tuple[str, ...], Callable[[LeadsyncApp], bool] | None]] = {
    "contacts": ((), None),
    "sync-history": (("2",), sync_loaded),
    "sync-errors": (("e",), sync_loaded),
    "sync-conflicts": (("x",), sync_loaded),
    "settings": (("3",), None),
    "owners": (("4",), None),
    "smart-lists": (("5",), lambda app: app.smartlists_view.count is not None),
    "health": (("6",), lambda app: app.health_view.health is not None and app.health_view.has_focus),
    "contact-detail": (("down", "enter"), detail_loaded),
    "help": (("question_mark",), lambda app: isinstance(app.screen, HelpScreen)),
    # a threshold where there was none: the confirmation with its counts (nothing is saved: no Apply)
    "settings-confirm": (("3", "tab", "tab", "tab", "0", "ctrl+s"),
                         lambda app: isinstance(app.screen, ConfirmWritesScreen) and app.screen.lines is not None),
}
SIZES = {"80x24": (80, 24), "160x48": (160, 48)}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("screen", list(SCREENS))
def test_main_screen(snap_compare: SnapCompare, threaded_agent: ThreadedAgent, screen: str, size: str) -> None:
    """Each main screen at the smallest terminal it must fit (80x24) and a large one (160x48)."""
    app = make_app(threaded_agent.socket_path)
    keys, shown = SCREENS[screen]
    then = None if shown is None else (lambda: shown(app))
    assert snap_compare(app, terminal_size=SIZES[size], run_before=steps(app, *keys, then=then))


def test_contacts_light_80x24(snap_compare: SnapCompare, threaded_agent: ThreadedAgent) -> None:
    app = make_app(threaded_agent.socket_path)
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps(app, theme="textual-light"))


def test_settings_light_80x24(snap_compare: SnapCompare, threaded_agent: ThreadedAgent) -> None:
    app = make_app(threaded_agent.socket_path)
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps(app, "3", theme="textual-light"))


IMPORT_FILE = Path("/tmp/leadsync-snapshot/import-contacts.csv")  # a fixed path: the form shows it


def test_import_preview_80x24(snap_compare: SnapCompare, threaded_agent: ThreadedAgent) -> None:
    IMPORT_FILE.parent.mkdir(parents=True, exist_ok=True)
    IMPORT_FILE.write_text("Email,First Name,Job Title,Lead Source,Phone\n"
                           "lin@example.org,Lin,CTO,Webinar,4.41E+11\n"
                           "not-an-email,Kim,,Fair,\n"
                           "mo@example.org,Mo,Buyer,,+44 20 7946 0000\n", encoding="utf-8")
    app = make_app(threaded_agent.socket_path)

    def previewed() -> bool:
        screen = app.screen
        return isinstance(screen, ImportScreen) and screen.running is None and screen.last_answer is not None

    async def run_before(pilot: Pilot[Any]) -> None:
        await steps(app, "i", then=lambda: isinstance(app.screen, ImportScreen))(pilot)
        screen = app.screen
        screen.query_one("#import-as").value = 1
        screen.query_one("#import-path").value = str(IMPORT_FILE)
        await pilot.press("ctrl+r")  # the preview only: the module's agent stays as the other tests expect
        await wait_until(pilot, previewed, what="the preview")
        screen.query_one("#import-columns").focus()
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", list(SIZES))
def test_no_agent(snap_compare: SnapCompare, size: str) -> None:
    app = LeadsyncApp(Path("/tmp/leadsync-snapshot/no-agent.sock"))

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: isinstance(app.screen, NoAgentScreen), what="the no-agent screen")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)
