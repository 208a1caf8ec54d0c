"""Each CRM's ceiling in its limiter, on a virtual timeline: what the CRM's answers say of its window (HubSpot's
``X-HubSpot-RateLimit-*``, Salesforce's ``Sforce-Limit-Info``, Autotask's ThresholdInformation; Zoho says
nothing, its credits are counted) sets the limit, a deliberately lower configured limit wins over a higher one
the CRM reports, and a spent long window raises WindowFull (when it frees) instead of sleeping for hours."""

from __future__ import annotations

import httpx
import pytest

from leadsync.agent.connectors.autotask.threshold import HOUR_BUCKET, threshold_limit, threshold_report
from leadsync.agent.connectors.http import HttpClient
from leadsync.agent.connectors.http_errors import window_spent
from leadsync.agent.connectors.hubspot.errors import rate_windows
from leadsync.agent.connectors.ratelimit import RateLimit, WindowFull, WindowLimiter, acquire_all
from leadsync.agent.connectors.salesforce.errors import daily_quota, salesforce_error
from leadsync.agent.connectors.salesforce.quota import QUOTA_BUCKET, quota_limit, quota_window
from leadsync.agent.connectors.zoho.credits import CREDITS_BUCKET, DEFAULT_CREDITS_PER_DAY, credits_limit
from tests.connectors.test_ratelimit import Timeline, most_in_any_window


def hubspot_headers(limit: int, remaining: int) -> dict[str, str]:
    return {"X-HubSpot-RateLimit-Max": str(limit), "X-HubSpot-RateLimit-Remaining": str(remaining),
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}


async def _send(line: Timeline, limiter: WindowLimiter, n: int, headers: object, sent: list[float]) -> None:
    """``n`` requests one after another, 0.1 s each; every answer carries ``headers(i)``'s report."""
    for i in range(n):
        slot = await limiter.acquire()
        sent.append(line.now)
        await line.sleep(0.1)
        slot.release(headers(i))  # type: ignore[operator]


async def test_hubspot_a_lower_configured_limit_wins_over_the_headers_higher_max() -> None:
    line = Timeline()
    limiter = WindowLimiter(RateLimit(50, 10.0, cap=True), clock=line.clock, sleep=line.sleep)
    sent: list[float] = []
    # HubSpot's tier is 190: every answer says so, with what is left of the CRM's count
    await line.run(_send(line, limiter, 200, lambda i: rate_windows(hubspot_headers(190, 189 - i % 50), ("default",))
                         ["default"], sent))
    assert limiter.max_rate == 50
    assert most_in_any_window(sent, 10.0) == 50


async def test_hubspot_a_lower_max_in_the_header_lowers_a_capped_limit_and_an_uncapped_one_takes_the_tier() -> None:
    line = Timeline()
    capped = WindowLimiter(RateLimit(50, 10.0, cap=True), clock=line.clock, sleep=line.sleep)
    tiered = WindowLimiter(RateLimit(100, 10.0), clock=line.clock, sleep=line.sleep)
    sent: list[float] = []
    await line.run(_send(line, capped, 40, lambda i: rate_windows(hubspot_headers(30, 29), ("default",))["default"],
                         sent))
    await line.run(_send(line, tiered, 1, lambda i: rate_windows(hubspot_headers(190, 189), ("default",))["default"],
                         []))
    assert (capped.max_rate, tiered.max_rate) == (30, 190)
    assert most_in_any_window(sent, 10.0) == 30


async def test_salesforce_api_usage_feeds_the_rolling_24_hours_and_a_spent_quota_raises_when_it_frees() -> None:
    line = Timeline()
    limiter = WindowLimiter(quota_limit(None), clock=line.clock, sleep=line.sleep)  # 15,000 until told
    sent: list[float] = []
    # the org's allocation is 20 a day and other integrations already made 14 of them
    await line.run(_send(line, limiter, 6, lambda i: quota_window({"Sforce-Limit-Info": f"api-usage={15 + i}/20"},
                                                                 ("default", QUOTA_BUCKET))[QUOTA_BUCKET], sent))
    assert (limiter.max_rate, limiter.used()) == (20, 20)
    with pytest.raises(WindowFull) as full:
        await limiter.acquire()
    assert full.value.used == 20 and full.value.limit == 20
    assert full.value.wait_s == pytest.approx(86_400 - 0.5)  # the first place: answered at 0.1, now 0.6


async def test_salesforce_a_configured_allocation_below_the_orgs_is_kept() -> None:
    line = Timeline()
    limiter = WindowLimiter(quota_limit(5, window_s=60.0, max_wait_s=120.0), clock=line.clock, sleep=line.sleep)
    sent: list[float] = []
    await line.run(_send(line, limiter, 12, lambda i: quota_window({"Sforce-Limit-Info": f"api-usage={i + 1}/100000"},
                                                                  ("default", QUOTA_BUCKET))[QUOTA_BUCKET], sent))
    assert limiter.max_rate == 5
    assert most_in_any_window(sent, 60.0) == 5 and len(sent) == 12  # waited for the window, never stopped
    assert quota_window({"Sforce-Limit-Info": "api-usage=3/20"}, ("default",)) == {}  # a token call


async def test_autotask_threshold_information_sets_the_hour_and_counts_other_integrations() -> None:
    line = Timeline()
    limiter = WindowLimiter(threshold_limit(None), clock=line.clock, sleep=line.sleep)
    report = threshold_report({"externalRequestThreshold": 10, "requestThresholdTimeframe": 60,
                               "currentTimeframeRequestCount": 7})
    assert report is not None and (report.limit, report.remaining, report.period_s) == (10, 3, 3600.0)
    limiter.note(report)
    sent: list[float] = []
    await line.run(_send(line, limiter, 3, lambda i: None, sent))
    other = WindowLimiter(RateLimit(100, 10.0), clock=line.clock, sleep=line.sleep)
    with pytest.raises(WindowFull) as full:
        await acquire_all({"other": other, HOUR_BUCKET: limiter}, ("other", HOUR_BUCKET))
    assert full.value.bucket == HOUR_BUCKET
    assert full.value.wait_s == pytest.approx(3600.0 - 0.3)  # the 7 noted at 0 free first; now is 0.3
    assert (other.in_flight, other.used()) == (0, 0)  # the place taken in the other bucket was given back
    assert threshold_report({"externalRequestThreshold": "many"}) is None


def test_autotask_a_configured_hour_below_the_databases_is_kept() -> None:
    line = Timeline()
    limiter = WindowLimiter(threshold_limit(4_000), clock=line.clock, sleep=line.sleep)
    report = threshold_report({"externalRequestThreshold": 10_000, "requestThresholdTimeframe": 60,
                               "currentTimeframeRequestCount": 1})
    assert report is not None
    limiter.note(report)
    assert limiter.max_rate == 4_000


async def test_zoho_credits_are_counted_per_call_and_the_default_is_the_smallest_edition() -> None:
    line = Timeline()
    assert credits_limit(None).max_rate == DEFAULT_CREDITS_PER_DAY == 5_000
    limiter = WindowLimiter(credits_limit(6, window_s=30.0, max_wait_s=60.0), clock=line.clock, sleep=line.sleep)
    sent: list[float] = []
    await line.run(_send(line, limiter, 14, lambda i: None, sent))
    assert most_in_any_window(sent, 30.0) == 6 and len(sent) == 14
    day = WindowLimiter(credits_limit(2), clock=line.clock, sleep=line.sleep)
    await line.run(_send(line, day, 2, lambda i: None, []))
    with pytest.raises(WindowFull) as full:
        await acquire_all({CREDITS_BUCKET: day}, (CREDITS_BUCKET,))
    error = window_spent("zoho", full.value, now_s=1_735_689_600.0)  # 2025-01-01 00:00 UTC
    assert error.message == "zoho: API quota spent (2 of 2 requests in the rolling 24 h); resumes at 23:59 UTC"
    assert error.category == CREDITS_BUCKET and error.status == 0


async def test_sync_health_shows_the_allocation_the_crm_reported_not_the_assumed_one() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={}, headers={"Sforce-Limit-Info": "api-usage=7/100000"})

    http = HttpClient(crm="salesforce", base_url="http://sf.test", error_mapper=salesforce_error,
                      transport=httpx.MockTransport(answer),
                      rate_limits={"default": RateLimit(250, 10.0), QUOTA_BUCKET: quota_limit(None)},
                      quota_reader=daily_quota, rate_reader=quota_window)
    try:
        await http.request("GET", "/services/data/v60.0/limits", buckets=("default", QUOTA_BUCKET))
    finally:
        await http.aclose()
    windows = {w.name: w for w in http.usage.snapshot().windows}
    assert (windows[QUOTA_BUCKET].limit, windows[QUOTA_BUCKET].period_s) == (100_000, 86_400)
    assert http.limiters[QUOTA_BUCKET].used() == 7  # the org's count: 6 calls of other integrations held


async def test_the_orgs_count_is_one_number_replaced_by_each_answer_not_an_entry_per_call() -> None:
    line = Timeline()
    limiter = WindowLimiter(quota_limit(None), clock=line.clock, sleep=line.sleep)
    counts = iter(["api-usage=900001/1000000", "api-usage=400002/1000000"])
    await line.run(_send(line, limiter, 2, lambda i: quota_window({"Sforce-Limit-Info": next(counts)},
                                                                 ("default", QUOTA_BUCKET))[QUOTA_BUCKET], []))
    # the second answer: 400,002 counted by the org (other integrations' calls aged out since the first),
    # 2 of them ours: the limiter follows the org's newest count down, and holds it as one number
    assert limiter.used() == 400_002
    assert len(limiter._answered) == 2
    line.now += 86_400.5
    assert limiter.used() == 0  # a day after the last report, nothing of it is held
