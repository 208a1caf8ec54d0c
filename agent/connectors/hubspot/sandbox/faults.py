"""HubSpot's fault switches: the shared ones (:mod:`leadsync.agent.connectors.sandbox.faults`) plus
HubSpot's rate limits, search lag, batch and merge behaviour and OAuth token lifetime.

E.g. case B15: ``faults.fail_next("/crm/v3/objects/contacts/search", "POST", 429, times=2, retry_after=1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from leadsync.agent.connectors.sandbox.faults import DROP_CONNECTION, ScriptedFault
from leadsync.agent.connectors.sandbox.faults import FaultSwitches as SharedFaultSwitches

__all__ = ["DROP_CONNECTION", "FaultSwitches", "ScriptedFault"]


@dataclass
class FaultSwitches(SharedFaultSwitches):
    """Run-time switches of the sandbox (all off except HubSpot's own rate limits); the shared ones (latency,
    random faults, ``oauth_expires_in_ms``, ``seed``) are described in :mod:`leadsync.agent.connectors.sandbox.faults`.

    - ``rate_limit_per_10s``: requests per rolling 10 s per token (``None`` = unlimited);
      HubSpot's default is 100 (190 on higher tiers).
    - ``search_rate_limit_per_s``: search requests per second per token (HubSpot: 5).
    - ``daily_limit``: requests per UTC day (``None`` = unlimited).
    - ``slow_body_ms``: pause between the answer's headers and its body.
    - ``search_lag_s``: seconds before a write becomes visible to search.
    - ``reject_batch_if_any_invalid``: batch endpoints refuse the whole batch with 400 when any
      input is invalid (case B23 b) instead of answering 207 with per-record errors.
    - ``merged_ids_resolve``: reading a merged-away id answers with the surviving contact
      instead of 404.
    - ``oauth_token_lifetime_s``: seconds an access token issued by ``POST /oauth/v1/token`` lives
      (HubSpot: 1800).
    """

    rate_limit_per_10s: int | None = 190
    search_rate_limit_per_s: int | None = 5
    daily_limit: int | None = 250_000
    slow_body_ms: int = 0
    search_lag_s: float = 0.0
    reject_batch_if_any_invalid: bool = False
    merged_ids_resolve: bool = False
    oauth_token_lifetime_s: int = 1800
