"""The conflict review queue (Sync › Conflicts): fields changed on both sides, with both values.

A person keeps the policy's winner, restores the losing value, or picks the local or the CRM value
(``conflicts.resolve {id, choice}``); undecided conflicts (winner ``none``) need local or CRM.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from leadsync.common.answers import Conflict
from leadsync.common.rpc import RpcError
from leadsync.tui import formatting
from leadsync.tui.connection import AgentLink
from leadsync.tui.errors import ReportsWorkerErrors, notify_problem
from leadsync.tui.records import cell

LIMIT = 200
CHOICES = {"keep": "kept the winner", "restore": "restored the losing value", "local": "took the local value",
           "crm": "took the CRM value"}


def conflict_row(c: Conflict) -> list[Text | str]:
    return [Text(str(c.id), justify="right"), Text(str(c.contact_id), justify="right"), c.field,
            cell(c.local_value), cell(c.crm_value), c.policy, c.winner, formatting.format_time(c.created_at)]


class ConflictsPane(ReportsWorkerErrors, Vertical):
    """Open conflicts; on the highlighted one: k keep, v restore, l local, c CRM."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "resolve('keep')", "Keep winner"),
        Binding("v", "resolve('restore')", "Restore loser"),
        Binding("l", "resolve('local')", "Use local"),
        Binding("c", "resolve('crm')", "Use CRM"),
    ]

    class Loaded(Message):
        """The open conflicts arrived (None: the agent has no conflict queue). Bubbles, so the Sync tab
        can show the count."""

        def __init__(self, conflicts: list[Conflict] | None, note: str | None) -> None:
            super().__init__()
            self.conflicts = conflicts
            self.note = note

    def __init__(self, link: AgentLink, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.link = link
        self.conflicts: dict[str, Conflict] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="conflicts-note", markup=False)
        yield DataTable[Text | str](id="conflicts-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, width in (("#", 4), ("Contact", 7), ("Field", 14), ("Local", 18), ("CRM", 18),
                             ("Policy", 12), ("Winner", 6), ("When (UTC)", 16)):
            table.add_column(label, width=width)

    @work(group="conflicts-load", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        """``conflicts.list``: the open conflicts, newest first."""
        if not self.link.has("conflicts.list"):
            self.post_message(self.Loaded(None, "The conflict review queue is not available in this agent "
                                                "(conflicts.list)."))
            return
        conflicts = await self.link.fetch("conflicts.list", {"limit": LIMIT}, list[Conflict])
        self.post_message(self.Loaded(conflicts, None))

    def on_conflicts_pane_loaded(self, message: Loaded) -> None:
        note = self.query_one("#conflicts-note", Static)
        table = self.query_one(DataTable)
        table.clear()
        self.conflicts = {}
        if message.conflicts is None:
            note.update(Text(message.note or "", style="italic"))
            table.display = False
            return
        table.display = bool(message.conflicts)
        note.update("No conflicts to review." if not message.conflicts else
                    f"{len(message.conflicts)} open: k keeps the winner, v restores the losing value, "
                    "l takes the local value, c the CRM value.")
        for conflict in message.conflicts:
            key = str(conflict.id)
            self.conflicts[key] = conflict
            table.add_row(*conflict_row(conflict), key=key)

    def action_resolve(self, choice: str) -> None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if key is not None and key in self.conflicts:
            self.resolve(self.conflicts[key], choice)

    @work(group="conflicts-resolve", exit_on_error=False)
    async def resolve(self, conflict: Conflict, choice: str) -> None:
        """``conflicts.resolve {id, choice}``; the agent refuses keep/restore on an undecided conflict."""
        try:
            await self.link.call("conflicts.resolve", {"id": conflict.id, "choice": choice})
        except RpcError as exc:
            notify_problem(self, exc)
            return
        self.notify(f"Conflict {conflict.id} ({conflict.field} of contact {conflict.contact_id}): "
                    f"{CHOICES.get(choice, choice)}", title="Conflict resolved", markup=False)
        self.load()
