"""The org's API request allocation: a rolling 24-hour count of API calls ("API Request Limits and
Allocations"), reported on every API answer as ``Sforce-Limit-Info: api-usage=N/M`` and by
``GET /limits`` (``DailyApiRequests``); past the limit every API call answers 403
``REQUEST_LIMIT_EXCEEDED`` ("TotalRequests Limit exceeded."). Refused calls do not count. Counted in
one-minute buckets on the state's clock (``faults.quota_window_s`` shortens the window for benchmarks and
tests; buckets are then 1/1,440 of it).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

WINDOW_MS = 86_400_000
BUCKET_MS = 60_000


class ApiUsage:
    """API calls in the last 24 hours."""

    def __init__(self, clock: Callable[[], int], window_ms: Callable[[], int] = lambda: WINDOW_MS) -> None:
        self._clock = clock
        self._window_ms = window_ms
        self._buckets: deque[list[int]] = deque()  # [bucket start ms, calls]
        self._lock = threading.Lock()

    def _prune(self, now: int) -> None:
        while self._buckets and self._buckets[0][0] <= now - self._window_ms():
            self._buckets.popleft()

    def used(self) -> int:
        """Calls counted in the last 24 hours."""
        with self._lock:
            self._prune(self._clock())
            return sum(count for _, count in self._buckets)

    def take(self, limit: int | None) -> tuple[bool, int]:
        """Count one call unless ``limit`` calls were made in the last 24 hours: ``(allowed, used)``."""
        with self._lock:
            now = self._clock()
            self._prune(now)
            used = sum(count for _, count in self._buckets)
            if limit is not None and used >= limit:
                return False, used
            bucket = max(1, self._window_ms() * BUCKET_MS // WINDOW_MS)
            start = now - now % bucket
            if self._buckets and self._buckets[-1][0] == start:
                self._buckets[-1][1] += 1
            else:
                self._buckets.append([start, 1])
            return True, used + 1

    def reset(self) -> None:
        """Forget every counted call."""
        with self._lock:
            self._buckets.clear()
