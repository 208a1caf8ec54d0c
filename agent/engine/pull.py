"""Pull: apply one page of CRM records to the store, in one transaction with the cursor checkpoint.

Per record: find the local contact (by CRM link, else by email trimmed and case-insensitive, case
B11), then merge field by field against the base value (the last value both sides agreed on):
- changed in the CRM only -> the local value takes it (a blank is a value: ``""`` clears, S01/B19);
- changed locally only -> left for the push;
- changed on both to different values -> the CRM value wins for now and the run records it;
- equal to the base -> nothing (our own writes coming back, case S15).
Ownership always comes from the CRM; a change is appended to the contact's ownership history.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite
from leadsync.agent.connectors.base import CrmRecord
from leadsync.agent.engine.context import RunContext
from leadsync.agent.engine.mapping import ConversionError, from_wire
from leadsync.agent.engine.push import record_owner_change
from leadsync.agent.store.store import dumps, loads, norm_email, now_ms
from leadsync.common.models import STANDARD_FIELDS

_STD = frozenset(STANDARD_FIELDS)
_LOCAL_COLS = ", ".join(f"c.{f}" for f in STANDARD_FIELDS)


def _record_values(ctx: RunContext, record: CrmRecord, errors: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for mapping in ctx.pull_mappings:
        try:
            values[mapping.local] = from_wire(record.properties.get(mapping.crm), ctx.properties.get(mapping.crm))
        except ConversionError as exc:
            errors.append(str(exc))
    if values.get("email") is not None:
        values["email"] = str(values["email"]).strip()
    return values


def _local_values(row: aiosqlite.Row, ctx: RunContext) -> dict[str, Any]:
    extra = loads(row["fields"]) or {}
    return {m.local: row[m.local] if m.local in _STD else extra.get(m.local) for m in ctx.mappings}


async def apply_pull_page(db: aiosqlite.Connection, ctx: RunContext, records: Sequence[CrmRecord],
                          cursor: dict[str, Any] | None, object_type: str) -> None:
    """Apply ``records`` and save ``cursor`` (when not None) inside the caller's transaction."""
    stamp = now_ms()
    owner_prop = ctx.connector.capabilities.owner_property
    by_id = {r.id: r for r in records}  # a record seen twice in a page: the later copy wins
    ids = list(by_id)
    linked: dict[str, aiosqlite.Row] = {}
    marks = ",".join("?" * len(ids))
    select = (f"SELECT c.id, {_LOCAL_COLS}, c.owner_id, c.fields, c.local_rev, c.synced_rev, "
              "l.crm_id, b.vals FROM contacts c LEFT JOIN crm_links l ON l.contact_id = c.id "
              "LEFT JOIN base_values b ON b.contact_id = c.id ")
    if ids:
        async with db.execute(select + f"WHERE l.crm = ? AND l.crm_id IN ({marks})", [ctx.crm, *ids]) as cur:
            for row in await cur.fetchall():
                linked[row["crm_id"]] = row
    pending = [r for r in by_id.values() if r.id not in linked]
    emails = {norm_email(r.properties.get(ctx.connector.capabilities.email_property)): r for r in pending}
    emails.pop(None, None)
    by_email: dict[str, aiosqlite.Row] = {}
    if emails:
        keys = list(emails)
        async with db.execute(select + f"WHERE c.email_norm IN ({','.join('?' * len(keys))})", keys) as cur:
            for row in await cur.fetchall():
                by_email[norm_email(row["email"]) or ""] = row

    async with db.execute("SELECT coalesce(max(id), 0) FROM contacts") as cur:
        top = await cur.fetchone()
    next_id = int(top[0]) if top else 0
    new_contacts: list[tuple[Any, ...]] = []
    new_links: list[tuple[Any, ...]] = []
    bases: list[tuple[Any, ...]] = []
    updates: list[tuple[int, dict[str, Any], str | None, bool]] = []
    errors: list[tuple[Any, ...]] = []

    for record in by_id.values():
        ctx.counts.pulled += 1
        problems: list[str] = []
        crm_vals = _record_values(ctx, record, problems)
        owner = record.properties.get(owner_prop) or None
        for reason in problems:
            errors.append((ctx.run_id, linked[record.id]["id"] if record.id in linked else None, record.id,
                           "pull", "conversion", reason, None, stamp))
        local: aiosqlite.Row | None = linked.get(record.id)
        if local is None:
            key = norm_email(crm_vals.get("email"))
            match: aiosqlite.Row | None = by_email.get(key) if key else None
            if match is not None and match["crm_id"] is not None:
                errors.append((ctx.run_id, match["id"], record.id, "link", "duplicate_email",
                               f"CRM record {record.id} has the same email as CRM record {match['crm_id']}, "
                               f"already linked to contact {match['id']}; not linked", None, stamp))
                continue
            if match is None:
                next_id += 1
                std = [crm_vals.get(f) for f in STANDARD_FIELDS]
                extra = {k: v for k, v in crm_vals.items() if k not in _STD and v is not None}
                new_contacts.append((next_id, *std, key, owner, dumps(extra), record.created_at_ms or stamp,
                                     stamp))
                if ctx.plan is not None:
                    ctx.plan.add("local", "create", None, record.id,
                                 {f: [None, v] for f, v in crm_vals.items() if v is not None})
                new_links.append((next_id, ctx.crm, object_type, record.id, record.updated_at_ms, stamp))
                bases.append((next_id, dumps(crm_vals), ctx.run_id, stamp))
                ctx.counts.created_local += 1
                if key:
                    by_email[key] = _FakeRow(next_id, record.id)  # type: ignore[assignment]
                continue
            # first link of an existing local contact: the CRM wins unless blank; local-only values go out
            ctx.counts.linked += 1
            new_links.append((match["id"], ctx.crm, object_type, record.id, record.updated_at_ms, stamp))
            current = _local_values(match, ctx)
            base = {f: crm_vals.get(f) for f in crm_vals}
            changes = {f: v for f, v in crm_vals.items() if v is not None and v != current.get(f)}
            local_only = any(crm_vals.get(f) is None and current.get(f) is not None for f in crm_vals)
            bases.append((match["id"], dumps(base), ctx.run_id, stamp))
            updates.append((match["id"], changes, owner, local_only))
            if ctx.plan is not None:
                ctx.plan.add("local", "link", match["id"], record.id,
                             {f: [current.get(f), v] for f, v in changes.items()})
            if changes:
                ctx.counts.updated_local += 1
            continue
        base = loads(local["vals"]) or {}
        current = _local_values(local, ctx)
        changes = {}
        new_base = dict(base)
        for field, crm_value in crm_vals.items():
            base_value = base.get(field)
            if crm_value == base_value:
                continue  # unchanged in the CRM, or our own write coming back (S15)
            new_base[field] = crm_value
            if current.get(field) != crm_value:
                changes[field] = crm_value
        if changes:
            ctx.counts.updated_local += 1
            if ctx.plan is not None:
                ctx.plan.add("local", "update", local["id"], record.id,
                             {f: [current.get(f), v] for f, v in changes.items()})
        if changes or new_base != base or owner != local["owner_id"]:
            updates.append((local["id"], changes, owner, False))
            bases.append((local["id"], dumps(new_base), ctx.run_id, stamp))
        new_links.append((local["id"], ctx.crm, object_type, record.id, record.updated_at_ms, stamp))

    cols = ", ".join(STANDARD_FIELDS)
    await db.executemany(
        f"INSERT INTO contacts(id, {cols}, email_norm, owner_id, fields, created_at, updated_at, source, "
        f"local_rev, synced_rev, crm_state) VALUES (?, {','.join('?' * len(STANDARD_FIELDS))}, ?, ?, ?, ?, ?, "
        "'crm', 1, 1, 'linked')",
        new_contacts,
    )
    await db.executemany(
        "INSERT INTO crm_links(contact_id, crm, object_type, crm_id, crm_updated_at, linked_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(contact_id) DO UPDATE SET crm_id = excluded.crm_id, "
        "object_type = excluded.object_type, crm_updated_at = excluded.crm_updated_at",
        new_links,
    )
    await db.executemany(
        "INSERT INTO base_values(contact_id, vals, sync_run_id, synced_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(contact_id) DO UPDATE SET vals = excluded.vals, sync_run_id = excluded.sync_run_id, "
        "synced_at = excluded.synced_at",
        bases,
    )
    for contact_id, changes, owner, local_only in updates:
        await record_owner_change(db, contact_id, owner, "crm", ctx.run_id, stamp)
        await _apply_local_changes(db, contact_id, changes, local_only, stamp)
    await db.executemany(
        "INSERT INTO sync_errors(sync_run_id, contact_id, crm_id, operation, code, reason, local_rev, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        errors,
    )
    if cursor is not None:
        await db.execute(
            "INSERT INTO cursors(crm, object_type, value, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(crm, object_type) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (ctx.crm, object_type, dumps(cursor), stamp),
        )


async def _apply_local_changes(db: aiosqlite.Connection, contact_id: int, changes: dict[str, Any],
                               local_only: bool, stamp: int) -> None:
    std = {f: v for f, v in changes.items() if f in _STD}
    extra = {f: v for f, v in changes.items() if f not in _STD}
    sets = [f"{f} = ?" for f in std]
    params: list[Any] = list(std.values())
    if "email" in std:
        sets.append("email_norm = ?")
        params.append(norm_email(std["email"]))
    if extra:
        sets.append("fields = json_patch(fields, ?)")
        params.append(dumps(extra))
    sets.append("crm_state = 'linked'")
    if changes:
        sets.append("updated_at = ?")
        params.append(stamp)
    # a first link with local-only values leaves the contact one revision ahead, so the push sends them
    sets.append("synced_rev = CASE WHEN ? THEN local_rev - 1 ELSE synced_rev END")
    params.append(int(local_only))
    await db.execute(f"UPDATE contacts SET {', '.join(sets)} WHERE id = ?", [*params, contact_id])


class _FakeRow(dict[str, Any]):
    """A contact created earlier in the same page, so a second CRM record with its email is caught."""

    def __init__(self, contact_id: int, crm_id: str) -> None:
        super().__init__(id=contact_id, crm_id=crm_id)
