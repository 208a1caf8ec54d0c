"""The Contacts tab's search row and filter bar: the widgets, their choices and the ``contacts.list``
params they ask for.

The search row is the search box, the smart list (``smartlists.list``) and "view as" (a user, when the
agent's ``contacts.list`` takes ``as_user``); the filter bar is owner, lifecycle stage, minimum lead score
and sync state. :class:`ContactFilters` reads and fills them inside the view that composed
:func:`filter_rows`; the view reloads on their changes.
"""

from __future__ import annotations

from typing import Any

from textual.containers import Horizontal
from textual.dom import DOMNode
from textual.widgets import Input, Select

from leadsync.common.answers import SmartList
from leadsync.tui.connection import AgentLink

# HubSpot's lifecycle stages (the CRM connected today); the filter sends the internal value.
STAGES: tuple[tuple[str, str], ...] = (
    ("subscriber", "subscriber"), ("lead", "lead"), ("MQL", "marketingqualifiedlead"),
    ("SQL", "salesqualifiedlead"), ("opportunity", "opportunity"), ("customer", "customer"),
    ("evangelist", "evangelist"), ("other", "other"),
)
SYNC_STATES = ("synced", "pending", "error", "local")
SELECT_IDS = ("filter-owner", "filter-stage", "filter-sync", "contacts-view-as", "contacts-smart-list")
"""The selects whose change starts a new query."""


def filter_rows() -> tuple[Horizontal, Horizontal]:
    """The search row (``#contacts-search-row``) and the filter bar (``#contacts-filters``)."""
    search_row = Horizontal(
        Input(placeholder="Search name, email, company, phone  ( / )", id="contacts-search", compact=True),
        Select[int]([], prompt="Smart list", id="contacts-smart-list", compact=True, disabled=True,
                    tooltip="Saved filters (smartlists.list)"),
        Select[int]([], prompt="View as…", id="contacts-view-as", compact=True, disabled=True,
                    tooltip="Checking whether this agent can show contacts as another user…"),
        id="contacts-search-row",
    )
    filters = Horizontal(
        Select[str]([], prompt="Owner", id="filter-owner", compact=True),
        Select[str](list(STAGES), prompt="Lifecycle stage", id="filter-stage", compact=True),
        Input(placeholder="Min score", id="filter-min-score", type="integer", compact=True),
        Select[str]([(s, s) for s in SYNC_STATES], prompt="Sync state", id="filter-sync", compact=True),
        id="contacts-filters",
    )
    return search_row, filters


class ContactFilters:
    """The search row and filter bar of ``view`` (which composed :func:`filter_rows`).

    ``view_as_supported``: whether the agent's ``contacts.list`` takes ``as_user`` (None until probed).
    """

    def __init__(self, view: DOMNode, link: AgentLink) -> None:
        self.view = view
        self.link = link
        self.view_as_supported: bool | None = None

    def directory_changed(self) -> None:
        """Offer the current owners (and users, for "view as"), keeping what is chosen."""
        directory = self.link.directory
        owner_select: Select[str] = self.view.query_one("#filter-owner", Select)
        value = owner_select.value
        with owner_select.prevent(Select.Changed):
            owner_select.set_options(directory.owner_options())
            if isinstance(value, str) and value in directory.owners:
                owner_select.value = value
        view_as: Select[int] = self.view.query_one("#contacts-view-as", Select)
        if self.view_as_supported:
            chosen = view_as.value
            with view_as.prevent(Select.Changed):
                view_as.set_options(directory.user_options())
                if isinstance(chosen, int) and chosen in directory.users:
                    view_as.value = chosen

    async def probe_view_as(self) -> None:
        """Ask the agent whether ``contacts.list`` takes ``as_user``; enable "view as" if so."""
        users = self.link.directory.users
        probe_user = next(iter(users), 0)
        supported = await self.link.supports_param("contacts.list", {"as_user": probe_user, "limit": 1})
        self.view_as_supported = supported
        select: Select[int] = self.view.query_one("#contacts-view-as", Select)
        if supported:
            select.set_options(self.link.directory.user_options())
            select.disabled = False
            select.tooltip = "Show the contacts this user sees (owned and shared to them)"
        else:
            select.disabled = True
            select.tooltip = "View as: not available in this agent (contacts.list has no as_user param yet)"

    async def load_smart_lists(self) -> None:
        """Offer the saved filters (``smartlists.list``), keeping the chosen one if it is still there."""
        select: Select[int] = self.view.query_one("#contacts-smart-list", Select)
        if not self.link.has("smartlists.list"):
            select.disabled = True
            select.tooltip = "Smart lists: not available in this agent (smartlists.list)"
            return
        lists = await self.link.fetch("smartlists.list", None, list[SmartList])
        value = select.value
        with select.prevent(Select.Changed):
            select.set_options([(s.name, s.id) for s in lists])
            if any(s.id == value for s in lists):
                select.value = value
        select.disabled = not lists
        select.tooltip = "Show the contacts of a saved filter" if lists else "No smart lists yet"

    def params(self) -> dict[str, Any]:
        """The ``contacts.list`` params (without paging): ``{"filter": {...}}`` plus ``smart_list`` and
        ``as_user`` when chosen."""
        query_one = self.view.query_one
        flt: dict[str, Any] = {}
        q = query_one("#contacts-search", Input).value.strip()
        if q:
            flt["q"] = q
        for select_id, key in (("#filter-owner", "owner"), ("#filter-stage", "lifecycle_stage"),
                               ("#filter-sync", "sync_state")):
            value = query_one(select_id, Select).value
            if value is not Select.NULL:
                flt[key] = value
        score = query_one("#filter-min-score", Input).value.strip()
        if score.lstrip("-").isdigit():
            flt["min_score"] = int(score)
        params: dict[str, Any] = {"filter": flt}
        smart_list = query_one("#contacts-smart-list", Select).value
        if isinstance(smart_list, int):
            params["smart_list"] = smart_list
        view_as = query_one("#contacts-view-as", Select).value
        if self.view_as_supported and view_as is not Select.NULL:
            params["as_user"] = view_as
        return params

    def clear(self) -> None:
        """Empty the search box and every filter (posting no change events)."""
        query_one = self.view.query_one
        with self.view.prevent(Input.Changed, Select.Changed):
            query_one("#contacts-search", Input).value = ""
            query_one("#filter-min-score", Input).value = ""
            for select_id in SELECT_IDS:
                query_one(f"#{select_id}", Select).clear()
