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
from leadsync.agent.store.queries import contacts_local as local_rows
from leadsync.agent.store.queries import ownership_history, provenance
from leadsync.agent.store.queries.contact_filter import filter_sql
from leadsync.agent.store.queries.contact_search import search_text
from leadsync.agent.store.queries.ownership_history import OwnershipChange
from leadsync.agent.store.store import Store
from leadsync.agent.users import get_user, owner_for_user
from leadsync.agent.validation import clean_contact_fields
from leadsync.common.answers import ContactFilter
from leadsync.common.emails import normalize_email
from leadsync.common.errors import NotFoundError, ValidationError
from leadsync.common.instants import now_ms
from leadsync.common.models import STANDARD_FIELDS, Contact, ContactPage

MAX_PAGE = 500


async def get_contact(store: Store, contact_id: int) -> Contact:
    """One contact by id; raises NotFoundError."""
    contact = await local_rows.contact_by_id(store, contact_id)
    if contact is None:
        raise NotFoundError(f"no contact with id {contact_id}")
    return contact


async def list_contacts(store: Store, flt: ContactFilter, *, after: int | None = None, limit: int = 100,
                        visible: tuple[str, list[Any]] | None = None) -> ContactPage:
    """A page of contacts ordered by id, starting after id ``after`` (keyset paging: cost does not grow
    with the page number). ``limit`` is 1..500. ``visible`` is an extra SQL condition and params that
    restricts the rows to what one user may see (see :mod:`leadsync.agent.sharing`)."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit: must be 1..{MAX_PAGE}")
    where, params = filter_sql(flt, text_search=False)
    if visible is not None:
        where.append(visible[0])
        params += visible[1]
    text = search_text(flt.q) if flt.q else None
    found = await local_rows.contacts_after(store, after or 0, where, params, limit + 1, text=text or None)
    contacts = found[:limit]
    return ContactPage(contacts=contacts, next_after=contacts[-1].id if len(found) > limit else None)


async def count_contacts(store: Store, flt: ContactFilter, *,
                         visible: tuple[str, list[Any]] | None = None) -> int:
    """How many contacts ``list_contacts`` would page through for ``flt`` and ``visible`` (one count, no rows)."""
    where, params = filter_sql(flt)
    if visible is not None:
        where.append(visible[0])
        params += visible[1]
    return await local_rows.count_where(store, where, params)


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
        existing = await local_rows.contact_id_with_email(db, key)
        if existing:
            raise ValidationError(f"email: contact {existing} already has {standard['email']!r}",
                                  data={"contact_id": existing})
        contact_id = await local_rows.insert_contact(db, local_rows.NewContact(
            standard=standard, email_norm=key, owner_id=matched[0] if matched else None, created_by=created_by,
            source=source, fields=clean, stamp=stamp, push=push))
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
    before = {**current.fields, **{f: getattr(current, f) for f in STANDARD_FIELDS}}
    changed = {f: v for f, v in {**standard, **clean}.items() if before.get(f) != v}
    if not changed:
        return current
    stamp = now_ms()
    async with store.transaction() as db:
        try:
            await local_rows.edit_contact(db, contact_id, standard, fields=fields, stamp=stamp,
                                          email_norm=normalize_email(standard.get("email")) or None)
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
    await provenance.upsert_field_changes(db, [
        provenance.FieldChange(contact_id=contact_id, field=f, source=source, sync_run_id=run_id, changed_at=stamp,
                               previous=v) for f, v in previous.items()])


async def get_provenance(store: Store, contact_id: int) -> dict[str, dict[str, Any]]:
    """Per field: ``{source, sync_run_id, changed_at, previous}`` for fields changed since leadsync knew them."""
    return {c.field: {"source": c.source, "sync_run_id": c.sync_run_id, "changed_at": c.changed_at,
                      "previous": c.previous} for c in await provenance.for_contact(store, contact_id)}
