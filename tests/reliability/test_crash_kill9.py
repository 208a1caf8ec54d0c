"""Crash safety (issue 7, invariant 3): the agent is killed with SIGKILL at 24 different points of large
syncs, restarted each time, and once syncs have converged both sides are complete and duplicate-free, and
the search index (left to the end of the first pull, built when a restart finds it left so) holds every
contact as it is.

Real processes: ``leadsync sandbox --port 0 --contacts 5000`` and ``leadsync agent --data-dir D --socket S``
(``LEADSYNC_HUBSPOT_RATE_LIMIT_PER_10S`` lifts the connector's own rate limit so the test runs fast).
Between kills the test edits contacts locally, creates new leads and edits other contacts in the CRM.
Kill points: during the first 5,000-contact pull (after a given number of pulled records), at fixed
delays after a sync starts, after the first push batch, and while the CRM is answering a write it has
already carried out (the answer's body is held back, so the agent dies before recording it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadsync.agent.store.migrations import SEARCH_DOC
from leadsync.common.paths import db_path
from leadsync.common.rpc import RpcClient, call_once
from tests.conftest import SANDBOX_TOKEN
from tests.reliability.conftest import AgentProcess, SandboxProcess

CONTACTS = 5000
LOCAL_EDITS = 15  # company changed locally per round
CRM_EDITS = 15  # jobtitle changed in the CRM per round
NEW_LEADS = 25  # leads created locally per round
AGENT_ENV = {"LEADSYNC_HUBSPOT_RATE_LIMIT_PER_10S": "100000"}


@dataclass(frozen=True)
class KillPoint:
    """When to kill: on an event (``pull_done`` records pulled, or the first push batch), ``delay_ms`` after
    the sync was asked for, or when the CRM has received its ``nth_write`` write (answer held back)."""

    label: str
    pull_done: int | None = None
    first_push: bool = False
    delay_ms: int = 0
    nth_write: int | None = None


KILL_POINTS = [
    # the first, 5,000-contact pull, resumed from its cursor each time (counts are per run: 3,800 in all)
    *(KillPoint(f"first pull, {n} records into the run", pull_done=n) for n in (300, 600, 900, 600, 900, 300, 200)),
    # a fixed time after the run started: directory refresh, incremental pull, push
    *(KillPoint(f"{ms} ms after a run started", delay_ms=ms) for ms in (0, 20, 50, 90, 140, 200, 300)),
    # just after the first push batch was recorded, and a little later
    *(KillPoint(f"{ms} ms after the first push batch", first_push=True, delay_ms=ms) for ms in (0, 10, 30)),
    # the CRM carried out a write; its answer is on the way (slow body) when the agent dies
    *(KillPoint(f"while the CRM answers write #{n}", nth_write=n) for n in (1, 2, 1, 2, 3, 1, 2)),
]


@dataclass
class Expected:
    """What must hold once syncs converge."""

    company: dict[int, str] = field(default_factory=dict)  # local contact id -> company set locally
    jobtitle: dict[str, str] = field(default_factory=dict)  # CRM id -> jobtitle set in the CRM
    leads: list[str] = field(default_factory=list)  # emails of leads created locally
    kills: list[str] = field(default_factory=list)  # where each kill landed
    cut_short: int = 0  # kills that surely interrupted a run


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    sandbox = SandboxProcess(CONTACTS)
    yield sandbox
    sandbox.close()


def start_agent(tmp: Path) -> AgentProcess:
    agent = AgentProcess(tmp / "data", tmp / "agent.sock", tmp / "agent.log", env=AGENT_ENV)
    agent.wait_ready()
    return agent


async def sync_and_kill(agent: AgentProcess, sandbox: SandboxProcess, point: KillPoint) -> tuple[str, bool]:
    """Ask for a sync, SIGKILL the agent at ``point``; returns where the kill landed (the last event seen) and
    whether it surely cut a run short (a pull page or a write's answer was pending)."""
    last = "no event yet"
    cut_short = ""
    held_back = point.nth_write is not None
    async with httpx.AsyncClient(base_url=sandbox.url) as admin, RpcClient(agent.sock, timeout_s=60) as client:
        writes_before = (await admin.get("/__sandbox/stats")).json()["write_requests"]
        if held_back:
            await admin.post("/__sandbox/faults", json={"slow_body_ms": 400})
        await client.call("events.subscribe", {})
        await client.call("sync.run", {"wait": False})
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def pump() -> None:
            async for event in client.events():
                await events.put(event)

        pumping = asyncio.create_task(pump())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        try:
            while loop.time() < deadline:
                if held_back:
                    writes = (await admin.get("/__sandbox/stats")).json()["write_requests"] - writes_before
                    assert point.nth_write is not None
                    if writes >= point.nth_write:
                        cut_short = f"the CRM received write #{writes}, its answer held back"
                        break
                try:
                    event = await asyncio.wait_for(events.get(), 0.005 if held_back else 1.0)
                except TimeoutError:
                    continue
                kind = event.get("type")
                if kind == "progress":
                    last = f"{event['phase']} progress {event['done']}/{event.get('total')}"
                elif kind in ("run_started", "run_finished"):
                    last = str(kind)
                if kind == "run_finished":
                    break
                if point.pull_done is not None and kind == "progress" and event["phase"] == "pull" \
                        and event["done"] >= point.pull_done:
                    cut_short = "more pages to pull"
                    break
                if point.first_push and kind == "progress" and event["phase"] == "push":
                    break
                if point.pull_done is None and not point.first_push and not held_back:
                    break  # a delay from the start
            await asyncio.sleep(point.delay_ms / 1000)
            while not events.empty():  # what happened during the delay
                event = events.get_nowait()
                if event.get("type") == "progress":
                    last = f"{event['phase']} progress {event['done']}/{event.get('total')}"
                elif event.get("type") in ("run_started", "run_finished"):
                    last = str(event["type"])
            os.kill(agent.pid, signal.SIGKILL)
        finally:
            pumping.cancel()
            if held_back:
                await admin.post("/__sandbox/faults", json={"slow_body_ms": 0})
    agent.kill9()
    return f"{cut_short}; last event {last}" if cut_short else f"last event {last}", bool(cut_short)


def edit_both_sides(sock: Path, sandbox: SandboxProcess, round_no: int, user_id: int, expected: Expected) -> None:
    """Local company edits on pulled contacts, new leads, and jobtitle edits in the CRM on other contacts."""
    linked = [c for c in call_once(sock, "contacts.list", {"limit": 500})["contacts"] if c["crm_id"]]
    for contact in linked[round_no * LOCAL_EDITS % 450:][:LOCAL_EDITS]:
        value = f"Local r{round_no}"
        call_once(sock, "contacts.update", {"id": contact["id"], "fields": {"company": value}})
        expected.company[contact["id"]] = value
    for i in range(NEW_LEADS):
        email = f"crash.lead.r{round_no}.{i}@example.org"
        call_once(sock, "contacts.create", {"created_by": user_id, "fields": {"email": email, "first_name": "Lead"}})
        expected.leads.append(email)
    first = 1001 + 2500 + round_no * CRM_EDITS  # seeded ids run 1001..6000; local edits use the first 500
    inputs = [{"id": str(first + j), "properties": {"jobtitle": f"CRM r{round_no}"}} for j in range(CRM_EDITS)]
    sandbox.api("POST", "/crm/v3/objects/contacts/batch/update", SANDBOX_TOKEN, body={"inputs": inputs})
    expected.jobtitle.update({i["id"]: i["properties"]["jobtitle"] for i in inputs})


def all_local(sock: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = None
    while True:
        page = call_once(sock, "contacts.list", {"limit": 500, "after": after})
        out += page["contacts"]
        after = page["next_after"]
        if after is None:
            return out


@pytest.mark.slow  # ~45 s: 24 agent processes killed and restarted
def test_kill_9_at_24_points_then_both_sides_converge_without_duplicates_or_losses(
        short_tmp: Path, sandbox: SandboxProcess) -> None:
    expected = Expected()
    agent = start_agent(short_tmp)
    call_once(agent.sock, "crm.connect", {"crm": "hubspot", "base_url": sandbox.url,
                                         "credentials": {"token": SANDBOX_TOKEN}})
    user_id: int | None = None
    try:
        for round_no, point in enumerate(KILL_POINTS):
            if user_id is None and round_no >= 1:  # owners are known once a run has started
                owner = next(o for o in call_once(agent.sock, "users.list")["unmatched_owners"] if o["active"])
                user_id = call_once(agent.sock, "users.create", {"email": owner["email"]})["id"]
            if user_id is not None and point.pull_done is None:
                edit_both_sides(agent.sock, sandbox, round_no, user_id, expected)
            landed, cut_short = asyncio.run(sync_and_kill(agent, sandbox, point))
            expected.kills.append(f"{point.label}: killed with {landed}")
            expected.cut_short += cut_short
            agent = start_agent(short_tmp)

        runs = [call_once(agent.sock, "sync.run", {"wait": True}, timeout_s=300)]
        while any(runs[-1][k] for k in ("created_local", "updated_local", "created_crm", "updated_crm", "linked")):
            assert len(runs) < 6, f"no convergence: {runs}"
            runs.append(call_once(agent.sock, "sync.run", {"wait": True}, timeout_s=300))
        local = all_local(agent.sock)
        errors = call_once(agent.sock, "errors.list", {"limit": 100})
        history = call_once(agent.sock, "sync.history", {"limit": 100})
    finally:
        agent.close()
    report = "\n".join(expected.kills)
    assert len(expected.kills) == len(KILL_POINTS) >= 20

    crm = sandbox.all_contacts(SANDBOX_TOKEN)
    crm_by_id = {c["id"]: c["properties"] for c in crm}
    crm_emails = Counter((c["properties"].get("email") or "").strip().lower() for c in crm)
    duplicated = {email: n for email, n in crm_emails.items() if n > 1}
    assert duplicated == {}, f"duplicate emails in the CRM: {duplicated}\n{report}"
    assert len(crm) == CONTACTS + len(expected.leads) == sandbox.admin("GET", "/__sandbox/stats")["contacts"]["live"]

    lost_leads = [e for e in expected.leads if crm_emails.get(e) != 1]
    assert lost_leads == [], f"leads missing from the CRM: {lost_leads}\n{report}"
    local_by_email = Counter((c["email"] or "").lower() for c in local)
    assert [e for e in expected.leads if local_by_email.get(e) != 1] == []

    local_by_id = {c["id"]: c for c in local}
    unpushed = {cid: (value, crm_by_id.get(local_by_id[cid]["crm_id"] or "", {}).get("company"))
                for cid, value in expected.company.items()
                if crm_by_id.get(local_by_id[cid]["crm_id"] or "", {}).get("company") != value}
    assert unpushed == {}, f"local edits missing in the CRM (wanted, found): {unpushed}\n{report}"

    local_by_crm_id = {c["crm_id"]: c for c in local if c["crm_id"]}
    unpulled = {crm_id: (value, (local_by_crm_id.get(crm_id) or {}).get("job_title"))
                for crm_id, value in expected.jobtitle.items()
                if (local_by_crm_id.get(crm_id) or {}).get("job_title") != value}
    assert unpulled == {}, f"CRM edits missing locally (wanted, found): {unpulled}\n{report}"

    missing_locally = sorted(set(crm_by_id) - set(local_by_crm_id), key=int)
    assert missing_locally == [], f"{len(missing_locally)} CRM contacts not local: {missing_locally[:20]}\n{report}"
    assert len(local) == len(crm), f"{len(local)} local contacts for {len(crm)} in the CRM\n{report}"
    assert errors == []
    assert runs[-1]["status"] == "ok" and runs[-1]["failed"] == 0
    assert sum(r["status"] == "interrupted" for r in history) >= expected.cut_short >= 7, report
    with sqlite3.connect(db_path(short_tmp / "data")) as raw:  # the first pull left the index to its end (issue 15)
        docs = raw.execute(f"SELECT id, {SEARCH_DOC.format(p='contacts')} FROM contacts ORDER BY id").fetchall()
        assert raw.execute("SELECT rowid, doc FROM contacts_search ORDER BY rowid").fetchall() == docs
        assert raw.execute("SELECT count(*) FROM search_backlog").fetchone() == (0,)
    print(report)
