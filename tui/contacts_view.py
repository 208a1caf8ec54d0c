"""The Contacts tab: a keyset-paged table, incremental search, filters and "view as" (the search row and
filter bar: :mod:`~leadsync.tui.contacts_filters`).

The table never loads everything: it asks ``contacts.list`` for ``PAGE_SIZE`` rows and for the next
page (``after`` = the last id) when the cursor or the scroll position comes within ``PREFETCH_ROWS``
of the end. Search and filters start a new query after ``DEBOUNCE_S``; the query worker is exclusive
and every page carries its query's generation, so the latest query wins and late pages are dropped.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import DataTable, Input, Select, Static
from textual.widgets.data_table import RowDoesNotExist

from leadsync.common.models import Contact, ContactPage
from leadsync.tui.connection import AgentLink
from leadsync.tui.contacts_filters import SELECT_IDS, STAGES, ContactFilters, filter_rows
from leadsync.tui.errors import ReportsWorkerErrors
from leadsync.tui.formatting import MISSING, person
from leadsync.tui.messages import (
    ContactChanged,
    ContactsImported,
    ContactsPageLoaded,
    OpenContact,
    SyncFinished,
)
from leadsync.tui.owners import OwnerDirectory
from leadsync.tui.table_fit import FitColumn, add_columns, fit_table

PAGE_SIZE = 200
PREFETCH_ROWS = 50
DEBOUNCE_S = 0.25
DIRTY_FLUSH_S = 0.5

STAGE_LABELS = {value: label for label, value in STAGES}
SYNC_MARKS = {"synced": "✓ synced", "pending": "● pending", "error": "✗ error", "local": "· local"}

# Most telling first: at 80 columns name, email, owner, stage and Lead/Contact show, the rest scroll off
# the right; wider windows widen name, email, owner and company (:mod:`leadsync.tui.table_fit`).
COLUMNS: tuple[FitColumn, ...] = (
    FitColumn("name", "Name", 13, 3), FitColumn("email", "Email", 21, 4), FitColumn("owner", "Owner", 14, 2),
    FitColumn("stage", "Stage", 11), FitColumn("type", "Type", 7), FitColumn("sync", "Sync", 9),
    FitColumn("score", "Score", 5), FitColumn("company", "Company", 16, 2), FitColumn("id", "ID", 6),
)


def record_type(object_type: str | None) -> str:
    """``Lead`` or ``Contact``: the CRM record a contact is linked to (a dash before its first push)."""
    return object_type.capitalize() if object_type else MISSING


def contact_row(contact: Contact, directory: OwnerDirectory) -> list[Text | str]:
    """The table cells of one contact, in ``COLUMNS`` order."""
    stage = contact.lifecycle_stage
    return [
        person(contact.first_name, contact.last_name) or MISSING,
        contact.email or MISSING,
        directory.label(contact.owner_id),
        STAGE_LABELS.get(stage, stage) if stage else MISSING,
        record_type(contact.crm_object_type),
        SYNC_MARKS.get(contact.sync_state, contact.sync_state),
        Text(MISSING if contact.lead_score is None else str(contact.lead_score), justify="right"),
        contact.company or MISSING,
        Text(str(contact.id), justify="right"),
    ]


class ContactsView(ReportsWorkerErrors, Vertical):
    """Browse contacts; Enter (or a click) opens one (posts :class:`~leadsync.tui.messages.OpenContact`)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_search", "Search"),
        Binding("ctrl+l", "clear_filters", "Clear filters"),
        Binding("escape", "focus_table", "Back to the table", show=False),
    ]

    def __init__(self, link: AgentLink, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.link = link
        self.generation = 0
        self.shown_generation = -1  # the query whose rows the table shows
        self.next_after: int | None = None
        self.loading_more = False
        self.loaded = 0
        self.pages_loaded = 0
        self.params: dict[str, Any] = {}
        self.filters = ContactFilters(self, link)
        self._dirty: set[int] = set()
        self._owner_ids: dict[str, str] = {}  # row key -> CRM owner id, to relabel owners in place
        self._dirty_timer: Timer | None = None
        self._stale_note = ""

    def compose(self) -> ComposeResult:
        yield from filter_rows()
        yield DataTable[Text | str](id="contacts-table", cursor_type="row", zebra_stripes=True)
        yield Static("Waiting for the agent…", id="contacts-status", markup=False)

    def on_mount(self) -> None:
        table = self.table
        add_columns(table, COLUMNS)
        self.watch(table, "scroll_y", self._on_table_scroll, init=False)

    def on_resize(self, _: events.Resize) -> None:
        self.call_after_refresh(fit_table, self.table, COLUMNS)

    @property
    def settled(self) -> bool:
        """Whether the table shows the latest query's first page and no page is loading."""
        return self.shown_generation == self.generation and not self.loading_more

    @property
    def table(self) -> DataTable[Text | str]:
        return self.query_one("#contacts-table", DataTable)

    @property
    def view_as_supported(self) -> bool | None:
        """Whether the agent's ``contacts.list`` takes ``as_user`` (None until probed)."""
        return self.filters.view_as_supported

    # --- connection --------------------------------------------------------------------------

    def agent_ready(self) -> None:
        """The agent is (again) reachable (and ``link.directory`` loaded): probe "view as", load the smart
        lists, then the first page."""
        self.directory_changed()
        self._prepare()

    def directory_changed(self) -> None:
        """Users or owners changed: offer the current owners and users, keeping what is chosen."""
        self.filters.directory_changed()
        directory = self.link.directory
        for key, owner_id in self._owner_ids.items():  # owner names of the rows already loaded
            self.table.update_cell(key, "owner", directory.label(owner_id))

    @work(group="contacts-prepare", exclusive=True, exit_on_error=False)
    async def _prepare(self) -> None:
        await self.filters.probe_view_as()
        await self.filters.load_smart_lists()
        self.reload()

    def smart_lists_changed(self) -> None:
        """A smart list was saved or deleted: offer the new set (the chosen one stays if it is still there)."""
        self._reload_smart_lists()

    @work(group="contacts-smart-lists", exclusive=True, exit_on_error=False)
    async def _reload_smart_lists(self) -> None:
        await self.filters.load_smart_lists()

    # --- queries -----------------------------------------------------------------------------

    def current_params(self) -> dict[str, Any]:
        """The ``contacts.list`` params (without paging) the search box and filters ask for."""
        return self.filters.params()

    def reload(self, *, debounce_s: float = 0.0) -> None:
        """Start a new query from the first page; any page of an older query is dropped."""
        self.generation += 1
        self.params = self.current_params()
        self.workers.cancel_group(self, "contacts-more")
        self.loading_more = False
        self.next_after = None  # no "more" for the new query until its first page is in
        self._stale_note = ""
        self._show_status(loading=True)
        self._query(self.generation, self.params, debounce_s)

    @work(group="contacts-query", exclusive=True, exit_on_error=False)
    async def _query(self, generation: int, params: dict[str, Any], debounce_s: float) -> None:
        if debounce_s:
            await asyncio.sleep(debounce_s)
        page = await self.link.fetch("contacts.list", {**params, "limit": PAGE_SIZE}, ContactPage)
        self.post_message(ContactsPageLoaded(generation, page, first=True))

    @work(group="contacts-more", exclusive=True, exit_on_error=False)
    async def _more(self, generation: int, params: dict[str, Any], after: int) -> None:
        try:
            page = await self.link.fetch("contacts.list", {**params, "after": after, "limit": PAGE_SIZE},
                                         ContactPage)
        except BaseException:
            self.loading_more = False
            raise
        self.post_message(ContactsPageLoaded(generation, page, first=False))

    def on_contacts_page_loaded(self, message: ContactsPageLoaded) -> None:
        if message.generation != self.generation:
            return  # an older query's page: the user has asked for something else since
        if not message.first and self.shown_generation != message.generation:
            return  # a next page can only follow its own query's first page
        table = self.table
        if message.first:
            self.shown_generation = message.generation
            table.clear()
            self.loaded = 0
            self.pages_loaded = 0
        directory = self.link.directory
        if message.first:
            self._owner_ids = {}
        added = 0
        for contact in message.page.contacts:
            if message.first or not self._has_row(contact.id):
                table.add_row(*contact_row(contact, directory), key=str(contact.id))
                if contact.owner_id is not None:
                    self._owner_ids[str(contact.id)] = contact.owner_id
                added += 1
        self.loaded += added
        self.pages_loaded += 1
        self.next_after = message.page.next_after
        self.loading_more = False
        self._show_status()
        # The table's scroll range grows at the next refresh: check "near the end" after it.
        self.call_after_refresh(self._maybe_load_more)

    def _maybe_load_more(self) -> None:
        if self.next_after is None or self.loading_more or not self.link.connected:
            return
        table = self.table
        near_cursor = table.cursor_row >= table.row_count - PREFETCH_ROWS
        near_scroll = table.max_scroll_y > 0 and table.scroll_y >= table.max_scroll_y - PREFETCH_ROWS
        if near_cursor or near_scroll:
            self.loading_more = True
            self._show_status(loading=True)
            self._more(self.generation, self.params, self.next_after)

    def _on_table_scroll(self, _: float) -> None:
        self._maybe_load_more()

    def _show_status(self, *, loading: bool = False) -> None:
        filtered = bool(self.params.get("filter")) or "as_user" in self.params or "smart_list" in self.params
        noun = "matching" if filtered else "contacts"
        if self.next_after is not None:
            text = f"{self.loaded:,} loaded, more…"
        elif self.pages_loaded == 0:
            text = "Loading contacts…"
        else:
            text = f"{self.loaded:,} {noun}" if self.loaded else f"No {noun}"
        if loading and self.pages_loaded:
            text += "  (loading…)"
        if self._stale_note:
            text += f"  {self._stale_note}"
        self.query_one("#contacts-status", Static).update(text)

    # --- events from the table and the filter bar --------------------------------------------

    @on(DataTable.RowHighlighted, "#contacts-table")
    def _row_highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._maybe_load_more()

    @on(DataTable.RowSelected, "#contacts-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.post_message(OpenContact(int(event.row_key.value)))

    @on(Input.Changed, "#contacts-search")
    def _search_changed(self, _: Input.Changed) -> None:
        self.reload(debounce_s=DEBOUNCE_S)

    @on(Input.Changed, "#filter-min-score")
    def _score_changed(self, event: Input.Changed) -> None:
        value = event.value.strip()
        if not value or value.lstrip("-").isdigit():
            self.reload(debounce_s=DEBOUNCE_S)

    @on(Input.Submitted)
    def _input_submitted(self, _: Input.Submitted) -> None:
        self.table.focus()

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        if event.select.id in SELECT_IDS and self.link.connected:
            self.reload()

    def action_focus_search(self) -> None:
        self.query_one("#contacts-search", Input).focus()

    def action_focus_table(self) -> None:
        self.table.focus()

    def action_clear_filters(self) -> None:
        self.filters.clear()
        self.reload()

    def selected_contact_id(self) -> int | None:
        table = self.table
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return int(key) if key is not None else None

    # --- live updates ------------------------------------------------------------------------

    def contacts_imported(self, message: ContactsImported) -> None:
        self._stale_note = f"({message.created:,} imported, {message.updated:,} updated: r reloads)"
        self._show_status()

    def contact_changed(self, message: ContactChanged) -> None:
        """Refresh a loaded row that changed (batched); note new contacts without moving the table."""
        if message.change == "created":
            self._stale_note = "(new contacts: r reloads)"
            self._show_status()
            return
        self._dirty.add(message.contact_id)
        if self._dirty_timer is None:
            self._dirty_timer = self.set_timer(DIRTY_FLUSH_S, self._flush_dirty)

    def sync_finished(self, message: SyncFinished) -> None:
        run = message.run
        if run.created_local or run.updated_local or run.linked or run.created_crm or run.updated_crm:
            self._stale_note = f"(sync #{run.id} changed contacts: r reloads)"
            self._show_status()

    def _flush_dirty(self) -> None:
        self._dirty_timer = None
        ids, self._dirty = sorted(self._dirty), set()
        loaded = [i for i in ids if self._has_row(i)]
        if loaded:
            self._refresh_rows(loaded[:100])

    def _has_row(self, contact_id: int) -> bool:
        try:
            self.table.get_row(str(contact_id))
        except RowDoesNotExist:
            return False
        return True

    @work(group="contacts-refresh", exit_on_error=False)
    async def _refresh_rows(self, ids: list[int]) -> None:
        for contact_id in ids:
            contact = await self.link.fetch("contacts.get", {"id": contact_id}, Contact)
            self.update_row(contact)

    def update_row(self, contact: Contact) -> None:
        """Show ``contact``'s current values in its row, if that row is loaded."""
        if not self._has_row(contact.id):
            return
        if contact.owner_id is not None:
            self._owner_ids[str(contact.id)] = contact.owner_id
        for column, value in zip(COLUMNS, contact_row(contact, self.link.directory), strict=True):
            self.table.update_cell(str(contact.id), column.key, value)
