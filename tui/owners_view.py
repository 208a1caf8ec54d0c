"""The Owners tab: leadsync users and CRM owners, matched by email, with how many contacts each owner has.

One table from ``users.list`` (already in ``link.directory``): a row per CRM owner (matched to a user, with no
user, inactive in the CRM) and a row per user no CRM owner matches. A user with no active CRM owner cannot
be made the owner of a contact, so those rows say so.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from leadsync.common.models import Owner, User
from leadsync.tui.formatting import MISSING, person
from leadsync.tui.owners import OwnerDirectory
from leadsync.tui.table_fit import FitColumn, add_columns, fit_table

COLUMNS: tuple[FitColumn, ...] = (
    FitColumn("name", "Name", 16, 2), FitColumn("email", "Email", 22, 3), FitColumn("status", "Status", 19),
    FitColumn("contacts", "Contacts", 8), FitColumn("user", "leadsync user", 14, 1),
    FitColumn("crm_id", "CRM owner id", 12),
)


def owner_status(owner: Owner) -> Text:
    if not owner.active:
        return Text("inactive in the CRM", style="bold")
    return Text("matched") if owner.user_id is not None else Text("no leadsync user")


def owner_rows(directory: OwnerDirectory) -> list[tuple[str, list[Text | str]]]:
    """(row key, cells) for every CRM owner, then every user no CRM owner matches; in ``COLUMNS`` order."""
    rows: list[tuple[str, list[Text | str]]] = []
    matched_users: set[int] = set()
    for o in sorted(directory.crm_owners, key=lambda o: (person(o.first_name, o.last_name) or o.email).lower()):
        user = directory.users.get(o.user_id) if o.user_id is not None else None
        if user is not None:
            matched_users.add(user.id)
        rows.append((f"owner-{o.crm_id}", [
            person(o.first_name, o.last_name) or o.email, o.email, owner_status(o),
            Text(f"{o.contacts_owned:,}", justify="right"), _user_name(user) if user else MISSING, o.crm_id]))
    for u in sorted(directory.users.values(), key=lambda u: (u.name or u.email).lower()):
        if u.id in matched_users or (u.crm_owner_id and u.crm_owner_id in directory.owners):
            continue
        rows.append((f"user-{u.id}", [u.name or u.email, u.email, Text("no CRM owner", style="italic"),
                                      Text(MISSING, justify="right"), _user_name(u), MISSING]))
    return rows


def _user_name(user: User) -> str:
    return f"{user.name or user.email} ({user.role})"


def owners_summary(directory: OwnerDirectory) -> str:
    """``3 CRM owners: 2 matched, 1 with no leadsync user, 1 inactive · 1 user with no CRM owner``."""
    owners = directory.crm_owners
    matched = sum(1 for o in owners if o.user_id is not None)
    inactive = sum(1 for o in owners if not o.active)
    no_owner = sum(1 for u in directory.users.values() if not u.crm_owner_id)
    if not owners:
        head = "No CRM owners yet (they arrive with the first sync)"
    else:
        head = (f"{len(owners)} CRM owner{'s' if len(owners) != 1 else ''}: {matched} matched, "
                f"{len(owners) - matched} with no leadsync user, {inactive} inactive")
    return f"{head} · {len(directory.users)} users, {no_owner} with no CRM owner (they cannot own contacts)"


class OwnersView(Vertical):
    """The users and owners table; ``directory_changed`` redraws it from ``link.directory``."""

    def __init__(self, directory: OwnerDirectory, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.directory = directory

    def compose(self) -> ComposeResult:
        yield Static("Waiting for the agent…", id="owners-summary", markup=False)
        yield DataTable[Text | str](id="owners-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        add_columns(self.query_one(DataTable), COLUMNS)

    def on_resize(self, _: events.Resize) -> None:
        self.call_after_refresh(fit_table, self.query_one(DataTable), COLUMNS)

    def directory_changed(self, directory: OwnerDirectory) -> None:
        """Show ``directory`` (``users.list`` as the app last read it), keeping the highlighted row."""
        self.directory = directory
        table: DataTable[Text | str] = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        for key, cells in owner_rows(directory):
            table.add_row(*cells, key=key)
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))
        self.query_one("#owners-summary", Static).update(owners_summary(directory))
