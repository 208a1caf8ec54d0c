"""A faithful, stateful Autotask PSA REST API sandbox (Contacts under Companies, Resources, queries with
``nextPageUrl`` paging, entity field metadata, zone discovery, the hourly request threshold).

``create_app(state, faults=..., username=..., secret=..., integration_code=..., zone_url=...)`` builds the
Starlette app; ``AutotaskState`` holds the database (``build_state`` / ``seed_state`` fill it);
``FaultSwitches`` sets latency, the threshold, the page size and injected faults at run time; ``serve``
runs it on loopback with uvicorn.
"""

from leadsync.agent.connectors.sandbox.clock import ManualClock

from .app import create_app
from .errors import AutotaskError
from .faults import FaultSwitches, ScriptedFault
from .seed import build_state, seed_state
from .serve import RunningServer, serve, serve_in_thread
from .state import DEFAULT_INTEGRATION_CODE, DEFAULT_SECRET, DEFAULT_USERNAME, AutotaskState, stamp

__all__ = [
    "DEFAULT_INTEGRATION_CODE",
    "DEFAULT_SECRET",
    "DEFAULT_USERNAME",
    "AutotaskError",
    "AutotaskState",
    "FaultSwitches",
    "ManualClock",
    "RunningServer",
    "ScriptedFault",
    "build_state",
    "create_app",
    "seed_state",
    "serve",
    "serve_in_thread",
    "stamp",
]
