"""The Health tab: what needs a person with its next step, the connection, the budget and its chart, the last
runs and the open errors by cause, retried with ``a``; and what it says without a CRM."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable, Sparkline, Static, TabbedContent

from leadsync.agent.daemon import Agent
from leadsync.common.rpc import RpcClient
from tests.conftest import CrmWorld
from tests.tui.conftest import make_app, notifications, wait_until
from tests.tui.screen_text import screen_text, static_text


async def test_health_shows_the_partial_run_the_errors_by_cause_and_retries_them(synced_agent: CrmWorld,
                                                                                 world_client: RpcClient) -> None:
    user = await world_client.call("users.create", {"email": "nobody@corp.example"})  # no CRM owner matches
    for i in range(2):
        await world_client.call("contacts.create", {"created_by": user["id"], "fields": {"email": f"h{i}@example.org"}})
    partial = await world_client.call("sync.run", {"wait": True})
    assert partial["status"] == "partial"
    seen: list[Any] = []
    app = make_app(synced_agent.agent.socket_path)
    async with app.run_test(size=(120, 48), message_hook=seen.append) as pilot:
        await wait_until(pilot, lambda: app.link.connected, what="the agent")
        await pilot.press("6")
        view = app.health_view
        await wait_until(pilot, lambda: view.health is not None and view.health["runs"], what="the health page")
        assert app.query_one("#main-tabs", TabbedContent).active == "health"
        problems = static_text(view.query_one("#health-problems", Static))
        assert f"Sync #{partial['id']} ended partial: 2 records failed" in problems
        assert problems.count("next: ") == 2  # every problem says what to do next
        assert "Connection ok  hubspot at http://sandbox.test" in static_text(view.query_one("#health-connection",
                                                                                              Static))
        calls = view.query_one("#health-calls", Sparkline)
        assert len(calls.data or []) == 24 and (calls.data or [0])[-1] > 0
        runs = view.query_one("#health-runs", DataTable)
        assert str(runs.get_row_at(0)[1]) == "PARTIAL" and str(runs.get_row_at(1)[1]) == "ok"
        errors = view.query_one("#health-errors", DataTable)
        assert view.has_focus and errors.row_count == 1  # "a" acts on the errors table's cursor row
        cause = errors.get_row_at(0)
        assert (cause[0], str(cause[1]), str(cause[2])) == ("no_owner", "2", "2")
        assert "Open errors by cause" in screen_text(app)
        await pilot.press("a")  # retry all of this cause: errors.retry {"code": "no_owner"}
        await wait_until(pilot, lambda: any(n.startswith("Retry: 2 errors retried") for n in notifications(seen)),
                         what="the retry")
        await wait_until(pilot, lambda: view.loads >= 2, what="the page to reload")


async def test_health_without_a_crm_says_to_connect_one(agent: Agent) -> None:
    app = make_app(agent.socket_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.link.connected, what="the agent")
        await pilot.press("6")
        view = app.health_view
        await wait_until(pilot, lambda: view.health is not None, what="the health page")
        problems = static_text(view.query_one("#health-problems", Static))
        assert "No CRM is connected" in problems and "next: Connect one: leadsync call crm.connect" in problems
        assert "NOT CONNECTED" in screen_text(app)
        await pilot.press("a")  # nothing to retry: said, not an error
        await pilot.pause(0.1)
        assert view.highlighted_cause() is None
