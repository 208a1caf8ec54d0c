"""The contact detail: every field, owner, sharing, errors, and the actions (edit, owner refusal, mark as
lead, assign a to-do, Sync to CRM with and without a CRM)."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from leadsync.agent.daemon import Agent
from leadsync.common.rpc import RpcClient
from leadsync.tui.app import LeadsyncApp
from leadsync.tui.contact_detail import ContactDetailScreen
from leadsync.tui.contact_forms import AssignTodoScreen, EditFieldScreen
from leadsync.tui.messages import OpenContact
from tests.conftest import CrmWorld
from tests.tui.conftest import make_app, notifications, wait_until
from tests.tui.screen_text import static_text


async def open_contact(pilot: Pilot[Any], app: LeadsyncApp, row: int) -> ContactDetailScreen:
    view = app.contacts_view
    await wait_until(pilot, lambda: view.loaded > row and view.settled, what="the contact list")
    view.table.focus()
    view.table.move_cursor(row=row)
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, ContactDetailScreen) and app.screen.details is not None,
                     what="the contact detail")
    assert isinstance(app.screen, ContactDetailScreen)
    return app.screen


def section(screen: ContactDetailScreen, key: str) -> str:
    return static_text(screen.query_one(f"#detail-{key}", Static))


async def test_the_detail_shows_fields_crm_link_owner_sharing_and_errors(small_agent: Agent) -> None:
    app = make_app(small_agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_contact(pilot, app, row=0)
        assert screen.contact_id == 1
        fields = section(screen, "fields")
        for text in ("ada.lovelace.0@example.org", "Analytical Engines", "Mia Marketing <mia@corp.example>"):
            assert text in fields
        assert "none" in section(screen, "crm") and "local" in section(screen, "crm")
        assert "no owner" in section(screen, "owner")
        assert "No sync errors." in section(screen, "errors")
        sharing = section(screen, "sharing")
        assert "Mia Marketing" in sharing or "not available in this agent" in sharing
        await pilot.press("escape")
        assert not isinstance(app.screen, ContactDetailScreen)


async def test_editing_a_field_updates_the_detail_and_the_list(small_agent: Agent) -> None:
    app = make_app(small_agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_contact(pilot, app, row=2)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EditFieldScreen), what="the edit form")
        form = app.screen
        form.query_one("#edit-field", Select).value = "company"
        await pilot.pause()
        value = form.query_one("#edit-value", Input)
        value.value = "Difference Engines Ltd"
        value.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen, what="the form to close")
        await wait_until(pilot, lambda: "Difference Engines Ltd" in section(screen, "fields"), what="the new value")
        await wait_until(pilot, lambda: app.contacts_view.table.get_cell("3", "company") == "Difference Engines Ltd",
                         what="the list row")


async def test_an_owner_change_is_refused_with_the_agents_message(small_agent: Agent) -> None:
    app = make_app(small_agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_contact(pilot, app, row=0)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EditFieldScreen), what="the edit form")
        form = app.screen
        form.query_one("#edit-field", Select).value = "owner_id"
        await pilot.pause()
        form.query_one("#edit-value", Input).value = "12345"
        await pilot.click("#edit-save")
        error = form.query_one("#edit-error", Static)
        await wait_until(pilot, lambda: "in the CRM" in static_text(error), what="the refusal")
        assert app.screen is form  # the form stays open with the message
        await pilot.press("escape")


async def test_mark_as_lead(small_agent: Agent) -> None:
    app = make_app(small_agent.socket_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_contact(pilot, app, row=1)  # contact 2 is a subscriber
        assert "subscriber" in section(screen, "fields")
        await pilot.press("l")
        await wait_until(pilot, lambda: "subscriber" not in section(screen, "fields"), what="the lead stage")
        async with RpcClient(small_agent.socket_path) as client:
            assert (await client.call("contacts.get", {"id": 2}))["lifecycle_stage"] == "lead"


async def test_a_todo_for_a_user_without_a_crm_owner_is_refused_with_the_reason(small_agent: Agent) -> None:
    seen: list[Any] = []
    app = make_app(small_agent.socket_path)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await open_contact(pilot, app, row=0)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, AssignTodoScreen), what="the to-do form")
        form = app.screen
        sam = app.link.directory.user_options(mark_unowned=True)[1]
        assert sam == ("Sam Sales <sam@corp.example> — no CRM owner", 2)
        form.query_one("#todo-user", Select).value = 2
        form.query_one("#todo-title", Input).value = "Call back about the demo"
        await pilot.click("#todo-assign")
        await wait_until(pilot, lambda: any("no active CRM owner" in n for n in notifications(seen)),
                         what="the refusal")


async def test_sync_to_crm_without_a_crm_says_so(small_agent: Agent) -> None:
    seen: list[Any] = []
    app = make_app(small_agent.socket_path)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await open_contact(pilot, app, row=0)
        await pilot.press("s")
        await wait_until(pilot, lambda: any("No CRM connected" in n or "not available" in n
                                            for n in notifications(seen)), what="the refusal")


async def test_sync_to_crm_pushes_a_new_lead(synced_agent: CrmWorld) -> None:
    async with RpcClient(synced_agent.agent.socket_path) as client:
        owners = (await client.call("users.list"))["unmatched_owners"]
        owner = next(o for o in owners if o["active"])
        user = await client.call("users.create", {"email": owner["email"], "name": "Owner One"})
        contact = await client.call("contacts.create", {"created_by": user["id"], "fields": {
            "email": "new.lead@example.org", "first_name": "New", "last_name": "Lead"}})
    seen: list[Any] = []
    app = make_app(synced_agent.agent.socket_path)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await wait_until(pilot, lambda: app.link.connected, what="the agent")
        app.post_message(OpenContact(contact["id"]))
        await wait_until(pilot, lambda: isinstance(app.screen, ContactDetailScreen)
                         and app.screen.details is not None, what="the detail")
        screen = app.screen
        assert isinstance(screen, ContactDetailScreen)
        await pilot.press("s")
        await wait_until(pilot, lambda: any("Sent to the CRM" in n for n in notifications(seen)), what="the push")
        await wait_until(pilot, lambda: "linked" in section(screen, "crm"), what="the CRM link")
        assert "Owner One" in section(screen, "owner")


async def test_assigning_a_todo_makes_the_assignee_the_crm_owner(synced_agent: CrmWorld) -> None:
    async with RpcClient(synced_agent.agent.socket_path) as client:
        owners = [o for o in (await client.call("users.list"))["unmatched_owners"] if o["active"]]
        await client.call("users.create", {"email": owners[0]["email"], "name": "Olive Owner"})
        assignee = await client.call("users.create", {"email": owners[1]["email"], "name": "Tom Todo"})
        page = await client.call("contacts.list", {"filter": {"owner": owners[0]["crm_id"]}, "limit": 1})
        contact_id = page["contacts"][0]["id"]
    seen: list[Any] = []
    app = make_app(synced_agent.agent.socket_path)
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await wait_until(pilot, lambda: app.link.connected and bool(app.link.directory.users), what="the agent")
        app.post_message(OpenContact(contact_id))
        await wait_until(pilot, lambda: isinstance(app.screen, ContactDetailScreen)
                         and app.screen.details is not None, what="the detail")
        screen = app.screen
        assert isinstance(screen, ContactDetailScreen)
        assert "Olive Owner" in section(screen, "owner")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, AssignTodoScreen), what="the to-do form")
        form = app.screen
        form.query_one("#todo-user", Select).value = assignee["id"]
        form.query_one("#todo-title", Input).value = "Send the proposal"
        await pilot.click("#todo-assign")
        await wait_until(pilot, lambda: any("the CRM owner is now them" in n for n in notifications(seen)),
                         what="the assignment", timeout_s=20)
        await wait_until(pilot, lambda: "Tom Todo" in section(screen, "owner").splitlines()[0], what="the new owner")
        assert "Send the proposal" in section(screen, "todos")
        assert "Tom Todo" in section(screen, "sharing")
