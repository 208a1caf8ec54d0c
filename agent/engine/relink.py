"""Relink: local contacts follow their CRM record when the CRM merges it away (case B21) or converts a
lead; a contact the move meets is folded into the one already linked there."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite
import msgspec

from leadsync.agent.connectors.base import CrmRecord, ObjectType
from leadsync.agent.engine.context import RunContext
from leadsync.agent.store.queries import contacts, links, provenance
from leadsync.agent.store.queries.provenance import FieldChange


class Relink(msgspec.Struct, frozen=True):
    """The local contact linked to CRM record ``old_id`` follows it to ``new_id`` (of ``object_type``; None:
    the same type); ``note`` says why (shown on a contact merged away)."""

    old_id: str
    new_id: str
    note: str
    object_type: str | None = None


async def follow_records(db: aiosqlite.Connection, ctx: RunContext, moves: Sequence[Relink], stamp: int) -> None:
    """Apply ``moves`` in order (:func:`relink` each)."""
    for move in moves:
        await relink(db, ctx, move, stamp)


async def relink(db: aiosqlite.Connection, ctx: RunContext, move: Relink, stamp: int) -> None:
    """The local contact linked to ``move.old_id`` is relinked to ``move.new_id`` when that record has no
    local contact, else merged into that contact (:func:`merge_contacts`). No contact at ``old_id``: nothing."""
    duplicate = await links.contact_linked_to(db, ctx.crm, move.old_id)
    if duplicate is None:
        return
    survivor = await links.contact_linked_to(db, ctx.crm, move.new_id)
    if survivor is None:
        await links.move_link(db, duplicate, move.new_id, move.object_type)
        return
    if survivor != duplicate:
        await merge_contacts(db, ctx, survivor, duplicate, move.note, stamp)


async def merge_contacts(db: aiosqlite.Connection, ctx: RunContext, survivor: int, duplicate: int, note: str,
                         stamp: int, *, fill_blanks: bool = False) -> None:
    """Fold ``duplicate`` into ``survivor``: a field whose duplicate value was edited locally more recently
    than the survivor's (or, with ``fill_blanks``, that the survivor lacks) is copied over as a local edit (so
    it is pushed to the survivor's CRM record); the duplicate keeps its data, unlinked, marked merged with
    ``note``. Nothing happens when either is missing."""
    fields = [m.local for m in ctx.mappings if m.local != "email"]
    mine_row = await contacts.contact_values(db, survivor)
    theirs_row = await contacts.contact_values(db, duplicate)
    if mine_row is None or theirs_row is None:
        return
    edited = await provenance.local_edit_times(db, [survivor, duplicate])
    mine, theirs = mine_row.values(fields), theirs_row.values(fields)
    copied = {f: v for f, v in theirs.items() if v is not None and v != mine.get(f) and (
        edited.get((duplicate, f), 0) > edited.get((survivor, f), 0) or (fill_blanks and mine.get(f) is None))}
    if copied:
        await contacts.apply_local_changes(db, survivor, copied, False, stamp)
        await contacts.bump_local_rev(db, survivor)
        await provenance.upsert_field_changes(db, [
            FieldChange(survivor, f, "merge", ctx.run_id, edited.get((duplicate, f), stamp), mine.get(f))
            for f in copied])
    await links.unlink(db, duplicate)
    await contacts.mark_merged(db, duplicate, survivor, note)


async def conversion_targets(ctx: RunContext, records: Sequence[CrmRecord]) -> dict[ObjectType, list[CrmRecord]]:
    """The records that converted leads among ``records`` became (Salesforce ``ConvertedContactId``), read
    now so that the relinked local contacts are merged with them in the same transaction. Raises the
    connector's CrmError."""
    wanted: dict[ObjectType, list[str]] = {}
    for record in records:
        if record.converted_to_type is not None and record.converted_to_id and not record.archived:
            wanted.setdefault(record.converted_to_type, []).append(record.converted_to_id)
    found: dict[ObjectType, list[CrmRecord]] = {}
    for target_type, ids in wanted.items():
        read = await ctx.connector.read(target_type, sorted(set(ids)), properties=ctx.crm_properties(target_type))
        found[target_type] = [r for r in read.values() if r is not None]
    return found
