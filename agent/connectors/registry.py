"""Which connectors exist and how to build one from a connection's settings and credentials.

Environment: ``LEADSYNC_HUBSPOT_RATE_LIMIT_PER_10S`` overrides the HubSpot connector's proactive
rate limit (requests per rolling 10 s; default 100, HubSpot's base tier; 190 on higher tiers). Tests
and demos against the local sandbox raise it to run fast; an explicit ``rate_limit_per_10s`` option
wins over it.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from leadsync.agent.connectors.base import Connector
from leadsync.common.errors import ValidationError

CRMS = ("hubspot", "salesforce", "zoho", "autotask")
DEFAULT_BASE_URLS = {"hubspot": "https://api.hubapi.com", "salesforce": "https://login.salesforce.com",
                     "zoho": "https://accounts.zoho.com", "autotask": "https://webservices.autotask.net"}
RATE_LIMIT_ENV = "LEADSYNC_HUBSPOT_RATE_LIMIT_PER_10S"

SaveSecrets = Callable[[str, dict[str, str]], None]
"""``save(crm, credentials)``: the agent's SecretStore.save (atomic, mode 0600)."""
ConnectionStatusHook = Callable[[str], Awaitable[None] | None]
"""Told a connection's status when auth changes it: ``"connected"`` or ``"needs_reauth"``."""


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


def make_connector(crm: str, base_url: str | None, credentials: dict[str, str], *,
                   transport: httpx.AsyncBaseTransport | None = None,
                   save_credentials: SaveSecrets | None = None,
                   on_connection_status: ConnectionStatusHook | None = None,
                   **options: Any) -> Connector:
    """Build the connector for ``crm`` (one of ``CRMS``). Raises ValidationError for an unknown CRM or
    missing credentials (the message names what is missing, never a secret's value).

    HubSpot takes ``{"token"}`` (a private-app or OAuth access token) or an OAuth connection
    ``{"client_id", "client_secret", "refresh_token"}`` whose refreshed tokens go to
    ``save_credentials("hubspot", values)``; ``on_connection_status`` hears ``"needs_reauth"`` when
    the refresh token is refused.

    Salesforce takes a connected app's ``{"client_id", "refresh_token"}`` (+ ``client_secret``) whose
    rotated tokens and ``instance_url`` go to ``save_credentials("salesforce", values)``, or
    ``{"access_token"}`` (+ ``instance_url``); ``base_url`` is the login URL.

    Zoho CRM takes ``{"client_id", "client_secret", "refresh_token"}``; ``base_url`` is the data center's
    accounts URL (``https://accounts.zoho.eu`` ...) and API calls go to the ``api_domain`` it names.

    Autotask takes an API user's ``{"username", "secret", "integration_code"}``; ``base_url`` is the
    zone URL, or the global one (the zone is then looked up).
    """
    def save(values: dict[str, str]) -> None:
        if save_credentials is not None:
            save_credentials(crm, values)

    if crm in ("zoho", "autotask"):
        options.pop("search_per_s", None)
        url = base_url or DEFAULT_BASE_URLS[crm]
        if crm == "zoho":
            from leadsync.agent.connectors.zoho import ZohoConnector

            return ZohoConnector(url, credentials, transport=transport, save_credentials=save,
                                 on_status=on_connection_status, **options)
        from leadsync.agent.connectors.autotask import AutotaskConnector

        return AutotaskConnector(url, credentials, transport=transport, **options)
    if crm == "salesforce":
        from leadsync.agent.connectors.salesforce import SalesforceConnector

        options.pop("search_per_s", None)  # HubSpot's search limit; Salesforce has none of its own
        return SalesforceConnector(base_url or DEFAULT_BASE_URLS[crm], credentials, transport=transport,
                                   save_credentials=save, on_status=on_connection_status, **options)
    if crm == "hubspot":
        from leadsync.agent.connectors.hubspot import HubSpotConnector
        from leadsync.agent.connectors.hubspot.oauth import OAUTH_KEYS, is_oauth

        if "rate_limit_per_10s" not in options:
            env_limit = _rate_limit_from_env()
            if env_limit is not None:
                options["rate_limit_per_10s"] = env_limit
        url = base_url or DEFAULT_BASE_URLS[crm]
        if is_oauth(credentials):
            return HubSpotConnector(url, oauth=credentials, save_credentials=save,
                                    on_status=on_connection_status, transport=transport, **options)
        token = credentials.get("token")
        if not token:
            raise ValidationError("credentials: HubSpot needs a private-app or OAuth access token ('token'), "
                                  f"or an OAuth app's {', '.join(repr(k) for k in OAUTH_KEYS)}")
        return HubSpotConnector(url, token, transport=transport, **options)
    raise ValidationError(f"crm: {crm!r} is not supported; one of {', '.join(CRMS)}")
