"""The proactive rate limit of the HTTP layer: a leaky bucket per named bucket of a CRM's limit.

:class:`RateLimit` is what a connector declares (e.g. HubSpot's 100 requests per 10 s);
:func:`bucket_shape` turns it into a bucket that never admits more than that in any window;
:class:`ClockedLimiter` is the bucket itself, on an injected clock and sleep so tests drive it on a fake
clock. The arithmetic is aiolimiter's leaky bucket, owned here (about twenty lines) rather than built on
that library's private attributes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["ClockedLimiter", "RateLimit", "bucket_shape"]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``max_rate`` requests per ``period_s`` seconds (a leaky bucket: bursts up to ``max_rate``)."""

    max_rate: float
    period_s: float


def bucket_shape(limit: RateLimit) -> tuple[float, float]:
    """``(capacity, time_period_s)`` of a leaky bucket that never lets more than ``limit.max_rate``
    requests into any window of ``limit.period_s`` seconds.

    A bucket of capacity C draining at r per second admits C + r * P requests in a window of P
    seconds, so a plain bucket of capacity N draining N per P would admit 2N. Here C = N / 10 (at least
    1) and r = (N - C) / P: 100 per 10 s becomes bursts of 10 and 9 per second. Raises ValueError for a
    rate or period that is not positive.
    """
    n, period = float(limit.max_rate), float(limit.period_s)
    if n <= 0 or period <= 0:
        raise ValueError(f"a rate limit needs a positive rate and period, not {limit}")
    capacity = max(1.0, n / 10) if n > 1 else n
    rate = (n - capacity) / period if n > capacity else n / period
    return capacity, capacity / rate


class ClockedLimiter:
    """A leaky bucket shaped by :func:`bucket_shape`: any window of ``limit.period_s`` seconds holds at
    most ``limit.max_rate`` acquisitions.

    ``clock()`` gives monotonic seconds and ``await sleep(seconds)`` waits; waiting is a loop of
    ``sleep(needed)`` rather than event-loop timers, so a fake clock drives it in tests. Waiters are not
    queued: each one retries after the time its own amount needs.
    """

    def __init__(self, limit: RateLimit, *, clock: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]]) -> None:
        self.max_rate, self.time_period = bucket_shape(limit)
        self._rate_per_s = self.max_rate / self.time_period
        self._clock = clock
        self._sleep = sleep
        self._level = 0.0
        self._last_check = clock()

    def has_capacity(self, amount: float = 1) -> bool:
        """Whether ``amount`` fits in the bucket now (after draining what the elapsed time let out)."""
        now = self._clock()
        drained = max(now - self._last_check, 0.0) * self._rate_per_s
        self._level = max(self._level - drained, 0.0)
        self._last_check = now
        return self._level + amount <= self.max_rate

    async def acquire(self, amount: float = 1) -> None:
        """Take ``amount`` of capacity, sleeping until the bucket has drained enough; raises ValueError
        for an amount outside 0..capacity (it could never fit)."""
        if not 0 <= amount <= self.max_rate:
            raise ValueError("Amount must be a number between 0 and the maximum capacity")
        while not self.has_capacity(amount):
            needed = self._level + amount - self.max_rate
            await self._sleep(max(needed / self._rate_per_s, 1e-3))
        self._level += amount
