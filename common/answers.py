"""Answer shapes of the agent's JSON-RPC methods beyond the core records of :mod:`leadsync.common.models`:
sharing, conflicts, plans, mapping checks, to-dos, smart lists, field mappings. The agent encodes
them and the TUI decodes them, from this one definition. Times are epoch milliseconds, UTC.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from leadsync.common.models import SyncRun

Direction = Literal["two_way", "to_crm", "from_crm", "off"]
Policy = Literal["crm_wins", "local_wins", "crm_unless_blank", "newest_wins"]
DIRECTIONS: tuple[str, ...] = ("two_way", "to_crm", "from_crm", "off")
POLICIES: tuple[str, ...] = ("crm_wins", "local_wins", "crm_unless_blank", "newest_wins")


class ContactFilter(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Filters for ``contacts.list``; all optional and combined with AND.

    ``owner``: a CRM owner id or a user's email; ``q``: a fragment found anywhere in the first name, last
    name, "first last", email, company or phone (as written or as digits), case-insensitive, inner spaces
    as one (up to 200 characters; the agent's trigram index answers it at any store size); ``min_score``: lead score >=;
    ``sync_state``: synced | pending | error | local | archived.
    """

    owner: str | None = None
    lifecycle_stage: str | None = None
    min_score: int | None = None
    q: str | None = None
    created_by: int | None = None
    sync_state: str | None = None


class ShareReason(msgspec.Struct, kw_only=True):
    """``kind``: owner | admin | team | smart_list | todo | creator; ``detail`` names the team, list or to-do."""

    kind: str
    detail: str = ""


class SharedUser(msgspec.Struct, kw_only=True):
    user_id: int
    email: str
    name: str
    reasons: list[ShareReason]


class Sharing(msgspec.Struct, kw_only=True):
    """The answer of ``contacts.sharing``: the owner (CRM owner and matched user) and every user the
    contact is shared to, each with the reasons."""

    contact_id: int
    owner: dict[str, Any] | None
    shared_to: list[SharedUser]


class Conflict(msgspec.Struct, kw_only=True):
    """``winner``: crm, local, or none (no policy could decide: nothing was written either way and the
    field is not pushed until resolved). Values are local (typed) values; times epoch ms UTC."""

    id: int
    contact_id: int
    field: str
    base_value: Any
    local_value: Any
    crm_value: Any
    local_changed_at: int | None
    crm_changed_at: int | None
    policy: str
    winner: str
    sync_run_id: int | None
    created_at: int
    resolved_at: int | None
    resolution: str | None


class PlanItem(msgspec.Struct, kw_only=True):
    """One planned write. ``side``: local (the store) or crm; ``op``: create, update or link (merge: a
    contact folded into the one linked to the record the CRM named); ``fields``: field -> [old, new] (local
    field names on the local side, CRM properties on the CRM side). ``push_disabled``: a CRM write that
    push being off keeps from being sent (the plan shows it all the same)."""

    side: str
    op: str
    contact_id: int | None
    crm_id: str | None
    fields: dict[str, list[Any]]
    note: str | None = None
    push_disabled: bool = False


class Plan(msgspec.Struct, kw_only=True):
    """The answer of ``sync.plan``: exact counts per side and operation, per-field counts, and the first
    ``MAX_ITEMS`` items of each side (``truncated`` says when there were more)."""

    counts: dict[str, dict[str, int]]
    field_counts: dict[str, dict[str, int]]
    held: int
    items: list[PlanItem]
    truncated: bool
    api_calls: int = 0
    push_enabled: bool = True
    push_disabled: bool = False
    """Push is off: the CRM side is what a push would send, and none of it is sent until push is on."""


class MappingProblem(msgspec.Struct, kw_only=True):
    """One finding of ``mappings.check``. ``kind``: unknown_property, type_mismatch, read_only,
    required_unmapped, enum_unmatched, not_on_object, owner_mapped, unmapped_field (a custom field contacts
    hold that no mapping syncs); ``severity``: error (syncing this is wrong) or warning."""

    severity: str
    kind: str
    field: str | None
    property: str | None
    message: str
    values: list[str] = []


class MappingCheck(msgspec.Struct, kw_only=True):
    ok: bool
    checked: int
    problems: list[MappingProblem]


class Todo(msgspec.Struct, kw_only=True):
    id: int
    contact_id: int
    assignee: int
    title: str
    due: str | None
    done: bool
    created_by: int | None
    created_at: int


class SmartList(msgspec.Struct, kw_only=True):
    id: int
    name: str
    filter: ContactFilter
    created_by: int | None
    shared_with: list[int]
    created_at: int


class FieldMapping(msgspec.Struct, frozen=True, kw_only=True):
    """One local field <-> one CRM property.

    ``policy`` decides a conflict (changed on both sides to different values since the base).
    ``newest_wins`` compares the local edit time with the CRM's modified time; within ``skew_ms``
    (clock-skew tolerance, ms) it refuses to decide and records an open conflict. ``value_map`` maps
    local enumeration values to CRM option values. ``default_value`` is sent on create when the local
    value is blank (for CRM-required fields, case S13); it is never sent in an update.
    ``crm_by_object`` names the property on an object type where it differs from ``crm`` (Zoho: a Lead's
    ``Designation`` is a Contact's ``Title``).
    """

    local: str
    crm: str
    direction: Direction = "two_way"
    policy: Policy = "newest_wins"
    skew_ms: int = 5_000
    value_map: dict[str, str] = {}
    default_value: str | None = None
    crm_by_object: dict[str, str] = {}

    def crm_for(self, object_type: str | None) -> str:
        """The CRM property of this field on ``object_type`` (``crm`` unless ``crm_by_object`` names another)."""
        return self.crm_by_object.get(object_type or "", self.crm)

    @property
    def crm_names(self) -> tuple[str, ...]:
        """Every CRM property this mapping reads or writes."""
        return tuple(dict.fromkeys((self.crm, *self.crm_by_object.values())))

    def targets(self, prop: str) -> bool:
        """Whether this mapping reads or writes CRM property ``prop`` on any object (case-insensitive)."""
        return any(name.strip().lower() == prop.lower() for name in self.crm_names)

    @property
    def pulls(self) -> bool:
        return self.direction in ("two_way", "from_crm")

    @property
    def pushes(self) -> bool:
        return self.direction in ("two_way", "to_crm")


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
