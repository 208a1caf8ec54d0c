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
        self._queue: list[_Request] = []
        self._running_request: _Request | None = None
        self._worker: asyncio.Task[None] | None = None
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
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
            try:
                await self._worker
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
        """Queue a sync run; runs never overlap.

        A request equal to one already queued (same trigger and scope) joins it; a full run requested
        while a full run is in progress joins that run (coalesced, never run twice). Returns the finished
        run when ``wait`` is True, else the run as started or queued (``status`` running or queued).
        With push disabled, a run only pulls; a push-only request raises PushDisabledError.
        """
        connector = self.require_connector()
        if not self.settings.push_enabled:
            if not pull:
                raise PushDisabledError("push is disabled (settings push_enabled=false): nothing was sent")
            push = False
        ids = None if contact_ids is None else frozenset(contact_ids)
        key = (trigger, pull, push, ids)
        running = self._running_request
        if running is not None and running.covers(key):
            future = running.future
        else:
            queued = next((r for r in self._queue if r.key == key), None)
            if queued is None:
                queued = _Request(key, asyncio.get_running_loop().create_future())
                self._queue.append(queued)
            future = queued.future
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(connector))
        if wait:
            return await asyncio.shield(future)
        await asyncio.sleep(0)
        if self.current_run is not None:
            return await get_run(self.store, self.current_run)
        return SyncRun(id=0, trigger=trigger, status="queued", started_at=0, finished_at=None)

    async def _work(self, connector: Connector) -> None:
        while self._queue:
            request = self._queue.pop(0)
            self._running_request = request
            trigger, pull, push, ids = request.key
            try:
                run_id = await start_run(self.store, trigger)
                self.current_run = run_id
                self.emit({"type": "run_started", "run_id": run_id, "trigger": trigger})
                mappings = DEFAULT_MAPPINGS[connector.name]
                run = await execute_run(self.store, connector, run_id, mappings=mappings,
                                        fallback_owner=self.settings.fallback_owner, pull=pull, push=push,
                                        contact_ids=None if ids is None else sorted(ids), progress=self.emit)
                request.future.set_result(run)
            except BaseException as exc:
                if not request.future.done():
                    request.future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
            finally:
                self.current_run = None
                self._running_request = None


class _Request:
    """A queued sync request: (trigger, pull, push, contact ids or None for all) and its outcome."""

    def __init__(self, key: tuple[str, bool, bool, frozenset[int] | None], future: asyncio.Future[SyncRun]) -> None:
        self.key = key
        self.future = future

    def covers(self, key: tuple[str, bool, bool, frozenset[int] | None]) -> bool:
        """True when running this request also does everything ``key`` asks for."""
        _, pull, push, ids = self.key
        _, want_pull, want_push, want_ids = key
        return (pull or not want_pull) and (push or not want_push) and ids is None and want_ids is None
