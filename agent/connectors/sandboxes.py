"""Each CRM's local sandbox as ``leadsync sandbox --crm NAME`` and ``leadsync demo --crm NAME`` use it:
how to serve it, and the credentials that connect an agent to it.

``serve(crm, host, port, contacts=, seed=, token=)`` blocks, printing ``{"event": "listening", "url": URL}``
as one JSON line on stdout once it listens (``port=0`` picks a free port). ``credentials(crm, token)`` is
the ``crm.connect`` credentials for a sandbox served with ``token``: a static token for HubSpot, the
sandbox's OAuth app for Salesforce (rotating refresh token) and Zoho, the API user (``token`` as its
secret) for Autotask.
"""

from __future__ import annotations

from leadsync.common.errors import ValidationError

SANDBOX_CRMS = ("hubspot", "salesforce", "zoho", "autotask")


def serve(crm: str, host: str, port: int, *, contacts: int, seed: int, token: str) -> None:
    """Serve ``crm``'s sandbox seeded with ``contacts`` records (Salesforce, Zoho: 60% Leads, 40% Contacts).
    Raises ValidationError for a CRM without a sandbox."""
    if crm == "hubspot":
        from leadsync.agent.connectors.hubspot.sandbox import serve as serve_hubspot

        serve_hubspot(host, port, contacts=contacts, seed=seed, token=token)
    elif crm == "salesforce":
        from leadsync.agent.connectors.salesforce.sandbox import serve as serve_salesforce

        leads = contacts * 3 // 5
        serve_salesforce(host, port, leads=leads, contacts=contacts - leads, seed=seed, token=token)
    elif crm == "zoho":
        from leadsync.agent.connectors.zoho.sandbox import serve as serve_zoho

        leads = contacts * 3 // 5
        serve_zoho(host, port, leads=leads, contacts=contacts - leads, seed=seed, token=token)
    elif crm == "autotask":
        from leadsync.agent.connectors.autotask.sandbox import serve as serve_autotask

        serve_autotask(host, port, contacts=contacts, seed=seed, token=token)
    else:
        raise ValidationError(f"crm: no sandbox for {crm!r}; one of {', '.join(SANDBOX_CRMS)}")


def credentials(crm: str, token: str) -> dict[str, str]:
    """What ``crm.connect`` takes to reach ``crm``'s sandbox served with ``token``."""
    if crm == "salesforce":
        from leadsync.agent.connectors.salesforce.sandbox import (
            DEFAULT_CLIENT_ID,
            DEFAULT_CLIENT_SECRET,
            DEFAULT_REFRESH_TOKEN,
        )

        return {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET,
                "refresh_token": DEFAULT_REFRESH_TOKEN}
    if crm == "zoho":
        from leadsync.agent.connectors.zoho import sandbox as zoho

        return {"client_id": zoho.DEFAULT_CLIENT_ID, "client_secret": zoho.DEFAULT_CLIENT_SECRET,
                "refresh_token": zoho.DEFAULT_REFRESH_TOKEN}
    if crm == "autotask":
        from leadsync.agent.connectors.autotask.sandbox import DEFAULT_INTEGRATION_CODE, DEFAULT_USERNAME

        return {"username": DEFAULT_USERNAME, "secret": token, "integration_code": DEFAULT_INTEGRATION_CODE}
    return {"token": token}
