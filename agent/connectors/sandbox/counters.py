"""Request counters and the request log every CRM sandbox keeps (``GET /__sandbox/stats``).

:class:`RequestCounters` is a mixin of a sandbox's state class, which must have ``lock`` (an RLock) and
``clock`` (epoch ms) and call ``_init_counters(log_size)`` from its ``__init__``::

    class ZohoState(RequestCounters):
        def __init__(self, clock: Callable[[], int]) -> None:
            self.lock, self.clock = threading.RLock(), clock
            self._init_counters(2_000)
        def stats(self) -> dict[str, Any]:
            return {**self.counter_stats(), "leads": len(self.leads)}

``requests`` counts ``(method, path)``; ``write_requests`` counts calls received on endpoints that change
data (whatever their answer: a refused write was still sent); ``records_written`` counts records those
calls changed (the state adds to it); ``rate_limited`` counts 429 answers served; ``status_counts`` counts
answers by status; ``request_log`` keeps the last ``log_size`` requests with their JSON bodies.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request the sandbox received: method, path, query string, answer status, time, JSON body."""

    method: str
    path: str
    query: str
    status: int
    at_ms: int
    body: Any


class RequestCounters:
    """Mixin: the counters and the request log (see the module docstring)."""

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

    def counter_stats(self) -> dict[str, Any]:
        """``requests_total``, ``requests`` (by ``"METHOD /path"``), ``write_requests``, ``records_written``
        and ``status_counts`` as JSON-ready data (a state's ``stats()`` adds its own)."""
        with self.lock:
            return {
                "requests_total": sum(self.requests.values()),
                "requests": {f"{m} {p}": n for (m, p), n in sorted(self.requests.items())},
                "write_requests": self.write_requests,
                "records_written": self.records_written,
                "status_counts": {str(k): v for k, v in sorted(self.status_counts.items())},
            }
