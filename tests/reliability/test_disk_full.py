"""A full disk (issue 16): the agent's data dir on a small tmpfs, mounted in a user and mount namespace of its
own (``unshare -Urm``, no root needed), filled through ``/proc/PID/root`` while a sync runs.

The sync run fails with "disk full at PATH, nothing was written" (not a crash, the agent keeps serving), so does
every write method (JSON-RPC code DISK_FULL, data ``{"reason": "disk_full", "path": ...}``), reads still answer,
and once space returns the agent writes again, records the failed run and syncs to the end.
"""

from __future__ import annotations

import asyncio
import errno
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leadsync.common.errors import RpcCode
from leadsync.common.rpc import RpcClient, RpcError
from tests.conftest import SANDBOX_TOKEN
from tests.reliability.conftest import AgentProcess, SandboxProcess
from tests.waiting import eventually, next_event

MOUNT = 'mount -t tmpfs -o size=48m,mode=0700 tmpfs "$0" && exec "$@"'


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        return False
    probe = subprocess.run(["unshare", "-Urm", "sh", "-c", 'mount -t tmpfs -o size=1m tmpfs "$0"', "/tmp"],
                           capture_output=True, check=False)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(not _namespaces_work(), reason="needs unprivileged user and mount namespaces")


@pytest.fixture(scope="module")
def slow_sandbox() -> Iterator[SandboxProcess]:
    """3,000 contacts answering after 25 ms: a first sync takes a few seconds."""
    sandbox = SandboxProcess(3000)
    sandbox.admin("POST", "/__sandbox/faults", {"latency_ms": 25})
    yield sandbox
    sandbox.close()


def fill(ballast: Path) -> None:
    """Write ``ballast`` until the disk is full; unbuffered, so that closing it has nothing left to write."""
    with open(ballast, "ab", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc


CHECKPOINT = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30)
while db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] != 0:
    pass
"""


def checkpoint(pid: int, db: Path) -> None:
    """Move the WAL into the database and truncate it to nothing, so that the next write has to grow it: from
    inside the agent's namespaces (SQLite resolves ``/proc/PID/root`` to our own root)."""
    subprocess.run(["nsenter", "-t", str(pid), "-U", "-m", "--preserve-credentials", sys.executable, "-c",
                    CHECKPOINT, str(db)], check=True, timeout=60)


async def disk_full_error(client: RpcClient, method: str, params: dict[str, Any]) -> RpcError:
    with pytest.raises(RpcError) as caught:
        await client.call(method, params)
    return caught.value


async def test_a_full_disk_is_reported_everywhere_and_the_agent_recovers(short_tmp: Path,
                                                                          slow_sandbox: SandboxProcess) -> None:
    disk = short_tmp / "disk"
    disk.mkdir()
    agent = AgentProcess(disk / "data", short_tmp / "agent.sock", short_tmp / "agent.log",
                         wrap=["unshare", "-Urm", "sh", "-c", MOUNT, str(disk)])
    try:
        agent.wait_ready()
        seen = Path(f"/proc/{agent.pid}/root{disk}")  # the tmpfs as the agent sees it
        db = disk / "data" / "leadsync.db"
        ballasts = [seen / "ballast-1", seen / "ballast-2"]
        message = f"disk full at {disk}/data/leadsync.db, nothing was written"
        async with RpcClient(agent.sock, timeout_s=60) as client:
            await client.call("crm.connect", {"crm": "hubspot", "base_url": slow_sandbox.url,
                                              "credentials": {"token": SANDBOX_TOKEN}})
            await client.call("events.subscribe", {})
            await client.call("sync.run", {"wait": False})
            await next_event(client, lambda e: e.get("type") == "progress" and e.get("phase") == "pull",
                             what="the first pulled page")
            checkpoint(agent.pid, db)
            fill(ballasts[0])
            ended = await next_event(client, lambda e: e.get("type") == "run_finished", timeout_s=120,
                                     what="the end of the sync")
            assert ended["run"]["status"] == "failed" and ended["run"]["error"] == message, ended
            contacts_then = (await client.call("agent.status"))["contacts"]  # reads still answer

            ballasts[0].unlink()  # some room, for a CRM owner's user (the run saved the owners first)
            owner = next(o for o in (await client.call("users.list"))["unmatched_owners"] if o["active"])
            creator = await client.call("users.create", {"email": owner["email"]})
            checkpoint(agent.pid, db)  # the failed page's frames freed too: every write must grow the WAL
            fill(ballasts[1])
            new_lead = {"created_by": creator["id"], "fields": {"email": "n@x.io"}}
            for method, params in [("contacts.create", new_lead),
                                   ("settings.update", {"sync_interval_minutes": 30}),
                                   ("sync.run", {"wait": True})]:
                refused = await disk_full_error(client, method, params)
                assert (refused.code, refused.message) == (RpcCode.DISK_FULL, message), method
                assert refused.data == {"reason": "disk_full", "path": f"{disk}/data/leadsync.db"}
            assert (await client.call("agent.status"))["contacts"] == contacts_then  # nothing was written

            ballasts[1].unlink()  # space returns
            created = await client.call("contacts.create", new_lead)
            assert created["email"] == "n@x.io"
            assert (await client.call("sync.run", {"wait": True}))["status"] == "ok"
            status = await client.call("agent.status")
            assert status["contacts"] == 3001

            async def failed_run_recorded() -> bool:
                history = await client.call("sync.history", {})
                return any(r["id"] == ended["run"]["id"] and r["status"] == "failed" and r["error"] == message
                           for r in history)

            recorded = [False]

            async def poll() -> None:
                while not recorded[0]:
                    recorded[0] = await failed_run_recorded()
                    await asyncio.sleep(0.2)

            await asyncio.wait_for(poll(), 20)
        await eventually(lambda: agent.proc.poll() is None, what="the agent still running")
    finally:
        code = agent.terminate() if agent.proc.poll() is None else agent.proc.returncode
        agent.close()
    assert code == 0, agent.log_path.read_text()
