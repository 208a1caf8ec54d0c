"""Every path leadsync uses on disk, in one place.

- data dir: ``--data-dir``, else ``$LEADSYNC_DATA_DIR``, else platformdirs' user data dir (``~/.local/share/leadsync``);
  the system service sets ``$LEADSYNC_DATA_DIR`` to its ``StateDirectory`` (``/var/lib/leadsync``).
- socket: ``--socket``, else ``$LEADSYNC_SOCKET``, else ``<runtime dir>/leadsync/agent.sock``, where the
  runtime dir is ``$XDG_RUNTIME_DIR``, else ``/run/user/<uid>`` when it exists (the variable is often lost
  under ``su``, ``sudo``, cron or a bare ssh session, the directory is not), else the socket is
  ``<tmp>/leadsync-<uid>/agent.sock`` in a directory only this user may use (mode 0700, made by the agent:
  :func:`prepare_socket_dir`). No warning is printed for any of them. The system service uses
  ``/run/leadsync/agent.sock``.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import platformdirs

from leadsync.common.errors import LeadsyncError

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
    xdg = os.environ.get("XDG_RUNTIME_DIR", "").strip()
    if xdg and Path(xdg).is_dir():
        return Path(xdg) / APP / "agent.sock"
    logind = Path(f"/run/user/{os.getuid()}")
    if logind.is_dir() and os.access(logind, os.W_OK | os.X_OK):
        return logind / APP / "agent.sock"
    return fallback_socket_dir() / "agent.sock"


def fallback_socket_dir() -> Path:
    """``<tmp>/leadsync-<uid>``: the socket's directory when the user has no runtime dir (see the module
    docstring)."""
    return Path(tempfile.gettempdir()) / f"{APP}-{os.getuid()}"


def prepare_socket_dir(socket: Path) -> None:
    """Before the agent listens on ``socket``: when it is in :func:`fallback_socket_dir` (a shared temp dir),
    make that directory with mode 0700 and refuse one another user owns, a symlink, or one others may use
    (LeadsyncError naming it and the way out). Other directories are the caller's choice and left alone."""
    folder = socket.parent
    if folder != fallback_socket_dir():
        return
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = folder.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() \
            or info.st_mode & 0o077:
        raise LeadsyncError(f"{folder} is not a private directory of this user (mode 0700, owned by uid "
                            f"{os.getuid()}); remove it or choose the socket with --socket or LEADSYNC_SOCKET")


def socket_note(socket: Path) -> str | None:
    """A sentence for ``leadsync status`` when ``socket`` is in the temp-dir fallback; None otherwise."""
    if socket.parent != fallback_socket_dir():
        return None
    return (f"no runtime dir (XDG_RUNTIME_DIR unset, no /run/user/{os.getuid()}): the socket is in "
            f"{socket.parent} (mode 0700); LEADSYNC_SOCKET or --socket choose another")


def db_path(data: Path) -> Path:
    """The SQLite store inside a data dir."""
    return data / "leadsync.db"
