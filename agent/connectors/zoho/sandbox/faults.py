"""Zoho's fault switches: the shared ones (:mod:`leadsync.agent.connectors.sandbox.faults`) plus Zoho's limits.

E.g. ``faults.fail_next("/crm/v8/Leads", "POST", 503)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from leadsync.agent.connectors.sandbox.faults import DROP_CONNECTION, ScriptedFault
from leadsync.agent.connectors.sandbox.faults import FaultSwitches as SharedFaultSwitches

__all__ = ["DROP_CONNECTION", "ScriptedFault", "ZohoFaults"]


@dataclass
class ZohoFaults(SharedFaultSwitches):
    """Run-time switches (the shared ones are described in :mod:`leadsync.agent.connectors.sandbox.faults`):

    - ``daily_limit``: API credits per rolling 24 hours (a convert costs 5; ``None`` = unlimited); past it
      every API call answers 429 ``TOO_MANY_REQUESTS`` naming the credits.
    - ``credits_window_s``: the length of that rolling window (Zoho: 86,400 s; shorter only to measure a
      client at the allocation in a benchmark or test).
    - ``requests_per_10s``: a burst limit standing in for Zoho's concurrency limit (``None`` = off); past it
      429 ``TOO_MANY_REQUESTS`` naming the concurrency limit.
    - ``unique_email``: ``Email`` is a unique field (inserts and updates answer ``DUPLICATE_DATA``).
    - ``unique_fields``: more unique fields (e.g. ``["Phone"]``, the example of Zoho's duplicate check
      preference). A Lead is checked against Leads and Contacts (the "mapped module records" preference), a
      Contact against Contacts; see :func:`~.validation.duplicate_of`.
    - ``oauth_expires_in_ms`` (shared): the token answer is ``{"expires_in": 3600000, "expires_in_sec":
      3600}`` (case B24) instead of ``{"expires_in": 3600}``.
    - ``token_lifetime_s``: how long access tokens live (Zoho: one hour).
    """

    default_fault_status: ClassVar[int] = 429

    daily_limit: int | None = 100_000
    credits_window_s: int = 86_400
    requests_per_10s: int | None = None
    unique_email: bool = False
    unique_fields: list[str] | None = None
    token_lifetime_s: int = 3600

    def unique(self) -> list[str]:
        """The fields a write may not duplicate (``Email`` first when ``unique_email``)."""
        return (["Email"] if self.unique_email else []) + [f for f in self.unique_fields or () if f != "Email"]

    def coerce_other(self, name: str, value: Any) -> Any:
        if name == "unique_fields":
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ValueError("'unique_fields' must be a list of field API names")
            return list(value)
        return super().coerce_other(name, value)
