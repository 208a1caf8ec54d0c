"""Push: send local changes to the CRM in batches, then record what the CRM confirmed.

Candidates are contacts whose ``local_rev`` is ahead of ``synced_rev``: linked ones send the fields
that differ from their base value (exactly those, ``""`` for a cleared one, case B19); unlinked ones
marked for push are created as leads with an upsert keyed by email, so a replay after a crash
updates instead of duplicating. The base and ``synced_rev`` move only for writes the CRM confirmed
(invariant 4); a refused record is listed with the CRM's reason and retried once it changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import aiosqlite
import msgspec

from leadsync.agent import lifecycle
from leadsync.agent.connectors.base import ObjectType, PropertyMeta, WriteInput, WriteResult
from leadsync.agent.engine.context import RunContext
from leadsync.agent.engine.mapping import ConversionError, to_wire
from leadsync.agent.store.queries import base_values, contacts, links, run_changes, sync_errors, write_log
from leadsync.agent.store.queries.base_values import BaseValue
from leadsync.agent.store.queries.contacts import PENDING_SQL as PENDING_SQL
from leadsync.agent.store.queries.contacts import PushCandidate
from leadsync.agent.store.queries.links import Link
from leadsync.agent.store.queries.ownership import record_owner_changes
from leadsync.agent.store.queries.run_changes import RunChange
from leadsync.agent.store.queries.sync_errors import NewSyncError
from leadsync.agent.store.queries.write_log import NewWrite
from leadsync.common.answers import FieldMapping
from leadsync.common.instants import now_ms

SCAN_BATCH = 1000
"""Push candidates read per query."""


@dataclass
class PlannedWrite:
    """One outbound write: ``op`` create or update, the wire ``properties`` and the base after success;
    ``clear_first``: forward-only properties set back on purpose (see :class:`WriteInput`)."""

    contact_id: int
    op: str
    local_rev: int
    properties: dict[str, str]
    base_after: dict[str, Any]
    crm_id: str | None = None
    owner_note: str | None = None
    owner_push: str | None = None
    object_type: ObjectType = "contact"
    clear_first: tuple[str, ...] = ()
    before: dict[str, Any] = field(default_factory=dict)
    """An update's sent fields with their base values (the CRM's, as last synced): what an undo puts back."""


@dataclass
class PushPlan:
    writes: list[PlannedWrite] = field(default_factory=list)
    held: list[tuple[int, int, str, str]] = field(default_factory=list)  # contact, rev, code, reason
    unchanged: list[tuple[int, int]] = field(default_factory=list)  # contact, rev: nothing to send


def plan_push(ctx: RunContext, rows: list[PushCandidate], active_owners: set[str],
              undecided: set[tuple[int, str]] | frozenset[tuple[int, str]] = frozenset()) -> PushPlan:
    """The writes for ``rows`` (from :func:`~leadsync.agent.store.queries.contacts.push_candidates`). Pure:
    reads nothing, writes nothing.

    Fields in an open undecided conflict (``undecided``: (contact id, field)) are not sent. A value that
    does not convert to its CRM property's type holds the whole record with the reason.
    """
    plan = PushPlan()
    shape = _Shape(ctx)
    for row in rows:
        current = row.values(f for f in shape.fields if (row.id, f) not in undecided) if undecided \
            else row.values(shape.fields)
        try:
            if row.crm_state == "linked":
                _plan_update(ctx, shape, plan, row, current)
            else:
                _plan_create(ctx, shape, plan, row, current, active_owners)
        except ConversionError as exc:
            plan.held.append((row.id, row.local_rev, "conversion", str(exc)))
    return plan


class _Shape:
    """What every row of one :func:`plan_push` call shares, worked out once for the call (not per row): the
    push mappings, their local ``fields``, the owner property, and per object type each mapping's CRM property
    and metadata (:meth:`sent`, only the properties the object has) and {local field: CRM property}
    (:meth:`names`)."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.mappings = ctx.push_mappings
        self.fields = tuple(m.local for m in self.mappings)
        self.owner_prop = ctx.connector.capabilities.owner_property
        self._sent: dict[str, list[tuple[FieldMapping, str, PropertyMeta | None]]] = {}
        self._names: dict[str, dict[str, str]] = {}

    def sent(self, object_type: str) -> list[tuple[FieldMapping, str, PropertyMeta | None]]:
        """(mapping, CRM property, its metadata) of each push mapping whose property ``object_type`` has."""
        if object_type not in self._sent:
            self._sent[object_type] = [(m, name, self.ctx.properties.get(name)) for m in self.mappings
                                       if self.ctx.has_property(object_type, name := m.crm_for(object_type))]
        return self._sent[object_type]

    def names(self, object_type: str) -> dict[str, str]:
        """{local field: CRM property on ``object_type``} of every push mapping."""
        if object_type not in self._names:
            self._names[object_type] = {m.local: m.crm_for(object_type) for m in self.mappings}
        return self._names[object_type]


def _plan_update(ctx: RunContext, shape: _Shape, plan: PushPlan, row: PushCandidate, current: dict[str, Any]) -> None:
    base = row.base
    diff = {f: v for f, v in current.items() if v != base.get(f)}
    if not diff and row.owner_push is None:
        plan.unchanged.append((row.id, row.local_rev))
        return
    # the store holds the object type the link was made with
    object_type = cast(ObjectType, row.object_type or ctx.connector.capabilities.new_lead_object)
    names = shape.names(object_type)
    props = {name: to_wire(diff[m.local], meta, m) for m, name, meta in shape.sent(object_type) if m.local in diff}
    if row.owner_push is not None:
        props[shape.owner_prop] = row.owner_push
    if not props:  # only fields the linked object does not have (a Salesforce Contact's Company) changed
        plan.unchanged.append((row.id, row.local_rev))
        return
    # a lifecycle stage set back locally (only ever with force) goes to a forward-only CRM as a clear, then the set
    clear = tuple(name for local, name in names.items() if local == lifecycle.FIELD and name in props
                  and name in ctx.connector.capabilities.forward_only
                  and lifecycle.is_demotion(base.get(local), diff[local]))
    plan.writes.append(PlannedWrite(row.id, "update", row.local_rev, props, {**base, **diff},
                                    crm_id=row.crm_id, owner_push=row.owner_push, object_type=object_type,
                                    clear_first=clear,
                                    before={f: base.get(f) for f in diff if names.get(f) in props}))


def _plan_create(ctx: RunContext, shape: _Shape, plan: PushPlan, row: PushCandidate, current: dict[str, Any],
                 active_owners: set[str]) -> None:
    owner: str | None
    note: str | None
    if row.owner_push is not None:
        owner, note = row.owner_push, "owner from a to-do assignment"
    else:
        owner, note = _owner_for_new(row, ctx, active_owners)
    if owner is None:
        plan.held.append((row.id, row.local_rev, "no_owner", note or "no CRM owner"))
        return
    props: dict[str, str] = {}
    defaults: list[str] = []
    object_type = ctx.connector.capabilities.new_lead_object
    for mapping, name, meta in shape.sent(object_type):
        value = current.get(mapping.local)
        if value is not None:
            props[name] = to_wire(value, meta, mapping)
        elif mapping.default_value is not None:  # case S13: a documented default for a required CRM field
            props[name] = mapping.default_value
            defaults.append(f"{name}={mapping.default_value!r} (default)")
    props[shape.owner_prop] = owner
    if defaults:
        note = "; ".join(x for x in (note, "sent " + ", ".join(defaults)) if x)
    plan.writes.append(PlannedWrite(row.id, "create", row.local_rev, props, dict(current),
                                    owner_note=note, owner_push=row.owner_push, object_type=object_type))


def _owner_for_new(row: PushCandidate, ctx: RunContext, active: set[str]) -> tuple[str | None, str | None]:
    """The CRM owner a new contact is pushed with: its owner (the creator's CRM owner) when active,
    else the fallback owner (cases S05, B17), else None with the reason."""
    owner = row.owner_id
    if owner is None and row.creator_owner:
        owner = row.creator_owner.split(":")[0]
    if owner is not None and owner in active:
        return owner, None
    why = (f"owner {owner} is deactivated in the CRM" if owner is not None
           else f"creator {row.creator_email or f'(user {row.created_by})'} has no CRM owner with the same email")
    if ctx.fallback_owner is not None and ctx.fallback_owner in active:
        return ctx.fallback_owner, f"{why}; pushed with the fallback owner {ctx.fallback_owner}"
    return None, f"{why}, and no active fallback owner is set (settings.update fallback_owner)"


OWNER_REFUSALS = frozenset({"OWNER_READ_ONLY"})
"""Refusal codes meaning the CRM never takes this owner for this record (Autotask: a contact's owner is its
company's). A to-do's owner push refused so is not asked for again: the error (operation
:data:`OWNER_OPERATION`) says why, and the contact's field changes go on the next run without it (sent again
with the owner, every later push was refused whole)."""
OWNER_OPERATION = sync_errors.OWNER_OPERATION


async def apply_push_results(db: aiosqlite.Connection, ctx: RunContext, plan: PushPlan,
                             results: dict[int, WriteResult], object_type: str) -> None:
    """Record the CRM's answers inside the caller's transaction: links, bases, revisions, errors."""
    stamp = now_ms()
    errors = [NewSyncError(ctx.run_id, c, None, "push", code, reason, rev, stamp) for c, rev, code, reason in plan.held]
    ctx.counts.failed += len(plan.held)
    log: list[NewWrite] = []
    if ctx.plan is not None:
        ctx.plan.held += len(plan.held)
    await contacts.confirm_revisions(db, plan.unchanged)
    new_links: list[Link] = []
    owners: list[tuple[int, str, str]] = []
    confirmed: list[PlannedWrite] = []
    refused_owners: list[tuple[int, str]] = []
    for write in plan.writes:
        result = results.get(write.contact_id)
        error = _unconfirmed(ctx, write, result, stamp)
        if error is not None:
            ctx.counts.failed += 1
            if write.owner_push is not None and error.code in OWNER_REFUSALS:
                refused_owners.append((write.contact_id, write.owner_push))
                error = msgspec.structs.replace(  # the fields go again, without the owner; this error stays
                    error, local_rev=None, operation=OWNER_OPERATION,
                    reason=f"the to-do's owner {write.owner_push} was not set: {error.reason}; the contact's "
                           "fields go on without it (assign the to-do to someone the CRM accepts as owner)")
            errors.append(error)
            continue
        assert result is not None
        confirmed.append(write)
        op = "update" if write.op == "update" else ("create" if result.created else "link")
        log.append(NewWrite(ctx.run_id, write.contact_id, result.id, op, write.properties, write.owner_note,
                                 stamp))
        if ctx.plan is not None:
            before = await base_values.base_of(db, write.contact_id) or {}
            ctx.plan.add("crm", op, write.contact_id, result.id if write.op == "update" else write.crm_id,
                         {p: [_wire_before(ctx, before, p), v] for p, v in write.properties.items()},
                         note=write.owner_note)
        if write.op == "create":
            if result.created:
                ctx.counts.created_crm += 1
            else:
                ctx.counts.linked += 1
            # a confirmed create names its record
            new_links.append(Link(write.contact_id, ctx.crm, object_type, cast(str, result.id),
                                  result.record.updated_at_ms if result.record else None, stamp))
        else:
            ctx.counts.updated_crm += 1
        new_owner = write.properties.get(ctx.connector.capabilities.owner_property)
        if new_owner is not None:
            owners.append((write.contact_id, new_owner, "todo" if write.owner_push else "create"))
    await links.upsert_pushed_links(db, new_links)
    await contacts.mark_linked(db, [link.contact_id for link in new_links])
    await record_owner_changes(db, owners, ctx.run_id, stamp)
    await contacts.clear_owner_push(db, [(contact_id, new_owner) for contact_id, new_owner, _ in owners]
                                    + refused_owners)
    await base_values.upsert_base_values(db, [BaseValue(w.contact_id, w.base_after, ctx.run_id, stamp)
                                              for w in confirmed])
    await contacts.confirm_revisions(db, [(w.contact_id, w.local_rev) for w in confirmed])
    await sync_errors.resolve_open_errors(db, [w.contact_id for w in confirmed], stamp)
    await sync_errors.resolve_owner_errors(db, [contact_id for contact_id, _, source in owners if source == "todo"],
                                           stamp)
    # the new attempt's outcome: counted on the same problem's open error, the contact's others resolved
    await sync_errors.insert_sync_errors(db, errors, supersede=True)
    await write_log.insert_write_log(db, log)
    await run_changes.insert_run_changes(db, crm_changes(ctx, confirmed, results, stamp))


def crm_changes(ctx: RunContext, confirmed: list[PlannedWrite], results: dict[int, WriteResult],
                stamp: int) -> list[RunChange]:
    """What the ``confirmed`` writes changed in the CRM, as the run's changes (an undo puts them back): each
    updated field's value before and after, and each record a create made."""
    changes: list[RunChange] = []
    shape = _Shape(ctx)
    for write in confirmed:
        result = results[write.contact_id]
        if write.op == "create" and result.created and result.id:
            changes.append(RunChange(ctx.run_id, write.contact_id, "crm", "create", "", None, write.object_type,
                                     result.id, None, None, stamp))
        elif write.op == "update":
            names = shape.names(write.object_type)
            changes += [RunChange(ctx.run_id, write.contact_id, "crm", "update", f, names[f], write.object_type,
                                  write.crm_id, before, write.base_after.get(f), stamp)
                        for f, before in write.before.items()]
    return changes


def _unconfirmed(ctx: RunContext, write: PlannedWrite, result: WriteResult | None, stamp: int) -> NewSyncError | None:
    """The error of a write the CRM did not confirm (None: confirmed). A refused write is held until the
    contact changes; one that could not get through (``not_sent``) stays queued for the next run (its error
    holds nothing: ``local_rev`` None); a create confirmed without the new record's id is an error too."""
    if result is not None and result.ok and (result.id or write.op == "update"):
        return None
    local_rev: int | None = write.local_rev
    code: str | None
    if result is None:
        code, reason = "no_result", "the CRM gave no answer for this record"
    elif result.ok:
        code, reason = "no_id", "the CRM confirmed the create without naming the new record"
    elif result.not_sent:
        ctx.not_sent += 1
        local_rev = None
        code, reason = result.error_code, f"not sent: {result.error or 'the CRM could not be reached'}; queued " \
                                          "for the next run"
    else:
        code, reason = result.error_code, result.error or "refused"
    return NewSyncError(ctx.run_id, write.contact_id, write.crm_id, write.op, code, reason, local_rev, stamp,
                        result.detail if result is not None else None)


def _wire_before(ctx: RunContext, base: dict[str, Any], prop: str) -> str | None:
    for mapping in ctx.mappings:
        if prop in mapping.crm_names:
            value = base.get(mapping.local)
            try:
                return None if value is None else to_wire(value, ctx.properties.get(prop), mapping)
            except ConversionError:
                return str(value)
    return None


def write_inputs(plan: PushPlan, op: str) -> list[WriteInput]:
    return [WriteInput(ref=str(w.contact_id), properties=w.properties, id=w.crm_id, clear_first=w.clear_first)
            for w in plan.writes if w.op == op]
