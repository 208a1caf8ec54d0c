"""The leadsync dashboard: Contacts | Sync | Settings | Owners | Smart lists | Health over the agent's socket API, the
import screen and the help screen (``?``: every key, from the bindings). Where each key goes is
:mod:`leadsync.tui.keymap`.

``LeadsyncApp(socket_path)`` is what ``leadsync tui`` and ``leadsync demo`` run. The app starts one
watcher worker (:func:`leadsync.tui.connection.watch_agent`) that keeps the connection up, shows
:class:`~leadsync.tui.no_agent.NoAgentScreen` while no agent answers, and routes the agent's events
to the views. The TUI never imports ``leadsync.agent``: everything goes through the socket.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path, PurePath
from typing import ClassVar

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header, Input, Switch, TabbedContent, TabPane

from leadsync.tui.conflicts_view import ConflictsPane
from leadsync.tui.connection import RECONNECT_S, AgentLink, watch_agent
from leadsync.tui.contact_detail import ContactDetailScreen
from leadsync.tui.contacts_view import ContactsView
from leadsync.tui.errors import ReportsWorkerErrors
from leadsync.tui.formatting import format_value
from leadsync.tui.health_view import HealthView
from leadsync.tui.help_screen import HelpScreen, help_rows
from leadsync.tui.import_screen import ImportScreen
from leadsync.tui.keymap import MAIN_TABS, PANES, PANES_BY_NAME, SYNC_PANES, Pane
from leadsync.tui.messages import (
    AgentConnected,
    AgentLost,
    ContactChanged,
    ContactsImported,
    OpenContact,
    RetryNow,
    SettingsChanged,
    SyncFinished,
    SyncProgress,
    SyncStarted,
)
from leadsync.tui.no_agent import NoAgentScreen
from leadsync.tui.owners import OwnerDirectory
from leadsync.tui.owners_view import OwnersView
from leadsync.tui.plan_view import PlanPane
from leadsync.tui.recovery import ErrorsTable, HistoryTable
from leadsync.tui.settings_confirm import ConfirmWritesScreen
from leadsync.tui.settings_view import SettingsView
from leadsync.tui.smartlists_view import SmartListsView
from leadsync.tui.sync_view import SyncView

TABS = tuple(pane.tab for pane in MAIN_TABS)


class LeadsyncApp(ReportsWorkerErrors, App[None]):
    """The dashboard for the agent at ``socket_path``; ``reconnect_s`` is the wait between attempts."""

    TITLE = "leadsync"
    AUTO_FOCUS = "#contacts-table"
    CSS_PATH: ClassVar[list[str | PurePath]] = [
        "app.tcss", "contacts.tcss", "sync.tcss", "settings.tcss", "detail.tcss", "import.tcss", "health.tcss",
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        # first what an 80-column footer must show: the tab bar also shows 1-5, the Sync tab's footer h e p x
        Binding("question_mark", "help", "Keys"),
        Binding("i", "import_file", "Import"),
        Binding("s", "sync_now", "Sync now"),
        Binding("r", "refresh", "Refresh"),
        *(pane.binding(show=pane.sub_tab is None) for pane in PANES),
        Binding("escape", "focus_pane", "Back to the pane's table", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, socket_path: Path, *, reconnect_s: float = RECONNECT_S) -> None:
        super().__init__()
        self.socket_path = Path(socket_path)
        self.reconnect_s = reconnect_s
        self.link = AgentLink(self.socket_path)
        self.status_line = "connecting…"
        self.index_note = ""  # " · search index N/M" while a build goes on after a run's end
        self.contacts_view = ContactsView(self.link, id="contacts-view")
        self.sync_view = SyncView(self.link, id="sync-view")
        self.settings_view = SettingsView(self.link, id="settings-view")
        self.owners_view = OwnersView(self.link.directory, id="owners-view")
        self.smartlists_view = SmartListsView(self.link, id="smartlists-view")
        self.health_view = HealthView(self.link, id="health-view")
        self.import_screen = ImportScreen(self.link)

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(id="main-tabs", initial="contacts"):
            with TabPane("1 Contacts", id="contacts"):
                yield self.contacts_view
            with TabPane("2 Sync", id="sync"):
                yield self.sync_view
            with TabPane("3 Settings", id="settings"):
                yield self.settings_view
            with TabPane("4 Owners", id="owners"):
                yield self.owners_view
            with TabPane("5 Smart lists", id="lists"):
                yield self.smartlists_view
            with TabPane("6 Health", id="health"):
                yield self.health_view
        yield Footer()

    def on_mount(self) -> None:
        self.install_screen(self.import_screen, "import")  # kept while away: the form keeps its state
        self.sub_title = self.status_line
        self.watch_connection()

    @work(group="connection", exclusive=True, exit_on_error=False)
    async def watch_connection(self) -> None:
        await watch_agent(self.link, self.post_message, reconnect_s=self.reconnect_s)

    # --- screens -----------------------------------------------------------------------------

    @property
    def main_tabs(self) -> TabbedContent:
        return self.contacts_view.screen.query_one("#main-tabs", TabbedContent)

    def _no_agent_screen(self) -> NoAgentScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, NoAgentScreen):
                return screen
        return None

    def _detail_screens(self) -> list[ContactDetailScreen]:
        return [s for s in self.screen_stack if isinstance(s, ContactDetailScreen)]

    # --- connection --------------------------------------------------------------------------

    def on_agent_connected(self, message: AgentConnected) -> None:
        screen = self._no_agent_screen()
        if screen is not None:
            while self.screen is not screen:
                self.pop_screen()
            self.pop_screen()
        self.index_note = ""  # a build shown before the connection went may have ended unseen
        self.show_status(message.status)
        self.views_ready()

    @work(group="directory", exclusive=True, exit_on_error=False)
    async def views_ready(self) -> None:
        """Load who the users and CRM owners are (every view names them), then let the views load."""
        try:
            await self.reload_directory()
        finally:
            self.contacts_view.agent_ready()
            self.sync_view.agent_ready()
            self.settings_view.agent_ready()
            self.smartlists_view.agent_ready()
            self.health_view.agent_ready()
            for detail in self._detail_screens():
                detail.load()

    async def reload_directory(self) -> None:
        """``users.list`` into ``link.directory``; the views relabel owners and refresh their choices."""
        self.link.directory = OwnerDirectory.from_answer(await self.link.call("users.list"))
        self.contacts_view.directory_changed()
        self.settings_view.directory_changed()
        self.owners_view.directory_changed(self.link.directory)
        self.smartlists_view.directory_changed()
        if self.import_screen.is_mounted:
            self.import_screen.directory_changed()

    def on_agent_lost(self, message: AgentLost) -> None:
        self.sub_title = "no agent"
        screen = self._no_agent_screen()
        if screen is None:
            self.push_screen(NoAgentScreen(self.socket_path, message.reason, self.reconnect_s))
        else:
            screen.show_reason(message.reason)

    def on_retry_now(self, _: RetryNow) -> None:
        self.link.wake.set()

    # --- agent events ------------------------------------------------------------------------

    def on_sync_started(self, message: SyncStarted) -> None:
        self.sync_view.sync_started(message)
        self.sub_title = f"{self.status_line} · sync #{message.run_id} running"

    def on_sync_progress(self, message: SyncProgress) -> None:
        self.sync_view.sync_progress(message)
        of = f"/{message.total:,}" if message.total else ""
        if message.after_its_run(self.sync_view.running):
            self.index_note = "" if message.complete else f" · search index {message.done:,}{of}"
            if self.sync_view.running is None:  # else the running sync's progress keeps the header
                self.sub_title = self.status_line + self.index_note
            return
        run = f"sync #{self.sync_view.running}" if self.sync_view.running is not None else "sync"
        self.sub_title = f"{self.status_line} · {run}: {message.phase} {message.done:,}{of}"

    def on_sync_finished(self, message: SyncFinished) -> None:
        self.sync_view.sync_finished(message)
        self.contacts_view.sync_finished(message)
        self.health_view.load()
        self.sub_title = self.status_line + self.index_note
        self.refresh_status()

    @work(group="agent-status", exclusive=True, exit_on_error=False)
    async def refresh_status(self) -> None:
        """Re-read ``agent.status`` for the header (the contact count changes with syncs and imports) and the
        owners (each sync pulls the CRM's owner list)."""
        self.show_status(await self.link.call("agent.status"))
        await self.reload_directory()

    def show_status(self, status: dict[str, object]) -> None:
        if status.get("search_backlog") == 0 and self.index_note:  # the build ended without its last event
            self.index_note = ""
            self.sync_view.search_index_in_step()
        crm = status.get("crm") or "no CRM connected"
        self.status_line = f"{crm} · {format_value(status.get('contacts'))} contacts · agent {status.get('version')}"
        if self.sync_view.running is None:
            self.sub_title = self.status_line + self.index_note

    def on_contact_changed(self, message: ContactChanged) -> None:
        self.contacts_view.contact_changed(message)
        for detail in self._detail_screens():
            if detail.contact_id == message.contact_id:
                detail.load()

    def on_contacts_imported(self, message: ContactsImported) -> None:
        self.contacts_view.contacts_imported(message)
        self.refresh_status()

    def on_settings_changed(self, _: SettingsChanged) -> None:
        self.settings_view.settings_changed()
        self.sync_view.refresh_data()

    def on_open_contact(self, message: OpenContact) -> None:
        self.push_screen(ContactDetailScreen(self.link, message.contact_id))

    # --- actions -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the dashboard's keys while the no-agent screen, the import screen or a form covers it (Escape
        leaves those); the help screen lets the pane keys through (they close it)."""
        covered = isinstance(self.screen, NoAgentScreen | ModalScreen) or self.import_screen in self.screen_stack
        if action == "show_pane" and isinstance(self.screen, HelpScreen):
            return True
        return not (covered and action in ("show_pane", "sync_now", "refresh", "import_file", "help", "focus_pane"))

    def action_show_pane(self, name: str) -> None:
        """Show pane ``name`` of :data:`~leadsync.tui.keymap.PANES` and focus its table (from any screen the
        dashboard's keys reach: a contact, the help, the command palette)."""
        pane = PANES_BY_NAME.get(name)
        if pane is None:
            return
        while isinstance(self.screen, ContactDetailScreen | ImportScreen | HelpScreen):
            self.pop_screen()
        self.main_tabs.active = pane.tab
        if pane.sub_tab is not None:
            self.sync_view.query_one("#sync-tabs", TabbedContent).active = pane.sub_tab
        self._focus_pane()
        if name == "plan":
            self.sync_view.query_one(PlanPane).compute()
        elif name == "health":
            self.health_view.load()  # what it shows is as of now, not as of the last sync

    def action_show_tab(self, tab: str) -> None:
        """The main tab ``tab`` (kept for the palette and older callers: :meth:`action_show_pane`)."""
        if tab in TABS:
            self.action_show_pane(tab)

    def shown_pane(self) -> Pane:
        """The pane on screen: the main tab, or inside Sync the sub-tab shown."""
        tab = self.main_tabs.active
        if tab == "sync":
            sub = self.sync_view.query_one("#sync-tabs", TabbedContent).active
            return next(p for p in SYNC_PANES if p.sub_tab == sub)
        return PANES_BY_NAME[tab]

    def _focus_pane(self) -> None:
        self.main_tabs.screen.query_one(self.shown_pane().focus).focus()

    def action_focus_pane(self) -> None:
        """Escape: back to the shown pane's table (a form field, a filter or a button had the focus)."""
        self._focus_pane()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(help_rows(self, KEYED)))

    def action_import_file(self) -> None:
        if isinstance(self.screen, ContactDetailScreen):
            self.pop_screen()
        if self.import_screen not in self.screen_stack:
            self.push_screen("import")

    def action_sync_now(self) -> None:
        self.sync_view.start_sync()

    def action_refresh(self) -> None:
        if not self.link.connected:
            self.link.wake.set()
            return
        tab = self.main_tabs.active
        if tab == "contacts":
            self.contacts_view.agent_ready()
        elif tab == "sync":
            self.sync_view.refresh_data()
        elif tab == "health":
            self.health_view.load()
        elif tab == "settings":
            self.settings_view.load()
        elif tab == "owners":
            self.refresh_status()
        else:
            self.smartlists_view.load()

    def on_smart_lists_view_changed(self, _: SmartListsView.Changed) -> None:
        self.contacts_view.smart_lists_changed()

    def action_search_contacts(self) -> None:
        self.action_show_pane("contacts")
        self.contacts_view.query_one("#contacts-search", Input).focus()

    def action_open_selected_contact(self) -> None:
        contact_id = self.contacts_view.selected_contact_id()
        if contact_id is None:
            self.notify("No contact is selected", severity="warning")
        else:
            self.push_screen(ContactDetailScreen(self.link, contact_id))

    def action_toggle_push(self) -> None:
        switch = self.settings_view.query_one("#push-enabled", Switch)
        if self.settings_view.settings is None:
            self.notify("Settings are not loaded yet", severity="warning")
            return
        switch.value = not switch.value

    def action_plan(self) -> None:
        self.action_show_pane("plan")

    def action_check_mappings(self) -> None:
        self.action_show_pane("settings")
        self.settings_view.action_check_mappings()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Every pane (from :data:`~leadsync.tui.keymap.PANES`) and every dashboard action, for the command
        palette (ctrl+p)."""
        yield from super().get_system_commands(screen)
        for pane in PANES:
            yield SystemCommand(pane.title, f"{pane.help} ({pane.key})", partial(self.action_show_pane, pane.name))
        yield SystemCommand("Keys", "Every key of every screen (?)", self.action_help)
        yield SystemCommand("Retry these errors", "On Health: retry every open error of the highlighted cause (a)",
                            self.health_view.action_retry_cause)
        yield SystemCommand("Import contacts", "Preview and import a CSV or .xlsx file, column by column (i)",
                            self.action_import_file)
        yield SystemCommand("Sync now", "Run a sync with the CRM now (s)", self.action_sync_now)
        yield SystemCommand("Refresh", "Reload the current tab from the agent (r)", self.action_refresh)
        yield SystemCommand("Search contacts", "Search contacts by email or name (/)", self.action_search_contacts)
        yield SystemCommand("Clear contact filters", "Clear the search and every filter (ctrl+l)",
                            self.contacts_view.action_clear_filters)
        yield SystemCommand("Open selected contact", "Show the highlighted contact in full (enter)",
                            self.action_open_selected_contact)
        yield SystemCommand("Toggle push", "Flip the push master switch (turning it on asks first)",
                            self.action_toggle_push)
        yield SystemCommand("Save settings", "Send the sync settings form (ctrl+s)",
                            self.settings_view.action_save)
        yield SystemCommand("Plan (dry run)", "What the next sync would write, without writing (p)",
                            self.action_plan)
        yield SystemCommand("Check mapped fields", "Compare the field mapping with the CRM's fields (c)",
                            self.action_check_mappings)
        yield SystemCommand("New smart list", "Build a filter with a live count and share it (ctrl+n)",
                            self._new_smart_list)
        yield SystemCommand("Retry connecting", "Try the agent's socket now", self.link.wake.set)

    def _new_smart_list(self) -> None:
        self.action_show_pane("lists")
        self.smartlists_view.action_new()


KEYED: tuple[tuple[str, type[DOMNode]], ...] = (
    ("Everywhere", LeadsyncApp), ("Contacts", ContactsView), ("Sync › History", HistoryTable),
    ("Sync › Errors", ErrorsTable), ("Sync › Conflicts", ConflictsPane), ("Settings", SettingsView),
    ("Smart lists", SmartListsView), ("A contact", ContactDetailScreen), ("Import", ImportScreen),
    ("Confirmations", ConfirmWritesScreen), ("No agent", NoAgentScreen),
)
"""Where the help screen reads keys from: every class that declares bindings, with the place it works."""


def run_tui(socket_path: Path) -> None:
    """Open the dashboard on the agent at ``socket_path`` (blocks until the user quits)."""
    LeadsyncApp(socket_path).run()
