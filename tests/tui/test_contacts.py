"""Browsing, paging, search and filters in the Contacts tab, against a real agent (450 local contacts)."""

from __future__ import annotations

from textual.message import Message
from textual.widgets import Input, Select

from leadsync.agent.daemon import Agent
from leadsync.common.rpc import RpcClient
from leadsync.tui.contacts_view import COLUMNS, PAGE_SIZE
from leadsync.tui.messages import ContactsPageLoaded
from tests.tui.conftest import contact_fields, contacts_state, make_app, wait_until
from tests.tui.screen_text import screen_text


def column(key: str) -> int:
    """The position of the contact table's column ``key``."""
    return [c.key for c in COLUMNS].index(key)


async def test_first_page_only_then_the_next_page_when_the_cursor_nears_the_end(populated_agent: Agent) -> None:
    app = make_app(populated_agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.contacts_view
        await wait_until(pilot, lambda: view.loaded == PAGE_SIZE and not view.loading_more, what="the first page")
        assert view.table.row_count == PAGE_SIZE  # never everything: 450 exist
        assert "200 loaded, more…" in screen_text(app)
        view.table.focus()
        while view.loaded == PAGE_SIZE:
            await pilot.press("pagedown")
            await pilot.pause()
        await wait_until(pilot, lambda: view.loaded == 2 * PAGE_SIZE, what="the second page")
        assert view.table.get_cell("201", "email") == contact_fields(200)["email"]
        await pilot.press("ctrl+end")
        await wait_until(pilot, lambda: view.loaded == 450, what="the last page")
        await wait_until(pilot, lambda: "450 contacts" in screen_text(app), what="the final count")


async def test_scrolling_with_the_mouse_wheel_loads_the_next_page(populated_agent: Agent) -> None:
    app = make_app(populated_agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.contacts_view
        await wait_until(pilot, lambda: view.loaded == PAGE_SIZE, what="the first page")
        # the table's scroll range grows at its next layout: until then there is nothing to scroll
        await wait_until(pilot, lambda: view.table.max_scroll_y > 0, what="the scroll range")
        view.table.scroll_end(animate=False)  # what the wheel does, without moving the cursor
        await wait_until(pilot, lambda: view.loaded == 2 * PAGE_SIZE, what="the second page")
        assert view.table.cursor_row == 0


async def test_search_requeries_and_the_latest_query_wins(populated_agent: Agent) -> None:
    pages: list[Message] = []
    app = make_app(populated_agent.socket_path)
    async with app.run_test(size=(100, 30), message_hook=pages.append) as pilot:
        view = app.contacts_view
        await wait_until(pilot, lambda: view.loaded == PAGE_SIZE, what="the first page")
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"grace")
        await wait_until(pilot, lambda: view.params.get("filter") == {"q": "grace"} and view.settled,
                         what="the search to settle")
        await wait_until(pilot, lambda: "45 matching" in screen_text(app), what="the search result")
        emails = [str(view.table.get_row_at(i)[column("email")]) for i in range(view.table.row_count)]
        assert len(emails) == 45 and all(e.startswith("grace.") for e in emails)
        # Typing fast: the earlier prefixes ("g", "gr"...) never replaced the final result.
        loaded = list({id(m): m for m in pages if isinstance(m, ContactsPageLoaded)}.values())
        assert loaded[-1].generation == view.generation
        assert [m.generation for m in loaded if m.page.contacts and m.page.contacts[0].first_name != "Grace"] \
            == [loaded[0].generation]  # only the unfiltered first page; no stale prefix result arrived late
        assert len(loaded) < 1 + len("grace")  # debounced: not one query per key


async def test_filters_combine_with_the_search(populated_agent: Agent) -> None:
    app = make_app(populated_agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.contacts_view
        await wait_until(pilot, lambda: view.loaded == PAGE_SIZE, what="the first page")
        view.query_one("#filter-stage", Select).value = "customer"
        view.query_one("#filter-min-score", Input).value = "90"
        await wait_until(pilot, lambda: view.params["filter"] == {"lifecycle_stage": "customer", "min_score": 90}
                         and view.settled, what="the filtered list")
        async with RpcClient(populated_agent.socket_path) as client:
            expected = await client.call("contacts.list", {
                "filter": {"lifecycle_stage": "customer", "min_score": 90}, "limit": 500})
        assert view.table.row_count == len(expected["contacts"]) > 0
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: view.loaded == PAGE_SIZE and view.params["filter"] == {},
                         what="the cleared filters")


async def test_view_as_shows_what_that_user_sees(small_agent: Agent) -> None:
    app = make_app(small_agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.contacts_view
        await wait_until(pilot, lambda: view.view_as_supported is not None and view.settled, what="the probe")
        select = view.query_one("#contacts-view-as", Select)
        if not view.view_as_supported:  # an agent without contacts.list as_user
            assert select.disabled and "not available in this agent" in str(select.tooltip)
            return
        assert not select.disabled
        select.value = 2  # Sam Sales
        await wait_until(pilot, lambda: view.params.get("as_user") == 2 and view.settled, what="the view as Sam")
        async with RpcClient(small_agent.socket_path) as client:
            expected = await client.call("contacts.list", {"as_user": 2, "limit": PAGE_SIZE})
        shown = [int(str(view.table.get_row_at(i)[column("id")])) for i in range(view.table.row_count)]
        assert shown == [c["id"] for c in expected["contacts"]]
        assert len(shown) < PAGE_SIZE or expected["next_after"] is not None


async def test_a_contact_changed_elsewhere_is_redrawn_in_place(small_agent: Agent) -> None:
    app = make_app(small_agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.contacts_view
        await wait_until(pilot, lambda: view.loaded == 30 and view.settled, what="the list")
        async with RpcClient(small_agent.socket_path) as client:
            await client.call("contacts.update", {"id": 3, "fields": {"company": "Moved Corp"}})
        await wait_until(pilot, lambda: view.table.get_cell("3", "company") == "Moved Corp", what="the row update")
        assert view.loaded == 30


async def test_a_new_query_never_continues_the_old_querys_paging(populated_agent: Agent) -> None:
    app = make_app(populated_agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.contacts_view
        await wait_until(pilot, lambda: view.loaded == PAGE_SIZE and view.settled, what="the first page",
                         state=lambda: contacts_state(view))
        view.table.move_cursor(row=PAGE_SIZE - 1, animate=False)
        await wait_until(pilot, lambda: view.loaded == 2 * PAGE_SIZE and view.settled, what="the second page",
                         state=lambda: contacts_state(view))
        view.query_one("#contacts-search", Input).value = "ken"  # a new query, still in its debounce
        await pilot.pause()
        view.table.move_cursor(row=view.table.row_count - 1, animate=False)  # the old rows' end
        await pilot.pause()
        assert not view.loading_more  # no page of the new query from the old query's cursor
        await wait_until(pilot, lambda: view.settled and view.params["filter"] == {"q": "ken"}, what="the search")
        keys = [str(view.table.get_row_at(i)[column("id")]) for i in range(view.table.row_count)]
        assert len(keys) == len(set(keys)) == 45
