"""Shapes of agent answers the TUI decodes that :mod:`leadsync.common.models` does not define.

They mirror what the agent's methods return (``contacts.sharing``, ``contacts.get`` with ``include``,
``conflicts.list``, ``sync.plan``, ``mappings.check``, ``todos.assign``) so the TUI never imports
``leadsync.agent``. Unknown keys are ignored, so the agent can add fields without breaking the TUI.
Times are epoch milliseconds, UTC.
"""

from __future__ import annotations

from typing import Any

import msgspec
from leadsync.common.models import SyncRun


class ShareReason(msgspec.Struct, kw_only=True):
    """Why a user sees a contact: ``kind`` owner, team, admin, smart_list, todo or creator."""

    kind: str
    detail: str = ""


class SharedUser(msgspec.Struct, kw_only=True):
    user_id: int
    email: str
    name: str
    reasons: list[ShareReason]


class Sharing(msgspec.Struct, kw_only=True):
    """``contacts.sharing``: the owner (``crm_owner_id``, ``email``, ``active``, ``user_id``) and the users
    the contact is shared to, with the reasons."""

    contact_id: int
    owner: dict[str, Any] | None
    shared_to: list[SharedUser]


class FieldProvenance(msgspec.Struct, kw_only=True):
    """Where a field's current value came from: ``source`` (crm, local, conflict...), the sync run, when,
    and the value it replaced."""

    source: str
    sync_run_id: int | None = None
    changed_at: int | None = None
    previous: Any = None


class OwnerChange(msgspec.Struct, kw_only=True):
    """One ownership change: CRM owner ids, ``source`` crm (pulled), todo (pushed) or create."""

    old_owner: str | None
    new_owner: str | None
    source: str
    sync_run_id: int | None = None
    changed_at: int


class Conflict(msgspec.Struct, kw_only=True):
    """A field changed on both sides. ``winner``: crm, local or none (undecided: a person must choose)."""

    id: int
    contact_id: int
    field: str
    base_value: Any = None
    local_value: Any = None
    crm_value: Any = None
    policy: str = ""
    winner: str = "none"
    sync_run_id: int | None = None
    created_at: int = 0
    resolved_at: int | None = None
    resolution: str | None = None


class Todo(msgspec.Struct, kw_only=True):
    id: int
    contact_id: int
    assignee: int
    title: str
    due: str | None = None
    done: bool = False
    created_at: int = 0


class TodoAssigned(msgspec.Struct, kw_only=True):
    """``todos.assign``: the to-do, the push run (None when none ran), whether the CRM owner was written,
    and a ``note`` saying why not."""

    todo: Todo
    run: SyncRun | None = None
    pushed: bool = False
    note: str | None = None


class ContactExtras(msgspec.Struct, kw_only=True):
    """What ``contacts.get`` adds with ``include``: None for a part the agent did not send."""

    provenance: dict[str, FieldProvenance] | None = None
    conflicts: list[Conflict] | None = None
    owner_history: list[OwnerChange] | None = None
    todos: list[Todo] | None = None


class PlanItem(msgspec.Struct, kw_only=True):
    """One planned write: ``side`` local or crm, ``op`` create/update/link, ``fields`` name -> [old, new]."""

    side: str
    op: str
    contact_id: int | None = None
    crm_id: str | None = None
    fields: dict[str, list[Any]] = {}
    note: str | None = None


class Plan(msgspec.Struct, kw_only=True):
    """``sync.plan``: counts per side and operation, per-field counts, held records, the first items."""

    counts: dict[str, dict[str, int]]
    field_counts: dict[str, dict[str, int]] = {}
    held: int = 0
    items: list[PlanItem] = []
    truncated: bool = False
    api_calls: int = 0
    push_enabled: bool = True


class MappingProblem(msgspec.Struct, kw_only=True):
    severity: str
    kind: str
    field: str | None = None
    property: str | None = None
    message: str
    values: list[str] = []


class MappingCheck(msgspec.Struct, kw_only=True):
    """``mappings.check``: ``ok`` when no problem, how many mappings were checked, and the problems."""

    ok: bool
    checked: int
    problems: list[MappingProblem]


class SmartList(msgspec.Struct, kw_only=True):
    id: int
    name: str


class FieldMapping(msgspec.Struct, kw_only=True):
    """``mappings.list`` item: local field <-> CRM property, ``direction`` (two_way, to_crm, from_crm...),
    the conflict ``policy`` and an optional value map."""

    local: str
    crm: str
    direction: str = "two_way"
    policy: str = ""
    skew_ms: int = 0
    value_map: dict[str, str] = {}
    default_value: str | None = None
