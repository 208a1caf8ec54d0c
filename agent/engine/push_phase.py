"""The push phase of a sync run: candidates in chunks of a few write batches, each chunk sent and recorded.

Per chunk (:func:`push_chunk`): plan the writes (:func:`~leadsync.agent.engine.push.plan_push`); look the new
contacts' emails up on the ``link_first`` objects; send the creates and the updates; read the records the CRM
named for creates it refused as duplicates (:mod:`~leadsync.agent.engine.duplicates`) and those converted
leads became; then record everything in one transaction, so a crash at any point loses no confirmed write.

A storm does not fail the run: the HTTP layer retries each request within its budget, and a batch that
still cannot get through (the CRM unavailable, or rate limited, after those retries) comes back ``not_sent``
(:func:`~leadsync.agent.connectors.base.not_sent`), as does every write of a call that raised such an error;
those writes stay queued for the next run (an open error each, not holding the contact) and the run goes on
with the next batch, ending ``partial``. Any other CRM error stops the run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from leadsync.agent.connectors.base import Capabilities, CrmRecord, ObjectType, WriteInput, WriteResult, not_sent
from leadsync.agent.engine.context import RunContext
from leadsync.agent.engine.duplicates import Claim, ClaimedRecords, link_claims, read_claims, refused_as_duplicates
from leadsync.agent.engine.pull import apply_pull_page
from leadsync.agent.engine.push import SCAN_BATCH, PushPlan, apply_push_results, plan_push, write_inputs
from leadsync.agent.engine.relink import conversion_targets
from leadsync.agent.store.queries import conflicts, contacts
from leadsync.agent.store.queries.contacts import PushCandidate
from leadsync.agent.store.store import Store
from leadsync.common.errors import CrmError, is_transient
from leadsync.common.instants import now_ms

WRITE_BATCHES_PER_CHUNK = 5
"""Write batches (of the CRM's batch size) planned and recorded together in one transaction."""

MAX_PASSES = 3
"""Passes over the contacts to push again in one run (relinked to a converted lead's record, or linked to
an existing record with local-only values to send)."""


def chunk_size(caps: Capabilities) -> int:
    """Contacts planned, written and recorded together (one ``progress`` event each): at least 20."""
    return max(caps.batch_size * WRITE_BATCHES_PER_CHUNK, 20)


async def push(store: Store, ctx: RunContext, active_owners: set[str], contact_ids: list[int] | None) -> None:
    """Push every candidate (all, or among ``contact_ids``), then, up to :data:`MAX_PASSES` times, the
    contacts a pass relinked. Raises the CrmErrors that are not transient."""
    total = await contacts.count_push_candidates(store.reader, contact_ids)
    ctx.progress({"type": "progress", "run_id": ctx.run_id, "phase": "push", "done": 0, "total": total})
    again = await _push_pass(store, ctx, active_owners, contact_ids, total)
    for _ in range(MAX_PASSES - 1):
        if not again:
            return
        again = await _push_pass(store, ctx, active_owners, sorted(again), total)


async def _push_pass(store: Store, ctx: RunContext, active_owners: set[str], contact_ids: list[int] | None,
                     total: int) -> set[int]:
    """Push every candidate (among ``contact_ids``) once, chunk by chunk; returns the contacts to push
    again."""
    chunk = chunk_size(ctx.connector.capabilities)
    after = 0
    again: set[int] = set()
    while True:
        rows = await contacts.push_candidates(store.reader, after, SCAN_BATCH, contact_ids)
        if not rows:
            return again
        after = rows[-1].id
        for start in range(0, len(rows), chunk):
            again |= await push_chunk(store, ctx, rows[start:start + chunk], active_owners, total)


@dataclass
class ChunkOutcome:
    """What the CRM answered for one chunk: ``results`` by contact id; the ``claims`` of existing records
    (``known``: those already read, by CRM id) and, once read, ``claimed``; the records to merge in as pulled,
    in order (``pulled``: converted leads, then what they became) and the contacts to push ``again``."""

    results: dict[int, WriteResult] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)
    known: dict[str, CrmRecord] = field(default_factory=dict)
    claimed: ClaimedRecords = field(default_factory=ClaimedRecords)
    pulled: list[tuple[ObjectType, list[CrmRecord]]] = field(default_factory=list)
    again: set[int] = field(default_factory=set)


async def push_chunk(store: Store, ctx: RunContext, rows: list[PushCandidate], active_owners: set[str],
                     total: int) -> set[int]:
    """Plan, write and record one chunk of push candidates; returns the contacts to push again. When a CRM
    error stops the run, what the CRM confirmed so far is recorded first (the rest stays queued)."""
    plan = plan_push(ctx, rows, active_owners, await conflicts.undecided_fields(store.reader, [r.id for r in rows]))
    outcome = ChunkOutcome()
    try:
        await _send(ctx, plan, outcome)
        await _read_back(ctx, outcome)
    except CrmError as exc:
        _leave_queued(plan, outcome, exc)
        await _record(store, ctx, rows, plan, outcome)
        raise
    await _record(store, ctx, rows, plan, outcome)
    counts = ctx.counts
    ctx.progress({"type": "progress", "run_id": ctx.run_id, "phase": "push",
                  "done": counts.created_crm + counts.updated_crm + counts.linked + counts.failed, "total": total})
    await ctx.between_batches()
    return outcome.again


async def _record(store: Store, ctx: RunContext, rows: list[PushCandidate], plan: PushPlan,
                  outcome: ChunkOutcome) -> None:
    """Record the chunk's outcome in one transaction: records merged in as pulled, claims, write results."""
    handled = {c.contact_id for c in (*outcome.claimed.claims, *outcome.claimed.missing)} | outcome.again
    plan.writes = [w for w in plan.writes if w.contact_id not in handled]
    stamp = now_ms()
    async with store.transaction() as db:
        for object_type, records in outcome.pulled:
            await apply_pull_page(db, ctx, records, None, object_type)
        outcome.again |= await link_claims(db, ctx, outcome.claimed, {r.id: r.local_rev for r in rows}, stamp)
        await apply_push_results(db, ctx, plan, outcome.results, ctx.connector.capabilities.new_lead_object)


def _leave_queued(plan: PushPlan, outcome: ChunkOutcome, error: CrmError) -> None:
    """After ``error`` stopped the chunk: every write without an answer yet, and every one waiting for a
    record to be read back (a claim, a converted lead), is ``not_sent``: queued for the next run."""
    waiting = {c.contact_id for c in outcome.claims} if not outcome.claimed.claims and not outcome.claimed.missing \
        else set()
    waiting |= {c for c, r in outcome.results.items() if _converted(r) and c not in outcome.again}
    for write in plan.writes:
        if write.contact_id not in outcome.results or write.contact_id in waiting:
            outcome.results[write.contact_id] = not_sent(WriteInput(ref=str(write.contact_id), properties={}), error)
    for contact_id in waiting:
        outcome.results.setdefault(contact_id, not_sent(WriteInput(ref=str(contact_id), properties={}), error))
    outcome.claims = []


async def _guarded(inputs: Sequence[WriteInput], call: Callable[[], Awaitable[list[WriteResult]]]) -> list[WriteResult]:
    """``call()``'s results; when it raises a transient CrmError, every input ``not_sent`` with it."""
    try:
        return await call()
    except CrmError as exc:
        if not is_transient(exc):
            raise
        return [not_sent(inp, exc) for inp in inputs]


async def _send(ctx: RunContext, plan: PushPlan, outcome: ChunkOutcome) -> None:
    """Send the plan's creates (after the ``link_first`` look-ups) and updates into ``outcome``."""
    caps = ctx.connector.capabilities
    creates = write_inputs(plan, "create")
    # an email already on an object checked first (Salesforce: a Contact) claims that record, not a new lead
    for object_type in caps.link_first:
        if not creates:
            break
        emails = {w.ref: e for w in creates if (e := w.properties.get(caps.email_property))}
        try:
            matches = await ctx.connector.find_by_email(object_type, sorted(set(emails.values())),
                                                        properties=ctx.crm_properties(object_type))
        except CrmError as exc:
            if not is_transient(exc):
                raise
            outcome.results.update((int(w.ref), not_sent(w, exc)) for w in creates)
            creates = []
            break
        for ref, email in emails.items():
            if email in matches:
                record = matches[email]
                outcome.known[record.id] = record
                outcome.claims.append(Claim(int(ref), record.id, object_type,
                                            f"a {object_type} with the email {email} exists"))
        claimed = {str(c.contact_id) for c in outcome.claims}
        creates = [w for w in creates if w.ref not in claimed]
    if creates:
        results = await _guarded(creates, partial(ctx.connector.create, caps.new_lead_object, creates))
        outcome.results.update((int(r.ref), r) for r in results)
        outcome.claims += refused_as_duplicates({int(r.ref): r for r in results}, caps.new_lead_object)
    for object_type, updates in _updates_by_object(plan).items():
        results = await _guarded(updates, partial(ctx.connector.update, object_type, updates))
        outcome.results.update((int(r.ref), r) for r in results)


async def _read_back(ctx: RunContext, outcome: ChunkOutcome) -> None:
    """Read the claimed records and the records converted leads became (into ``outcome``); when the CRM
    cannot be reached for them, the writes they stand for are ``not_sent`` instead."""
    # an update refused because its lead was converted: relinked to what it became, then pushed again
    converted = {contact_id: r.record for contact_id, r in outcome.results.items() if _converted(r) and r.record}
    try:
        outcome.claimed = await read_claims(ctx, outcome.claims, outcome.known)
        targets = await conversion_targets(ctx, list(converted.values()))
    except CrmError as exc:
        if not is_transient(exc):
            raise
        waiting = [*(c.contact_id for c in outcome.claims), *converted]
        outcome.results.update((c, not_sent(WriteInput(ref=str(c), properties={}), exc)) for c in waiting)
        outcome.claimed = ClaimedRecords()
        return
    if converted:
        outcome.pulled.append((ctx.connector.capabilities.new_lead_object, list(converted.values())))
        outcome.again |= set(converted)
    outcome.pulled += list(targets.items())


def _converted(result: WriteResult) -> bool:
    """An update refused because its lead was converted (a create refused so names it as ``existing_id``: a
    claim, which follows the conversion itself)."""
    return not result.ok and not result.existing_id and result.record is not None \
        and result.record.converted_to_id is not None


def _updates_by_object(plan: PushPlan) -> dict[ObjectType, list[WriteInput]]:
    """The plan's updates grouped by the object type each contact is linked to."""
    grouped: dict[ObjectType, list[WriteInput]] = {}
    for write in plan.writes:
        if write.op == "update":
            grouped.setdefault(write.object_type, []).append(
                WriteInput(ref=str(write.contact_id), properties=write.properties, id=write.crm_id,
                           clear_first=write.clear_first))
    return grouped
