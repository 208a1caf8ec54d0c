"""When an HTTP attempt is worth retrying and how long to wait before the next (the policy of :mod:`.http`).

Retried, for every method: 429, 500, 502, 503, 504 and network errors (case B15); a request that must not
run twice (``replay_safe=False``) only when the CRM surely did not act: 429, 503 and failures to connect.
The wait before try *n* is exponential with jitter and never less than ``Retry-After`` (delta-seconds or
HTTP-date); attempts and the total time asleep are capped (:class:`RetryPolicy`).
"""

from __future__ import annotations

import email.utils
import math
import random
from dataclasses import dataclass
from typing import Final

import httpx
from tenacity import RetryCallState
from tenacity.stop import stop_base

from leadsync.common.errors import CrmError

RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
"""HTTP statuses retried for every method (a daily-quota 429 excepted)."""

NOT_ACTED_STATUSES: Final = frozenset({429, 503})
"""Statuses that mean the CRM did not act on the request: retried even when it must not run twice."""
NOT_SENT_ERRORS: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Network errors before the request left: retried even when it must not run twice."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to retry: at most ``max_attempts`` tries and ``max_total_wait_s`` seconds asleep in all.

    The wait before try *n* is exponential (``initial_backoff_s`` * 2**(n-1), capped at
    ``max_backoff_s``) plus up to ``jitter_s`` random seconds, and never less than ``Retry-After``.
    """

    max_attempts: int = 6
    max_total_wait_s: float = 120.0
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    jitter_s: float = 0.5

    def wait_s(self, retry_state: RetryCallState) -> float:
        """Seconds to sleep before the next try (tenacity's ``wait``)."""
        exponent = min(retry_state.attempt_number - 1, 30)
        backoff = min(self.initial_backoff_s * float(2**exponent), self.max_backoff_s)
        backoff += random.uniform(0.0, self.jitter_s)
        outcome = retry_state.outcome
        failure = outcome.exception() if outcome is not None else None
        floor = failure.retry_after_s if isinstance(failure, RetryableFailure) else None
        return max(backoff, floor or 0.0)


def parse_retry_after(value: str | None, *, now_s: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date (RFC 9110 10.2.3).

    ``now_s`` is the current epoch time in seconds (UTC) for the HTTP-date form. A date in the past
    gives 0. Returns None when the header is absent or unreadable.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        return None
    return max(when.timestamp() - now_s, 0.0)


class RetryableFailure(Exception):
    """An attempt failed in a way worth retrying; carries the translated error and the CRM's
    ``Retry-After`` in seconds (None: not given). Never leaves :mod:`.http`: the last one raises ``error``."""

    def __init__(self, error: CrmError, retry_after_s: float | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after_s = retry_after_s


class stop_after_total_wait(stop_base):  # named like tenacity's own stop conditions
    """Stop when the next sleep would push the time spent asleep past ``max_wait_s`` (fake-clock safe)."""

    def __init__(self, max_wait_s: float) -> None:
        self.max_wait_s = max_wait_s

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.idle_for + retry_state.upcoming_sleep > self.max_wait_s
