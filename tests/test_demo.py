"""``leadsync demo --headless --crm NAME`` round-trips for every CRM, as a newcomer would run it: a sandbox
in a child process, an agent, a first sync, new leads pushed, and a third sync that writes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from leadsync.agent.connectors.sandboxes import SANDBOX_CRMS
from leadsync.agent.connectors.sandboxes import credentials as sandbox_credentials


@pytest.mark.slow  # 3 to 6 s per CRM: a sandbox and an agent process, 10,000 seeded contacts
@pytest.mark.parametrize("crm", SANDBOX_CRMS)
def test_headless_demo_round_trips(crm: str) -> None:
    env = {**os.environ, "LEADSYNC_HUBSPOT_RATE_LIMIT_PER_10S": "10000"}
    done = subprocess.run([sys.executable, "-m", "leadsync.agent.cli", "demo", "--headless", "--crm", crm,
                           "--contacts", "400", "--leads", "6"], capture_output=True, text=True, timeout=180,
                          env=env, check=False)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["crm"] == f"{crm} (sandbox)"
    assert summary["contacts_pulled"] > 300
    assert summary["contacts_in_store"] == summary["contacts_pulled"] + 6
    assert (summary["leads_pushed"], summary["failed"]) == (6, 0)
    assert summary["third_sync_noop"] is True
    for secret in sandbox_credentials(crm, "sandbox-token").values():
        if secret.startswith("sandbox-") and not secret.endswith("-id"):
            assert secret not in done.stdout + done.stderr  # secrets never reach the output
