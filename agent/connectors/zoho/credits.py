"""Zoho CRM's API credits as a limiter of its own ("API Limits", Zoho CRM API v8): each organisation has a
number of credits per rolling 24 hours by edition (Free 5,000; Standard 50,000 + 250 a user license, at most
100,000; Professional 50,000 + 500 a license; Enterprise 50,000 + 1,000 a license; Ultimate 50,000 + 2,000 a
license; add-ons on top), freed 24 hours after each call. A records list or get of up to 200 records, a
search, and an insert, update or upsert of up to 100 records each cost 1 credit (a lead conversion 5, which
leadsync never calls). Past the credits every call answers 429 ``TOO_MANY_REQUESTS``.

Zoho's answers carry no usage header for credits, so leadsync counts its own calls (bucket
:data:`CREDITS_BUCKET`, every CRM API call, not the accounts server's token calls) against the configured
allocation; the concurrency limit (5 calls at once on Free up to 25 on Ultimate, per app) is never reached:
the connector sends one request at a time.
"""

from __future__ import annotations

from typing import Final

from leadsync.agent.connectors.ratelimit import RateLimit

CREDITS_BUCKET: Final = "credits"
DEFAULT_CREDITS_PER_DAY: Final = 5_000
"""The allocation assumed when none is configured: the Free edition's, the smallest (every edition has at
least this, so the default never draws a 429; configure the organisation's own to use all of it)."""
DAY_S: Final = 86_400.0
CREDITS_MAX_WAIT_S: Final = 120.0
"""The longest a call waits for spent credits to free up before the run stops (s)."""


def credits_limit(credits_per_day: int | None, window_s: float = DAY_S,
                  max_wait_s: float = CREDITS_MAX_WAIT_S) -> RateLimit:
    """The limit of bucket :data:`CREDITS_BUCKET`: ``credits_per_day`` (None:
    :data:`DEFAULT_CREDITS_PER_DAY`) calls of 1 credit per rolling ``window_s`` seconds (86,400; shorter only
    in benchmarks and tests), waiting at most ``max_wait_s`` seconds for a place (then CrmQuotaExhaustedError
    saying when the credits free up, see :mod:`..http`)."""
    return RateLimit(credits_per_day or DEFAULT_CREDITS_PER_DAY, window_s, cap=True, max_wait_s=max_wait_s)
