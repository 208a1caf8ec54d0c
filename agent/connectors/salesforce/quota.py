"""The org's rolling 24-hour API request allocation as a limiter of its own ("API Request Limits and
Allocations", REST API Developer Guide): every API call counts, the answer's ``Sforce-Limit-Info:
api-usage=N/M`` gives the org's count ``N`` (every integration's calls) of its allocation ``M``, and past it
every call answers 403 ``REQUEST_LIMIT_EXCEEDED``. The limiter (bucket :data:`QUOTA_BUCKET`) keeps to it, so
that 403 is never drawn: when the window is spent it raises, before sending, an error saying when it resumes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from leadsync.agent.connectors.ratelimit import RateLimit, WindowReport
from leadsync.agent.connectors.salesforce.errors import daily_quota

QUOTA_BUCKET: Final = "day"
"""The limiter of the org's rolling 24-hour API request allocation (every API call takes from it)."""
DEFAULT_DAILY_REQUESTS: Final = 15_000
"""API requests per rolling 24 h assumed before the first answer's ``Sforce-Limit-Info`` names the org's
allocation (the smallest an org has: Developer Edition's 15,000; Enterprise starts at 100,000)."""
DAY_S: Final = 86_400.0
QUOTA_MAX_WAIT_S: Final = 120.0
"""The longest a request waits for the spent 24-hour allocation to free a place before the run stops (s)."""


def quota_limit(daily_api_requests: int | None, window_s: float = DAY_S,
                max_wait_s: float = QUOTA_MAX_WAIT_S) -> RateLimit:
    """The limit of bucket :data:`QUOTA_BUCKET`: ``daily_api_requests`` per ``window_s`` seconds (86,400;
    shorter only in benchmarks and tests) as a cap the header may lower, never raise; None: learn the org's
    allocation from ``Sforce-Limit-Info`` (:data:`DEFAULT_DAILY_REQUESTS` until the first answer). Waits for a
    place at most ``max_wait_s`` seconds (then CrmQuotaExhaustedError, see :mod:`..http`)."""
    return RateLimit(daily_api_requests or DEFAULT_DAILY_REQUESTS, window_s, cap=daily_api_requests is not None,
                     max_wait_s=max_wait_s)


def quota_window(headers: Mapping[str, str], buckets: Sequence[str]) -> dict[str, WindowReport]:
    """What ``Sforce-Limit-Info: api-usage=N/M`` says of the allocation (bucket :data:`QUOTA_BUCKET`): ``M``
    requests, ``M - N`` left after this one; {} when the answer lacks it or the request did not take that
    bucket (a :data:`~leadsync.agent.connectors.ratelimit.RateReader`)."""
    usage = daily_quota(headers) if QUOTA_BUCKET in buckets else None
    if usage is None or usage[1] < 1:
        return {}
    used, limit = usage
    return {QUOTA_BUCKET: WindowReport(limit=limit, remaining=max(0, limit - used))}
