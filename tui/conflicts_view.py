"""The conflict review queue (Sync › Conflicts): fields changed on both sides, and for the highlighted one
its base, local and CRM values side by side.

A person keeps the policy's winner, restores the losing value, or picks the local or the CRM value
(``conflicts.resolve {id, choice}``); undecided conflicts (winner ``none``) need local or CRM.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from leadsync.common.answers import Conflict
from leadsync.common.owner_names import is_owner_name
from leadsync.common.rpc import RpcError
from leadsync.tui import formatting
from leadsync.tui.connection import AgentLink
from leadsync.tui.errors import ReportsWorkerErrors, notify_problem
from leadsync.tui.owners import OwnerDirectory
from leadsync.tui.records import cell
from leadsync.tui.table_fit import FitColumn, add_columns, fit_table

LIMIT = 200
CHOICES = {"keep": "kept the winner", "restore": "restored the losing value", "local": "took the local value",
           "crm": "took the CRM value"}


COLUMNS: tuple[FitColumn, ...] = (
    FitColumn("id", "#", 4), FitColumn("contact", "Contact", 7), FitColumn("field", "Field", 14, 1),
    FitColumn("local", "Local", 14, 2), FitColumn("crm", "CRM", 14, 2), FitColumn("winner", "Winner", 6),
    FitColumn("policy", "Policy", 12), FitColumn("when", "When (UTC)", 16),
)
SIDES = (("base", "Base (last synced)"), ("local", "Local"), ("crm", "CRM"))


def shown_value(field: str, value: Any, directory: OwnerDirectory) -> str:
    """A conflict's value as a person reads it: an owner field names the owner, not its id."""
    if is_owner_name(field) and isinstance(value, str | int) and value != "":
        return directory.label(str(value))
    return cell(value)


def conflict_row(c: Conflict, directory: OwnerDirectory) -> list[Text | str]:
    return [Text(str(c.id), justify="right"), Text(str(c.contact_id), justify="right"), c.field,
            shown_value(c.field, c.local_value, directory), shown_value(c.field, c.crm_value, directory), c.winner,
            c.policy, formatting.format_time(c.created_at)]


def side_text(c: Conflict, side: str, directory: OwnerDirectory) -> Text:
    """One side of ``c`` for the side-by-side panel: the value, when it changed, and whether it won."""
    value = {"base": c.base_value, "local": c.local_value, "crm": c.crm_value}[side]
    text = Text(shown_value(c.field, value, directory), style="bold" if c.winner == side else "")
    changed = {"local": c.local_changed_at, "crm": c.crm_changed_at}.get(side)
    if changed is not None:
        text.append(f"\nchanged {formatting.format_time(changed)} UTC", style="dim")
    if c.winner == side:
        text.append("\n✓ the policy's winner", style="italic")
    return text


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
        yield Static("", id="conflict-what", markup=False)
        with Horizontal(id="conflict-sides"):
            for side, _ in SIDES:
                yield Static("", id=f"conflict-{side}", classes="conflict-side", markup=False)

    def on_mount(self) -> None:
        add_columns(self.query_one(DataTable), COLUMNS)
        for side, title in SIDES:
            self.query_one(f"#conflict-{side}").border_title = title
        self.query_one("#conflict-sides").display = False

    def on_resize(self, _: events.Resize) -> None:
        self.call_after_refresh(fit_table, self.query_one(DataTable), COLUMNS)

    @on(DataTable.RowHighlighted, "#conflicts-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        conflict = self.conflicts.get(str(event.row_key.value))
        self.query_one("#conflict-sides").display = conflict is not None
        if conflict is None:
            return
        directory = self.link.directory
        self.query_one("#conflict-what", Static).update(
            f"Contact {conflict.contact_id} · {conflict.field} · policy {conflict.policy.replace('_', ' ')} · "
            + ("undecided: choose l (local) or c (CRM)" if conflict.winner == "none" else f"{conflict.winner} won"))
        for side, _ in SIDES:
            self.query_one(f"#conflict-{side}", Static).update(side_text(conflict, side, directory))

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
        self.query_one("#conflict-sides").display = False
        self.query_one("#conflict-what", Static).update("")
        if message.conflicts is None:
            note.update(Text(message.note or "", style="italic"))
            return
        note.update("No conflicts to review." if not message.conflicts else
                    f"{len(message.conflicts)} open: k keeps the winner, v restores the losing value, "
                    "l takes the local value, c the CRM value.")
        for conflict in message.conflicts:
            key = str(conflict.id)
            self.conflicts[key] = conflict
            table.add_row(*conflict_row(conflict, self.link.directory), key=key)

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
