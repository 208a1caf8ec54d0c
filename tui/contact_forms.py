"""Modal forms opened from a contact: edit one field, assign a to-do.

Each is a typed ``ModalScreen``: :class:`EditFieldScreen` sends ``contacts.update`` itself and
dismisses with True once the agent accepted the edit (a refusal, e.g. an owner change, stays on the
form with the agent's message); :class:`AssignTodoScreen` dismisses with the :class:`TodoRequest`
to send, or None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from leadsync.common.models import STANDARD_FIELDS, Contact
from leadsync.common.rpc import RpcError
from leadsync.tui.connection import AgentLink
from leadsync.tui.errors import ReportsWorkerErrors, notify_problem

INTEGER_FIELDS = frozenset({"lead_score"})
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def field_value(contact: Contact, name: str) -> Any:
    if name in STANDARD_FIELDS or name == "owner_id":
        return getattr(contact, name)
    return contact.fields.get(name)


def parse_value(name: str, text: str) -> Any:
    """What to send for ``text``: None clears the field; whole numbers for integer fields."""
    text = text.strip()
    if not text:
        return None
    if name in INTEGER_FIELDS and text.lstrip("-").isdigit():
        return int(text)
    return text


class EditFieldScreen(ReportsWorkerErrors, ModalScreen[bool]):
    """Edit one field of ``contact`` (standard, custom, or the owner, which the agent refuses)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, link: AgentLink, contact: Contact, field: str | None = None) -> None:
        super().__init__(classes="form-modal")
        self.link = link
        self.contact = contact
        names = [*STANDARD_FIELDS, "owner_id", *sorted(contact.fields)]
        self.field_names = list(dict.fromkeys(names))
        self.initial_field = field if field in self.field_names else self.field_names[0]

    def compose(self) -> ComposeResult:
        with Vertical(classes="form-box"):
            yield Label(f"Edit contact {self.contact.id}", classes="form-title")
            yield Label("Field")
            yield Select[str]([(n, n) for n in self.field_names], value=self.initial_field, allow_blank=False,
                              id="edit-field")
            yield Label("Value (empty clears the field)")
            yield Input(self._current_text(self.initial_field), id="edit-value")
            yield Static("", id="edit-error", classes="form-error", markup=False)
            with Horizontal(classes="form-buttons"):
                yield Button("Save", variant="primary", id="edit-save")
                yield Button("Cancel", id="edit-cancel")

    def on_mount(self) -> None:
        self.query_one("#edit-value", Input).focus()

    def _current_text(self, name: str) -> str:
        value = field_value(self.contact, name)
        return "" if value is None else str(value)

    @on(Select.Changed, "#edit-field")
    def _field_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.query_one("#edit-value", Input).value = self._current_text(event.value)
            self.query_one("#edit-error", Static).update("")

    @on(Button.Pressed, "#edit-save")
    @on(Input.Submitted, "#edit-value")
    def _save_pressed(self) -> None:
        name = self.query_one("#edit-field", Select).value
        if not isinstance(name, str):
            return
        self.save(name, parse_value(name, self.query_one("#edit-value", Input).value))

    @on(Button.Pressed, "#edit-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)

    @work(group="edit-save", exclusive=True, exit_on_error=False)
    async def save(self, name: str, value: Any) -> None:
        """Send ``contacts.update``; show the agent's refusal on the form, or close on success."""
        try:
            await self.link.call("contacts.update", {"id": self.contact.id, "fields": {name: value}})
        except RpcError as exc:
            problem = notify_problem(self, exc)
            self.query_one("#edit-error", Static).update(problem.message)
            return
        self.dismiss(True)


@dataclass(frozen=True)
class TodoRequest:
    """A to-do to assign: about ``contact_id``, to leadsync user ``user_id``, titled ``title``, due
    ``due`` (an ISO date, or None)."""

    contact_id: int
    user_id: int
    title: str
    due: str | None = None

    def params(self) -> dict[str, Any]:
        """The ``todos.assign`` params."""
        params: dict[str, Any] = {"contact_id": self.contact_id, "assignee": self.user_id, "title": self.title}
        if self.due:
            params["due"] = self.due
        return params


class AssignTodoScreen(ModalScreen[TodoRequest | None]):
    """Choose the user and title of a to-do about a contact. The contact is then shared to that user and
    pushed to the CRM with them as owner (the to-do rule)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, contact: Contact, users: list[tuple[str, int]]) -> None:
        super().__init__(classes="form-modal")
        self.contact = contact
        self.users = users

    def compose(self) -> ComposeResult:
        with Vertical(classes="form-box"):
            yield Label(f"Assign a to-do about contact {self.contact.id}", classes="form-title")
            yield Label("Assign to")
            yield Select[int](self.users, prompt="Choose a user", id="todo-user")
            yield Label("To-do")
            yield Input(placeholder="e.g. Call back about the demo", id="todo-title")
            yield Label("Due (optional)")
            yield Input(placeholder="YYYY-MM-DD", id="todo-due")
            yield Static("The contact is shared to this user and synced to the CRM with them as owner.",
                         classes="form-hint")
            yield Static("", id="todo-error", classes="form-error")
            with Horizontal(classes="form-buttons"):
                yield Button("Assign", variant="primary", id="todo-assign")
                yield Button("Cancel", id="todo-cancel")

    @on(Button.Pressed, "#todo-assign")
    @on(Input.Submitted, "#todo-title, #todo-due")
    def _assign_pressed(self) -> None:
        user = self.query_one("#todo-user", Select).value
        title = self.query_one("#todo-title", Input).value.strip()
        if not isinstance(user, int):
            self.query_one("#todo-error", Static).update("Choose the user to assign the to-do to.")
            return
        if not title:
            self.query_one("#todo-error", Static).update("Write what the to-do is.")
            return
        due = self.query_one("#todo-due", Input).value.strip() or None
        if due is not None and not _ISO_DATE.match(due):
            self.query_one("#todo-error", Static).update("Due: a date like 2024-05-31, or empty.")
            return
        self.dismiss(TodoRequest(self.contact.id, user, title, due))

    @on(Button.Pressed, "#todo-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
