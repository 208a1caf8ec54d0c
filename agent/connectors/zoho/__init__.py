"""Zoho CRM REST API (v8) connector: ``client`` (the Connector), ``oauth`` (tokens per data center and the
``api_domain``), ``pull`` (the incremental list pull), ``writes`` (multi-record writes), ``wire`` (JSON <->
canonical records, search criteria), ``errors`` (error bodies), ``headers`` (``If-Modified-Since``).

``sandbox`` holds a stateful Zoho CRM stand-in for demos and tests.

:data:`DEFAULT_MAPPINGS_ZOHO` are the field mappings a new Zoho connection starts with. The engine writes
the mapped properties a module has (``Company`` and ``Lead_Status`` exist only on Leads; a Lead's
``Designation`` is a Contact's ``Title``, named with ``crm_by_object``); the connector drops the others
too. ``Lead_Score`` is a custom number field on both modules (the sandbox has it; a real org adds it, or
the mapping is changed to the org's own field).
"""

from leadsync.agent.connectors.zoho.client import (
    CAPABILITIES,
    DEFAULT_ACCOUNTS_URL,
    DEFAULT_API_VERSION,
    ZohoConnector,
)
from leadsync.agent.connectors.zoho.oauth import ACCOUNTS_URLS
from leadsync.common.answers import FieldMapping

DEFAULT_MAPPINGS_ZOHO: tuple[FieldMapping, ...] = (
    FieldMapping(local="email", crm="Email", policy="crm_wins"),
    FieldMapping(local="first_name", crm="First_Name"),
    FieldMapping(local="last_name", crm="Last_Name"),
    FieldMapping(local="company", crm="Company"),
    FieldMapping(local="job_title", crm="Designation", crm_by_object={"contact": "Title"}),
    FieldMapping(local="phone", crm="Phone"),
    FieldMapping(local="lifecycle_stage", crm="Lead_Status", policy="crm_wins",  # Leads only
                 value_map={"lead": "Not Contacted", "marketingqualifiedlead": "Contacted",
                            "salesqualifiedlead": "Pre-Qualified", "other": "Not Qualified"}),
    FieldMapping(local="lead_score", crm="Lead_Score", policy="local_wins"),
)
"""Local field <-> Zoho field defaults (the shape of ``agent.engine.mapping.HUBSPOT_DEFAULTS``)."""

__all__ = ["ACCOUNTS_URLS", "CAPABILITIES", "DEFAULT_ACCOUNTS_URL", "DEFAULT_API_VERSION", "DEFAULT_MAPPINGS_ZOHO",
           "ZohoConnector"]
