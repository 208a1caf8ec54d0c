"""The shared HTTP layer: retries, Retry-After, quotas, network errors, rate limits, redaction, logging."""

from __future__ import annotations

import email.utils
import logging
from typing import Any

import httpx
import pytest

from leadsync.agent.connectors.http import (
    HttpClient,
    RateLimit,
    RetryPolicy,
    parse_retry_after,
)
from leadsync.agent.connectors.hubspot.errors import hubspot_error, rate_windows
from leadsync.common.errors import (
    CrmAuthError,
    CrmError,
    CrmNotFoundError,
    CrmQuotaExhaustedError,
    CrmRateLimitedError,
    CrmUnavailableError,
)

from .fakes import FakeClock, Recorder, hubspot_error_body, json_response

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"


def make_client(recorder: Recorder, clock: FakeClock, **kw: Any) -> HttpClient:
    recorder.clock = clock
    return HttpClient(
        crm="hubspot", base_url="https://api.hubapi.com", error_mapper=hubspot_error,
        headers={"Authorization": f"Bearer {TOKEN}"}, secrets=(TOKEN,), transport=recorder.transport(),
        sleep=clock.sleep, clock=clock.monotonic, wall_clock=lambda: clock.now_s, **kw)


def fail_first(n: int, failure: httpx.Response | Exception) -> Recorder:
    calls = {"n": 0}

    def handler(request: httpx.Request, body: Any) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] <= n:
            if isinstance(failure, Exception):
                raise failure
            return failure
        return json_response(200, {"ok": True})

    return Recorder(handler)


def rate_limited(**headers: str) -> httpx.Response:
    body = {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT", "correlationId": "c-429", "policyName": "TEN_SECONDLY_ROLLING"}
    return json_response(429, body, headers)


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_b15_429_with_retry_after_is_retried_for_post_and_patch(method: str) -> None:
    clock = FakeClock()
    recorder = fail_first(2, rate_limited(**{"Retry-After": "1"}))
    client = make_client(recorder, clock)
    start = clock.now_s

    answer = await client.request_json(method, "/crm/v3/objects/contacts/batch/update", json={"inputs": []})

    assert answer == {"ok": True}
    assert client.api_calls == 3
    assert len(clock.sleeps) == 2 and all(s >= 1.0 for s in clock.sleeps)
    assert clock.now_s - start >= 2.0
    assert [s.method for s in recorder.sent] == [method] * 3
    await client.aclose()


async def test_retry_after_as_http_date_is_the_minimum_wait() -> None:
    clock = FakeClock()
    when = email.utils.formatdate(clock.now_s + 7, usegmt=True)
    recorder = fail_first(1, rate_limited(**{"Retry-After": when}))
    client = make_client(recorder, clock)

    await client.request("POST", "/crm/v3/objects/contacts/search", json={})

    assert client.api_calls == 2
    assert clock.sleeps[0] >= 6.99


def test_parse_retry_after_both_forms() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("3", now_s=now) == 3.0
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now_s=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now_s=now) == 0.0
    assert parse_retry_after("soon", now_s=now) is None
    assert parse_retry_after(None, now_s=now) is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_retried_then_succeeds(status: int) -> None:
    clock = FakeClock()
    recorder = fail_first(2, json_response(status, hubspot_error_body("upstream", "INTERNAL_ERROR")))
    client = make_client(recorder, clock)

    assert await client.request_json("PATCH", "/x", json={"a": 1}) == {"ok": True}
    assert client.api_calls == 3


async def test_daily_quota_is_not_retried() -> None:
    clock = FakeClock()
    body = {"status": "error", "message": "You have reached your daily limit.", "errorType": "RATE_LIMIT",
            "correlationId": "c-daily", "policyName": "DAILY"}
    recorder = fail_first(5, json_response(429, body))
    client = make_client(recorder, clock)

    with pytest.raises(CrmQuotaExhaustedError) as caught:
        await client.request("GET", "/crm/v3/owners")

    assert client.api_calls == 1
    assert clock.sleeps == []
    assert caught.value.policy == "DAILY"
    assert caught.value.correlation_id == "c-daily"


async def test_network_error_is_retried() -> None:
    clock = FakeClock()
    recorder = fail_first(2, httpx.ConnectError("connection refused"))
    client = make_client(recorder, clock)

    assert await client.request_json("POST", "/x", json={}) == {"ok": True}
    assert client.api_calls == 3


async def test_network_errors_exhaust_to_unavailable() -> None:
    clock = FakeClock()
    recorder = fail_first(100, httpx.ReadTimeout("timed out"))
    client = make_client(recorder, clock, retry=RetryPolicy(max_attempts=4))

    with pytest.raises(CrmUnavailableError) as caught:
        await client.request("GET", "/x")

    assert client.api_calls == 4
    assert caught.value.status == 0


async def test_long_retry_after_beyond_total_wait_raises_at_once() -> None:
    clock = FakeClock()
    recorder = fail_first(5, rate_limited(**{"Retry-After": "3600"}))
    client = make_client(recorder, clock, retry=RetryPolicy(max_total_wait_s=60))

    with pytest.raises(CrmRateLimitedError) as caught:
        await client.request("GET", "/x")

    assert client.api_calls == 1
    assert caught.value.retry_after_s == 3600


async def test_401_is_an_auth_error_and_not_retried() -> None:
    clock = FakeClock()
    recorder = fail_first(5, json_response(401, hubspot_error_body("Authentication credentials not found.",
                                                                   "INVALID_AUTHENTICATION")))
    client = make_client(recorder, clock)

    with pytest.raises(CrmAuthError):
        await client.request("GET", "/x")
    assert client.api_calls == 1


async def test_404_is_not_found() -> None:
    recorder = fail_first(5, json_response(404, hubspot_error_body("resource not found", "OBJECT_NOT_FOUND")))
    client = make_client(recorder, FakeClock())

    with pytest.raises(CrmNotFoundError):
        await client.request("GET", "/crm/v3/objects/contacts/1")


async def test_other_4xx_carries_hubspot_message_and_correlation_id() -> None:
    body = hubspot_error_body("Property values were not valid", errors=[{"message": "bad email"}])
    recorder = fail_first(5, json_response(400, body))
    client = make_client(recorder, FakeClock())

    with pytest.raises(CrmError) as caught:
        await client.request("POST", "/x", json={})

    error = caught.value
    assert type(error) is CrmError
    assert "Property values were not valid" in error.message
    assert error.correlation_id == "c0ffee-1234"
    assert error.category == "VALIDATION_ERROR"
    assert error.status == 400
    assert client.api_calls == 1


async def test_token_never_appears_in_exceptions_reprs_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()

    def handler(request: httpx.Request, body: Any) -> httpx.Response:
        # a CRM that echoes the request path (with the token in it) in its error message
        return json_response(503, hubspot_error_body(f"cannot serve {request.url.path}", "INTERNAL_ERROR",
                                                     context={"path": [request.url.path]}))

    client = make_client(Recorder(handler), clock, retry=RetryPolicy(max_attempts=3))

    with pytest.raises(CrmUnavailableError) as caught:
        await client.request("GET", f"/oauth/v1/access-tokens/{TOKEN}")

    error = caught.value
    texts = [str(error), repr(error), error.message, repr(error.data), repr(error.args), repr(client),
             caplog.text, *(r.getMessage() for r in caplog.records)]
    assert caplog.records, "the failure should have been logged"
    for text in texts:
        assert TOKEN not in text
    assert any("***" in text for text in texts)


async def test_network_error_text_is_redacted_too(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = fail_first(100, httpx.ConnectError(f"cannot connect for /oauth/v1/access-tokens/{TOKEN}"))
    client = make_client(recorder, FakeClock(), retry=RetryPolicy(max_attempts=2))

    with pytest.raises(CrmUnavailableError) as caught:
        await client.request("GET", f"/oauth/v1/access-tokens/{TOKEN}")

    assert TOKEN not in str(caught.value)
    assert caught.value.__cause__ is None
    assert TOKEN not in caplog.text


async def test_failure_is_logged_once_and_recovery_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="leadsync.http")
    recorder = fail_first(4, json_response(503, hubspot_error_body("down", "INTERNAL_ERROR")))
    client = make_client(recorder, FakeClock())

    await client.request("GET", "/x")

    mine = [r for r in caplog.records if r.name == "leadsync.http"]
    assert [r.levelno for r in mine if r.levelno >= logging.WARNING] == [logging.WARNING]
    assert len([r for r in mine if r.levelno == logging.INFO]) == 1
    assert client.api_calls == 5


async def test_rate_limiter_keeps_every_10s_window_under_the_limit() -> None:
    clock = FakeClock()
    recorder = Recorder(lambda request, body: json_response(200, {}))
    client = make_client(recorder, clock, rate_limits={"default": RateLimit(100, 10.0)})

    for _ in range(350):
        await client.request("GET", "/x")

    times = [s.at_s for s in recorder.sent]
    assert len(times) == 350
    for i, start in enumerate(times):
        in_window = sum(1 for t in times[i:] if t < start + 10.0)
        assert in_window <= 100
    assert times[-1] - times[0] >= 25.0  # 350 requests at <= 100 per 10 s
    assert recorder.sent[0].headers["Authorization"] == f"Bearer {TOKEN}"


async def test_search_bucket_is_separate_and_slower() -> None:
    clock = FakeClock()
    recorder = Recorder(lambda request, body: json_response(200, {}))
    client = make_client(recorder, clock, rate_limits={"default": RateLimit(100, 10.0),
                                                        "search": RateLimit(4, 1.0)})

    for _ in range(20):
        await client.request("POST", "/search", json={}, buckets=("default", "search"))

    times = [s.at_s for s in recorder.sent]
    for i, start in enumerate(times):
        assert sum(1 for t in times[i:] if t < start + 1.0) <= 4


async def test_the_window_is_used_exactly_and_the_answers_headers_correct_it() -> None:
    clock = FakeClock()
    answers = iter([{"X-HubSpot-RateLimit-Max": "190", "X-HubSpot-RateLimit-Remaining": "100",
                     "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}] + [{}] * 400)
    recorder = Recorder(lambda request, body: json_response(200, {}, next(answers)))
    client = make_client(recorder, clock, rate_limits={"default": RateLimit(100, 10.0)}, rate_reader=rate_windows)

    for _ in range(280):
        await client.request("GET", "/x")

    times = [s.at_s - recorder.sent[0].at_s for s in recorder.sent]
    # the first answer: the app's tier is 190, and 89 requests elsewhere (190 - 100 left - this one) hold
    # places until t=10; then 190 a window, no place left idle
    assert times[:101] == [0.0] * 101 and times[101] == pytest.approx(10.0)
    assert times[-1] == pytest.approx(10.0)
    assert len([t for t in times if t < 10.0]) == 101


@pytest.mark.parametrize(("failure", "retried"), [
    (json_response(500, hubspot_error_body("oops", "INTERNAL_ERROR")), False),
    (json_response(504, hubspot_error_body("gateway", "INTERNAL_ERROR")), False),
    (httpx.ReadTimeout("timed out"), False),
    (json_response(503, hubspot_error_body("unavailable", "INTERNAL_ERROR")), True),
    (rate_limited(**{"Retry-After": "1"}), True),
    (httpx.ConnectError("refused"), True),
])
async def test_a_request_that_must_not_run_twice_is_retried_only_when_surely_not_carried_out(
    failure: httpx.Response | Exception, retried: bool
) -> None:
    client = make_client(fail_first(1, failure), FakeClock())

    if retried:
        assert await client.request_json("POST", "/batch/create", json={}, replay_safe=False) == {"ok": True}
        assert client.api_calls == 2
    else:
        with pytest.raises(CrmUnavailableError):
            await client.request_json("POST", "/batch/create", json={}, replay_safe=False)
        assert client.api_calls == 1
