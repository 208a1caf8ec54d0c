"""Which connectors exist and how to build one from a connection's settings and credentials."""

from __future__ import annotations

from typing import Any

import httpx
from leadsync.agent.connectors.base import Connector
from leadsync.common.errors import ValidationError

CRMS = ("hubspot",)
DEFAULT_BASE_URLS = {"hubspot": "https://api.hubapi.com"}


def make_connector(crm: str, base_url: str | None, credentials: dict[str, str], *,
                   transport: httpx.AsyncBaseTransport | None = None, **options: Any) -> Connector:
    """Build the connector for ``crm`` (one of ``CRMS``). Raises ValidationError for an unknown CRM or
    missing credentials (the message names what is missing, never a secret's value)."""
    if crm == "hubspot":
        from leadsync.agent.connectors.hubspot import HubSpotConnector

        token = credentials.get("token")
        if not token:
            raise ValidationError("credentials: HubSpot needs a private-app or OAuth access token ('token')")
        return HubSpotConnector(base_url or DEFAULT_BASE_URLS[crm], token, transport=transport, **options)
    raise ValidationError(f"crm: {crm!r} is not supported; one of {', '.join(CRMS)}")
