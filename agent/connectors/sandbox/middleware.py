"""The ASGI layer every CRM sandbox puts in front of its routes: counting, auth, faults, limits, headers.

Per request, in order (admin paths under :attr:`SandboxMiddleware.admin_prefix` pass straight through):
count it (``state.record_request``, ``is_write`` from :meth:`~SandboxMiddleware.is_write`); wait
``faults.latency_ms``; :meth:`~SandboxMiddleware.authenticate`; apply a scripted fault; roll the random
faults (drop, 429, 5xx); :meth:`~SandboxMiddleware.admit` (rate limits / quota); call the route, adding
the headers ``admit`` returned; delay the body by :meth:`~SandboxMiddleware.body_delay_ms`; log the
answer (``state.record_response``). Error answers carry :meth:`~SandboxMiddleware.quota_headers`.

A sandbox subclasses :class:`SandboxMiddleware` and overrides the hooks that differ for its CRM::

    class ZohoMiddleware(SandboxMiddleware[Sandbox]):
        drop_body = b'{"data": ['
        def error_for(self, status: int) -> ZohoError: return zoho_error_for(status)
        def authenticate(self, call: Call) -> ZohoError | None: ...
    Starlette(routes=routes, middleware=[Middleware(ZohoMiddleware, sandbox=sandbox, routes=routes)])

A dropped connection sends the headers and part of the body (:attr:`~SandboxMiddleware.drop_body`),
then raises :class:`ConnectionDropped`: uvicorn cuts the connection mid-answer; httpx's
``ASGITransport`` re-raises the exception to the caller.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, NoReturn, Protocol, TypeVar

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .faults import DROP_CONNECTION, FaultSwitches


class ConnectionDropped(ConnectionError):
    """Raised to cut a connection mid-answer (fault injection)."""


class SandboxError(Protocol):
    """What the middleware needs of a CRM's error: its ``status`` and JSON ``body()``; an optional
    ``headers`` dict attribute goes on the answer too."""

    @property
    def status(self) -> int: ...

    def body(self) -> Any: ...


class RequestRecorder(Protocol):
    """The counters the middleware feeds (``counters.RequestCounters`` has them)."""

    def record_request(self, method: str, path: str, *, is_write: bool) -> None: ...

    def record_response(self, method: str, path: str, query: str, status: int, body: Any) -> None: ...


class SandboxParts(Protocol):
    """The sandbox bundle the middleware is given: its ``state`` (counters) and ``faults``."""

    @property
    def state(self) -> RequestRecorder: ...

    @property
    def faults(self) -> FaultSwitches: ...


S = TypeVar("S", bound=SandboxParts)


@dataclass(frozen=True, slots=True)
class Call:
    """One request as the hooks see it: the ASGI ``scope``, ``method``, ``path``, raw ``query`` string,
    the matched route ``template`` (None without routes or match) and the Authorization ``token``."""

    scope: Scope
    method: str
    path: str
    query: str
    template: str | None
    token: str | None


class SandboxMiddleware(Generic[S]):
    """Wraps the router; see the module docstring. ``routes`` (optional) let the middleware find a
    request's route template, which scripted faults may name and the hooks see as ``call.template``."""

    admin_prefix: ClassVar[str] = "/__sandbox"
    """Paths under it skip everything (no counting, auth, faults or limits)."""
    content_type: ClassVar[str] = "application/json;charset=utf-8"
    """Content type of the error answers the middleware writes itself."""
    drop_body: ClassVar[bytes] = b'{"results": ['
    """The start of a body a dropped connection sends before it is cut."""
    auth_schemes: ClassVar[tuple[str, ...]] = ("bearer",)
    """Authorization schemes whose credentials become ``call.token`` (lower case)."""

    def __init__(self, app: ASGIApp, *, sandbox: S, routes: Sequence[BaseRoute] = ()) -> None:
        self.app = app
        self.sandbox = sandbox
        self.routes = routes

    # -- hooks a sandbox overrides ----------------------------------------------------------------

    def error_for(self, status: int) -> SandboxError:
        """The error a fault with ``status`` answers (scripted faults; random 429s and 5xx)."""
        raise NotImplementedError

    def is_write(self, call: Call) -> bool:
        """Whether the call is on an endpoint that changes data (counted in ``write_requests``)."""
        return False

    def authenticate(self, call: Call) -> SandboxError | None:
        """The refusal when the call may not go on (401), else None; may note who calls in the scope."""
        return None

    def quota_headers(self, call: Call) -> dict[str, str]:
        """Headers every error answer carries (rate-limit or usage headers, read without counting)."""
        return {}

    def admit(self, call: Call) -> tuple[SandboxError | None, dict[str, str]]:
        """Count the call against the CRM's limits: ``(refusal or None, headers for the answer)``."""
        return None, {}

    def body_delay_ms(self) -> int:
        """Pause between an answer's headers and its body."""
        return 0

    def log_body(self, body: bytes) -> Any:
        """What the request log keeps of a request body: its JSON, or None."""
        return json_or_none(body)

    # -- the pipeline -----------------------------------------------------------------------------

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
        if scope["type"] != "http" or scope["path"].startswith(self.admin_prefix):
            await self.app(scope, receive, send)
            return
        state, faults = self.sandbox.state, self.sandbox.faults
        call = Call(scope, scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"),
                    self.template(scope), authorization(scope, self.auth_schemes))
        method, path, query = call.method, call.path, call.query
        state.record_request(method, path, is_write=self.is_write(call))
        body = await read_body(receive)
        receive = replay(body, receive)
        logged = self.log_body(body)

        async def answer_error(error: SandboxError, headers: dict[str, str]) -> None:
            payload = json.dumps(error.body()).encode()
            await send_json(send, error.status, payload, {**headers, **(getattr(error, "headers", None) or {})},
                            self.content_type)
            state.record_response(method, path, query, error.status, logged)

        async def drop() -> NoReturn:
            state.record_response(method, path, query, 0, logged)
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
            await send({"type": "http.response.body", "body": self.drop_body, "more_body": True})
            raise ConnectionDropped("sandbox fault: connection dropped mid-answer")

        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000)
        refusal = self.authenticate(call)
        if refusal is not None:
            await answer_error(refusal, self.quota_headers(call))
            return
        scripted = faults.take_scripted(method, path, call.template)
        if scripted is not None:
            headers = self.quota_headers(call)
            if scripted.status == DROP_CONNECTION:
                await drop()
            if scripted.retry_after is not None:
                headers["Retry-After"] = retry_after_text(scripted.retry_after)
            if scripted.body is not None:
                await send_json(send, scripted.status, json.dumps(scripted.body).encode(), headers, self.content_type)
                state.record_response(method, path, query, scripted.status, logged)
                return
            await answer_error(self.error_for(scripted.status), headers)
            return
        if faults.roll(faults.drop_connection_rate):
            await drop()
        if faults.roll(faults.error_429_rate):
            await answer_error(self.error_for(429), {**self.quota_headers(call), "Retry-After": "1"})
            return
        if faults.roll(faults.error_5xx_rate):
            await answer_error(self.error_for(faults.error_5xx_status), self.quota_headers(call))
            return
        refusal, added = self.admit(call)
        if refusal is not None:
            await answer_error(refusal, added)
            return
        extra = [(k.lower().encode(), v.encode()) for k, v in added.items()]
        delay_ms = self.body_delay_ms()
        status_seen: list[int] = []

        async def wrapped_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(message["status"])
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            elif message["type"] == "http.response.body" and delay_ms > 0:
                chunk: bytes = message.get("body", b"")
                half = len(chunk) // 2
                await send({"type": "http.response.body", "body": chunk[:half], "more_body": True})
                await asyncio.sleep(delay_ms / 1000)
                message = {**message, "body": chunk[half:]}
            await send(message)

        try:
            await self.app(scope, receive, wrapped_send)
        finally:
            state.record_response(method, path, query, status_seen[0] if status_seen else 500, logged)


# -- ASGI helpers -----------------------------------------------------------------------------------


def authorization(scope: Scope, schemes: Sequence[str] = ("bearer",)) -> str | None:
    """The credentials of the ``Authorization`` header when its scheme is one of ``schemes`` (lower
    case), else None."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            text: str = value.decode("latin-1").strip()
            scheme, _, token = text.partition(" ")
            return token.strip() if scheme.lower() in schemes else None
    return None


def retry_after_text(seconds: float) -> str:
    """``Retry-After`` value: whole seconds without a fraction (``1``), else as given (``0.5``)."""
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


async def read_body(receive: Receive) -> bytes:
    """The whole request body."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already read ``body`` to the app once, then defers to ``receive``."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def json_or_none(body: bytes) -> Any:
    """The parsed JSON of ``body``, or None when empty or not JSON."""
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


async def send_json(send: Send, status: int, payload: bytes, headers: dict[str, str],
                    content_type: str = "application/json;charset=utf-8") -> None:
    """Send a complete JSON answer."""
    raw = [(b"content-type", content_type.encode()), (b"content-length", str(len(payload)).encode()),
           *[(k.lower().encode(), v.encode()) for k, v in headers.items()]]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
