"""The pull peer in the benchmark: meltano-tap-hubspot (the Meltano Singer SDK's HubSpot tap) pulling the
same sandbox's contacts right after leadsync did (``--only peer``).

The peer is installed by the benchmark into its own venv (:func:`peer_python`, cached under the user's cache
dir, ``PEER_PACKAGE`` pinned) and run as ``tests/bench_peer_runner.py`` in that venv: the tap's ``contacts``
stream alone, its Singer messages written to a file (the tap only prints JSON; leadsync also writes a
queryable store). Measured from outside: wall seconds and CPU (utime + stime) from ``os.wait4``'s rusage;
peak RSS is the runner's own ``VmHWM`` (``ru_maxrss`` of a child is at least its parent's peak, so it gave the
benchmark's own size whenever that was larger, as it was: 51.7 MB against the tap's 44-45 MB on 2026-12-08);
records are the RECORD messages counted in its output. When the peer cannot be installed (no
network, no PyPI) :func:`peer_python` says why and the bench skips the row with that note.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import platformdirs

PEER_PACKAGE = "meltano-tap-hubspot==0.10.1"
RUNNER = Path(__file__).with_name("bench_peer_runner.py")


@dataclass(frozen=True, slots=True)
class PeerRun:
    """One peer pull: ``records`` written, wall ``seconds``, ``cpu_s`` (user + system), ``peak_rss_mb``."""

    records: int
    seconds: float
    cpu_s: float
    peak_rss_mb: float


def peer_python() -> tuple[Path | None, str]:
    """The peer venv's python (installing it on first use, a minute or so) and ``""``; or None and why not."""
    venv = Path(platformdirs.user_cache_dir("leadsync-bench")) / f"peer-{PEER_PACKAGE.replace('==', '-')}"
    python = venv / "bin" / "python"
    if (venv / ".installed").exists():
        return python, ""
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, capture_output=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", PEER_PACKAGE], check=True, capture_output=True,
                       timeout=900)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        tail = detail.decode(errors="replace").strip().splitlines()[-1:] if detail else [str(exc)]
        return None, f"{PEER_PACKAGE} could not be installed: {' '.join(tail)[:200]}"
    (venv / ".installed").write_text(PEER_PACKAGE + "\n")
    return python, ""


def run_peer(python: Path, base_url: str, token: str, out: Path) -> PeerRun:
    """Pull every contact of the HubSpot (sandbox) at ``base_url`` with the peer; raises RuntimeError when it
    fails (its stderr's tail in the message)."""
    err = out.with_suffix(".stderr")
    started = time.perf_counter()
    with err.open("wb") as stderr:
        proc = subprocess.Popen([str(python), str(RUNNER), base_url, token, str(out)], stdout=subprocess.DEVNULL,
                                stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"the peer failed ({proc.returncode}): {err.read_text(errors='replace')[-500:]}")
    records = 0
    with out.open("rb") as lines:
        for line in lines:
            records += line.startswith(b'{"type":"RECORD"')
    hwm = Path(f"{out}.hwm")  # its own peak: wait4's ru_maxrss is at least this process's (see the runner)
    peak_kb = int(hwm.read_text()) if hwm.exists() else usage.ru_maxrss
    return PeerRun(records, seconds, usage.ru_utime + usage.ru_stime, peak_kb / 1024)
