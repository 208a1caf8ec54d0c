"""The API calls a CRM connection made, for the sync-health screen: per rate-limit window, per day, per hour.

:class:`ApiUsage` is told of each request attempt by :class:`~leadsync.agent.connectors.http.HttpClient`
(``note``, with the rate-limit buckets the request took from) and of the day's quota when the CRM reports it
in an answer (``note_quota``: HubSpot's ``X-HubSpot-RateLimit-Daily`` and ``-Daily-Remaining``, Salesforce's
``Sforce-Limit-Info: api-usage=N/M``). It keeps the attempts inside each limit's window (a limit's worth,
since the limiter admits no more) and a count per hour for the last 24 hours, so it stays small at any
rate. The agent owns one and hands it to every connector it builds, so the counts outlive a reconnect.
Times are epoch seconds inside, epoch ms UTC in what :meth:`ApiUsage.snapshot` answers.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final, Protocol

import msgspec


class Window(Protocol):
    """A rate-limit window as :class:`ApiUsage` reads it: a :class:`~.ratelimit.RateLimit` or the live
    :class:`~.ratelimit.WindowLimiter` (whose limit and period the CRM's answers may have corrected)."""

    @property
    def max_rate(self) -> float: ...

    @property
    def period_s(self) -> float: ...


QuotaReader = Callable[[Mapping[str, str]], tuple[int, int] | None]
"""Reads the day's quota from an answer's headers: ``(used, limit)`` requests, None when they do not say."""
HOUR_S: Final = 3600
HOURS: Final = 24
"""The chart of calls covers this many hours, one bar an hour, the current hour last."""


class WindowUsage(msgspec.Struct, kw_only=True):
    """One rate-limit window: ``name`` of the limiter (``default``, HubSpot's ``search``, Autotask's
    ``hour``), its length ``period_s`` (s) and ``limit`` (requests a window), the requests in the window
    that ends now (``used``) and what is ``left`` of it."""

    name: str
    period_s: float
    limit: int
    used: int
    left: int


class QuotaUsage(msgspec.Struct, kw_only=True):
    """The day's API quota as the CRM reported it in its last answer that carried it: ``used`` and
    ``limit`` requests, ``left`` of them, ``reported_at`` (epoch ms UTC)."""

    used: int
    limit: int
    left: int
    reported_at: int


class UsageSnapshot(msgspec.Struct, kw_only=True):
    """The budget now: each rate-limit window; ``day_calls``, the requests this agent made in the last 24
    hours (by the hour); ``quota``, the CRM's own count of the day's quota when it reports one (None
    otherwise); ``calls_per_hour``, 24 counts, oldest first, the current hour last; ``since``, when counting
    began (epoch ms UTC: the agent's start, or the oldest run read back from the history)."""

    windows: list[WindowUsage]
    day_calls: int
    quota: QuotaUsage | None
    calls_per_hour: list[int]
    since: int


class ApiUsage:
    """Counts of API calls (see the module docstring); ``clock()`` gives epoch seconds."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._limits: dict[str, Window] = {}
        self._recent: dict[str, deque[float]] = {}
        self._hours: dict[int, int] = {}
        self._quota_reader: QuotaReader | None = None
        self.quota: QuotaUsage | None = None
        self.since_s = clock()

    def counting(self, limits: Mapping[str, Window], quota_reader: QuotaReader | None = None) -> ApiUsage:
        """Count for the limiters of the connection in use (a new connection replaces the old ones' windows; live
        limiters show the limits the CRM's answers set), whose CRM reports the day's quota in answers as
        ``quota_reader`` reads it; answers self."""
        self._limits = dict(limits)
        self._recent = {name: self._recent.get(name, deque()) for name in limits}
        self._quota_reader = quota_reader
        return self

    def answered(self, headers: Mapping[str, str]) -> None:
        """An answer arrived: note the day's quota when its ``headers`` say it."""
        quota = self._quota_reader(headers) if self._quota_reader is not None else None
        if quota is not None:
            self.note_quota(*quota)

    def note(self, buckets: Sequence[str]) -> None:
        """One request attempt now, taken from the limiters ``buckets``."""
        now = self._clock()
        hour = int(now // HOUR_S)
        self._hours[hour] = self._hours.get(hour, 0) + 1
        for name in buckets:
            recent = self._recent.get(name)
            if recent is not None:
                recent.append(now)
                self._trim(name, now)
        if len(self._hours) > HOURS + 1:
            for old in [h for h in self._hours if h <= hour - HOURS]:
                del self._hours[old]

    def note_quota(self, used: int, limit: int) -> None:
        """The CRM reported ``used`` of its ``limit`` requests for the day (or its rolling 24 hours)."""
        self.quota = QuotaUsage(used=used, limit=limit, left=max(0, limit - used),
                                reported_at=int(self._clock() * 1000))

    def seed(self, calls: Iterable[tuple[int, int]]) -> None:
        """Add past calls ``(epoch ms, count)`` (sync runs of the history, before this agent started) to the
        hourly counts, and count from the oldest of them."""
        for at_ms, count in calls:
            hour = at_ms // 1000 // HOUR_S
            self._hours[hour] = self._hours.get(hour, 0) + count
            self.since_s = min(self.since_s, at_ms / 1000)

    def _trim(self, name: str, now: float) -> None:
        recent, period = self._recent[name], self._limits[name].period_s
        while recent and recent[0] <= now - period:
            recent.popleft()

    def snapshot(self) -> UsageSnapshot:
        """The counts now (see :class:`UsageSnapshot`)."""
        now = self._clock()
        windows = []
        for name, limit in self._limits.items():
            self._trim(name, now)
            used = len(self._recent[name])
            windows.append(WindowUsage(name=name, period_s=limit.period_s, limit=int(limit.max_rate), used=used,
                                       left=max(0, int(limit.max_rate) - used)))
        hour = int(now // HOUR_S)
        per_hour = [self._hours.get(h, 0) for h in range(hour - HOURS + 1, hour + 1)]
        return UsageSnapshot(windows=windows, day_calls=sum(per_hour), quota=self.quota, calls_per_hour=per_hour,
                             since=int(self.since_s * 1000))
