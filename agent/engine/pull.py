"""Pull: apply one page of CRM records to the store, in one transaction with the cursor checkpoint.

Per record: find the local contact (by CRM link, else by email trimmed and case-insensitive, case
B11), then merge field by field against the base value (:mod:`leadsync.agent.engine.merge`). Conflicts
are recorded with both values; every local value the CRM changed gets its provenance (side, sync run,
time, previous value). Ownership always comes from the CRM; a change is appended to the contact's
ownership history. A record that absorbed merged records (HubSpot ``hs_merged_object_ids``, case B21)
takes over the local contacts linked to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite

from leadsync.agent.connectors.base import CrmRecord
from leadsync.agent.engine.context import RunContext
from leadsync.agent.engine.mapping import ConversionError, from_wire
from leadsync.agent.engine.merge import KEEP, FieldDecision, first_link, merge_field
from leadsync.agent.engine.push import record_owner_change
from leadsync.agent.store.store import dumps, loads, norm_email, now_ms
from leadsync.common.answers import FieldMapping
from leadsync.common.models import STANDARD_FIELDS

_STD = frozenset(STANDARD_FIELDS)
_LOCAL_COLS = ", ".join(f"c.{f}" for f in STANDARD_FIELDS)
_SELECT = (f"SELECT c.id, {_LOCAL_COLS}, c.owner_id, c.fields, c.local_rev, c.synced_rev, c.crm_state, "
           "l.crm_id, l.crm_updated_at, b.vals, b.synced_at FROM contacts c "
           "LEFT JOIN crm_links l ON l.contact_id = c.id "
           "LEFT JOIN base_values b ON b.contact_id = c.id ")


def record_values(ctx: RunContext, record: CrmRecord, errors: list[str]) -> dict[str, Any]:
    """The record's mapped values converted to local types. A property absent from the record is left
    out (absent is not cleared: only an explicit null or ``""`` is a blank); so is one that fails to
    convert, with the reason in ``errors``."""
    values: dict[str, Any] = {}
    for mapping in ctx.pull_mappings:
        name = mapping.crm_for(record.object_type)
        if name not in record.properties:
            continue
        try:
            values[mapping.local] = from_wire(record.properties.get(name), ctx.properties.get(name), mapping)
        except ConversionError as exc:
            errors.append(str(exc))
    if isinstance(values.get("email"), str):
        values["email"] = values["email"].strip()
    return values


def local_values(row: aiosqlite.Row, fields: Sequence[str]) -> dict[str, Any]:
    extra = loads(row["fields"]) or {}
    return {f: row[f] if f in _STD else extra.get(f) for f in fields}


class _Page:
    """The writes one page accumulates before they are applied together."""

    def __init__(self) -> None:
        self.new_contacts: list[tuple[Any, ...]] = []
        self.links: list[tuple[Any, ...]] = []
        self.bases: list[tuple[Any, ...]] = []
        self.changes: list[tuple[int, dict[str, Any], dict[str, Any], str | None, bool]] = []
        self.conflicts: list[tuple[Any, ...]] = []
        self.provenance: list[tuple[Any, ...]] = []
        self.errors: list[tuple[Any, ...]] = []
        self.merges: list[tuple[str, str]] = []  # (merged-away CRM id, survivor CRM id)
        self.conversions: list[tuple[str, str, str]] = []  # (lead CRM id, what it became: type, id)
        self.archived: list[str] = []  # CRM ids deleted in the CRM


async def apply_pull_page(db: aiosqlite.Connection, ctx: RunContext, records: Sequence[CrmRecord],
                          cursor: dict[str, Any] | None, object_type: str) -> list[int]:
    """Apply ``records`` and save ``cursor`` (when not None) inside the caller's transaction.

    Returns the ids of the local contacts created or changed."""
    stamp = now_ms()
    caps = ctx.connector.capabilities
    by_id = {r.id: r for r in records}  # a record seen twice in a page: the later copy wins
    ids = list(by_id)
    linked: dict[str, aiosqlite.Row] = {}
    if ids:
        async with db.execute(_SELECT + f"WHERE +l.crm = ? AND l.crm_id IN ({','.join('?' * len(ids))})",
                              [ctx.crm, *ids]) as cur:
            linked = {row["crm_id"]: row for row in await cur.fetchall()}
    emails = {norm_email(r.properties.get(caps.email_property)) for r in by_id.values() if r.id not in linked}
    emails.discard(None)
    by_email: dict[str, Any] = {}
    if emails:
        keys = sorted(e for e in emails if e)
        async with db.execute(_SELECT + f"WHERE c.email_norm IN ({','.join('?' * len(keys))})", keys) as cur:
            by_email = {norm_email(row["email"]) or "": row for row in await cur.fetchall()}
    contact_ids = [r["id"] for r in linked.values()] + [r["id"] for r in by_email.values()]
    edited_at, open_undecided = await _local_state(db, contact_ids)
    async with db.execute("SELECT coalesce(max(id), 0) FROM contacts") as cur:
        top = await cur.fetchone()
    next_id = int(top[0]) if top else 0
    page = _Page()
    fields = [m.local for m in ctx.pull_mappings]
    mappings = {m.local: m for m in ctx.pull_mappings}

    for record in list(by_id.values()):
        if record.archived or record.converted_to_id:  # deleted, merged away or converted: never merged in
            del by_id[record.id]
            if record.archived and record.merged_into_id:
                page.merges.append((record.id, record.merged_into_id))
            elif record.archived:
                page.archived.append(record.id)
            elif record.converted_to_type is not None and record.converted_to_id:
                page.conversions.append((record.id, record.converted_to_type, record.converted_to_id))
    for record in by_id.values():
        problems: list[str] = []
        crm_vals = record_values(ctx, record, problems)
        owner = record.properties.get(caps.owner_property) or None
        local = linked.get(record.id)
        if local is None or local["crm_updated_at"] != record.updated_at_ms:
            ctx.counts.pulled += 1  # a new version; re-reads of the overlap window are not counted
        for reason in problems:
            page.errors.append((ctx.run_id, local["id"] if local else None, record.id, "pull", "conversion", reason,
                                None, stamp))
        page.merges += [(merged_id, record.id) for merged_id in record.merged_ids]
        if local is None:
            key = norm_email(crm_vals.get("email"))
            match = by_email.get(key) if key else None
            if match is not None and match["crm_id"] is not None:
                page.errors.append((ctx.run_id, match["id"], record.id, "link", "duplicate_email",
                                    f"CRM record {record.id} has the same email as CRM record {match['crm_id']}, "
                                    f"already linked to contact {match['id']}; not linked", None, stamp))
                continue
            if match is None:
                next_id += 1
                std = [crm_vals.get(f) for f in STANDARD_FIELDS]
                extra = {k: v for k, v in crm_vals.items() if k not in _STD and v is not None}
                page.new_contacts.append((next_id, *std, key, owner, dumps(extra), record.created_at_ms or stamp,
                                          stamp))
                page.links.append((next_id, ctx.crm, object_type, record.id, record.updated_at_ms, stamp))
                page.bases.append((next_id, dumps(crm_vals), ctx.run_id, stamp))
                ctx.counts.created_local += 1
                if ctx.plan is not None:
                    ctx.plan.add("local", "create", None, record.id,
                                 {f: [None, v] for f, v in crm_vals.items() if v is not None})
                if key:
                    by_email[key] = {"id": next_id, "crm_id": record.id}
                continue
            current = local_values(match, fields)
            decisions = {f: first_link(v, current.get(f)) for f, v in crm_vals.items()}
            ctx.counts.linked += 1
            page.links.append((match["id"], ctx.crm, object_type, record.id, record.updated_at_ms, stamp))
            _collect(ctx, page, match["id"], record, current, {}, decisions, "link", stamp, owner,
                     local_only=any(d.base is None and current.get(f) is not None for f, d in decisions.items()),
                     edited_at=edited_at)
            continue
        base = loads(local["vals"]) or {}
        current = local_values(local, fields)
        decisions = {}
        for field, crm_value in crm_vals.items():
            decision = merge_field(mappings[field], base.get(field), current.get(field), crm_value,
                                   edited_at.get((local["id"], field)), record.updated_at_ms, local["synced_at"])
            if decision.winner == "none" and (local["id"], field) in open_undecided:
                decision = FieldDecision()  # already recorded and waiting for a person
            decisions[field] = decision
        page.links.append((local["id"], ctx.crm, object_type, record.id, record.updated_at_ms, stamp))
        _collect(ctx, page, local["id"], record, current, base, decisions, "update", stamp, owner, local_only=False,
                 edited_at=edited_at, owner_before=local["owner_id"])

    await _write(db, ctx, page, object_type, stamp)
    if page.archived:
        await mark_archived(db, ctx, page.archived)
    if page.merges:
        await _apply_merges(db, ctx, page.merges, stamp)
    for lead_id, target_type, target_id in page.conversions:
        await _relink(db, ctx, lead_id, target_id, f"converted in the CRM: lead {lead_id} became {target_type} "
                      f"{target_id}", stamp, object_type=target_type)
    if cursor is not None:
        await db.execute(
            "INSERT INTO cursors(crm, object_type, value, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(crm, object_type) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (ctx.crm, object_type, dumps(cursor), stamp),
        )
    return [c[0] for c in page.new_contacts] + [c[0] for c in page.changes]


async def _local_state(db: aiosqlite.Connection, contact_ids: list[int]) \
        -> tuple[dict[tuple[int, str], int], set[tuple[int, str]]]:
    """When each field was last edited locally, and the fields with an open undecided conflict."""
    if not contact_ids:
        return {}, set()
    marks = ",".join("?" * len(contact_ids))
    async with db.execute(f"SELECT contact_id, field, changed_at FROM provenance WHERE contact_id IN ({marks}) "
                          "AND source != 'crm'", contact_ids) as cur:
        edited = {(r[0], r[1]): r[2] for r in await cur.fetchall()}
    async with db.execute(f"SELECT contact_id, field FROM conflicts WHERE contact_id IN ({marks}) "
                          "AND resolved_at IS NULL AND winner = 'none'", contact_ids) as cur:
        undecided = {(r[0], r[1]) for r in await cur.fetchall()}
    return edited, undecided


def _collect(ctx: RunContext, page: _Page, contact_id: int, record: CrmRecord, current: dict[str, Any],
             base: dict[str, Any], decisions: dict[str, FieldDecision], op: str, stamp: int, owner: str | None,
             *, local_only: bool, edited_at: dict[tuple[int, str], int], owner_before: str | None = None) -> None:
    changes = {f: d.local for f, d in decisions.items() if d.local is not KEEP and d.local != current.get(f)}
    new_base = dict(base)
    new_base.update({f: d.base for f, d in decisions.items() if d.base is not KEEP})
    for field, decision in decisions.items():
        if decision.conflict:
            mapping = next(m for m in ctx.pull_mappings if m.local == field)
            policy = "link" if op == "link" else mapping.policy
            page.conflicts.append((contact_id, field, dumps(base.get(field)), dumps(current.get(field)),
                                   dumps(crm_value(record, mapping, ctx)), edited_at.get((contact_id, field)),
                                   record.updated_at_ms, policy, decision.winner, ctx.run_id, stamp))
    for field in changes:
        page.provenance.append((contact_id, field, "crm", ctx.run_id, stamp, dumps(current.get(field))))
    if changes and op == "update":
        ctx.counts.updated_local += 1
    if ctx.plan is not None and (changes or op == "link"):
        ctx.plan.add("local", op, contact_id, record.id, {f: [current.get(f), v] for f, v in changes.items()})
    if new_base != base or op == "link":
        page.bases.append((contact_id, dumps(new_base), ctx.run_id, stamp))
    if changes or local_only or op == "link" or owner != owner_before:
        page.changes.append((contact_id, changes, new_base, owner, local_only))


def crm_value(record: CrmRecord, mapping: FieldMapping, ctx: RunContext) -> Any:
    """The CRM's value of a mapped field in ``record`` as a local value (the wire text if it won't convert)."""
    try:
        name = mapping.crm_for(record.object_type)
        return from_wire(record.properties.get(name), ctx.properties.get(name), mapping)
    except ConversionError:
        return record.properties.get(mapping.crm_for(record.object_type))


async def _write(db: aiosqlite.Connection, ctx: RunContext, page: _Page, object_type: str, stamp: int) -> None:
    cols = ", ".join(STANDARD_FIELDS)
    await db.executemany(
        f"INSERT INTO contacts(id, {cols}, email_norm, owner_id, fields, created_at, updated_at, source, "
        f"local_rev, synced_rev, crm_state) VALUES (?, {','.join('?' * len(STANDARD_FIELDS))}, ?, ?, ?, ?, ?, "
        "'crm', 1, 1, 'linked')",
        page.new_contacts,
    )
    await db.executemany(
        "INSERT INTO crm_links(contact_id, crm, object_type, crm_id, crm_updated_at, linked_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(contact_id) DO UPDATE SET crm_id = excluded.crm_id, "
        "object_type = excluded.object_type, crm_updated_at = excluded.crm_updated_at",
        page.links,
    )
    await db.executemany(
        "INSERT INTO base_values(contact_id, vals, sync_run_id, synced_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(contact_id) DO UPDATE SET vals = excluded.vals, sync_run_id = excluded.sync_run_id, "
        "synced_at = excluded.synced_at",
        page.bases,
    )
    await db.executemany("UPDATE contacts SET crm_state = 'linked', crm_note = NULL WHERE id = ? "
                         "AND crm_state = 'archived'", [(link[0],) for link in page.links])
    for contact_id, changes, _base, owner, local_only in page.changes:
        await record_owner_change(db, contact_id, owner, "crm", ctx.run_id, stamp)
        await _apply_local_changes(db, contact_id, changes, local_only, stamp)
    await db.executemany(
        "INSERT INTO conflicts(contact_id, field, base_value, local_value, crm_value, local_changed_at, "
        "crm_changed_at, policy, winner, sync_run_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        page.conflicts,
    )
    await db.executemany(
        "INSERT INTO provenance(contact_id, field, source, sync_run_id, changed_at, previous) "
        "VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(contact_id, field) DO UPDATE SET source = excluded.source, sync_run_id = excluded.sync_run_id, "
        "changed_at = excluded.changed_at, previous = excluded.previous",
        page.provenance,
    )
    await db.executemany(
        "INSERT INTO sync_errors(sync_run_id, contact_id, crm_id, operation, code, reason, local_rev, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        page.errors,
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
    sets.append("synced_rev = CASE WHEN ? THEN min(synced_rev, local_rev - 1) ELSE synced_rev END")
    params.append(int(local_only))
    await db.execute(f"UPDATE contacts SET {', '.join(sets)} WHERE id = ?", [*params, contact_id])


async def mark_archived(db: aiosqlite.Connection, ctx: RunContext, crm_ids: Sequence[str]) -> None:
    """Linked contacts whose CRM record was archived (deleted) are marked, never recreated by a push (B22)."""
    for start in range(0, len(crm_ids), 500):
        ids = list(crm_ids[start:start + 500])
        await db.execute(
            f"UPDATE contacts SET crm_state = 'archived', crm_note = 'archived (deleted) in the CRM; '"
            f" || 'contacts.restore re-creates it' WHERE crm_state = 'linked' AND id IN "
            f"(SELECT contact_id FROM crm_links WHERE +crm = ? AND crm_id IN ({','.join('?' * len(ids))}))",
            [ctx.crm, *ids])


async def _apply_merges(db: aiosqlite.Connection, ctx: RunContext, pairs: list[tuple[str, str]], stamp: int) -> None:
    """Local contacts linked to merged-away CRM ids move to the survivor (case B21)."""
    for merged_id, survivor_id in pairs:
        await _relink(db, ctx, merged_id, survivor_id, f"merged in the CRM: record {merged_id} into {survivor_id}",
                      stamp)


async def _relink(db: aiosqlite.Connection, ctx: RunContext, old_id: str, new_id: str, note: str, stamp: int, *,
                  object_type: str | None = None) -> None:
    """The local contact linked to CRM record ``old_id`` follows it to ``new_id`` (merged away, or a lead
    converted to a contact of ``object_type``): relinked when ``new_id`` has no local contact, else merged
    into that contact (each field keeps its newest value)."""
    async with db.execute("SELECT contact_id FROM crm_links WHERE +crm = ? AND crm_id = ?", (ctx.crm, old_id)) as cur:
        row = await cur.fetchone()
    if row is None:
        return
    duplicate = int(row[0])
    async with db.execute("SELECT contact_id FROM crm_links WHERE +crm = ? AND crm_id = ?", (ctx.crm, new_id)) as cur:
        row = await cur.fetchone()
    if row is None:
        await db.execute("UPDATE crm_links SET crm_id = ?, object_type = coalesce(?, object_type), "
                         "crm_updated_at = NULL WHERE contact_id = ?", (new_id, object_type, duplicate))
        return
    survivor = int(row[0])
    if survivor != duplicate:
        await merge_contacts(db, ctx, survivor, duplicate, note, stamp)


async def merge_contacts(db: aiosqlite.Connection, ctx: RunContext, survivor: int, duplicate: int, note: str,
                         stamp: int) -> None:
    """Fold ``duplicate`` into ``survivor``: a field whose duplicate value was edited locally more recently
    than the survivor's is copied over as a local edit (so it is pushed to the survivor's CRM record); the
    duplicate keeps its data, unlinked, marked merged."""
    fields = [m.local for m in ctx.mappings if m.local != "email"]
    rows: dict[int, aiosqlite.Row] = {}
    for contact_id in (survivor, duplicate):
        async with db.execute(f"SELECT c.id, {_LOCAL_COLS}, c.fields FROM contacts c WHERE c.id = ?",
                              (contact_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return
        rows[contact_id] = row
    edited, _ = await _local_state(db, [survivor, duplicate])
    mine, theirs = local_values(rows[survivor], fields), local_values(rows[duplicate], fields)
    copied = {f: v for f, v in theirs.items()
              if v is not None and v != mine.get(f) and edited.get((duplicate, f), 0) > edited.get((survivor, f), 0)}
    if copied:
        await _apply_local_changes(db, survivor, copied, False, stamp)
        await db.execute("UPDATE contacts SET local_rev = local_rev + 1 WHERE id = ?", (survivor,))
        await db.executemany(
            "INSERT INTO provenance(contact_id, field, source, sync_run_id, changed_at, previous) "
            "VALUES (?, ?, 'merge', ?, ?, ?) ON CONFLICT(contact_id, field) DO UPDATE SET source = 'merge', "
            "sync_run_id = excluded.sync_run_id, changed_at = excluded.changed_at, previous = excluded.previous",
            [(survivor, f, ctx.run_id, edited.get((duplicate, f), stamp), dumps(mine.get(f))) for f in copied])
    await db.execute("DELETE FROM crm_links WHERE contact_id = ?", (duplicate,))
    await db.execute("UPDATE contacts SET crm_state = 'merged', merged_into = ?, crm_note = ?, synced_rev = local_rev "
                     "WHERE id = ?", (survivor, note, duplicate))
