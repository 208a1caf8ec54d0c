"""The import benchmark (``python -m tests.bench --only import``): a HubSpot-style CSV of 100,000 rows
(quick: 10,000) imported with ``leadsync import``'s own code path (:func:`~leadsync.common.importfile.upload.
import_file`, chunks over the socket) into a ``leadsync agent`` process with no CRM.

Reports rows/s, the agent's peak RSS, and the importing side's peak Python allocations (tracemalloc)
for the file and for a file a tenth its size: streaming keeps that figure flat in file size. The
full file is previewed (``--dry-run``) twice before it is imported, and the agent's resident set is
read after each: what the agent keeps per file (the first line of each email) is on disk and freed by
the last chunk, so the second preview does not grow it.
"""

from __future__ import annotations

import asyncio
import csv
import time
import tracemalloc
from pathlib import Path
from typing import Any

from leadsync.common.importfile.upload import import_file
from leadsync.common.rpc import RpcClient, call_once
from tests.bench_procs import start_agent

HEADER = ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Contact owner", "Lifecycle Stage",
          "Create Date", "Company Name", "Job Title", "HubSpot Score", "Lead Status", "City", "Postal Code"]


def write_file(path: Path, rows: int) -> Path:
    """A HubSpot contact export of ``rows`` rows (UTF-8 with BOM, as HubSpot writes it); emails are
    unique to the file (named after it)."""
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(rows):
            writer.writerow([n + 1, "Ada", f"Lovelace{n}", f"ada.{n}@{path.stem}.example", "+44 20 7946 0958",
                             "", "Lead", "2024-03-05 14:22", f"Company {n % 97}", "Countess", n % 101, "NEW",
                             "London", "N1 9GU"])
    return path


def measured_import(sock: Path, path: Path, dry_run: bool = False) -> tuple[dict[str, Any], float, float]:
    """(answer, seconds, peak MB of Python allocations on the importing side)."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        answer = import_file(lambda m, p: call_once(sock, m, p, timeout_s=600), str(path), as_user="bench@corp.com",
                             dry_run=dry_run)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    return answer, seconds, peak


async def import_rows_benchmark(work: Path, rows: int) -> dict[str, Any]:
    """Figures for importing ``rows`` rows: rows/s, agent peak RSS MB, client peak MB at 1/10 and full size."""
    agent = start_agent(work / "import-data", work / "import.sock", work / "import-agent.log")
    try:
        async with RpcClient(work / "import.sock") as client:
            await client.call("users.create", {"email": "bench@corp.com", "name": "Bench"})
        small = write_file(work / "import-small.csv", max(rows // 10, 1))
        _, _, small_peak = await asyncio.to_thread(measured_import, work / "import.sock", small)
        path = write_file(work / "import.csv", rows)
        previews = []
        for _ in range(2):
            await asyncio.to_thread(measured_import, work / "import.sock", path, True)
            previews.append(agent.usage().rss_mb)
        answer, seconds, peak = await asyncio.to_thread(measured_import, work / "import.sock", path)
        if answer["failed"] or answer["created"] != rows:
            raise RuntimeError(f"the import refused rows: {answer['failed'][:3]}")
        return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
                "agent_peak_rss_mb": agent.usage().peak_rss_mb, "client_peak_mb": peak,
                "client_peak_mb_tenth_size": small_peak, "file_mb": path.stat().st_size / 2**20,
                "agent_rss_mb_after_previews": previews, "agent_rss_mb_after_import": agent.usage().rss_mb}
    finally:
        agent.stop()
