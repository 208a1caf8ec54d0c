"""Serving the sandbox on loopback with uvicorn.

``serve()`` blocks (``leadsync sandbox --crm zoho``); ``serve_in_thread()`` runs an app in a background thread
and returns once it listens (tests, ``leadsync demo``). With ``port=0`` the OS picks a free port; ``serve()``
prints ``{"event": "listening", "url": ...}`` as one JSON line on stdout. The URL is both the accounts URL
(the connector's ``base_url``, token endpoint) and the ``api_domain`` the token answers name.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from starlette.types import ASGIApp

from leadsync.agent.connectors.sandbox_kit import RunningServer, serve_app, serve_in_thread
from leadsync.agent.connectors.sandbox_kit import argument_parser as argparse_parser

from .app import DEFAULT_TOKEN, create_app
from .seed import build_state

__all__ = ["RunningServer", "main", "serve", "serve_in_thread"]


def serve(
    host: str = "127.0.0.1",
    port: int = 8767,
    *,
    leads: int = 3000,
    contacts: int = 2000,
    seed: int = 42,
    token: str | None = DEFAULT_TOKEN,
    ready: Callable[[str], None] | None = None,
    app: ASGIApp | None = None,
    log_level: str = "warning",
) -> None:
    """Serve a seeded sandbox until interrupted (SIGINT/SIGTERM).

    ``port=0`` picks a free port. When listening, prints ``{"event": "listening", "url": URL}`` on stdout
    and calls ``ready(URL)``. ``app`` replaces the seeded default app.
    """
    application = app if app is not None else create_app(build_state(leads=leads, contacts=contacts, seed=seed),
                                                         token=token)
    serve_app(application, host, port, ready=ready, log_level=log_level)


def main(argv: list[str] | None = None) -> int:
    """``python -m leadsync.agent.connectors.zoho.sandbox.serve [--port N] [--leads N] ...``"""
    parser = argparse_parser("Serve the Zoho CRM sandbox on loopback.", port=8767, token=DEFAULT_TOKEN)
    parser.add_argument("--leads", type=int, default=3000)
    parser.add_argument("--contacts", type=int, default=2000)
    args = parser.parse_args(argv)
    serve(args.host, args.port, leads=args.leads, contacts=args.contacts, seed=args.seed, token=args.token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
