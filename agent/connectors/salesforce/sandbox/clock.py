"""A manual clock for the sandbox: every timestamp the sandbox writes comes from ``SandboxState.clock``.

A clock is any ``Callable[[], int]`` returning epoch ms (UTC). Tests inject :class:`ManualClock` to
control time exactly (session timeouts, ``SystemModstamp``, the 24-hour API quota, query locators).
"""

from __future__ import annotations

import threading


class ManualClock:
    """A clock that moves only when told to; thread-safe (a uvicorn thread may read it)."""

    def __init__(self, start_ms: int = 1_735_689_600_000) -> None:
        """Start at ``start_ms`` (default 2025-01-01T00:00:00Z)."""
        self._now = start_ms
        self._lock = threading.Lock()

    def __call__(self) -> int:
        """The current time in epoch ms."""
        with self._lock:
            return self._now

    def advance(self, ms: int) -> int:
        """Move forward by ``ms`` milliseconds; return the new time."""
        with self._lock:
            self._now += ms
            return self._now

    def set(self, ms: int) -> None:
        """Jump to epoch ms ``ms``."""
        with self._lock:
            self._now = ms
