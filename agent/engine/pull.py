"""Pull: apply one page of CRM records to the store, in one transaction with the cursor checkpoint.

The steps of a page (:func:`apply_pull_page`):

1. *set aside* the records deleted, merged away or converted in the CRM: never merged in;
2. *match* each other record to its local contact: by CRM link, else the contact that claims it (one whose
   create the CRM refused as a duplicate of it, see :mod:`~leadsync.agent.engine.duplicates`), else by email
   (trimmed and case-insensitive, case B11), else none (a new contact);
3. *merge* field by field against the base value (:mod:`leadsync.agent.engine.merge`) into the page's
   writes (:class:`~leadsync.agent.engine.page_writes.PageWrites`): conflicts are recorded with both
   values; every local value the CRM changed gets its provenance (side, sync run, time, previous value);
   ownership always comes from the CRM, a change is appended to the contact's ownership history;
4. *write* them, each table in one statement (:func:`~leadsync.agent.engine.page_writes.write_page`);
5. *relink*: contacts of archived records are marked; those of records merged away (HubSpot
   ``hs_merged_object_ids``, Salesforce ``MasterRecordId``, case B21) or converted follow the survivor
   (:mod:`leadsync.agent.engine.relink`); then the cursor is saved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from leadsync.agent.connectors.base import CrmRecord
from leadsync.agent.engine.context import RunContext
from leadsync.agent.engine.mapping import ConversionError, from_wire, wire_reader
from leadsync.agent.engine.merge import KEEP, FieldDecision, first_link, hold_demotion, merge_field
from leadsync.agent.engine.page_writes import LocalChange, PageWrites, write_page
from leadsync.agent.engine.relink import Relink, follow_records
from leadsync.agent.store.queries import conflicts, contacts, cursors, provenance
from leadsync.agent.store.queries.base_values import BaseValue
from leadsync.agent.store.queries.conflicts import NewConflict
from leadsync.agent.store.queries.contacts import PulledContact, StoredContact
from leadsync.agent.store.queries.links import Link
from leadsync.agent.store.queries.provenance import FieldChange
from leadsync.agent.store.queries.sync_errors import NewSyncError
from leadsync.common.answers import FieldMapping
from leadsync.common.emails import normalize_email
from leadsync.common.instants import now_ms
from leadsync.common.models import STANDARD_FIELDS

_STD = frozenset(STANDARD_FIELDS)


async def apply_pull_page(db: aiosqlite.Connection, ctx: RunContext, records: Sequence[CrmRecord],
                          cursor: dict[str, Any] | None, object_type: str,
                          claims: Mapping[str, int] | None = None,
                          values: Mapping[tuple[str, str], PulledValues] | None = None) -> list[int]:
    """Apply ``records`` (``object_type`` records of one pulled page) and save ``cursor`` (when not None)
    inside the caller's transaction. A record seen twice in a page: the later copy wins. ``claims`` {CRM id:
    contact id}: an unlinked contact to link to that record (first-link merge) whatever its email says.
    ``values``: :func:`page_values` of ``records`` when worked out before (else here, once for the page).

    Returns the ids of the local contacts created or changed."""
    page = PageWrites(object_type, now_ms())
    live = set_aside_departed(page, {r.id: r for r in records})
    if live:
        merge = PageMerge(ctx, page, await match_records(db, ctx, live, claims or {}),
                          page_values(ctx, live) if values is None else values)
        for record in live:
            merge.record(record)
    await write_page(db, page, ctx.run_id)
    ctx.counts.failed += len(page.errors)  # a record or value not taken in: the run says so (partial)
    if page.archived:
        await contacts.mark_archived(db, ctx.crm, page.archived)
    await follow_records(db, ctx, page.merges, page.stamp)
    await follow_records(db, ctx, page.conversions, page.stamp)
    if cursor is not None:
        await cursors.save_cursor(db, ctx.crm, object_type, cursor, page.stamp)
    return page.changed_contact_ids()


def set_aside_departed(page: PageWrites, by_id: dict[str, CrmRecord]) -> list[CrmRecord]:
    """The records of ``by_id`` to merge in; those deleted, merged away or converted in the CRM are noted in
    ``page`` for the relink step instead."""
    live: list[CrmRecord] = []
    for record in by_id.values():
        if not (record.archived or record.converted_to_id):
            live.append(record)
        elif record.archived and record.merged_into_id:
            page.merges.append(merged_away(record.id, record.merged_into_id))
        elif record.archived:
            page.archived.append(record.id)
        elif record.converted_to_type is not None and record.converted_to_id:
            page.conversions.append(Relink(record.id, record.converted_to_id, f"converted in the CRM: lead "
                                           f"{record.id} became {record.converted_to_type} {record.converted_to_id}",
                                           object_type=record.converted_to_type))
    return live


def merged_away(merged_id: str, survivor_id: str) -> Relink:
    """The move of the contact linked to CRM record ``merged_id``, merged into ``survivor_id`` in the CRM."""
    return Relink(merged_id, survivor_id, f"merged in the CRM: record {merged_id} into {survivor_id}")


@dataclass
class Matches:
    """The local side of a page: contacts ``linked`` to its records (by CRM id), contacts with their emails
    (``by_email``, by match key), when their fields were last edited locally (``edited_at``: {(contact,
    field): epoch ms}), their fields in an undecided conflict, and the highest contact id."""

    linked: dict[str, StoredContact]
    by_email: dict[str, StoredContact]
    edited_at: dict[tuple[int, str], int]
    undecided: set[tuple[int, str]]
    top_id: int
    claimed: dict[str, StoredContact] = field(default_factory=dict)
    """Unlinked contacts that claim a record of the page, by CRM id (see :func:`apply_pull_page`)."""
    created: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Contacts this page creates, by email match key: (contact id, CRM id)."""


async def match_records(db: aiosqlite.Connection, ctx: RunContext, records: Sequence[CrmRecord],
                        claims: Mapping[str, int]) -> Matches:
    """Find the local contacts of ``records`` (five statements, whatever the page size; one more with
    ``claims``)."""
    linked = await contacts.linked_contacts(db, ctx.crm, [r.id for r in records])
    wanted = {crm_id: contact_id for crm_id, contact_id in claims.items() if crm_id not in linked}
    found = await contacts.stored_contacts(db, sorted(set(wanted.values())))
    claimed = {crm_id: found[c] for crm_id, c in wanted.items() if c in found and found[c].crm_id is None}
    email_property = ctx.connector.capabilities.email_property
    emails = {normalize_email(r.properties.get(email_property)) for r in records
              if r.id not in linked and r.id not in claimed}
    by_email = await contacts.contacts_with_emails(db, sorted(e for e in emails if e))
    contact_ids = [c.id for c in (*linked.values(), *by_email.values(), *claimed.values())]
    return Matches(linked, by_email, await provenance.local_edit_times(db, contact_ids),
                   await conflicts.undecided_fields(db, contact_ids), await contacts.max_contact_id(db), claimed)


PulledField = tuple[str, str, Callable[[Any], Any]]
"""A pulled field of one object type: its local field, its CRM property and that property's
:func:`~leadsync.agent.engine.mapping.wire_reader`."""


def pulled_fields(ctx: RunContext, object_type: str) -> list[PulledField]:
    """The fields a pull of ``object_type`` records reads (worked out once a page, not once a record)."""
    return [(m.local, name, wire_reader(ctx.properties.get(name), m))
            for m in ctx.pull_mappings for name in (m.crm_for(object_type),)]


PulledValues = tuple[dict[str, Any], list[str]]
"""A record's mapped values converted to local types, and why any value was left out (:func:`record_values`)."""


def page_values(ctx: RunContext, records: Sequence[CrmRecord]) -> dict[tuple[str, str], PulledValues]:
    """:func:`record_values` of each of ``records`` by (object type, CRM id), the later of two copies winning
    as in :func:`apply_pull_page`: worked out before the page's transaction (on the event loop, while the
    store's thread works on the page before)."""
    fields: dict[str, list[PulledField]] = {}
    out: dict[tuple[str, str], PulledValues] = {}
    for record in records:
        of_type = fields.get(record.object_type)
        if of_type is None:
            of_type = fields[record.object_type] = pulled_fields(ctx, record.object_type)
        problems: list[str] = []
        out[(record.object_type, record.id)] = (record_values(ctx, record, problems, of_type), problems)
    return out


def record_values(ctx: RunContext, record: CrmRecord, errors: list[str],
                  fields: Sequence[PulledField] | None = None) -> dict[str, Any]:
    """The record's mapped values converted to local types (``fields``: :func:`pulled_fields` of its object
    type, worked out here when None). A property absent from the record is left out (absent is not cleared:
    only an explicit null or ``""`` is a blank); so is one that fails to convert, with the reason in
    ``errors``."""
    values: dict[str, Any] = {}
    properties = record.properties
    for local, name, read in pulled_fields(ctx, record.object_type) if fields is None else fields:
        if name not in properties:
            continue
        try:
            values[local] = read(properties[name])
        except ConversionError as exc:
            errors.append(str(exc))
    if isinstance(values.get("email"), str):
        values["email"] = values["email"].strip()
    return values


def crm_value(record: CrmRecord, mapping: FieldMapping, ctx: RunContext) -> Any:
    """The CRM's value of a mapped field in ``record`` as a local value (the wire text if it won't convert)."""
    try:
        name = mapping.crm_for(record.object_type)
        return from_wire(record.properties.get(name), ctx.properties.get(name), mapping)
    except ConversionError:
        return record.properties.get(mapping.crm_for(record.object_type))


class PageMerge:
    """The merge step of one page: each record merged with its local contact (:class:`Matches`) into the
    page's writes: a linked contact is updated, else one with the same email is linked, else a contact is
    created (an email already linked to another CRM record is refused with a ``duplicate_email`` error)."""

    def __init__(self, ctx: RunContext, page: PageWrites, matches: Matches,
                 values: Mapping[tuple[str, str], PulledValues]) -> None:
        self.ctx = ctx
        self.values = values
        self.page = page
        self.matches = matches
        self.mappings = {m.local: m for m in ctx.pull_mappings}
        self.owner_property = ctx.connector.capabilities.owner_property

    def record(self, record: CrmRecord) -> None:
        """Merge ``record`` into the page's writes."""
        ctx, page = self.ctx, self.page
        crm_vals, problems = self.values[(record.object_type, record.id)]
        owner = record.properties.get(self.owner_property) or None
        local = self.matches.linked.get(record.id)
        if local is None or local.crm_updated_at != record.updated_at_ms:
            ctx.counts.pulled += 1  # a new version; re-reads of the overlap window are not counted
        page.errors += [self._error(local.id if local else None, record.id, "pull", "conversion", reason)
                        for reason in problems]
        page.merges += [merged_away(merged_id, record.id) for merged_id in record.merged_ids]
        if local is not None:
            self._update(record, local, crm_vals, owner)
            return
        claimant = self.matches.claimed.get(record.id)
        if claimant is not None:
            self._link(record, claimant, crm_vals, owner)
            return
        key = normalize_email(crm_vals.get("email"))
        claimed = self.matches.created.get(key) if key else None
        match = self.matches.by_email.get(key) if key else None
        if claimed is None and match is not None and match.crm_id is not None:
            claimed = (match.id, match.crm_id)
        if claimed is not None:
            contact_id, other = claimed
            page.errors.append(self._error(contact_id, record.id, "link", "duplicate_email",
                                           f"CRM record {record.id} has the same email as CRM record {other}, "
                                           f"already linked to contact {contact_id}; not linked"))
        elif match is None:
            self._create(record, crm_vals, key, owner)
        else:
            self._link(record, match, crm_vals, owner)

    def _error(self, contact_id: int | None, crm_id: str, operation: str, code: str, reason: str) -> NewSyncError:
        return NewSyncError(self.ctx.run_id, contact_id, crm_id, operation, code, reason, None, self.page.stamp)

    def _link_to(self, contact_id: int, record: CrmRecord) -> None:
        page = self.page
        page.links.append(Link(contact_id, self.ctx.crm, page.object_type, record.id, record.updated_at_ms,
                               page.stamp))

    def _create(self, record: CrmRecord, crm_vals: dict[str, Any], key: str, owner: str | None) -> None:
        """A new local contact from ``record``, linked to it, its base the CRM's values."""
        ctx, page = self.ctx, self.page
        self.matches.top_id += 1
        contact_id = self.matches.top_id
        extra = {k: v for k, v in crm_vals.items() if k not in _STD and v is not None}
        page.new_contacts.append(PulledContact(contact_id, {f: crm_vals.get(f) for f in STANDARD_FIELDS},
                                               key or None, owner,
                                               extra, record.created_at_ms or page.stamp, page.stamp))
        self._link_to(contact_id, record)
        page.bases.append(BaseValue(contact_id, crm_vals, ctx.run_id, page.stamp))
        ctx.counts.created_local += 1
        if ctx.plan is not None:
            ctx.plan.add("local", "create", None, record.id,
                         {f: [None, v] for f, v in crm_vals.items() if v is not None})
        if key:
            self.matches.created[key] = (contact_id, record.id)

    def _link(self, record: CrmRecord, match: StoredContact, crm_vals: dict[str, Any], owner: str | None) -> None:
        """Link ``record`` to the unlinked contact ``match`` (with its email, or claiming it: a first link, no
        base yet)."""
        current = match.values(self.mappings)
        decisions = {f: hold_demotion(f, first_link(v, current.get(f)), current.get(f), link=True)
                     for f, v in crm_vals.items()}
        self.ctx.counts.linked += 1
        self._link_to(match.id, record)
        local_only = any((d.base is None and current.get(f) is not None) or d.winner == "local"
                         for f, d in decisions.items())  # values the push sends: local-only, or the later stage
        self._stage(match.id, record, current, {}, decisions, "link", owner, local_only=local_only)

    def _update(self, record: CrmRecord, local: StoredContact, crm_vals: dict[str, Any], owner: str | None) -> None:
        """Merge ``record`` into its linked contact ``local``, field by field against the base."""
        current = local.values(self.mappings)
        edited_at, undecided = self.matches.edited_at, self.matches.undecided
        decisions: dict[str, FieldDecision] = {}
        for name, theirs in crm_vals.items():
            decision = hold_demotion(name, merge_field(self.mappings[name], local.base.get(name), current.get(name),
                                                       theirs, edited_at.get((local.id, name)), record.updated_at_ms,
                                                       local.synced_at), current.get(name))
            if decision.winner == "none" and (local.id, name) in undecided:
                decision = FieldDecision()  # already recorded and waiting for a person
            decisions[name] = decision
        self._link_to(local.id, record)
        self._stage(local.id, record, current, local.base, decisions, "update", owner, local_only=False,
                    owner_before=local.owner_id)

    def _stage(self, contact_id: int, record: CrmRecord, current: dict[str, Any], base: dict[str, Any],
               decisions: dict[str, FieldDecision], op: str, owner: str | None, *, local_only: bool,
               owner_before: str | None = None) -> None:
        """Turn the field ``decisions`` of one contact (``op`` link or update) into the page's writes."""
        ctx, page = self.ctx, self.page
        changes = {f: d.local for f, d in decisions.items() if d.local is not KEEP and d.local != current.get(f)}
        new_base = dict(base)
        new_base.update({f: d.base for f, d in decisions.items() if d.base is not KEEP})
        for name, decision in decisions.items():
            if decision.conflict:
                mapping = self.mappings[name]
                page.conflicts.append(NewConflict(
                    contact_id, name, base.get(name), current.get(name), crm_value(record, mapping, ctx),
                    self.matches.edited_at.get((contact_id, name)), record.updated_at_ms,
                    decision.policy or ("link" if op == "link" else mapping.policy), decision.winner, ctx.run_id,
                    page.stamp))
        page.provenance += [FieldChange(contact_id, name, "crm", ctx.run_id, page.stamp, current.get(name))
                            for name in changes]
        if changes and op == "update":
            ctx.counts.updated_local += 1
        if ctx.plan is not None and (changes or op == "link"):
            ctx.plan.add("local", op, contact_id, record.id, {f: [current.get(f), v] for f, v in changes.items()})
        if new_base != base or op == "link":
            page.bases.append(BaseValue(contact_id, new_base, ctx.run_id, page.stamp))
        if changes or local_only or op == "link" or owner != owner_before:
            page.changes.append(LocalChange(contact_id, changes, owner, local_only))
