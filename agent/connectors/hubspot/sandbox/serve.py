"""Serving the sandbox on loopback with uvicorn.

``serve()`` blocks (the ``leadsync sandbox`` command); ``serve_in_thread()`` runs it in a
background thread and returns once it listens (tests, ``leadsync demo``). With ``port=0`` the OS
picks a free port; ``serve()`` prints ``{"event": "listening", "url": ...}`` as one JSON line on
stdout so a parent process can read the actual URL.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from starlette.types import ASGIApp

from leadsync.agent.connectors.sandbox_kit import RunningServer, argument_parser, serve_app, serve_in_thread

from .app import DEFAULT_TOKEN, create_app
from .seed import build_state

__all__ = ["RunningServer", "main", "serve", "serve_in_thread"]


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
    """Serve a seeded HubSpot sandbox until interrupted (see :func:`sandbox_kit.serve_app`); ``app``
    replaces the seeded default app."""
    application = app if app is not None else create_app(build_state(contacts=contacts, seed=seed), token=token)
    serve_app(application, host, port, ready=ready, log_level=log_level)


def main(argv: list[str] | None = None) -> int:
    """``python -m leadsync.agent.connectors.hubspot.sandbox.serve [--port N] [--contacts N] ...``"""
    parser = argument_parser("Serve the HubSpot CRM sandbox on loopback.", port=8765, token=DEFAULT_TOKEN)
    parser.add_argument("--contacts", type=int, default=10_000)
    args = parser.parse_args(argv)
    serve(args.host, args.port, contacts=args.contacts, seed=args.seed, token=args.token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
