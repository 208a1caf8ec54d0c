"""Serving the sandbox on loopback with uvicorn.

``serve()`` blocks (``leadsync sandbox --crm autotask``); ``serve_in_thread()`` runs an app in a
background thread and returns once it listens (tests, ``leadsync demo``). With ``port=0`` the OS picks a
free port; ``serve()`` prints ``{"event": "listening", "url": ...}`` as one JSON line on stdout. The
connector's ``base_url`` is that URL (it adds ``/atservicesrest``) with the credentials
``{"username": DEFAULT_USERNAME, "secret": <token>, "integration_code": DEFAULT_INTEGRATION_CODE}``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from starlette.types import ASGIApp

from leadsync.agent.connectors.sandbox_kit import RunningServer, argument_parser, serve_app, serve_in_thread

from .app import create_app
from .seed import build_state
from .state import DEFAULT_SECRET

__all__ = ["RunningServer", "main", "serve", "serve_in_thread"]


def serve(
    host: str = "127.0.0.1",
    port: int = 8768,
    *,
    contacts: int = 2000,
    seed: int = 42,
    token: str = DEFAULT_SECRET,
    ready: Callable[[str], None] | None = None,
    app: ASGIApp | None = None,
    log_level: str = "warning",
) -> None:
    """Serve a seeded sandbox until interrupted (SIGINT/SIGTERM); ``token`` is the API user's ``Secret``.

    ``port=0`` picks a free port. When listening, prints ``{"event": "listening", "url": URL}`` on stdout
    and calls ``ready(URL)``. ``app`` replaces the seeded default app.
    """
    application = app if app is not None else create_app(build_state(contacts=contacts, seed=seed), secret=token)
    serve_app(application, host, port, ready=ready, log_level=log_level)


def main(argv: list[str] | None = None) -> int:
    """``python -m leadsync.agent.connectors.autotask.sandbox.serve [--port N] [--contacts N] ...``"""
    parser = argument_parser("Serve the Autotask sandbox on loopback (--token is the API user's Secret).",
                             port=8768, token=DEFAULT_SECRET)
    parser.add_argument("--contacts", type=int, default=2000)
    args = parser.parse_args(argv)
    serve(args.host, args.port, contacts=args.contacts, seed=args.seed, token=args.token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
