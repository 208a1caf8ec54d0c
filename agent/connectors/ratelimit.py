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
``-Remaining``, ``-Interval-Milliseconds``; Salesforce's ``Sforce-Limit-Info: api-usage=N/M``; Autotask's
``ThresholdInformation``, given with :meth:`WindowLimiter.note`): a report's period replaces the declared one
and its limit replaces the declared one (the CRM's tier) unless the declared limit is a deliberate ``cap``
(:class:`RateLimit`): a capped limiter takes a report's *lower* limit, never a higher one. When the CRM
counts more in its window than this limiter holds (another process on the same app, or a restart), the
difference is held as places taken at the time of the answer, so the limiter never plans on quota someone
else spent: one count, replaced by each report (the CRM's newest figure, falling as the others' calls age
out) and gone one period after it (a day's count of a large org is one number, not an entry a call). A 429
that still happens (its answer reports 0 remaining) fills the window the same way; the request is then
retried by the retry policy.

A long window (Salesforce's rolling 24 h, Autotask's rolling hour, Zoho's 24 h of credits) may be spent: with
``max_wait_s`` set, :meth:`WindowLimiter.acquire` raises :class:`WindowFull` (when the next place frees) rather
than wait longer than that, so a run stops with "resumes at" instead of sleeping for hours or drawing an error.

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

__all__ = ["RateLimit", "RateReader", "Slot", "WindowFull", "WindowLimiter", "WindowReport", "acquire_all"]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``max_rate`` requests in any rolling window of ``period_s`` seconds.

    ``cap``: ``max_rate`` was configured on purpose (below the CRM's own): an answer's report may lower it,
    never raise it. ``max_wait_s``: the longest wait for a place (s) before :class:`WindowFull` is raised
    (None: wait as long as it takes, right for windows of seconds)."""

    max_rate: float
    period_s: float
    cap: bool = False
    max_wait_s: float | None = None


class WindowFull(Exception):
    """The window is spent and its next place frees in ``wait_s`` seconds, more than the limit's
    ``max_wait_s``: ``used`` of ``limit`` requests in the rolling ``period_s`` seconds."""

    def __init__(self, wait_s: float, used: int, limit: int, period_s: float, bucket: str = "") -> None:
        super().__init__(f"{used} of {limit} requests in the rolling {period_s:g} s; a place frees in {wait_s:.0f} s")
        self.bucket = bucket
        self.wait_s = wait_s
        self.used = used
        self.limit = limit
        self.period_s = period_s


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

    def abandon(self) -> None:
        """The request was never sent (a later bucket refused it): free the place at once."""
        if not self._released:
            self._released = True
            self._limiter.in_flight -= 1
            self._limiter._wake()


class WindowLimiter:
    """A sliding-window log: at most ``limit.max_rate`` requests admitted (in flight, or answered within
    the last ``limit.period_s`` seconds) at any time.

    ``clock()`` gives monotonic seconds and ``await sleep(seconds)`` waits. Raises ValueError for a rate or
    period that is not positive, or a rate below 1. ``cap`` is the most a report may raise the rate to
    (None: any).
    """

    def __init__(self, limit: RateLimit, *, clock: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]]) -> None:
        if limit.max_rate < 1 or limit.period_s <= 0:
            raise ValueError(f"a rate limit needs a rate of at least 1 and a positive period, not {limit}")
        self.max_rate = int(limit.max_rate)
        self.period_s = float(limit.period_s)
        self.cap = self.max_rate if limit.cap else None
        self.max_wait_s = limit.max_wait_s
        self._clock = self.clock = clock
        self._sleep = sleep
        self._answered: deque[float] = deque()  # when each place of the window frees, minus the period
        self._foreign = 0  # places the CRM counted beyond this limiter's, as of its last report ...
        self._foreign_at = 0.0  # ... made at this time
        self.in_flight = 0
        self._waiters: list[tuple[int, int]] = []
        self._seq = itertools.count()
        self._changed = asyncio.Event()

    def used(self) -> int:
        """Places taken now: requests in flight, those answered within the last period, and the others' calls
        the CRM last reported (within the last period)."""
        return self._own() + self._foreign

    def _own(self) -> int:
        """This limiter's places taken now (prunes the log and an expired report of the others' calls)."""
        horizon = self._clock() - self.period_s
        answered = self._answered
        while answered and answered[0] <= horizon:
            answered.popleft()
        if self._foreign and self._foreign_at <= horizon:
            self._foreign = 0
        return self.in_flight + len(answered)

    def _frees_in(self, now: float) -> float | None:
        """Seconds until a place frees by time alone (an answered place, or the others' report, ageing out);
        None when only a release frees one."""
        times = [self._answered[0] + self.period_s] if self._answered else []
        if self._foreign:
            times.append(self._foreign_at + self.period_s)
        return max(min(times) - now, 0.0) if times else None

    async def acquire(self, priority: int = 0) -> Slot:
        """Wait for a place (higher ``priority`` first, then first come) and take it. Raises WindowFull when
        the window is full and its next place frees later than ``max_wait_s`` from now."""
        ticket = (-priority, next(self._seq))
        heapq.heappush(self._waiters, ticket)
        try:
            while True:
                first = self._waiters[0] == ticket
                now = self._clock()
                if first and self.used() < self.max_rate:
                    heapq.heappop(self._waiters)
                    self.in_flight += 1
                    self._wake()
                    return Slot(self)
                wait = self._frees_in(now) if first else None
                if wait is not None:
                    if self.max_wait_s is not None and wait > self.max_wait_s:
                        raise WindowFull(wait, self.used(), self.max_rate, self.period_s)
                    await self._sleep(max(wait, 1e-3))
                else:
                    changed = self._changed
                    await changed.wait()
        except BaseException:
            if ticket in self._waiters:
                self._waiters.remove(ticket)
                heapq.heapify(self._waiters)
                self._wake()
            raise

    def note(self, report: WindowReport) -> None:
        """What the CRM reported of the window outside an answer's headers (Autotask's ThresholdInformation):
        applied as an answer's report is."""
        self._apply(report, self._clock())
        self._wake()

    def _settle(self, report: WindowReport | None) -> None:
        self.in_flight -= 1
        now = self._clock()
        self._answered.append(now)
        if report is not None:
            self._apply(report, now)
        self._wake()

    def _apply(self, report: WindowReport, now: float) -> None:
        if report.period_s is not None and report.period_s > 0:
            self.period_s = report.period_s
        if report.limit is not None and report.limit >= 1:
            self.max_rate = report.limit if self.cap is None else min(report.limit, self.cap)
        if report.remaining is not None:
            counted = (report.limit or self.max_rate) - report.remaining
            self._foreign = max(0, counted - self._own())
            self._foreign_at = now

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


async def acquire_all(limiters: Mapping[str, WindowLimiter], buckets: Sequence[str]) -> dict[str, Slot]:
    """A place in the limiter of each of ``buckets``: the narrower buckets first, then ``"default"`` (ahead of
    requests that wait for it alone). Raises WindowFull (its ``bucket`` named) when one is spent; the places
    already taken are then freed."""
    slots: dict[str, Slot] = {}
    for name in sorted(buckets, key=lambda n: n == "default"):
        try:
            slots[name] = await limiters[name].acquire(priority=len(buckets) - 1)
        except BaseException as exc:
            for slot in slots.values():
                slot.abandon()
            if isinstance(exc, WindowFull):
                exc.bucket = name
            raise
    return slots


RateReader = Callable[[Mapping[str, str], Sequence[str]], Mapping[str, WindowReport]]
"""``rate_reader(headers, buckets)`` -> what an answer's headers say of the windows of ``buckets`` (the buckets
the request took), by bucket name; a bucket the headers do not speak of is left out."""
