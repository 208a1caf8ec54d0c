"""``contacts.*``: local contacts, what each user sees of them, and pushes asked for by hand or by score."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from leadsync.agent import conflicts, contacts, pushes, sharing, smartlists, todos, users
from leadsync.agent.api.registry import ApiContext, Params, method
from leadsync.agent.field_rules import rules_of
from leadsync.agent.importing.apply import import_contacts
from leadsync.agent.store.queries import sync_errors
from leadsync.agent.store.queries.ownership_history import OwnershipChange
from leadsync.common.answers import ContactFilter, Sharing
from leadsync.common.csvio import ImportRow
from leadsync.common.importfile.report import ImportReport
from leadsync.common.models import Contact, ContactPage, SyncRun


class ContactsList(Params):
    filter: ContactFilter = msgspec.field(default_factory=ContactFilter)
    after: int | None = None
    limit: int = 100
    as_user: int | str | None = None
    smart_list: int | None = None


class ContactsCount(Params):
    filter: ContactFilter = msgspec.field(default_factory=ContactFilter)
    as_user: int | str | None = None
    smart_list: int | None = None


class ContactsGet(Params):
    id: int
    as_user: int | str | None = None
    include: list[Literal["provenance", "conflicts", "owner_history", "errors", "todos"]] = msgspec.field(
        default_factory=list)


class ContactsIds(Params):
    ids: list[int]
    wait: bool = True


class ContactId(Params):
    id: int


class ContactsMarkLead(Params):
    id: int
    force: bool = False


class ContactsDelete(Params):
    id: int
    also_in_crm: bool = False


class ContactScore(Params):
    id: int
    score: int


class ContactsCreate(Params):
    fields: dict[str, Any]
    created_by: int | str
    source: Literal["api", "form", "import"] = "api"


class ContactsUpdate(Params):
    id: int
    fields: dict[str, Any]
    force: bool = False


class ContactsImport(Params):
    as_user: int | str
    header: list[str]
    rows: list[ImportRow]
    dry_run: bool = False
    import_id: str | None = None
    mapping: dict[str, str] | None = None
    skip: list[str] | None = None
    date_format: str | None = None
    date_columns: dict[str, str] | None = None
    last: bool = False


@method("contacts.list", ContactsList)
async def contacts_list(ctx: ApiContext, p: ContactsList) -> ContactPage:
    """A page of contacts (keyset: pass next_after back as after), filtered; as_user: only what that user sees."""
    flt = p.filter if p.smart_list is None else await smartlists.narrowed_filter(ctx.store, p.smart_list, p.filter)
    visible = await sharing.visibility_condition(ctx.store, p.as_user) if p.as_user is not None else None
    return await contacts.list_contacts(ctx.store, flt, after=p.after, limit=p.limit, visible=visible)


@method("contacts.count", ContactsCount)
async def contacts_count(ctx: ApiContext, p: ContactsCount) -> dict[str, int]:
    """How many contacts contacts.list would give for the same filter, smart_list and as_user: {count}."""
    flt = p.filter if p.smart_list is None else await smartlists.narrowed_filter(ctx.store, p.smart_list, p.filter)
    visible = await sharing.visibility_condition(ctx.store, p.as_user) if p.as_user is not None else None
    return {"count": await contacts.count_contacts(ctx.store, flt, visible=visible)}


@method("contacts.get", ContactsGet)
async def contacts_get(ctx: ApiContext, p: ContactsGet) -> Contact | dict[str, Any]:
    """One contact by id (as_user: NOT_FOUND unless that user may see it)."""
    store = ctx.store
    if p.as_user is not None:
        await sharing.require_visible(store, p.id, p.as_user)
    contact = await contacts.get_contact(store, p.id)
    if not p.include:
        return contact
    answer: dict[str, Any] = msgspec.to_builtins(contact)
    if "provenance" in p.include:
        answer["provenance"] = await contacts.get_provenance(store, p.id)
    if "conflicts" in p.include:
        answer["conflicts"] = await conflicts.list_conflicts(store, contact_id=p.id, include_resolved=True)
    if "owner_history" in p.include:
        answer["owner_history"] = await contacts.owner_history(store, p.id)
    if "errors" in p.include:
        answer["errors"] = await sync_errors.list_errors(store, include_resolved=True, contact_id=p.id, limit=100)
    if "todos" in p.include:
        answer["todos"] = await todos.list_todos(store, contact_id=p.id)
    return answer


@method("contacts.restore", ContactId)
async def contacts_restore(ctx: ApiContext, p: ContactId) -> Contact:
    """Re-create in the CRM a contact archived (deleted) there: unlinks it and marks it for push."""
    return await contacts.restore_contact(ctx.store, p.id)


@method("contacts.delete", ContactsDelete)
async def contacts_delete(ctx: ApiContext, p: ContactsDelete) -> dict[str, Any]:
    """Delete a contact locally; the CRM record stays unless also_in_crm and the crm_delete_enabled setting."""
    contact = await contacts.get_contact(ctx.store, p.id)
    archived = await pushes.delete_in_crm(ctx.agent, contact) if p.also_in_crm else False
    await contacts.delete_contact(ctx.store, p.id)
    ctx.agent.emit({"type": "contact_changed", "contact_id": p.id, "change": "deleted"})
    return {"deleted": p.id, "crm_id": contact.crm_id, "deleted_in_crm": archived}


@method("contacts.sharing", ContactId)
async def contacts_sharing(ctx: ApiContext, p: ContactId) -> Sharing:
    """The owner and every user the contact is shared to, each with the reasons (owner, team, admin,
    smart_list, todo, creator)."""
    return await sharing.contact_sharing(ctx.store, p.id)


@method("contacts.owner_history", ContactId)
async def contacts_owner_history(ctx: ApiContext, p: ContactId) -> list[OwnershipChange]:
    """Ownership changes of a contact: old and new CRM owner, source (crm, todo, create), sync run, when."""
    return await contacts.owner_history(ctx.store, p.id)


@method("contacts.mark_lead", ContactsMarkLead)
async def contacts_mark_lead(ctx: ApiContext, p: ContactsMarkLead) -> Contact:
    """Make a contact a lead (lifecycle stage lead); it is pushed as such. A contact past lead (MQL to
    evangelist) is refused with its stage unless force."""
    contact = await contacts.mark_lead(ctx.store, p.id, force=p.force)
    ctx.agent.emit({"type": "contact_changed", "contact_id": p.id, "change": "marked_lead"})
    return contact


@method("contacts.push", ContactsIds)
async def contacts_push(ctx: ApiContext, p: ContactsIds) -> SyncRun:
    """Sync to CRM now: push these contacts (manual trigger); answers with the run and its writes."""
    return await pushes.push_contacts(ctx.agent, p.ids, wait=p.wait)


@method("contacts.create", ContactsCreate)
async def contacts_create(ctx: ApiContext, p: ContactsCreate) -> Contact:
    """Create a contact owned by its creator (a user id or email); it is pushed as a lead. A lead score at or
    above the threshold pushes it within seconds."""
    creator = await users.find_user(ctx.store, p.created_by)
    contact = await contacts.create_contact(ctx.store, p.fields, created_by=creator.id, source=p.source,
                                            rules=rules_of(ctx.agent))
    ctx.agent.emit({"type": "contact_changed", "contact_id": contact.id, "change": "created"})
    await pushes.score_changed(ctx.agent, contact.id, None, contact.lead_score)
    return contact


@method("contacts.update", ContactsUpdate)
async def contacts_update(ctx: ApiContext, p: ContactsUpdate) -> Contact:
    """Edit a contact's fields locally (None clears a field); owners are refused (the CRM decides). So are
    fields the store does not know, and a lifecycle stage moved backwards unless force."""
    before = await contacts.get_contact(ctx.store, p.id)
    contact = await contacts.update_contact(ctx.store, p.id, p.fields, force=p.force, rules=rules_of(ctx.agent))
    ctx.agent.emit({"type": "contact_changed", "contact_id": contact.id, "change": "updated"})
    await pushes.score_changed(ctx.agent, contact.id, before.lead_score, contact.lead_score)
    return contact


@method("contacts.score", ContactScore)
async def contacts_score(ctx: ApiContext, p: ContactScore) -> dict[str, Any]:
    """Set a contact's lead score (interest level); reaching the threshold pushes it within seconds."""
    before = await contacts.get_contact(ctx.store, p.id)
    contact = await contacts.update_contact(ctx.store, p.id, {"lead_score": p.score})
    pushed = await pushes.score_changed(ctx.agent, contact.id, before.lead_score, contact.lead_score)
    ctx.agent.emit({"type": "contact_changed", "contact_id": contact.id, "change": "scored"})
    return {"contact": contact, "threshold_push": pushed}


@method("contacts.import", ContactsImport)
async def contacts_import(ctx: ApiContext, p: ContactsImport) -> ImportReport:
    """Import CSV rows ([line, values] under a header) owned by as_user (or the owner a row names); bad rows
    come back in failed, rows to review in warnings (line, column, value, message); dry_run writes nothing.
    A file sent in chunks shares import_id; last: true on its final chunk frees what the agent kept for it."""
    return await import_contacts(ctx.agent, **msgspec.structs.asdict(p))
