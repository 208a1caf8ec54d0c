"""The agent: store + CRM connector + sync runs + the socket API, in one asyncio process."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from leadsync.agent.api import build_methods
from leadsync.agent.backlog import PushRate
from leadsync.agent.backups import ScheduledBackups
from leadsync.agent.connectors.base import Connector, PropertyMeta
from leadsync.agent.connectors.registry import DEFAULT_MAPPINGS, make_connector
from leadsync.agent.connectors.usage import HOUR_S, HOURS, ApiUsage
from leadsync.agent.engine.planning import PlanningConnector, PlanRecorder
from leadsync.agent.engine.runner import Directory, execute_run, get_run, start_run
from leadsync.agent.instance_lock import hold_instance_lock, refuse_live_socket
from leadsync.agent.mappings import load_mappings
from leadsync.agent.quota import quota_free_at_ms, utc_text
from leadsync.agent.retries import AutoRetry
from leadsync.agent.rpc_limits import SocketLimits
from leadsync.agent.rpc_server import RpcServer
from leadsync.agent.run_queue import RunQueue, RunRequest
from leadsync.agent.runtime import ConnectorFactory, Job
from leadsync.agent.secrets import SecretStore
from leadsync.agent.settings import Settings, load
from leadsync.agent.store import Store
from leadsync.agent.store.disk import disk_full, unless_disk_full
from leadsync.agent.store.integrity import check_store
from leadsync.agent.store.queries import sync_runs
from leadsync.agent.watch import Watch
from leadsync.common.answers import FieldMapping, Plan
from leadsync.common.errors import (
    CrmError,
    CrmNotConnectedError,
    CrmQuotaExhaustedError,
    LeadsyncError,
    PushDisabledError,
)
from leadsync.common.instants import now_ms
from leadsync.common.models import SyncRun
from leadsync.common.paths import db_path

log = logging.getLogger("leadsync.agent")
INTERVAL_JOB = "interval-sync"
DIRECTORY_TTL_MS = 10 * 60 * 1000


class Agent:
    """Owns the store, the connector of the connected CRM and the one sync that may run at a time.

    ``connector_options`` are passed to the connector factory (tests pass an httpx transport that
    reaches an in-process sandbox). Failed writes of a transient kind are retried on their own when their
    ``next_retry_at`` comes (``auto_retry``: :class:`~leadsync.agent.retries.AutoRetry`), by the store's clock.
    """

    def __init__(self, data_dir: Path, socket_path: Path, *, socket_mode: int = 0o600,
                 connector_factory: ConnectorFactory = make_connector,
                 connector_options: dict[str, Any] | None = None,
                 authorize: Callable[[asyncio.StreamWriter], bool] | None = None, watch: bool = True,
                 full_check: bool = False, socket_limits: SocketLimits | None = None) -> None:
        self.data_dir = data_dir
        self.full_check = full_check  # at start: integrity_check instead of quick_check (slower, also indexes)
        self.socket_path = socket_path
        self.socket_mode = socket_mode
        self.authorize = authorize  # who may use the socket (SO_PEERCRED check, see rpc_server.peer_authorizer)
        self.socket_limits = socket_limits or SocketLimits()  # connections, deadlines, buffers (rpc_limits)
        self.connector_factory = connector_factory
        self.secrets = SecretStore(data_dir)
        # OAuth hooks (issue 7, B24): refreshed tokens are stored at once; a refused refresh token
        # marks the connection needs_reauth. Always this agent's own, whatever options were passed.
        self.api_usage = ApiUsage()  # the sync-health budget: outlives a reconnect (see connectors/usage.py)
        self.connector_options = {**(connector_options or {}), "save_credentials": self.secrets.save,
                                  "on_connection_status": self.set_connection_status, "usage": self.api_usage}
        self.store: Store
        self.settings = Settings()
        self.connector: Connector | None = None
        self.server: RpcServer
        self.current_run: int | None = None
        self._queue = RunQueue()
        self._worker: asyncio.Task[None] | None = None
        self.scheduler = AsyncIOScheduler(timezone=dt.UTC)
        self.auto_retry = AutoRetry(self, self.scheduler)
        self.watch = Watch(self, self.scheduler, enabled=watch)  # watch=False: no watch pull (embedders, tests)
        self.backups = ScheduledBackups(self, self.scheduler)
        self.quota_blocked_until_ms: int | None = None
        self._mappings: tuple[FieldMapping, ...] | None = None
        # every run reuses owners and property metadata for 10 minutes, and so do interval runs the archived
        # check; a manual run checks deletions every time (see _directory)
        self.directory = Directory(ttl_ms=DIRECTORY_TTL_MS)
        self.push_rate = PushRate()
        self._directory_connector: Connector | None = None
        self.stopping = asyncio.Event()

    async def start(self) -> None:
        """Check and open the store, then serve the socket. Raises AgentAlreadyRunningError when another agent
        holds this data dir or answers on this socket (one agent per store; a socket is never taken over), and
        StoreDamagedError when the store fails SQLite's quick_check (integrity_check with ``full_check``)."""
        self._instance_lock = hold_instance_lock(self.data_dir)
        try:
            await refuse_live_socket(self.socket_path)
            await asyncio.to_thread(check_store, db_path(self.data_dir), full=self.full_check)
        except LeadsyncError:
            self._instance_lock.close()
            raise
        self.store = await Store.open(db_path(self.data_dir))
        try:
            await self._recover_interrupted_runs()
        except (sqlite3.Error, OSError) as exc:
            await self.store.close()
            self._instance_lock.close()
            if (full := disk_full(exc, self.store.path)) is not None:
                raise full from exc
            raise
        self.api_usage.seed(await sync_runs.calls_since(self.store, now_ms() - HOURS * HOUR_S * 1000))
        self.settings = load(await self.store.get_settings())
        await self._load_connector()
        await self.reload_mappings()
        self.server = RpcServer(build_methods(self), mode=self.socket_mode, authorize=self.authorize,
                                limits=self.socket_limits)
        await self.server.start(self.socket_path)
        self._schedule_interval()
        self.watch.schedule()
        self.backups.schedule()
        self.scheduler.start()
        await self.auto_retry.schedule()
        log.info("agent listening on %s", self.socket_path)

    async def stop(self) -> None:
        """Finish the current page or batch (each is one transaction), then close everything."""
        self.stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.server.close()
        cut_short = self.current_run
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
            try:
                await self._worker
            except (asyncio.CancelledError, Exception):
                pass
        self._queue.fail_waiting("the agent stopped before this sync could run")  # requests that never ran
        try:
            if self.connector is not None:
                await self.connector.aclose()
            with unless_disk_full(self.store.path, "the interrupted runs (the next start marks them)"):
                if cut_short is not None:  # the engine records a cancelled run with its own status: correct it
                    await self._mark_interrupted(cut_short)
                await self._recover_interrupted_runs()
        finally:
            await self.store.close()
            self._instance_lock.close()

    async def _mark_interrupted(self, run_id: int) -> None:
        """A run stopped by shutdown is ``interrupted``: its committed pages and batches stay, the next
        run goes on from the saved cursors."""
        async with self.store.transaction() as db:
            await db.execute("UPDATE sync_runs SET status = 'interrupted', error = 'stopped by agent shutdown', "
                             "finished_at = coalesce(finished_at, started_at) WHERE id = ?", (run_id,))
        log.info("sync run %s interrupted by shutdown", run_id)

    async def set_connection_status(self, status: str) -> None:
        """Record the CRM connection's status (``connected``, ``needs_reauth``) shown by crm.status."""
        async with self.store.transaction() as db, db.execute(
                "UPDATE crm_connection SET status = ? WHERE id = 1 AND status != ?", (status, status)) as cur:
            changed = cur.rowcount
        if changed:
            log.log(logging.INFO if status == "connected" else logging.WARNING, "CRM connection status: %s", status)
            self.emit({"type": "crm_status", "status": status})

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
        self.push_rate.note(event)
        self.server.broadcast(event)

    async def request_sync(self, trigger: str, *, wait: bool, pull: bool = True, push: bool = True,
                           contact_ids: list[int] | None = None) -> SyncRun:
        """Queue a sync run; runs never overlap.

        ``trigger``: manual, interval, threshold or todo. Pushes of given contacts for manual, threshold
        and to-do triggers are urgent: they go to the front of the queue and, while a run is in
        progress, run between its pages and batches (case S12). A request equal to one already queued
        joins it; a full run requested while a full run is in progress joins that run (coalesced, never
        run twice). Returns the finished run when ``wait`` is True, else the run as started or queued
        (``status`` running or queued). With push disabled a run only pulls; a push-only request
        raises PushDisabledError.
        """
        connector = self.require_connector()
        if self.quota_blocked_until_ms is not None:
            if now_ms() < self.quota_blocked_until_ms:
                raise CrmQuotaExhaustedError(
                    f"the CRM's daily API quota is spent; no sync until {utc_text(self.quota_blocked_until_ms)} "
                    "(when it resets or, for a rolling 24-hour quota, frees up)", crm=connector.name)
            self.quota_blocked_until_ms = None
        if not self.settings.push_enabled:
            if not pull:
                raise PushDisabledError("push is disabled (settings push_enabled=false): nothing was sent")
            push = False
        ids = None if contact_ids is None else frozenset(contact_ids)
        future = self._queue.add_sync((trigger, pull, push, ids))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(connector))
        if wait:
            return await asyncio.shield(future)
        await asyncio.sleep(0)
        if self.current_run is not None:
            return await get_run(self.store, self.current_run)
        return SyncRun(id=0, trigger=trigger, status="queued", started_at=0, finished_at=None)

    async def run_job(self, trigger: str, job: Job, *, wait: bool) -> SyncRun:
        """Queue ``job`` as a sync run of ``trigger`` (an undo, a retry's re-read): it runs alone, like every
        run, and is never joined with another request. ``job(run_id, connector)`` does the work of the started
        run, records its outcome and returns it. Returns the finished run when ``wait``, else the run as
        started or queued. CrmNotConnectedError without a CRM."""
        connector = self.require_connector()
        future = self._queue.add_job(trigger, job)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(connector))
        if wait:
            return await asyncio.shield(future)
        await asyncio.sleep(0)
        if self.current_run is not None:
            return await get_run(self.store, self.current_run)
        return SyncRun(id=0, trigger=trigger, status="queued", started_at=0, finished_at=None)

    async def _work(self, connector: Connector) -> None:
        while (request := self._queue.pop()) is not None:
            await self._execute(request, connector)

    async def _run_urgent(self) -> None:
        """Between pages and batches of a run: run the urgent pushes waiting in the queue."""
        connector = self.connector
        while connector is not None and (urgent := self._queue.pop_urgent()) is not None:
            await self._execute(urgent, connector)

    async def _execute(self, request: RunRequest, connector: Connector) -> None:
        outer_run, outer_request = self.current_run, self._queue.running
        self._queue.running = request
        trigger, pull, push, ids = request.key
        try:
            run_id = await start_run(self.store, trigger)
            self.current_run = run_id
            self.emit({"type": "run_started", "run_id": run_id, "trigger": trigger})
            if request.job is not None:
                run = await request.job(run_id, connector)
                self.emit({"type": "run_finished", "run": msgspec.to_builtins(run)})
            else:
                run = await execute_run(self.store, connector, run_id, mappings=self.mappings(connector),
                                        fallback_owner=self.settings.fallback_owner, pull=pull, push=push,
                                        contact_ids=None if ids is None else sorted(ids), progress=self.emit,
                                        between_batches=None if request.urgent else self._run_urgent,
                                        on_quota_spent=self.quota_spent,
                                        directory=self._directory(connector, trigger))
            await self._log_run(run)
            await self.auto_retry.schedule()
            request.future.set_result(run)
        except BaseException as exc:
            if not request.future.done():
                full = disk_full(exc, self.store.path)
                request.future.set_exception(full or exc)
                request.future.exception()  # retrieved: nobody may be waiting for it
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self.current_run, self._queue.running = outer_run, outer_request

    def _directory(self, connector: Connector, trigger: str) -> Directory:
        """The CRM directory a run of ``trigger`` uses: one cache per connection, shared by every run.

        Owners and property metadata change seldom and are reused for ``DIRECTORY_TTL_MS`` by every run
        (interval, manual, pushes); a manual run still checks deletions (the archived list) every time,
        since a person pressing sync after deleting a record in the CRM expects to see it gone. A new
        connection starts a new cache."""
        if self._directory_connector is not connector:
            self.directory = Directory(ttl_ms=DIRECTORY_TTL_MS)
            self._directory_connector = connector
        if trigger == "manual":
            return self.directory.view(archived_ttl_ms=0)
        return self.directory

    async def _log_run(self, run: SyncRun) -> None:
        """One info line per finished run (issue 7): its counts and the ids of the records that failed, never
        their personal data (the reasons are in errors.list)."""
        failed = await self.store.fetchall("SELECT contact_id, crm_id, code FROM sync_errors WHERE sync_run_id = ? "
                                           "ORDER BY id LIMIT 20", (run.id,))
        records = ", ".join(f"contact {r['contact_id']}" + (f" (CRM {r['crm_id']})" if r["crm_id"] else "")
                            + (f" {r['code']}" if r["code"] else "") for r in failed)
        log.info("sync run %s (%s) %s: pulled %d, created locally %d, updated locally %d, created in CRM %d, "
                 "updated in CRM %d, linked %d, failed %d, %d API calls%s", run.id, run.trigger, run.status,
                 run.pulled, run.created_local, run.updated_local, run.created_crm, run.updated_crm, run.linked,
                 run.failed, run.api_calls, f"; failed records: {records}" if records else "")

    def quota_spent(self, retry_after_s: float | None) -> None:
        """The CRM said its daily quota is spent: no run starts until it resets (``retry_after_s`` when the
        CRM said, else the next midnight UTC)."""
        until = quota_free_at_ms(retry_after_s)
        self.quota_blocked_until_ms = until
        log.warning("the CRM's daily API quota is spent: syncs wait until %s", utc_text(until))
        self.emit({"type": "crm_quota_spent", "until": until})

    def mappings(self, connector: Connector) -> tuple[FieldMapping, ...]:
        """The field mappings in force (loaded at start and after ``mappings.update``)."""
        return self._mappings if self._mappings is not None else DEFAULT_MAPPINGS.get(connector.name, ())

    def cached_properties(self, connector: Connector) -> dict[str, PropertyMeta]:
        """``connector``'s CRM properties by name from the runs' directory (empty before its first run)."""
        return self.directory.properties if self._directory_connector is connector else {}

    async def reload_mappings(self) -> None:
        self._mappings = await load_mappings(self.store, self.connector.name) if self.connector else None

    async def plan(self, mappings: tuple[FieldMapping, ...] | None = None) -> Plan:
        """A dry run of a full sync (with ``mappings`` instead of those in force, to preview a change): what
        it would write, per record and field, with nothing written. With push disabled the plan still shows
        what a push would send, marked ``push_disabled``. Raises the CRM's error when it cannot be read."""
        connector = self.require_connector()
        recorder = PlanRecorder()
        calls = connector.api_calls
        async with self.store.dry_run() as view:
            run_id = await start_run(view, "plan")
            run = await execute_run(view, PlanningConnector(connector), run_id,
                                    mappings=self.mappings(connector) if mappings is None else mappings,
                                    fallback_owner=self.settings.fallback_owner, push=True, plan=recorder)
        if run.status == "failed":
            raise CrmError(f"the plan could not be made: {run.error}", crm=connector.name)
        return recorder.result(connector.api_calls - calls, self.settings.push_enabled)

    # scheduling and triggers ----------------------------------------------------------------------

    def next_interval_run_ms(self) -> int | None:
        """When the next interval run starts (epoch ms UTC); None when none is scheduled."""
        job = self.scheduler.get_job(INTERVAL_JOB)
        next_run = job.next_run_time if job is not None else None
        return int(next_run.timestamp() * 1000) if next_run else None

    def _schedule_interval(self) -> None:
        trigger = IntervalTrigger(minutes=self.settings.sync_interval_minutes, timezone=dt.UTC)
        if self.scheduler.get_job(INTERVAL_JOB) is None:
            self.scheduler.add_job(self._interval_sync, trigger, id=INTERVAL_JOB, coalesce=True, max_instances=1,
                                   misfire_grace_time=None)
        else:
            self.scheduler.reschedule_job(INTERVAL_JOB, trigger=trigger)

    async def _interval_sync(self) -> None:
        if self.connector is None:
            return
        try:
            await self.request_sync("interval", wait=True)
        except LeadsyncError as exc:
            log.warning("interval sync not run: %s", exc.message)

    async def apply_settings(self, changes: dict[str, Any]) -> None:
        """React to changed settings at once: reschedule the interval and the watch pull; when push is turned
        back on, push what accumulated while it was off."""
        before = self.settings
        self.settings = load(await self.store.get_settings())
        if "sync_interval_minutes" in changes and self.scheduler.running:
            self._schedule_interval()
        if "watch_interval_seconds" in changes and self.scheduler.running:
            self.watch.schedule()
        if any(key.startswith("backup_") for key in changes) and self.scheduler.running:
            self.backups.schedule()
        if changes.get("push_enabled") and not before.push_enabled and self.connector is not None:
            await self.request_sync("interval", wait=False, pull=False)

    def busy(self) -> bool:
        """Whether a run is running (from the moment it leaves the queue) or waiting in the queue."""
        return self._queue.running is not None or self.current_run is not None or len(self._queue) > 0

    def queue_status(self) -> list[dict[str, Any]]:
        """The queued sync requests: trigger, pull, push, contacts (count, None for all), urgent."""
        return self._queue.status()

