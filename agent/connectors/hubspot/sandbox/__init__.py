"""A faithful, stateful HubSpot CRM v3 sandbox (contacts, owners, users, properties, search).

``create_app(state, faults=..., token=...)`` builds the Starlette app; ``SandboxState`` holds the
CRM (``seed.build_state`` fills it); ``FaultSwitches`` sets latency, rate limits and injected
faults at run time; ``serve`` runs it on loopback with uvicorn.
"""

from leadsync.agent.connectors.sandbox.clock import ManualClock

from .app import create_app
from .faults import FaultSwitches, ScriptedFault
from .oauth import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_PRIVATE_APP_TOKEN,
    DEFAULT_REFRESH_TOKEN,
    OAuthServer,
)
from .seed import build_state, seed_state
from .serve import RunningServer, serve, serve_in_thread
from .state import ContactNotFound, SandboxState

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_PRIVATE_APP_TOKEN",
    "DEFAULT_REFRESH_TOKEN",
    "ContactNotFound",
    "FaultSwitches",
    "ManualClock",
    "OAuthServer",
    "RunningServer",
    "SandboxState",
    "ScriptedFault",
    "build_state",
    "create_app",
    "seed_state",
    "serve",
    "serve_in_thread",
]
