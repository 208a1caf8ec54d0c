"""The systemd units verify cleanly and the system unit's exposure stays at 2.0 or lower.

``systemd-analyze verify`` checks that ExecStart exists, so each unit is verified from a temp copy
whose ExecStart points at this checkout's installed ``leadsync`` (everything else unchanged).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parent.parent / "systemd"
LEADSYNC = Path(sys.executable).parent / "leadsync"

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")


def _copy_with_local_exec(unit: str, tmp_path: Path) -> Path:
    text = (UNITS / unit).read_text()
    text = re.sub(r"^ExecStart=\S+", f"ExecStart={LEADSYNC}", text, flags=re.M)
    name = "leadsync-agent.service"
    target = tmp_path / name
    target.write_text(text)
    return target


@pytest.mark.parametrize("unit", ["leadsync-agent.service", "leadsync-agent.user.service"])
def test_unit_verifies_clean(unit: str, tmp_path: Path) -> None:
    copy = _copy_with_local_exec(unit, tmp_path)
    result = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_system_unit_exposure_at_most_2(tmp_path: Path) -> None:
    copy = _copy_with_local_exec("leadsync-agent.service", tmp_path)
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(copy)],
                            capture_output=True, text=True, check=False)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0


def test_every_hardening_option_has_a_comment() -> None:
    lines = (UNITS / "leadsync-agent.service").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if "hardening" in line)
    for i, line in enumerate(lines[start:], start):
        if line.startswith("[Install]"):
            break
        if "=" in line and not line.startswith("#"):
            above = next(lines[j] for j in range(i - 1, start - 1, -1) if lines[j].strip())
            assert above.startswith("#") or "=" in above, f"{line} has no comment"
