"""The ASGI layer in front of every route: counting, sessions, faults, the API quota, headers.

Per request, in order: count it (``write_requests`` for calls that change data); wait ``latency_ms``;
for API calls (``/services/data/vNN.N/...``), ``/services/oauth2/userinfo`` and identity URLs check
``Authorization: Bearer <session>`` (or ``OAuth <session>``): the static sandbox token or an unexpired
session from the token endpoint, else 401 ``INVALID_SESSION_ID``; apply a scripted fault; roll the random
faults (drop, 429, 5xx); count the call against the rolling 24-hour quota (403 ``REQUEST_LIMIT_EXCEEDED``
past it); call the route; add ``Sforce-Limit-Info: api-usage=N/M`` to API answers; log the answer.

A dropped connection sends the headers and part of the body, then raises :class:`ConnectionDropped`.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, NoReturn

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import SalesforceError, invalid_session, request_limit_exceeded, server_error, too_many_requests
from .params import Sandbox
from .routes_admin import ADMIN_PREFIX

API_PATH = re.compile(r"^/services/data/v\d+\.\d+(?:/|$)")
UNLIMITED = 15_000_000


class ConnectionDropped(ConnectionError):
    """Raised to cut a connection mid-answer (fault injection)."""


def _needs_session(path: str) -> bool:
    return bool(API_PATH.match(path)) or path == "/services/oauth2/userinfo" or path.startswith("/id/")


def _is_write(method: str, path: str) -> bool:
    return method in ("POST", "PATCH", "DELETE") and bool(API_PATH.match(path)) and (
        "/sobjects" in path) and not path.rstrip("/").endswith(("/describe", "/updated", "/deleted"))


class SandboxMiddleware:
    """Wraps the router; see the module docstring."""

    def __init__(self, app: ASGIApp, *, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        sandbox = self.sandbox
        state, faults = sandbox.state, sandbox.faults
        method: str = scope["method"]
        path: str = scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        state.record_request(method, path, is_write=_is_write(method, path))
        body = await _read_body(receive)
        receive = _replay(body, receive)
        logged = _json_or_none(body)
        is_api = bool(API_PATH.match(path))

        def usage_headers(used: int | None = None) -> dict[str, str]:
            if not is_api:
                return {}
            limit = faults.daily_limit if faults.daily_limit is not None else UNLIMITED
            return {"Sforce-Limit-Info": f"api-usage={sandbox.usage.used() if used is None else used}/{limit}"}

        async def answer_error(exc: SalesforceError, headers: dict[str, str]) -> None:
            payload = json.dumps(exc.body()).encode()
            await _send_json(send, exc.status, payload, {**headers, **exc.headers})
            state.record_response(method, path, query, exc.status, logged)

        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000)
        if _needs_session(path):
            user = self._user(_session_token(scope))
            if user is None:
                await answer_error(invalid_session(), usage_headers())
                return
            scope.setdefault("state", {})["sf_user_id"] = user
        scripted = faults.take_scripted(method, path)
        if scripted is not None:
            headers = usage_headers()
            if scripted.status == 0:
                await self._drop(send, method, path, query, logged)
            if scripted.retry_after is not None:
                headers["Retry-After"] = _seconds(scripted.retry_after)
            if scripted.body is not None:
                await _send_json(send, scripted.status, json.dumps(scripted.body).encode(), headers)
                state.record_response(method, path, query, scripted.status, logged)
                return
            await answer_error(_error_for(scripted.status), headers)
            return
        if faults.roll(faults.drop_connection_rate):
            await self._drop(send, method, path, query, logged)
        if faults.roll(faults.error_429_rate):
            await answer_error(too_many_requests(), {**usage_headers(), "Retry-After": "1"})
            return
        if faults.roll(faults.error_5xx_rate):
            await answer_error(server_error(faults.error_5xx_status), usage_headers())
            return
        extra: list[tuple[bytes, bytes]] = []
        if is_api:
            allowed, used = sandbox.usage.take(faults.daily_limit)
            if not allowed:
                await answer_error(request_limit_exceeded(), usage_headers(used))
                return
            extra = [(k.lower().encode(), v.encode()) for k, v in usage_headers(used).items()]
        status_seen: list[int] = []

        async def wrapped_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(message["status"])
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, wrapped_send)
        finally:
            state.record_response(method, path, query, status_seen[0] if status_seen else 500, logged)

    def _user(self, token: str | None) -> str | None:
        if not token:
            return None
        sandbox = self.sandbox
        if sandbox.token is not None and token == sandbox.token:
            return sandbox.state.api_user_id
        status, user = sandbox.oauth.session(token)
        return user if status == "valid" else None

    async def _drop(self, send: Send, method: str, path: str, query: str, logged: Any) -> NoReturn:
        self.sandbox.state.record_response(method, path, query, 0, logged)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b'{"totalSize": 3, "records": [', "more_body": True})
        raise ConnectionDropped("sandbox fault: connection dropped mid-answer")


def _error_for(status: int) -> SalesforceError:
    from .errors import error

    if status >= 500:
        return server_error(status)
    if status == 401:
        return invalid_session()
    if status == 403:
        return request_limit_exceeded()
    if status == 404:
        return error(404, "NOT_FOUND", "The requested resource does not exist")
    if status == 429:
        return too_many_requests()
    return error(status, "INVALID_INPUT", f"error {status} (injected by the sandbox)")


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _session_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            text: str = value.decode("latin-1").strip()
            scheme, _, token = text.partition(" ")
            return token.strip() if scheme.lower() in ("bearer", "oauth") else None
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
        return body.decode("utf-8", errors="replace")[:2000]


async def _send_json(send: Send, status: int, payload: bytes, headers: dict[str, str]) -> None:
    raw = [(b"content-type", b"application/json;charset=UTF-8"), (b"content-length", str(len(payload)).encode()),
           *[(k.lower().encode(), v.encode()) for k, v in headers.items()]]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
