"""Where every key of the dashboard goes: the panes (a tab, or a sub-tab of Sync) with their keys.

:data:`PANES` is the one list the app's bindings, the command palette and the help screen are built from,
so a pane cannot have a key the help does not list (or a help line no key reaches). ``focus`` is the CSS
selector of the widget that takes the focus when the pane is shown (a table: the arrow keys work at once).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Pane:
    """One place on the dashboard: ``key`` shows it, ``tab`` is the main tab's id, ``sub_tab`` the pane id inside
    the Sync tab (None for a main tab), ``focus`` the widget (CSS selector) focused there."""

    key: str
    name: str
    title: str
    help: str
    tab: str
    sub_tab: str | None
    focus: str

    def binding(self, *, show: bool = True) -> Binding:
        return Binding(self.key, f"show_pane('{self.name}')", self.title, show=show, tooltip=self.help)


PANES: tuple[Pane, ...] = (
    Pane("1", "contacts", "Contacts", "The contact list: search, filters, smart lists", "contacts", None,
         "#contacts-table"),
    # the Sync tab focuses the table of the sub-tab it shows (History at first)
    Pane("2", "sync", "Sync", "Sync runs, progress, errors, plan and conflicts", "sync", None, "#sync-history"),
    Pane("3", "settings", "Settings", "CRM connection, sync settings and field mapping", "settings", None,
         "#settings-view"),
    Pane("4", "owners", "Owners", "Users and CRM owners: matched, unmatched, inactive, contacts each", "owners",
         None, "#owners-table"),
    Pane("5", "lists", "Smart lists", "Saved filters: build one with a live count, share it with users", "lists",
         None, "#smartlists-table"),
    Pane("6", "health", "Health", "Sync health: connection, API budget, backlog, runs, errors by cause", "health",
         None, "#health-view"),
    Pane("h", "history", "History", "Sync › History: past runs (u undoes one)", "sync", "sync-history-pane",
         "#sync-history"),
    Pane("e", "errors", "Errors", "Sync › Errors: open errors (t retries one, a every one of its code)", "sync",
         "sync-errors-pane", "#sync-errors"),
    Pane("p", "plan", "Plan", "Sync › Plan: what the next sync would write (a dry run, nothing written)", "sync",
         "sync-plan-pane", "#plan-items"),
    Pane("x", "conflicts", "Conflicts", "Sync › Conflicts: base, local and CRM values side by side", "sync",
         "sync-conflicts-pane", "#conflicts-table"),
)
PANES_BY_NAME = {pane.name: pane for pane in PANES}
MAIN_TABS = tuple(pane for pane in PANES if pane.sub_tab is None)
SYNC_PANES = tuple(pane for pane in PANES if pane.sub_tab is not None)
