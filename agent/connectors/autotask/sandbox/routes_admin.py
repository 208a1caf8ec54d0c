"""Sandbox-only admin endpoints (no credentials, no threshold, not counted): the shared ones of
:mod:`leadsync.agent.connectors.sandbox.admin` (``/__sandbox/faults``, ``/stats``, ``/stats/reset``,
``/clock``); Autotask has no OAuth, so nothing more.
"""

from __future__ import annotations

from starlette.routing import Route

from leadsync.agent.connectors.sandbox.admin import ADMIN_PREFIX, admin_routes

from .errors import AutotaskError
from .params import Sandbox, read_object

__all__ = ["ADMIN_PREFIX", "routes"]


def _bad_input(message: str) -> Exception:
    return AutotaskError(400, message)


def _conflict(message: str) -> Exception:
    return AutotaskError(409, message)


def routes(sandbox: Sandbox) -> list[Route]:
    """The shared admin routes bound to ``sandbox``."""
    return admin_routes(sandbox.state, sandbox.faults, read_object=read_object, bad_input=_bad_input,
                        conflict=_conflict)
