"""Serving the sandbox on loopback with uvicorn.

``serve()`` blocks (the ``leadsync sandbox`` command); ``serve_in_thread()`` runs it in a
background thread and returns once it listens (tests, ``leadsync demo``). With ``port=0`` the OS
picks a free port; ``serve()`` prints ``{"event": "listening", "url": ...}`` as one JSON line on
stdout so a parent process can read the actual URL.
"""

from __future__ import annotations

import sys
from typing import Final

from leadsync.agent.connectors.sandbox.serve import RunningServer, SeededSandbox, serve_in_thread

from .app import DEFAULT_TOKEN, create_app
from .seed import build_state

__all__ = ["SANDBOX", "RunningServer", "main", "serve", "serve_in_thread"]

SANDBOX: Final = SeededSandbox(
    "Serve the HubSpot CRM sandbox on loopback.", create_app, build_state, port=8765,
    token=DEFAULT_TOKEN, counts={"contacts": 10_000})
serve, main = SANDBOX.serve, SANDBOX.main

if __name__ == "__main__":
    sys.exit(main())
