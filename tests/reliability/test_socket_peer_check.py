"""Who may use the agent's socket: SO_PEERCRED checked against the allowed users and groups (issue 7)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
from pathlib import Path

import pytest

from leadsync.agent.daemon import Agent
from leadsync.agent.rpc_server import PeerAuthorizer, PeerCredentials, resolve_group, resolve_user
from leadsync.common.errors import RpcCode
from leadsync.common.rpc import RpcClient, RpcError
from tests.reliability.conftest import AgentProcess


async def test_a_uid_outside_the_allow_list_gets_a_clear_error_and_the_connection_closes(short_tmp: Path) -> None:
    someone_else = PeerAuthorizer(uids={os.getuid() + 4242})  # excludes the uid running this test
    agent = Agent(short_tmp / "data", short_tmp / "agent.sock", authorize=someone_else)
    await agent.start()
    try:
        reader, writer = await asyncio.open_unix_connection(str(agent.socket_path))
        writer.write(b'{"jsonrpc": "2.0", "id": 1, "method": "agent.status"}\n')
        refusal = json.loads(await asyncio.wait_for(reader.readline(), 5))
        closed = await asyncio.wait_for(reader.read(), 5)
        writer.close()

        async with RpcClient(agent.socket_path) as client:
            with pytest.raises(RpcError) as caught:
                await client.call("agent.status")
    finally:
        await agent.stop()

    assert refusal["id"] is None and refusal["error"]["code"] == RpcCode.PERMISSION_DENIED
    assert f"uid {os.getuid()}" in refusal["error"]["message"] and "--allow-user" in refusal["error"]["message"]
    assert closed == b""  # nothing else was answered: the connection is closed
    assert caught.value.code == RpcCode.PERMISSION_DENIED  # the client library says why, not "connection closed"


async def test_the_agents_own_user_is_allowed_by_default(short_tmp: Path) -> None:
    agent = Agent(short_tmp / "data", short_tmp / "agent.sock", authorize=PeerAuthorizer.default())
    await agent.start()
    try:
        async with RpcClient(agent.socket_path) as client:
            status = await client.call("agent.status")
    finally:
        await agent.stop()
    assert status["pid"] == os.getpid()


async def test_a_member_of_an_allowed_group_is_let_in(short_tmp: Path) -> None:
    by_group = PeerAuthorizer(uids=(), gids={os.getgid()})
    agent = Agent(short_tmp / "data", short_tmp / "agent.sock", authorize=by_group)
    await agent.start()
    try:
        async with RpcClient(agent.socket_path) as client:
            assert (await client.call("agent.status"))["pid"] == os.getpid()
    finally:
        await agent.stop()


def test_supplementary_groups_count_as_membership() -> None:
    peer = PeerCredentials(pid=1, uid=5000, gid=5000, groups=frozenset({5000, 777}))
    assert PeerAuthorizer(uids=(), gids={777}).allows(peer)
    assert not PeerAuthorizer(uids={0}, gids={778}).allows(peer)


def test_default_allows_own_user_root_and_named_users_and_groups() -> None:
    authorizer = PeerAuthorizer.default(["root", "12345"], ["0"])
    assert {os.getuid(), 0, 12345} <= authorizer.uids and authorizer.gids == {0}
    with pytest.raises(ValueError, match="no user named"):
        resolve_user("no-such-user-leadsync")
    with pytest.raises(ValueError, match="no group named"):
        resolve_group("no-such-group-leadsync")


def test_agent_cli_refuses_an_unknown_allowed_user(tmp_path: Path) -> None:
    from leadsync.agent.cli import main

    assert main(["agent", "--data-dir", str(tmp_path), "--socket", str(tmp_path / "s.sock"),
                 "--allow-user", "no-such-user-leadsync"]) == 2


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another uid")
def test_a_real_process_of_another_user_is_refused_by_the_agent_process(short_tmp: Path) -> None:
    """The socket's file mode lets everyone connect (0666) so that only the peer check stands in the way."""
    short_tmp.chmod(0o755)
    agent = AgentProcess(short_tmp / "data", short_tmp / "agent.sock", short_tmp / "agent.log",
                         args=["--socket-mode", "666", "--allow-user", "daemon"])
    try:
        agent.wait_ready()
        assert stat.S_IMODE((short_tmp / "agent.sock").stat().st_mode) == 0o666
        answers = {uid: _ask_as(uid, short_tmp / "agent.sock") for uid in (65534, resolve_user("daemon"))}
    finally:
        agent.terminate()
    nobody, daemon = answers[65534], answers[resolve_user("daemon")]
    assert nobody["error"]["code"] == RpcCode.PERMISSION_DENIED and "uid 65534" in nobody["error"]["message"]
    assert daemon["result"]["pid"] == agent.pid
    assert "refused a connection from uid 65534" in agent.log_path.read_text()


def _ask_as(uid: int, sock: Path) -> dict[str, object]:
    """Fork, become ``uid``, ask agent.status on ``sock`` and hand back the first answer."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read_end)
            os.setgid(uid)
            os.setgroups([])
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX) as conn:
                conn.settimeout(10)
                conn.connect(str(sock))
                conn.sendall(b'{"jsonrpc": "2.0", "id": 7, "method": "agent.status"}\n')
                data = b""
                while not data.endswith(b"\n"):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            os.write(write_end, data)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    answer: dict[str, object] = json.loads(data)
    return answer
