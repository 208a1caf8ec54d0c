"""Request counters and the request log of the sandbox (``GET /__sandbox/stats``).

``requests`` counts ``(method, path)``; ``write_requests`` counts calls received on endpoints
that change data (whatever their answer: a refused write was still sent); ``records_written``
counts records those calls changed; ``rate_limited`` counts 429 answers served.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request the sandbox received: method, path, query string, answer status, JSON body."""

    method: str
    path: str
    query: str
    status: int
    at_ms: int
    body: Any


class RequestCounters:
    """Mixin of ``SandboxState``: the counters and the log (last ``log_size`` requests, with
    their JSON bodies)."""

    lock: threading.RLock
    clock: Callable[[], int]

    def _init_counters(self, log_size: int) -> None:
        self.requests: Counter[tuple[str, str]] = Counter()
        self.write_requests = 0
        self.records_written = 0
        self.rate_limited = 0
        self.status_counts: Counter[int] = Counter()
        self.request_log: deque[LoggedRequest] = deque(maxlen=log_size)

    def record_request(self, method: str, path: str, *, is_write: bool) -> None:
        """Count one received request (``is_write``: on an endpoint that changes data)."""
        with self.lock:
            self.requests[(method, path)] += 1
            if is_write:
                self.write_requests += 1

    def record_response(self, method: str, path: str, query: str, status: int, body: Any) -> None:
        """Count one answer by status (429s also in ``rate_limited``) and log it."""
        with self.lock:
            self.status_counts[status] += 1
            if status == 429:
                self.rate_limited += 1
            self.request_log.append(LoggedRequest(method, path, query, status, self.clock(), body))

    def reset_counters(self) -> None:
        """Zero every request counter and clear the request log."""
        with self.lock:
            self.requests.clear()
            self.write_requests = 0
            self.records_written = 0
            self.rate_limited = 0
            self.status_counts.clear()
            self.request_log.clear()
