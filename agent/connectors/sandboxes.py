"""Each CRM's local sandbox as ``leadsync sandbox --crm NAME`` and ``leadsync demo --crm NAME`` use it:
how to serve it, and the credentials that connect an agent to it (from each CRM's spec).

``serve(crm, host, port, contacts=, seed=, token=)`` blocks, printing ``{"event": "listening", "url": URL}``
as one JSON line on stdout once it listens (``port=0`` picks a free port). ``credentials(crm, token)`` is
the ``crm.connect`` credentials for a sandbox served with ``token``: a static token for HubSpot, the
sandbox's OAuth app for Salesforce (rotating refresh token) and Zoho, the API user (``token`` as its
secret) for Autotask.
"""

from __future__ import annotations

from typing import Final

from leadsync.agent.connectors.crm_spec import CrmSpec
from leadsync.agent.connectors.registry import SPECS
from leadsync.common.errors import ValidationError

SANDBOX_CRMS: Final = tuple(spec.name for spec in SPECS)


def _spec(crm: str) -> CrmSpec:
    for spec in SPECS:
        if spec.name == crm:
            return spec
    raise ValidationError(f"crm: no sandbox for {crm!r}; one of {', '.join(SANDBOX_CRMS)}")


def serve(crm: str, host: str, port: int, *, contacts: int, seed: int, token: str) -> None:
    """Serve ``crm``'s sandbox seeded with ``contacts`` records (Salesforce, Zoho: 60% Leads, 40% Contacts).
    Raises ValidationError for a CRM without a sandbox."""
    _spec(crm).serve_sandbox(host, port, contacts=contacts, seed=seed, token=token)


def credentials(crm: str, token: str) -> dict[str, str]:
    """What ``crm.connect`` takes to reach ``crm``'s sandbox served with ``token``; ValidationError for a CRM
    without a sandbox."""
    return _spec(crm).sandbox_credentials(token)
