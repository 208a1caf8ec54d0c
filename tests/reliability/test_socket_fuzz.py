"""Fuzzing the socket API (issue 7, invariant 8): random bytes, random JSON of random shapes and depth, and
every method in ``agent.methods`` with random params. Every framed request gets a JSON-RPC result or error
(never an internal error), nothing hangs, and the agent keeps answering ``agent.status``.

The agent runs in a thread with its own event loop, connected to an in-process HubSpot sandbox (so
``sync.run``, ``mappings.check`` and ``crm.connect`` reach a CRM); hypothesis drives it through plain
blocking sockets with a timeout, one connection per example. After each example the CRM connection is
restored if the example removed it. Examples are derandomized (the same 200 each run).
"""

from __future__ import annotations

import asyncio
import json
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.agent.daemon import Agent
from leadsync.common.errors import RpcCode
from tests.conftest import SANDBOX_TOKEN, SANDBOX_URL, make_sandbox

ANSWER_TIMEOUT_S = 60.0
SENTINEL = "__fuzz_sentinel__"


class ThreadedAgent:
    """An agent serving from a background thread's event loop."""

    def __init__(self, tmp: Path) -> None:
        self.state, app = make_sandbox(contacts=60)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="fuzzed-agent")
        self.thread.start()
        self.agent = Agent(tmp / "data", tmp / "agent.sock",
                           connector_options={"transport": httpx.ASGITransport(app=app),
                                              "rate_limit_per_10s": 100_000, "search_per_s": 1000.0})
        self.run(self.agent.start())
        self.methods = {name: m.params for name, m in self.agent.server.methods.items()}

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(ANSWER_TIMEOUT_S)

    def stop(self) -> None:
        self.run(self.agent.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[ThreadedAgent]:
    agent = ThreadedAgent(Path(tempfile.mkdtemp(prefix="lsf-")))
    exchange(agent, request("crm.connect", {"crm": "hubspot", "base_url": SANDBOX_URL,
                                            "credentials": {"token": SANDBOX_TOKEN}}))
    yield agent
    agent.stop()


def request(method: Any, params: Any = None, msg_id: Any = 1) -> bytes:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        body["params"] = params
    return json.dumps(body).encode()


def exchange(fuzzed: ThreadedAgent, frame: bytes) -> list[dict[str, Any]]:
    """Send ``frame`` then a sentinel ``agent.status`` on one connection; read answers (skipping event
    notifications) until the sentinel's and, when the frame has a usable id, the frame's have arrived."""
    try:
        decoded = msgspec.json.decode(frame)
    except (msgspec.DecodeError, RecursionError):
        decoded = None
    frame_id = decoded.get("id") if isinstance(decoded, dict) else None
    waiting = {json.dumps(SENTINEL)}
    if (isinstance(frame_id, str) or (isinstance(frame_id, int) and not isinstance(frame_id, bool))) \
            and frame_id != SENTINEL:
        waiting.add(json.dumps(frame_id))
    answers: list[dict[str, Any]] = []
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(ANSWER_TIMEOUT_S)
        conn.connect(str(fuzzed.agent.socket_path))
        conn.sendall(frame + b"\n" + request("agent.status", msg_id=SENTINEL) + b"\n")
        buffer = b""
        while waiting:
            chunk = conn.recv(1 << 20)
            assert chunk, f"the agent closed the connection; still waiting for {waiting}; got {answers}"
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                message = json.loads(line)
                if message.get("method") == "event" and "id" not in message:
                    continue
                answers.append(message)
                waiting.discard(json.dumps(message.get("id")))
    return answers


def check_answers(answers: list[dict[str, Any]]) -> None:
    for answer in answers:
        assert answer.get("jsonrpc") == "2.0", answer
        assert ("result" in answer) != ("error" in answer), answer
        if "error" in answer:
            error = answer["error"]
            assert isinstance(error["code"], int) and isinstance(error["message"], str) and error["message"]
            assert error["code"] != RpcCode.INTERNAL_ERROR, f"an unhandled exception: {answer}"
    sentinel = next(a for a in answers if a.get("id") == SENTINEL)
    assert "pid" in sentinel["result"]


def keep_connected(fuzzed: ThreadedAgent) -> None:
    status = exchange(fuzzed, request("crm.status"))
    if not next(a for a in status if a.get("id") == 1)["result"]["connected"]:
        exchange(fuzzed, request("crm.connect", {"crm": "hubspot", "base_url": SANDBOX_URL,
                                                 "credentials": {"token": SANDBOX_TOKEN}}))


# --- strategies ----------------------------------------------------------------------------------------

scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.integers(-3, 80)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=5), max_leaves=25)
deep = st.integers(1, 3000).map(lambda n: "[" * n + "]" * n) | st.integers(1, 3000).map(lambda n: '{"a":' * n
                                                                                        + "1" + "}" * n)
raw_bytes = st.binary(max_size=400).map(lambda b: b.replace(b"\n", b" "))
FIELD_NAMES = ["id", "ids", "email", "name", "fields", "filter", "limit", "after", "wait", "pull", "push", "crm",
               "credentials", "base_url", "as_user", "created_by", "contact_id", "choice", "score", "header",
               "rows", "local", "policy", "sync_interval_minutes", "push_enabled", "include", "title", "assignee"]


WORDS = ["hubspot", "local", "crm", "keep", "restore", "crm_wins", "local_wins", "company", "jobtitle", "lead",
         "hot", "warm", "synced", "error", "pending", "email", "first_name", "lead_score", "owner_id", "token",
         "http://sandbox.test", "not a url", "", " ", "\u0000", "x" * 2000, "ada@example.org", "ADA@EXAMPLE.ORG "]
texts = st.sampled_from(WORDS) | st.text(max_size=30) | st.emails()
CONTACT_FIELDS = ["email", "first_name", "last_name", "company", "job_title", "phone", "lifecycle_stage",
                  "lead_score", "owner_id", "street", "custom_field"]


def typed(info: Any) -> st.SearchStrategy[Any]:
    """Values of the type msgspec describes (``msgspec.inspect``), with random content: params that pass
    validation and reach the handlers."""
    kind = type(info)
    if kind is mi.IntType:
        return st.integers(-3, 80) | st.integers(-(2**63), 2**63 - 1)
    if kind is mi.FloatType:
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind is mi.StrType:
        return texts
    if kind is mi.BoolType:
        return st.booleans()
    if kind is mi.NoneType:
        return st.none()
    if kind is mi.LiteralType:
        return st.sampled_from(list(info.values))
    if kind is mi.ListType:
        return st.lists(typed(info.item_type), max_size=4)
    if kind is mi.DictType:
        return st.dictionaries(st.sampled_from(CONTACT_FIELDS) | texts, typed(info.value_type), max_size=4)
    if kind is mi.UnionType:
        return st.one_of(*(typed(t) for t in info.types))
    if kind is mi.StructType:
        fields = {f.encode_name: typed(f.type) for f in info.fields}
        required = {f.encode_name for f in info.fields if f.required}
        return st.fixed_dictionaries({k: v for k, v in fields.items() if k in required},
                                     optional={k: v for k, v in fields.items() if k not in required})
    return json_values


@st.composite
def method_calls(draw: st.DrawFn, methods: dict[str, Any]) -> bytes:
    """A request for a real method: params of the method's own shape (random content), or near misses."""
    method = draw(st.sampled_from(sorted(methods)))
    shape = draw(st.sampled_from(["typed", "typed", "names", "any"]))
    if shape == "typed":
        params: Any = draw(typed(mi.type_info(methods[method])))
    elif shape == "names":
        keys = draw(st.lists(st.sampled_from(FIELD_NAMES) | st.text(max_size=10), max_size=5, unique=True))
        params = {k: draw(json_values) for k in keys}
    else:
        params = draw(json_values)
    if method == "sync.run" and isinstance(params, dict):  # a full sync each time would only slow fuzzing
        params["wait"] = False
    msg_id = draw(st.integers(-(2**40), 2**40) | st.text(max_size=10))
    return request(method, params, msg_id)


@st.composite
def frames(draw: st.DrawFn, methods: dict[str, Any]) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "deep", "request", "method"]))
    if kind == "bytes":
        return draw(raw_bytes)
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "deep":
        return draw(deep).encode()
    if kind == "request":
        body = {k: draw(json_values) for k in draw(st.lists(st.sampled_from(["jsonrpc", "id", "method", "params"]),
                                                             unique=True))}
        if draw(st.booleans()):
            body["jsonrpc"] = "2.0"
        return json.dumps(body).encode()
    return draw(method_calls(methods))


def test_every_framed_request_gets_a_json_rpc_answer_and_the_agent_keeps_serving(fuzzed: ThreadedAgent) -> None:
    @settings(max_examples=200, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(frame=frames(fuzzed.methods))
    def one_frame(frame: bytes) -> None:
        check_answers(exchange(fuzzed, frame))
        keep_connected(fuzzed)

    one_frame()
    final = exchange(fuzzed, request("agent.status"))
    assert any(a.get("id") == 1 and a["result"]["pid"] for a in final)


def test_every_method_answers_calls_with_random_params(fuzzed: ThreadedAgent) -> None:
    """Each method several times, mostly with params of its own shape; crm.connect while disconnected."""
    def fuzz_method(method: str, params: Any) -> None:
        @settings(max_examples=8, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(frame=method_calls({method: params}))
        def call(frame: bytes) -> None:
            if method == "crm.connect":
                exchange(fuzzed, request("crm.disconnect"))
            check_answers(exchange(fuzzed, frame))
            keep_connected(fuzzed)

        call()

    for method, params in fuzzed.methods.items():
        fuzz_method(method, params)


credentials = (st.fixed_dictionaries({}, optional={key: texts for key in ("token", "client_id", "client_secret",
                                                                        "refresh_token")})
               | st.dictionaries(texts, texts, max_size=3))
urls = st.none() | texts | st.sampled_from(["http://[::1", "ftp://x", "http://", "https://", "http://sandbox.test",
                                            "http://sandbox.test/\u0000", "//sandbox.test", "sandbox.test"])


def test_crm_connect_with_random_credentials_and_urls_answers_with_a_crm_or_validation_error(
        fuzzed: ThreadedAgent) -> None:
    @settings(max_examples=40, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(creds=credentials, base_url=urls)
    def connect(creds: dict[str, str], base_url: str | None) -> None:
        exchange(fuzzed, request("crm.disconnect"))
        answers = exchange(fuzzed, request("crm.connect", {"crm": "hubspot", "credentials": creds,
                                                           "base_url": base_url}))
        check_answers(answers)
        keep_connected(fuzzed)

    connect()
