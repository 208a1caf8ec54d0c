"""A faithful, stateful Salesforce REST API sandbox (Leads, Contacts, Users; SOQL; sObject Collections).

``create_app(state, faults=..., token=...)`` builds the Starlette app; ``SandboxState`` holds the org
(``seed.build_state`` fills it; ``convert_lead`` converts a Lead); ``FaultSwitches`` sets latency, page
sizes, the daily quota and injected faults at run time; ``OAuthServer`` issues rotating refresh tokens
and sessions that time out; ``serve`` runs it on loopback with uvicorn.
"""

from leadsync.agent.connectors.sandbox.clock import ManualClock

from .app import DEFAULT_TOKEN, create_app
from .faults import FaultSwitches, ScriptedFault
from .oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN, OAuthServer
from .seed import build_state, seed_state
from .serve import RunningServer, serve, serve_in_thread
from .state import RecordNotFound, SandboxState

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_REFRESH_TOKEN",
    "DEFAULT_TOKEN",
    "FaultSwitches",
    "ManualClock",
    "OAuthServer",
    "RecordNotFound",
    "RunningServer",
    "SandboxState",
    "ScriptedFault",
    "build_state",
    "create_app",
    "seed_state",
    "serve",
    "serve_in_thread",
]
