"""The store checks itself, and the agent guards its files and memory (issue 16).

- A store damaged in the middle of the file is refused at start (quick_check): the agent exits 1 with a message
  naming the file and ``leadsync restore``, and never listens. Damage only the full check sees (an index out of
  step with its table) is refused with ``--integrity-check``.
- Every file the agent writes is 0600 and its directories 0700, an older 0644 store included; the running
  agent has umask 077, a core-file limit of 0 and is not dumpable (``/proc/PID/status``, ``/proc/PID/limits``).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from leadsync.agent.store import Store
from leadsync.agent.store.integrity import integrity_problems
from leadsync.common.paths import db_path
from leadsync.common.rpc import call_once
from tests.conftest import SANDBOX_TOKEN
from tests.reliability.conftest import LEADSYNC, AgentProcess, SandboxProcess, _env

PAGE = 4096


def make_store(data: Path, contacts: int = 3000) -> Path:
    """A store with ``contacts`` contacts (a few hundred pages), closed cleanly (no WAL left)."""
    async def fill() -> None:
        store = await Store.open(db_path(data))
        async with store.transaction() as db:
            await db.executemany(
                "INSERT INTO contacts(email, email_norm, first_name, company, owner_id, source, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, 'api', 0, 0)",
                [(f"p{i}@example.com", f"p{i}@example.com", f"Person {i}", f"Company {i % 97}", str(i % 7))
                 for i in range(contacts)])
        await store.close()

    asyncio.run(fill())
    return db_path(data)


def overwrite_middle_pages(path: Path, pages: int = 8) -> None:
    """Overwrite ``pages`` pages in the middle of the file with garbage, as a bad disk or a stray write would."""
    size = path.stat().st_size
    assert size > 40 * PAGE, size
    with open(path, "r+b") as handle:
        handle.seek((size // PAGE // 2) * PAGE)
        handle.write(bytes(range(256)) * (pages * PAGE // 256))


def run_agent(data: Path, sock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LEADSYNC), "agent", "--data-dir", str(data), "--socket", str(sock), *args],
                          capture_output=True, text=True, timeout=60, env=_env(), check=False)


def test_a_store_damaged_in_the_middle_is_refused_with_how_to_restore(short_tmp: Path) -> None:
    db = make_store(short_tmp / "data")
    overwrite_middle_pages(db)
    result = run_agent(short_tmp / "data", short_tmp / "agent.sock")
    assert result.returncode == 1, result.stderr
    assert f"the store {db} is damaged and will not be served" in result.stderr
    assert f"leadsync restore BACKUP.db --data-dir {db.parent}" in result.stderr
    assert not (short_tmp / "agent.sock").exists()  # never served
    assert "agent listening" not in result.stderr


def test_damage_only_the_full_check_finds_is_refused_with_integrity_check(short_tmp: Path) -> None:
    db = make_store(short_tmp / "data")
    with sqlite3.connect(db) as raw:  # the index now claims another column than it holds
        raw.execute("PRAGMA writable_schema=ON")
        raw.execute("UPDATE sqlite_schema SET sql = 'CREATE INDEX contacts_owner ON contacts(company, id)' "
                    "WHERE name = 'contacts_owner'")
    assert integrity_problems(db) == []  # quick_check does not compare indexes with their tables
    assert integrity_problems(db, full=True)
    result = run_agent(short_tmp / "data", short_tmp / "agent.sock", "--integrity-check")
    assert result.returncode == 1, result.stderr
    assert f"the store {db} is damaged" in result.stderr
    assert "contacts_owner" in result.stderr  # SQLite's own words: which index


def test_a_healthy_store_passes_both_checks(short_tmp: Path) -> None:
    db = make_store(short_tmp / "data", contacts=200)
    assert integrity_problems(db) == [] and integrity_problems(db, full=True) == []


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _proc_field(pid: int, name: str, field: str) -> str:
    line = next(line for line in Path(f"/proc/{pid}/{name}").read_text().splitlines() if line.startswith(field))
    return line[len(field):].strip()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_files_are_private_and_the_agent_process_keeps_its_memory(short_tmp: Path) -> None:
    data = short_tmp / "data"
    data.mkdir(mode=0o755)
    old = sqlite3.connect(db_path(data))  # a store made before this release, 0644
    old.close()
    os.chmod(db_path(data), 0o644)
    sandbox = SandboxProcess(50)
    agent = AgentProcess(data, short_tmp / "agent.sock", short_tmp / "agent.log")
    try:
        agent.wait_ready()
        call_once(agent.sock, "crm.connect", {"crm": "hubspot", "base_url": sandbox.url,
                                             "credentials": {"token": SANDBOX_TOKEN}}, timeout_s=30)
        assert call_once(agent.sock, "sync.run", {"wait": True}, timeout_s=60)["status"] == "ok"
        backup = call_once(agent.sock, "store.backup", {"path": str(short_tmp)}, timeout_s=60)
        status = call_once(agent.sock, "agent.status", timeout_s=10)
        umask = _proc_field(agent.pid, "status", "Umask:")
        core = _proc_field(agent.pid, "limits", "Max core file size").split()
        files = {p: _mode(p) for p in (db_path(data), data / "leadsync.db-wal", data / "leadsync.db-shm",
                                       data / "agent.lock", data / "secrets" / "hubspot.json", Path(backup["path"]),
                                       agent.sock)}
        dirs = {p: _mode(p) for p in (data, data / "secrets")}
    finally:
        agent.terminate()
        sandbox.close()
    assert files == dict.fromkeys(files, 0o600)
    assert dirs == dict.fromkeys(dirs, 0o700)
    assert umask == "0077"
    assert core[:2] == ["0", "0"]  # soft and hard
    assert status["process"] == {"dumpable": False, "core_limit_bytes": 0}
