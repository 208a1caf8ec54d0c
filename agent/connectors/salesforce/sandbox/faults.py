"""Salesforce's fault switches: the shared ones (:mod:`leadsync.agent.connectors.sandbox.faults`) plus the
daily quota and query paging.

E.g. ``faults.fail_next("/services/data/*/composite/sobjects", "POST", 503)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from leadsync.agent.connectors.sandbox.faults import DROP_CONNECTION, ScriptedFault
from leadsync.agent.connectors.sandbox.faults import FaultSwitches as SharedFaultSwitches

__all__ = ["DROP_CONNECTION", "FaultSwitches", "ScriptedFault"]


@dataclass
class FaultSwitches(SharedFaultSwitches):
    """Run-time switches of the sandbox (all off by default); the shared ones (latency, random faults,
    ``oauth_expires_in_ms``, ``seed``) are described in :mod:`leadsync.agent.connectors.sandbox.faults`.

    - ``daily_limit``: API requests per rolling 24 hours (Salesforce's "Total API Request Allocation";
      ``None`` = unlimited); past it every API call answers 403 ``REQUEST_LIMIT_EXCEEDED``.
    - ``quota_window_s``: the length of that rolling window (Salesforce: 86,400 s; shorter only to measure a
      client at the quota in a benchmark or test).
    - ``query_page_size``: rows per query page (Salesforce: 2,000 by default; a ``Sforce-Query-Options:
      batchSize=N`` header asks for 200..2,000).
    - ``query_page_sizes``: explicit sizes of successive pages (the last repeats), e.g. ``[1000, 1000]``;
      wins over ``query_page_size``.
    - ``drop_next_records_url``: pages that are not the last say ``done: false`` but carry no
      ``nextRecordsUrl`` (case B03's broken answer).
    - ``duplicate_rule_blocks``: the Standard Lead Duplicate Rule's action on create is Block: a Lead
      matching a Lead or Contact (see :mod:`.duplicates`) is refused with ``DUPLICATES_DETECTED``. Off, the
      rule's default action (Allow: the user is alerted, an API save goes through) applies.
    """

    default_fault_status: ClassVar[int] = 503

    daily_limit: int | None = 100_000
    quota_window_s: int = 86_400
    query_page_size: int = 2000
    query_page_sizes: list[int] | None = None
    drop_next_records_url: bool = False
    duplicate_rule_blocks: bool = False

    def page_sizes(self, requested: int | None) -> list[int]:
        """Sizes of successive query pages: the scripted sizes, else the header's batch size (200..2,000),
        else ``query_page_size``."""
        if self.query_page_sizes:
            return list(self.query_page_sizes)
        if requested is not None:
            return [min(max(requested, 200), 2000)]
        return [self.query_page_size]

    def coerce_other(self, name: str, value: Any) -> Any:
        if name == "query_page_sizes":
            if not isinstance(value, list) or not value or not all(isinstance(v, int) and v > 0 for v in value):
                raise ValueError("'query_page_sizes' must be a list of positive whole numbers")
            return list(value)
        return super().coerce_other(name, value)
