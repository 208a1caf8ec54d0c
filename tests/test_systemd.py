"""The systemd units verify cleanly and their exposure (``systemd-analyze security``) stays low: the system unit
and the per-organisation template at 1.5 or lower, the user unit (scored as a user manager scores it) at 4.0 or
lower; every hardening option carries a comment saying what it takes away.

``systemd-analyze verify`` checks that ExecStart exists, so each unit is verified from a temp copy
whose ExecStart points at this checkout's installed ``leadsync`` (everything else unchanged). The user manager's
checks need ``$XDG_RUNTIME_DIR``: a temp one is given.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parent.parent / "systemd"
LEADSYNC = Path(sys.executable).parent / "leadsync"
SYSTEM, USER, TEMPLATE = "leadsync-agent.service", "leadsync-agent.user.service", "leadsync-agent@.service"
MAX_EXPOSURE = {SYSTEM: 1.5, TEMPLATE: 1.5, USER: 4.0}

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")


def _copy_with_local_exec(unit: str, tmp_path: Path) -> Path:
    text = (UNITS / unit).read_text()
    text = re.sub(r"^ExecStart=\S+", f"ExecStart={LEADSYNC}", text, flags=re.M)
    target = tmp_path / (TEMPLATE if unit == TEMPLATE else SYSTEM)
    target.write_text(text)
    return target


def _analyze(unit: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    copy = _copy_with_local_exec(unit, tmp_path)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    mode = ["--user"] if unit == USER else []
    return subprocess.run(["systemd-analyze", *args, *mode, str(copy)], capture_output=True, text=True, check=False,
                          env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)})


@pytest.mark.parametrize("unit", [SYSTEM, USER, TEMPLATE])
def test_unit_verifies_clean(unit: str, tmp_path: Path) -> None:
    result = _analyze(unit, tmp_path, "verify")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def exposure(unit: str, tmp_path: Path) -> float:
    """The "Overall exposure level" ``systemd-analyze security --offline=yes`` gives ``unit`` (0 best, 10 worst)."""
    result = _analyze(unit, tmp_path, "security", "--offline=yes")
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    return float(match.group(1))


@pytest.mark.parametrize("unit", [SYSTEM, USER, TEMPLATE])
def test_unit_exposure_stays_low(unit: str, tmp_path: Path) -> None:
    assert exposure(unit, tmp_path) <= MAX_EXPOSURE[unit]


@pytest.mark.parametrize("unit", [SYSTEM, USER, TEMPLATE])
def test_every_hardening_option_has_a_comment(unit: str) -> None:
    lines = (UNITS / unit).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if "hardening" in line and line.startswith("# ---"))
    for i, line in enumerate(lines[start:], start):
        if line.startswith("[Install]"):
            break
        if "=" in line and not line.startswith("#"):
            above = next(lines[j] for j in range(i - 1, start - 1, -1) if lines[j].strip())
            assert above.startswith("#") or "=" in above, f"{line} has no comment"


def test_the_template_gives_each_organisation_its_own_dirs_socket_and_credentials() -> None:
    text = (UNITS / TEMPLATE).read_text()
    for setting in ("StateDirectory=leadsync-%i", "RuntimeDirectory=leadsync-%i",
                    "Environment=LEADSYNC_DATA_DIR=/var/lib/leadsync-%i", "--socket /run/leadsync-%i/agent.sock",
                    "LoadCredentialEncrypted=hubspot-token:/etc/leadsync/%i/hubspot-token.cred"):
        assert setting in text, setting
