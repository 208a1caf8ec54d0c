"""Moved to :mod:`leadsync.agent.connectors.sandbox_counters` (shared by every sandbox); kept as an alias."""

from leadsync.agent.connectors.sandbox_counters import LoggedRequest, RequestCounters

__all__ = ["LoggedRequest", "RequestCounters"]
