"""Local contacts: create, read, list with keyset paging, and local edits.

A local edit bumps ``local_rev``; the sync pushes contacts whose ``local_rev`` is ahead of
``synced_rev`` (the revision the CRM last confirmed).
"""

from __future__ import annotations

from typing import Any

import aiosqlite

from leadsync.agent import lifecycle
from leadsync.agent.field_rules import FieldRules
from leadsync.agent.store.queries import contacts as contact_rows
from leadsync.agent.store.queries import ownership_history
from leadsync.agent.store.queries.ownership_history import OwnershipChange
from leadsync.agent.store.store import Store, dumps, loads
from leadsync.agent.users import get_user, owner_for_user
from leadsync.agent.validation import clean_contact_fields
from leadsync.common.answers import ContactFilter
from leadsync.common.emails import normalize_email
from leadsync.common.errors import NotFoundError, ValidationError
from leadsync.common.instants import now_ms
from leadsync.common.models import STANDARD_FIELDS, Contact, ContactPage

_COLUMNS = ", ".join(f"c.{f}" for f in STANDARD_FIELDS)
SELECT_CONTACT = f"""
SELECT c.id, {_COLUMNS}, c.owner_id, c.created_by, c.source, c.fields, c.created_at, c.updated_at,
       c.local_rev, c.synced_rev, c.crm_state, l.crm_id, l.object_type,
       EXISTS (SELECT 1 FROM sync_errors e WHERE e.contact_id = c.id AND e.resolved_at IS NULL) AS has_error
FROM contacts c LEFT JOIN crm_links l ON l.contact_id = c.id
"""
MAX_PAGE = 500
MAX_QUERY_CHARS = 200


def row_to_contact(row: aiosqlite.Row) -> Contact:
    if row["has_error"]:
        state = "error"
    elif row["crm_state"] == "none":
        state = "local"
    elif row["local_rev"] > row["synced_rev"]:
        state = "pending"
    else:
        state = "synced"
    return Contact(
        id=row["id"], **{f: row[f] for f in STANDARD_FIELDS}, owner_id=row["owner_id"],
        created_by=row["created_by"], source=row["source"], fields=loads(row["fields"]) or {},
        created_at=row["created_at"], updated_at=row["updated_at"], crm_id=row["crm_id"],
        crm_object_type=row["object_type"], crm_state=row["crm_state"], sync_state=state,
    )


async def get_contact(store: Store, contact_id: int) -> Contact:
    """One contact by id; raises NotFoundError."""
    row = await store.fetchone(SELECT_CONTACT + " WHERE c.id = ?", (contact_id,))
    if row is None:
        raise NotFoundError(f"no contact with id {contact_id}")
    return row_to_contact(row)


def filter_sql(flt: ContactFilter) -> tuple[list[str], list[Any]]:
    """SQL conditions (on ``contacts c``) and their params for a filter; raises ValidationError."""
    where: list[str] = []
    params: list[Any] = []
    if flt.owner is not None:
        if "@" in flt.owner:
            where.append("c.owner_id = (SELECT crm_id FROM owners WHERE email_norm = ? LIMIT 1)")
            params.append(normalize_email(flt.owner))
        else:
            where.append("c.owner_id = ?")
            params.append(flt.owner)
    if flt.lifecycle_stage is not None:
        where.append("c.lifecycle_stage = ?")
        params.append(flt.lifecycle_stage)
    if flt.min_score is not None:
        where.append("c.lead_score >= ?")
        params.append(flt.min_score)
    if flt.created_by is not None:
        where.append("c.created_by = ?")
        params.append(flt.created_by)
    if flt.q:
        text = flt.q.strip().lower()
        if len(text) > MAX_QUERY_CHARS:
            raise ValidationError(f"q: at most {MAX_QUERY_CHARS} characters")
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append("(c.email_norm LIKE ? ESCAPE '\\' OR c.first_name LIKE ? ESCAPE '\\' "
                     "OR c.last_name LIKE ? ESCAPE '\\' "
                     "OR (coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')) LIKE ? ESCAPE '\\')")
        params += ["%" + escaped + "%"] * 4
    if flt.sync_state is not None:
        if flt.sync_state not in SYNC_STATES:
            raise ValidationError(f"sync_state: one of {', '.join(SYNC_STATES)}")
        where.append(SYNC_STATES[flt.sync_state])
    return where, params


SYNC_STATES = {
    "local": "c.crm_state = 'none'",
    "pending": "c.crm_state != 'none' AND c.local_rev > c.synced_rev",
    "synced": "c.crm_state != 'none' AND c.local_rev <= c.synced_rev",
    "error": "EXISTS (SELECT 1 FROM sync_errors e WHERE e.contact_id = c.id AND e.resolved_at IS NULL)",
    "archived": "c.crm_state = 'archived'",
}


async def list_contacts(store: Store, flt: ContactFilter, *, after: int | None = None, limit: int = 100,
                        visible: tuple[str, list[Any]] | None = None) -> ContactPage:
    """A page of contacts ordered by id, starting after id ``after`` (keyset paging: cost does not grow
    with the page number). ``limit`` is 1..500. ``visible`` is an extra SQL condition and params that
    restricts the rows to what one user may see (see :mod:`leadsync.agent.sharing`)."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit: must be 1..{MAX_PAGE}")
    where, params = filter_sql(flt)
    where.insert(0, "c.id > ?")
    params.insert(0, after or 0)
    if visible is not None:
        where.append(visible[0])
        params += visible[1]
    sql = SELECT_CONTACT + " WHERE " + " AND ".join(where) + " ORDER BY c.id LIMIT ?"
    rows = await store.fetchall(sql, [*params, limit + 1])
    contacts = [row_to_contact(r) for r in rows[:limit]]
    return ContactPage(contacts=contacts, next_after=contacts[-1].id if len(rows) > limit else None)


async def create_contact(store: Store, values: dict[str, Any], *, created_by: int,
                         source: str = "api", push: bool = True, rules: FieldRules | None = None) -> Contact:
    """Create a local contact owned by its creator (the creator's CRM owner, when matched).

    ``values``: standard fields (see ``STANDARD_FIELDS``) plus custom fields; ``email`` is required and
    must be unique (trimmed, case-insensitive). A new contact is a lead (lifecycle stage ``lead``)
    unless told otherwise, and is marked for push. Raises ValidationError, NotFoundError (creator),
    OwnerReadOnlyError for the owner under any name (:mod:`leadsync.agent.field_rules`, ``rules``).
    """
    (rules or FieldRules()).refuse_owner(values, new=True)
    clean = clean_contact_fields(values)
    if not clean.get("email"):
        raise ValidationError("email: is required")
    await get_user(store, created_by)
    matched = await owner_for_user(store, created_by)
    clean.setdefault("lifecycle_stage", "lead")
    standard = {f: clean.pop(f, None) for f in STANDARD_FIELDS}
    stamp = now_ms()
    async with store.transaction() as db:
        key = normalize_email(standard["email"]) or None
        async with db.execute("SELECT id FROM contacts WHERE email_norm = ?", (key,)) as cur:
            existing = await cur.fetchone()
        if existing:
            raise ValidationError(f"email: contact {existing[0]} already has {standard['email']!r}",
                                  data={"contact_id": existing[0]})
        cols = ", ".join(STANDARD_FIELDS)
        marks = ", ".join("?" for _ in STANDARD_FIELDS)
        async with db.execute(
            f"INSERT INTO contacts({cols}, email_norm, owner_id, created_by, source, fields, created_at, "
            f"updated_at, push_wanted) VALUES ({marks}, ?, ?, ?, ?, ?, ?, ?, ?)",
            [*standard.values(), key, matched[0] if matched else None, created_by, source, dumps(clean),
             stamp, stamp, int(push)],
        ) as cur:
            contact_id = cur.lastrowid
    assert contact_id is not None
    return await get_contact(store, contact_id)


async def update_contact(store: Store, contact_id: int, values: dict[str, Any], *, source: str = "local",
                         force: bool = False, rules: FieldRules | None = None) -> Contact:
    """Apply a local edit (standard and custom fields; a None value clears the field) and record each
    changed field's provenance (``source``, time, previous value).

    Refused: the owner under any name (OwnerReadOnlyError: the CRM decides ownership); with ``rules``, a
    field the store does not know (ValidationError listing the known ones, :mod:`leadsync.agent.field_rules`);
    a lifecycle stage moved backwards unless ``force`` (StageDemotionError, :mod:`leadsync.agent.lifecycle`).
    Raises NotFoundError for an unknown contact, ValidationError for bad values."""
    (rules or FieldRules()).refuse_owner(values)
    clean = clean_contact_fields(values)
    current = await get_contact(store, contact_id)
    if rules is not None:
        await rules.require_known(store, current, clean)
    standard = {f: clean.pop(f) for f in list(clean) if f in STANDARD_FIELDS}
    if "email" in standard and standard["email"] is None:
        raise ValidationError("email: cannot be cleared")
    if lifecycle.FIELD in standard:
        lifecycle.check_stage_change(current.lifecycle_stage, standard[lifecycle.FIELD], force=force)
    fields = dict(current.fields)
    for name, value in clean.items():
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
    sets = [f"{f} = ?" for f in standard]
    params: list[Any] = list(standard.values())
    if "email" in standard:
        sets.append("email_norm = ?")
        params.append(normalize_email(standard["email"]) or None)
    before = {**current.fields, **{f: getattr(current, f) for f in STANDARD_FIELDS}}
    changed = {f: v for f, v in {**standard, **clean}.items() if before.get(f) != v}
    if not changed:
        return current
    stamp = now_ms()
    async with store.transaction() as db:
        try:
            await db.execute(
                f"UPDATE contacts SET {', '.join([*sets, 'fields = ?', 'updated_at = ?'])}, "
                "local_rev = local_rev + 1 WHERE id = ?",
                [*params, dumps(fields), stamp, contact_id],
            )
        except aiosqlite.IntegrityError:
            raise ValidationError(f"email: another contact already has {standard.get('email')!r}") from None
        await record_provenance(db, contact_id, {f: before.get(f) for f in changed}, source, None, stamp)
    return await get_contact(store, contact_id)


async def mark_lead(store: Store, contact_id: int, *, force: bool = False) -> Contact:
    """Make a contact a lead (lifecycle stage ``lead``) and mark it to push as such.

    A contact already past lead (MQL, SQL, opportunity, customer, evangelist) is refused with its stage
    (StageDemotionError) unless ``force``: then it is set back to lead, and HubSpot gets it as a clear,
    then the set (its stages only move forward unless cleared). Raises NotFoundError."""
    contact = await update_contact(store, contact_id, {lifecycle.FIELD: "lead"}, force=force)
    async with store.transaction() as db:
        await contact_rows.want_push(db, [contact_id])
    return contact


async def restore_contact(store: Store, contact_id: int) -> Contact:
    """Unlink a contact archived (deleted) in the CRM and mark it to push, so the next push re-creates it.

    Raises NotFoundError, and ValidationError unless the contact is archived in the CRM."""
    contact = await get_contact(store, contact_id)
    if contact.crm_state != "archived":
        raise ValidationError(f"contact {contact_id} is {contact.crm_state}, not archived in the CRM")
    async with store.transaction() as db:
        await contact_rows.unlink_for_recreate(db, contact_id)
    return await get_contact(store, contact_id)


async def delete_contact(store: Store, contact_id: int) -> None:
    """Delete a contact locally (its CRM record is not touched)."""
    async with store.transaction() as db:
        await contact_rows.delete(db, contact_id)


async def owner_history(store: Store, contact_id: int) -> list[OwnershipChange]:
    """A contact's owner changes, oldest first; raises NotFoundError."""
    await get_contact(store, contact_id)
    return await ownership_history.for_contact(store, contact_id)


async def record_provenance(db: aiosqlite.Connection, contact_id: int, previous: dict[str, Any], source: str,
                            run_id: int | None, stamp: int) -> None:
    """Record where the current value of each field in ``previous`` came from (``previous`` maps the
    field to the value it replaced)."""
    await db.executemany(
        "INSERT INTO provenance(contact_id, field, source, sync_run_id, changed_at, previous) "
        "VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(contact_id, field) DO UPDATE SET source = excluded.source, sync_run_id = excluded.sync_run_id, "
        "changed_at = excluded.changed_at, previous = excluded.previous",
        [(contact_id, f, source, run_id, stamp, dumps(v)) for f, v in previous.items()])


async def get_provenance(store: Store, contact_id: int) -> dict[str, dict[str, Any]]:
    """Per field: ``{source, sync_run_id, changed_at, previous}`` for fields changed since leadsync knew them."""
    rows = await store.fetchall("SELECT * FROM provenance WHERE contact_id = ? ORDER BY field", (contact_id,))
    return {r["field"]: {"source": r["source"], "sync_run_id": r["sync_run_id"], "changed_at": r["changed_at"],
                         "previous": loads(r["previous"])} for r in rows}
