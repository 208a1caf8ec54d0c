"""``owners``: the CRM's owners (users who can own records) as the last sync listed them, matched to local
users by email key (``email_norm``); ``teams`` is the owner's CRM teams as JSON ``[{id, name, primary}]``.

The sync engine saves the owners a CRM lists (:func:`upsert_owners`) and checks who can own a pushed contact;
the domain lists them, and reads their teams for visibility and sharing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite
import msgspec

from leadsync.agent.store.queries.rows import to_struct
from leadsync.agent.store.store import Store, dumps, loads
from leadsync.common.models import Owner


class OwnerRow(msgspec.Struct, frozen=True):
    """An owner as a CRM lists it: CRM id, email (trimmed) and its match key, names, whether active and its
    teams ``[{id, name, primary}]``."""

    crm_id: str
    email: str
    email_norm: str
    first_name: str
    last_name: str
    active: bool
    teams: list[dict[str, Any]]


class OwnerState(msgspec.Struct, frozen=True):
    """An owner's CRM id, email and whether it is active in the CRM."""

    crm_id: str
    email: str
    active: bool


async def active_owner_ids(db: aiosqlite.Connection) -> set[str]:
    """The CRM ids of the owners active in the CRM (a contact can be pushed with them as owner)."""
    async with db.execute("SELECT crm_id FROM owners WHERE active = 1") as cur:
        return {row[0] for row in await cur.fetchall()}


async def upsert_owners(db: aiosqlite.Connection, owners: Sequence[OwnerRow], stamp: int) -> None:
    """Insert or update ``owners`` as seen at ``stamp`` (epoch ms UTC; one ``executemany``); owners not
    among them are kept (contacts still name them) and marked inactive."""
    await db.executemany(
        """INSERT INTO owners(crm_id, email, email_norm, first_name, last_name, active, teams, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(crm_id) DO UPDATE SET email=excluded.email, email_norm=excluded.email_norm,
             first_name=excluded.first_name, last_name=excluded.last_name, active=excluded.active,
             teams=excluded.teams, updated_at=excluded.updated_at""",
        [(o.crm_id, o.email, o.email_norm, o.first_name, o.last_name, int(o.active), dumps(o.teams), stamp)
         for o in owners],
    )
    await db.execute("UPDATE owners SET active = 0 WHERE updated_at < ?", (stamp,))


async def list_owners(store: Store, *, unmatched_only: bool = False) -> list[Owner]:
    """The owners (all, or those no user matches) with the matched user id and how many contacts each owns,
    by CRM id."""
    sql = """
    SELECT o.crm_id, o.email, o.first_name, o.last_name, o.active, o.teams, u.id AS user_id,
           (SELECT count(*) FROM contacts c WHERE c.owner_id = o.crm_id) AS owned
    FROM owners o LEFT JOIN users u ON u.email_norm = o.email_norm
    """
    if unmatched_only:
        sql += " WHERE u.id IS NULL"
    rows = await store.fetchall(sql + " ORDER BY o.crm_id")
    return [
        Owner(crm_id=r["crm_id"], email=r["email"], first_name=r["first_name"], last_name=r["last_name"],
              active=bool(r["active"]), teams=loads(r["teams"]), user_id=r["user_id"], contacts_owned=r["owned"])
        for r in rows
    ]


async def owner_rows(store: Store) -> list[OwnerRow]:
    """Every owner as last listed."""
    rows = await store.fetchall("SELECT crm_id, email, email_norm, first_name, last_name, active, teams FROM owners")
    return [OwnerRow(crm_id=r["crm_id"], email=r["email"], email_norm=r["email_norm"], first_name=r["first_name"],
                     last_name=r["last_name"], active=bool(r["active"]), teams=loads(r["teams"]) or [])
            for r in rows]


async def owner_state(store: Store, crm_id: str) -> OwnerState | None:
    """Owner ``crm_id``'s email and whether it is active, or None when the last sync did not list it."""
    row = await store.fetchone("SELECT crm_id, email, active FROM owners WHERE crm_id = ?", (crm_id,))
    return None if row is None else to_struct(row, OwnerState)


async def find_owner(store: Store, crm_id: str, email_norm: str | None) -> OwnerState | None:
    """The owner with CRM id ``crm_id`` or email key ``email_norm`` (the first SQLite finds), or None."""
    row = await store.fetchone("SELECT crm_id, email, active FROM owners WHERE crm_id = ? OR email_norm = ?",
                               (crm_id, email_norm))
    return None if row is None else to_struct(row, OwnerState)
