"""Creates the CRM refused because the record already exists: the local contact links to that record.

Each CRM says it in its own way: HubSpot 409 ``CONFLICT`` "Contact already exists. Existing ID: N" (N has
the email, as its own or as one of its secondary emails), Salesforce ``DUPLICATES_DETECTED`` (a duplicate
rule's match), Zoho ``DUPLICATE_DATA`` (a unique field, or the duplicate check preference against
Contacts), Autotask its duplicate email refusal; each connector names the record in
:attr:`~leadsync.agent.connectors.base.WriteResult.existing_id` (the Salesforce, Zoho and Autotask
connectors' own look-up by email before a create does the same). Such a create is not tried again every
run: the record is read and merged into the contact as a first sync would
(:func:`~leadsync.agent.engine.merge.first_link`), whatever the record's email. When another local contact
is already linked to that record, both are the same person: the refused one is folded into it
(:func:`~leadsync.agent.engine.relink.merge_contacts`: its values the other lacks, or edited more recently,
go to that contact and on to the record). An email found on a ``link_first`` object before
creating (a Salesforce Contact) claims its record the same way. Each link is in the write log (op
``link``, nothing sent); a record the CRM named but that cannot be read is an open error of the contact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import aiosqlite

from leadsync.agent.connectors.base import CrmRecord, ObjectType, WriteResult
from leadsync.agent.engine.context import RunContext
from leadsync.agent.engine.pull import apply_pull_page
from leadsync.agent.engine.relink import merge_contacts
from leadsync.agent.store.queries import links, sync_errors, write_log
from leadsync.agent.store.queries.sync_errors import NewSyncError
from leadsync.agent.store.queries.write_log import NewWrite

FOLLOW_CONVERSIONS = 2
"""Times a claim follows a converted lead to the record it became before giving up."""


@dataclass(frozen=True)
class Claim:
    """Contact ``contact_id`` is CRM record ``crm_id`` (an ``object_type``), as ``reason`` says (the CRM's
    refusal, or the look-up that found it)."""

    contact_id: int
    crm_id: str
    object_type: ObjectType
    reason: str


def refused_as_duplicates(results: Mapping[int, WriteResult], object_type: ObjectType) -> list[Claim]:
    """The claims of the creates among ``results`` (by contact id, creates of ``object_type``) that the CRM
    refused naming the record that already exists."""
    return [Claim(contact_id, r.existing_id, r.existing_type or object_type, r.error or "it already exists")
            for contact_id, r in results.items() if not r.ok and r.existing_id]


@dataclass
class ClaimedRecords:
    """The claims that found their record (``claims``; a converted lead's claim moved to what it became),
    those records by object type, and the claims whose record the CRM cannot give (``missing``)."""

    claims: list[Claim] = field(default_factory=list)
    records: dict[ObjectType, list[CrmRecord]] = field(default_factory=dict)
    missing: list[Claim] = field(default_factory=list)


async def read_claims(ctx: RunContext, claims: Sequence[Claim],
                      known: Mapping[str, CrmRecord] | None = None) -> ClaimedRecords:
    """Read each claimed record with the mapped properties (those in ``known``, by CRM id, are not read
    again). Raises the connector's CrmError."""
    out = ClaimedRecords()
    have = dict(known or {})
    pending = list(claims)
    for _ in range(FOLLOW_CONVERSIONS + 1):
        wanted: dict[ObjectType, set[str]] = {}
        for claim in pending:
            if claim.crm_id not in have:
                wanted.setdefault(claim.object_type, set()).add(claim.crm_id)
        for object_type, ids in wanted.items():
            read = await ctx.connector.read(object_type, sorted(ids), properties=ctx.crm_properties(object_type))
            have.update((i, r) for i, r in read.items() if r is not None)
        moved: list[Claim] = []
        for claim in pending:
            record = have.get(claim.crm_id)
            if record is None or record.archived:
                out.missing.append(claim)
            elif record.converted_to_id and record.converted_to_type:
                moved.append(Claim(claim.contact_id, record.converted_to_id, record.converted_to_type,
                                   f"{claim.reason} (lead {record.id} became {record.converted_to_id})"))
            else:
                out.claims.append(claim)
                out.records.setdefault(claim.object_type, [])
                if all(r.id != record.id for r in out.records[claim.object_type]):
                    out.records[claim.object_type].append(record)
        if not moved:
            return out
        pending = moved
    out.missing += pending
    return out


async def link_claims(db: aiosqlite.Connection, ctx: RunContext, claimed: ClaimedRecords,
                      local_revs: Mapping[int, int], stamp: int) -> set[int]:
    """Inside the caller's transaction: merge the claimed records into their contacts (a first link), fold
    a contact whose record another contact holds into that one (before the record is merged in, so the two
    never hold one email), log each link and record an error for each missing record (held at the
    contact's revision in ``local_revs``). Returns the contacts to push again (a first link leaves
    local-only values to send; a fold leaves the folded values)."""
    log: list[NewWrite] = []
    again: set[int] = set()
    holders = {c.crm_id: await links.contact_linked_to(db, ctx.crm, c.crm_id) for c in claimed.claims}
    for claim in claimed.claims:
        holder = holders[claim.crm_id]
        if holder is not None and holder != claim.contact_id:
            log.append(await _fold(db, ctx, claim, holder, stamp))
            again.add(holder)
    unclaimed = [c for c in claimed.claims if holders[c.crm_id] is None]
    for object_type, records in claimed.records.items():
        await apply_pull_page(db, ctx, records, None, object_type,
                              {c.crm_id: c.contact_id for c in unclaimed if c.object_type == object_type})
    errors: list[NewSyncError] = []
    for claim in unclaimed:
        holder = await links.contact_linked_to(db, ctx.crm, claim.crm_id)
        if holder is None:
            errors.append(_error(ctx, claim, local_revs, stamp, "the record could not be linked"))
            continue
        if holder == claim.contact_id:
            log.append(NewWrite(ctx.run_id, claim.contact_id, claim.crm_id, "link", {},
                                f"the CRM has this contact already as record {claim.crm_id}: {claim.reason}", stamp))
        else:  # another contact claimed the same record in this chunk, and got it
            log.append(await _fold(db, ctx, claim, holder, stamp))
        again.add(holder)
    errors += [_error(ctx, c, local_revs, stamp, "the CRM named it as the existing record, but it cannot be read")
               for c in claimed.missing]
    ctx.counts.failed += len(errors)
    await sync_errors.resolve_open_errors(db, [c.contact_id for c in (*claimed.claims, *claimed.missing)], stamp)
    await sync_errors.insert_sync_errors(db, errors)
    await write_log.insert_write_log(db, log)
    return again


async def _fold(db: aiosqlite.Connection, ctx: RunContext, claim: Claim, holder: int, stamp: int) -> NewWrite:
    """Fold the claimant into ``holder``, the contact linked to the claimed record; its write-log entry."""
    note = (f"the CRM has this contact already as record {claim.crm_id}: {claim.reason}; that record is contact "
            f"{holder}, so this contact was merged into it")
    await merge_contacts(db, ctx, holder, claim.contact_id, note, stamp, fill_blanks=True)
    ctx.counts.linked += 1
    if ctx.plan is not None:
        ctx.plan.add("local", "merge", claim.contact_id, claim.crm_id, {}, note=note)
    return NewWrite(ctx.run_id, claim.contact_id, claim.crm_id, "link", {}, note, stamp)


def _error(ctx: RunContext, claim: Claim, local_revs: Mapping[int, int], stamp: int, why: str) -> NewSyncError:
    return NewSyncError(ctx.run_id, claim.contact_id, claim.crm_id, "link", "duplicate_unlinked",
                        f"not created: {claim.reason}; {why}", local_revs.get(claim.contact_id), stamp)
