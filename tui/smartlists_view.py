"""The Smart lists tab: saved contact filters, a filter builder with a live count, and sharing with users.

The table lists ``smartlists.list``; the highlighted list fills the form. Each change of the form asks
``contacts.count`` for the same filter (after ``DEBOUNCE_S``, the latest change wins), so the count is what
the list would hold. ctrl+s saves (``smartlists.create`` / ``smartlists.update``: ``shared_with`` replaces
who sees it), ctrl+n starts a new list, ctrl+d deletes the highlighted one. Enter never saves: it moves to
the next field.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import msgspec
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, DataTable, Input, Label, Select, SelectionList, Static
from textual.widgets.select import InvalidSelectValueError

from leadsync.common.answers import ContactFilter, SmartList
from leadsync.common.rpc import RpcError
from leadsync.tui.connection import AgentLink
from leadsync.tui.contacts_filters import STAGES, SYNC_STATES
from leadsync.tui.errors import ReportsWorkerErrors, notify_problem
from leadsync.tui.owners import OwnerDirectory

DEBOUNCE_S = 0.3
SELECTS = {"#sl-owner": "owner", "#sl-stage": "lifecycle_stage", "#sl-sync": "sync_state",
           "#sl-created-by": "created_by"}


def filter_summary(flt: ContactFilter, directory: OwnerDirectory) -> str:
    """``owner Mia Marketing · stage lead · score ≥ 50`` (``all contacts`` for an empty filter)."""
    stages = {value: label for label, value in STAGES}
    parts = []
    if flt.q:
        parts.append(f"“{flt.q}”")
    if flt.owner:
        parts.append(f"owner {directory.label(flt.owner)}")
    if flt.lifecycle_stage:
        parts.append(f"stage {stages.get(flt.lifecycle_stage, flt.lifecycle_stage)}")
    if flt.min_score is not None:
        parts.append(f"score ≥ {flt.min_score}")
    if flt.sync_state:
        parts.append(flt.sync_state)
    if flt.created_by is not None:
        parts.append(f"by {directory.user_label(flt.created_by)}")
    return " · ".join(parts) or "all contacts"


class SmartListsView(ReportsWorkerErrors, Horizontal):
    """The smart lists and their editor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save list"),
        Binding("ctrl+n", "new", "New list"),
        Binding("ctrl+d", "delete", "Delete list"),
        Binding("escape", "focus_table", "Back to the lists", show=False),
    ]

    class Loaded(Message, bubble=False):
        def __init__(self, lists: list[SmartList]) -> None:
            super().__init__()
            self.lists = lists

    class Changed(Message):
        """A smart list was saved or deleted (the Contacts tab offers the new set)."""

    def __init__(self, link: AgentLink, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.link = link
        self.lists: dict[str, SmartList] = {}
        self.editing: SmartList | None = None
        self.count: int | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="smartlists-left"):
            yield DataTable[str](id="smartlists-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="smartlist-form"):
            yield Label("New smart list", id="sl-title", classes="form-title")
            yield Input(placeholder="Name", id="sl-name", compact=True)
            yield Input(placeholder="Email or name contains…", id="sl-q", compact=True)
            yield Select[str]([], prompt="Any owner", id="sl-owner", compact=True)
            yield Select[str](list(STAGES), prompt="Any lifecycle stage", id="sl-stage", compact=True)
            yield Input(placeholder="Min lead score", id="sl-min-score", type="integer", compact=True)
            yield Select[str]([(s, s) for s in SYNC_STATES], prompt="Any sync state", id="sl-sync", compact=True)
            yield Select[int]([], prompt="Created by anyone", id="sl-created-by", compact=True)
            yield Static("", id="sl-count", markup=False)
            yield Label("Shared with (space ticks a user)", classes="form-hint")
            yield SelectionList[int](id="sl-shared")
            with Horizontal(classes="form-buttons"):
                yield Button("Save", id="sl-save", variant="primary", compact=True, tooltip="ctrl+s")
                yield Button("New", id="sl-new", compact=True, tooltip="ctrl+n")
                yield Button("Delete", id="sl-delete", variant="error", compact=True, tooltip="ctrl+d")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Name", key="name", width=16)
        table.add_column("Filter", key="filter", width=22)
        table.add_column("Shared", key="shared", width=6)

    def agent_ready(self) -> None:
        self.directory_changed()
        self.load()

    def directory_changed(self) -> None:
        """Offer the current owners and users, keeping what is chosen."""
        directory = self.link.directory
        for select_id, options in (("#sl-owner", directory.owner_options()),
                                   ("#sl-created-by", directory.user_options())):
            select: Select[Any] = self.query_one(select_id, Select)
            value = select.value
            with select.prevent(Select.Changed):
                select.set_options(options)
                if value in {v for _, v in options}:
                    select.value = value
        shared: SelectionList[int] = self.query_one(SelectionList)
        chosen = set(shared.selected)
        shared.clear_options()
        shared.add_options([(label, uid, uid in chosen) for label, uid in directory.user_options()])

    @work(group="smartlists-load", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        if not self.link.has("smartlists.list"):
            self.query_one("#sl-count", Static).update("Smart lists are not available in this agent.")
            return
        self.post_message(self.Loaded(await self.link.fetch("smartlists.list", None, list[SmartList])))

    def on_smart_lists_view_loaded(self, message: Loaded) -> None:
        table: DataTable[str] = self.query_one(DataTable)
        editing = self.editing.id if self.editing else None
        table.clear()
        self.lists = {str(s.id): s for s in message.lists}
        for s in message.lists:
            table.add_row(s.name, filter_summary(s.filter, self.link.directory), str(len(s.shared_with)),
                          key=str(s.id))
        if editing is not None and str(editing) in self.lists:
            table.move_cursor(row=table.get_row_index(str(editing)))
            self.edit(self.lists[str(editing)])
        elif self.editing is None:
            self.recount()

    @on(DataTable.RowHighlighted, "#smartlists-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        chosen = self.lists.get(str(event.row_key.value))
        if chosen is not None and chosen is not self.editing:
            self.edit(chosen)

    # --- the form ------------------------------------------------------------------------------

    def edit(self, smart_list: SmartList | None) -> None:
        """Fill the form with ``smart_list`` (None: an empty new list)."""
        self.editing = smart_list
        flt = smart_list.filter if smart_list else ContactFilter()
        query_one = self.query_one
        with self.prevent(Input.Changed, Select.Changed):
            query_one("#sl-title", Label).update(f"Smart list {smart_list.name}" if smart_list else "New smart list")
            query_one("#sl-name", Input).value = smart_list.name if smart_list else ""
            query_one("#sl-q", Input).value = flt.q or ""
            query_one("#sl-min-score", Input).value = "" if flt.min_score is None else str(flt.min_score)
            for select_id, key in SELECTS.items():
                select: Select[Any] = query_one(select_id, Select)
                value = getattr(flt, key)
                try:
                    select.value = Select.NULL if value is None else value
                except InvalidSelectValueError:  # an owner or user that is gone: shown as "any"
                    select.clear()
        shared: SelectionList[int] = query_one(SelectionList)
        shared.deselect_all()
        for user_id in smart_list.shared_with if smart_list else []:
            shared.select(user_id)
        self.recount()

    def form_filter(self) -> ContactFilter:
        """The filter the form describes (an unreadable min score counts as none)."""
        values: dict[str, Any] = {}
        q = self.query_one("#sl-q", Input).value.strip()
        if q:
            values["q"] = q
        score = self.query_one("#sl-min-score", Input).value.strip()
        if score.lstrip("-").isdigit():
            values["min_score"] = int(score)
        for select_id, key in SELECTS.items():
            value = self.query_one(select_id, Select).value
            if value is not Select.NULL:
                values[key] = value
        return ContactFilter(**values)

    @on(Input.Changed, "#sl-q, #sl-min-score")
    @on(Select.Changed, "#sl-owner, #sl-stage, #sl-sync, #sl-created-by")
    def _filter_changed(self) -> None:
        self.recount(debounce_s=DEBOUNCE_S)

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        event.stop()
        self.screen.focus_next()  # Enter never saves: ctrl+s does

    def recount(self, *, debounce_s: float = 0.0) -> None:
        self.query_one("#sl-count", Static).update("Counting…")
        self._count(self.form_filter(), debounce_s)

    @work(group="smartlists-count", exclusive=True, exit_on_error=False)
    async def _count(self, flt: ContactFilter, debounce_s: float) -> None:
        """``contacts.count`` for the form's filter: how many contacts the list would hold now."""
        if debounce_s:
            await asyncio.sleep(debounce_s)
        label = self.query_one("#sl-count", Static)
        if not self.link.has("contacts.count"):
            label.update("The live count is not available in this agent (contacts.count).")
            return
        try:
            answer = await self.link.call("contacts.count", {"filter": _params(flt)})
        except RpcError as exc:
            label.update(Text(exc.message, style="italic"))
            return
        self.count = int(answer["count"])
        label.update(Text.assemble((f"{self.count:,}", "bold"), f" contact{'s' if self.count != 1 else ''} match "
                                   f"({filter_summary(flt, self.link.directory)})"))

    # --- save, new, delete ---------------------------------------------------------------------

    @on(Button.Pressed, "#sl-save")
    def action_save(self) -> None:
        name = self.query_one("#sl-name", Input).value.strip()
        if not name:
            self.notify("Give the smart list a name", title="Smart list", severity="warning")
            self.query_one("#sl-name", Input).focus()
            return
        params: dict[str, Any] = {"name": name, "filter": _params(self.form_filter()),
                                  "shared_with": sorted(self.query_one(SelectionList).selected)}
        self.save(params, self.editing.id if self.editing else None)

    @work(group="smartlists-save", exit_on_error=False)
    async def save(self, params: dict[str, Any], list_id: int | None) -> None:
        """``smartlists.create`` or ``smartlists.update``; the agent's refusal ends in a notification."""
        try:
            method = "smartlists.create" if list_id is None else "smartlists.update"
            saved = await self.link.fetch(method, params if list_id is None else {"id": list_id, **params},
                                          SmartList)
        except RpcError as exc:
            notify_problem(self, exc)
            return
        self.editing = saved
        self.notify(f"Saved “{saved.name}”, shared with {len(saved.shared_with)} users", title="Smart list",
                    markup=False)
        self.post_message(self.Changed())
        self.load()

    @on(Button.Pressed, "#sl-new")
    def action_new(self) -> None:
        self.edit(None)
        self.query_one("#sl-name", Input).focus()

    @on(Button.Pressed, "#sl-delete")
    def action_delete(self) -> None:
        if self.editing is not None:
            self.delete(self.editing)

    @work(group="smartlists-save", exit_on_error=False)
    async def delete(self, smart_list: SmartList) -> None:
        """``smartlists.delete`` (its contacts stay)."""
        try:
            await self.link.call("smartlists.delete", {"id": smart_list.id})
        except RpcError as exc:
            notify_problem(self, exc)
            return
        self.notify(f"Deleted “{smart_list.name}” (its contacts stay)", title="Smart list", markup=False)
        self.edit(None)
        self.post_message(self.Changed())
        self.load()

    def action_focus_table(self) -> None:
        self.query_one(DataTable).focus()


def _params(flt: ContactFilter) -> dict[str, Any]:
    """The filter as ``contacts.count`` / ``smartlists.*`` params: only what is set."""
    return {k: v for k, v in msgspec.structs.asdict(flt).items() if v is not None}

