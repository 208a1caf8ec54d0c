"""A faithful, stateful Zoho CRM sandbox: accounts server (OAuth) and API domain (Leads, Contacts, users,
field metadata, searches, 100-record writes, deletes, lead conversion) in one Starlette app.

``create_app(state, faults=..., token=..., oauth=..., api_domain=...)`` builds the app; ``SandboxState`` holds
the org (``build_state``/``seed_state`` fill it; ``add_record``, ``get_record``, ``update_record``,
``delete_record``, ``convert_lead``, ``count`` for tests); ``ZohoFaults`` sets latency, API credits, bursts,
unique emails, B24's token shape and injected faults at run time; ``ZohoTokenBook`` issues one-hour tokens;
``serve`` runs it on loopback with uvicorn.
"""

from leadsync.agent.connectors.sandbox.clock import ManualClock

from .app import DEFAULT_TOKEN, create_app
from .faults import ScriptedFault, ZohoFaults
from .oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN, ZohoTokenBook
from .seed import build_state, seed_state
from .serve import RunningServer, serve, serve_in_thread
from .state import RecordNotFound, SandboxState

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_REFRESH_TOKEN",
    "DEFAULT_TOKEN",
    "ManualClock",
    "RecordNotFound",
    "RunningServer",
    "SandboxState",
    "ScriptedFault",
    "ZohoFaults",
    "ZohoTokenBook",
    "build_state",
    "create_app",
    "seed_state",
    "serve",
    "serve_in_thread",
]
