"""The Settings tab: the sync interval (checked in the form, and the agent's refusal shown), the push
master switch, and the CRM connection panel."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Button, Input, Select, Static, Switch

from leadsync.agent.daemon import Agent
from leadsync.common.rpc import RpcClient
from leadsync.tui.app import LeadsyncApp
from leadsync.tui.mappings_view import MappingsPanel
from leadsync.tui.settings_confirm import ConfirmWritesScreen
from leadsync.tui.settings_view import FormError, parse_interval
from tests.conftest import CrmWorld
from tests.tui.conftest import make_app, wait_until
from tests.tui.screen_text import screen_text, static_text


async def settings(agent: Agent) -> dict[str, Any]:
    async with RpcClient(agent.socket_path) as client:
        answer: dict[str, Any] = await client.call("settings.get")
        return answer


def form_message(app: LeadsyncApp) -> str:
    return static_text(app.settings_view.query_one("#settings-message", Static))


async def open_settings(pilot: Pilot[Any], app: LeadsyncApp) -> None:
    await wait_until(pilot, lambda: app.settings_view.settings is not None, what="the settings")
    await pilot.press("3")
    await wait_until(pilot, lambda: app.main_tabs.active == "settings", what="the Settings tab")


async def type_interval(pilot: Pilot[Any], app: LeadsyncApp, text: str) -> None:
    """Type ``text`` in the interval field and save with ctrl+s (Enter only moves to the next field)."""
    interval = app.settings_view.query_one("#interval", Input)
    interval.focus()
    interval.value = ""
    await pilot.press(*text, "ctrl+s")


async def apply_confirmation(pilot: Pilot[Any], app: LeadsyncApp) -> ConfirmWritesScreen:
    """Wait for the confirmation of a change that can push contacts, for its preview, then press Apply."""
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmWritesScreen), what="the confirmation")
    screen = app.screen
    assert isinstance(screen, ConfirmWritesScreen)
    await wait_until(pilot, lambda: screen.lines is not None, what="the preview", timeout_s=60)
    await pilot.click("#confirm-apply")
    return screen


async def test_changing_the_sync_interval(agent: Agent) -> None:
    app = make_app(agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_settings(pilot, app)
        await type_interval(pilot, app, "2h")
        await wait_until(pilot, lambda: "Saved" in form_message(app), what="the save")
        assert "sync interval 2 h" in form_message(app)
        assert (await settings(agent))["sync_interval_minutes"] == 120


async def test_an_out_of_range_interval_is_refused_by_the_form_without_sending(agent: Agent) -> None:
    app = make_app(agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_settings(pilot, app)
        await type_interval(pilot, app, "5")
        await wait_until(pilot, lambda: "out of range" in form_message(app), what="the form's refusal")
        assert "allowed 10 minutes to 24 hours" in form_message(app)
        assert (await settings(agent))["sync_interval_minutes"] == 60


async def test_the_agents_refusal_is_shown_when_it_still_refuses(agent: Agent) -> None:
    app = make_app(agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_settings(pilot, app)
        app.settings_view.send_update({"sync_interval_minutes": 5})  # what an older form might send
        await wait_until(pilot, lambda: "5 is out of range" in form_message(app), what="the agent's message")
        assert "10 to 1440" in form_message(app)
        await pilot.pause()
        assert "5 is out of range" in screen_text(app)
        assert (await settings(agent))["sync_interval_minutes"] == 60


def test_interval_parsing() -> None:
    assert parse_interval("45") == 45
    assert parse_interval("90m") == 90
    assert parse_interval(" 2h ") == 120
    assert parse_interval("1d") == 1440
    for bad in ("9", "25h", "soon", ""):
        try:
            parse_interval(bad)
        except FormError:
            continue
        raise AssertionError(f"{bad!r} was accepted")


async def test_disabling_push_sends_the_switch_and_says_so(agent: Agent) -> None:
    app = make_app(agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_settings(pilot, app)
        switch = app.settings_view.query_one("#push-enabled", Switch)
        assert switch.value is True and app.focused is app.settings_view
        await pilot.press("tab", "tab")  # from the form's scroll to the interval, then to the switch
        assert app.focused is switch
        await pilot.press("enter")  # turning push off needs no confirmation: it sends nothing
        await wait_until(pilot, lambda: app.settings_view.settings is not None
                         and not app.settings_view.settings.push_enabled, what="push disabled")
        assert (await settings(agent))["push_enabled"] is False
        assert "OFF: nothing is sent to the CRM" in screen_text(app)
        # The Sync tab hears about it through the settings_changed event.
        await pilot.press("2")
        await wait_until(pilot, lambda: "PUSH DISABLED" in screen_text(app), what="the Sync tab's push state")


async def test_the_crm_connection_is_shown_with_its_user(synced_agent: CrmWorld) -> None:
    app = make_app(synced_agent.agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_settings(pilot, app)
        await wait_until(pilot, lambda: "hubspot" in screen_text(app), what="the CRM status")
        text = screen_text(app)
        assert "connected as" in text
        crm = static_text(app.settings_view.query_one("#crm-status", Static))
        warning = app.settings_view.query_one("#crm-warning", Static)
        if "admin  NO" in crm or "NO —" in crm:
            assert warning.display and "non-admin" in static_text(warning)
        else:
            assert not warning.display


async def test_threshold_and_fallback_owner_are_saved_and_cleared(synced_agent: CrmWorld) -> None:
    app = make_app(synced_agent.agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_settings(pilot, app)
        view = app.settings_view
        owner = next(iter(app.link.directory.owners))
        view.query_one("#threshold", Input).value = "80"
        view.query_one("#fallback-owner", Select).value = owner
        await pilot.press("ctrl+s")
        confirmed = await apply_confirmation(pilot, app)  # a threshold where there was none can push contacts
        async with RpcClient(synced_agent.agent.socket_path) as client:
            at_80 = (await client.call("contacts.count", {"filter": {"min_score": 80}}))["count"]
        assert confirmed.lines is not None
        assert f"{at_80:,} contacts have a lead score of 80 or more" in confirmed.lines[0]
        assert "would write" in confirmed.lines[1]  # and what the next sync would send (sync.plan)
        await wait_until(pilot, lambda: "Saved" in form_message(app), what="the save")
        saved = await settings(synced_agent.agent)
        assert (saved["score_threshold"], saved["fallback_owner"]) == (80, owner)
        view.query_one("#threshold", Input).value = ""
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "cleared score threshold" in form_message(app), what="the clear")
        assert (await settings(synced_agent.agent))["score_threshold"] is None


async def test_field_mapping_and_check_mapped_fields(synced_agent: CrmWorld) -> None:
    app = make_app(synced_agent.agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_settings(pilot, app)
        panel = app.settings_view.query_one(MappingsPanel)
        await wait_until(pilot, lambda: "CRM property" in static_text(panel.query_one("#mappings-body", Static)),
                         what="the mapping table")
        assert "email" in static_text(panel.query_one("#mappings-body", Static))
        await pilot.click("#mappings-check")
        await wait_until(pilot, lambda: panel.last_check is not None, what="the check")
        report = static_text(panel.query_one("#mappings-check-report", Static))
        assert "check out" in report or "problem" in report


async def test_without_a_crm_the_mapping_says_why(agent: Agent) -> None:
    app = make_app(agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_settings(pilot, app)
        panel = app.settings_view.query_one(MappingsPanel)
        await wait_until(pilot, lambda: "CRM" in static_text(panel.query_one("#mappings-body", Static)),
                         what="the reason")
        assert panel.query_one("#mappings-check", Button).disabled


async def test_turning_push_on_shows_what_it_would_write_and_asks(synced_agent: CrmWorld) -> None:
    async with RpcClient(synced_agent.agent.socket_path) as client:
        await client.call("settings.update", {"push_enabled": False})
        for contact in (await client.call("contacts.list", {"limit": 3}))["contacts"]:
            await client.call("contacts.update", {"id": contact["id"], "fields": {"company": "Waiting Co"}})
        plan = await client.call("sync.plan")
    contacts, fields = sum(plan["counts"]["crm"].values()), sum(plan["field_counts"]["crm"].values())
    assert contacts >= 3 and fields >= 3
    app = make_app(synced_agent.agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_settings(pilot, app)
        view = app.settings_view
        switch = view.query_one("#push-enabled", Switch)
        switch.focus()
        await pilot.press("enter")  # on: a confirmation first, nothing sent yet
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmWritesScreen), what="the confirmation")
        screen = app.screen
        assert isinstance(screen, ConfirmWritesScreen)
        await wait_until(pilot, lambda: screen.lines is not None, what="the preview", timeout_s=60)
        assert f"would write {contacts:,} contacts to the CRM" in screen.lines[0]
        assert f"{fields:,} field values" in screen.lines[0]
        assert app.focused is screen.query_one("#confirm-cancel", Button)  # Enter alone would cancel
        assert (await settings(synced_agent.agent))["push_enabled"] is False
        await pilot.press("escape")
        await wait_until(pilot, lambda: "Not saved" in form_message(app), what="the cancel")
        assert switch.value is False and (await settings(synced_agent.agent))["push_enabled"] is False
        switch.focus()
        await pilot.press("enter")
        await apply_confirmation(pilot, app)
        await wait_until(pilot, lambda: view.settings is not None and view.settings.push_enabled, what="push on")
        assert (await settings(synced_agent.agent))["push_enabled"] is True


async def test_enter_in_the_form_moves_on_and_never_saves(agent: Agent) -> None:
    app = make_app(agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_settings(pilot, app)
        threshold = app.settings_view.query_one("#threshold", Input)
        threshold.focus()
        await pilot.press(*"10", "enter")
        await pilot.pause()
        assert app.focused is not threshold and not isinstance(app.screen, ConfirmWritesScreen)
        assert (await settings(agent))["score_threshold"] is None
        assert form_message(app) == ""
