"""``serve`` on loopback: port 0 picks a free port and the actual URL is announced on stdout."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx


def test_port_zero_announces_the_actual_url_as_a_json_line() -> None:
    command = [
        sys.executable,
        "-m",
        "leadsync.agent.connectors.hubspot.sandbox.serve",
        "--port",
        "0",
        "--contacts",
        "50",
        "--token",
        "tok",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        announcement = json.loads(proc.stdout.readline())
        assert announcement["event"] == "listening"
        url = announcement["url"]
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        answer = httpx.get(f"{url}/crm/v3/objects/contacts", headers={"Authorization": "Bearer tok"}, timeout=10)
        assert answer.status_code == 200 and len(answer.json()["results"]) == 10
    finally:
        proc.terminate()
        proc.wait(timeout=10)
