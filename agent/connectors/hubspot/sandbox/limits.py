"""HubSpot-style rate limiting: a rolling 10 s window, a search window of 1 s, a daily quota.

HubSpot "API usage guidelines": every answer carries ``X-HubSpot-RateLimit-Max``,
``-Remaining``, ``-Interval-Milliseconds`` (10000), ``-Daily`` and ``-Daily-Remaining``; search
answers also ``-Secondly`` / ``-Secondly-Remaining`` (search: 5 requests/s per token). Over a
limit the answer is 429 with ``policyName`` ``SECONDLY`` (or ``DAILY``) and, here, a
``Retry-After`` header in whole seconds. Refused requests do not consume quota. Time comes from
the state's clock; the daily quota resets at midnight UTC.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .faults import FaultSwitches

WINDOW_MS = 10_000
SEARCH_WINDOW_MS = 1_000
DAY_MS = 86_400_000


@dataclass(slots=True)
class _Bucket:
    recent: deque[int] = field(default_factory=deque)
    searches: deque[int] = field(default_factory=deque)
    day: int = -1
    daily_used: int = 0


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Outcome for one request: ``policy`` is ``None`` (allowed), ``"SECONDLY"`` or ``"DAILY"``;
    ``retry_after_s`` is set when refused; ``headers`` go on the answer either way."""

    policy: str | None
    retry_after_s: int
    headers: dict[str, str]


class RateLimiter:
    """Per-token request windows (keyed by the bearer token, ``""`` when absent)."""

    def __init__(self, clock: Callable[[], int]) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def check(self, key: str, faults: FaultSwitches, *, is_search: bool) -> RateDecision:
        """Count one request against ``key`` unless a limit refuses it."""
        now = self._clock()
        limit = faults.rate_limit_per_10s
        search_limit = faults.search_rate_limit_per_s if is_search else None
        daily = faults.daily_limit
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket())
            while bucket.recent and bucket.recent[0] <= now - WINDOW_MS:
                bucket.recent.popleft()
            while bucket.searches and bucket.searches[0] <= now - SEARCH_WINDOW_MS:
                bucket.searches.popleft()
            today = now // DAY_MS
            if bucket.day != today:
                bucket.day, bucket.daily_used = today, 0
            policy: str | None = None
            retry_ms = 0
            if daily is not None and bucket.daily_used >= daily:
                policy, retry_ms = "DAILY", (today + 1) * DAY_MS - now
            elif limit is not None and len(bucket.recent) >= limit:
                policy, retry_ms = "SECONDLY", bucket.recent[len(bucket.recent) - limit] + WINDOW_MS - now
            elif search_limit is not None and len(bucket.searches) >= search_limit:
                policy = "SECONDLY"
                retry_ms = bucket.searches[len(bucket.searches) - search_limit] + SEARCH_WINDOW_MS - now
            else:
                bucket.recent.append(now)
                bucket.daily_used += 1
                if is_search:
                    bucket.searches.append(now)
            headers = {"X-HubSpot-RateLimit-Interval-Milliseconds": str(WINDOW_MS)}
            if limit is not None:
                headers["X-HubSpot-RateLimit-Max"] = str(limit)
                headers["X-HubSpot-RateLimit-Remaining"] = str(max(0, limit - len(bucket.recent)))
            if daily is not None:
                headers["X-HubSpot-RateLimit-Daily"] = str(daily)
                headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, daily - bucket.daily_used))
            if search_limit is not None:
                headers["X-HubSpot-RateLimit-Secondly"] = str(search_limit)
                headers["X-HubSpot-RateLimit-Secondly-Remaining"] = str(max(0, search_limit - len(bucket.searches)))
        return RateDecision(policy, max(1, math.ceil(retry_ms / 1000)) if policy else 0, headers)

    def peek_headers(self, key: str, faults: FaultSwitches) -> dict[str, str]:
        """Rate-limit headers for an answer that did not count against the quota."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key) or _Bucket()
            used = sum(1 for t in bucket.recent if t > now - WINDOW_MS)
            daily_used = bucket.daily_used if bucket.day == now // DAY_MS else 0
        headers = {"X-HubSpot-RateLimit-Interval-Milliseconds": str(WINDOW_MS)}
        if faults.rate_limit_per_10s is not None:
            headers["X-HubSpot-RateLimit-Max"] = str(faults.rate_limit_per_10s)
            headers["X-HubSpot-RateLimit-Remaining"] = str(max(0, faults.rate_limit_per_10s - used))
        if faults.daily_limit is not None:
            headers["X-HubSpot-RateLimit-Daily"] = str(faults.daily_limit)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, faults.daily_limit - daily_used))
        return headers
