"""Autotask's request threshold as a limiter of its own ("Threshold and timeframe", Autotask REST API): each
database allows 10,000 requests in a rolling 60 minutes, shared by every integration; past it every call
answers 429 with ``Retry-After``. ``GET /V1.0/ThresholdInformation`` answers ``{externalRequestThreshold,
requestThresholdTimeframe (minutes), currentTimeframeRequestCount}``: :class:`ThresholdCheck` asks it at most
every :data:`CHECK_EVERY_S` (it counts as a request) and hands it to the limiter of bucket
:data:`HOUR_BUCKET`, so the limiter knows the database's threshold and the requests other integrations made.
When the window is spent and no place frees within the wait allowed, a call raises CrmQuotaExhaustedError
saying when it resumes, before sending (see :mod:`..http`): no 429 is drawn.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from leadsync.agent.connectors.ratelimit import RateLimit, WindowLimiter, WindowReport
from leadsync.common.errors import CrmAuthError, CrmError, CrmRateLimitedError, is_transient

log = logging.getLogger("leadsync.autotask")

HOUR_BUCKET: Final = "hour"
DEFAULT_THRESHOLD: Final = 10_000
"""Requests per rolling hour per database until ThresholdInformation names the database's own."""
HOUR_S: Final = 3_600.0
THRESHOLD_MAX_WAIT_S: Final = 120.0
"""The longest a call waits for a place in the spent hour before the run stops (s)."""
CHECK_EVERY_S: Final = 300.0
PATH: Final = "/V1.0/ThresholdInformation"


def threshold_limit(per_hour: int | None, window_s: float = HOUR_S,
                    max_wait_s: float = THRESHOLD_MAX_WAIT_S) -> RateLimit:
    """The limit of bucket :data:`HOUR_BUCKET`: ``per_hour`` requests per rolling ``window_s`` (3,600 s) as a cap
    ThresholdInformation may lower, never raise; None: the database's threshold (:data:`DEFAULT_THRESHOLD`
    until ThresholdInformation says). Waits for a place at most ``max_wait_s`` seconds."""
    return RateLimit(per_hour or DEFAULT_THRESHOLD, window_s, cap=per_hour is not None, max_wait_s=max_wait_s)


def threshold_report(answer: Any) -> WindowReport | None:
    """The window a ThresholdInformation answer describes: the threshold, what is left of it (the request
    asking included) and the timeframe in seconds; None for an answer without the numbers."""
    fields = answer if isinstance(answer, dict) else {}
    limit, minutes, counted = (_whole(fields.get(k)) for k in ("externalRequestThreshold", "requestThresholdTimeframe",
                                                                "currentTimeframeRequestCount"))
    if limit is None or limit < 1 or counted is None:
        return None
    return WindowReport(limit=limit, remaining=max(0, limit - counted),
                        period_s=minutes * 60.0 if minutes is not None and minutes > 0 else None)


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class ThresholdCheck:
    """``await check()`` before an API call: at most every ``every_s`` seconds of the limiter's clock, asks
    ThresholdInformation with ``get(path)`` and notes the answer in ``limiter``. A refusal other than auth or
    rate limiting (a zone without the endpoint) or an unreadable answer is logged once and not asked again; a
    transient failure is asked again at the next check; CrmAuthError and CrmRateLimitedError propagate."""

    def __init__(self, limiter: WindowLimiter, *, get: Callable[[str], Awaitable[Any]],
                 every_s: float = CHECK_EVERY_S) -> None:
        self._limiter = limiter
        self._get = get
        self._clock = limiter.clock
        self._every_s = every_s
        self._next: float | None = None
        self._off = False

    async def __call__(self) -> None:
        now = self._clock()
        if self._off or (self._next is not None and now < self._next):
            return
        self._next = now + self._every_s  # before the call: the call itself passes through here
        try:
            report = threshold_report(await self._get(PATH))
        except CrmError as exc:
            if isinstance(exc, CrmAuthError | CrmRateLimitedError):
                raise
            if is_transient(exc):
                return  # asked again at the next check
            report = None
            log.info("autotask: ThresholdInformation unavailable (%s); keeping the configured threshold", exc.message)
        if report is None:
            self._off = True
            return
        self._limiter.note(report)
