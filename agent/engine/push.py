"""Push: send local changes to the CRM in batches, then record what the CRM confirmed.

Candidates are contacts whose ``local_rev`` is ahead of ``synced_rev``: linked ones send the fields
that differ from their base value (exactly those, ``""`` for a cleared one, case B19); unlinked ones
marked for push are created as leads with an upsert keyed by email, so a replay after a crash
updates instead of duplicating. The base and ``synced_rev`` move only for writes the CRM confirmed
(invariant 4); a refused record is listed with the CRM's reason and retried once it changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from leadsync.agent.connectors.base import ObjectType, WriteInput, WriteResult
from leadsync.agent.engine.context import RunContext
from leadsync.agent.engine.mapping import ConversionError, to_wire
from leadsync.agent.store.store import Store, dumps, loads, now_ms
from leadsync.common.models import STANDARD_FIELDS

_STD = frozenset(STANDARD_FIELDS)
_COLS = ", ".join(f"c.{f}" for f in STANDARD_FIELDS)
SCAN_BATCH = 1000


@dataclass
class PlannedWrite:
    """One outbound write: ``op`` create or update, the wire ``properties`` and the base after success."""

    contact_id: int
    op: str
    local_rev: int
    properties: dict[str, str]
    base_after: dict[str, Any]
    crm_id: str | None = None
    owner_note: str | None = None
    owner_push: str | None = None
    object_type: ObjectType = "contact"


@dataclass
class PushPlan:
    writes: list[PlannedWrite] = field(default_factory=list)
    held: list[tuple[int, int, str, str]] = field(default_factory=list)  # contact, rev, code, reason
    unchanged: list[tuple[int, int]] = field(default_factory=list)  # contact, rev: nothing to send


PENDING_SQL = (
    "c.local_rev > c.synced_rev AND (c.crm_state = 'linked' OR (c.crm_state = 'none' AND c.push_wanted = 1)) "
    "AND NOT EXISTS (SELECT 1 FROM sync_errors e WHERE e.contact_id = c.id AND e.resolved_at IS NULL "
    "                AND e.local_rev = c.local_rev)"
)


async def count_push_candidates(store: Store, contact_ids: list[int] | None = None) -> int:
    """How many contacts wait for a push (all, or among ``contact_ids``)."""
    sql = f"SELECT count(*) FROM contacts c WHERE {PENDING_SQL}"
    params: list[Any] = []
    if contact_ids is not None:
        sql += f" AND c.id IN ({','.join('?' * len(contact_ids))})"
        params = list(contact_ids)
    return int(await store.scalar(sql, params))


async def push_candidates(store: Store, after: int, limit: int, contact_ids: list[int] | None = None) \
        -> list[aiosqlite.Row]:
    """Contacts that may need a push, by id after ``after``. Skips those whose last failure is for
    the same revision (they are retried once they change, or on request)."""
    sql = (f"SELECT c.id, {_COLS}, c.fields, c.owner_id, c.owner_push, c.created_by, c.local_rev, c.crm_state, "
           "l.crm_id, l.object_type, b.vals, "
           "(SELECT o.crm_id || ':' || o.active FROM users u JOIN owners o ON o.email_norm = u.email_norm "
           " WHERE u.id = c.created_by) AS creator_owner "
           "FROM contacts c LEFT JOIN crm_links l ON l.contact_id = c.id "
           "LEFT JOIN base_values b ON b.contact_id = c.id "
           f"WHERE c.id > ? AND {PENDING_SQL} ")
    params: list[Any] = [after]
    if contact_ids is not None:
        sql += f"AND c.id IN ({','.join('?' * len(contact_ids))}) "
        params += contact_ids
    return await store.fetchall(sql + "ORDER BY c.id LIMIT ?", [*params, limit])


def plan_push(ctx: RunContext, rows: list[aiosqlite.Row], active_owners: set[str],
              undecided: set[tuple[int, str]] | frozenset[tuple[int, str]] = frozenset()) -> PushPlan:
    """The writes for ``rows`` (from :func:`push_candidates`). Pure: reads nothing, writes nothing.

    Fields in an open undecided conflict (``undecided``: (contact id, field)) are not sent. A value that
    does not convert to its CRM property's type holds the whole record with the reason.
    """
    plan = PushPlan()
    owner_prop = ctx.connector.capabilities.owner_property
    for row in rows:
        extra = loads(row["fields"]) or {}
        current = {m.local: row[m.local] if m.local in _STD else extra.get(m.local) for m in ctx.push_mappings
                   if (row["id"], m.local) not in undecided}
        try:
            if row["crm_state"] == "linked":
                _plan_update(ctx, plan, row, current, owner_prop)
            else:
                _plan_create(ctx, plan, row, current, owner_prop, active_owners)
        except ConversionError as exc:
            plan.held.append((row["id"], row["local_rev"], "conversion", str(exc)))
    return plan


def _plan_update(ctx: RunContext, plan: PushPlan, row: aiosqlite.Row, current: dict[str, Any], owner_prop: str) -> None:
    base = loads(row["vals"]) or {}
    diff = {f: v for f, v in current.items() if v != base.get(f)}
    if not diff and row["owner_push"] is None:
        plan.unchanged.append((row["id"], row["local_rev"]))
        return
    object_type = row["object_type"] or ctx.connector.capabilities.new_lead_object
    names = {m.local: m.crm_for(object_type) for m in ctx.push_mappings}
    props = {names[m.local]: to_wire(diff[m.local], ctx.properties.get(names[m.local]), m) for m in ctx.push_mappings
             if m.local in diff and ctx.has_property(object_type, names[m.local])}
    if row["owner_push"] is not None:
        props[owner_prop] = row["owner_push"]
    if not props:  # only fields the linked object does not have (a Salesforce Contact's Company) changed
        plan.unchanged.append((row["id"], row["local_rev"]))
        return
    plan.writes.append(PlannedWrite(row["id"], "update", row["local_rev"], props, {**base, **diff},
                                    crm_id=row["crm_id"], owner_push=row["owner_push"], object_type=object_type))


def _plan_create(ctx: RunContext, plan: PushPlan, row: aiosqlite.Row, current: dict[str, Any], owner_prop: str,
                 active_owners: set[str]) -> None:
    owner: str | None
    note: str | None
    if row["owner_push"] is not None:
        owner, note = row["owner_push"], "owner from a to-do assignment"
    else:
        owner, note = _owner_for_new(row, ctx, active_owners)
    if owner is None:
        plan.held.append((row["id"], row["local_rev"], "no_owner", note or "no CRM owner"))
        return
    props: dict[str, str] = {}
    defaults: list[str] = []
    object_type = ctx.connector.capabilities.new_lead_object
    for mapping in ctx.push_mappings:
        name = mapping.crm_for(object_type)
        if not ctx.has_property(object_type, name):
            continue
        value = current.get(mapping.local)
        if value is not None:
            props[name] = to_wire(value, ctx.properties.get(name), mapping)
        elif mapping.default_value is not None:  # case S13: a documented default for a required CRM field
            props[name] = mapping.default_value
            defaults.append(f"{name}={mapping.default_value!r} (default)")
    props[owner_prop] = owner
    if defaults:
        note = "; ".join(x for x in (note, "sent " + ", ".join(defaults)) if x)
    plan.writes.append(PlannedWrite(row["id"], "create", row["local_rev"], props, dict(current),
                                    owner_note=note, owner_push=row["owner_push"], object_type=object_type))


def _owner_for_new(row: aiosqlite.Row, ctx: RunContext, active: set[str]) -> tuple[str | None, str | None]:
    """The CRM owner a new contact is pushed with: its owner (the creator's CRM owner) when active,
    else the fallback owner (cases S05, B17), else None with the reason."""
    owner = row["owner_id"]
    if owner is None and row["creator_owner"]:
        owner = row["creator_owner"].split(":")[0]
    if owner is not None and owner in active:
        return owner, None
    why = (f"owner {owner} is deactivated in the CRM" if owner is not None
           else f"creator (user {row['created_by']}) has no CRM owner with the same email")
    if ctx.fallback_owner is not None and ctx.fallback_owner in active:
        return ctx.fallback_owner, f"{why}; pushed with the fallback owner {ctx.fallback_owner}"
    return None, f"{why}, and no active fallback owner is set (settings.update fallback_owner)"


async def apply_push_results(db: aiosqlite.Connection, ctx: RunContext, plan: PushPlan,
                             results: dict[int, WriteResult], object_type: str) -> None:
    """Record the CRM's answers inside the caller's transaction: links, bases, revisions, errors."""
    stamp = now_ms()
    errors: list[tuple[Any, ...]] = [(ctx.run_id, c, None, "push", code, reason, rev, stamp)
                                     for c, rev, code, reason in plan.held]
    ctx.counts.failed += len(plan.held)
    log_rows: list[tuple[Any, ...]] = []
    if ctx.plan is not None:
        ctx.plan.held += len(plan.held)
    await db.executemany("UPDATE contacts SET synced_rev = max(synced_rev, ?) WHERE id = ?",
                         [(rev, contact_id) for contact_id, rev in plan.unchanged])
    links: list[tuple[Any, ...]] = []
    owners: list[tuple[int, str, str]] = []
    confirmed: list[PlannedWrite] = []
    for write in plan.writes:
        result = results.get(write.contact_id)
        if result is None or not result.ok:
            ctx.counts.failed += 1
            reason = result.error if result else "the CRM gave no answer for this record"
            errors.append((ctx.run_id, write.contact_id, write.crm_id, write.op,
                           result.error_code if result else None, reason or "refused", write.local_rev, stamp))
            continue
        confirmed.append(write)
        op = "update" if write.op == "update" else ("create" if result.created else "link")
        log_rows.append((ctx.run_id, write.contact_id, result.id, op, dumps(write.properties), write.owner_note,
                         stamp))
        if ctx.plan is not None:
            before = loads(await _base_of(db, write.contact_id)) or {}
            ctx.plan.add("crm", op, write.contact_id, result.id if write.op == "update" else write.crm_id,
                         {p: [_wire_before(ctx, before, p), v] for p, v in write.properties.items()},
                         note=write.owner_note)
        if write.op == "create":
            if result.created:
                ctx.counts.created_crm += 1
            else:
                ctx.counts.linked += 1
            links.append((write.contact_id, ctx.crm, object_type, result.id,
                          result.record.updated_at_ms if result.record else None, stamp))
        else:
            ctx.counts.updated_crm += 1
        new_owner = write.properties.get(ctx.connector.capabilities.owner_property)
        if new_owner is not None:
            owners.append((write.contact_id, new_owner, "todo" if write.owner_push else "create"))
    await db.executemany(
        "INSERT INTO crm_links(contact_id, crm, object_type, crm_id, crm_updated_at, linked_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(contact_id) DO UPDATE SET crm_id = excluded.crm_id", links)
    await db.executemany("UPDATE contacts SET crm_state = 'linked' WHERE id = ?", [(link[0],) for link in links])
    for contact_id, new_owner, source in owners:
        await record_owner_change(db, contact_id, new_owner, source, ctx.run_id, stamp)
    await db.executemany("UPDATE contacts SET owner_push = NULL WHERE id = ? AND owner_push = ?",
                         [(contact_id, new_owner) for contact_id, new_owner, _ in owners])
    await db.executemany(
        "INSERT INTO base_values(contact_id, vals, sync_run_id, synced_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(contact_id) DO UPDATE SET vals = excluded.vals, sync_run_id = excluded.sync_run_id, "
        "synced_at = excluded.synced_at",
        [(w.contact_id, dumps(w.base_after), ctx.run_id, stamp) for w in confirmed])
    await db.executemany("UPDATE contacts SET synced_rev = max(synced_rev, ?) WHERE id = ?",
                         [(w.local_rev, w.contact_id) for w in confirmed])
    await db.executemany("UPDATE sync_errors SET resolved_at = ? WHERE contact_id = ? AND resolved_at IS NULL",
                         [(stamp, w.contact_id) for w in confirmed])
    await db.executemany("UPDATE sync_errors SET resolved_at = ? WHERE contact_id = ? AND resolved_at IS NULL",
                         [(stamp, e[1]) for e in errors])  # superseded by the new attempt's outcome
    await db.executemany(
        "INSERT INTO sync_errors(sync_run_id, contact_id, crm_id, operation, code, reason, local_rev, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        errors,
    )
    await db.executemany(
        "INSERT INTO write_log(sync_run_id, contact_id, crm_id, op, properties, note, written_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        log_rows,
    )


async def _base_of(db: aiosqlite.Connection, contact_id: int) -> str | None:
    async with db.execute("SELECT vals FROM base_values WHERE contact_id = ?", (contact_id,)) as cur:
        row = await cur.fetchone()
    return None if row is None else str(row[0])


def _wire_before(ctx: RunContext, base: dict[str, Any], prop: str) -> str | None:
    for mapping in ctx.mappings:
        if prop in mapping.crm_names:
            value = base.get(mapping.local)
            try:
                return None if value is None else to_wire(value, ctx.properties.get(prop), mapping)
            except ConversionError:
                return str(value)
    return None


async def undecided_fields(store: Store, contact_ids: list[int]) -> set[tuple[int, str]]:
    """(contact id, field) pairs with an open conflict no policy could decide: not pushed until resolved."""
    if not contact_ids:
        return set()
    rows = await store.fetchall(
        f"SELECT contact_id, field FROM conflicts WHERE resolved_at IS NULL AND winner = 'none' "
        f"AND contact_id IN ({','.join('?' * len(contact_ids))})", contact_ids)
    return {(r[0], r[1]) for r in rows}


async def record_owner_change(db: aiosqlite.Connection, contact_id: int, new_owner: str | None, source: str,
                              run_id: int | None, stamp: int) -> None:
    """Set a contact's owner and, when it changes, append to its ownership history."""
    async with db.execute("SELECT owner_id FROM contacts WHERE id = ?", (contact_id,)) as cur:
        row = await cur.fetchone()
    old = row[0] if row else None
    if old == new_owner:
        return
    await db.execute("UPDATE contacts SET owner_id = ? WHERE id = ?", (new_owner, contact_id))
    await db.execute(
        "INSERT INTO ownership_history(contact_id, old_owner, new_owner, source, sync_run_id, changed_at) "
        "VALUES (?, ?, ?, ?, ?, ?)", (contact_id, old, new_owner, source, run_id, stamp))


def write_inputs(plan: PushPlan, op: str) -> list[WriteInput]:
    return [WriteInput(ref=str(w.contact_id), properties=w.properties, id=w.crm_id)
            for w in plan.writes if w.op == op]
