"""Serving the sandbox on loopback with uvicorn.

``serve()`` blocks (``leadsync sandbox --crm autotask``); ``serve_in_thread()`` runs an app in a
background thread and returns once it listens (tests, ``leadsync demo``). With ``port=0`` the OS picks a
free port; ``serve()`` prints ``{"event": "listening", "url": ...}`` as one JSON line on stdout. The
connector's ``base_url`` is that URL (it adds ``/atservicesrest``) with the credentials
``{"username": DEFAULT_USERNAME, "secret": <token>, "integration_code": DEFAULT_INTEGRATION_CODE}``.
"""

from __future__ import annotations

import sys
from typing import Final

from leadsync.agent.connectors.sandbox.serve import RunningServer, SeededSandbox, serve_in_thread

from .app import create_app
from .seed import build_state
from .state import DEFAULT_SECRET

__all__ = ["SANDBOX", "RunningServer", "main", "serve", "serve_in_thread"]

SANDBOX: Final = SeededSandbox(
    "Serve the Autotask sandbox on loopback (--token is the API user's Secret).", create_app, build_state,
    port=8768, token=DEFAULT_SECRET, counts={"contacts": 2000}, token_keyword="secret")
serve, main = SANDBOX.serve, SANDBOX.main

if __name__ == "__main__":
    sys.exit(main())
