"""Settings changes that can send many contacts to the CRM, and the confirmation they need first.

Turning push on sends everything waiting; a lower interest-level threshold pushes each contact whose score
reaches it. Before such a change is sent the Settings tab opens :class:`ConfirmWritesScreen`, which asks
``sync.plan`` (a dry run: what the next sync would write to the CRM, in contacts and field values) and, for a
threshold, ``contacts.count`` (how many contacts score between the new and the old threshold), and waits
for Apply or Cancel. The focus starts on Cancel: Enter alone never applies.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from leadsync.common.answers import Plan
from leadsync.common.rpc import RpcError
from leadsync.tui.connection import AgentLink

PLAN_TIMEOUT_S = 300.0


def risky_changes(push_enabled: bool, threshold: int | None, changes: dict[str, Any]) -> list[str]:
    """Which of ``changes`` (``settings.update`` params) can push contacts, given the current push switch and
    threshold: ``push`` (off to on), ``threshold`` (set, or lowered)."""
    risky = []
    if changes.get("push_enabled") is True and not push_enabled:
        risky.append("push")
    new = changes.get("score_threshold")
    if isinstance(new, int) and (threshold is None or new < threshold):
        risky.append("threshold")
    return risky


def plan_lines(plan: Plan) -> list[str]:
    """What the next sync would write to the CRM, from ``sync.plan``'s exact counts."""
    ops = plan.counts.get("crm") or {}
    contacts = sum(ops.values())
    fields = sum((plan.field_counts.get("crm") or {}).values())
    detail = ", ".join(f"{n:,} {op}" for op, n in sorted(ops.items()) if n)
    lines = [f"The next sync would write {contacts:,} contact{'s' if contacts != 1 else ''} to the CRM"
             + (f" ({detail})" if detail else "") + f", {fields:,} field value{'s' if fields != 1 else ''}."]
    if plan.held:
        lines.append(f"{plan.held:,} more are held back (undecided conflicts or no owner).")
    return lines


async def write_preview(link: AgentLink, risky: list[str], threshold: int | None, new_threshold: int | None
                        ) -> list[str]:
    """The confirmation's lines: the plan's CRM writes, and for a threshold how many contacts score in the new
    range. A part the agent cannot answer says why (no CRM connected, for one)."""
    lines: list[str] = []
    if "threshold" in risky and new_threshold is not None:
        at_new = int((await link.call("contacts.count", {"filter": {"min_score": new_threshold}}))["count"])
        at_old = 0 if threshold is None else int(
            (await link.call("contacts.count", {"filter": {"min_score": threshold}}))["count"])
        span = f"from {new_threshold} to {threshold - 1}" if threshold is not None else f"of {new_threshold} or more"
        lines.append(f"{at_new - at_old:,} contacts have a lead score {span}: from now on each is pushed at once "
                     "when its score reaches the threshold.")
    try:
        lines += plan_lines(await link.fetch("sync.plan", None, Plan, timeout_s=PLAN_TIMEOUT_S))
    except RpcError as exc:
        lines.append(f"What the next sync would write is not known: {exc.message}")
    return lines


class ConfirmWritesScreen(ModalScreen[bool]):
    """``title``, the lines of :func:`write_preview` once computed, Apply or Cancel (Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, link: AgentLink, title: str, risky: list[str], threshold: int | None,
                 new_threshold: int | None) -> None:
        super().__init__(id="confirm-writes", classes="form-modal")
        self.link = link
        self.title_text = title
        self.risky = risky
        self.threshold = threshold
        self.new_threshold = new_threshold
        self.lines: list[str] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="form-box"):
            yield Label(self.title_text, classes="form-title")
            yield Static("Working out what this would write (sync.plan reads the CRM, writes nothing)…",
                         id="confirm-writes-text", markup=False)
            with Horizontal(classes="form-buttons"):
                yield Button("Cancel", id="confirm-cancel")
                yield Button("Apply", variant="warning", id="confirm-apply", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#confirm-cancel").focus()
        self.compute()

    @work(group="confirm-preview", exclusive=True, exit_on_error=False)
    async def compute(self) -> None:
        try:
            self.lines = await write_preview(self.link, self.risky, self.threshold, self.new_threshold)
        except RpcError as exc:
            self.lines = [f"What this would write is not known: {exc.message}"]
        self.query_one("#confirm-writes-text", Static).update("\n".join(self.lines))
        self.query_one("#confirm-apply", Button).disabled = False

    @on(Button.Pressed, "#confirm-apply")
    def _apply(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
