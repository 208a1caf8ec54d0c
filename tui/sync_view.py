"""The Sync tab: run a sync now, watch its live progress, and review runs, errors, the plan and conflicts.

Progress comes from the agent's events (``run_started``, ``progress``, ``run_finished``) as
:mod:`leadsync.tui.messages` messages; :class:`~leadsync.tui.messages.SyncProgress` coalesces in the
app's queue, so this view only ever draws the newest count.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable, ProgressBar, Static, TabbedContent, TabPane

from leadsync.common.models import SyncError, SyncRun
from leadsync.common.rpc import RpcError
from leadsync.tui import formatting
from leadsync.tui.conflicts_view import ConflictsPane
from leadsync.tui.connection import AgentLink
from leadsync.tui.errors import ReportsWorkerErrors, Severity, notify_problem
from leadsync.tui.formatting import MISSING, run_summary
from leadsync.tui.keymap import SYNC_PANES
from leadsync.tui.messages import OpenContact, SyncFinished, SyncProgress, SyncStarted
from leadsync.tui.plan_view import PlanPane
from leadsync.tui.recovery import ErrorsTable, HistoryTable, RecoveryDone

HISTORY_LIMIT = 50
ERRORS_LIMIT = 200
PHASES = {"pull": "pulling from the CRM", "push": "pushing to the CRM",
          "search_index": "building the search index"}

HISTORY_COLUMNS: tuple[tuple[str, int | None], ...] = (
    ("#", 4), ("Trigger", 9), ("Status", 11), ("Started (UTC)", 16), ("Took", 10), ("Pulled", 7),
    ("New here", 8), ("Upd here", 8), ("New CRM", 7), ("Upd CRM", 7), ("Linked", 6), ("Failed", 6),
    ("Calls", 6), ("Error", None),
)
ERROR_COLUMNS: tuple[tuple[str, int | None], ...] = (
    ("#", 4), ("Last seen (UTC)", 16), ("Contact", 7), ("CRM id", 10), ("Operation", 9), ("Code", 16),
    ("Seen", 4), ("Reason", None),
)


def _num(value: int) -> Text:
    return Text(f"{value:,}", justify="right")


def run_row(run: SyncRun) -> list[Text | str]:
    return [
        Text(str(run.id), justify="right"), run.trigger, run.status, formatting.format_time(run.started_at),
        formatting.format_duration(run.started_at, run.finished_at) if run.finished_at else "running",
        _num(run.pulled), _num(run.created_local), _num(run.updated_local), _num(run.created_crm),
        _num(run.updated_crm), _num(run.linked), _num(run.failed), _num(run.api_calls), run.error or "",
    ]


def error_row(error: SyncError) -> list[Text | str]:
    return [
        Text(str(error.id), justify="right"), formatting.format_time(error.last_seen_at or error.created_at),
        MISSING if error.contact_id is None else Text(str(error.contact_id), justify="right"),
        error.crm_id or MISSING, error.operation, error.code or MISSING, Text(f"{error.count}x", justify="right"),
        error.reason,
    ]


def status_lines(status: dict[str, Any]) -> str:
    """Two lines from ``sync.status``: the last run (and the last partial or failed one, while it matters),
    then push state, interval, backlog, next run."""
    last = status.get("last")
    first = f"Last run {run_summary(msgspec.convert(last, SyncRun))}" if last else "No sync has run yet."
    problem = status.get("last_problem")
    if problem and (not last or problem.get("id") != last.get("id")):
        first += f" · last problem: {run_summary(msgspec.convert(problem, SyncRun))}"
    parts = ["push on" if status.get("push_enabled") else "PUSH DISABLED",
             f"every {formatting.format_interval(int(status.get('interval_minutes') or 0))}"]
    next_run = status.get("next_interval_run")
    if next_run:
        parts.append(f"next {formatting.format_time(int(next_run))} UTC")
    watch = status.get("watch") or {}
    if isinstance(watch, dict) and watch.get("interval_s"):
        parts.append(f"watching the CRM every {int(watch['interval_s'])} s")
    parts.append(f"{int(status.get('pending_push') or 0):,} waiting to push")
    held = int(status.get("held_with_errors") or 0)
    if held:
        parts.append(f"{held:,} held by an error (Errors tab)")
    backlog = status.get("backlog") or {}
    drain = backlog.get("estimated_drain_s") if isinstance(backlog, dict) else None
    if drain:
        parts.append(f"~{formatting.format_duration(0, int(float(drain) * 1000))} to drain")
    return first + "\n" + " · ".join(parts)


class SyncView(ReportsWorkerErrors, Vertical):
    """Sync now, progress, history, errors, plan (dry run) and the conflict review queue."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # the app binds these keys everywhere; here they show in the footer while the Sync tab has the focus
        Binding(pane.key, f"app.show_pane('{pane.name}')", pane.title, tooltip=pane.help) for pane in SYNC_PANES
    ]

    class Loaded(Message, bubble=False):
        """``sync.status``, ``sync.history`` and ``errors.list`` arrived."""

        def __init__(self, status: dict[str, Any], runs: list[SyncRun], errors: list[SyncError]) -> None:
            super().__init__()
            self.status = status
            self.runs = runs
            self.errors = errors

    def __init__(self, link: AgentLink, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.link = link
        self.running: int | None = None
        self.last_progress: SyncProgress | None = None
        self.progress_updates = 0
        self.finished_text = ""  # what the last run's end said (kept beside a search index build after it)
        self.last_finished = 0  # the id of the last run whose run_finished arrived

    def compose(self) -> ComposeResult:
        with Horizontal(id="sync-top"):
            yield Button("Sync now", id="sync-now", variant="primary", compact=True, tooltip="Run a sync now (s)")
            yield Static("Waiting for the agent…", id="sync-summary", markup=False)
        with Horizontal(id="sync-progress-row"):
            yield Static("No sync running.", id="sync-phase", markup=False)
            yield ProgressBar(total=None, show_eta=False, show_percentage=True, id="sync-progress")
        with TabbedContent(id="sync-tabs"):
            with TabPane("h History", id="sync-history-pane"):
                yield HistoryTable(self.link, id="sync-history", cursor_type="row", zebra_stripes=True)
            with TabPane("e Errors", id="sync-errors-pane"):
                yield ErrorsTable(self.link, id="sync-errors", cursor_type="row", zebra_stripes=True)
            with TabPane("p Plan", id="sync-plan-pane"):
                yield PlanPane(self.link, id="sync-plan")
            with TabPane("x Conflicts", id="sync-conflicts-pane"):
                yield ConflictsPane(self.link, id="sync-conflicts")

    def on_mount(self) -> None:
        for table_id, columns in (("#sync-history", HISTORY_COLUMNS), ("#sync-errors", ERROR_COLUMNS)):
            table = self.query_one(table_id, DataTable)
            for label, width in columns:
                table.add_column(label, width=width)
        self.query_one("#sync-progress", ProgressBar).display = False

    def agent_ready(self) -> None:
        self.query_one(PlanPane).agent_ready()
        self.search_index_in_step()  # a build shown before the connection went may have ended unseen
        self.refresh_data()

    def search_index_in_step(self) -> None:
        """No build is going on (``agent.status`` says the search index has no backlog, or the agent is connected
        again): any still shown ended without its last event reaching the TUI (cancelled by a stop, or failed)."""
        if self.running is None and self.query_one("#sync-progress", ProgressBar).display:
            self._show_idle(self.finished_text or "No sync running.")

    @work(group="sync-load", exclusive=True, exit_on_error=False)
    async def refresh_data(self) -> None:
        """Fetch status, history and open errors; the conflict queue reloads alongside."""
        self.query_one(ConflictsPane).load()
        status = await self.link.call("sync.status")
        runs = await self.link.fetch("sync.history", {"limit": HISTORY_LIMIT}, list[SyncRun])
        errors = await self.link.fetch("errors.list", {"limit": ERRORS_LIMIT}, list[SyncError])
        self.post_message(self.Loaded(status, runs, errors))

    def on_sync_view_loaded(self, message: Loaded) -> None:
        history = self.query_one("#sync-history", DataTable)
        history.clear()
        for run in message.runs:
            history.add_row(*run_row(run), key=str(run.id))
        errors = self.query_one("#sync-errors", ErrorsTable)
        errors.clear()
        errors.errors = {str(e.id): e for e in message.errors}
        for error in message.errors:
            errors.add_row(*error_row(error), key=str(error.id))
        tabs = self.query_one("#sync-tabs", TabbedContent)
        tabs.get_tab("sync-errors-pane").label = f"e Errors ({len(message.errors)})"
        summary = self.query_one("#sync-summary", Static)
        summary.update(status_lines(message.status))
        summary.set_class(not message.status.get("push_enabled"), "push-disabled")
        running = message.status.get("running")
        if running and self.running is None and int(running["id"]) > self.last_finished:  # not one ended since
            self.sync_started(SyncStarted(int(running["id"]), str(running.get("trigger", ""))))
        elif not running and self.running is not None:
            self._show_idle("No sync running.")  # its run_finished was missed (e.g. the agent restarted)

    def on_conflicts_pane_loaded(self, message: ConflictsPane.Loaded) -> None:
        count = len(message.conflicts or [])
        label = f"x Conflicts ({count})" if count else "x Conflicts"
        self.query_one("#sync-tabs", TabbedContent).get_tab("sync-conflicts-pane").label = label

    # --- running a sync ------------------------------------------------------------------------

    @on(Button.Pressed, "#sync-now")
    def action_sync_now(self) -> None:
        self.start_sync()

    @work(group="sync-run", exclusive=True, exit_on_error=False)
    async def start_sync(self) -> None:
        """``sync.run {wait: false}``: answers at once with the started (or joined) run."""
        try:
            run = await self.link.fetch("sync.run", {"wait": False}, SyncRun)
        except RpcError as exc:
            notify_problem(self, exc)
            return
        if run.status == "running" and self.running is None and run.id > self.last_finished:
            self.sync_started(SyncStarted(run.id, run.trigger))  # unless its run_finished came before this answer
        self.notify(f"Sync #{run.id} started", title="Sync")

    def sync_started(self, message: SyncStarted) -> None:
        self.running = message.run_id
        self.last_progress = None
        self.query_one("#sync-phase", Static).update(f"Sync #{message.run_id} running ({message.trigger})…")
        bar = self.query_one("#sync-progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        self.query_one("#sync-now", Button).disabled = True

    def sync_progress(self, message: SyncProgress) -> None:
        """Draw the newest progress (earlier ones were coalesced away)."""
        self.progress_updates += 1
        self.last_progress = message
        if message.after_its_run(self.running):
            self._index_progress(message)
            return
        phase = PHASES.get(message.phase, message.phase)
        of = f" of {message.total:,}" if message.total else ""
        what = f"{message.object_type}s" if message.object_type else "records"
        run = f"Sync #{self.running}" if self.running is not None else "Sync"
        self.query_one("#sync-phase", Static).update(f"{run}: {phase}, {message.done:,}{of} {what}")
        bar = self.query_one("#sync-progress", ProgressBar)
        bar.display = True
        if message.total:
            bar.update(total=message.total, progress=min(message.done, message.total))
        else:
            bar.update(total=None)

    def _index_progress(self, message: SyncProgress) -> None:
        """The search index's bulk build, which goes on after a first full pull's run has ended: the run's
        end stays on the line, the build's count beside it; the bar goes when the build is done. While another
        run is on the line, that run's progress keeps it (its end redraws the line)."""
        if self.running is not None:
            return
        if message.complete:
            self._show_idle(f"{self.finished_text}  Search index built: {message.done:,} contacts.")
            return
        of = f" of {message.total:,}" if message.total else ""
        self.query_one("#sync-phase", Static).update(
            f"{self.finished_text}  Building the search index: {message.done:,}{of} contacts…")
        bar = self.query_one("#sync-progress", ProgressBar)
        bar.display = True
        bar.update(total=message.total or None, progress=min(message.done, message.total or message.done))

    def _show_idle(self, text: str) -> None:
        self.running = None
        bar = self.query_one("#sync-progress", ProgressBar)
        bar.update(total=1, progress=1)
        bar.display = False
        self.query_one("#sync-phase", Static).update(text)
        self.query_one("#sync-now", Button).disabled = False

    def sync_finished(self, message: SyncFinished) -> None:
        run = message.run
        self.last_finished = max(self.last_finished, run.id)
        self.finished_text = f"Finished: {run_summary(run)}"
        self._show_idle(self.finished_text)
        severity: Severity = "information" if run.status == "ok" else "warning" if run.status == "partial" \
            else "error"
        self.notify(run_summary(run), title=f"Sync #{run.id} {run.status}", severity=severity, markup=False)
        self.refresh_data()

    # --- plan and errors ---------------------------------------------------------------------------

    def action_plan(self) -> None:
        """Show the Plan pane and compute a new plan (``sync.plan`` reads the CRM)."""
        self.query_one("#sync-tabs", TabbedContent).active = "sync-plan-pane"
        self.query_one(PlanPane).compute()

    def on_recovery_done(self, _: RecoveryDone) -> None:
        self.refresh_data()

    @on(DataTable.RowSelected, "#sync-errors")
    def _error_selected(self, event: DataTable.RowSelected) -> None:
        contact = event.data_table.get_row(event.row_key)[2]
        if isinstance(contact, Text) and contact.plain.isdigit():
            self.post_message(OpenContact(int(contact.plain)))
