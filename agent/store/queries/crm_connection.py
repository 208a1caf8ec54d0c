"""``crm_connection``: the organization's one CRM connection (a single row, id 1)."""

from __future__ import annotations

import aiosqlite
import msgspec

from leadsync.agent.store.queries.rows import to_struct
from leadsync.agent.store.store import Store


class CrmConnection(msgspec.Struct, kw_only=True):
    """Which CRM (and where), who connected it (``user_email``/``user_id`` as the CRM says; None for a
    private-app token), whether that user is an admin, the CRM account, ``status`` (connected,
    needs_reauth) and when it was connected (epoch ms UTC)."""

    crm: str
    base_url: str
    user_email: str | None
    user_id: str | None
    is_admin: bool
    account_id: str | None
    status: str
    connected_at: int


async def get(store: Store) -> CrmConnection | None:
    """The connection; None when no CRM is connected."""
    row = await store.fetchone("SELECT * FROM crm_connection WHERE id = 1")
    return None if row is None else to_struct(row, CrmConnection)


async def insert(db: aiosqlite.Connection, connection: CrmConnection) -> None:
    """Record a new connection (fails with IntegrityError while one exists)."""
    await db.execute(
        "INSERT INTO crm_connection(id, crm, base_url, user_email, user_id, is_admin, account_id, status, "
        "connected_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)",
        (connection.crm, connection.base_url, connection.user_email, connection.user_id, int(connection.is_admin),
         connection.account_id, connection.status, connection.connected_at))


async def set_user(db: aiosqlite.Connection, *, user_email: str | None, user_id: str | None, is_admin: bool) -> None:
    """New credentials of the same account: who they belong to; the connection is ``connected`` again."""
    await db.execute("UPDATE crm_connection SET user_email = ?, user_id = ?, is_admin = ?, status = 'connected' "
                     "WHERE id = 1", (user_email, user_id, int(is_admin)))


async def delete(db: aiosqlite.Connection) -> None:
    """Forget the connection (links, cursors and history stay)."""
    await db.execute("DELETE FROM crm_connection")
