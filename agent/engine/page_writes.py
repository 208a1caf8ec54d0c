"""The writes one pulled page accumulates (typed rows) and the step that applies them together, inside
the page's transaction: each table's rows in one ``executemany``, the per-contact changes one by one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiosqlite
import msgspec

from leadsync.agent.engine.relink import Relink
from leadsync.agent.store.queries import base_values, conflicts, contacts, links, provenance, run_changes, sync_errors
from leadsync.agent.store.queries.base_values import BaseValue
from leadsync.agent.store.queries.conflicts import NewConflict
from leadsync.agent.store.queries.contacts import PulledContact
from leadsync.agent.store.queries.links import Link
from leadsync.agent.store.queries.ownership import record_owner_changes
from leadsync.agent.store.queries.provenance import FieldChange
from leadsync.agent.store.queries.run_changes import RunChange
from leadsync.agent.store.queries.sync_errors import NewSyncError


class LocalChange(msgspec.Struct, frozen=True):
    """What a CRM record changes on its local contact: ``changes`` {field: new value}, its ``owner`` (CRM owner
    id) and ``local_only`` (a first link that left local-only values for the push to send)."""

    contact_id: int
    changes: dict[str, Any]
    owner: str | None
    local_only: bool


@dataclass
class PageWrites:
    """The writes of one page of ``object_type`` records, stamped ``stamp`` (epoch ms UTC): contacts to
    create, links, bases, local changes, conflicts, provenance and errors; and the CRM ids archived, merged
    away (``merges``) or converted (``conversions``) that the relink step handles after them."""

    object_type: str
    stamp: int
    new_contacts: list[PulledContact] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    bases: list[BaseValue] = field(default_factory=list)
    changes: list[LocalChange] = field(default_factory=list)
    conflicts: list[NewConflict] = field(default_factory=list)
    provenance: list[FieldChange] = field(default_factory=list)
    errors: list[NewSyncError] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    merges: list[Relink] = field(default_factory=list)
    conversions: list[Relink] = field(default_factory=list)

    def changed_contact_ids(self) -> list[int]:
        """The local contacts this page created or changed (created first)."""
        return [c.id for c in self.new_contacts] + [c.contact_id for c in self.changes]


async def write_page(db: aiosqlite.Connection, page: PageWrites, run_id: int) -> None:
    """Apply ``page``'s writes inside the caller's transaction (sync run ``run_id``)."""
    await contacts.insert_pulled_contacts(db, page.new_contacts)
    await links.upsert_pulled_links(db, page.links)
    await base_values.upsert_base_values(db, page.bases)
    # contacts created just now are 'linked': their UPDATE would be a no-op B-tree probe per record
    created = {c.id for c in page.new_contacts}
    await contacts.unarchive(db, [link.contact_id for link in page.links if link.contact_id not in created])
    await record_owner_changes(db, [(c.contact_id, c.owner, "crm") for c in page.changes], run_id, page.stamp)
    for change in page.changes:
        await contacts.apply_local_changes(db, change.contact_id, change.changes, change.local_only, page.stamp)
    await conflicts.insert_conflicts(db, page.conflicts)
    await provenance.upsert_field_changes(db, page.provenance)
    await run_changes.insert_run_changes(db, local_changes(page, run_id))
    # a record's error found before its new contact had an id belongs to that contact
    linked = {link.crm_id: link.contact_id for link in page.links}
    errors = [e if e.contact_id is not None or e.crm_id not in linked
              else msgspec.structs.replace(e, contact_id=linked[e.crm_id]) for e in page.errors]
    await sync_errors.record_pulled(db, [link.crm_id for link in page.links] + [e.crm_id for e in errors if e.crm_id],
                                    errors, page.stamp)


def local_changes(page: PageWrites, run_id: int) -> list[RunChange]:
    """What ``page`` changes in local fields, as sync run ``run_id``'s changes (an undo puts them back): each
    changed field's value before (its provenance's ``previous``) and after."""
    after = {(c.contact_id, f): v for c in page.changes for f, v in c.changes.items()}
    return [RunChange(run_id, p.contact_id, "local", "update", p.field, None, None, None, p.previous,
                      after[(p.contact_id, p.field)], p.changed_at)
            for p in page.provenance if (p.contact_id, p.field) in after]
