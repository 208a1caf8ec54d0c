"""The sync plan (Sync › Plan): a dry run of the next sync, per record and field, nothing written.

``sync.plan`` reads the CRM and answers with exact counts per side and operation and the first
planned writes; this pane shows the counts as a summary and the writes as a table.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from leadsync.common.answers import Plan, PlanItem
from leadsync.common.owner_names import is_owner_name
from leadsync.common.rpc import RpcError
from leadsync.tui.connection import AgentLink
from leadsync.tui.errors import ReportsWorkerErrors, notify_problem
from leadsync.tui.formatting import MISSING
from leadsync.tui.owners import OwnerDirectory
from leadsync.tui.records import cell

PLAN_TIMEOUT_S = 300.0  # a dry run reads the whole CRM delta


def plan_summary(plan: Plan) -> str:
    """``Local: 3 create, 1 update · CRM: 25 create · 2 held · 14 API calls``."""
    sides = []
    for side, label in (("local", "Here"), ("crm", "CRM")):
        ops = plan.counts.get(side) or {}
        text = ", ".join(f"{n:,} {op}" for op, n in sorted(ops.items()) if n) or "nothing"
        sides.append(f"{label}: {text}")
    parts = [" · ".join(sides)]
    if plan.held:
        parts.append(f"{plan.held:,} held back (undecided conflicts or no owner)")
    if not plan.push_enabled:
        parts.append("push is disabled: the CRM writes shown would not be sent until push is turned on")
    if plan.truncated:
        parts.append(f"showing the first {len(plan.items):,} writes")
    parts.append(f"{plan.api_calls:,} API calls to compute")
    return " · ".join(parts)


def field_change(name: str, values: list[Any], directory: OwnerDirectory | None = None) -> str:
    """``company: Acme → Acme Corp`` from the plan's ``[old, new]``; an owner field names the owners."""
    if not values:
        return name
    old, new = (values[0], values[1]) if len(values) >= 2 else (None, values[0])

    def shown(value: Any) -> str:
        if directory is not None and is_owner_name(name) and isinstance(value, str | int) and value != "":
            return directory.label(str(value))
        return cell(value)

    return f"{name}: {shown(old)} → {shown(new)}"


def item_row(item: PlanItem, directory: OwnerDirectory | None = None) -> list[Text | str]:
    changes = "; ".join(field_change(name, values, directory) for name, values in item.fields.items())
    note = "; ".join(n for n in (item.note, "not sent: push is disabled" if item.push_disabled else None) if n)
    return [item.side, item.op, MISSING if item.contact_id is None else Text(str(item.contact_id), justify="right"),
            item.crm_id or MISSING, changes or MISSING, note]


class PlanPane(ReportsWorkerErrors, Vertical):
    """Press p (or the palette's "Plan (dry run)") to compute; the last plan stays until the next."""

    class Computed(Message, bubble=False):
        def __init__(self, plan: Plan) -> None:
            super().__init__()
            self.plan = plan

    def __init__(self, link: AgentLink, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.link = link
        self.plan: Plan | None = None

    def compose(self) -> ComposeResult:
        yield Static("Press p to compute what the next sync would write (a dry run: nothing is written).",
                     id="plan-summary", markup=False)
        yield DataTable[Text | str](id="plan-items", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, width in (("Side", 5), ("Op", 6), ("Contact", 7), ("CRM id", 10), ("Changes", 44),
                             ("Note", None)):
            table.add_column(label, width=width)

    def agent_ready(self) -> None:
        if not self.link.has("sync.plan"):
            self.query_one("#plan-summary", Static).update(
                Text("The sync plan (dry run) is not available in this agent (sync.plan).", style="italic"))

    @work(group="sync-plan", exclusive=True, exit_on_error=False)
    async def compute(self) -> None:
        """``sync.plan``: the writes a sync would make, without writing."""
        summary = self.query_one("#plan-summary", Static)
        summary.update("Computing the plan (reading the CRM, writing nothing)…")
        try:
            plan = await self.link.fetch("sync.plan", None, Plan, timeout_s=PLAN_TIMEOUT_S)
        except RpcError as exc:
            summary.update(Text(notify_problem(self, exc).message, style="italic"))
            return
        self.post_message(self.Computed(plan))

    def on_plan_pane_computed(self, message: Computed) -> None:
        self.plan = plan = message.plan
        self.query_one("#plan-summary", Static).update(
            plan_summary(plan) if plan.items else "The next sync would write nothing. " + plan_summary(plan))
        table = self.query_one(DataTable)
        table.clear()
        for item in plan.items:
            table.add_row(*item_row(item, self.link.directory))
