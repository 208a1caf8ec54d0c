"""The field mapping panel (Settings › Field mapping) and "Check mapped fields".

``mappings.list`` gives which local field goes with which CRM property, in which direction and who
wins a conflict; ``mappings.check`` compares them with the CRM's own field list and reports problems.
Both need a connected CRM; without one the agent's message is shown instead.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Button, Static

from leadsync.common.answers import FieldMapping, MappingCheck
from leadsync.common.rpc import RpcError
from leadsync.tui.connection import AgentLink
from leadsync.tui.errors import ReportsWorkerErrors, notify_problem
from leadsync.tui.formatting import MISSING

DIRECTIONS = {"two_way": "⇄ both ways", "to_crm": "→ to CRM", "from_crm": "← from CRM"}


def mappings_table(mappings: list[FieldMapping]) -> RenderableType:
    if not mappings:
        return Text("No field mappings.")
    table = Table(show_edge=False, pad_edge=False)
    for name in ("Local field", "CRM property", "Direction", "Conflicts"):
        table.add_column(name, overflow="fold")
    for m in mappings:
        policy = m.policy.replace("_", " ") + (f" ({len(m.value_map)} mapped values)" if m.value_map else "")
        table.add_row(m.local, m.crm, DIRECTIONS.get(m.direction, m.direction), policy or MISSING)
    return table


def check_report(check: MappingCheck) -> RenderableType:
    if check.ok and not check.problems:
        return Text(f"✓ All {check.checked} mapped fields check out against the CRM's fields.")
    table = Table(title=f"{len(check.problems)} problem(s) in {check.checked} mapped fields", title_justify="left",
                  show_edge=False, pad_edge=False)
    for name in ("Severity", "Field", "CRM property", "Problem"):
        table.add_column(name, overflow="fold")
    for p in check.problems:
        message = p.message + (f" ({', '.join(p.values[:5])})" if p.values else "")
        table.add_row(p.severity, p.field or MISSING, p.property or MISSING, message)
    return table


class MappingsPanel(ReportsWorkerErrors, Vertical):
    """The mapping table, a "Check mapped fields" button and the check's report."""

    class Loaded(Message, bubble=False):
        def __init__(self, body: RenderableType, can_check: bool) -> None:
            super().__init__()
            self.body = body
            self.can_check = can_check

    def __init__(self, link: AgentLink, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.link = link
        self.last_check: MappingCheck | None = None

    def compose(self) -> ComposeResult:
        yield Button("Check mapped fields", id="mappings-check", compact=True,
                     tooltip="Compare the mapping with the CRM's field list (c)")
        yield Static("", id="mappings-check-report", markup=False)
        yield Static("", id="mappings-body", markup=False)

    def on_mount(self) -> None:
        self.border_title = "Field mapping"
        self.query_one("#mappings-check-report").display = False

    @work(group="mappings-load", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        """``mappings.list`` (needs a connected CRM: the agent says so otherwise)."""
        if not self.link.has("mappings.list"):
            self.post_message(self.Loaded(
                Text("Field mappings are not available in this agent (mappings.list).", style="italic"), False))
            return
        try:
            mappings = await self.link.fetch("mappings.list", None, list[FieldMapping])
        except RpcError as exc:
            self.post_message(self.Loaded(Text(exc.message, style="italic"), False))
            return
        self.post_message(self.Loaded(mappings_table(mappings), self.link.has("mappings.check")))

    def on_mappings_panel_loaded(self, message: Loaded) -> None:
        self.query_one("#mappings-body", Static).update(message.body)
        self.query_one("#mappings-check", Button).disabled = not message.can_check

    @on(Button.Pressed, "#mappings-check")
    def _check_pressed(self) -> None:
        self.check()

    @work(group="mappings-check", exclusive=True, exit_on_error=False)
    async def check(self) -> None:
        """``mappings.check``: unknown properties, type mismatches, read-only targets, missing required
        fields, enumeration values with no match."""
        report = self.query_one("#mappings-check-report", Static)
        report.update("Checking the mapped fields against the CRM…")
        report.display = True
        try:
            check = await self.link.fetch("mappings.check", None, MappingCheck, timeout_s=120.0)
        except RpcError as exc:
            report.update(Text(notify_problem(self, exc).message, style="italic"))
            return
        self.last_check = check
        report.update(check_report(check))
