"""The agent as a systemd service (issue 7): READY/WATCHDOG/STOPPING on the notify socket, SIGTERM in the
middle of a sync (clean exit, run recorded as interrupted, next sync converges), SIGHUP reloads settings,
and info-level logs with record ids but no personal data."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from leadsync.common.rpc import call_once
from tests.conftest import SANDBOX_TOKEN
from tests.reliability.conftest import AgentProcess, SandboxProcess, wait_for_event

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


@pytest.fixture(scope="module")
def slow_sandbox() -> Iterator[SandboxProcess]:
    """A sandbox of 3,000 contacts answering after 25 ms, so a first sync takes a few seconds."""
    sandbox = SandboxProcess(3000)
    sandbox.admin("POST", "/__sandbox/faults", {"latency_ms": 25})
    yield sandbox
    sandbox.close()


def connect(agent: AgentProcess, sandbox: SandboxProcess) -> None:
    call_once(agent.sock, "crm.connect", {"crm": "hubspot", "base_url": sandbox.url,
                                         "credentials": {"token": SANDBOX_TOKEN}}, timeout_s=30)


def test_systemd_hears_ready_watchdog_pings_and_stopping(short_tmp: Path) -> None:
    agent = AgentProcess(short_tmp / "data", short_tmp / "agent.sock", short_tmp / "agent.log",
                         env={"WATCHDOG_USEC": "200000"})
    notify = agent.notify
    try:
        notify.wait_for("READY=1")
        notify.collect(0.6)  # WatchdogSec=0.2 s: a ping every 0.1 s
        pings = sum(m == "WATCHDOG=1" for m in notify.messages)
        code = agent.terminate()
        notify.wait_for("STOPPING=1")
    finally:
        agent.close()
    assert code == 0
    assert pings >= 3, notify.messages
    assert notify.messages.index("READY=1") < notify.messages.index("STOPPING=1")


def test_no_watchdog_pings_unless_systemd_asks_for_them(short_tmp: Path) -> None:
    agent = AgentProcess(short_tmp / "data", short_tmp / "agent.sock", short_tmp / "agent.log",
                         env={"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
    notify = agent.notify
    try:
        notify.wait_for("READY=1")
        notify.collect(0.4)
    finally:
        agent.terminate()
    assert "WATCHDOG=1" not in notify.messages  # WATCHDOG_PID names another process


def test_sigterm_mid_sync_exits_cleanly_records_the_run_interrupted_and_the_next_sync_converges(
        short_tmp: Path, slow_sandbox: SandboxProcess) -> None:
    data, sock, log = short_tmp / "data", short_tmp / "agent.sock", short_tmp / "agent.log"
    agent = AgentProcess(data, sock, log)
    try:
        agent.wait_ready()
        connect(agent, slow_sandbox)
        _, progress = wait_for_event(sock, "sync.run", {"wait": False}, lambda e: e.get("type") == "progress"
                                     and e.get("phase") == "pull" and e.get("done", 0) >= 200)
        started = time.monotonic()
        code = agent.terminate(timeout_s=10)
        took = time.monotonic() - started
    finally:
        agent.close()
    assert code == 0 and took < 5, (code, took)
    agent.notify.wait_for("STOPPING=1")

    again = AgentProcess(data, sock, log)
    try:
        again.wait_ready()
        history = call_once(sock, "sync.history", {"limit": 5})
        interrupted = next(r for r in history if r["id"] == progress["run_id"])
        finished = call_once(sock, "sync.run", {"wait": True}, timeout_s=120)
        local = call_once(sock, "agent.status")["contacts"]
    finally:
        again.terminate()
    assert interrupted["status"] == "interrupted", interrupted
    assert 0 < interrupted["pulled"] < 3000
    assert finished["status"] == "ok"
    assert local == slow_sandbox.admin("GET", "/__sandbox/stats")["contacts"]["live"] == 3000


def set_setting(data: Path, key: str, value: str) -> None:
    """Write a setting straight into the store, as an administrator's script would, behind the agent's back."""
    with sqlite3.connect(data / "leadsync.db") as db:
        db.execute("INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
                   "excluded.value", (key, value))


def test_sighup_reloads_settings_and_reschedules_the_interval(short_tmp: Path) -> None:
    data, sock = short_tmp / "data", short_tmp / "agent.sock"
    agent = AgentProcess(data, sock, short_tmp / "agent.log")
    try:
        agent.wait_ready()
        before = call_once(sock, "settings.get")
        set_setting(data, "sync_interval_minutes", "30")
        set_setting(data, "push_enabled", "false")
        assert call_once(sock, "settings.get") == before  # nothing read until told

        agent.proc.send_signal(1)  # SIGHUP
        reloading = agent.notify.wait_for("RELOADING=1", timeout_s=10, process=agent.proc)
        # READY=1 again once the reload is applied (systemd's protocol for Type=notify reloads)
        agent.notify.wait_for("READY=1", since=reloading + 1, timeout_s=10, process=agent.proc)
        settings = call_once(sock, "settings.get")
        status = call_once(sock, "sync.status")
    finally:
        agent.terminate()
    assert before["sync_interval_minutes"] == 60 and before["push_enabled"] is True
    assert settings["sync_interval_minutes"] == 30
    assert settings["push_enabled"] is False
    assert status["interval_minutes"] == 30
    next_run_in_s = status["next_interval_run"] / 1000 - time.time()
    assert 0 < next_run_in_s <= 30 * 60 + 5  # rescheduled, not still an hour away
    assert "settings reloaded: sync_interval_minutes=30, push_enabled=False" in agent.log_path.read_text()


def test_info_logs_name_record_ids_but_no_personal_data(short_tmp: Path, slow_sandbox: SandboxProcess) -> None:
    data, sock = short_tmp / "data", short_tmp / "agent.sock"
    agent = AgentProcess(data, sock, short_tmp / "agent.log")
    try:
        agent.wait_ready()
        connect(agent, slow_sandbox)
        assert call_once(sock, "sync.run", {"wait": True}, timeout_s=120)["status"] == "ok"  # owners known
        owner = next(o for o in call_once(sock, "users.list")["unmatched_owners"] if o["active"])
        user = call_once(sock, "users.create", {"email": owner["email"], "name": "Logged Creator"})
        bad = call_once(sock, "contacts.create", {"created_by": user["id"], "fields": {
            "email": "ghöst.person@example.org", "first_name": "Ghostly"}})  # HubSpot refuses non-ASCII addresses
        call_once(sock, "contacts.create", {"created_by": user["id"], "fields": {
            "email": "visible.person@example.org", "first_name": "Visible", "last_name": "Person"}})
        run = call_once(sock, "sync.run", {"wait": True}, timeout_s=120)
        contacts = call_once(sock, "contacts.list", {"limit": 50})["contacts"]
    finally:
        agent.terminate()
    log = agent.log_path.read_text()
    assert run["status"] == "partial" and run["failed"] == 1, run
    assert f"sync run {run['id']} (manual) partial" in log
    assert f"contact {bad['id']}" in log  # the failed record by its id
    personal = {owner["email"], "ghöst.person@example.org", "visible.person@example.org", "Ghostly", "Visible"}
    personal |= {c["email"] for c in contacts} | {c["last_name"] for c in contacts if c["last_name"]}
    assert [p for p in personal if p in log] == []
    assert EMAIL.findall(log) == []
