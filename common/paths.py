"""Every path leadsync uses on disk, in one place.

- data dir: ``--data-dir``, else ``$LEADSYNC_DATA_DIR``, else platformdirs' user data dir (``~/.local/share/leadsync``);
  the system service sets ``$LEADSYNC_DATA_DIR`` to its ``StateDirectory`` (``/var/lib/leadsync``).
- socket: ``--socket``, else ``$LEADSYNC_SOCKET``, else ``<user runtime dir>/leadsync/agent.sock``;
  the system service uses ``/run/leadsync/agent.sock``.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "leadsync"
SYSTEM_SOCKET = Path("/run/leadsync/agent.sock")


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The directory holding the store (``leadsync.db``) and secrets; not created here."""
    if override:
        return Path(override)
    env = os.environ.get("LEADSYNC_DATA_DIR")
    if env:
        return Path(env)
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def socket_path(override: str | os.PathLike[str] | None = None) -> Path:
    """The agent's Unix socket path, following the precedence in the module docstring."""
    if override:
        return Path(override)
    env = os.environ.get("LEADSYNC_SOCKET")
    if env:
        return Path(env)
    return Path(platformdirs.user_runtime_dir(APP, appauthor=False)) / "agent.sock"


def db_path(data: Path) -> Path:
    """The SQLite store inside a data dir."""
    return data / "leadsync.db"
