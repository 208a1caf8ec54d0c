"""Serving the sandbox on loopback with uvicorn.

``serve()`` blocks (the ``leadsync sandbox`` command); ``serve_in_thread()`` runs it in a
background thread and returns once it listens (tests, ``leadsync demo``). With ``port=0`` the OS
picks a free port; ``serve()`` prints ``{"event": "listening", "url": ...}`` as one JSON line on
stdout so a parent process can read the actual URL.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
from collections.abc import Callable
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

from .app import DEFAULT_TOKEN, create_app
from .seed import build_state


class _Server(uvicorn.Server):
    """A uvicorn server that calls ``on_ready`` once it is listening."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_ready()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # an explicit IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted connections (no delayed-ACK stalls)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _url(host: str, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    contacts: int = 10_000,
    seed: int = 42,
    token: str | None = DEFAULT_TOKEN,
    ready: Callable[[str], None] | None = None,
    app: ASGIApp | None = None,
    log_level: str = "warning",
) -> None:
    """Serve a seeded sandbox until interrupted (SIGINT/SIGTERM).

    ``port=0`` picks a free port. When listening, prints ``{"event": "listening", "url": URL}``
    on stdout and calls ``ready(URL)``. ``app`` replaces the seeded default app.
    """
    application = app if app is not None else create_app(build_state(contacts=contacts, seed=seed), token=token)
    sock = _bind(host, port)
    url = _url(host, sock)

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


def serve_in_thread(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, timeout: float = 10.0) -> RunningServer:
    """Start serving ``app`` in a daemon thread; return once it listens (``RuntimeError`` if it
    does not within ``timeout`` seconds)."""
    sock = _bind(host, port)
    url = _url(host, sock)
    started = threading.Event()
    config = uvicorn.Config(app, log_level="critical", lifespan="off")
    server = _Server(config, started.set)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="hubspot-sandbox")
    thread.start()
    if not started.wait(timeout):
        server.should_exit = True
        raise RuntimeError("the sandbox did not start listening in time")
    return RunningServer(server, thread, url)


def main(argv: list[str] | None = None) -> int:
    """``python -m leadsync.agent.connectors.hubspot.sandbox.serve [--port N] [--contacts N] ...``"""
    parser = argparse.ArgumentParser(description="Serve the HubSpot CRM sandbox on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    args = parser.parse_args(argv)
    serve(args.host, args.port, contacts=args.contacts, seed=args.seed, token=args.token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
