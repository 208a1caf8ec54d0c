"""What the running agent offers the API and the rules that act on it, as a Protocol.

The daemon's :class:`~leadsync.agent.daemon.Agent` satisfies it; the API package and the rule modules
(``pushes``, ``connection``, ``sync_status``) import this type, never the daemon, so the daemon can
import the API to build its methods without an import cycle.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from leadsync.agent.backlog import PushRate
from leadsync.agent.connectors.base import Connector, PropertyMeta
from leadsync.agent.connectors.usage import ApiUsage
from leadsync.agent.secrets import SecretStore
from leadsync.agent.settings import Settings
from leadsync.agent.store.store import Store
from leadsync.common.answers import FieldMapping, Plan
from leadsync.common.models import SyncRun

ConnectorFactory = Callable[..., Connector]
"""``(crm, base_url, credentials, **options) -> Connector`` (``connectors.registry.make_connector``)."""
Job = Callable[[int, Connector], Awaitable[SyncRun]]
"""The work of a started sync run other than a sync (an undo, a re-read): ``job(run_id, connector)`` does it,
records the run's outcome and returns the finished run."""


class Runtime(Protocol):
    """The agent as the API sees it: its store, settings and CRM connector, and its sync queue."""

    data_dir: Path
    socket_path: Path
    store: Store
    settings: Settings
    connector: Connector | None
    """The connected CRM's connector; None without a connection (set by crm.connect/reauth/disconnect)."""
    secrets: SecretStore
    connector_factory: ConnectorFactory
    connector_options: dict[str, Any]
    current_run: int | None
    quota_blocked_until_ms: int | None
    push_rate: PushRate
    api_usage: ApiUsage
    """API calls of every connection, per rate-limit window and hour (the sync-health budget)."""

    def require_connector(self) -> Connector:
        """The connector; raises CrmNotConnectedError without a connection."""
        ...

    def emit(self, event: dict[str, Any]) -> None:
        """Send an event to every subscribed client (never blocks)."""
        ...

    async def request_sync(self, trigger: str, *, wait: bool, pull: bool = True, push: bool = True,
                           contact_ids: list[int] | None = None) -> SyncRun:
        """Queue a sync run (see ``Agent.request_sync``)."""
        ...

    async def run_job(self, trigger: str, job: Job, *, wait: bool) -> SyncRun:
        """Queue ``job`` as a sync run of ``trigger`` (see ``Agent.run_job``)."""
        ...

    def busy(self) -> bool:
        """Whether a run is running or waiting in the queue."""
        ...

    def queue_status(self) -> list[dict[str, Any]]:
        """The queued sync requests: trigger, pull, push, contacts (count or None for all), urgent."""
        ...

    def next_interval_run_ms(self) -> int | None:
        """When the next interval run starts (epoch ms UTC); None when none is scheduled."""
        ...

    async def set_connection_status(self, status: str) -> None:
        """Record the connection's status (connected, needs_reauth)."""
        ...

    def mappings(self, connector: Connector) -> tuple[FieldMapping, ...]:
        """The field mappings in force for ``connector``'s CRM."""
        ...

    def cached_properties(self, connector: Connector) -> dict[str, PropertyMeta]:
        """``connector``'s CRM properties by name as the last sync run read them (empty before the first)."""
        ...

    async def reload_mappings(self) -> None:
        """Read the field mappings again (after ``mappings.update``)."""
        ...

    async def plan(self, mappings: tuple[FieldMapping, ...] | None = None) -> Plan:
        """A dry run of a full sync."""
        ...

    async def apply_settings(self, changes: dict[str, Any]) -> None:
        """React to saved settings changes (reschedule; push what waited while push was off)."""
        ...
