"""HubSpot as leadsync knows it (:class:`~leadsync.agent.connectors.crm_spec.CrmSpec`).

Environment: ``LEADSYNC_HUBSPOT_RATE_LIMIT_PER_10S`` overrides the connector's proactive rate limit
(requests per rolling 10 s; default 100, HubSpot's base tier; 190 on higher tiers). Tests and demos against
the local sandbox raise it to run fast; an explicit ``rate_limit_per_10s`` option wins over it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Final

from leadsync.agent.connectors.crm_spec import ConnectionStatusHook, CrmSpec, SaveCredentials
from leadsync.common.answers import FieldMapping
from leadsync.common.errors import ValidationError

if TYPE_CHECKING:
    import httpx

    from leadsync.agent.connectors.hubspot.client import HubSpotConnector

TOKEN_KEYS: Final = ("token",)
"""A private app's (or an OAuth app's) access token."""
OAUTH_KEYS: Final = ("client_id", "client_secret", "refresh_token")
"""An OAuth app whose access tokens are refreshed before they expire."""
RATE_LIMIT_ENV: Final = "LEADSYNC_HUBSPOT_RATE_LIMIT_PER_10S"

DEFAULT_MAPPINGS: tuple[FieldMapping, ...] = (
    FieldMapping(local="email", crm="email", policy="crm_wins"),
    FieldMapping(local="first_name", crm="firstname"),
    FieldMapping(local="last_name", crm="lastname"),
    FieldMapping(local="company", crm="company"),
    FieldMapping(local="job_title", crm="jobtitle"),
    FieldMapping(local="phone", crm="phone"),
    FieldMapping(local="lifecycle_stage", crm="lifecyclestage", policy="crm_wins"),
    FieldMapping(local="lead_score", crm="lead_score", policy="local_wins"),
)


def _rate_limit_from_env() -> int | None:
    raw = os.environ.get(RATE_LIMIT_ENV, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"{RATE_LIMIT_ENV}: {raw!r} is not a whole number of requests") from None
    if value <= 0:
        raise ValidationError(f"{RATE_LIMIT_ENV}: must be positive, not {value}")
    return value


def connect(base_url: str, credentials: dict[str, str], *, transport: httpx.AsyncBaseTransport | None,
            save_credentials: SaveCredentials, on_status: ConnectionStatusHook | None,
            **options: Any) -> HubSpotConnector:
    """The HubSpot connector for ``{"token"}`` (a private-app or OAuth access token) or an OAuth connection
    ``{"client_id", "client_secret", "refresh_token"}`` whose refreshed tokens go to ``save_credentials``;
    ``on_status`` hears ``"needs_reauth"`` when the refresh token is refused. ValidationError otherwise."""
    from leadsync.agent.connectors.hubspot.client import HubSpotConnector
    from leadsync.agent.connectors.hubspot.oauth import is_oauth

    if "rate_limit_per_10s" not in options:
        env_limit = _rate_limit_from_env()
        if env_limit is not None:
            options["rate_limit_per_10s"] = env_limit
    if is_oauth(credentials):
        return HubSpotConnector(base_url, oauth=credentials, save_credentials=save_credentials, on_status=on_status,
                                transport=transport, **options)
    token = credentials.get("token")
    if not token:
        raise ValidationError("credentials: HubSpot needs a private-app or OAuth access token ('token'), "
                              f"or an OAuth app's {', '.join(repr(k) for k in OAUTH_KEYS)}")
    return HubSpotConnector(base_url, token, transport=transport, **options)


def serve_sandbox(host: str, port: int, *, contacts: int, seed: int, token: str) -> None:
    """Serve the HubSpot sandbox (:func:`leadsync.agent.connectors.hubspot.sandbox.serve`)."""
    from leadsync.agent.connectors.hubspot.sandbox import serve

    serve(host, port, contacts=contacts, seed=seed, token=token)


def sandbox_credentials(token: str) -> dict[str, str]:
    """A sandbox served with ``token`` takes it as a private app's token."""
    return {"token": token}


SPEC: Final = CrmSpec(
    name="hubspot",
    display_name="HubSpot",
    credential_keys=(TOKEN_KEYS, OAUTH_KEYS),
    default_base_url="https://api.hubapi.com",
    default_mappings=DEFAULT_MAPPINGS,
    connect=connect,
    serve_sandbox=serve_sandbox,
    sandbox_credentials=sandbox_credentials,
)
