"""Undo a sync run: every field it wrote, on either side, back to its value before the run.

The run's changes (``run_changes``: local fields its pull changed, CRM properties its push changed) are
planned field by field (:func:`plan_undo`) against what each side holds now:

- a field changed since the run, on a side the undo would write, is left as it is and listed
  (``changed_since``): a later edit is never backed out;
- otherwise the field goes back to its value before the run on every side its mapping syncs (a two-way
  field on both, so both sides agree and its base is that value again; a one-way field on the side it flows
  to, its base unchanged, so the next sync leaves it);
- a record the run created in the CRM is archived there only on request (``archive_created``); values the
  run wrote into a record that already existed (a create linked to it) are not known from before, nor are
  merges, and stay.

:func:`apply_undo` makes the writes as sync run ``ctx.run_id`` (trigger ``undo``), recording them as that
run's changes, so an undo shows in the history and can itself be undone. The CRM writes go first; a
contact's local side and base move only for CRM writes the CRM confirmed (invariant 4); a refused one is an
open error (operation ``undo``) with the CRM's reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from leadsync.agent.connectors.base import CrmRecord, ObjectType, WriteInput, WriteResult
from leadsync.agent.engine.context import RunContext
from leadsync.agent.engine.mapping import ConversionError, to_wire
from leadsync.agent.engine.pull import crm_value
from leadsync.agent.store.queries import base_values, contacts, provenance, run_changes, sync_errors, write_log
from leadsync.agent.store.queries.base_values import BaseValue
from leadsync.agent.store.queries.provenance import FieldChange
from leadsync.agent.store.queries.run_changes import RunChange, UndoTarget
from leadsync.agent.store.queries.sync_errors import NewSyncError
from leadsync.agent.store.queries.write_log import NewWrite
from leadsync.agent.store.store import Store
from leadsync.common.answers import FieldMapping
from leadsync.common.instants import now_ms
from leadsync.common.recovery import UndoAnswer, UndoCreated, UndoField


@dataclass
class UndoPlan:
    """The plan of undoing sync run ``run``: the answer ``sync.undo`` gives, and what applying it needs (each
    contact as it is now, the mapping of each field put back)."""

    answer: UndoAnswer
    targets: dict[int, UndoTarget] = field(default_factory=dict)
    mappings: dict[str, FieldMapping] = field(default_factory=dict)


def _net_changes(changes: Sequence[RunChange]) -> tuple[dict[tuple[int, str], tuple[Any, Any]], list[RunChange]]:
    """The run's field updates as ``{(contact, field): (value before the run, value it left)}`` (a field
    written twice: its first ``before``, last ``after``), and its creates."""
    net: dict[tuple[int, str], tuple[Any, Any]] = {}
    for change in changes:
        if change.op == "update":
            key = (change.contact_id, change.field)
            net[key] = (net[key][0] if key in net else change.before, change.after)
    return net, [c for c in changes if c.op == "create" and c.crm_id]


async def _crm_records(ctx: RunContext, targets: dict[int, UndoTarget]) -> dict[str, CrmRecord]:
    """The CRM records of the linked ``targets`` as the CRM holds them now, by id."""
    by_type: dict[str, list[str]] = {}
    for target in targets.values():
        if target.crm_id and target.object_type and target.crm_state == "linked":
            by_type.setdefault(target.object_type, []).append(target.crm_id)
    found: dict[str, CrmRecord] = {}
    for object_type, ids in by_type.items():
        kind = cast(ObjectType, object_type)
        read = await ctx.connector.read(kind, ids, properties=ctx.crm_properties(kind))
        found.update({i: r for i, r in read.items() if r is not None})
    return found


def _field_plan(ctx: RunContext, key: tuple[int, str], values: tuple[Any, Any], target: UndoTarget | None,
                mapping: FieldMapping | None, record: CrmRecord | None) -> tuple[UndoField, bool]:
    """One field's plan: the item and whether it is put back (False: left, ``note`` says why)."""
    (contact_id, name), (before, after) = key, values
    item = UndoField(contact_id=contact_id, crm_id=target.crm_id if target else None, field=name, property=None,
                     sides=[], before=before, run_value=after)
    if target is None or target.crm_state == "merged":
        item.note = "the contact is gone or merged into another since the run"
        return item, False
    item.local_value = target.values([name])[name]
    item.crm_value = crm_value(record, mapping, ctx) if record is not None and mapping is not None else None
    if mapping is None or mapping.direction == "off":
        item.note = "the field is no longer mapped"
        return item, False
    item.property = mapping.crm_for(target.object_type)
    item.sides = [side for side, syncs in (("local", mapping.pulls), ("crm", mapping.pushes)) if syncs]
    if "crm" in item.sides and record is None:
        item.note = "its CRM record is no longer linked or no longer in the CRM"
        return item, False
    moved = [side for side in item.sides if (item.local_value if side == "local" else item.crm_value) != after]
    if moved:
        where = " and ".join("locally" if side == "local" else "in the CRM" for side in moved)
        item.note = f"changed {where} since the run"
        return item, False
    return item, before != after


async def plan_undo(store: Store, ctx: RunContext, run_id: int, *, archive_created: bool) -> UndoPlan:
    """What undoing sync run ``run_id`` writes and leaves (see the module docs); reads the CRM records of
    the contacts concerned (one read per object type), writes nothing."""
    net, creates = _net_changes(await run_changes.changes_of_run(store.reader, run_id))
    concerned = sorted({c for c, _ in net} | {c.contact_id for c in creates})
    targets = await run_changes.undo_targets(store.reader, concerned)
    records = await _crm_records(ctx, targets)
    mappings = {m.local: m for m in ctx.mappings}
    restore: list[UndoField] = []
    left: list[UndoField] = []
    for key, values in net.items():
        target = targets.get(key[0])
        record = records.get(target.crm_id or "") if target is not None else None
        item, back = _field_plan(ctx, key, values, target, mappings.get(key[1]), record)
        if back:
            restore.append(item)
        elif item.note is not None:
            left.append(item)
    created = [UndoCreated(contact_id=c.contact_id, crm_id=cast(str, c.crm_id), object_type=c.object_type or "",
                           archive=archive_created and (t := targets.get(c.contact_id)) is not None
                           and t.crm_id == c.crm_id and t.crm_state == "linked") for c in creates]
    counts = {"local": sum("local" in i.sides for i in restore), "crm": sum("crm" in i.sides for i in restore),
              "changed_since": len(left), "archive": sum(c.archive for c in created), "failed": 0}
    answer = UndoAnswer(run=run_id, dry_run=True, restore=restore, changed_since=left, created=created,
                        counts=counts)
    return UndoPlan(answer, targets, mappings)


@dataclass
class _Writes:
    """The CRM's answers to an undo's writes: by contact, and the created records archived."""

    results: dict[int, WriteResult] = field(default_factory=dict)
    sent: dict[int, dict[str, str]] = field(default_factory=dict)
    archived: list[UndoCreated] = field(default_factory=list)
    refused: list[tuple[UndoCreated, WriteResult]] = field(default_factory=list)


async def _write_crm(ctx: RunContext, plan: UndoPlan) -> _Writes:
    """Send the plan's CRM-side values (one update per contact, grouped by object type) and archive the
    created records asked for."""
    out = _Writes()
    for item in plan.answer.restore:
        if "crm" not in item.sides or item.property is None:
            continue
        try:
            wire = to_wire(item.before, ctx.properties.get(item.property), plan.mappings[item.field])
        except ConversionError as exc:
            out.results[item.contact_id] = WriteResult(ref=str(item.contact_id), ok=False, error=str(exc),
                                                       error_code="conversion")
            continue
        out.sent.setdefault(item.contact_id, {})[item.property] = wire
    by_type: dict[str, list[WriteInput]] = {}
    for contact_id, props in out.sent.items():
        target = plan.targets[contact_id]
        if contact_id not in out.results:
            by_type.setdefault(target.object_type or "", []).append(
                WriteInput(ref=str(contact_id), properties=props, id=target.crm_id))
    for object_type, inputs in by_type.items():
        for result in await ctx.connector.update(cast(ObjectType, object_type), inputs):
            out.results[int(result.ref)] = result
    archive = [c for c in plan.answer.created if c.archive]
    for object_type in sorted({c.object_type for c in archive}):
        wanted = {c.crm_id: c for c in archive if c.object_type == object_type}
        for result in await ctx.connector.archive(cast(ObjectType, object_type), list(wanted)):
            if result.ok:
                out.archived.append(wanted[result.ref])
            else:
                out.refused.append((wanted[result.ref], result))
    return out


async def apply_undo(store: Store, ctx: RunContext, plan: UndoPlan) -> None:
    """Undo as sync run ``ctx.run_id``: the CRM writes, then in one transaction the local values, bases,
    provenance, the undo's own run changes, its write log and the errors of what the CRM refused. Counts go
    to ``ctx.counts`` (``updated_crm``, ``updated_local``, ``failed``)."""
    writes = await _write_crm(ctx, plan)
    stamp = now_ms()
    done = [i for i in plan.answer.restore
            if i.contact_id not in writes.results or writes.results[i.contact_id].ok]
    async with store.transaction() as db:
        await _record_local(db, ctx, plan, done, stamp)
        await run_changes.insert_run_changes(db, [_reversed(ctx, plan, item, side, stamp)
                                                  for item in done for side in item.sides])
        await write_log.insert_write_log(db, [
            NewWrite(ctx.run_id, c, plan.targets[c].crm_id, "update", props, f"undo of sync run {plan.answer.run}",
                     stamp) for c, props in writes.sent.items() if writes.results[c].ok]
            + [NewWrite(ctx.run_id, c.contact_id, c.crm_id, "archive", {}, f"created by sync run {plan.answer.run}; "
                        "archived by its undo", stamp) for c in writes.archived])
        await contacts.mark_archived(db, ctx.crm, [c.crm_id for c in writes.archived])
        refused = [(c, r) for c, r in writes.results.items() if not r.ok]
        await sync_errors.insert_sync_errors(db, [
            NewSyncError(ctx.run_id, c, plan.targets[c].crm_id, "undo", r.error_code, r.error or "refused", None,
                         stamp, r.detail) for c, r in refused]
            + [NewSyncError(ctx.run_id, c.contact_id, c.crm_id, "undo", r.error_code, r.error or "refused", None,
                            stamp, r.detail) for c, r in writes.refused])
        await run_changes.mark_undo(db, ctx.run_id, plan.answer.run)
    ctx.counts.updated_crm = sum(1 for c in writes.sent if writes.results[c].ok)
    ctx.counts.updated_local = len({i.contact_id for i in done if "local" in i.sides})
    ctx.counts.failed = len(refused) + len(writes.refused)
    plan.answer.counts.update(failed=ctx.counts.failed, archive=len(writes.archived))


async def _record_local(db: Any, ctx: RunContext, plan: UndoPlan, done: list[UndoField], stamp: int) -> None:
    """The local side of the fields put back: values (the local side), provenance, and the base of two-way
    fields (both sides hold the value before the run again)."""
    by_contact: dict[int, list[UndoField]] = {}
    for item in done:
        by_contact.setdefault(item.contact_id, []).append(item)
    bases: list[BaseValue] = []
    for contact_id, items in by_contact.items():
        local = {i.field: i.before for i in items if "local" in i.sides}
        if local:
            await contacts.apply_local_changes(db, contact_id, local, False, stamp)
        both = {i.field: i.before for i in items if len(i.sides) == 2}
        if both:
            bases.append(BaseValue(contact_id, {**plan.targets[contact_id].base, **both}, ctx.run_id, stamp))
    await base_values.upsert_base_values(db, bases)
    await provenance.upsert_field_changes(db, [FieldChange(i.contact_id, i.field, "undo", ctx.run_id, stamp,
                                                           i.local_value) for i in done if "local" in i.sides])


def _reversed(ctx: RunContext, plan: UndoPlan, item: UndoField, side: str, stamp: int) -> RunChange:
    """The undo's own change of ``item`` on ``side`` (undoing the undo puts the run's value back)."""
    target = plan.targets[item.contact_id]
    return RunChange(ctx.run_id, item.contact_id, side, "update", item.field,
                     item.property if side == "crm" else None, target.object_type if side == "crm" else None,
                     target.crm_id if side == "crm" else None, item.run_value, item.before, stamp)
