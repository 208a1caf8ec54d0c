"""``leadsync demo``: a sandbox CRM, an agent and a first sync in a throwaway data dir.

Steps, all through the agent's socket API as a script would do them: connect the sandbox CRM, run
the first sync (pulls every contact and the owners), create users for three CRM owners (matched by
email), create new leads as those users, sync again (pushes them as leads owned by their creators),
and sync a third time (writes nothing). ``--headless`` prints a JSON summary and exits; otherwise
the TUI opens on the demo data.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from faker import Faker

from leadsync.agent.connectors.sandboxes import credentials as sandbox_credentials
from leadsync.agent.daemon import Agent
from leadsync.common.rpc import RpcClient

SANDBOX_TOKEN = "sandbox-token"


def start_sandbox(contacts: int, seed: int = 42, crm: str = "hubspot") -> tuple[subprocess.Popen[str], str]:
    """Start ``leadsync sandbox --crm CRM --port 0`` in a child process; returns it and its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "leadsync.agent.cli", "sandbox", "--crm", crm, "--port", "0",
         "--contacts", str(contacts),
         "--seed", str(seed), "--token", SANDBOX_TOKEN],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(message, dict) and message.get("event") == "listening":
            return proc, str(message["url"])
    proc.kill()
    raise RuntimeError("the sandbox exited before it listened")


async def prepare(client: RpcClient, base_url: str, new_leads: int, crm: str = "hubspot") -> dict[str, Any]:
    """Connect, first sync, users, new leads, second and third sync; returns the summary."""
    started = time.monotonic()
    await client.call("crm.connect", {"crm": crm, "base_url": base_url,
                                      "credentials": sandbox_credentials(crm, SANDBOX_TOKEN)})
    first = await client.call("sync.run", {"wait": True})
    owners = (await client.call("users.list"))["unmatched_owners"]
    active = [o for o in owners if o["active"]][:3]
    users = [await client.call("users.create", {"email": o["email"],
                                                "name": f"{o['first_name']} {o['last_name']}"})
             for o in active]
    fake = Faker()
    fake.seed_instance(7)
    for i in range(new_leads):
        first_name, last_name = fake.first_name(), fake.last_name()
        await client.call("contacts.create", {
            "created_by": users[i % len(users)]["id"],
            "fields": {"email": f"{first_name}.{last_name}.{i}@demo-leads.example".lower(),
                       "first_name": first_name, "last_name": last_name, "company": fake.company(),
                       "job_title": fake.job(), "phone": fake.numerify("+1-###-###-####"),
                       "lead_score": fake.random_int(0, 100)},
        })
    second = await client.call("sync.run", {"wait": True})
    third = await client.call("sync.run", {"wait": True})
    return {
        "crm": f"{crm} (sandbox)",
        "contacts_pulled": first["pulled"],
        "contacts_in_store": (await client.call("agent.status"))["contacts"],
        "leads_created_locally": new_leads,
        "leads_pushed": second["created_crm"],
        "linked": first["linked"] + second["linked"],
        "failed": first["failed"] + second["failed"],
        "api_calls": {"first_sync": first["api_calls"], "push_sync": second["api_calls"],
                      "third_sync": third["api_calls"]},
        "third_sync_writes": third["created_crm"] + third["updated_crm"] + third["created_local"]
        + third["updated_local"],
        "third_sync_noop": third["created_crm"] + third["updated_crm"] + third["created_local"]
        + third["updated_local"] == 0,
        "users": [u["email"] for u in users],
        "seconds": round(time.monotonic() - started, 2),
        "runs": [first, second, third],
    }


async def _demo(data: Path, base_url: str, headless: bool, new_leads: int, crm: str) -> int:
    sock = data / "agent.sock"
    agent = Agent(data, sock)
    await agent.start()
    try:
        async with RpcClient(sock, timeout_s=None) as client:
            summary = await prepare(client, base_url, new_leads, crm)
        if headless:
            runs = summary.pop("runs")
            summary["first_sync_status"] = runs[0]["status"]
            print(json.dumps(summary, indent=2))
            return 0 if all(r["status"] == "ok" for r in runs) and summary["third_sync_noop"] else 1
        try:
            from leadsync.tui.app import LeadsyncApp
        except ImportError:
            print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=2))
            print(f"agent running on {sock}; try: leadsync --socket {sock} status   (Ctrl-C to stop)")
            await asyncio.Event().wait()
            return 0
        await LeadsyncApp(sock).run_async()
        return 0
    finally:
        await agent.stop()


def run_demo(*, headless: bool, contacts: int, new_leads: int, keep: bool, crm: str = "hubspot") -> int:
    """Run the demo; returns the exit code (non-zero if any sync failed or the third sync wrote)."""
    data = Path(tempfile.mkdtemp(prefix="leadsync-demo-"))
    if not headless:
        print(f"starting a {crm} sandbox with {contacts} contacts…", file=sys.stderr)
    proc, base_url = start_sandbox(contacts, crm=crm)
    try:
        return asyncio.run(_demo(data, base_url, headless, new_leads, crm))
    except KeyboardInterrupt:
        return 130
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if not keep:
            shutil.rmtree(data, ignore_errors=True)
