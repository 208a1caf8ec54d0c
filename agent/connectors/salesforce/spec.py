"""Salesforce as leadsync knows it (:class:`~leadsync.agent.connectors.crm_spec.CrmSpec`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from leadsync.agent.connectors.crm_spec import ConnectionStatusHook, CrmSpec, SaveCredentials
from leadsync.common.answers import FieldMapping

if TYPE_CHECKING:
    import httpx

    from leadsync.agent.connectors.salesforce.client import SalesforceConnector

OAUTH_KEYS: Final = ("client_id", "refresh_token")
"""A connected app's refresh token (+ ``client_secret`` when the app requires it); tokens rotate."""
ACCESS_TOKEN_KEYS: Final = ("access_token",)
"""An access token (+ ``instance_url``), until it expires."""

DEFAULT_MAPPINGS: tuple[FieldMapping, ...] = (
    FieldMapping(local="email", crm="Email", policy="crm_wins"),
    FieldMapping(local="first_name", crm="FirstName"),
    FieldMapping(local="last_name", crm="LastName"),
    FieldMapping(local="company", crm="Company"),  # Leads only: a Contact's company is its Account
    FieldMapping(local="job_title", crm="Title"),
    FieldMapping(local="phone", crm="Phone"),
    FieldMapping(local="lifecycle_stage", crm="Status", policy="crm_wins",  # Lead Status; Leads only
                 value_map={"lead": "Open - Not Contacted", "salesqualifiedlead": "Working - Contacted",
                            "customer": "Closed - Converted", "other": "Closed - Not Converted"}),
    FieldMapping(local="lead_score", crm="Lead_Score__c", policy="local_wins"),
)


def connect(base_url: str, credentials: dict[str, str], *, transport: httpx.AsyncBaseTransport | None,
            save_credentials: SaveCredentials, on_status: ConnectionStatusHook | None,
            **options: Any) -> SalesforceConnector:
    """The Salesforce connector for a connected app's ``{"client_id", "refresh_token"}`` (+ ``client_secret``)
    whose rotated tokens and ``instance_url`` go to ``save_credentials``, or ``{"access_token"}`` (+
    ``instance_url``); ``base_url`` is the login URL."""
    from leadsync.agent.connectors.salesforce.client import SalesforceConnector

    options.pop("search_per_s", None)  # HubSpot's search limit; Salesforce has none of its own
    return SalesforceConnector(base_url, credentials, transport=transport, save_credentials=save_credentials,
                               on_status=on_status, **options)


def serve_sandbox(host: str, port: int, *, contacts: int, seed: int, token: str) -> None:
    """Serve the Salesforce sandbox with ``contacts`` records: 60% Leads, 40% Contacts."""
    from leadsync.agent.connectors.salesforce.sandbox import serve

    leads = contacts * 3 // 5
    serve(host, port, leads=leads, contacts=contacts - leads, seed=seed, token=token)


def sandbox_credentials(token: str) -> dict[str, str]:
    """The sandbox's connected app (its refresh token rotates like Salesforce's)."""
    from leadsync.agent.connectors.salesforce.sandbox import (
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        DEFAULT_REFRESH_TOKEN,
    )

    return {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET,
            "refresh_token": DEFAULT_REFRESH_TOKEN}


SPEC: Final = CrmSpec(
    name="salesforce",
    display_name="Salesforce",
    credential_keys=(OAUTH_KEYS, ACCESS_TOKEN_KEYS),
    default_base_url="https://login.salesforce.com",
    default_mappings=DEFAULT_MAPPINGS,
    connect=connect,
    serve_sandbox=serve_sandbox,
    sandbox_credentials=sandbox_credentials,
)
