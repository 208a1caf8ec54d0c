"""The sliding-window limiter on a virtual timeline: concurrent requests with latency never put more than the
limit into any window the CRM counts, the window is used to the full, headers correct it, priority orders."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Awaitable

import pytest

from leadsync.agent.connectors.ratelimit import RateLimit, WindowLimiter, WindowReport


class Timeline:
    """Virtual time for concurrent tasks: ``sleep`` parks a task until the driver moves time to its wake-up."""

    def __init__(self) -> None:
        self.now = 0.0
        self._wakes: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._wakes, (self.now + max(seconds, 0.0), next(self._seq), future))
        await future

    async def run(self, *work: Awaitable[None]) -> None:
        tasks = [asyncio.ensure_future(w) for w in work]
        while not all(t.done() for t in tasks):
            for _ in range(20):  # let every runnable task reach its next sleep or wait
                await asyncio.sleep(0)
            if self._wakes:
                self.now, _, future = heapq.heappop(self._wakes)
                future.set_result(None)
        for task in tasks:
            task.result()


def most_in_any_window(times: list[float], period: float) -> int:
    ordered = sorted(times)
    return max(sum(1 for t in ordered[i:] if t < start + period) for i, start in enumerate(ordered))


async def test_concurrent_requests_with_latency_never_overfill_the_crms_window_and_use_all_of_it() -> None:
    line = Timeline()
    limiter = WindowLimiter(RateLimit(100, 10.0), clock=line.clock, sleep=line.sleep)
    counted: list[float] = []  # when the CRM counted each request: somewhere between sending and answering
    draw = random.Random(7)

    async def worker(requests: int) -> None:
        for _ in range(requests):
            slot = await limiter.acquire()
            latency = draw.uniform(0.05, 0.3)
            counted.append(line.now + draw.uniform(0.0, latency))
            await line.sleep(latency)
            slot.release()

    await line.run(*(worker(125) for _ in range(8)))

    assert len(counted) == 1000
    assert most_in_any_window(counted, 10.0) <= 100
    # once under way, each place is taken again as soon as it frees: every 10 s plus one answer's latency
    assert sum(1 for t in counted if 20.0 <= t < 80.0) >= 100 * 60.0 / (10.0 + 0.3)


async def test_a_report_of_quota_spent_elsewhere_holds_places_and_the_crms_limit_replaces_the_declared() -> None:
    line = Timeline()
    limiter = WindowLimiter(RateLimit(10, 10.0), clock=line.clock, sleep=line.sleep)
    sent: list[float] = []

    async def requests(n: int, report: WindowReport | None = None) -> None:
        for i in range(n):
            slot = await limiter.acquire()
            sent.append(line.now)
            slot.release(report if i == 0 else None)

    # the first answer: the CRM counted 8 in its window (2 left), so 7 were another client's
    await line.run(requests(5, WindowReport(limit=10, remaining=2, period_s=10.0)))
    assert sent == [0.0, 0.0, 0.0, 10.0, 10.0]
    assert limiter.used() == 2

    sent.clear()
    await line.run(requests(12, WindowReport(limit=5, remaining=None, period_s=2.0)))
    # 5 a window now, the window 2 s: 3 beside the two places taken at 10, then 5 every 2 s
    assert sent == [10.0] * 3 + [12.0] * 5 + [14.0] * 4


async def test_a_429_reporting_nothing_left_fills_the_window() -> None:
    line = Timeline()
    limiter = WindowLimiter(RateLimit(100, 10.0), clock=line.clock, sleep=line.sleep)
    sent: list[float] = []

    async def go() -> None:
        slot = await limiter.acquire()
        slot.release(WindowReport(limit=100, remaining=0))
        slot.release(WindowReport(limit=100, remaining=0))  # a second release changes nothing
        await line.sleep(3.0)
        slot = await limiter.acquire()
        sent.append(line.now)
        slot.release()

    await line.run(go())
    assert sent == [10.0]
    assert limiter.used() == 1


async def test_higher_priority_waiters_are_served_first_then_in_arrival_order() -> None:
    line = Timeline()
    limiter = WindowLimiter(RateLimit(1, 1.0), clock=line.clock, sleep=line.sleep)
    order: list[str] = []

    async def take(name: str, priority: int) -> None:
        slot = await limiter.acquire(priority)
        order.append(name)
        slot.release()

    first = await limiter.acquire()
    waiting = [asyncio.ensure_future(take(n, p)) for n, p in (("list-a", 0), ("list-b", 0), ("search", 1))]
    await asyncio.sleep(0)
    first.release()
    await line.run(*waiting)
    assert order == ["search", "list-a", "list-b"]


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    line = Timeline()
    limiter = WindowLimiter(RateLimit(1, 1.0), clock=line.clock, sleep=line.sleep)
    held = await limiter.acquire()
    cancelled = asyncio.ensure_future(limiter.acquire(5))
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    held.release()
    got: list[float] = []

    async def later() -> None:
        (await limiter.acquire()).release()
        got.append(line.now)

    await line.run(later())
    assert got == [1.0]


def test_a_limit_below_one_request_is_refused() -> None:
    async def sleep(_: float) -> None:
        return None

    with pytest.raises(ValueError, match="at least 1"):
        WindowLimiter(RateLimit(0.5, 1.0), clock=lambda: 0.0, sleep=sleep)
