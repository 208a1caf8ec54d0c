"""Zoho CRM as leadsync knows it (:class:`~leadsync.agent.connectors.crm_spec.CrmSpec`).

The default field mappings name the Lead fields; the engine writes the mapped properties a module has
(``Company`` and ``Lead_Status`` exist only on Leads; a Lead's ``Designation`` is a Contact's ``Title``,
named with ``crm_by_object``) and the connector drops the others too. ``Lead_Score`` is a custom number
field on both modules (the sandbox has it; a real org adds it, or the mapping is changed to its own field).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from leadsync.agent.connectors.crm_spec import ConnectionStatusHook, CrmSpec, SaveCredentials
from leadsync.common.answers import FieldMapping

if TYPE_CHECKING:
    import httpx

    from leadsync.agent.connectors.zoho.client import ZohoConnector

OAUTH_KEYS: Final = ("client_id", "client_secret", "refresh_token")
"""A self client's (or server-based app's) refresh token."""

DEFAULT_MAPPINGS: tuple[FieldMapping, ...] = (
    FieldMapping(local="email", crm="Email", policy="crm_wins"),
    FieldMapping(local="first_name", crm="First_Name"),
    FieldMapping(local="last_name", crm="Last_Name"),
    FieldMapping(local="company", crm="Company"),  # Leads only
    FieldMapping(local="job_title", crm="Designation", crm_by_object={"contact": "Title"}),
    FieldMapping(local="phone", crm="Phone"),
    FieldMapping(local="lifecycle_stage", crm="Lead_Status", policy="crm_wins",  # Leads only
                 value_map={"lead": "Not Contacted", "marketingqualifiedlead": "Contacted",
                            "salesqualifiedlead": "Pre-Qualified", "other": "Not Qualified"}),
    FieldMapping(local="lead_score", crm="Lead_Score", policy="local_wins"),  # a custom number field on both
)


def connect(base_url: str, credentials: dict[str, str], *, transport: httpx.AsyncBaseTransport | None,
            save_credentials: SaveCredentials, on_status: ConnectionStatusHook | None,
            **options: Any) -> ZohoConnector:
    """The Zoho CRM connector for ``{"client_id", "client_secret", "refresh_token"}``; ``base_url`` is the data
    center's accounts URL (``https://accounts.zoho.eu`` ...) and API calls go to the ``api_domain`` it names."""
    from leadsync.agent.connectors.zoho.client import ZohoConnector

    options.pop("search_per_s", None)
    return ZohoConnector(base_url, credentials, transport=transport, save_credentials=save_credentials,
                         on_status=on_status, **options)


def serve_sandbox(host: str, port: int, *, contacts: int, seed: int, token: str) -> None:
    """Serve the Zoho CRM sandbox with ``contacts`` records: 60% Leads, 40% Contacts."""
    from leadsync.agent.connectors.zoho.sandbox import serve

    leads = contacts * 3 // 5
    serve(host, port, leads=leads, contacts=contacts - leads, seed=seed, token=token)


def sandbox_credentials(token: str) -> dict[str, str]:
    """The sandbox's OAuth app."""
    from leadsync.agent.connectors.zoho import sandbox

    return {"client_id": sandbox.DEFAULT_CLIENT_ID, "client_secret": sandbox.DEFAULT_CLIENT_SECRET,
            "refresh_token": sandbox.DEFAULT_REFRESH_TOKEN}


SPEC: Final = CrmSpec(
    name="zoho",
    display_name="Zoho CRM",
    credential_keys=(OAUTH_KEYS,),
    default_base_url="https://accounts.zoho.com",
    default_mappings=DEFAULT_MAPPINGS,
    connect=connect,
    serve_sandbox=serve_sandbox,
    sandbox_credentials=sandbox_credentials,
)
