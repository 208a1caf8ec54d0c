"""The socket under load and abuse (issue 16): a burst of 1,000 clients, the connection cap, the idle timeout,
the request-line deadline (slowloris), a pipelining client that never reads, an event subscriber that never
reads. Each against an in-process agent on a temp socket with short limits."""

from __future__ import annotations

import asyncio
import resource
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from leadsync.agent.daemon import Agent
from leadsync.agent.rpc_fairness import FairGate
from leadsync.agent.rpc_limits import SocketLimits, parse_limits
from leadsync.agent.rpc_session import READ_CHUNK, Session
from leadsync.common.errors import RpcCode
from leadsync.common.rpc import RpcClient
from tests.waiting import eventually

STATUS = b'{"jsonrpc": "2.0", "id": 1, "method": "agent.status"}\n'
BURST = 1000


async def start_agent(short_tmp: Path, **limits: Any) -> Agent:
    agent = Agent(short_tmp / "data", short_tmp / "agent.sock", socket_limits=SocketLimits(**limits))
    await agent.start()
    return agent


@pytest.fixture
def open_files_for_a_burst() -> Iterator[None]:
    """Room for a burst's client and server ends in this one process; skipped when the hard limit is lower."""
    need = 2 * BURST + 512
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        yield
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {need}: too low for a burst of {BURST} clients")
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def first_line(reader: asyncio.StreamReader) -> dict[str, Any]:
    line = await asyncio.wait_for(reader.readline(), 30)
    assert line, "the agent closed the connection without a line"
    answer: dict[str, Any] = msgspec.json.decode(line)
    return answer


async def burst(path: Path, clients: int) -> list[dict[str, Any] | BaseException]:
    """``clients`` connections opened at once, each sending agent.status; each keeps its connection open
    until every client has its first line (so the served ones are open together)."""
    everyone_answered = asyncio.Event()
    answered = 0

    def arrived() -> None:
        nonlocal answered
        answered += 1
        if answered == clients:
            everyone_answered.set()

    async def one() -> dict[str, Any]:
        try:
            reader, writer = await asyncio.open_unix_connection(str(path))
        except OSError:
            arrived()
            raise
        try:
            writer.write(STATUS)
            try:
                answer = await first_line(reader)
            finally:
                arrived()
            await asyncio.wait_for(everyone_answered.wait(), 60)
            return answer
        finally:
            writer.close()

    return await asyncio.gather(*(one() for _ in range(clients)), return_exceptions=True)


@pytest.mark.usefixtures("open_files_for_a_burst")
async def test_a_burst_of_1000_clients_connecting_at_once_is_served(short_tmp: Path) -> None:
    agent = await start_agent(short_tmp, max_connections=BURST + 10)
    try:
        answers = await burst(agent.socket_path, BURST)
    finally:
        await agent.stop()
    failures = [a for a in answers if isinstance(a, BaseException) or "result" not in a]
    assert not failures, f"{len(failures)} of {BURST} not served, e.g. {failures[:3]}"


@pytest.mark.usefixtures("open_files_for_a_burst")
async def test_clients_beyond_the_cap_get_one_error_each_and_are_closed(short_tmp: Path) -> None:
    agent = await start_agent(short_tmp, max_connections=100)
    try:
        answers = await burst(agent.socket_path, BURST)
        await eventually(lambda: agent.server.listener.open == 0, what="the burst's connections to close")
        async with RpcClient(agent.socket_path) as client:  # the cap frees up once they have gone
            after = await client.call("agent.status")
    finally:
        await agent.stop()
    errors = [a for a in answers if isinstance(a, BaseException)]
    assert not errors, f"{len(errors)} clients failed (e.g. EAGAIN) instead of an answer: {errors[:3]}"
    served = [a for a in answers if isinstance(a, dict) and "result" in a]
    refused = [a for a in answers if isinstance(a, dict) and "error" in a]
    assert len(served) == 100 and len(refused) == BURST - 100
    assert {(r["id"], r["error"]["code"], r["error"]["message"]) for r in refused} == {
        (None, RpcCode.TOO_MANY_CONNECTIONS, "too many connections (cap 100); try again later")}
    assert agent.server.listener.refused == BURST - 100
    assert after["pid"] > 0


async def test_a_burst_is_taken_from_the_backlog_at_the_accept_rate_and_all_served(short_tmp: Path) -> None:
    """40 clients at once with ``accept_per_s=40``: five batches of 8, a 0.2 s pause after each full one, so
    taking them all cannot be quicker than 0.8 s; every client waits in the backlog and is served."""
    agent = await start_agent(short_tmp, accept_per_s=40)
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        answers = await burst(agent.socket_path, 40)
        elapsed = loop.time() - started
    finally:
        await agent.stop()
    failures = [a for a in answers if isinstance(a, BaseException) or "result" not in a]
    assert not failures, f"{len(failures)} of 40 not served, e.g. {failures[:3]}"
    assert elapsed >= 0.8, f"the burst was taken in {elapsed:.2f} s: faster than 40 a second"


async def test_a_refused_client_is_told_why_by_the_client_library(short_tmp: Path) -> None:
    agent = await start_agent(short_tmp, max_connections=1)
    try:
        async with RpcClient(agent.socket_path) as first:
            await first.call("agent.status")
            async with RpcClient(agent.socket_path) as second:
                with pytest.raises(Exception) as caught:
                    await second.call("agent.status")
    finally:
        await agent.stop()
    assert getattr(caught.value, "code", None) == RpcCode.TOO_MANY_CONNECTIONS


async def test_an_idle_connection_is_closed_with_a_notice_but_a_subscriber_is_not(short_tmp: Path) -> None:
    agent = await start_agent(short_tmp, idle_timeout_s=0.2)
    try:
        sub_reader, sub_writer = await asyncio.open_unix_connection(str(agent.socket_path))
        sub_writer.write(b'{"jsonrpc": "2.0", "id": 1, "method": "events.subscribe"}\n')
        assert (await first_line(sub_reader))["result"] == {"subscribed": True}

        reader, writer = await asyncio.open_unix_connection(str(agent.socket_path))
        notice = await first_line(reader)  # nothing sent: closed after 0.2 s
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()

        sub_writer.write(STATUS)  # idle as long, but subscribed: still served
        assert "result" in await first_line(sub_reader)
        sub_writer.close()

        async with RpcClient(agent.socket_path) as client:  # the client library connects again on its own
            await client.call("agent.status")
            await eventually(lambda: not agent.server.sessions, what="the idle client to be closed")
            again = await client.call("agent.status")
    finally:
        await agent.stop()
    assert notice["id"] is None and notice["error"]["code"] == RpcCode.IDLE_TIMEOUT
    assert notice["error"]["message"] == "no request for 0.2 s; connection closed (connect again)"
    assert again["pid"] > 0


async def test_a_request_line_trickled_in_is_cut_at_its_deadline(short_tmp: Path) -> None:
    agent = await start_agent(short_tmp, request_deadline_s=0.3, idle_timeout_s=60)
    request = STATUS * 4  # more bytes than the trickle can send before the deadline
    try:
        reader, writer = await asyncio.open_unix_connection(str(agent.socket_path))

        async def trickle() -> int:
            sent = 0
            for byte in request:
                writer.write(bytes([byte]))
                sent += 1
                await asyncio.sleep(0.02)  # the slowloris' pace: far below the deadline between bytes
            return sent

        trickling = asyncio.create_task(trickle())
        notice = await first_line(reader)
        trickling.cancel()
        async with RpcClient(agent.socket_path) as client:
            alive = await client.call("agent.status")
    finally:
        await agent.stop()
    assert notice["id"] is None and notice["error"]["code"] == RpcCode.REQUEST_TIMEOUT
    assert "not complete 0.3 s after its first byte" in notice["error"]["message"]
    assert alive["pid"] > 0


async def test_a_client_that_pipelines_and_never_reads_holds_bounded_memory(short_tmp: Path) -> None:
    in_flight, high_water = 4, 16 * 1024
    agent = await start_agent(short_tmp, max_in_flight=in_flight, write_buffer_bytes=high_water)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(agent.socket_path))
        sock.setblocking(False)
        payload = STATUS * 200
        sent = 0

        def push_until_blocked_and_held() -> bool:
            nonlocal sent
            try:
                while True:
                    sent += sock.send(payload)
            except BlockingIOError:
                pass
            sessions = list(agent.server.sessions)
            return bool(sessions) and sessions[0].in_flight == in_flight

        await eventually(push_until_blocked_and_held, what="the agent to stop reading the pipelining client")
        session: Session = next(iter(agent.server.sessions))
        held, started = session.buffered_bytes, session.requests
        async with RpcClient(agent.socket_path) as other:
            alive = await other.call("agent.status")
    finally:
        sock.close()
        await agent.stop()
    # the agent holds a bounded part of what the client pushed: the request bytes of one read, the answers
    # up to the high-water mark plus one, and ``in_flight`` requests; the rest waits in the client's socket
    assert held <= READ_CHUNK + len(payload) + high_water + 4096, held
    assert sent > 4 * (READ_CHUNK + high_water)
    assert started * len(STATUS) < sent  # far from every request sent was started
    assert alive["pid"] > 0


@pytest.fixture
async def subscribed_socket(short_tmp: Path) -> AsyncIterator[tuple[Agent, socket.socket]]:
    agent = await start_agent(short_tmp, event_buffer=20, write_buffer_bytes=4096, close_grace_s=10)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(agent.socket_path))
    sock.sendall(b'{"jsonrpc": "2.0", "id": 1, "method": "events.subscribe"}\n')
    sock.settimeout(5)
    assert b'"subscribed":true' in await asyncio.to_thread(sock.recv, 4096)
    try:
        yield agent, sock
    finally:
        sock.close()
        await agent.stop()


async def test_an_event_subscriber_that_never_reads_is_dropped_with_a_final_notice(
        subscribed_socket: tuple[Agent, socket.socket]) -> None:
    agent, sock = subscribed_socket
    session = next(iter(agent.server.sessions))
    padding = "x" * 8000
    emitted = 0
    while not session.closed and emitted < 100_000:
        agent.emit({"type": "test", "n": emitted, "padding": padding})
        emitted += 1
        await asyncio.sleep(0)  # lets the event pump write what the socket takes
    assert session.closed
    lines = await asyncio.to_thread(read_to_eof, sock)
    await eventually(lambda: session not in agent.server.sessions, what="the dropped subscriber to be gone")
    async with RpcClient(agent.socket_path) as client:
        alive = await client.call("agent.status")
    notice = msgspec.json.decode(lines[-1])
    assert notice["id"] is None and notice["error"]["code"] == RpcCode.SLOW_READER
    assert "event subscription is dropped" in notice["error"]["message"]
    events = [msgspec.json.decode(line)["params"]["n"] for line in lines[:-1]]
    assert events == list(range(len(events)))  # what it got, it got in order; then the notice
    assert emitted < 1000  # dropped once its buffers filled, not kept
    assert alive["pid"] > 0


def read_to_eof(sock: socket.socket) -> list[bytes]:
    data = bytearray()
    while chunk := sock.recv(1 << 16):
        data += chunk
    return bytes(data).splitlines()


def test_limits_are_parsed_from_name_value_pairs_and_checked() -> None:
    limits = parse_limits(["max_connections=512", "idle_timeout_s=1.5"])
    assert (limits.max_connections, limits.idle_timeout_s, limits.backlog) == (512, 1.5, SocketLimits().backlog)
    with pytest.raises(ValueError, match="max_conections"):
        parse_limits(["max_conections=5"])
    with pytest.raises(ValueError, match="above 0"):
        parse_limits(["max_in_flight=0"])
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_limits(["max_connections"])


async def test_the_work_gate_lets_client_processes_in_round_robin() -> None:
    gate = FairGate(width=1, hold_s=10)
    started: list[str] = []
    go = asyncio.Event()

    async def job(name: str) -> None:
        started.append(name)
        await go.wait()

    crowd = [asyncio.create_task(gate.run("pid A", job(f"A{n}"))) for n in range(10)]
    await asyncio.sleep(0)  # the crowd queues first (A0 at work) ...
    other = asyncio.create_task(gate.run("pid B", job("B0")))  # ... then one request of another process
    await asyncio.sleep(0)
    assert started == ["A0"] and gate.waiting == 10
    go.set()
    await asyncio.gather(*crowd, other)
    assert started.index("B0") <= 2, started  # after the one at work and one more of A's, not after all ten


async def test_a_request_that_waits_long_does_not_hold_the_gate() -> None:
    gate = FairGate(width=1, hold_s=0.01)
    release = asyncio.Event()

    async def waits() -> None:
        await release.wait()

    async def quick() -> None:
        pass

    waiting = asyncio.create_task(gate.run("pid A", waits()))
    await asyncio.sleep(0)
    await asyncio.wait_for(gate.run("pid B", quick()), 5)  # starts while the first still waits
    assert not waiting.done()
    release.set()
    await waiting
    assert gate.busy == 0 and gate.waiting == 0


async def test_a_request_cancelled_at_work_gives_its_place_back() -> None:
    gate = FairGate(width=1, hold_s=10)
    at_work = asyncio.Event()

    async def hangs() -> None:
        at_work.set()
        await asyncio.Event().wait()

    async def quick() -> None:
        pass

    stuck = asyncio.create_task(gate.run("pid A", hangs()))
    await at_work.wait()
    queued = asyncio.create_task(gate.run("pid B", quick()))
    await asyncio.sleep(0)
    assert gate.busy == 1 and gate.waiting == 1
    stuck.cancel()
    await asyncio.wait_for(queued, 5)  # let in once the cancelled one left
    assert stuck.cancelled() and gate.busy == 0 and gate.waiting == 0


OUT_OF_FILES_SERVER = """
import asyncio, resource, sys
from pathlib import Path
from leadsync.agent.rpc_limits import SocketLimits
from leadsync.agent.rpc_server import Method, NoParams, RpcServer

async def ping(params, session):
    return {"ok": True}

async def main():
    server = RpcServer({"ping": Method("ping", NoParams, ping, "")}, limits=SocketLimits(max_connections=500))
    await server.start(Path(sys.argv[1]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (100, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    print("ready", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_out_of_file_descriptors_clients_are_served_later_or_told_never_left_hanging(short_tmp: Path) -> None:
    import sys

    path = short_tmp / "tight.sock"
    server = await asyncio.create_subprocess_exec(sys.executable, "-c", OUT_OF_FILES_SERVER, str(path),
                                                  stdout=asyncio.subprocess.PIPE)
    outcomes: list[str] = []

    async def one() -> None:
        try:
            reader, writer = await asyncio.open_unix_connection(str(path))
            writer.write(b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}\n')
            answer = await first_line(reader)
            outcomes.append("served" if "result" in answer else str(answer["error"]["message"]))
            await asyncio.sleep(0.3)  # holds its descriptor in the agent a while, as a real client would
            writer.close()
        except OSError as exc:
            outcomes.append(repr(exc))

    try:
        assert server.stdout is not None
        assert await asyncio.wait_for(server.stdout.readline(), 30) == b"ready\n"
        await asyncio.gather(*(one() for _ in range(300)))
    finally:
        server.kill()
        await server.wait()
    told = [o for o in outcomes if o.startswith("the agent has run out of open files (limit 100)")]
    assert len(outcomes) == 300 and outcomes.count("served") + len(told) == 300, set(outcomes)
    assert told  # the reserve descriptor was spent on telling some why
    assert outcomes.count("served") > 100  # more than the limit: the later ones were served as others left
