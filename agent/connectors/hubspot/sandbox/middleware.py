"""The ASGI layer in front of every HubSpot route: counting, auth, faults, rate limits, headers.

Per request, in order: count it (``state.requests``; ``write_requests`` for endpoints that change
data); wait ``latency_ms``; check ``Authorization: Bearer <token>`` (401
``INVALID_AUTHENTICATION``, or ``EXPIRED_AUTHENTICATION`` for an OAuth access token past its
lifetime); apply a scripted fault; roll the random faults (drop, 429, 5xx); apply the rate limits
(429 ``SECONDLY``/``DAILY`` with ``Retry-After``); call the route; add the ``X-HubSpot-RateLimit-*``
headers; delay the body by ``slow_body_ms``; log the answer.

A dropped connection sends the headers and part of the body, then raises
:class:`ConnectionDropped`: uvicorn cuts the connection mid-answer; httpx's ``ASGITransport``
re-raises the exception to the caller.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any, NoReturn

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import HubSpotError, expired_token, rate_limited, server_error, unauthorized
from .params import Sandbox
from .routes_admin import ADMIN_PREFIX
from .routes_contacts import CONTACTS
from .routes_oauth import TOKEN_PATH
from .timefmt import ms_to_iso

WRITE_ROUTES = frozenset(
    {
        ("POST", CONTACTS),
        ("PATCH", f"{CONTACTS}/{{contactId}}"),
        ("DELETE", f"{CONTACTS}/{{contactId}}"),
        ("POST", f"{CONTACTS}/merge"),
        ("POST", f"{CONTACTS}/batch/create"),
        ("POST", f"{CONTACTS}/batch/update"),
        ("POST", f"{CONTACTS}/batch/upsert"),
        ("POST", f"{CONTACTS}/batch/archive"),
    }
)
"""``(method, route template)`` of every endpoint that changes data."""

SEARCH_ROUTE = f"{CONTACTS}/search"
PUBLIC_ROUTES = frozenset({"/oauth/v1/access-tokens/{token}", TOKEN_PATH})


class ConnectionDropped(ConnectionError):
    """Raised to cut a connection mid-answer (fault injection)."""


class SandboxMiddleware:
    """Wraps the router; see the module docstring for what it does per request."""

    def __init__(self, app: ASGIApp, *, sandbox: Sandbox, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.sandbox = sandbox
        self.routes = routes

    def template(self, scope: Scope) -> str | None:
        """The route template a request matches (``/crm/v3/objects/contacts/{contactId}``)."""
        partial: str | None = None
        for route in self.routes:
            match, _ = route.matches(scope)
            path = getattr(route, "path", None)
            if match == Match.FULL:
                return path if isinstance(path, str) else None
            if match == Match.PARTIAL and partial is None and isinstance(path, str):
                partial = path
        return partial

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        sandbox = self.sandbox
        state, faults = sandbox.state, sandbox.faults
        method: str = scope["method"]
        path: str = scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        template = self.template(scope)
        state.record_request(method, path, is_write=(method, template) in WRITE_ROUTES)
        body = await _read_body(receive)
        receive = _replay(body, receive)
        logged = _json_or_none(body)
        status_seen: list[int] = []

        async def answer_error(error: HubSpotError, headers: dict[str, str]) -> None:
            payload = json.dumps(error.body()).encode()
            await _send_json(send, error.status, payload, headers)
            state.record_response(method, path, query, error.status, logged)

        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000)
        token = _bearer(scope)
        key = token or ""
        if sandbox.token is not None and template not in PUBLIC_ROUTES:
            refusal = _auth_refusal(sandbox, token)
            if refusal is not None:
                await answer_error(refusal, sandbox.limiter.peek_headers(key, faults))
                return
        scripted = faults.take_scripted(method, path, template)
        if scripted is not None:
            headers = sandbox.limiter.peek_headers(key, faults)
            if scripted.status == 0:
                await self._drop(send, state, method, path, query, logged)
            if scripted.retry_after is not None:
                headers["Retry-After"] = _seconds(scripted.retry_after)
            if scripted.body is not None:
                await _send_json(send, scripted.status, json.dumps(scripted.body).encode(), headers)
                state.record_response(method, path, query, scripted.status, logged)
                return
            error = rate_limited("SECONDLY") if scripted.status == 429 else _error_for(scripted.status)
            await answer_error(error, headers)
            return
        if faults.roll(faults.drop_connection_rate):
            await self._drop(send, state, method, path, query, logged)
        if faults.roll(faults.error_429_rate):
            headers = sandbox.limiter.peek_headers(key, faults)
            headers["Retry-After"] = "1"
            await answer_error(rate_limited("SECONDLY"), headers)
            return
        if faults.roll(faults.error_5xx_rate):
            await answer_error(server_error(faults.error_5xx_status), sandbox.limiter.peek_headers(key, faults))
            return
        decision = sandbox.limiter.check(key, faults, is_search=template == SEARCH_ROUTE and method == "POST")
        if decision.policy is not None:
            headers = dict(decision.headers)
            headers["Retry-After"] = str(decision.retry_after_s)
            await answer_error(rate_limited(decision.policy), headers)
            return
        extra = [(k.lower().encode(), v.encode()) for k, v in decision.headers.items()]

        async def wrapped_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(message["status"])
                message = {**message, "headers": [*message.get("headers", []), *extra]}
                await send(message)
                return
            if message["type"] == "http.response.body" and faults.slow_body_ms > 0:
                chunk: bytes = message.get("body", b"")
                half = len(chunk) // 2
                await send({"type": "http.response.body", "body": chunk[:half], "more_body": True})
                await asyncio.sleep(faults.slow_body_ms / 1000)
                await send({**message, "body": chunk[half:]})
                return
            await send(message)

        try:
            await self.app(scope, receive, wrapped_send)
        finally:
            state.record_response(method, path, query, status_seen[0] if status_seen else 500, logged)

    async def _drop(self, send: Send, state: Any, method: str, path: str, query: str, logged: Any) -> NoReturn:
        state.record_response(method, path, query, 0, logged)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"results": [', "more_body": True})
        raise ConnectionDropped("sandbox fault: connection dropped mid-answer")


def _auth_refusal(sandbox: Sandbox, token: str | None) -> HubSpotError | None:
    """None when ``token`` may call the API: the sandbox token, the private-app token or an unexpired
    OAuth access token; else the 401 HubSpot answers."""
    if token is None or not token:
        return unauthorized()
    if token == sandbox.token or token == sandbox.oauth.private_app_token:
        return None
    state, expires_at = sandbox.oauth.state_of(token)
    if state == "valid":
        return None
    if state == "expired":
        return expired_token(sandbox.state.clock() - expires_at, ms_to_iso(expires_at))
    return unauthorized()


def _error_for(status: int) -> HubSpotError:
    if status >= 500:
        return server_error(status)
    if status == 401:
        return unauthorized()
    if status == 404:
        return HubSpotError(404, "OBJECT_NOT_FOUND", "resource not found")
    if status == 409:
        return HubSpotError(409, "CONFLICT", "conflict (injected by the sandbox)")
    return HubSpotError(status, "VALIDATION_ERROR", f"error {status} (injected by the sandbox)")


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            text: str = value.decode("latin-1")
            if text[:7].lower() == "bearer ":
                return text[7:].strip()
            return None
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _json_or_none(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


async def _send_json(send: Send, status: int, payload: bytes, headers: dict[str, str]) -> None:
    raw_headers = [
        (b"content-type", b"application/json;charset=utf-8"),
        (b"content-length", str(len(payload)).encode()),
        *[(k.lower().encode(), v.encode()) for k, v in headers.items()],
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})
