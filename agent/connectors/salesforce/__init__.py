"""Salesforce REST API connector: ``client`` (the Connector), ``oauth`` (refresh-token sessions and
``instance_url``), ``pull`` (the incremental SOQL pull), ``composite`` (sObject Collections writes),
``wire`` (JSON <-> canonical records), ``soql`` (escaped literals), ``errors`` (error bodies).

``sandbox`` holds a stateful Salesforce stand-in for demos and tests.
"""

from leadsync.agent.connectors.salesforce.client import (
    CAPABILITIES,
    DEFAULT_API_VERSION,
    DEFAULT_LOGIN_URL,
    SalesforceConnector,
)

__all__ = ["CAPABILITIES", "DEFAULT_API_VERSION", "DEFAULT_LOGIN_URL", "SalesforceConnector"]
