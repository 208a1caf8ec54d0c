"""Local users and CRM owners, matched by email (trimmed, case-insensitive).

The CRM's owner list is pulled at every sync; a user's CRM owner is the owner with the same email.
Unmatched owners are listed, never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from leadsync.agent.connectors.base import CrmOwner
from leadsync.agent.store.store import Store, dumps, loads
from leadsync.agent.validation import clean_email, clean_text
from leadsync.common.emails import normalize_email
from leadsync.common.errors import NotFoundError, ValidationError
from leadsync.common.instants import now_ms
from leadsync.common.models import Owner, User

_USER_SQL = """
SELECT u.id, u.email, u.name, u.role, u.created_at, o.crm_id, o.active
FROM users u LEFT JOIN owners o ON o.email_norm = u.email_norm
"""


def _user(row: aiosqlite.Row) -> User:
    return User(
        id=row["id"], email=row["email"], name=row["name"], role=row["role"], created_at=row["created_at"],
        crm_owner_id=row["crm_id"], owner_active=None if row["active"] is None else bool(row["active"]),
    )


async def create_user(store: Store, email: str, name: str = "", role: str = "user") -> User:
    """Add a user; raises ValidationError for a bad or already used email (case-insensitive)."""
    email = clean_email(email)
    name = clean_text("name", name) or ""
    if role not in ("user", "admin"):
        raise ValidationError(f"role: must be 'user' or 'admin', not {role!r}")
    key = normalize_email(email)
    async with store.transaction() as db:
        async with db.execute("SELECT id FROM users WHERE email_norm = ?", (key,)) as cur:
            if await cur.fetchone():
                raise ValidationError(f"email: a user with {email!r} already exists")
        async with db.execute(
            "INSERT INTO users(email, email_norm, name, role, created_at) VALUES (?, ?, ?, ?, ?)",
            (email, key, name, role, now_ms()),
        ) as cur:
            user_id = cur.lastrowid
    assert user_id is not None
    return await get_user(store, user_id)


async def get_user(store: Store, user_id: int) -> User:
    row = await store.fetchone(_USER_SQL + " WHERE u.id = ?", (user_id,))
    if row is None:
        raise NotFoundError(f"no user with id {user_id}")
    return _user(row)


async def find_user(store: Store, ref: int | str) -> User:
    """A user by id (an int or a string of digits) or by email (trimmed, case-insensitive); raises
    NotFoundError."""
    if isinstance(ref, str) and ref.strip().isdigit():
        ref = int(ref)
    if isinstance(ref, int):
        return await get_user(store, ref)
    row = await store.fetchone(_USER_SQL + " WHERE u.email_norm = ?", (normalize_email(ref),))
    if row is None:
        raise NotFoundError(f"no user with email {ref!r}")
    return _user(row)


async def list_users(store: Store) -> list[User]:
    return [_user(r) for r in await store.fetchall(_USER_SQL + " ORDER BY u.id")]


async def list_owners(store: Store, *, unmatched_only: bool = False) -> list[Owner]:
    """CRM owners with the matched user id and how many contacts each owns."""
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


async def save_owners(db: aiosqlite.Connection, owners: Sequence[CrmOwner]) -> None:
    """Upsert the CRM's owners (inside the caller's transaction). Owners missing from the CRM's answer
    are kept (their contacts still name them) and marked inactive."""
    stamp = now_ms()
    await db.executemany(
        """INSERT INTO owners(crm_id, email, email_norm, first_name, last_name, active, teams, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(crm_id) DO UPDATE SET email=excluded.email, email_norm=excluded.email_norm,
             first_name=excluded.first_name, last_name=excluded.last_name, active=excluded.active,
             teams=excluded.teams, updated_at=excluded.updated_at""",
        [
            (o.id, o.email.strip(), normalize_email(o.email), o.first_name, o.last_name, int(o.active),
             dumps([{"id": t.id, "name": t.name, "primary": t.primary} for t in o.teams]), stamp)
            for o in owners
        ],
    )
    await db.execute("UPDATE owners SET active = 0 WHERE updated_at < ?", (stamp,))


async def owner_for_user(store: Store, user_id: int) -> tuple[str, bool] | None:
    """The CRM owner id matched to a user and whether that owner is active; None when unmatched."""
    row = await store.fetchone(
        "SELECT o.crm_id, o.active FROM users u JOIN owners o ON o.email_norm = u.email_norm WHERE u.id = ?",
        (user_id,),
    )
    return None if row is None else (row[0], bool(row[1]))


async def resolve_active_owner(store: Store, ref: str) -> str:
    """A CRM owner id from an owner id or email; raises ValidationError unless it names an active owner
    the last sync saw."""
    key = ref.strip()
    row = await store.fetchone("SELECT crm_id, active FROM owners WHERE crm_id = ? OR email_norm = ?",
                               (key, normalize_email(key) or None))
    if row is None:
        raise ValidationError(f"fallback_owner: {key!r} is not a CRM owner (give an owner id or email from "
                              "users.list; sync first if the CRM is new)")
    if not row["active"]:
        raise ValidationError(f"fallback_owner: owner {row['crm_id']} is deactivated in the CRM")
    return str(row["crm_id"])
