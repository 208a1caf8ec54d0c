"""The tables fit the window (owner names shown at 80x24), the Owners tab, and the smart-list editor."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Select, SelectionList, Static
from textual.widgets.data_table import ColumnKey

from leadsync.agent.daemon import Agent
from leadsync.common.rpc import RpcClient
from leadsync.tui.contacts_view import COLUMNS
from leadsync.tui.table_fit import FitColumn, fit_widths
from tests.conftest import CrmWorld
from tests.tui.conftest import make_app, wait_until
from tests.tui.screen_text import screen_text, static_text


def test_fit_widths_keeps_minimums_and_shares_the_rest_by_weight() -> None:
    columns = (FitColumn("a", "A", 10, 1), FitColumn("b", "B", 5), FitColumn("c", "C", 10, 3))
    assert fit_widths(columns, 20) == {"a": 10, "b": 5, "c": 10}  # too narrow: minimums, the rest scrolls
    wide = fit_widths(columns, 31 + 6)  # 6 cells of padding, 6 to share
    assert wide == {"a": 12, "b": 5, "c": 14}
    assert sum(wide.values()) + 6 == 37


async def test_at_80x24_the_contact_table_shows_name_email_owner_and_stage(synced_agent: CrmWorld) -> None:
    app = make_app(synced_agent.agent.socket_path)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.contacts_view
        await wait_until(pilot, lambda: view.settled and view.loaded > 0 and bool(app.link.directory.owners),
                         what="the list and the owners")
        await pilot.pause()
        header = next(line for line in screen_text(app).splitlines() if "Email" in line and "Owner" in line)
        for label in ("Name", "Email", "Owner", "Stage", "Type"):
            assert label in header
        shown = screen_text(app)
        table = view.table
        owners = [str(table.get_cell(key, "owner")) for key in list(table.rows)[:5]]
        assert owners and all(not o.startswith("#") for o in owners)  # names, not CRM owner ids
        visible = [o for o in owners if o != "—"]
        assert visible and all(o[:10] in shown for o in visible)  # on screen, beside each contact
        assert {str(table.get_cell(key, "type")) for key in list(table.rows)[:5]} <= {"Contact", "Lead"}


async def test_wider_terminals_widen_the_columns(small_agent: Agent) -> None:
    widths = {}
    for size in ((80, 24), (160, 48)):
        app = make_app(small_agent.socket_path)
        view = app.contacts_view
        async with app.run_test(size=size) as pilot:
            await wait_until(pilot, lambda v=view: v.settled and v.loaded > 0, what="the list")  # type: ignore[misc]
            columns = view.table.columns
            widths[size[0]] = {c.key: columns[ColumnKey(c.key)].width for c in COLUMNS}
    assert widths[80]["email"] == 21 and widths[160]["email"] > 30
    assert widths[160]["owner"] > widths[80]["owner"]


async def test_the_owners_tab_shows_matched_unmatched_and_inactive_owners_with_counts(
        synced_agent: CrmWorld) -> None:
    async with RpcClient(synced_agent.agent.socket_path) as client:
        listed = await client.call("users.list")
    owners = listed["owners"]
    assert owners and all("contacts_owned" in o for o in owners)
    app = make_app(synced_agent.agent.socket_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: bool(app.link.directory.crm_owners), what="the owners")
        await pilot.press("4")
        table = app.owners_view.query_one("#owners-table", DataTable)
        assert app.focused is table
        for owner in owners:
            key = f"owner-{owner['crm_id']}"
            assert str(table.get_cell(key, "contacts")) == f"{owner['contacts_owned']:,}"
            status = str(table.get_cell(key, "status"))
            expected = ("inactive in the CRM" if not owner["active"] else
                        "matched" if owner["user_id"] is not None else "no leadsync user")
            assert status == expected
        assert sum(o["contacts_owned"] for o in owners) > 0
        summary = static_text(app.owners_view.query_one("#owners-summary", Static))
        assert f"{len(owners)} CRM owners" in summary


async def test_a_smart_list_is_built_with_a_live_count_and_shared(small_agent: Agent) -> None:
    app = make_app(small_agent.socket_path)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.smartlists_view
        await wait_until(pilot, lambda: app.link.connected and bool(app.link.directory.users), what="the users")
        await pilot.press("5", "ctrl+n")
        assert app.focused is view.query_one("#sl-name", Input)
        await pilot.press(*"Leads", "enter")  # Enter moves on, it never saves
        assert app.focused is view.query_one("#sl-q", Input)
        view.query_one("#sl-stage", Select).value = "lead"
        await wait_until(pilot, lambda: view.count == 6, what="the live count")  # 30 contacts, every 5th a lead
        async with RpcClient(small_agent.socket_path) as client:
            assert await client.call("smartlists.list") == []  # nothing saved by Enter
            expected = await client.call("contacts.count", {"filter": {"lifecycle_stage": "lead"}})
        assert expected == {"count": 6}
        assert "6 contacts match" in static_text(view.query_one("#sl-count", Static))
        view.query_one("#sl-shared", SelectionList).select(2)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: view.editing is not None and view.editing.name == "Leads", what="the save")
        async with RpcClient(small_agent.socket_path) as client:
            saved = await client.call("smartlists.list")
        shown = [(s["name"], s["filter"]["lifecycle_stage"], s["shared_with"]) for s in saved]
        assert shown == [("Leads", "lead", [2])]
        # The Contacts tab offers the new list (its select was disabled while there was none).
        choose = app.contacts_view.query_one("#contacts-smart-list", Select)
        await wait_until(pilot, lambda: not choose.disabled, what="the Contacts tab's smart lists")
        choose.value = saved[0]["id"]  # a value the select does not offer would raise
