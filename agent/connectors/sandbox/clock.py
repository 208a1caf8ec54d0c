"""The sandboxes' clocks, in epoch ms (UTC): the real one (:func:`system_clock`) and one tests move
(:class:`ManualClock`)."""

from __future__ import annotations

import threading
import time


class ManualClock:
    """A clock that only moves when told to.

    ``clock()`` returns the current epoch ms; :meth:`advance` moves it forward by ``ms``;
    :meth:`set` jumps to an absolute epoch ms. Thread-safe, so a test can move time while the
    sandbox serves requests from a uvicorn thread.
    """

    def __init__(self, start_ms: int = 1_735_689_600_000) -> None:
        """Start at ``start_ms`` (default 2025-01-01T00:00:00Z)."""
        self._now = start_ms
        self._lock = threading.Lock()

    def __call__(self) -> int:
        """Return the current time in epoch ms."""
        with self._lock:
            return self._now

    def advance(self, ms: int) -> int:
        """Move time forward by ``ms`` milliseconds and return the new time."""
        with self._lock:
            self._now += ms
            return self._now

    def set(self, ms: int) -> None:
        """Jump to the absolute time ``ms`` (epoch ms)."""
        with self._lock:
            self._now = ms


def system_clock() -> int:
    """The real time as epoch ms (UTC)."""
    return time.time_ns() // 1_000_000
