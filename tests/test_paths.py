"""The default socket without a runtime dir: a private temp dir, said by ``leadsync status``, and no Python
warning printed by any CLI call."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from leadsync.common import paths
from leadsync.common.errors import LeadsyncError

LEADSYNC = [sys.executable, "-m", "leadsync.agent.cli"]


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "LEADSYNC_SOCKET")}
    return {**env, "TMPDIR": str(tmp), "PYTHONWARNINGS": "default"}  # every warning would reach stderr


def test_socket_follows_xdg_runtime_dir_else_a_private_temp_dir(monkeypatch: pytest.MonkeyPatch,
                                                                short_tmp: Path) -> None:
    monkeypatch.delenv("LEADSYNC_SOCKET", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short_tmp))
    assert paths.socket_path() == short_tmp / "leadsync" / "agent.sock"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("TMPDIR", str(short_tmp))
    monkeypatch.setattr(paths.tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    expected = Path(f"/run/user/{os.getuid()}/leadsync/agent.sock")
    if not expected.parent.parent.is_dir():
        expected = short_tmp / f"leadsync-{os.getuid()}" / "agent.sock"
    assert paths.socket_path() == expected


def test_the_temp_dir_is_made_private_and_a_foreign_one_refused(monkeypatch: pytest.MonkeyPatch,
                                                                short_tmp: Path) -> None:
    monkeypatch.setattr(paths, "fallback_socket_dir", lambda: short_tmp / "leadsync-x")
    sock = short_tmp / "leadsync-x" / "agent.sock"
    paths.prepare_socket_dir(sock)
    assert stat.S_IMODE((short_tmp / "leadsync-x").stat().st_mode) == 0o700
    (short_tmp / "leadsync-x").chmod(0o755)  # others could swap the socket: refused
    with pytest.raises(LeadsyncError, match="not a private directory"):
        paths.prepare_socket_dir(sock)
    (short_tmp / "leadsync-x").rmdir()
    (short_tmp / "leadsync-x").symlink_to(short_tmp)
    with pytest.raises(LeadsyncError, match="LEADSYNC_SOCKET"):
        paths.prepare_socket_dir(sock)


@pytest.mark.skipif(Path(f"/run/user/{os.getuid()}").is_dir(), reason="this user has /run/user/<uid>")
def test_no_warning_without_xdg_runtime_dir_and_status_says_where_the_socket_is(short_tmp: Path) -> None:
    env = _env(short_tmp)
    assert subprocess.run([*LEADSYNC, "--help"], env=env, capture_output=True, text=True).stderr == ""
    agent = subprocess.Popen([*LEADSYNC, "agent", "--data-dir", str(short_tmp / "data")], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(200):
            status = subprocess.run([*LEADSYNC, "status"], env=env, capture_output=True, text=True)
            if status.returncode != 3:
                break
            time.sleep(0.1)
        assert status.returncode == 0, status.stderr
        assert status.stderr == ""
        folder = short_tmp / f"leadsync-{os.getuid()}"
        assert f"socket {folder}/agent.sock" in status.stdout
        assert "no runtime dir (XDG_RUNTIME_DIR unset" in status.stdout
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        health = subprocess.run([*LEADSYNC, "health"], env=env, capture_output=True, text=True)
        assert health.returncode == 1 and health.stderr == ""  # no CRM yet: a problem, said on stdout
    finally:
        agent.terminate()
        _, agent_err = agent.communicate(timeout=30)
    assert "Warning" not in agent_err
