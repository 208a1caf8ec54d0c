"""The Health tab: ``sync.health`` on one screen, like a CRM's sync-health page.

What needs a person first (each problem with its next step), then the connection, the API budget with a
Sparkline of calls per hour over the last 24 hours, the push backlog and its drain estimate, the last runs
(partial and failed ones in colour) and the open errors grouped by cause; ``a`` retries every error of the
highlighted cause (``errors.retry`` with its code). It reloads with ``r``, after each sync run and every
:data:`REFRESH_S` seconds while shown (the budget windows move).
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Sparkline, Static

from leadsync.common.recovery import RetryAnswer
from leadsync.common.rpc import RpcError
from leadsync.tui import formatting
from leadsync.tui.connection import AgentLink
from leadsync.tui.errors import ReportsWorkerErrors, notify_problem
from leadsync.tui.recovery import retry_summary

REFRESH_S: Final = 10.0
STATUS_STYLE: Final = {"ok": "green", "partial": "bold yellow", "failed": "bold red", "interrupted": "bold yellow"}
STATE_TEXT: Final = {"ok": ("ok", "green"), "needs_reauth": ("NEEDS REAUTH", "bold red"),
                     "quota_spent": ("QUOTA SPENT", "bold red"), "not_connected": ("NOT CONNECTED", "bold red")}
RUN_COLUMNS: Final[tuple[tuple[str, int | None], ...]] = (  # at 80 columns everything up to Calls shows
    ("#", 3), ("Status", 11), ("Started (UTC)", 16), ("Pulled", 6), ("Pushed", 6), ("Failed", 6), ("Calls", 5),
    ("Trigger", 9), ("Error", None))
ERROR_COLUMNS: Final[tuple[tuple[str, int | None], ...]] = (
    ("Cause", 16), ("Errors", 6), ("Contacts", 8), ("Example", None))


def problems_text(health: dict[str, Any]) -> Text:
    """Every problem with its next step, or a calm line when there is none."""
    problems = health["problems"]
    if not problems:
        return Text("No problems: nothing needs you.", style="green")
    text = Text()
    for i, problem in enumerate(problems):
        text.append("! ", style="bold red").append(problem["message"])
        text.append("\n  next: ", style="bold").append(problem["next_step"])
        if i < len(problems) - 1:
            text.append("\n")
    return text


def connection_text(health: dict[str, Any]) -> Text:
    conn = health["connection"]
    label, style = STATE_TEXT.get(conn["state"], (conn["state"], ""))
    text = Text("Connection ", style="bold").append(label, style=style)
    if conn.get("crm"):
        text.append(f"  {conn['crm']} at {conn['base_url']}" + (f" as {conn['user_email']}"
                                                                 if conn.get("user_email") else ""))
    if conn.get("quota_blocked_until"):
        text.append(f"  until {formatting.format_time(conn['quota_blocked_until'])} UTC")
    return text


def budget_text(health: dict[str, Any]) -> Text:
    budget = health["budget"]
    text = Text("API budget (requests)", style="bold")
    for window in budget["windows"]:
        period = float(window["period_s"])
        span = f"{period:.0f} s" if period < 3600 else f"{period / 3600:.0f} h"
        name = "" if window["name"] == "default" else f"{window['name']} "
        text.append(f"\n{name}per {span}: {window['used']:,} used, {window['left']:,} left")
    text.append(f"\nlast 24 h: {budget['day_calls']:,} calls")
    quota = budget.get("quota")
    if quota:
        text.append(f"\nCRM day quota: {quota['used']:,} used, {quota['left']:,} left")
    return text


def backlog_text(health: dict[str, Any]) -> Text:
    backlog = health["backlog"]
    text = Text("Push backlog ", style="bold").append(f"{backlog['pending_push']:,} contacts waiting")
    drain = backlog.get("estimated_drain_s")
    if backlog["pending_push"] and drain is not None:
        text.append(f", ~{formatting.format_duration(0, int(float(drain) * 1000))} to push")
    if backlog["pending_push"] and backlog.get("oldest_changed_at"):
        text.append(f", oldest {formatting.format_time(backlog['oldest_changed_at'])} UTC")
    text.append(" · push ").append("on" if health["push_enabled"] else "OFF",
                                   style="" if health["push_enabled"] else "bold red")
    if health["held_with_errors"]:
        text.append(f" · {health['held_with_errors']:,} held by an error")
    return text


def run_row(run: dict[str, Any]) -> list[Text | str]:
    style = STATUS_STYLE.get(run["status"], "")
    status = Text(run["status"].upper() if run["problem"] else run["status"], style=style)
    return [Text(str(run["id"]), justify="right"), status, formatting.format_time(run["started_at"]),
            Text(f"{run['pulled']:,}", justify="right"), Text(f"{run['pushed']:,}", justify="right"),
            Text(f"{run['failed']:,}", justify="right", style="bold red" if run["failed"] else ""),
            Text(f"{run['api_calls']:,}", justify="right"), run["trigger"], run.get("error") or ""]


def error_row(group: dict[str, Any]) -> list[Text | str]:
    sample = group["sample"]
    record = f"contact {sample['contact_id']}" if sample["contact_id"] is not None else f"CRM {sample['crm_id']}"
    return [group["code"] or "(no code)", Text(f"{group['errors']:,}", justify="right"),
            Text(f"{group['contacts']:,}", justify="right"), f"{record}: {sample['reason']}"]


class HealthView(ReportsWorkerErrors, VerticalScroll):
    """The sync-health page (see the module docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("a", "retry_cause", "Retry these")]

    class Loaded(Message, bubble=False):
        """``sync.health`` arrived."""

        def __init__(self, health: dict[str, Any]) -> None:
            super().__init__()
            self.health = health

    def __init__(self, link: AgentLink, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.link = link
        self.health: dict[str, Any] | None = None
        self.loads = 0

    def compose(self) -> ComposeResult:
        yield Static("Waiting for the agent…", id="health-problems")
        yield Static(id="health-connection")
        with Horizontal(id="health-budget-row"):
            yield Static(id="health-budget")
            with Vertical(id="health-chart"):
                yield Static("Calls/h over 24 h", id="health-chart-label")
                yield Sparkline([0] * 24, summary_function=max, id="health-calls")
        yield Static(id="health-backlog")
        yield Static("Last runs", classes="health-heading")
        yield DataTable(id="health-runs", cursor_type="row", zebra_stripes=True)
        yield Static("Open errors by cause (a: retry all of the highlighted cause)", classes="health-heading")
        yield DataTable(id="health-errors", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        for table_id, columns in (("#health-runs", RUN_COLUMNS), ("#health-errors", ERROR_COLUMNS)):
            table = self.query_one(table_id, DataTable)
            for label, width in columns:
                table.add_column(label, width=width)
        self.set_interval(REFRESH_S, self._tick)

    def _tick(self) -> None:
        if self.link.connected and self.is_on_screen and self.display:
            self.load()

    def agent_ready(self) -> None:
        self.load()

    @work(group="health-load", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        """Fetch ``sync.health``."""
        self.post_message(self.Loaded(await self.link.call("sync.health")))

    def on_health_view_loaded(self, message: Loaded) -> None:
        health = self.health = message.health
        self.loads += 1
        problems = self.query_one("#health-problems", Static)
        problems.update(problems_text(health))
        problems.set_class(not health["problems"], "healthy")
        self.query_one("#health-connection", Static).update(connection_text(health))
        self.query_one("#health-budget", Static).update(budget_text(health))
        self.query_one("#health-calls", Sparkline).data = list(health["budget"]["calls_per_hour"])
        peak = max(health["budget"]["calls_per_hour"], default=0)
        self.query_one("#health-chart-label", Static).update(f"Calls/h over 24 h, peak {peak:,}")
        self.query_one("#health-backlog", Static).update(backlog_text(health))
        runs = self.query_one("#health-runs", DataTable)
        runs.clear()
        for run in health["runs"]:
            runs.add_row(*run_row(run), key=str(run["id"]))
        errors = self.query_one("#health-errors", DataTable)
        errors.clear()
        for i, group in enumerate(health["errors"]):
            errors.add_row(*error_row(group), key=str(i))

    def highlighted_cause(self) -> dict[str, Any] | None:
        """The error group under the errors table's cursor; None when there is none."""
        table = self.query_one("#health-errors", DataTable)
        if self.health is None or table.row_count == 0:
            return None
        groups: list[dict[str, Any]] = self.health["errors"]
        return groups[min(table.cursor_row, len(groups) - 1)]

    def action_retry_cause(self) -> None:
        group = self.highlighted_cause()
        if group is None:
            self.notify("No open errors to retry", severity="information")
            return
        self.retry(dict(group["retry"]))

    @work(group="health-retry", exclusive=True, exit_on_error=False)
    async def retry(self, params: dict[str, Any]) -> None:
        """``errors.retry`` of one cause, without waiting: it runs as a sync; the page reloads when it ends."""
        try:
            answer = await self.link.fetch("errors.retry", params, RetryAnswer)
        except RpcError as exc:
            notify_problem(self, exc)
            return
        self.notify(retry_summary(answer), title="Retry", markup=False)
        self.load()
