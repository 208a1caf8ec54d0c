"""Autotask PSA REST API connector: ``client`` (the Connector), ``pull`` (the incremental Contacts pull),
``query`` (filter bodies and ``nextPageUrl`` paging), ``companies`` (a contact's Company: find or create by
name), ``wire`` (JSON <-> canonical records), ``errors`` (error bodies).

``sandbox`` holds a stateful Autotask stand-in for demos and tests.

The default field mappings are ``AUTOTASK_DEFAULTS`` in :mod:`leadsync.agent.engine.mapping`. ``company``
maps to the pseudo-property ``companyName``, which a push uses to find or create the contact's Company.
"""

from leadsync.agent.connectors.autotask.client import CAPABILITIES, CREDENTIAL_KEYS, GLOBAL_URL, AutotaskConnector
from leadsync.agent.connectors.autotask.wire import COMPANY_NAME, OWNER

__all__ = [
    "CAPABILITIES",
    "COMPANY_NAME",
    "CREDENTIAL_KEYS",
    "GLOBAL_URL",
    "OWNER",
    "AutotaskConnector",
]
