"""One contact in full: fields, CRM link, owner and its history, sharing, provenance, conflicts, to-dos
and sync errors, with the actions a marketer takes on it (Sync to CRM, Mark as lead, Assign to-do,
Edit a field).

It asks ``contacts.get`` with ``include`` for everything at once; an agent that does not know
``include`` (-32602) gets a plain ``contacts.get`` plus ``errors.list``, and the sections it cannot
fill say "not available in this agent". Actions call the agent; its refusals end in a notification.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgspec
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Static

from leadsync.common.answers import ContactExtras, Sharing, TodoAssigned
from leadsync.common.errors import RpcCode
from leadsync.common.models import STANDARD_FIELDS, Contact, SyncError, SyncRun
from leadsync.common.rpc import RpcError
from leadsync.tui import formatting
from leadsync.tui.connection import AgentLink
from leadsync.tui.contact_forms import AssignTodoScreen, EditFieldScreen, TodoRequest
from leadsync.tui.errors import ReportsWorkerErrors, Severity, notify_problem
from leadsync.tui.formatting import MISSING, person, run_summary
from leadsync.tui.owners import OwnerDirectory
from leadsync.tui.records import cell, key_values

INCLUDE = ["provenance", "conflicts", "owner_history", "errors", "todos"]
PUSH_TIMEOUT_S = 300.0  # contacts.push waits for its sync run


@dataclass
class ContactDetails:
    """Everything the screen shows about one contact; None for a part this agent cannot give."""

    contact: Contact
    errors: list[SyncError]
    extras: ContactExtras | None = None
    sharing: Sharing | None = None
    sharing_error: str | None = None
    unavailable: set[str] = field(default_factory=set)


def _table(*columns: str) -> Table:
    table = Table(show_edge=False, pad_edge=False, expand=False)
    for name in columns:
        table.add_column(name, overflow="fold")
    return table


def errors_table(errors: list[SyncError]) -> RenderableType:
    if not errors:
        return Text("No sync errors.")
    table = _table("When", "Operation", "Code", "Reason", "Run", "Resolved")
    for e in errors:
        table.add_row(formatting.format_time(e.created_at), e.operation, e.code or MISSING, e.reason,
                      MISSING if e.sync_run_id is None else f"#{e.sync_run_id}",
                      "open" if e.resolved_at is None else formatting.format_time(e.resolved_at))
    return table


def owner_section(contact: Contact, extras: ContactExtras | None, directory: OwnerDirectory) -> RenderableType:
    lines = Table.grid()
    lines.add_row(Text(directory.describe(contact.owner_id)))
    lines.add_row(Text("The owner comes from the CRM: change it there (or assign a to-do).", style="italic"))
    history = extras.owner_history if extras else None
    if history:
        table = _table("When", "From", "To", "Source", "Run")
        for change in history:
            table.add_row(formatting.format_time(change.changed_at), directory.label(change.old_owner),
                          directory.label(change.new_owner), change.source,
                          MISSING if change.sync_run_id is None else f"#{change.sync_run_id}")
        lines.add_row(table)
    return lines


def sharing_section(sharing: Sharing) -> RenderableType:
    if not sharing.shared_to:
        return Text("Shared to no user.")
    table = _table("User", "Why")
    for user in sharing.shared_to:
        reasons = ", ".join(r.kind.replace("_", " ") + (f": {r.detail}" if r.detail else "") for r in user.reasons)
        table.add_row(f"{user.name or user.email} <{user.email}>", reasons)
    return table


def provenance_section(extras: ContactExtras) -> RenderableType:
    if not extras.provenance:
        return Text("No field has changed since leadsync first knew this contact.")
    table = _table("Field", "Source", "Run", "Changed", "Previous value")
    for name, p in sorted(extras.provenance.items()):
        table.add_row(name, p.source, MISSING if p.sync_run_id is None else f"#{p.sync_run_id}",
                      formatting.format_time(p.changed_at), cell(p.previous))
    return table


def conflicts_section(extras: ContactExtras) -> RenderableType:
    if not extras.conflicts:
        return Text("No conflicts.")
    table = _table("Field", "Local", "CRM", "Policy", "Winner", "Status")
    for c in extras.conflicts:
        status = "open (Sync › Conflicts)" if c.resolved_at is None else f"resolved: {c.resolution}"
        table.add_row(c.field, cell(c.local_value), cell(c.crm_value), c.policy, c.winner, status)
    return table


def todos_section(extras: ContactExtras, directory: OwnerDirectory) -> RenderableType:
    if not extras.todos:
        return Text("No to-dos.")
    table = _table("To-do", "Assignee", "Due", "Done")
    for t in extras.todos:
        table.add_row(t.title, directory.user_label(t.assignee), t.due or MISSING, "yes" if t.done else "no")
    return table


class ContactDetailScreen(ReportsWorkerErrors, Screen[None]):
    """The detail of contact ``contact_id``; Escape goes back to the list. The body has the focus, so the
    arrow and page keys scroll at once (Tab reaches the action buttons)."""

    AUTO_FOCUS = "#detail-body"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("s", "sync_contact", "Sync to CRM"),
        Binding("l", "mark_lead", "Mark as lead"),
        Binding("t", "assign_todo", "Assign to-do"),
        Binding("e", "edit_field", "Edit field"),
        Binding("r", "reload", "Refresh"),
    ]

    SECTIONS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("fields", "Fields"), ("crm", "CRM link"), ("owner", "Owner"), ("sharing", "Sharing"),
        ("provenance", "Provenance"), ("conflicts", "Conflicts"), ("todos", "To-dos"), ("errors", "Sync errors"),
    )

    class Loaded(Message, bubble=False):
        """The worker fetched the contact and its sections."""

        def __init__(self, details: ContactDetails) -> None:
            super().__init__()
            self.details = details

    def __init__(self, link: AgentLink, contact_id: int) -> None:
        super().__init__(id="contact-detail")
        self.link = link
        self.contact_id = contact_id
        self.details: ContactDetails | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="detail-body"):
            yield Static(f"Contact {self.contact_id}", id="detail-title", markup=False)
            with Horizontal(id="detail-actions"):
                yield Button("Sync to CRM", id="action-sync", compact=True, tooltip="Push this contact now (s)")
                yield Button("Mark as lead", id="action-lead", compact=True, tooltip="Lifecycle stage lead (l)")
                yield Button("Assign to-do", id="action-todo", compact=True,
                             tooltip="Share to a user and make them the CRM owner (t)")
                yield Button("Edit field", id="action-edit", compact=True, tooltip="Change one field (e)")
            for key, _ in self.SECTIONS:
                yield Static("Loading…" if key == "fields" else "", id=f"detail-{key}", classes="detail-section",
                             markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"contact {self.contact_id}"
        for key, title in self.SECTIONS:
            self.query_one(f"#detail-{key}", Static).border_title = title
        self.load()

    def action_reload(self) -> None:
        self.load()

    @work(group="detail-load", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        """``contacts.get`` with ``include`` (or the plain fallback), then ``contacts.sharing``."""
        try:
            answer = await self.link.call("contacts.get", {"id": self.contact_id, "include": INCLUDE})
            details = ContactDetails(msgspec.convert(answer, Contact),
                                     msgspec.convert(answer.get("errors") or [], list[SyncError]),
                                     msgspec.convert(answer, ContactExtras))
        except RpcError as exc:
            if exc.code != RpcCode.INVALID_PARAMS:
                raise
            contact = await self.link.fetch("contacts.get", {"id": self.contact_id}, Contact)
            errors = await self.link.fetch("errors.list", {"contact_id": self.contact_id, "include_resolved": True},
                                           list[SyncError])
            details = ContactDetails(contact, errors, unavailable={"provenance", "conflicts", "todos"})
        if self.link.has("contacts.sharing"):
            try:
                details.sharing = await self.link.fetch("contacts.sharing", {"id": self.contact_id}, Sharing)
            except RpcError as exc:
                details.sharing_error = exc.message
        else:
            details.unavailable.add("sharing")
        self.post_message(self.Loaded(details))

    def on_contact_detail_screen_loaded(self, message: Loaded) -> None:
        self.details = details = message.details
        c, extras, directory = details.contact, details.extras, self.link.directory
        name = person(c.first_name, c.last_name)
        self.query_one("#detail-title", Static).update(Text.assemble(
            (f"Contact {c.id}", "bold"), f"  {name}" if name else "", f"  <{c.email}>" if c.email else ""))
        pairs: list[tuple[str, Any]] = [(f, getattr(c, f)) for f in STANDARD_FIELDS]
        pairs += [("source", c.source), ("created by", directory.user_label(c.created_by)),
                  ("created", formatting.format_time(c.created_at)),
                  ("updated", formatting.format_time(c.updated_at))]
        pairs += sorted(c.fields.items())
        bodies: dict[str, RenderableType] = {
            "fields": key_values(pairs),
            "crm": key_values([("CRM id", c.crm_id), ("object type", c.crm_object_type),
                               ("CRM state", c.crm_state), ("sync state", c.sync_state)]),
            "owner": owner_section(c, extras, directory),
            "errors": errors_table(details.errors),
        }
        if details.sharing is not None:
            bodies["sharing"] = sharing_section(details.sharing)
        elif details.sharing_error:
            bodies["sharing"] = Text(details.sharing_error)
        if extras is not None:
            bodies["provenance"] = provenance_section(extras)
            bodies["conflicts"] = conflicts_section(extras)
            bodies["todos"] = todos_section(extras, directory)
        for key, title in self.SECTIONS:
            static = self.query_one(f"#detail-{key}", Static)
            if key in details.unavailable or key not in bodies:
                static.update(Text(f"{title}: not available in this agent.", style="italic"))
            else:
                static.update(bodies[key])
            if key == "errors":
                static.border_title = f"Sync errors ({len(details.errors)})"

    # --- actions -----------------------------------------------------------------------------

    @on(Button.Pressed, "#action-sync")
    def action_sync_contact(self) -> None:
        self.push_contact()

    @work(group="detail-action", exit_on_error=False)
    async def push_contact(self) -> None:
        """``contacts.push {ids: [id]}``: waits for the push run and tells what it wrote."""
        self.notify("Sending to the CRM…", title=f"Contact {self.contact_id}")
        try:
            run = await self.link.fetch("contacts.push", {"ids": [self.contact_id]}, SyncRun,
                                        timeout_s=PUSH_TIMEOUT_S)
        except RpcError as exc:
            notify_problem(self, exc)
            return
        written = run.created_crm + run.updated_crm + run.linked
        severity: Severity = "information" if run.status == "ok" else "warning"
        self.notify(("Sent to the CRM" if written else "Nothing to send") + f" — {run_summary(run)}",
                    title=f"Contact {self.contact_id}", severity=severity, markup=False)
        self.load()

    @on(Button.Pressed, "#action-lead")
    def action_mark_lead(self) -> None:
        self.mark_lead()

    @work(group="detail-action", exit_on_error=False)
    async def mark_lead(self) -> None:
        """``contacts.mark_lead {id}``: lifecycle stage lead, pushed as such."""
        try:
            await self.link.call("contacts.mark_lead", {"id": self.contact_id})
        except RpcError as exc:
            notify_problem(self, exc)
            return
        self.notify("Marked as lead; it is pushed as a lead at the next sync", title=f"Contact {self.contact_id}")
        self.load()

    @on(Button.Pressed, "#action-todo")
    def action_assign_todo(self) -> None:
        if not self.link.has("todos.assign"):
            self.notify("Assign to-do: todos.assign is not available in this agent", title="Not available",
                        severity="warning")
            return
        if self.details is None:
            return

        def assign(request: TodoRequest | None) -> None:
            if request is not None:
                self.assign_todo(request)

        users = self.link.directory.user_options(mark_unowned=True)
        self.app.push_screen(AssignTodoScreen(self.details.contact, users), assign)

    @work(group="detail-action", exit_on_error=False)
    async def assign_todo(self, request: TodoRequest) -> None:
        """``todos.assign``: shares the contact to the assignee and pushes it with them as CRM owner."""
        try:
            answer = await self.link.fetch("todos.assign", request.params(), TodoAssigned,
                                           timeout_s=PUSH_TIMEOUT_S)
        except RpcError as exc:
            notify_problem(self, exc)
            return
        who = self.link.directory.user_label(request.user_id)
        outcome = "the CRM owner is now them" if answer.pushed else (answer.note or "the CRM owner was not changed")
        self.notify(f"To-do assigned to {who}: {outcome}", title=f"Contact {self.contact_id}",
                    severity="information" if answer.pushed or answer.note else "warning", markup=False)
        self.load()

    @on(Button.Pressed, "#action-edit")
    def action_edit_field(self) -> None:
        if self.details is None:
            return

        def edited(saved: bool | None) -> None:
            if saved:
                self.notify("Saved", title=f"Contact {self.contact_id}")
                self.load()

        self.app.push_screen(EditFieldScreen(self.link, self.details.contact), edited)
