"""Serving a sandbox: an ASGI app on loopback, blocking (:func:`serve_app`) or from a thread for tests
(:func:`serve_in_thread`, :class:`RunningServer`), and seeded with its ``python -m ....sandbox.serve`` command
line (:class:`SeededSandbox`, :func:`argument_parser`).
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import EllipsisType, TracebackType
from typing import Any

import uvicorn
from starlette.types import ASGIApp


class _Server(uvicorn.Server):
    """A uvicorn server that calls ``on_ready`` once it is listening."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_ready()


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # an explicit IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted connections (no delayed-ACK stalls)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def url_of(host: str, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve_app(application: ASGIApp, host: str, port: int, *, ready: Callable[[str], None] | None = None,
              log_level: str = "warning") -> None:
    """Serve ``application`` until interrupted (SIGINT/SIGTERM). ``port=0`` picks a free port. When
    listening, prints ``{"event": "listening", "url": URL}`` as one JSON line on stdout (so a parent process
    can read the actual URL) and calls ``ready(URL)``."""
    sock = bind(host, port)
    url = url_of(host, sock)

    def announce() -> None:
        print(json.dumps({"event": "listening", "url": url}), flush=True)
        if ready is not None:
            ready(url)

    config = uvicorn.Config(application, log_level=log_level, lifespan="off")
    _Server(config, announce).run(sockets=[sock])


class RunningServer:
    """A sandbox served from a background thread; ``url`` is ``http://127.0.0.1:PORT``.

    Use as a context manager or call :meth:`stop`.
    """

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, url: str) -> None:
        self._server = server
        self._thread = thread
        self.url = url

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self.url.rsplit(":", 1)[1])

    def stop(self, timeout: float = 5.0) -> None:
        """Ask uvicorn to exit and wait up to ``timeout`` seconds for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_in_thread(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, timeout: float = 10.0,
                    name: str = "sandbox") -> RunningServer:
    """Start serving ``app`` in a daemon thread; return once it listens (``RuntimeError`` if it
    does not within ``timeout`` seconds)."""
    sock = bind(host, port)
    url = url_of(host, sock)
    started = threading.Event()
    config = uvicorn.Config(app, log_level="critical", lifespan="off")
    server = _Server(config, started.set)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=name)
    thread.start()
    if not started.wait(timeout):
        server.should_exit = True
        raise RuntimeError("the sandbox did not start listening in time")
    return RunningServer(server, thread, url)


def argument_parser(description: str, *, port: int, token: str | None) -> argparse.ArgumentParser:
    """The command line every ``python -m ....sandbox.serve`` shares: ``--host``, ``--port``, ``--seed``,
    ``--token``; a sandbox adds its record counts."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--token", default=token)
    return parser


@dataclass(frozen=True)
class SeededSandbox:
    """A sandbox's ``serve`` (blocking, freshly seeded) and ``python -m ....sandbox.serve`` command line.

    The app is ``create_app(build_state(seed=, **counts), <token_keyword>=token)``; ``counts`` names the record
    counts ``build_state`` takes with their defaults (each also an option, ``--contacts N``); ``port`` and
    ``token`` are the defaults of :meth:`serve` and the command line.
    """

    description: str
    create_app: Callable[..., ASGIApp]
    build_state: Callable[..., Any]
    port: int
    token: str | None
    counts: Mapping[str, int]
    token_keyword: str = "token"

    def serve(self, host: str = "127.0.0.1", port: int | None = None, *, seed: int = 42,
              token: str | EllipsisType | None = ..., ready: Callable[[str], None] | None = None,
              app: ASGIApp | None = None, log_level: str = "warning", **counts: int) -> None:
        """Serve a seeded sandbox until interrupted (SIGINT/SIGTERM; see :func:`serve_app`): ``port`` (default
        the sandbox's own; 0 picks a free port), ``token`` and ``counts`` (default the sandbox's) seed it;
        ``app`` replaces the seeded app. When listening, prints ``{"event": "listening", "url": URL}`` on
        stdout and calls ``ready(URL)``."""
        unknown = sorted(set(counts) - set(self.counts))
        if unknown:
            raise TypeError(f"serve() got an unexpected keyword argument {unknown[0]!r}")
        if app is None:
            state = self.build_state(seed=seed, **{**self.counts, **counts})
            app = self.create_app(state, **{self.token_keyword: self.token if token is ... else token})
        serve_app(app, host, self.port if port is None else port, ready=ready, log_level=log_level)

    def main(self, argv: list[str] | None = None) -> int:
        """The command line: :func:`argument_parser` and an option per record count; serves until interrupted."""
        parser = argument_parser(self.description, port=self.port, token=self.token)
        for name, default in self.counts.items():
            parser.add_argument(f"--{name}", type=int, default=default)
        args = parser.parse_args(argv)
        self.serve(args.host, args.port, seed=args.seed, token=args.token,
                   **{name: getattr(args, name) for name in self.counts})
        return 0
