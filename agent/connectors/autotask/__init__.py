"""Autotask PSA REST API connector: ``client`` (the Connector), ``pull`` (the incremental Contacts pull),
``query`` (filter bodies and ``nextPageUrl`` paging), ``companies`` (a contact's Company: find or create by
name), ``wire`` (JSON <-> canonical records), ``errors`` (error bodies).

``sandbox`` holds a stateful Autotask stand-in for demos and tests.

:data:`DEFAULT_MAPPINGS_AUTOTASK` are the default field mappings. ``lifecycle_stage`` and ``lead_score``
have no standard Contact field in Autotask (they would need user-defined fields, which this connector does
not model yet), so they are not mapped. ``company`` maps to the pseudo-property ``companyName``, which a
push uses to find or create the contact's Company; Autotask refuses a change of it on an existing contact
(``COMPANY_CHANGE``), so Autotask wins its conflicts.
"""

from leadsync.agent.connectors.autotask.client import CAPABILITIES, CREDENTIAL_KEYS, GLOBAL_URL, AutotaskConnector
from leadsync.agent.connectors.autotask.wire import COMPANY_NAME, EMAIL, OWNER
from leadsync.common.answers import FieldMapping

DEFAULT_MAPPINGS_AUTOTASK: tuple[FieldMapping, ...] = (
    FieldMapping(local="email", crm=EMAIL, policy="crm_wins"),
    FieldMapping(local="first_name", crm="firstName"),
    FieldMapping(local="last_name", crm="lastName"),
    FieldMapping(local="company", crm=COMPANY_NAME, policy="crm_wins"),
    FieldMapping(local="job_title", crm="title"),
    FieldMapping(local="phone", crm="phone"),
)

__all__ = [
    "CAPABILITIES",
    "COMPANY_NAME",
    "CREDENTIAL_KEYS",
    "DEFAULT_MAPPINGS_AUTOTASK",
    "GLOBAL_URL",
    "OWNER",
    "AutotaskConnector",
]
