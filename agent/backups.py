"""Backups of the store and restoring one: ``store.backup`` (``leadsync backup PATH``) while the agent runs,
the scheduled backups (settings ``backup_interval_hours``, ``backup_dir``, ``backup_keep``) and
``leadsync restore PATH`` while it is stopped.

A backup is SQLite's online backup API (``sqlite3.Connection.backup``) from a connection of its own, in one
step: one read transaction, so it is a consistent snapshot even while a sync writes (WAL lets the writer go
on), taken in a worker thread so the agent keeps answering. The copy is written 0600 under a temporary name,
must pass ``PRAGMA integrity_check``, then is fsynced and renamed into place. Secrets are not in it (they stay
in ``<data dir>/secrets/`` or come from systemd credentials).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import shutil
import sqlite3
import time
from pathlib import Path

import msgspec
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from leadsync.agent.instance_lock import AgentAlreadyRunningError, hold_instance_lock
from leadsync.agent.runtime import Runtime
from leadsync.agent.store.disk import create_private_file, disk_full, private_dir
from leadsync.agent.store.integrity import integrity_problems
from leadsync.common.errors import LeadsyncError, StoreDamagedError, ValidationError
from leadsync.common.paths import db_path

log = logging.getLogger("leadsync.agent")
BACKUP_JOB = "scheduled-backup"
BACKUP_PREFIX = "leadsync-"


class BackupAnswer(msgspec.Struct, kw_only=True):
    """A finished backup: the file written, its size in bytes, how long it took (ms), and the older
    scheduled backups removed by retention."""

    path: str
    bytes: int
    took_ms: int
    pruned: list[str] = []


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


def backup_target(path: Path) -> Path:
    """The file a backup to ``path`` writes: ``path`` itself, or ``leadsync-<UTC time>.db`` in it when it is
    a directory. ValidationError for a relative path."""
    if not path.is_absolute():
        raise ValidationError(f"path: give an absolute path, not {str(path)!r} (the agent's working directory "
                              "is not yours)")
    return path / f"{BACKUP_PREFIX}{_stamp()}.db" if path.is_dir() else path


def _fsync(path: Path, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy(source: Path, target: Path) -> None:
    """Online-backup ``source`` to ``target`` through a 0600 temp file checked with integrity_check."""
    if target.resolve() == source.resolve():
        raise ValidationError(f"path: {target} is the store itself; back up to another file")
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    create_private_file(tmp)
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
        problems = integrity_problems(tmp, full=True)
        if problems:
            raise StoreDamagedError(f"the backup of {source} failed its integrity check ({'; '.join(problems[:3])}); "
                                    "the store itself may be damaged: run `leadsync agent --integrity-check`")
        _fsync(tmp)
        os.replace(tmp, target)
        _fsync(target.parent, directory=True)
    finally:
        tmp.unlink(missing_ok=True)


async def backup_store(store_path: Path, path: Path) -> BackupAnswer:
    """Back the store at ``store_path`` up to ``path`` (a file, or a directory to put a dated file in).

    Raises ValidationError (relative path, the store itself, a target the agent may not write), DiskFullError
    naming the target when its disk is full, StoreDamagedError when the copy fails its integrity check."""
    target = backup_target(path)
    started = time.monotonic()
    try:
        await asyncio.to_thread(_copy, store_path, target)
    except (OSError, sqlite3.Error) as exc:
        if (full := disk_full(exc, target)) is not None:
            raise full from exc
        if isinstance(exc, OSError):
            raise ValidationError(f"path: cannot write the backup to {target}: {exc.strerror} (under systemd the "
                                  "agent writes only its data dir and the unit's ReadWritePaths=)") from exc
        raise
    took_ms = int((time.monotonic() - started) * 1000)
    log.info("store backed up to %s (%d bytes, %d ms)", target, target.stat().st_size, took_ms)
    return BackupAnswer(path=str(target), bytes=target.stat().st_size, took_ms=took_ms)


def prune(directory: Path, keep: int) -> list[str]:
    """Remove all but the ``keep`` newest ``leadsync-*.db`` backups in ``directory``; returns those removed."""
    backups = sorted(directory.glob(f"{BACKUP_PREFIX}*.db"))
    removed = backups[: max(len(backups) - keep, 0)]
    for old in removed:
        old.unlink(missing_ok=True)
    return [str(p) for p in removed]


class ScheduledBackups:
    """One scheduler job (:data:`BACKUP_JOB`) every ``backup_interval_hours`` (none when it is unset): a backup
    into ``backup_dir`` (default ``<data dir>/backups``, made 0700), keeping the ``backup_keep`` newest. Each
    outcome is logged and sent as an event (``backup_done``, ``backup_failed``)."""

    def __init__(self, agent: Runtime, scheduler: AsyncIOScheduler) -> None:
        self.agent = agent
        self.scheduler = scheduler

    def directory(self) -> Path:
        configured = self.agent.settings.backup_dir
        return Path(configured) if configured else self.agent.data_dir / "backups"

    def schedule(self) -> None:
        """(Re)schedule the job from the settings in force."""
        hours = self.agent.settings.backup_interval_hours
        if hours is None:
            if self.scheduler.get_job(BACKUP_JOB) is not None:
                self.scheduler.remove_job(BACKUP_JOB)
            return
        self.scheduler.add_job(self.run, IntervalTrigger(hours=hours, timezone=dt.UTC), id=BACKUP_JOB,
                               replace_existing=True, coalesce=True, max_instances=1, misfire_grace_time=None)

    async def run(self) -> BackupAnswer | None:
        """One scheduled backup now; None when it failed (the reason is logged and sent as an event)."""
        directory = self.directory()
        try:
            answer = await backup_store(self.agent.store.path, private_dir(directory))
            answer.pruned = prune(directory, self.agent.settings.backup_keep)
        except (LeadsyncError, OSError) as exc:
            reason = exc.message if isinstance(exc, LeadsyncError) else f"{exc.strerror}: {exc.filename}"
            log.error("scheduled backup into %s failed: %s", directory, reason)
            self.agent.emit({"type": "backup_failed", "reason": reason})
            return None
        self.agent.emit({"type": "backup_done", "path": answer.path, "bytes": answer.bytes})
        return answer


def restore_store(data_dir: Path, backup: Path) -> Path | None:
    """Make the backup file ``backup`` the store of ``data_dir``; returns where the previous store was put
    aside (``leadsync.db.before-restore-<UTC time>``, with its WAL and SHM), None when there was none.

    The agent must be stopped: AgentAlreadyRunningError while one holds the data dir's lock (which this holds
    throughout, so none starts meanwhile). The copy must pass ``PRAGMA integrity_check`` (StoreDamagedError
    otherwise, nothing changed). ValidationError when ``backup`` is not a file."""
    if not backup.is_file():
        raise ValidationError(f"no backup file at {backup}")
    try:
        lock = hold_instance_lock(data_dir)
    except AgentAlreadyRunningError:
        raise AgentAlreadyRunningError(
            f"an agent is running on {data_dir}: stop it first (systemctl stop leadsync-agent, or systemctl "
            "--user stop leadsync-agent), then restore; nothing was changed") from None
    try:
        private_dir(data_dir)
        store = db_path(data_dir)
        tmp = data_dir / f".{store.name}.restoring"
        create_private_file(tmp)
        try:
            shutil.copyfile(backup, tmp)
            problems = integrity_problems(tmp, full=True)
            if problems:
                raise StoreDamagedError(f"the backup {backup} is damaged ({'; '.join(problems[:3])}); nothing was "
                                        "restored: pick another backup")
            _fsync(tmp)
            aside = _put_aside(store)
            os.replace(tmp, store)
            _fsync(data_dir, directory=True)
        finally:
            tmp.unlink(missing_ok=True)
        return aside
    finally:
        lock.close()


def _put_aside(store: Path) -> Path | None:
    """Rename the store and its WAL and SHM to ``<name>.before-restore-<UTC time>`` (+ the same suffixes, so
    the set still opens as one database); None when there is no store."""
    if not store.exists():
        return None
    aside = store.with_name(f"{store.name}.before-restore-{_stamp()}")
    for suffix in ("-wal", "-shm", ""):  # the database last: a crash in between leaves no WAL beside a new store
        old = store.with_name(store.name + suffix)
        if old.exists():
            os.replace(old, aside.with_name(aside.name + suffix))
    return aside
