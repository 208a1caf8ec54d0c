"""The organization's one CRM connection: connect, re-authenticate, disconnect, and its status.

Rules: one CRM per organization (a second ``connect`` is refused until ``disconnect``); credentials are
checked against the CRM before they are saved; new credentials must reach the same CRM account; while
credentials are being checked they change nothing (not the stored tokens, not the connection's status).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from leadsync.agent.connectors.base import ConnectionInfo, Connector
from leadsync.agent.connectors.registry import CRMS
from leadsync.agent.runtime import Runtime
from leadsync.agent.secrets import system_credentials
from leadsync.agent.store.queries import crm_connection
from leadsync.agent.store.queries.crm_connection import CrmConnection
from leadsync.common.errors import (
    CrmAlreadyConnectedError,
    CrmAuthError,
    CrmError,
    CrmNotConnectedError,
    ValidationError,
)
from leadsync.common.instants import now_ms
from leadsync.common.models import CrmStatus

PRIVATE_APP_NOTE = ("the CRM does not say which user these credentials belong to (a private-app token): "
                    "they see every record their scopes allow, like an admin")


def candidate_connector(agent: Runtime, crm: str, base_url: str | None,
                        credentials: dict[str, str]) -> tuple[Connector, Callable[[], None]]:
    """A connector for credentials still being checked: until ``accept()`` its refreshed tokens are not
    stored and its auth troubles do not change the connection's status (a refused ``crm.reauth`` leaves
    the working connection as it was)."""
    accepted = False

    def save(name: str, values: dict[str, str]) -> None:
        if accepted:
            agent.secrets.save(name, values)

    def on_status(status: str) -> Awaitable[None] | None:
        return agent.set_connection_status(status) if accepted else None

    def accept() -> None:
        nonlocal accepted
        accepted = True

    options = {**agent.connector_options, "save_credentials": save, "on_connection_status": on_status}
    return agent.connector_factory(crm, base_url, credentials, **options), accept


def _save_credentials(agent: Runtime, crm: str, connector: Connector, given: dict[str, str]) -> None:
    """Store the credentials in force: an OAuth connector may already hold newer tokens than the ones
    given (a rotated refresh token), and those are kept."""
    current = getattr(connector, "current_credentials", None)
    agent.secrets.save(crm, (current() if callable(current) else None) or given)


async def connect(agent: Runtime, crm: str, base_url: str | None, credentials: dict[str, str]) -> CrmStatus:
    """Connect the organization's CRM once the CRM accepts ``credentials``.

    Raises CrmAlreadyConnectedError (one CRM per organization), ValidationError (an unsupported CRM),
    CrmAuthError (refused credentials; an OAuth refusal names the fields to check) and other CrmErrors."""
    current = await crm_connection.get(agent.store)
    if current is not None:
        raise CrmAlreadyConnectedError(
            f"{current.crm} is already connected; one CRM per organization: crm.disconnect first",
            data={"connected": current.crm})
    if crm not in CRMS:
        raise ValidationError(f"crm: {crm!r} is not supported; one of {', '.join(CRMS)}")
    credentials = _with_system_credentials(crm, credentials)
    connector, accept = candidate_connector(agent, crm, base_url, credentials)
    try:
        info = await connector.connection_info()  # validate the credentials before saving them
    except CrmError as exc:
        await connector.aclose()
        reason = exc.data.get("reason") if isinstance(exc, CrmAuthError) and isinstance(exc.data, dict) else None
        if reason:  # nothing is connected yet: "re-authenticate with crm.reauth" would mislead
            raise CrmAuthError(f"{crm}: the CRM refused these credentials ({reason}); check client_id, "
                               "client_secret and refresh_token", crm=crm, status=401,
                               category="refused") from None
        raise
    accept()
    _save_credentials(agent, crm, connector, credentials)
    async with agent.store.transaction() as db:
        await crm_connection.insert(db, _connection(crm, connector.base_url, info))
    agent.connector = connector
    return await status(agent)


def _with_system_credentials(crm: str, given: dict[str, str]) -> dict[str, str]:
    """``given`` credentials, or the service's systemd credentials when none are given (see
    :mod:`leadsync.agent.secrets`); ValidationError for an unreadable ``<crm>.json``."""
    return given or system_credentials(crm)


def _connection(crm: str, base_url: str, info: ConnectionInfo) -> CrmConnection:
    return CrmConnection(crm=crm, base_url=base_url, user_email=info.user_email, user_id=info.user_id,
                         is_admin=info.is_admin, account_id=info.account_id, status="connected",
                         connected_at=now_ms())


async def reauth(agent: Runtime, credentials: dict[str, str]) -> CrmStatus:
    """Replace the connected CRM's credentials without disconnecting (links, cursors, history stay).

    Raises CrmNotConnectedError, the CRM's error when it refuses them (the old credentials stay in force)
    and ValidationError when they reach another CRM account."""
    current = await crm_connection.get(agent.store)
    if current is None:
        raise CrmNotConnectedError("no CRM is connected: crm.connect first")
    credentials = _with_system_credentials(current.crm, credentials)
    connector, accept = candidate_connector(agent, current.crm, current.base_url, credentials)
    try:
        info = await connector.connection_info()
    except CrmError:
        await connector.aclose()
        raise
    if current.account_id and info.account_id and info.account_id != current.account_id:
        await connector.aclose()
        raise ValidationError(f"credentials: they reach {current.crm} account {info.account_id}, not the connected "
                              f"account {current.account_id}; crm.disconnect first to switch accounts")
    accept()
    _save_credentials(agent, current.crm, connector, credentials)
    async with agent.store.transaction() as db:
        await crm_connection.set_user(db, user_email=info.user_email, user_id=info.user_id, is_admin=info.is_admin)
    old, agent.connector = agent.connector, connector
    if old is not None:
        await old.aclose()
    agent.emit({"type": "crm_status", "status": "connected"})
    return await status(agent)


async def disconnect(agent: Runtime) -> CrmStatus:
    """Remove the connection and its stored credentials (links and history stay); raises
    CrmNotConnectedError."""
    current = await crm_connection.get(agent.store)
    if current is None:
        raise CrmNotConnectedError("no CRM is connected")
    if agent.connector is not None:
        await agent.connector.aclose()
    agent.connector = None
    agent.secrets.delete(current.crm)
    async with agent.store.transaction() as db:
        await crm_connection.delete(db)
    return await status(agent)


async def status(agent: Runtime) -> CrmStatus:
    """The connection as ``crm.status`` shows it, with a warning for a non-admin user or a refused OAuth
    refresh token, and a note when the CRM does not say whose credentials these are."""
    current = await crm_connection.get(agent.store)
    if current is None:
        return CrmStatus(connected=False)
    admin = current.is_admin
    warning = None if admin else "connected with a non-admin CRM user: leadsync sees only that user's records"
    if current.status == "needs_reauth":  # issue 7: the CRM refused the OAuth refresh token
        warning = ("the CRM refused the stored OAuth refresh token: syncs stop until it is reconnected "
                   "(crm.reauth with new credentials)")
    return CrmStatus(
        connected=True, crm=current.crm, base_url=current.base_url, user_email=current.user_email,
        is_admin=admin, status=current.status, connected_at=current.connected_at, warning=warning,
        note=PRIVATE_APP_NOTE if admin and not current.user_email else None,
    )
