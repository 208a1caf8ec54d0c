"""Autotask PSA as leadsync knows it (:class:`~leadsync.agent.connectors.crm_spec.CrmSpec`).

``lifecycle_stage`` and ``lead_score`` have no standard Contact field in Autotask (they would need
user-defined fields, which this connector does not model yet), so they are not mapped by default.
``company`` maps to the pseudo-property ``companyName``, which a push uses to find or create the contact's
Company; Autotask refuses a change of it on an existing contact, so Autotask wins its conflicts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from leadsync.agent.connectors.crm_spec import ConnectionStatusHook, CrmSpec, SaveCredentials
from leadsync.common.answers import FieldMapping

if TYPE_CHECKING:
    import httpx

    from leadsync.agent.connectors.autotask.client import AutotaskConnector

CREDENTIAL_KEYS: Final = ("username", "secret", "integration_code")
"""An API user: its user name, secret and the integration's tracking identifier."""

DEFAULT_MAPPINGS: tuple[FieldMapping, ...] = (
    FieldMapping(local="email", crm="emailAddress", policy="crm_wins"),
    FieldMapping(local="first_name", crm="firstName"),
    FieldMapping(local="last_name", crm="lastName"),
    # the contact's Company, found or created by name; a change on an existing contact is refused
    FieldMapping(local="company", crm="companyName", policy="crm_wins"),
    FieldMapping(local="job_title", crm="title"),
    FieldMapping(local="phone", crm="phone"),
)


def connect(base_url: str, credentials: dict[str, str], *, transport: httpx.AsyncBaseTransport | None,
            save_credentials: SaveCredentials, on_status: ConnectionStatusHook | None,
            **options: Any) -> AutotaskConnector:
    """The Autotask connector for an API user's ``{"username", "secret", "integration_code"}``; ``base_url`` is
    the zone URL, or the global one (the zone is then looked up). Its credentials never change, so
    ``save_credentials`` and ``on_status`` are not used."""
    from leadsync.agent.connectors.autotask.client import AutotaskConnector

    options.pop("search_per_s", None)
    return AutotaskConnector(base_url, credentials, transport=transport, **options)


def serve_sandbox(host: str, port: int, *, contacts: int, seed: int, token: str) -> None:
    """Serve the Autotask sandbox with ``contacts`` contacts."""
    from leadsync.agent.connectors.autotask.sandbox import serve

    serve(host, port, contacts=contacts, seed=seed, token=token)


def sandbox_credentials(token: str) -> dict[str, str]:
    """The sandbox's API user, ``token`` as its secret."""
    from leadsync.agent.connectors.autotask.sandbox import DEFAULT_INTEGRATION_CODE, DEFAULT_USERNAME

    return {"username": DEFAULT_USERNAME, "secret": token, "integration_code": DEFAULT_INTEGRATION_CODE}


SPEC: Final = CrmSpec(
    name="autotask",
    display_name="Autotask",
    credential_keys=(CREDENTIAL_KEYS,),
    default_base_url="https://webservices.autotask.net",
    default_mappings=DEFAULT_MAPPINGS,
    connect=connect,
    serve_sandbox=serve_sandbox,
    sandbox_credentials=sandbox_credentials,
)
