"""The socket API answers every kind of bad input with a JSON-RPC error and keeps serving."""

from __future__ import annotations

import asyncio
import os
import random
import stat

import msgspec
import pytest

from leadsync.agent.daemon import Agent
from leadsync.common.errors import RpcCode
from leadsync.common.rpc import MAX_FRAME_BYTES, RpcClient, RpcError


async def raw_exchange(agent: Agent, payload: bytes, *, read: bool = True) -> list[dict[str, object]]:
    reader, writer = await asyncio.open_unix_connection(str(agent.socket_path), limit=MAX_FRAME_BYTES * 4)
    writer.write(payload)
    await writer.drain()
    answers = []
    if read:
        try:
            while True:
                line = await asyncio.wait_for(reader.readline(), 2)
                if not line:
                    break
                answers.append(msgspec.json.decode(line))
                if payload.count(b"\n") <= len(answers):
                    break
        except TimeoutError:
            pass
    writer.close()
    return answers


async def assert_alive(agent: Agent) -> None:
    async with RpcClient(agent.socket_path) as client:
        status = await client.call("agent.status")
    assert status["pid"] == os.getpid()


async def test_socket_is_private_by_default(agent: Agent) -> None:
    assert stat.S_IMODE(agent.socket_path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"not json\n", RpcCode.PARSE_ERROR),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "agent.status"\n', RpcCode.PARSE_ERROR),
        (b'{"a": "\xff\xfe"}\n', RpcCode.PARSE_ERROR),
        (b"[" * 50_000 + b"]" * 50_000 + b"\n", RpcCode.PARSE_ERROR),
        (b"[1, 2]\n", RpcCode.INVALID_REQUEST),
        (b'{"jsonrpc": "1.0", "id": 1, "method": "agent.status"}\n', RpcCode.INVALID_REQUEST),
        (b'{"jsonrpc": "2.0", "id": {"x": 1}, "method": "agent.status"}\n', RpcCode.INVALID_REQUEST),
        (b'{"jsonrpc": "2.0", "id": 1, "method": 42}\n', RpcCode.INVALID_REQUEST),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "no.such"}\n', RpcCode.METHOD_NOT_FOUND),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "contacts.get", "params": [1]}\n', RpcCode.INVALID_PARAMS),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "contacts.get", "params": {"id": "x"}}\n', RpcCode.INVALID_PARAMS),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "contacts.get", "params": {"idd": 1}}\n', RpcCode.INVALID_PARAMS),
    ],
)
async def test_malformed_requests_get_standard_errors(agent: Agent, payload: bytes, code: int) -> None:
    answers = await raw_exchange(agent, payload)
    assert len(answers) == 1
    assert answers[0]["error"]["code"] == code  # type: ignore[index]
    await assert_alive(agent)


async def test_invalid_params_message_names_the_field(client: RpcClient) -> None:
    with pytest.raises(RpcError) as err:
        await client.call("contacts.get", {"id": "seven"})
    assert err.value.code == RpcCode.INVALID_PARAMS
    assert "id" in err.value.message


@pytest.mark.parametrize(("method", "params", "where"), [
    ("sync.undo", {"run": 2**63}, "$.run"),
    ("errors.retry", {"ids": [1, 10**23]}, "$.ids[1]"),
    ("contacts.get", {"id": -(2**63) - 1}, "$.id"),
])
async def test_an_integer_sqlite_cannot_hold_is_invalid_params_naming_it(client: RpcClient, method: str,
                                                                        params: dict[str, object], where: str) -> None:
    with pytest.raises(RpcError) as err:
        await client.call(method, params)
    assert err.value.code == RpcCode.INVALID_PARAMS
    assert f"`{where}` is outside the 64-bit integer range" in err.value.message


async def test_oversize_frame_is_refused_and_agent_survives(agent: Agent) -> None:
    payload = b'{"jsonrpc": "2.0", "id": 1, "method": "agent.status", "params": {"x": "' + b"a" * (
        MAX_FRAME_BYTES + 10) + b'"}}\n'
    answers = await raw_exchange(agent, payload)
    assert answers and answers[0]["error"]["code"] == RpcCode.INVALID_REQUEST  # type: ignore[index]
    await assert_alive(agent)


async def test_random_bytes_never_stop_the_agent(agent: Agent) -> None:
    rng = random.Random(1234)
    for _ in range(200):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        await raw_exchange(agent, blob + b"\n", read=False)
    await assert_alive(agent)


async def test_notification_without_id_gets_no_answer(agent: Agent) -> None:
    answers = await raw_exchange(agent, b'{"jsonrpc": "2.0", "method": "agent.status"}\n'
                                        b'{"jsonrpc": "2.0", "id": 9, "method": "agent.status"}\n')
    assert [a["id"] for a in answers] == [9]


async def test_a_second_agent_on_the_same_socket_or_store_is_refused(agent: Agent) -> None:
    from leadsync.agent.instance_lock import AgentAlreadyRunningError

    same_socket = Agent(agent.data_dir.parent / "other", agent.socket_path)
    with pytest.raises(AgentAlreadyRunningError, match="already listening"):
        await same_socket.start()
    same_store = Agent(agent.data_dir, agent.socket_path.parent / "other.sock")
    with pytest.raises(AgentAlreadyRunningError, match="using"):
        await same_store.start()
    await assert_alive(agent)  # the running agent keeps its socket
