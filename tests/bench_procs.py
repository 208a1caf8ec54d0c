"""The processes the benchmark runs (sandbox CRM, agent) and how it reads their CPU time and memory.

Child entry points, ``python -m tests.bench_procs KIND ...``:

``sandbox --port 0 --contacts N [--seed S]``
    ``leadsync sandbox`` exactly (the same ``serve.serve``). In older trees, whose ``serve._bind``
    created the listening socket with protocol 0 (so asyncio did not set ``TCP_NODELAY`` on accepted
    connections, and every answer on a kept-alive connection waited about 40 ms for the client's
    delayed ACK), it adds ``TCP_NODELAY``; the sandbox kit's ``bind`` now asks for ``IPPROTO_TCP``
    itself, so there both are the same.
``agent --data-dir D --socket S [--rate-limit-per-10s N] [--search-per-s N]``
    ``leadsync agent`` exactly (same Agent, same start and stop), except that ``connector_options``
    reach the HubSpot connector. The benchmark uses it only when ``registry.make_connector`` does not
    read ``LEADSYNC_HUBSPOT_RATE_LIMIT_PER_10S`` (older trees): HubSpot's default (100 requests per
    10 s) would make an unlimited sandbox as slow as the real CRM. ``0`` means "no limit".

Parent side: :class:`Child` starts one of them (or ``leadsync ...`` itself) and reads its CPU time
(``/proc/PID/stat`` utime + stime, every thread) and peak RSS (``/proc/PID/status`` VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

UNLIMITED = 1_000_000_000
"""Requests per period that stand for "no limit" (the connector's leaky bucket needs a positive rate)."""
ROOT = Path(__file__).resolve().parent.parent
_TICKS = os.sysconf("SC_CLK_TCK")


# -- parent side ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Usage:
    """A process's CPU seconds (user + system, all threads), peak resident set (MB) so far and resident
    set now (MB)."""

    cpu_s: float
    peak_rss_mb: float
    rss_mb: float = 0.0


def usage(pid: int) -> Usage:
    """Read ``/proc/PID/stat`` (utime, stime) and ``/proc/PID/status`` (VmHWM, VmRSS) of a live process."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS  # fields 14 and 15 of proc(5), after "pid (comm)"
    kb = {"VmHWM:": 0, "VmRSS:": 0}
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            name = line.split(maxsplit=1)[0]
            if name in kb:
                kb[name] = int(line.split()[1])
    return Usage(cpu_s=cpu, peak_rss_mb=kb["VmHWM:"] / 1024, rss_mb=kb["VmRSS:"] / 1024)


class Child:
    """A child process of the benchmark; its stderr goes to ``log_path``. Stop it with :meth:`stop`."""

    def __init__(self, name: str, argv: list[str], log_path: Path, *, stdout_pipe: bool = False,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log_path = log_path
        self._log: IO[str] = open(log_path, "w", encoding="utf-8")  # closed in stop()
        self.proc = subprocess.Popen(argv, cwd=ROOT, text=True, stderr=self._log,
                                     stdout=subprocess.PIPE if stdout_pipe else self._log,
                                     env=None if env is None else {**os.environ, **env})

    @property
    def pid(self) -> int:
        return self.proc.pid

    def usage(self) -> Usage:
        return usage(self.proc.pid)

    def stop(self, timeout_s: float = 60.0) -> int | None:
        """SIGTERM, wait up to ``timeout_s``, then SIGKILL; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def tail(self, lines: int = 20) -> str:
        """The end of the child's log (for error messages)."""
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_sandbox(contacts: int, log_path: Path, *, as_is: bool = False, seed: int = 42) -> tuple[Child, str]:
    """Start a sandbox CRM seeded with ``contacts`` on a free port; returns it and its base URL.

    ``as_is``: run ``leadsync sandbox`` itself (answers on kept-alive connections wait ~40 ms, see the
    module docstring); otherwise this module's ``sandbox`` entry point.
    """
    args = ["--port", "0", "--contacts", str(contacts), "--seed", str(seed)]
    argv = ([sys.executable, "-m", "leadsync.agent.cli", "sandbox", *args] if as_is
            else [sys.executable, "-m", "tests.bench_procs", "sandbox", *args])
    child = Child("sandbox", argv, log_path, stdout_pipe=True)
    assert child.proc.stdout is not None
    for line in child.proc.stdout:
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(message, dict) and message.get("event") == "listening":
            return child, str(message["url"])
    child.stop()
    raise RuntimeError(f"the sandbox exited before it listened:\n{child.tail()}")


def start_agent(data_dir: Path, sock: Path, log_path: Path, *, rate_limit_per_10s: int | None = None,
                search_per_s: float | None = None, env: dict[str, str] | None = None) -> Child:
    """Start an agent on ``sock`` (removing a stale socket file first) and wait up to 30 s for it to listen.

    Without limits this runs ``leadsync agent`` itself; with either limit, this module's ``agent``
    entry point (the same Agent with ``connector_options``). ``env`` is added to the child's environment.
    """
    if rate_limit_per_10s is None and search_per_s is None:
        argv = [sys.executable, "-m", "leadsync.agent.cli", "--socket", str(sock), "agent",
                "--data-dir", str(data_dir)]
    else:
        argv = [sys.executable, "-m", "tests.bench_procs", "agent", "--data-dir", str(data_dir),
                "--socket", str(sock)]
        if rate_limit_per_10s is not None:
            argv += ["--rate-limit-per-10s", str(rate_limit_per_10s)]
        if search_per_s is not None:
            argv += ["--search-per-s", str(search_per_s)]
    sock.unlink(missing_ok=True)  # an agent that stopped leaves its socket file behind
    child = Child("agent", argv, log_path, env=env)
    deadline = time.monotonic() + 30
    while not _listening(sock):
        if child.proc.poll() is not None or time.monotonic() > deadline:
            child.stop()
            raise RuntimeError(f"the agent did not start:\n{child.tail()}")
        time.sleep(0.02)
    return child


def _listening(sock: Path) -> bool:
    if not sock.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(sock))
        except OSError:
            return False
    return True


# -- child side -------------------------------------------------------------------------------------


def connector_options(rate_limit_per_10s: int | None, search_per_s: float | None) -> dict[str, Any]:
    """HubSpotConnector keyword options for the given limits (None: the connector's default; 0: none)."""
    options: dict[str, Any] = {}
    if rate_limit_per_10s is not None:
        options["rate_limit_per_10s"] = rate_limit_per_10s or UNLIMITED
    if search_per_s is not None:
        options["search_per_s"] = search_per_s or float(UNLIMITED)
    return options


async def _run_agent(data: Path, sock: Path, options: dict[str, Any]) -> int:
    from leadsync.agent.daemon import Agent

    agent = Agent(data, sock, connector_options=options)
    await agent.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    await agent.stop()
    return 0


def _serve_sandbox(args: argparse.Namespace) -> int:
    serve_module = importlib.import_module("leadsync.agent.connectors.hubspot.sandbox.serve")
    bind = getattr(serve_module, "_bind", None)  # older trees; the sandbox kit's own bind sets IPPROTO_TCP
    if bind is not None:
        def bind_nodelay(host: str, port: int) -> socket.socket:
            sock: socket.socket = bind(host, port)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # Linux: accepted sockets inherit it
            return sock

        setattr(serve_module, "_bind", bind_nodelay)  # noqa: B010
    serve_module.serve(args.host, args.port, contacts=args.contacts, seed=args.seed, token=args.token)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench_procs",
                                     description="Benchmark child processes (see the module docstring).")
    sub = parser.add_subparsers(dest="kind", required=True)
    p = sub.add_parser("agent")
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--socket", required=True, type=Path)
    p.add_argument("--rate-limit-per-10s", type=int, default=None, help="0: no limit")
    p.add_argument("--search-per-s", type=float, default=None, help="0: no limit")
    p = sub.add_parser("sandbox")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--contacts", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--token", default="sandbox-token")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "uvicorn.access", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.kind == "sandbox":
        return _serve_sandbox(args)
    options = connector_options(args.rate_limit_per_10s, args.search_per_s)
    return asyncio.run(_run_agent(args.data_dir, args.socket, options))


if __name__ == "__main__":
    sys.exit(main())
