"""``contacts``: the local contact records (standard fields as columns, other mapped fields as JSON in
``fields``), their revisions (``local_rev`` bumped by every local edit, ``synced_rev`` the one the CRM last
confirmed) and CRM state (none, linked, archived, merged).

This module holds the sync engine's statements: the pull's (match, create, apply CRM changes, archive,
merge) and the push's (candidates, revisions). Times are epoch ms UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite
import msgspec

from leadsync.agent.store.store import IN_JSON, Store, chunks, dumps, json_list, loads, row_chunks
from leadsync.common.emails import normalize_email
from leadsync.common.models import STANDARD_FIELDS

_STD = frozenset(STANDARD_FIELDS)
_LOCAL_COLS = ", ".join(f"c.{f}" for f in STANDARD_FIELDS)
ARCHIVE_CHUNK = 500
"""CRM ids per statement when marking contacts archived."""


class ContactValues(msgspec.Struct):
    """A contact's field values: ``standard`` {standard field: column value} and ``fields`` {other mapped
    field: value}."""

    id: int
    standard: dict[str, Any]
    fields: dict[str, Any]

    def values(self, names: Iterable[str]) -> dict[str, Any]:
        """{field: local value} of the fields ``names`` (standard or other; None when unset)."""
        return {f: self.standard[f] if f in _STD else self.fields.get(f) for f in names}


class StoredContact(ContactValues, kw_only=True):
    """A contact as a pull matches it: its values, owner, link (``crm_id`` None: not linked; ``crm_updated_at``
    the CRM's modified time last seen) and base (``base`` {field: value}, synced at ``synced_at``)."""

    owner_id: str | None
    crm_id: str | None
    crm_updated_at: int | None
    base: dict[str, Any]
    synced_at: int | None


class PulledContact(msgspec.Struct, frozen=True):
    """A contact created from a CRM record: ``standard`` and ``fields`` values, ``email_norm`` (the match key),
    owner, created and updated times."""

    id: int
    standard: dict[str, Any]
    email_norm: str | None
    owner_id: str | None
    fields: dict[str, Any]
    created_at: int
    updated_at: int


_STORED_SELECT = (f"SELECT c.id, {_LOCAL_COLS}, c.owner_id, c.fields, l.crm_id, l.crm_updated_at, b.vals, b.synced_at "
                  "FROM contacts c LEFT JOIN crm_links l ON l.contact_id = c.id "
                  "LEFT JOIN base_values b ON b.contact_id = c.id ")


def _stored(row: aiosqlite.Row) -> StoredContact:
    return StoredContact(id=row["id"], standard={f: row[f] for f in STANDARD_FIELDS}, fields=loads(row["fields"]) or {},
                         owner_id=row["owner_id"], crm_id=row["crm_id"], crm_updated_at=row["crm_updated_at"],
                         base=loads(row["vals"]) or {}, synced_at=row["synced_at"])


# -- pull --------------------------------------------------------------------------------------------


async def linked_contacts(db: aiosqlite.Connection, crm: str, crm_ids: Sequence[str]) -> dict[str, StoredContact]:
    """The contacts linked to ``crm``'s records ``crm_ids``, by CRM id (one statement)."""
    if not crm_ids:
        return {}
    async with db.execute(_STORED_SELECT + f"WHERE +l.crm = ? AND l.crm_id IN {IN_JSON}",
                          [crm, json_list(crm_ids)]) as cur:
        return {row["crm_id"]: _stored(row) for row in await cur.fetchall()}


async def contacts_with_emails(db: aiosqlite.Connection, keys: Sequence[str]) -> dict[str, StoredContact]:
    """The contacts whose email's match key is one of ``keys`` (normalized emails), by key (one statement)."""
    if not keys:
        return {}
    async with db.execute(_STORED_SELECT + f"WHERE c.email_norm IN {IN_JSON}", [json_list(keys)]) as cur:
        return {normalize_email(row["email"]): _stored(row) for row in await cur.fetchall()}


async def stored_contacts(db: aiosqlite.Connection, contact_ids: Sequence[int]) -> dict[int, StoredContact]:
    """The contacts ``contact_ids`` as a pull matches them, by id (one statement; missing ids are absent)."""
    if not contact_ids:
        return {}
    async with db.execute(_STORED_SELECT + f"WHERE c.id IN {IN_JSON}", [json_list(contact_ids)]) as cur:
        return {row["id"]: _stored(row) for row in await cur.fetchall()}


async def max_contact_id(db: aiosqlite.Connection) -> int:
    """The highest contact id (0 for none): new contacts of a page are numbered after it."""
    async with db.execute("SELECT coalesce(max(id), 0) FROM contacts") as cur:
        top = await cur.fetchone()
    return int(top[0]) if top else 0


INSERT_ROWS = 128
"""Pulled contacts per multi-row INSERT at most (power-of-two slices, :func:`~leadsync.agent.store.store.row_chunks`):
one statement per slice, so the search index (migration 9's trigger) takes them in one flush instead of one
per row."""


async def insert_pulled_contacts(db: aiosqlite.Connection, contacts: Sequence[PulledContact]) -> None:
    """Create ``contacts`` as linked, synced CRM contacts (revision 1; multi-row INSERTs of at most
    :data:`INSERT_ROWS`)."""
    cols = ", ".join(STANDARD_FIELDS)
    row = f"(?, {','.join('?' * len(STANDARD_FIELDS))}, ?, ?, ?, ?, ?, 'crm', 1, 1, 'linked')"
    for part in row_chunks(contacts, INSERT_ROWS):
        params: list[Any] = []
        for c in part:
            std = c.standard
            params.append(c.id)
            params += [std.get(f) for f in STANDARD_FIELDS]
            params += (c.email_norm, c.owner_id, dumps(c.fields) if c.fields else "{}", c.created_at, c.updated_at)
        await db.execute(
            f"INSERT INTO contacts(id, {cols}, email_norm, owner_id, fields, created_at, updated_at, source, "
            f"local_rev, synced_rev, crm_state) VALUES {','.join([row] * len(part))}", params)


async def unarchive(db: aiosqlite.Connection, contact_ids: Iterable[int]) -> None:
    """Contacts among ``contact_ids`` marked archived are linked again (their record came back)."""
    await db.executemany("UPDATE contacts SET crm_state = 'linked', crm_note = NULL WHERE id = ? "
                         "AND crm_state = 'archived'", [(contact_id,) for contact_id in contact_ids])


async def apply_local_changes(db: aiosqlite.Connection, contact_id: int, changes: dict[str, Any],
                              local_only: bool, stamp: int) -> None:
    """Write ``changes`` {field: value} to a contact and mark it linked. ``local_only``: a first link that
    left local-only values, so the contact stays one revision ahead and the push sends them."""
    std = {f: v for f, v in changes.items() if f in _STD}
    extra = {f: v for f, v in changes.items() if f not in _STD}
    sets = [f"{f} = ?" for f in std]
    params: list[Any] = list(std.values())
    if "email" in std:
        sets.append("email_norm = ?")
        params.append(normalize_email(std["email"]) or None)
    if extra:
        sets.append("fields = json_patch(fields, ?)")
        params.append(dumps(extra))
    sets.append("crm_state = 'linked'")
    if changes:
        sets.append("updated_at = ?")
        params.append(stamp)
    sets.append("synced_rev = CASE WHEN ? THEN min(synced_rev, local_rev - 1) ELSE synced_rev END")
    params.append(int(local_only))
    await db.execute(f"UPDATE contacts SET {', '.join(sets)} WHERE id = ?", [*params, contact_id])


async def mark_archived(db: aiosqlite.Connection, crm: str, crm_ids: Sequence[str]) -> None:
    """Linked contacts whose ``crm`` record is among ``crm_ids`` are marked archived (deleted in the CRM,
    never recreated by a push, case B22), with a note; one statement per :data:`ARCHIVE_CHUNK` ids."""
    for ids in chunks(crm_ids, ARCHIVE_CHUNK):
        await db.execute(
            f"UPDATE contacts SET crm_state = 'archived', crm_note = 'archived (deleted) in the CRM; '"
            f" || 'contacts.restore re-creates it' WHERE crm_state = 'linked' AND id IN "
            f"(SELECT contact_id FROM crm_links WHERE +crm = ? AND crm_id IN {IN_JSON})",
            [crm, json_list(ids)])


async def contact_values(db: aiosqlite.Connection, contact_id: int) -> ContactValues | None:
    """The field values of ``contact_id``, or None when there is no such contact."""
    async with db.execute(f"SELECT c.id, {_LOCAL_COLS}, c.fields FROM contacts c WHERE c.id = ?",
                          (contact_id,)) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    return ContactValues(id=row["id"], standard={f: row[f] for f in STANDARD_FIELDS}, fields=loads(row["fields"]) or {})


async def bump_local_rev(db: aiosqlite.Connection, contact_id: int) -> None:
    """One more local revision of ``contact_id`` (it has values to push)."""
    await db.execute("UPDATE contacts SET local_rev = local_rev + 1 WHERE id = ?", (contact_id,))


async def mark_merged(db: aiosqlite.Connection, duplicate: int, survivor: int, note: str) -> None:
    """``duplicate`` was merged into ``survivor``: marked merged with ``note``, nothing left to push; it keeps
    its email but gives up the email's match key (the survivor, or a new contact, may take that email)."""
    await db.execute("UPDATE contacts SET crm_state = 'merged', merged_into = ?, crm_note = ?, synced_rev = local_rev, "
                     "email_norm = NULL WHERE id = ?", (survivor, note, duplicate))


# -- push --------------------------------------------------------------------------------------------

PENDING_SQL = (
    "c.local_rev > c.synced_rev AND (c.crm_state = 'linked' OR (c.crm_state = 'none' AND c.push_wanted = 1)) "
    "AND NOT EXISTS (SELECT 1 FROM sync_errors e WHERE e.contact_id = c.id AND e.resolved_at IS NULL "
    "                AND e.local_rev = c.local_rev "
    "                AND (e.next_retry_at IS NULL OR e.next_retry_at > leadsync_now_ms()))"
)
"""The condition (on ``contacts c``) of a contact waiting for a push: ahead of what the CRM confirmed, linked
or marked for push, and not failed already at this revision (retried once it changes, on request, or when
its automatic retry is due by the store's clock: ``next_retry_at``)."""


class PushCandidate(ContactValues, kw_only=True):
    """A contact that may need a push: its values, owner (``owner_id``; ``owner_push`` an owner a to-do asks
    the CRM to take), creator (``created_by`` user; ``creator_owner`` that user's CRM owner as
    ``"<owner id>:<active 0|1>"``, None: none), revision, CRM state, link (``crm_id``, ``object_type``) and
    base values; ``creator_email`` the creator's email, for the reasons people read."""

    owner_id: str | None
    owner_push: str | None
    created_by: int | None
    local_rev: int
    crm_state: str
    crm_id: str | None
    object_type: str | None
    base: dict[str, Any]
    creator_owner: str | None
    creator_email: str | None = None


async def count_push_candidates(db: aiosqlite.Connection, contact_ids: Sequence[int] | None = None) -> int:
    """How many contacts wait for a push (all, or among ``contact_ids``)."""
    sql = f"SELECT count(*) FROM contacts c WHERE {PENDING_SQL}"
    params: list[Any] = []
    if contact_ids is not None:
        sql += f" AND c.id IN ({','.join('?' * len(contact_ids))})"
        params = list(contact_ids)
    async with db.execute(sql, params) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def push_candidates(db: aiosqlite.Connection, after: int, limit: int,
                          contact_ids: Sequence[int] | None = None) -> list[PushCandidate]:
    """Up to ``limit`` contacts waiting for a push (all, or among ``contact_ids``), by id after ``after``."""
    sql = (f"SELECT c.id, {_LOCAL_COLS}, c.fields, c.owner_id, c.owner_push, c.created_by, c.local_rev, c.crm_state, "
           "l.crm_id, l.object_type, b.vals, "
           "(SELECT o.crm_id || ':' || o.active FROM users u JOIN owners o ON o.email_norm = u.email_norm "
           " WHERE u.id = c.created_by) AS creator_owner, "
           "(SELECT email FROM users WHERE id = c.created_by) AS creator_email "
           "FROM contacts c LEFT JOIN crm_links l ON l.contact_id = c.id "
           "LEFT JOIN base_values b ON b.contact_id = c.id "
           f"WHERE c.id > ? AND {PENDING_SQL} ")
    params: list[Any] = [after]
    if contact_ids is not None:
        sql += f"AND c.id IN ({','.join('?' * len(contact_ids))}) "
        params += contact_ids
    async with db.execute(sql + "ORDER BY c.id LIMIT ?", [*params, limit]) as cur:
        rows = await cur.fetchall()
    return [PushCandidate(id=r["id"], standard={f: r[f] for f in STANDARD_FIELDS}, fields=loads(r["fields"]) or {},
                          owner_id=r["owner_id"], owner_push=r["owner_push"], created_by=r["created_by"],
                          local_rev=r["local_rev"], crm_state=r["crm_state"], crm_id=r["crm_id"],
                          object_type=r["object_type"], base=loads(r["vals"]) or {}, creator_owner=r["creator_owner"],
                          creator_email=r["creator_email"])
            for r in rows]


async def confirm_revisions(db: aiosqlite.Connection, revisions: Iterable[tuple[int, int]]) -> None:
    """The CRM confirmed revision ``rev`` of each ``(contact id, rev)`` (``synced_rev`` never goes back)."""
    await db.executemany("UPDATE contacts SET synced_rev = max(synced_rev, ?) WHERE id = ?",
                         [(rev, contact_id) for contact_id, rev in revisions])


async def mark_linked(db: aiosqlite.Connection, contact_ids: Iterable[int]) -> None:
    """``contact_ids`` are linked to a CRM record now."""
    await db.executemany("UPDATE contacts SET crm_state = 'linked' WHERE id = ?", [(c,) for c in contact_ids])


async def ask_owner_push(db: aiosqlite.Connection, contact_id: int, owner_id: str, stamp: int) -> None:
    """Ask the push to write ``owner_id`` as the owner of ``contact_id`` (a local edit at ``stamp``)."""
    await db.execute(
        "UPDATE contacts SET owner_push = ?, push_wanted = 1, local_rev = local_rev + 1, updated_at = ? "
        "WHERE id = ?", (owner_id, stamp, contact_id))


async def clear_owner_push(db: aiosqlite.Connection, sent: Iterable[tuple[int, str]]) -> None:
    """Each ``(contact id, owner)`` sent to the CRM no longer waits (unless a newer owner is asked for)."""
    await db.executemany("UPDATE contacts SET owner_push = NULL WHERE id = ? AND owner_push = ?", list(sent))

class PendingPush(msgspec.Struct, frozen=True):
    """Contacts waiting for a push: how many, and the oldest local change among them (epoch ms UTC)."""

    count: int
    oldest_changed_at: int | None


async def any_contact(store: Store) -> bool:
    """Whether the store holds any contact at all."""
    return await store.fetchone("SELECT 1 FROM contacts LIMIT 1") is not None


async def count_contacts(store: Store) -> int:
    """Every local contact."""
    return int(await store.scalar("SELECT count(*) FROM contacts"))


async def matches(store: Store, contact_id: int, condition: tuple[str, Sequence[Any]]) -> bool:
    """Whether contact ``contact_id`` meets ``condition`` (SQL on ``contacts c`` and its params)."""
    sql, params = condition
    return await store.fetchone(f"SELECT 1 FROM contacts c WHERE c.id = ? AND {sql}", [contact_id, *params]) \
        is not None


async def pending_push(store: Store) -> PendingPush:
    """The push backlog as the engine defines it (``PENDING_SQL``)."""
    row = await store.fetchone(f"SELECT count(*), min(c.updated_at) FROM contacts c WHERE {PENDING_SQL}")
    return PendingPush(0, None) if row is None else PendingPush(int(row[0]), row[1])


async def want_push(db: aiosqlite.Connection, contact_ids: Sequence[int]) -> None:
    """Mark contacts to be pushed when the rules allow (a new lead, a manual or threshold push)."""
    await db.execute(f"UPDATE contacts SET push_wanted = 1 WHERE id IN ({','.join('?' * len(contact_ids))})",
                     list(contact_ids))


async def delete(db: aiosqlite.Connection, contact_id: int) -> None:
    """Delete a contact locally; its link, base values, ownership history, to-dos, conflicts and provenance
    go with it (ON DELETE CASCADE)."""
    await db.execute("DELETE FROM contacts WHERE id = ?", (contact_id,))


async def unlink_for_recreate(db: aiosqlite.Connection, contact_id: int) -> None:
    """Forget a contact's CRM record and base values and mark it a new local contact to push."""
    await db.execute("DELETE FROM crm_links WHERE contact_id = ?", (contact_id,))
    await db.execute("DELETE FROM base_values WHERE contact_id = ?", (contact_id,))
    await db.execute("UPDATE contacts SET crm_state = 'none', crm_note = NULL, push_wanted = 1, "
                     "local_rev = local_rev + 1 WHERE id = ?", (contact_id,))


async def custom_field_names(store: Store, *, limit: int = 1000) -> list[str]:
    """The custom fields (keys of ``fields``) some contact holds, sorted; at most ``limit``. Reads every
    contact's ``fields``: meant for a check or an error message, not for every edit."""
    rows = await store.fetchall("SELECT DISTINCT j.key FROM contacts c, json_each(c.fields) j "
                                "ORDER BY j.key LIMIT ?", (limit,))
    return [str(r[0]) for r in rows]


async def holds_custom_field(store: Store, name: str) -> bool:
    """Whether some contact holds custom field ``name`` (stops at the first one)."""
    return await store.fetchone("SELECT 1 FROM contacts WHERE json_type(fields, ?) IS NOT NULL LIMIT 1",
                                (f'$."{name}"',)) is not None


async def distinct_values(store: Store, field: str, *, limit: int = 1000) -> list[Any]:
    """Up to ``limit`` distinct values (as stored: a list is its JSON text) contacts hold in ``field``
    (a standard field's column, else the custom field in ``fields``), None excluded."""
    if field in _STD:
        rows = await store.fetchall(f"SELECT DISTINCT {field} FROM contacts WHERE {field} IS NOT NULL LIMIT ?",
                                    (limit,))
    else:
        rows = await store.fetchall("SELECT DISTINCT json_extract(fields, ?) FROM contacts "
                                    "WHERE json_extract(fields, ?) IS NOT NULL LIMIT ?",
                                    (f"$.{field}", f"$.{field}", limit))
    return [row[0] for row in rows]
