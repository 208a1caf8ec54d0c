"""HubSpot CRM v3 connector: ``client`` (the Connector), ``wire`` (JSON <-> canonical records),
``cursor`` (the incremental pull), ``batch`` (batch writes), ``errors`` (error bodies).

``sandbox`` holds a stateful HubSpot stand-in for demos and tests.
"""

from leadsync.agent.connectors.hubspot.client import CAPABILITIES, DEFAULT_BASE_URL, HubSpotConnector

__all__ = ["CAPABILITIES", "DEFAULT_BASE_URL", "HubSpotConnector"]
