"""The Sync tab: a manual sync with live progress (HubSpot sandbox), coalesced progress, the plan,
and what happens without a CRM."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import DataTable, Static

from leadsync.agent.daemon import Agent
from leadsync.common.rpc import RpcClient
from leadsync.tui.conflicts_view import ConflictsPane
from leadsync.tui.messages import SyncFinished, SyncProgress
from tests.conftest import CrmWorld
from tests.tui.conftest import make_app, notifications, wait_until
from tests.tui.screen_text import screen_text, static_text


def phase_text(app: Any) -> str:
    """The Sync tab's progress line."""
    return static_text(app.sync_view.query_one("#sync-phase", Static))


async def open_sync_tab(pilot: Any, app: Any) -> None:
    """Once the app is connected, switch to the Sync tab and wait until its progress row is there."""
    await wait_until(pilot, lambda: app.link.connected, what="the agent")
    await pilot.press("2")
    await wait_until(pilot, lambda: bool(app.sync_view.query("#sync-progress")), what="the Sync tab")


async def header_refreshed(pilot: Any, app: Any) -> None:
    """Wait for the header's ``agent.status`` after a run's end: this agent has no backlog, so that answer would
    end a build that these tests only announce with events."""
    await pilot.pause()
    await wait_until(pilot, lambda: all(w.is_finished for w in app.workers if w.group == "agent-status"),
                     what="the header's refresh")


async def test_a_manual_sync_shows_live_progress_and_lands_in_the_history(world: CrmWorld) -> None:
    seen: list[Any] = []
    app = make_app(world.agent.socket_path)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await wait_until(pilot, lambda: app.link.connected, what="the agent")
        await pilot.press("2")
        await wait_until(pilot, lambda: "No sync has run yet." in screen_text(app), what="the Sync tab")
        await pilot.press("s")
        await wait_until(pilot, lambda: any(isinstance(m, SyncFinished) for m in seen), what="the sync to finish")
        progress = [m for m in seen if isinstance(m, SyncProgress) and m.phase != "search_index"]
        assert progress and progress[-1].phase in ("pull", "push")
        assert app.sync_view.progress_updates >= 1
        assert any(p.phase == "pull" and p.done == 200 for p in progress)
        history = app.sync_view.query_one("#sync-history", DataTable)
        await wait_until(pilot, lambda: history.row_count == 1, what="the run in the history")
        row = history.get_row_at(0)
        assert (str(row[1]), str(row[2]), str(row[5])) == ("manual", "ok", "200")
        assert any("Sync #1 ok" in n for n in notifications(seen))
        await wait_until(pilot, lambda: "Last run #1 ok (manual): pulled 200" in screen_text(app),
                         what="the summary")
        # A first full pull's search index is built after the run's end: the line says so when it is done.
        await wait_until(pilot, lambda: "Search index built: 200 contacts." in phase_text(app),
                         what="the search index build", state=lambda: phase_text(app))
        assert "Finished:" in phase_text(app) and "search index" not in app.sub_title
        assert not app.sync_view.query_one("#sync-progress").display


async def test_the_search_index_build_after_a_run_shows_beside_the_runs_end(agent: Agent) -> None:
    app = make_app(agent.socket_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await open_sync_tab(pilot, app)
        agent.emit({"type": "run_started", "run_id": 3, "trigger": "manual"})
        agent.emit({"type": "run_finished", "run": {"id": 3, "trigger": "manual", "status": "ok", "started_at": 1,
                                                   "finished_at": 2, "pulled": 100000, "created_local": 100000}})
        await wait_until(pilot, lambda: app.sync_view.last_finished == 3, what="the run's end")
        await header_refreshed(pilot, app)
        agent.emit({"type": "progress", "run_id": 3, "phase": "search_index", "done": 50000, "total": 100000})
        def phase() -> str:
            return phase_text(app)

        await wait_until(pilot, lambda: "Building the search index: 50,000 of 100,000 contacts" in phase(),
                         what="the build's progress", state=phase)
        assert phase().startswith("Finished:") and app.sync_view.running is None
        assert "search index 50,000/100,000" in app.sub_title
        assert not app.sync_view.query_one("#sync-now").disabled  # another sync may start meanwhile
        agent.emit({"type": "progress", "run_id": 3, "phase": "search_index", "done": 100000, "total": 100000})
        await wait_until(pilot, lambda: "Search index built: 100,000 contacts." in phase(), what="the end",
                         state=phase)
        assert "search index" not in app.sub_title
        assert not app.sync_view.query_one("#sync-progress").display


async def test_a_flood_of_progress_events_coalesces(agent: Agent) -> None:
    app = make_app(agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.link.connected and app.sync_view.query_one("#sync-history", DataTable)
                         is not None, what="the agent")
        await pilot.pause(0.2)
        agent.emit({"type": "run_started", "run_id": 7, "trigger": "interval"})
        for done in range(1, 901):
            agent.emit({"type": "progress", "run_id": 7, "phase": "pull", "object_type": "contact",
                        "done": done, "total": 900})
        await wait_until(pilot, lambda: app.sync_view.last_progress is not None
                         and app.sync_view.last_progress.done == 900, what="the last progress")
        assert app.sync_view.progress_updates < 900  # coalesced: the UI drew far fewer than it was sent
        assert "sync #7: pull 900/900" in app.sub_title  # visible from every tab
        await pilot.press("2")
        await pilot.pause()
        assert "Sync #7: pulling from the CRM, 900 of 900 contacts" in screen_text(app)


async def test_sync_now_without_a_crm_says_what_to_do(agent: Agent) -> None:
    seen: list[Any] = []
    app = make_app(agent.socket_path)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await wait_until(pilot, lambda: app.link.connected, what="the agent")
        await pilot.press("s")
        await wait_until(pilot, lambda: any("No CRM connected" in n for n in notifications(seen)),
                         what="the notification")
        assert any("crm.connect" in n for n in notifications(seen))


async def test_the_plan_is_a_dry_run_of_the_next_sync(synced_agent: CrmWorld) -> None:
    app = make_app(synced_agent.agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.link.connected, what="the agent")
        await pilot.press("2")
        await wait_until(pilot, lambda: "Last run #1 ok" in screen_text(app), what="the Sync tab")
        await pilot.press("p")
        plan_pane = app.sync_view.query_one("#sync-plan")
        await wait_until(pilot, lambda: getattr(plan_pane, "plan", None) is not None, what="the plan")
        await pilot.pause()
        assert "API calls to compute" in screen_text(app)
        assert "Here:" in screen_text(app) and "CRM:" in screen_text(app)


async def test_a_conflict_is_reviewed_and_the_losing_value_restored(synced_agent: CrmWorld) -> None:
    async with RpcClient(synced_agent.agent.socket_path) as client:
        await client.call("mappings.update", {"local": "company", "policy": "crm_wins"})
        contact = (await client.call("contacts.list", {"limit": 6}))["contacts"][5]
        await client.call("contacts.update", {"id": contact["id"], "fields": {"company": "Local Co"}})
        synced_agent.state.update_contact(contact["crm_id"], {"company": "CRM Co"})
        assert (await client.call("sync.run", {"wait": True}))["status"] == "ok"
        if not await client.call("conflicts.list", {}):  # the TUI is not under test when the agent made none
            pytest.skip("the agent recorded no conflict: see tests/test_merge.py::test_conflict_recorded_*")
    seen: list[Any] = []
    app = make_app(synced_agent.agent.socket_path)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        pane = app.sync_view.query_one(ConflictsPane)
        await wait_until(pilot, lambda: len(pane.conflicts) == 1, what="the conflict queue")
        await pilot.press("x")  # Sync › Conflicts, its table focused
        table = pane.query_one(DataTable)
        assert app.focused is table
        await pilot.pause()
        assert "Local Co" in screen_text(app) and "CRM Co" in screen_text(app)
        sides = {side: static_text(pane.query_one(f"#conflict-{side}", Static)) for side in ("base", "local", "crm")}
        assert "Local Co" in sides["local"] and "CRM Co" in sides["crm"]
        assert sides["base"].split("\n")[0] == (contact["company"] or "—")  # the last synced value, side by side
        await pilot.press("v")
        await wait_until(pilot, lambda: any("restored the losing value" in n for n in notifications(seen)),
                         what="the resolution")
        await wait_until(pilot, lambda: not pane.conflicts, what="the empty queue")
    async with RpcClient(synced_agent.agent.socket_path) as client:
        assert (await client.call("contacts.get", {"id": contact["id"]}))["company"] == "Local Co"


REFUSED_PHONE = {"status": "error", "message": "Property values were not valid", "category": "VALIDATION_ERROR",
                 "errors": [{"message": "not a valid phone number", "context": {"propertyName": ["phone"]}}]}


async def test_the_errors_view_retries_the_highlighted_error_and_closes_it(synced_agent: CrmWorld) -> None:
    async with RpcClient(synced_agent.agent.socket_path) as client:
        contact = (await client.call("contacts.list", {"limit": 3}))["contacts"][2]
        await client.call("contacts.update", {"id": contact["id"], "fields": {"phone": "+1 555 0111"}})
        synced_agent.faults.fail_next("*/batch/update", "POST", 400, body=REFUSED_PHONE)
        assert (await client.call("sync.run", {"wait": True}))["failed"] == 1
    seen: list[Any] = []
    app = make_app(synced_agent.agent.socket_path)
    async with app.run_test(size=(160, 30), message_hook=seen.append) as pilot:
        await pilot.press("2")
        table = app.sync_view.query_one("#sync-errors", DataTable)
        await wait_until(pilot, lambda: table.row_count == 1, what="the error")
        await pilot.press("e")  # Sync › Errors, its table focused: the errors pane is reached by keyboard
        assert app.focused is table
        await pilot.pause()
        assert "HubSpot refused the phone: not a valid phone number" in screen_text(app)
        await wait_until(pilot, lambda: "Retry all of this code" in screen_text(app),  # the footer names both keys
                         what="the footer's retry keys")
        await pilot.press("t")
        await wait_until(pilot, lambda: any("1 error retried" in n for n in notifications(seen)), what="the retry")
        await wait_until(pilot, lambda: table.row_count == 0, what="the error closed")
    assert synced_agent.state.get_contact(contact["crm_id"]).properties["phone"] == "+1 555 0111"


async def test_the_history_undoes_a_run_after_showing_its_plan(synced_agent: CrmWorld) -> None:
    async with RpcClient(synced_agent.agent.socket_path) as client:
        contact = (await client.call("contacts.list", {"limit": 4}))["contacts"][3]
        await client.call("contacts.update", {"id": contact["id"], "fields": {"job_title": "Undo me"}})
        run = await client.call("sync.run", {"wait": True})
    seen: list[Any] = []
    app = make_app(synced_agent.agent.socket_path)
    async with app.run_test(size=(120, 36), message_hook=seen.append) as pilot:
        await pilot.press("2")
        history = app.sync_view.query_one("#sync-history", DataTable)
        await wait_until(pilot, lambda: history.row_count == 2, what="the history")
        history.focus()
        history.move_cursor(row=0)
        await pilot.press("u")
        await wait_until(pilot, lambda: "Put back 1 local field and 1 CRM property" in screen_text(app),
                         what="the plan to confirm")
        await pilot.click("#undo-confirm")
        await wait_until(pilot, lambda: any(f"Undo of sync #{run['id']}" in n for n in notifications(seen)),
                         what="the undo")
        await wait_until(pilot, lambda: history.row_count == 3 and str(history.get_row_at(0)[1]) == "undo",
                         what="the undo run in the history")
    assert (synced_agent.state.get_contact(contact["crm_id"]).properties.get("jobtitle") or None) == \
        contact["job_title"]  # back to its value before the run (HubSpot reads a cleared value as "")


async def test_a_build_that_ends_during_the_next_run_or_unseen_leaves_nothing_behind(agent: Agent) -> None:
    app = make_app(agent.socket_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await open_sync_tab(pilot, app)

        def finished(run_id: int) -> dict[str, Any]:
            return {"type": "run_finished", "run": {"id": run_id, "trigger": "manual", "status": "ok",
                                                    "started_at": 1, "finished_at": 2, "pulled": 10}}

        def build(run_id: int, done: int) -> dict[str, Any]:
            return {"type": "progress", "run_id": run_id, "phase": "search_index", "done": done, "total": 100}

        agent.emit({"type": "run_started", "run_id": 3, "trigger": "manual"})
        agent.emit(finished(3))
        await wait_until(pilot, lambda: app.sync_view.last_finished == 3, what="the run's end")
        await header_refreshed(pilot, app)
        agent.emit(build(3, 50))
        await wait_until(pilot, lambda: "search index 50/100" in app.sub_title, what="the build in the header")
        # Another run starts before the build ends; the build's last event comes while it runs.
        agent.emit({"type": "run_started", "run_id": 4, "trigger": "interval"})
        agent.emit({"type": "progress", "run_id": 4, "phase": "pull", "object_type": "contact", "done": 5})
        agent.emit(build(3, 100))
        agent.emit(finished(4))
        await wait_until(pilot, lambda: app.sync_view.last_finished == 4, what="the second run's end")
        assert "search index" not in app.sub_title
        assert phase_text(app).startswith("Finished: #4") and "Building the search index" not in phase_text(app)
        assert not app.sync_view.query_one("#sync-progress").display

        # A build whose last event never comes (the agent stopped, or it failed): agent.status ends it.
        await header_refreshed(pilot, app)
        agent.emit(build(4, 30))
        await wait_until(pilot, lambda: "search index 30/100" in app.sub_title, what="the second build")
        assert app.sync_view.query_one("#sync-progress").display
        app.show_status({"search_backlog": 0, "crm": "hubspot", "contacts": 10, "version": "test"})
        assert "search index" not in app.sub_title
        assert not app.sync_view.query_one("#sync-progress").display
