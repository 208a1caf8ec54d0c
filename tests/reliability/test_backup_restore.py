"""Backups and restores (issue 16): ``store.backup`` taken while a sync writes is a consistent store that,
restored into a fresh data dir, holds exactly the backup's contacts and converges with the CRM on its next
sync; ``leadsync restore`` refuses while an agent runs and refuses a damaged backup, and keeps the old store
aside; scheduled backups keep the newest ``backup_keep``."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from leadsync.agent.backups import BACKUP_JOB, restore_store
from leadsync.agent.cli import main
from leadsync.agent.daemon import Agent
from leadsync.agent.instance_lock import AgentAlreadyRunningError
from leadsync.common.errors import StoreDamagedError
from leadsync.common.paths import db_path
from leadsync.common.rpc import RpcClient
from tests.conftest import connect_world, make_sandbox
from tests.reliability.test_store_guard import make_store, overwrite_middle_pages
from tests.waiting import next_event

CONTACT_SQL = ("SELECT c.email_norm, c.first_name, c.last_name, c.company, c.lifecycle_stage, l.crm_id FROM contacts c "
               "LEFT JOIN crm_links l ON l.contact_id = c.id ORDER BY c.email_norm")


def contacts_in(path: Path) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(CONTACT_SQL).fetchall()


async def test_a_backup_taken_while_a_sync_writes_restores_and_converges(short_tmp: Path) -> None:
    state, app = make_sandbox(contacts=2000, latency_ms=40)
    world = await connect_world(short_tmp, state, app)
    original = world.agent
    try:
        async with RpcClient(original.socket_path) as client:
            await client.call("events.subscribe", {})
            await client.call("sync.run", {"wait": False})
            await next_event(client, lambda e: e.get("type") == "progress" and e.get("phase") == "pull",
                             what="the first pulled page")
            backup = await client.call("store.backup", {"path": str(short_tmp / "mid-sync.db")})
            still_running = original.current_run
            finished = await next_event(client, lambda e: e.get("type") == "run_finished", timeout_s=120,
                                        what="the end of the sync")
        assert still_running == finished["run"]["id"]  # the backup was taken with the sync in the middle of its pull
        assert finished["run"]["status"] == "ok"
        in_backup = contacts_in(Path(backup["path"]))
        assert 0 < len(in_backup) < 2000
        assert stat.S_IMODE(os.stat(backup["path"]).st_mode) == 0o600

        fresh = short_tmp / "fresh"
        assert restore_store(fresh, Path(backup["path"])) is None  # nothing to put aside in a fresh dir
        shutil.copytree(original.data_dir / "secrets", fresh / "secrets")  # secrets are not in a backup
        restored = Agent(fresh, short_tmp / "restored.sock",
                         connector_options={"transport": httpx.ASGITransport(app=app), "rate_limit_per_10s": 100_000,
                                            "search_per_s": 1000.0})
        await restored.start()
        try:
            assert contacts_in(db_path(fresh)) == in_backup
            async with RpcClient(restored.socket_path) as client:
                again = await client.call("sync.run", {"wait": True})
            assert again["status"] == "ok", again
            assert contacts_in(db_path(fresh)) == contacts_in(db_path(original.data_dir))
            assert len(contacts_in(db_path(fresh))) == 2000
        finally:
            await restored.stop()
    finally:
        await original.stop()


async def test_restore_is_refused_while_the_agent_runs(short_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state, app = make_sandbox(contacts=20)
    world = await connect_world(short_tmp, state, app)
    try:
        code = await asyncio.to_thread(main, ["--socket", str(world.agent.socket_path), "backup", str(short_tmp)])
        assert code == 0
        printed = re.match(r"store backed up to (\S+) \(\d+ bytes", capsys.readouterr().out)
        assert printed, "leadsync backup printed no path"
        backup = {"path": printed.group(1)}
        with pytest.raises(AgentAlreadyRunningError, match=r"an agent is running on .*: stop it first"):
            restore_store(world.agent.data_dir, Path(backup["path"]))
    finally:
        await world.agent.stop()
    assert restore_store(world.agent.data_dir, Path(backup["path"])) is not None  # once stopped it restores


def test_a_damaged_backup_is_refused_and_the_store_left_alone(short_tmp: Path, capsys: pytest.CaptureFixture[str]
                                                               ) -> None:
    data = short_tmp / "data"
    before = contacts_in(make_store(data, contacts=50))
    bad = make_store(short_tmp / "bad", contacts=3000)
    overwrite_middle_pages(bad)
    with pytest.raises(StoreDamagedError, match="nothing was restored"):
        restore_store(data, bad)
    assert contacts_in(db_path(data)) == before
    assert sorted(p.name for p in data.iterdir() if "leadsync.db" in p.name) == ["leadsync.db"]
    assert main(["restore", str(bad), "--data-dir", str(data)]) == 1
    assert f"the backup {bad} is damaged" in capsys.readouterr().err


def test_restore_keeps_the_previous_store_aside(short_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = short_tmp / "data"
    previous = contacts_in(make_store(data, contacts=10))
    backup = make_store(short_tmp / "other", contacts=30)
    assert main(["restore", str(backup), "--data-dir", str(data)]) == 0
    assert "the previous store is kept at" in capsys.readouterr().out
    aside = next(data.glob("leadsync.db.before-restore-*"))
    assert contacts_in(aside) == previous
    assert contacts_in(db_path(data)) == contacts_in(backup)
    assert stat.S_IMODE(db_path(data).stat().st_mode) == 0o600


async def test_scheduled_backups_keep_the_newest(short_tmp: Path) -> None:
    state, app = make_sandbox(contacts=20)
    world = await connect_world(short_tmp, state, app)
    agent = world.agent
    target = short_tmp / "backups"
    try:
        async with RpcClient(agent.socket_path) as client:
            await client.call("settings.update", {"backup_interval_hours": 6, "backup_dir": str(target),
                                                  "backup_keep": 2})
            job = agent.scheduler.get_job(BACKUP_JOB)
            assert job is not None and job.trigger.interval.total_seconds() == 6 * 3600
            first, second, third = [await agent.backups.run() for _ in range(3)]
            assert first is not None and second is not None and third is not None
            assert [str(p) for p in sorted(target.glob("leadsync-*.db"))] == [second.path, third.path]
            assert (second.pruned, third.pruned) == ([], [first.path])
            assert stat.S_IMODE(target.stat().st_mode) == 0o700
            with pytest.raises(Exception, match="backup_interval_hours: 1 to 720"):
                await client.call("settings.update", {"backup_interval_hours": 0})
            await client.call("settings.update", {"clear": ["backup_interval_hours"]})
            assert agent.scheduler.get_job(BACKUP_JOB) is None
    finally:
        await agent.stop()
