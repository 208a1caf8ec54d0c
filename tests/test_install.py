"""Step 2 of the README's "Run it as a service", as written, into a scratch root: the sysusers file makes the
``leadsync`` user and group, the tmpfiles file makes ``/etc/leadsync`` for the credentials (0700, root)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parent.parent / "systemd"
README = Path(__file__).resolve().parent.parent / "README.md"


def _install(root: Path, name: str, folder: str) -> None:
    (root / folder).mkdir(parents=True, exist_ok=True)
    shutil.copy(UNITS / name, root / folder / "leadsync.conf")


@pytest.mark.skipif(shutil.which("systemd-sysusers") is None, reason="systemd-sysusers not installed")
def test_sysusers_makes_the_service_user(tmp_path: Path) -> None:
    assert "systemd-sysusers leadsync.conf" in README.read_text()
    (tmp_path / "etc").mkdir()
    _install(tmp_path, "leadsync.sysusers.conf", "usr/lib/sysusers.d")
    subprocess.run(["systemd-sysusers", f"--root={tmp_path}", "leadsync.conf"], check=True, capture_output=True)
    user = next(line for line in (tmp_path / "etc/passwd").read_text().splitlines() if line.startswith("leadsync:"))
    assert user.endswith(":/var/lib/leadsync:/usr/sbin/nologin")
    assert any(line.startswith("leadsync:") for line in (tmp_path / "etc/group").read_text().splitlines())


@pytest.mark.skipif(shutil.which("systemd-tmpfiles") is None or os.geteuid() != 0,
                    reason="systemd-tmpfiles not installed, or not root (the directory belongs to root)")
def test_tmpfiles_makes_a_credentials_dir_only_root_may_read(tmp_path: Path) -> None:
    assert "systemd-tmpfiles --create leadsync.conf" in README.read_text()
    _install(tmp_path, "leadsync.tmpfiles.conf", "usr/lib/tmpfiles.d")
    subprocess.run(["systemd-tmpfiles", f"--root={tmp_path}", "--create", "leadsync.conf"], check=True,
                   capture_output=True)
    info = (tmp_path / "etc/leadsync").stat()
    assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == 0
