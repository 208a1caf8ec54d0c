"""The proactive rate limit of the HTTP layer: a sliding-window log per named bucket of a CRM's limit.

:class:`RateLimit` is what a connector declares (e.g. HubSpot's 100 requests per rolling 10 s);
:class:`WindowLimiter` admits exactly that: a request may start while fewer than ``max_rate`` requests
occupy the window. A request occupies its place from the moment it is admitted until ``period_s`` after
its *answer* arrived (:meth:`Slot.release`), not after it was sent: the CRM counts a request somewhere
between the two, so the next request admitted once the place is free always reaches the CRM more than
``period_s`` after the CRM counted the one before. No safety margin is needed and none is taken; the
window is the CRM's own (HubSpot "API usage guidelines": "100 requests per 10 seconds", rolling; the
search API's 5 per second, rolling).

Answers may say what the CRM counted (:class:`WindowReport`, e.g. HubSpot's ``X-HubSpot-RateLimit-Max``,
``-Remaining``, ``-Interval-Milliseconds``): a report's limit and period replace the declared ones (the
CRM's tier, whatever was configured), and when the CRM counts more in its window than this limiter holds
(another process on the same app, or a restart), the difference is held as places taken at the time of
the answer, so the limiter never plans on quota someone else spent. A 429 that still happens (its answer
reports 0 remaining) fills the window the same way; the request is then retried by the retry policy.

Waiters are served by priority (higher first), then in arrival order; waiting is a loop of
``await sleep(seconds)`` and of events set by releases, so a fake clock drives it in tests.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["RateLimit", "RateReader", "Slot", "WindowLimiter", "WindowReport"]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``max_rate`` requests in any rolling window of ``period_s`` seconds."""

    max_rate: float
    period_s: float


@dataclass(frozen=True, slots=True)
class WindowReport:
    """What one answer says of a window: its ``limit`` (requests), the requests ``remaining`` in it after this
    one was counted, its ``period_s``; None where the answer does not say."""

    limit: int | None = None
    remaining: int | None = None
    period_s: float | None = None


class Slot:
    """One admitted request's place in a :class:`WindowLimiter`; :meth:`release` it once, when the answer
    (or the failure) came."""

    __slots__ = ("_limiter", "_released")

    def __init__(self, limiter: WindowLimiter) -> None:
        self._limiter = limiter
        self._released = False

    def release(self, report: WindowReport | None = None) -> None:
        """The request is over: its place stays taken for one period from now; ``report`` is what its answer
        said of the window (None: nothing). A second call does nothing."""
        if not self._released:
            self._released = True
            self._limiter._settle(report)


class WindowLimiter:
    """A sliding-window log: at most ``limit.max_rate`` requests admitted (in flight, or answered within
    the last ``limit.period_s`` seconds) at any time.

    ``clock()`` gives monotonic seconds and ``await sleep(seconds)`` waits. Raises ValueError for a rate or
    period that is not positive, or a rate below 1.
    """

    def __init__(self, limit: RateLimit, *, clock: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]]) -> None:
        if limit.max_rate < 1 or limit.period_s <= 0:
            raise ValueError(f"a rate limit needs a rate of at least 1 and a positive period, not {limit}")
        self.max_rate = int(limit.max_rate)
        self.period_s = float(limit.period_s)
        self._clock = clock
        self._sleep = sleep
        self._answered: deque[float] = deque()  # when each place of the window frees, minus the period
        self.in_flight = 0
        self._waiters: list[tuple[int, int]] = []
        self._seq = itertools.count()
        self._changed = asyncio.Event()

    def used(self) -> int:
        """Places taken now: requests in flight plus those answered within the last period."""
        horizon = self._clock() - self.period_s
        answered = self._answered
        while answered and answered[0] <= horizon:
            answered.popleft()
        return self.in_flight + len(answered)

    async def acquire(self, priority: int = 0) -> Slot:
        """Wait for a place (higher ``priority`` first, then first come) and take it."""
        ticket = (-priority, next(self._seq))
        heapq.heappush(self._waiters, ticket)
        try:
            while True:
                first = self._waiters[0] == ticket
                if first and self.used() < self.max_rate:
                    heapq.heappop(self._waiters)
                    self.in_flight += 1
                    self._wake()
                    return Slot(self)
                if first and self._answered:
                    await self._sleep(max(self._answered[0] + self.period_s - self._clock(), 1e-3))
                else:
                    changed = self._changed
                    await changed.wait()
        except BaseException:
            if ticket in self._waiters:
                self._waiters.remove(ticket)
                heapq.heapify(self._waiters)
                self._wake()
            raise

    def _settle(self, report: WindowReport | None) -> None:
        self.in_flight -= 1
        now = self._clock()
        self._answered.append(now)
        if report is not None:
            if report.period_s is not None and report.period_s > 0:
                self.period_s = report.period_s
            if report.limit is not None and report.limit >= 1:
                self.max_rate = report.limit
            if report.remaining is not None:
                counted = (report.limit or self.max_rate) - report.remaining
                self._answered.extend([now] * max(0, counted - self.used()))
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


RateReader = Callable[[Mapping[str, str], Sequence[str]], Mapping[str, WindowReport]]
"""``rate_reader(headers, buckets)`` -> what an answer's headers say of the windows of ``buckets`` (the buckets
the request took), by bucket name; a bucket the headers do not speak of is left out."""
