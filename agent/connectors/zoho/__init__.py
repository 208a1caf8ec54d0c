"""Zoho CRM REST API (v8) connector: ``client`` (the Connector), ``oauth`` (tokens per data center and the
``api_domain``), ``pull`` (the incremental list pull), ``writes`` (multi-record writes), ``wire`` (JSON <->
canonical records, search criteria), ``errors`` (error bodies), ``headers`` (``If-Modified-Since``).

``sandbox`` holds a stateful Zoho CRM stand-in for demos and tests.

The default field mappings are ``ZOHO_DEFAULTS`` in :mod:`leadsync.agent.engine.mapping`.
"""

from leadsync.agent.connectors.zoho.client import (
    CAPABILITIES,
    DEFAULT_ACCOUNTS_URL,
    DEFAULT_API_VERSION,
    ZohoConnector,
)
from leadsync.agent.connectors.zoho.oauth import ACCOUNTS_URLS

__all__ = ["ACCOUNTS_URLS", "CAPABILITIES", "DEFAULT_ACCOUNTS_URL", "DEFAULT_API_VERSION", "ZohoConnector"]
