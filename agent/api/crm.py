"""``crm.*``: the organization's one CRM connection."""

from __future__ import annotations

import msgspec

from leadsync.agent import connection
from leadsync.agent.api.registry import ApiContext, NoParams, Params, method
from leadsync.common.models import CrmStatus


class CrmConnect(Params):
    crm: str
    credentials: dict[str, str] = msgspec.field(default_factory=dict)
    base_url: str | None = None


class CrmReauth(Params):
    credentials: dict[str, str] = msgspec.field(default_factory=dict)


@method("crm.connect", CrmConnect)
async def crm_connect(ctx: ApiContext, p: CrmConnect) -> CrmStatus:
    """Connect the organization's one CRM; refused while another is connected. Credentials left out come from
    the service's systemd credentials (``<crm>.json`` or ``<crm>-<name>`` in ``$CREDENTIALS_DIRECTORY``)."""
    return await connection.connect(ctx.agent, p.crm, p.base_url, p.credentials)


@method("crm.reauth", CrmReauth)
async def crm_reauth(ctx: ApiContext, p: CrmReauth) -> CrmStatus:
    """Replace the connected CRM's credentials (a new token, or a new OAuth refresh token after
    ``needs_reauth``) without disconnecting: links, cursors and history stay. The new credentials are
    checked first and must reach the same CRM account; the old ones stay in force if they fail."""
    return await connection.reauth(ctx.agent, p.credentials)


@method("crm.disconnect", NoParams)
async def crm_disconnect(ctx: ApiContext, _: NoParams) -> CrmStatus:
    """Remove the CRM connection and its credentials (links and history stay)."""
    return await connection.disconnect(ctx.agent)


@method("crm.status", NoParams)
async def crm_status(ctx: ApiContext, _: NoParams) -> CrmStatus:
    """The CRM connection: which CRM, who connected it, whether that user is an admin."""
    return await connection.status(ctx.agent)
