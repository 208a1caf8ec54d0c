"""Local users and CRM owners, matched by email (trimmed, case-insensitive).

The CRM's owner list is pulled at every sync; a user's CRM owner is the owner with the same email.
Unmatched owners are listed, never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from leadsync.agent.connectors.base import CrmOwner
from leadsync.agent.store.queries import owners as owner_rows
from leadsync.agent.store.queries import users as user_rows
from leadsync.agent.store.store import Store
from leadsync.agent.validation import clean_email, clean_text
from leadsync.common.emails import normalize_email
from leadsync.common.errors import NotFoundError, ValidationError
from leadsync.common.instants import now_ms
from leadsync.common.models import Owner, User


async def create_user(store: Store, email: str, name: str = "", role: str = "user") -> User:
    """Add a user; raises ValidationError for a bad or already used email (case-insensitive)."""
    email = clean_email(email)
    name = clean_text("name", name) or ""
    if role not in ("user", "admin"):
        raise ValidationError(f"role: must be 'user' or 'admin', not {role!r}")
    key = normalize_email(email)
    async with store.transaction() as db:
        if await user_rows.user_id_with_email(db, key) is not None:
            raise ValidationError(f"email: a user with {email!r} already exists")
        user_id = await user_rows.insert_user(db, email=email, email_norm=key, name=name, role=role,
                                              created_at=now_ms())
    return await get_user(store, user_id)


async def get_user(store: Store, user_id: int) -> User:
    """One user by id, with the CRM owner matched to it; raises NotFoundError."""
    user = await user_rows.user_by_id(store, user_id)
    if user is None:
        raise NotFoundError(f"no user with id {user_id}")
    return user


async def find_user(store: Store, ref: int | str) -> User:
    """A user by id (an int or a string of digits) or by email (trimmed, case-insensitive); raises
    NotFoundError."""
    if isinstance(ref, str) and ref.strip().isdigit():
        ref = int(ref)
    if isinstance(ref, int):
        return await get_user(store, ref)
    user = await user_rows.user_by_email(store, normalize_email(ref))
    if user is None:
        raise NotFoundError(f"no user with email {ref!r}")
    return user


async def list_users(store: Store) -> list[User]:
    """Every user with the CRM owner matched to it, by id."""
    return await user_rows.all_users(store)


async def list_owners(store: Store, *, unmatched_only: bool = False) -> list[Owner]:
    """CRM owners with the matched user id and how many contacts each owns."""
    return await owner_rows.list_owners(store, unmatched_only=unmatched_only)


async def save_owners(db: aiosqlite.Connection, owners: Sequence[CrmOwner]) -> None:
    """Upsert the CRM's owners (inside the caller's transaction). Owners missing from the CRM's answer
    are kept (their contacts still name them) and marked inactive."""
    await owner_rows.upsert_owners(db, [
        owner_rows.OwnerRow(crm_id=o.id, email=o.email.strip(), email_norm=normalize_email(o.email),
                            first_name=o.first_name, last_name=o.last_name, active=o.active,
                            teams=[{"id": t.id, "name": t.name, "primary": t.primary} for t in o.teams])
        for o in owners], now_ms())


async def owner_for_user(store: Store, user_id: int) -> tuple[str, bool] | None:
    """The CRM owner id matched to a user and whether that owner is active; None when unmatched."""
    matched = await user_rows.owner_of_user(store, user_id)
    return None if matched is None else (matched.crm_id, matched.active)


async def resolve_active_owner(store: Store, ref: str) -> str:
    """A CRM owner id from an owner id or email; raises ValidationError unless it names an active owner
    the last sync saw."""
    key = ref.strip()
    owner = await owner_rows.find_owner(store, key, normalize_email(key) or None)
    if owner is None:
        raise ValidationError(f"fallback_owner: {key!r} is not a CRM owner (give an owner id or email from "
                              "users.list; sync first if the CRM is new)")
    if not owner.active:
        raise ValidationError(f"fallback_owner: owner {owner.crm_id} is deactivated in the CRM")
    return owner.crm_id
