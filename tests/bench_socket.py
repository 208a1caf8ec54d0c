"""The socket-abuse benchmark (``python -m tests.bench --only socket``): a well-behaved client's
``contacts.list`` latency (pages of 100, keyset, one call every 20 ms) on a ``leadsync agent`` process with
its default socket limits, first with nobody else on the socket, then while another process abuses it.

The abuse (``python -m tests.bench_socket abuse SOCKET --seconds S``, its own process so its CPU is not the
timed client's; timing starts 3 s after every pipelining client is held by the agent): every 2 s a burst of
1,000 clients connecting at once (each sends ``agent.status`` and reads one line); 50 slowloris clients
trickling a request a byte every 0.5 s (reconnecting when cut); 20 clients pipelining ``contacts.list`` and
never reading; 20 event subscribers that never read, with 20 contact edits a second so that events flow.
It prints its counts as JSON when done.

The abuser runs at ``nice 10``, so on a small machine its own CPU does not stand in for the agent's
behaviour; the idle calls are half before and half after the abuse, so a drifting background load evens out.

Figures: p50/p99 idle and under abuse, their ratio (the target: p99 under abuse within 2x idle), and the
abuser's counts (served, refused with an error, failed at connect; slowloris cuts; subscribers dropped),
and the agent's CPU share (CPU seconds per second) while abused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec

from leadsync.common.rpc import RpcClient
from tests.bench_procs import start_agent

SEED_CONTACTS = 20_000
PACE_S = 0.02
WARMUP_S = 3.0
BURST, BURST_EVERY_S = 1000, 2.0
SLOWLORIS, PIPELINERS, SUBSCRIBERS, EDITS_PER_S = 50, 20, 20, 20
PARTS = ("bursts", "slowloris", "pipeliners", "subscribers", "edits")
STATUS = b'{"jsonrpc": "2.0", "id": 1, "method": "agent.status"}\n'


def percentile(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def seed(client: RpcClient, count: int) -> None:
    """``count`` contacts owned by one user, imported 500 rows a call."""
    await client.call("users.create", {"email": "bench@corp.com", "name": "Bench"})
    header = ["Email", "First Name", "Last Name", "City"]
    for start in range(0, count, 500):
        rows = [[n + 2, [f"lead{n}@socket.example", "Ada", f"Lovelace{n}", "London"]]
                for n in range(start, min(count, start + 500))]
        report = await client.call("contacts.import", {"as_user": "bench@corp.com", "header": header, "rows": rows},
                                   timeout_s=300)
        if report["failed"]:
            raise RuntimeError(f"contacts.import refused rows: {report['failed'][:3]}")


async def paced_list(client: RpcClient, calls: int) -> list[float]:
    """Latencies (ms) of ``calls`` contacts.list pages, one call every ``PACE_S`` seconds."""
    latencies: list[float] = []
    after: int | None = None
    for _ in range(calls):
        started = time.perf_counter()
        page = await client.call("contacts.list", {"after": after, "limit": 100})
        elapsed = time.perf_counter() - started
        latencies.append(elapsed * 1000)
        after = page["next_after"]
        await asyncio.sleep(max(0.0, PACE_S - elapsed))
    return latencies


def summary(latencies: list[float]) -> dict[str, float]:
    return {"p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99), "max_ms": max(latencies),
            "mean_ms": statistics.fmean(latencies), "calls": len(latencies)}


async def socket_abuse_benchmark(work: Path, calls: int, parts: str = ",".join(PARTS)) -> dict[str, Any]:
    """Idle and abused contacts.list figures (see the module docstring) and the abuser's counts; ``parts``
    (comma-separated, of ``PARTS``) picks the kinds of abuse, to find which one costs the latency."""
    sock = work / "socket.sock"
    agent = start_agent(work / "socket-data", sock, work / "socket-agent.log")
    try:
        async with RpcClient(sock) as client:
            await seed(client, SEED_CONTACTS)
            await paced_list(client, 50)  # warm the store's cache
            idle = await paced_list(client, calls // 2)
            seconds = WARMUP_S + calls * PACE_S * 1.5 + 5
            abuser = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.bench_socket", "abuse", str(sock), "--seconds", str(seconds),
                "--parts", parts, stdout=asyncio.subprocess.PIPE)
            try:
                assert abuser.stdout is not None
                ready = await asyncio.wait_for(abuser.stdout.readline(), 60)
                if ready.strip() != b"ready":
                    raise RuntimeError(f"the abuser did not start: {ready!r}")
                before, started = agent.usage(), time.perf_counter()
                abused = await paced_list(client, calls)
                busy = (agent.usage().cpu_s - before.cpu_s) / (time.perf_counter() - started)
                out = (await asyncio.wait_for(abuser.stdout.read(), seconds + 60)).decode()
                await abuser.wait()
            finally:
                if abuser.returncode is None:
                    abuser.kill()
            idle += await paced_list(client, calls - calls // 2)  # idle before and after: drift evens out
        usage = agent.usage()
    finally:
        agent.stop()
    counts = json.loads(out.strip().splitlines()[-1])
    idle_s, abused_s = summary(idle), summary(abused)
    return {"contacts": SEED_CONTACTS, "idle": idle_s, "abused": abused_s,
            "p99_ratio": abused_s["p99_ms"] / idle_s["p99_ms"], "abuse": counts,
            "agent_peak_rss_mb": usage.peak_rss_mb, "agent_cpu_share_under_abuse": busy}


# -- the abuser (its own process) ---------------------------------------------------------------------


class Abuse:
    def __init__(self, path: str, seconds: float, *, parts: frozenset[str] = frozenset(PARTS)) -> None:
        self.path = path
        self.parts = parts
        self.deadline = time.monotonic() + seconds
        self.counts: Counter[str] = Counter()
        self.all_held = asyncio.Event()

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    async def one_of_a_burst(self) -> None:
        try:
            reader, writer = await asyncio.open_unix_connection(self.path)
        except OSError as exc:
            self.counts[f"burst_connect_failed_{type(exc).__name__}"] += 1
            return
        try:
            writer.write(STATUS)
            line = await asyncio.wait_for(reader.readline(), 30)
            answer = msgspec.json.decode(line) if line else {}
            self.counts["burst_served" if "result" in answer else "burst_refused" if "error" in answer
                        else "burst_no_answer"] += 1
        except (OSError, TimeoutError, msgspec.DecodeError) as exc:
            self.counts[f"burst_failed_{type(exc).__name__}"] += 1
        finally:
            writer.close()

    async def bursts(self) -> None:
        while self.running():
            started = time.monotonic()
            await asyncio.gather(*(self.one_of_a_burst() for _ in range(BURST)))
            self.counts["bursts"] += 1
            await asyncio.sleep(max(0.0, BURST_EVERY_S - (time.monotonic() - started)))

    async def slowloris(self) -> None:
        while self.running():
            try:
                reader, writer = await asyncio.open_unix_connection(self.path)
            except OSError:
                self.counts["slowloris_connect_failed"] += 1
                await asyncio.sleep(0.5)
                continue
            cut = asyncio.ensure_future(reader.readline())
            for byte in STATUS * 100:
                if cut.done() or not self.running():
                    break
                writer.write(bytes([byte]))
                await asyncio.wait([cut], timeout=0.5)
            if cut.done() and not cut.cancelled() and cut.exception() is None and b"-32052" in cut.result():
                self.counts["slowloris_cut_at_deadline"] += 1
            cut.cancel()
            writer.close()

    async def pipeliner(self) -> None:
        request = b'{"jsonrpc": "2.0", "id": 7, "method": "contacts.list", "params": {"limit": 100}}\n' * 50
        while self.running():
            try:
                _, writer = await asyncio.open_unix_connection(self.path)
                self.counts["pipeliners_connected"] += 1
                blocked = False
                while self.running():
                    writer.write(request)
                    if not blocked:  # held by the agent: it reads no more of what this client sends
                        blocked = not (await asyncio.wait([asyncio.ensure_future(writer.drain())], timeout=1))[0]
                        self.counts["pipeliners_held"] += blocked
                        if self.counts["pipeliners_held"] >= PIPELINERS:
                            self.all_held.set()
                    await asyncio.wait_for(writer.drain(), max(0.01, self.deadline - time.monotonic()))
            except (OSError, TimeoutError):
                pass

    async def subscriber(self) -> None:
        subscribe = b'{"jsonrpc": "2.0", "id": 1, "method": "events.subscribe"}\n'
        while self.running():
            try:
                reader, writer = await asyncio.open_unix_connection(self.path, limit=1 << 20)
                writer.write(subscribe)
                await reader.readline()
                self.counts["subscribers_connected"] += 1
                transport = writer.transport
                transport.pause_reading()  # never reads again; notices when the agent cuts it
                while self.running() and not transport.is_closing():
                    await asyncio.sleep(0.2)
                    writer.write(b"\n")  # a blank line (ignored by the agent) shows whether it is still open
                    await writer.drain()
            except (OSError, TimeoutError):
                self.counts["subscribers_dropped"] += 1

    async def edits(self) -> None:
        async with RpcClient(self.path) as client:
            contact = (await client.call("contacts.list", {"limit": 1}))["contacts"][0]["id"]
            n = 0
            while self.running():
                await client.call("contacts.update", {"id": contact, "fields": {"city": f"City {n % 7}"}})
                n += 1
                await asyncio.sleep(1 / EDITS_PER_S)
            self.counts["edits"] = n

    async def run(self) -> None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
        plan = {"edits": (self.edits, 1), "slowloris": (self.slowloris, SLOWLORIS),
                "pipeliners": (self.pipeliner, PIPELINERS), "subscribers": (self.subscriber, SUBSCRIBERS),
                "bursts": (self.bursts, 1)}
        tasks = [asyncio.create_task(make()) for part, (make, count) in plan.items() if part in self.parts
                 for _ in range(count)]
        if "pipeliners" in self.parts:  # until the standing abusers are in place (non-readers held)
            await asyncio.wait([asyncio.ensure_future(self.all_held.wait())], timeout=30)
        await asyncio.sleep(WARMUP_S)
        print("ready", flush=True)
        await asyncio.gather(*tasks, return_exceptions=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench_socket")
    sub = parser.add_subparsers(dest="command", required=True)
    abuse = sub.add_parser("abuse", help="abuse the agent socket for SECONDS, then print counts as JSON")
    abuse.add_argument("socket")
    abuse.add_argument("--seconds", type=float, default=20.0)
    abuse.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    args = parser.parse_args(argv)
    os.nice(10)  # the load generator's own CPU should not be what slows the agent on a small machine
    runner = Abuse(args.socket, args.seconds, parts=frozenset(args.parts.split(",")))
    asyncio.run(runner.run())
    print(json.dumps(dict(runner.counts)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
