"""The HTTP layer every connector shares: timeouts, retries, rate limiting, error translation, redaction.

One :class:`HttpClient` per CRM connection wraps an :class:`httpx.AsyncClient` and gives each request:

- timeouts on every phase (connect 10 s, read 30 s, write 30 s, pool 10 s by default);
- a proactive rate limit (sliding windows of :mod:`.ratelimit`, one per named bucket, e.g. ``"default"`` and
  ``"search"``; an answer's rate-limit headers, read by the connector's ``rate_reader``, correct them), so the
  agent uses the CRM's whole window without bouncing off it;
- retries with exponential backoff and jitter (:mod:`tenacity`) on 429, 500, 502, 503, 504 and network
  errors (:class:`httpx.TransportError`, timeouts included) for *every* method, POST and PATCH too
  (case B15); ``Retry-After`` (delta-seconds or HTTP-date) is the minimum wait; attempts and the total
  wait are capped;
- error translation, once: the connector supplies an :data:`ErrorMapper` turning a failed
  :class:`httpx.Response` into the right :class:`~leadsync.common.errors.CrmError` subclass
  (:func:`error_for_status` builds it from the parts); a daily-quota 429
  (:class:`~leadsync.common.errors.CrmQuotaExhaustedError`) is raised at once, never retried;
- a counter of API calls (every attempt counts);
- secrets (tokens) redacted from every exception message, log line and repr, including httpx's own
  request log, which would otherwise print a URL with a token in its path; tokens issued later (an
  OAuth refresh) join the list with :meth:`HttpClient.add_secrets`;
- optional :class:`Authenticator` (OAuth): it gives each attempt its ``Authorization`` header
  (refreshing a token about to expire first) and, when the CRM answers 401, refreshes once and the
  request is sent once more; a second 401 is final.

Time is injectable (``sleep``, ``clock``, ``wall_clock``) so tests run retries and rate limits on a
fake clock without waiting. A failure is logged once (warning) and its recovery once (info), on the
``leadsync.http`` logger; individual retries are logged at debug level.

The :class:`Authenticator` protocol is in :mod:`.http_auth`, the retry policy in :mod:`.retry_policy`, the
error mapping in :mod:`.http_errors` and the redaction in :mod:`.redaction`; this module re-exports what
connectors use of them (``__all__``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.request
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlencode

import httpx
import msgspec
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from leadsync.agent.connectors.http_auth import Authenticator
from leadsync.agent.connectors.http_checks import check_base_url, check_token
from leadsync.agent.connectors.http_errors import ErrorMapper, error_for_status, window_spent
from leadsync.agent.connectors.http_transport import TlsOnDemand
from leadsync.agent.connectors.ratelimit import RateLimit, RateReader, Slot, WindowFull, WindowLimiter, acquire_all
from leadsync.agent.connectors.redaction import LOG_REDACTOR, Secret, redact, redact_data
from leadsync.agent.connectors.retry_policy import (
    NOT_ACTED_STATUSES,
    NOT_SENT_ERRORS,
    RETRY_STATUSES,
    RetryableFailure,
    RetryPolicy,
    parse_retry_after,
    stop_after_total_wait,
)
from leadsync.agent.connectors.usage import ApiUsage, QuotaReader
from leadsync.common.errors import (
    CrmAuthError,
    CrmError,
    CrmProtocolError,
    CrmQuotaExhaustedError,
    CrmRateLimitedError,
    CrmUnavailableError,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "RETRY_STATUSES",
    "Authenticator",
    "Clock",
    "ErrorMapper",
    "HttpClient",
    "RateLimit",
    "RateReader",
    "RetryPolicy",
    "Secret",
    "Sleep",
    "check_base_url",
    "check_token",
    "error_for_status",
    "parse_retry_after",
    "redact",
]

logger = logging.getLogger("leadsync.http")
for _name in ("httpx", "httpcore", logger.name):  # httpx logs full request URLs, tokens in paths too
    logging.getLogger(_name).addFilter(LOG_REDACTOR)

DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=10.0, read=30.0, write=30.0, pool=10.0)
"""Per-phase timeouts in seconds, applied to every request."""

Params = Mapping[str, str | int | Sequence[str]] | str | None
"""A request's query: parameters by name (a list repeats one), or text already encoded as httpx encodes them
(``str(httpx.QueryParams(...))``: a query sent on every page of a walk, encoded once)."""
Sleep = Callable[[float], Awaitable[None]]
"""``await sleep(seconds)``."""
Clock = Callable[[], float]
"""Returns seconds: monotonic for ``clock``, epoch (UTC) for ``wall_clock``."""


class HttpClient:
    """One CRM connection's HTTP client.

    ``base_url`` is the CRM's API root; ``headers`` are sent on every request (put the
    ``Authorization`` header here and its token in ``secrets`` so it is redacted everywhere);
    ``error_mapper`` translates failed responses; ``rate_limits`` maps bucket names to limits (the
    ``"default"`` bucket is used when a request names none: 100 per 10 s unless configured).
    ``transport`` replaces the network (``httpx.MockTransport``, ``httpx.ASGITransport``).
    ``sleep``/``clock``/``wall_clock`` default to ``asyncio.sleep``, ``time.monotonic`` and
    ``time.time``. ``usage`` counts each attempt (:mod:`.usage`); ``quota_reader`` finds the day's quota in answers,
    ``rate_reader`` what an answer says of each bucket's window (:mod:`.ratelimit`); :attr:`limiters` by bucket.
    """

    def __init__(
        self,
        *,
        crm: str,
        base_url: str,
        error_mapper: ErrorMapper,
        headers: Mapping[str, str] | None = None,
        secrets: Sequence[str] = (),
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        rate_limits: Mapping[str, RateLimit] | None = None,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
        wall_clock: Clock | None = None,
        auth: Authenticator | None = None,
        usage: ApiUsage | None = None, quota_reader: QuotaReader | None = None, rate_reader: RateReader | None = None,
    ) -> None:
        self.crm = crm
        self.auth = auth
        self.base_url = check_base_url(base_url).rstrip("/")
        self._error_mapper = error_mapper
        self._secrets = tuple(s for s in secrets if s)
        self._retry = retry or RetryPolicy()
        self._sleep: Sleep = sleep or asyncio.sleep
        self._clock: Clock = clock or time.monotonic
        self._wall_clock: Clock = wall_clock or time.time
        limits = dict(rate_limits or {})
        limits.setdefault("default", RateLimit(100, 10.0))
        self.limiters = {name: WindowLimiter(lim, clock=self._clock, sleep=self._sleep)
                          for name, lim in limits.items()}
        self._rate_reader = rate_reader
        self.usage = (usage or ApiUsage(clock=self._wall_clock)).counting(self.limiters, quota_reader)
        if transport is None and not urllib.request.getproxies():  # with proxies set, httpx's own routes to them
            transport = TlsOnDemand()
        self._client = httpx.AsyncClient(base_url=self.base_url, headers=dict(headers or {}),
                                         timeout=timeout, transport=transport)
        self._api_calls = 0
        self._failing = False
        LOG_REDACTOR.secrets[id(self)] = self._secrets
        # a client dropped without aclose() must not leave its secrets in the shared log filter
        weakref.finalize(self, LOG_REDACTOR.secrets.pop, id(self), None)

    def __repr__(self) -> str:
        return f"HttpClient(crm={self.crm!r}, base_url={self.base_url!r}, api_calls={self._api_calls})"

    @property
    def api_calls(self) -> int:
        """HTTP requests sent so far, every retry included."""
        return self._api_calls

    def window(self, bucket: str) -> RateLimit:
        """The window ``bucket`` admits now (as declared, or as the CRM's answers reported it)."""
        limiter = self.limiters[bucket]
        return RateLimit(limiter.max_rate, limiter.period_s)

    def redact(self, text: str) -> str:
        """``text`` without this connection's secrets."""
        return redact(text, self._secrets)

    def add_secrets(self, *secrets: str) -> None:
        """Redact these too from now on (e.g. a newly issued access token and its URL-quoted form)."""
        fresh = tuple(s for s in secrets if s and s not in self._secrets)
        if fresh:
            self._secrets = (*self._secrets, *fresh)
            LOG_REDACTOR.secrets[id(self)] = self._secrets

    async def aclose(self) -> None:
        """Close the connection pool; the client cannot be used afterwards."""
        await self._client.aclose()
        LOG_REDACTOR.secrets.pop(id(self), None)

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        buckets: Sequence[str] = ("default",),
        replay_safe: bool = True,
        authenticate: bool = True,
    ) -> Any:
        """Send a request (see :meth:`request`) and decode its JSON body; None for an empty body (204).

        Raises CrmProtocolError when a 2xx body is not JSON.
        """
        response = await self.request(method, path, params=params, json=json, form=form, buckets=buckets,
                                      replay_safe=replay_safe, authenticate=authenticate)
        if not response.content:
            return None
        try:
            return msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            raise CrmProtocolError(
                self.redact(f"{self.crm}: {method} {path} answered {response.status_code} with a body "
                            "that is not JSON"),
                crm=self.crm, status=response.status_code) from None

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        buckets: Sequence[str] = ("default",),
        replay_safe: bool = True,
        authenticate: bool = True,
    ) -> httpx.Response:
        """Send ``method path`` (relative to ``base_url``) and return the 2xx response.

        ``params`` is the query (:data:`Params`); ``json`` is encoded with msgspec, ``form`` as
        ``application/x-www-form-urlencoded`` (an OAuth token request); ``buckets`` names the rate limiters
        this request takes a token from (each attempt takes one). Retries per the :class:`RetryPolicy`,
        whatever the method; raises the mapped :class:`~leadsync.common.errors.CrmError` subclass when the
        CRM refuses or retries run out, CrmUnavailableError (status 0) for network failures.

        ``replay_safe=False`` marks a request that must not run twice (a create without an
        idempotency key): it is then retried only when the CRM surely did not act on it, i.e. on
        429, 503 and failures to connect, not on 500/502/504 or a read timeout.

        With an :attr:`auth` authenticator (and ``authenticate`` True, the default) each attempt
        carries its ``Authorization`` header; a 401 asks it for a new token and the request is sent
        once more (a 401 means the CRM did not act, so this holds for any request).
        """
        if form is not None:
            content: bytes | None = urlencode(form).encode()
            headers: dict[str, str] | None = {"Content-Type": "application/x-www-form-urlencoded"}
        else:
            content = None if json is None else msgspec.json.encode(json)
            headers = {"Content-Type": "application/json"} if content is not None else None
        auth = self.auth if authenticate else None
        sent_with: list[str] = []
        try:
            return await self._with_retries(method, path, params, content, headers, buckets, replay_safe,
                                            auth, sent_with)
        except CrmAuthError as exc:
            if auth is None or exc.status != 401 or not sent_with:
                raise
            if not await auth.unauthorized(sent_with[-1]):
                raise
            logger.debug("%s: %s %s answered 401; retrying once with a new access token", self.crm, method,
                         self.redact(path))
        return await self._with_retries(method, path, params, content, headers, buckets, replay_safe, auth,
                                        sent_with)

    async def _with_retries(
        self,
        method: str,
        path: str,
        params: Params,
        content: bytes | None,
        headers: Mapping[str, str] | None,
        buckets: Sequence[str],
        replay_safe: bool,
        auth: Authenticator | None,
        sent_with: list[str],
    ) -> httpx.Response:
        policy = self._retry
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.max_attempts) | stop_after_total_wait(policy.max_total_wait_s),
            wait=policy.wait_s,
            retry=retry_if_exception_type(RetryableFailure),
            sleep=self._sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        attempts = 0
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    attempt_headers = headers
                    if auth is not None:
                        authorization = await auth.authorization()
                        sent_with.append(authorization)
                        attempt_headers = {**(headers or {}), "Authorization": authorization}
                    response = await self._attempt(method, path, params, content, attempt_headers, buckets,
                                                   replay_safe)
        except RetryableFailure as failure:
            logger.debug("%s: %s %s gave up after %d attempts: %s", self.crm, method,
                         self.redact(path), attempts, failure.error.message)
            raise failure.error from None
        if self._failing:
            self._failing = False
            logger.info("%s: API reachable again (%s %s succeeded after %d attempts)", self.crm, method,
                        self.redact(path), attempts)
        return response

    async def _attempt(
        self,
        method: str,
        path: str,
        params: Params,
        content: bytes | None,
        headers: Mapping[str, str] | None,
        buckets: Sequence[str],
        replay_safe: bool,
    ) -> httpx.Response:
        try:
            slots = await acquire_all(self.limiters, buckets)
        except WindowFull as full:  # a long window spent: stop with when it resumes, never a CRM refusal
            raise window_spent(self.crm, full, now_s=self._wall_clock()) from None
        try:
            response = await self._send(method, path, params, content, headers, buckets, replay_safe, slots)
        finally:
            for slot in slots.values():
                slot.release()
        return response

    async def _send(self, method: str, path: str, params: Params,
                    content: bytes | None, headers: Mapping[str, str] | None, buckets: Sequence[str],
                    replay_safe: bool, slots: Mapping[str, Slot]) -> httpx.Response:
        self._api_calls += 1
        self.usage.note(buckets)
        try:
            if isinstance(params, str):  # the URL httpx would merge from base_url, path and these params
                url = httpx.URL(f"{self.base_url}/{path.lstrip('/')}?{params}")
                response = await self._client.request(method, url, content=content, headers=headers)
            else:
                response = await self._client.request(method, path, params=params, content=content, headers=headers)
        except httpx.UnsupportedProtocol as exc:
            raise CrmError(self.redact(f"{self.crm}: {method} {path}: {exc}"), crm=self.crm, status=0) from None
        except httpx.TransportError as exc:
            unreachable = CrmUnavailableError(
                self.redact(f"{self.crm}: could not complete {method} {path}: "
                            f"{type(exc).__name__}: {exc}"), crm=self.crm, status=0)
            if replay_safe or isinstance(exc, NOT_SENT_ERRORS):
                raise RetryableFailure(unreachable, None) from None
            raise unreachable from None
        except httpx.HTTPError as exc:
            raise CrmError(self.redact(f"{self.crm}: {method} {path} failed: {type(exc).__name__}: {exc}"),
                           crm=self.crm, status=0) from None
        self.usage.answered(response.headers)
        reports = self._rate_reader(response.headers, buckets) if self._rate_reader is not None else {}
        for name, slot in slots.items():
            slot.release(reports.get(name))
        if response.is_success:
            return response
        await response.aread()
        error = self._translate(response)
        retry_statuses = RETRY_STATUSES if replay_safe else NOT_ACTED_STATUSES
        if isinstance(error, CrmQuotaExhaustedError) or response.status_code not in retry_statuses:
            raise error
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now_s=self._wall_clock())
        raise RetryableFailure(error, retry_after)

    def _translate(self, response: httpx.Response) -> CrmError:
        error = self._error_mapper(response)
        error.crm = error.crm or self.crm
        error.message = self.redact(error.message)
        error.args = (error.message,)
        error.data = redact_data(error.data, self._secrets)
        if isinstance(error, CrmRateLimitedError) and error.retry_after_s is None:
            error.retry_after_s = parse_retry_after(response.headers.get("Retry-After"),
                                                    now_s=self._wall_clock())
        return error

    def _before_sleep(self, retry_state: RetryCallState) -> None:
        outcome = retry_state.outcome
        failure = outcome.exception() if outcome is not None else None
        message = failure.error.message if isinstance(failure, RetryableFailure) else repr(failure)
        wait = retry_state.upcoming_sleep
        if not self._failing:
            self._failing = True
            logger.warning("%s: API call failed, retrying (%s)", self.crm, message)
        else:
            logger.debug("%s: attempt %d failed, retrying in %.2f s (%s)", self.crm,
                         retry_state.attempt_number, wait, message)
