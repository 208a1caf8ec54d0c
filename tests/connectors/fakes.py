"""Test doubles shared by the connector tests: a fake clock and a recording HTTP transport."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec


class FakeClock:
    """One fake time source for ``sleep``, ``clock`` (monotonic s) and ``now_ms`` (epoch ms).

    ``await sleep(s)`` records ``s`` and moves time forward; nothing really waits.
    """

    def __init__(self, start_ms: int = 1_735_689_600_000) -> None:
        self.now_s = start_ms / 1000
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now_s += seconds

    def monotonic(self) -> float:
        return self.now_s

    def now_ms(self) -> int:
        return int(self.now_s * 1000)

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


@dataclass
class Sent:
    """One request the transport saw, with the fake time it was sent at."""

    method: str
    path: str
    params: dict[str, list[str]]
    body: Any
    headers: httpx.Headers
    at_s: float


@dataclass
class Recorder:
    """Wraps a handler ``(request, body) -> httpx.Response`` and records every request."""

    handler: Callable[[httpx.Request, Any], httpx.Response]
    clock: FakeClock | None = None
    sent: list[Sent] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = msgspec.json.decode(request.content) if request.content else None
        params: dict[str, list[str]] = {}
        for key, value in request.url.params.multi_items():
            params.setdefault(key, []).append(value)
        self.sent.append(Sent(request.method, request.url.path, params, body, request.headers,
                              self.clock.now_s if self.clock else 0.0))
        return self.handler(request, body)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def to(self, path_suffix: str) -> list[Sent]:
        return [s for s in self.sent if s.path.endswith(path_suffix)]


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, content=msgspec.json.encode(body),
                          headers={"Content-Type": "application/json", **(headers or {})})


def hubspot_error_body(message: str, category: str = "VALIDATION_ERROR", **extra: Any) -> dict[str, Any]:
    return {"status": "error", "message": message, "correlationId": "c0ffee-1234", "category": category,
            **extra}
