"""``contacts``: the statements of local reads and edits (the API's and an import's): a contact with its
link and sync state, a page of them, a create, an edit. The sync engine's statements on the table are in
:mod:`.contacts`. Times are epoch ms UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite
import msgspec

from leadsync.agent.store.queries import contact_search as search
from leadsync.agent.store.search_index import pending_from
from leadsync.agent.store.store import Store, chunks, dumps, loads
from leadsync.common.models import STANDARD_FIELDS, Contact

_COLUMNS = ", ".join(f"c.{f}" for f in STANDARD_FIELDS)
_CONTACT_COLUMNS = f"""
SELECT c.id, {_COLUMNS}, c.owner_id, c.created_by, c.source, c.fields, c.created_at, c.updated_at,
       c.local_rev, c.synced_rev, c.crm_state, l.crm_id, l.object_type,
       EXISTS (SELECT 1 FROM sync_errors e WHERE e.contact_id = c.id AND e.resolved_at IS NULL) AS has_error
"""
_SELECT_CONTACT = _CONTACT_COLUMNS + "FROM contacts c LEFT JOIN crm_links l ON l.contact_id = c.id\n"
_SEARCH_CONTACT = (_CONTACT_COLUMNS + "FROM contacts_search s CROSS JOIN contacts c ON c.id = s.rowid "
                   "LEFT JOIN crm_links l ON l.contact_id = c.id\n")
MATCH_CHUNK = 500
"""Email keys per statement when an import looks up existing contacts."""


def _contact(row: aiosqlite.Row) -> Contact:
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


async def contact_by_id(store: Store, contact_id: int) -> Contact | None:
    """Contact ``contact_id`` with its link and sync state, or None when there is none."""
    row = await store.fetchone(_SELECT_CONTACT + " WHERE c.id = ?", (contact_id,))
    return None if row is None else _contact(row)


async def contacts_after(store: Store, after: int, where: Sequence[str], params: Sequence[Any],
                         limit: int, *, text: str | None = None) -> list[Contact]:
    """Up to ``limit`` contacts with an id above ``after`` meeting every condition of ``where`` (on
    ``contacts c``, with ``params``), by id: a keyset page. ``text``: only contacts whose search document
    holds it (:func:`~.contact_search.search_text` applied); the page is then read in id order from the
    search table, so a fragment many contacts have fills it at once and a rare one is found by the index.
    While the index has a backlog (its ids come after all indexed ones), the page goes on in the backlog,
    read row by row (:func:`~.contact_search.backlog_condition`)."""
    if text is None:
        sql = _SELECT_CONTACT + " WHERE " + " AND ".join(["c.id > ?", *where]) + " ORDER BY c.id LIMIT ?"
        return [_contact(r) for r in await store.fetchall(sql, [after, *params, limit])]
    backlog = await pending_from(store.reader)
    if backlog is None:
        return await _indexed_page(store, text, after, where, params, limit)
    found: list[Contact] = []
    if after + 1 < backlog:
        found = await _indexed_page(store, text, after, [*where, "c.id < ?"], [*params, backlog], limit)
    if len(found) >= limit:
        return found
    condition, values = search.backlog_condition(text)
    sql = (_SELECT_CONTACT + " WHERE " + " AND ".join([condition, "c.id > ?", *where]) + " ORDER BY c.id LIMIT ?")
    rows = await store.fetchall(sql, [*values, max(after, backlog - 1), *params, limit - len(found)])
    return found + [_contact(r) for r in rows]


async def _indexed_page(store: Store, text: str, after: int, where: Sequence[str], params: Sequence[Any],
                        limit: int) -> list[Contact]:
    if len(text) >= search.INDEXED_CHARS:
        return await _search_page(store, search.indexed_condition(text), after, where, params, limit)
    condition, values = search.scan_condition(text)  # a short fragment: the next ids first
    first = await _search_page(store, (f"{condition} AND s.rowid <= ?", [*values, after + search.SCAN_WINDOW]),
                               after, where, params, limit)
    if len(first) >= limit:
        return first
    return await _search_page(store, await search.short_condition(store.reader, text), after, where, params, limit)


async def _search_page(store: Store, condition: tuple[str, list[Any]], after: int, where: Sequence[str],
                       params: Sequence[Any], limit: int) -> list[Contact]:
    sql = (_SEARCH_CONTACT + " WHERE " + " AND ".join([condition[0], "s.rowid > ?", *where])
           + " ORDER BY s.rowid LIMIT ?")
    return [_contact(r) for r in await store.fetchall(sql, [*condition[1], after, *params, limit])]


async def count_where(store: Store, where: Sequence[str], params: Sequence[Any]) -> int:
    """How many contacts meet every condition of ``where`` (on ``contacts c``, with ``params``)."""
    sql = "SELECT count(*) FROM contacts c" + (" WHERE " + " AND ".join(where) if where else "")
    return int(await store.scalar(sql, list(params)))


async def contact_id_with_email(db: aiosqlite.Connection, email_norm: str | None) -> int | None:
    """The id of the contact whose email match key is ``email_norm``, or None."""
    async with db.execute("SELECT id FROM contacts WHERE email_norm = ?", (email_norm,)) as cur:
        row = await cur.fetchone()
    return None if row is None else int(row[0])


class NewContact(msgspec.Struct, frozen=True, kw_only=True):
    """A contact made locally: ``standard`` {standard field: value} (only those given; the others stay
    empty), ``email_norm`` (the match key), owner, creator (user id), ``source`` (api, import...), custom
    ``fields``, when (``stamp``) and whether it is marked for push."""

    standard: dict[str, Any]
    email_norm: str | None
    owner_id: str | None
    created_by: int
    source: str
    fields: dict[str, Any]
    stamp: int
    push: bool


async def insert_contact(db: aiosqlite.Connection, new: NewContact) -> int:
    """Create a local contact (revision 1, not linked); its id."""
    cols = list(new.standard)
    async with db.execute(
        f"INSERT INTO contacts({', '.join(cols)}, email_norm, owner_id, created_by, source, fields, created_at, "
        f"updated_at, push_wanted) VALUES ({', '.join('?' * len(cols))}, ?, ?, ?, ?, ?, ?, ?, ?)",
        [*new.standard.values(), new.email_norm, new.owner_id, new.created_by, new.source, dumps(new.fields),
         new.stamp, new.stamp, int(new.push)],
    ) as cur:
        contact_id = cur.lastrowid
    assert contact_id is not None
    return contact_id


async def edit_contact(db: aiosqlite.Connection, contact_id: int, standard: dict[str, Any], *,
                       fields: dict[str, Any] | None = None, fields_patch: dict[str, Any] | None = None,
                       email_norm: str | None = None, stamp: int) -> None:
    """A local edit of ``contact_id`` at ``stamp``, one revision more: ``standard`` {standard field: value};
    custom fields replaced by ``fields`` or merged with ``fields_patch`` (JSON merge patch); ``email_norm``
    set when ``standard`` holds ``email``. Raises aiosqlite.IntegrityError when another contact has the email."""
    sets = [f"{f} = ?" for f in standard]
    params: list[Any] = list(standard.values())
    if "email" in standard:
        sets.append("email_norm = ?")
        params.append(email_norm)
    if fields is not None:
        sets.append("fields = ?")
        params.append(dumps(fields))
    if fields_patch is not None:
        sets.append("fields = json_patch(fields, ?)")
        params.append(dumps(fields_patch))
    await db.execute(f"UPDATE contacts SET {', '.join([*sets, 'updated_at = ?'])}, local_rev = local_rev + 1 "
                     "WHERE id = ?", [*params, stamp, contact_id])


class ImportMatch(msgspec.Struct, frozen=True):
    """An existing contact an import row matches: id, email match key, owner, ``standard`` {standard field:
    value} and custom ``fields``."""

    id: int
    email_norm: str
    owner_id: str | None
    standard: dict[str, Any]
    fields: dict[str, Any]


async def contacts_by_email_keys(db: aiosqlite.Connection, keys: Sequence[str]) -> dict[str, ImportMatch]:
    """The contacts whose email match key is among ``keys``, by key (one statement per :data:`MATCH_CHUNK`)."""
    found: dict[str, ImportMatch] = {}
    for part in chunks(keys, MATCH_CHUNK):
        async with db.execute(f"SELECT id, email_norm, owner_id, {', '.join(STANDARD_FIELDS)}, fields FROM contacts "
                              f"WHERE email_norm IN ({', '.join('?' * len(part))})", list(part)) as cur:
            for row in await cur.fetchall():
                found[row["email_norm"]] = ImportMatch(
                    id=row["id"], email_norm=row["email_norm"], owner_id=row["owner_id"],
                    standard={f: row[f] for f in STANDARD_FIELDS}, fields=loads(row["fields"]) or {})
    return found
