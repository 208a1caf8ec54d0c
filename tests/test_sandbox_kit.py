"""The shared sandbox kit on its own, through a toy CRM built the way a new sandbox would build it:
fault-switch coercion from annotations, the middleware's hooks, the token book, counters, admin routes."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
import pytest
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from leadsync.agent.connectors.sandbox.admin import admin_routes, apply_oauth_switches
from leadsync.agent.connectors.sandbox.app import sandbox_app
from leadsync.agent.connectors.sandbox.clock import ManualClock
from leadsync.agent.connectors.sandbox.counters import RequestCounters
from leadsync.agent.connectors.sandbox.faults import FaultSwitches, ScriptedFault
from leadsync.agent.connectors.sandbox.middleware import (
    Call,
    ConnectionDropped,
    SandboxMiddleware,
    authorization,
    retry_after_text,
)
from leadsync.agent.connectors.sandbox.oauth import DEFAULT_CLIENT_ID, DEFAULT_REFRESH_TOKEN, TokenBook

TOKEN = "toy-token"


class ToyError(Exception):
    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.headers = {"X-Toy-Error": code}

    def body(self) -> dict[str, Any]:
        return {"code": self.code}


@dataclass
class ToyFaults(FaultSwitches):
    default_fault_status: ClassVar[int] = 503
    per_minute: int | None = 2
    page_sizes: list[int] | None = None
    strict: bool = False

    def coerce_other(self, name: str, value: Any) -> Any:
        if name == "page_sizes" and isinstance(value, list):
            return [int(v) for v in value]
        return super().coerce_other(name, value)


class ToyState(RequestCounters):
    def __init__(self, clock: ManualClock) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self._init_counters(100)

    def stats(self) -> dict[str, Any]:
        return {**self.counter_stats(), "rate_limited": self.rate_limited}


@dataclass(frozen=True)
class Toy:
    state: ToyState
    faults: ToyFaults
    oauth: TokenBook


class ToyMiddleware(SandboxMiddleware[Toy]):
    drop_body = b'{"data": ['

    def error_for(self, status: int) -> ToyError:
        return ToyError(status, f"E{status}")

    def is_write(self, call: Call) -> bool:
        return call.method == "POST"

    def authenticate(self, call: Call) -> ToyError | None:
        if call.path == "/public" or call.token == TOKEN:
            return None
        return None if call.token and self.sandbox.oauth.lookup(call.token)[0] == "valid" else ToyError(401, "AUTH")

    def quota_headers(self, call: Call) -> dict[str, str]:
        return {"X-Used": str(self.sandbox.state.status_counts[200])}

    def admit(self, call: Call) -> tuple[ToyError | None, dict[str, str]]:
        limit = self.sandbox.faults.per_minute
        used = self.sandbox.state.status_counts[200]
        if limit is not None and used >= limit:
            return ToyError(429, "LIMIT"), {"Retry-After": "60"}
        return None, {"X-Left": str(limit - used - 1 if limit is not None else -1)}


def _toy_error(status: int, code: str) -> ToyError:
    return ToyError(status, code)


async def _read_object(request: Request) -> dict[str, Any]:
    body = await request.json()
    if not isinstance(body, dict):
        raise ToyError(400, "NOT_AN_OBJECT")
    return body


def build(clock: ManualClock) -> tuple[Any, Toy]:
    toy = Toy(ToyState(clock), ToyFaults(), TokenBook(clock, rotate_refresh_tokens=True))

    async def things(request: Request) -> Response:
        return JSONResponse({"things": [1, 2, 3], "template": "/things/{id}"})

    async def oauth(request: Request) -> Response:
        apply_oauth_switches(toy.oauth, await _read_object(request), expire_switch="expire_tokens",
                             bad_input=lambda m: ToyError(400, m))
        return JSONResponse({"issued": toy.oauth.issued})

    async def on_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ToyError)
        return JSONResponse(exc.body(), status_code=exc.status)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"code": "NOT_FOUND"}, status_code=exc.status_code)

    routes: list[BaseRoute] = [
        *admin_routes(toy.state, toy.faults, read_object=_read_object,
                      bad_input=lambda m: ToyError(400, m), conflict=lambda m: ToyError(409, m),
                      extra_stats=lambda: {"toy": True}),
        Route("/__sandbox/oauth", oauth, methods=["POST"]),
        Route("/things/{id}", things, methods=["GET", "POST"]),
        Route("/public", things, methods=["GET"]),
    ]
    app = sandbox_app(routes, toy, middleware=Middleware(ToyMiddleware, sandbox=toy, routes=routes),
                      exception_handlers={ToyError: on_error, HTTPException: on_http})
    return app, toy


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def toy_app(clock: ManualClock) -> tuple[httpx.AsyncClient, Toy]:
    app, toy = build(clock)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://toy",
                               headers={"Authorization": f"Bearer {TOKEN}"})
    return client, toy


# -- fault switches ---------------------------------------------------------------------------------


def test_switches_are_checked_against_their_annotations() -> None:
    faults = ToyFaults()
    faults.update({"per_minute": None, "error_5xx_rate": 1, "latency_ms": 2.9, "strict": True, "page_sizes": ["5"]})
    assert (faults.per_minute, faults.error_5xx_rate, faults.latency_ms, faults.strict) == (None, 1.0, 2, True)
    assert isinstance(faults.error_5xx_rate, float) and faults.page_sizes == [5]
    for bad in ({"latency_ms": None}, {"strict": 1}, {"latency_ms": True}, {"latency_ms": "3"}, {"nope": 1},
                {"page_sizes": "x"}, {"fail_next": [{"status": 500}]}):
        with pytest.raises(ValueError):
            faults.update(bad)


def test_fail_next_uses_the_sandbox_default_status_and_matches_templates() -> None:
    faults = ToyFaults()
    faults.update({"fail_next": {"route": "/things/{id}"}})
    assert faults.scripted[0].status == 503
    assert faults.take_scripted("GET", "/things/1") is None  # no template given: the glob does not match
    taken = faults.take_scripted("get", "/things/1", "/things/{id}")
    assert taken is not None and faults.scripted == []
    assert ScriptedFault("/things/*", "POST").matches("POST", "/things/9")
    assert not ScriptedFault("/things/*", "POST").matches("GET", "/things/9")
    assert faults.to_dict()["per_minute"] == 2 and faults.to_dict()["scripted"] == []


def test_the_seed_makes_random_faults_reproducible() -> None:
    first, second = ToyFaults(seed=7), ToyFaults()
    second.update({"seed": 7})
    assert [first.roll(0.5) for _ in range(20)] == [second.roll(0.5) for _ in range(20)]
    assert not first.roll(0.0)


# -- middleware -------------------------------------------------------------------------------------


def test_authorization_header_parsing() -> None:
    def scope(value: bytes) -> dict[str, Any]:
        return {"headers": [(b"authorization", value)]}

    assert authorization(scope(b"Bearer  abc ")) == "abc"
    assert authorization(scope(b"OAuth abc")) is None
    assert authorization(scope(b"OAuth abc"), ("bearer", "oauth")) == "abc"
    assert authorization({"headers": []}) is None
    assert (retry_after_text(2.0), retry_after_text(0.5)) == ("2", "0.5")


async def test_auth_limits_and_headers_come_from_the_hooks(toy_app: tuple[httpx.AsyncClient, Toy]) -> None:
    client, toy = toy_app
    refused = await client.get("/things/1", headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 401 and refused.json() == {"code": "AUTH"}
    assert refused.headers["X-Toy-Error"] == "AUTH" and refused.headers["X-Used"] == "0"
    assert (await client.get("/public", headers={"Authorization": ""})).status_code == 200
    answer = await client.post("/things/1", json={"a": 1})
    assert answer.status_code == 200 and answer.headers["X-Left"] == "0"
    limited = await client.get("/things/2")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
    assert toy.state.write_requests == 1 and toy.state.rate_limited == 1
    assert [(r.path, r.status, r.body) for r in toy.state.request_log] == [
        ("/things/1", 401, None), ("/public", 200, None), ("/things/1", 200, {"a": 1}), ("/things/2", 429, None)]


async def test_scripted_and_random_faults(toy_app: tuple[httpx.AsyncClient, Toy]) -> None:
    client, toy = toy_app
    toy.faults.per_minute = None
    toy.faults.fail_next("/things/{id}", "GET", 418, retry_after=1.5)
    toy.faults.fail_next("/things/*", "GET", 409, body={"custom": True})
    teapot = await client.get("/things/1")
    assert teapot.status_code == 418 and teapot.json() == {"code": "E418"} and teapot.headers["Retry-After"] == "1.5"
    custom = await client.get("/things/1")
    assert custom.status_code == 409 and custom.json() == {"custom": True}
    toy.faults.error_429_rate = 1.0
    random_429 = await client.get("/things/1")
    assert random_429.status_code == 429 and random_429.headers["Retry-After"] == "1"
    toy.faults.error_429_rate, toy.faults.error_5xx_rate, toy.faults.error_5xx_status = 0.0, 1.0, 502
    assert (await client.get("/things/1")).status_code == 502
    toy.faults.error_5xx_rate = 0.0
    toy.faults.fail_next("/things/1", status=0)
    with pytest.raises(ConnectionDropped):
        await client.get("/things/1")
    assert toy.state.request_log[-1].status == 0


async def test_admin_paths_skip_the_middleware_and_the_shared_admin_routes(
    toy_app: tuple[httpx.AsyncClient, Toy], clock: ManualClock
) -> None:
    client, toy = toy_app
    toy.faults.error_5xx_rate = 1.0
    switches = await client.post("/__sandbox/faults", json={"latency_ms": 0, "error_5xx_rate": 0})
    assert switches.status_code == 200 and switches.json()["error_5xx_rate"] == 0.0
    assert (await client.post("/__sandbox/faults", json={"nope": 1})).json() == {"code": "unknown fault switch 'nope'"}
    moved = await client.post("/__sandbox/clock", json={"advance_ms": 5})
    assert moved.json() == {"now_ms": clock()} and clock() == 1_735_689_600_005
    await client.get("/public")
    stats = (await client.get("/__sandbox/stats")).json()
    assert stats["requests_total"] == 1 and stats["toy"] is True and stats["status_counts"] == {"200": 1}
    assert (await client.post("/__sandbox/stats/reset")).json()["requests_total"] == 0


async def test_the_clock_endpoint_needs_a_manual_clock() -> None:
    app, toy = build(ManualClock())
    toy.state.clock = lambda: 0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://toy") as client:
        answer = await client.post("/__sandbox/clock", json={"advance_ms": 1})
    assert answer.status_code == 409


# -- OAuth token book -------------------------------------------------------------------------------


def test_token_book_grants_rotates_expires_and_revokes(clock: ManualClock) -> None:
    book = TokenBook(clock, rotate_refresh_tokens=True)
    assert book.check_client(DEFAULT_CLIENT_ID, None) == "ok"
    assert book.check_client(DEFAULT_CLIENT_ID, "wrong") == "bad_secret"
    assert book.check_client("other", "x") == "unknown_client"
    grant = book.grant(DEFAULT_CLIENT_ID, DEFAULT_REFRESH_TOKEN, lifetime_s=60)
    assert grant is not None and grant.refresh_token is not None and grant.expires_ms == clock() + 60_000
    assert book.grant(DEFAULT_CLIENT_ID, DEFAULT_REFRESH_TOKEN, 60) is None  # spent by rotation
    assert book.grant("other", grant.refresh_token, 60) is None  # another client's
    assert (book.issued, book.refused) == (1, 2)
    assert book.lookup(grant.access_token)[0] == "valid" and book.lookup("nope") == ("unknown", None)
    clock.advance(60_000)
    assert book.lookup(grant.access_token)[0] == "expired"
    book.rotate_refresh_tokens = False
    again = book.grant(DEFAULT_CLIENT_ID, grant.refresh_token, 60)
    assert again is not None and again.refresh_token is None
    book.expire_access_tokens()
    assert book.lookup(again.access_token)[0] == "expired"
    book.revoke_refresh_tokens()
    assert book.grant(DEFAULT_CLIENT_ID, grant.refresh_token, 60) is None and not book.access_tokens


async def test_oauth_admin_switches(toy_app: tuple[httpx.AsyncClient, Toy]) -> None:
    client, toy = toy_app
    answer = await client.post("/__sandbox/oauth", json={"add_refresh_token": "rt-2", "rotate_refresh_tokens": False})
    assert answer.status_code == 200 and toy.oauth.refresh_tokens["rt-2"] == (DEFAULT_CLIENT_ID, "")
    assert not toy.oauth.rotate_refresh_tokens
    assert (await client.post("/__sandbox/oauth", json={"expire_sessions": True})).status_code == 400
    grant = toy.oauth.grant(DEFAULT_CLIENT_ID, "rt-2", 60)
    assert grant is not None
    assert (await client.get("/things/1", headers={"Authorization": f"Bearer {grant.access_token}"})).status_code == 200
    await client.post("/__sandbox/oauth", json={"expire_tokens": True, "revoke_refresh_tokens": True})
    assert (await client.get("/things/1", headers={"Authorization": f"Bearer {grant.access_token}"})).status_code == 401
    assert toy.oauth.refresh_tokens == {}
