"""Which CRMs leadsync connects to and how to build a connector from a connection's settings and
credentials.

Each CRM folder declares itself in ``<crm>/spec.py`` (a :class:`~leadsync.agent.connectors.crm_spec.CrmSpec`:
name, credentials, default base URL and field mappings, connector and sandbox); this module collects them.
Loading it loads no connector: a spec imports its connector only when one is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from leadsync.agent.connectors.autotask.spec import SPEC as AUTOTASK
from leadsync.agent.connectors.base import Connector
from leadsync.agent.connectors.crm_spec import ConnectionStatusHook, CrmSpec
from leadsync.agent.connectors.hubspot.spec import RATE_LIMIT_ENV as RATE_LIMIT_ENV  # the benchmarks look here
from leadsync.agent.connectors.hubspot.spec import SPEC as HUBSPOT
from leadsync.agent.connectors.salesforce.spec import SPEC as SALESFORCE
from leadsync.agent.connectors.zoho.spec import SPEC as ZOHO
from leadsync.common.answers import FieldMapping
from leadsync.common.errors import ValidationError

if TYPE_CHECKING:
    import httpx

SPECS: Final[tuple[CrmSpec, ...]] = (HUBSPOT, SALESFORCE, ZOHO, AUTOTASK)
CRMS: Final = tuple(spec.name for spec in SPECS)
"""The ``crm`` names ``crm.connect`` takes."""
DEFAULT_MAPPINGS: Final[dict[str, tuple[FieldMapping, ...]]] = {spec.name: spec.default_mappings for spec in SPECS}
"""The field mappings a new connection to each CRM starts with."""

SaveSecrets = Callable[[str, dict[str, str]], None]
"""``save(crm, credentials)``: the agent's SecretStore.save (atomic, mode 0600)."""


def spec_for(crm: str) -> CrmSpec:
    """The spec of ``crm`` (one of :data:`CRMS`); ValidationError for another name."""
    for spec in SPECS:
        if spec.name == crm:
            return spec
    raise ValidationError(f"crm: {crm!r} is not supported; one of {', '.join(CRMS)}")


def make_connector(crm: str, base_url: str | None, credentials: dict[str, str], *,
                   transport: httpx.AsyncBaseTransport | None = None,
                   save_credentials: SaveSecrets | None = None,
                   on_connection_status: ConnectionStatusHook | None = None,
                   **options: Any) -> Connector:
    """Build the connector for ``crm`` (one of :data:`CRMS`) at ``base_url`` (None: the CRM's default), its
    refreshed credentials saved with ``save_credentials(crm, values)``. Raises ValidationError for an unknown
    CRM or missing credentials (the message names what is missing, never a secret's value); see each spec's
    ``connect`` for the credentials a CRM takes."""
    spec = spec_for(crm)

    def save(values: dict[str, str]) -> None:
        if save_credentials is not None:
            save_credentials(crm, values)

    return spec.connect(base_url or spec.default_base_url, credentials, transport=transport, save_credentials=save,
                        on_status=on_connection_status, **options)
