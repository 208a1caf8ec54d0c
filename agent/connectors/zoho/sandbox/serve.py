"""Serving the sandbox on loopback with uvicorn.

``serve()`` blocks (``leadsync sandbox --crm zoho``); ``serve_in_thread()`` runs an app in a background thread
and returns once it listens (tests, ``leadsync demo``). With ``port=0`` the OS picks a free port; ``serve()``
prints ``{"event": "listening", "url": ...}`` as one JSON line on stdout. The URL is both the accounts URL
(the connector's ``base_url``, token endpoint) and the ``api_domain`` the token answers name.
"""

from __future__ import annotations

import sys
from typing import Final

from leadsync.agent.connectors.sandbox.serve import RunningServer, SeededSandbox, serve_in_thread

from .app import DEFAULT_TOKEN, create_app
from .seed import build_state

__all__ = ["SANDBOX", "RunningServer", "main", "serve", "serve_in_thread"]

SANDBOX: Final = SeededSandbox(
    "Serve the Zoho CRM sandbox on loopback.", create_app, build_state, port=8767,
    token=DEFAULT_TOKEN, counts={"leads": 3000, "contacts": 2000})
serve, main = SANDBOX.serve, SANDBOX.main

if __name__ == "__main__":
    sys.exit(main())
