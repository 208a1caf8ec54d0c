"""The Sync tab's recovery actions: retry failed records from the Errors table (``t`` the highlighted error,
``a`` every open error of its code: ``errors.retry``) and undo a run from the History table (``u``: the
plan first, ``sync.undo {dry_run: true}``, shown for confirmation, then ``sync.undo``)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label, Static

from leadsync.common.models import SyncError
from leadsync.common.recovery import RetryAnswer, UndoAnswer
from leadsync.common.rpc import RpcError
from leadsync.tui.connection import AgentLink
from leadsync.tui.errors import ReportsWorkerErrors, notify_problem


class RecoveryDone(Message):
    """A retry or an undo was started: the Sync tab reloads its history and errors."""


def retry_summary(answer: RetryAnswer) -> str:
    """One line about what ``errors.retry`` retried."""
    parts = [f"{len(answer.retried)} error{'s' if len(answer.retried) != 1 else ''} retried"]
    if answer.contacts:
        parts.append(f"{len(answer.contacts)} contacts pushed again")
    if answer.reread:
        parts.append(f"{len(answer.reread)} CRM records read again")
    if answer.skipped:
        parts.append(f"{len(answer.skipped)} skipped ({answer.skipped[0].reason})")
    return ", ".join(parts)


class ErrorsTable(ReportsWorkerErrors, DataTable[Text | str]):
    """The open errors (one row per record and problem); retry the highlighted one, or all of its code."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "retry_error", "Retry"),
        Binding("a", "retry_code", "Retry all of this code"),
    ]

    def __init__(self, link: AgentLink, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.link = link
        self.errors: dict[str, SyncError] = {}

    def highlighted(self) -> SyncError | None:
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self.errors.get(str(key))

    def action_retry_error(self) -> None:
        error = self.highlighted()
        if error is not None:
            self.retry({"id": error.id})

    def action_retry_code(self) -> None:
        error = self.highlighted()
        if error is not None:
            self.retry({"code": error.code} if error.code else {"ids": [e.id for e in self.errors.values()
                                                                         if e.code is None]})

    @work(group="errors-retry", exclusive=True, exit_on_error=False)
    async def retry(self, params: dict[str, Any]) -> None:
        """``errors.retry`` without waiting: the retry runs as a sync; the tables reload when it finishes."""
        try:
            answer = await self.link.fetch("errors.retry", params, RetryAnswer)
        except RpcError as exc:
            notify_problem(self, exc)
            return
        self.notify(retry_summary(answer), title="Retry", markup=False)
        self.post_message(RecoveryDone())


def undo_lines(plan: UndoAnswer) -> list[str]:
    """What an undo would do, in a few lines (the confirmation's text)."""
    counts = plan.counts
    lines = [f"Put back {counts['local']} local field{'s' if counts['local'] != 1 else ''} and {counts['crm']} CRM "
             f"propert{'ies' if counts['crm'] != 1 else 'y'} to their values before sync #{plan.run}."]
    if counts["changed_since"]:
        lines.append(f"{counts['changed_since']} changed since the run: left as they are.")
    if plan.created:
        lines.append(f"{len(plan.created)} record{'s' if len(plan.created) != 1 else ''} it created in the CRM: "
                     "kept (archive them with leadsync undo --archive-created).")
    for item in plan.restore[:5]:
        lines.append(f"  contact {item.contact_id} {item.field}: {item.run_value!r} -> {item.before!r}")
    if len(plan.restore) > 5:
        lines.append(f"  … and {len(plan.restore) - 5} more")
    return lines


class ConfirmUndoScreen(ModalScreen[bool]):
    """The dry run of an undo, to confirm (Undo) or leave (Cancel, Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, plan: UndoAnswer) -> None:
        super().__init__(classes="form-modal")
        self.plan = plan

    def compose(self) -> ComposeResult:
        with Vertical(classes="form-box"):
            yield Label(f"Undo sync #{self.plan.run}?", classes="form-title")
            yield Static("\n".join(undo_lines(self.plan)), id="undo-plan", markup=False)
            yield Static("The undo is a sync run of its own: it shows in the history and can be undone.",
                         classes="form-hint")
            with Horizontal(classes="form-buttons"):
                yield Button("Undo", variant="warning", id="undo-confirm")
                yield Button("Cancel", id="undo-cancel")

    @on(Button.Pressed, "#undo-confirm")
    def _confirmed(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#undo-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)


class HistoryTable(ReportsWorkerErrors, DataTable[Text | str]):
    """The past runs; undo the highlighted one (after its dry run is confirmed)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("u", "undo_run", "Undo")]

    def __init__(self, link: AgentLink, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.link = link

    def action_undo_run(self) -> None:
        if self.row_count:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
            self.undo(int(str(key)))

    @work(group="undo", exclusive=True, exit_on_error=False)
    async def undo(self, run_id: int) -> None:
        """The plan, the confirmation, then ``sync.undo``."""
        try:
            plan = await self.link.fetch("sync.undo", {"run": run_id, "dry_run": True}, UndoAnswer)
        except RpcError as exc:
            notify_problem(self, exc)
            return
        if not plan.restore and not plan.changed_since:
            self.notify(f"Sync #{run_id} wrote no field an undo can put back.", title="Undo", markup=False)
            return
        if not await self.app.push_screen_wait(ConfirmUndoScreen(plan)):
            return
        try:
            done = await self.link.fetch("sync.undo", {"run": run_id}, UndoAnswer)
        except RpcError as exc:
            notify_problem(self, exc)
            return
        run = done.undo_run
        self.notify(f"Put back {done.counts['local']} local and {done.counts['crm']} CRM values"
                    + (f"; {done.counts['failed']} failed (Errors tab)" if done.counts.get("failed") else ""),
                    title=f"Undo of sync #{run_id}" + (f": run #{run.id} {run.status}" if run else ""),
                    severity="information" if run is not None and run.status == "ok" else "warning", markup=False)
        self.post_message(RecoveryDone())
