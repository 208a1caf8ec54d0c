"""The agent: store + CRM connector + sync runs + the socket API, in one asyncio process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from leadsync.agent.connectors.base import Connector
from leadsync.agent.connectors.registry import make_connector
from leadsync.agent.engine.mapping import DEFAULT_MAPPINGS
from leadsync.agent.engine.runner import execute_run, get_run, start_run
from leadsync.agent.rpc_server import RpcServer
from leadsync.agent.secrets import SecretStore
from leadsync.agent.settings import Settings, load
from leadsync.agent.store import Store
from leadsync.common.errors import CrmNotConnectedError, PushDisabledError
from leadsync.common.models import SyncRun
from leadsync.common.paths import db_path

log = logging.getLogger("leadsync.agent")

ConnectorFactory = Callable[..., Connector]


class Agent:
    """Owns the store, the connector of the connected CRM and the one sync that may run at a time.

    ``connector_options`` are passed to the connector factory (tests pass an httpx transport that
    reaches an in-process sandbox).
    """

    def __init__(self, data_dir: Path, socket_path: Path, *, socket_mode: int = 0o600,
                 connector_factory: ConnectorFactory = make_connector,
                 connector_options: dict[str, Any] | None = None) -> None:
        self.data_dir = data_dir
        self.socket_path = socket_path
        self.socket_mode = socket_mode
        self.connector_factory = connector_factory
        self.connector_options = connector_options or {}
        self.secrets = SecretStore(data_dir)
        self.store: Store
        self.settings = Settings()
        self.connector: Connector | None = None
        self.server: RpcServer
        self.current_run: int | None = None
        self._run_task: asyncio.Task[SyncRun] | None = None
        self.stopping = asyncio.Event()

    async def start(self) -> None:
        from leadsync.agent.api import build_methods

        self.store = await Store.open(db_path(self.data_dir))
        await self._recover_interrupted_runs()
        self.settings = load(await self.store.get_settings())
        await self._load_connector()
        self.server = RpcServer(build_methods(self), mode=self.socket_mode)
        await self.server.start(self.socket_path)
        log.info("agent listening on %s", self.socket_path)

    async def stop(self) -> None:
        """Finish the current page or batch (each is one transaction), then close everything."""
        self.stopping.set()
        await self.server.close()
        if self._run_task is not None and not self._run_task.done():
            self._run_task.cancel()
            try:
                await self._run_task
            except (asyncio.CancelledError, Exception):
                pass
        if self.connector is not None:
            await self.connector.aclose()
        await self._recover_interrupted_runs()
        await self.store.close()

    async def _recover_interrupted_runs(self) -> None:
        async with self.store.transaction() as db:
            await db.execute("UPDATE sync_runs SET status = 'interrupted', finished_at = started_at "
                             "WHERE status = 'running'")

    async def _load_connector(self) -> None:
        row = await self.store.fetchone("SELECT crm, base_url FROM crm_connection WHERE id = 1")
        if row is None:
            self.connector = None
            return
        self.connector = self.connector_factory(row["crm"], row["base_url"], self.secrets.load(row["crm"]),
                                                **self.connector_options)

    def require_connector(self) -> Connector:
        if self.connector is None:
            raise CrmNotConnectedError("no CRM is connected; connect one with crm.connect")
        return self.connector

    def emit(self, event: dict[str, Any]) -> None:
        """Send an event to every subscribed client (never blocks)."""
        self.server.broadcast(event)

    async def request_sync(self, trigger: str, *, wait: bool, pull: bool = True, push: bool = True,
                           contact_ids: list[int] | None = None) -> SyncRun:
        """Start a sync run, or join the one already running (runs never overlap).

        Returns the finished run when ``wait`` is True, else the run as started. With push disabled, a
        run only pulls; a push-only request raises PushDisabledError.
        """
        connector = self.require_connector()
        if not self.settings.push_enabled:
            if not pull:
                raise PushDisabledError("push is disabled (settings push_enabled=false): nothing was sent")
            push = False
        if self._run_task is None or self._run_task.done():
            run_id = await start_run(self.store, trigger)
            self.current_run = run_id
            self.emit({"type": "run_started", "run_id": run_id, "trigger": trigger})
            self._run_task = asyncio.create_task(self._run(connector, run_id, pull, push, contact_ids))
        task = self._run_task
        if wait:
            return await asyncio.shield(task)
        assert self.current_run is not None
        return await get_run(self.store, self.current_run)

    async def _run(self, connector: Connector, run_id: int, pull: bool, push: bool,
                   contact_ids: list[int] | None) -> SyncRun:
        try:
            mappings = DEFAULT_MAPPINGS[connector.name]
            return await execute_run(self.store, connector, run_id, mappings=mappings,
                                     fallback_owner=self.settings.fallback_owner, pull=pull, push=push,
                                     contact_ids=contact_ids, progress=self.emit)
        finally:
            self.current_run = None
