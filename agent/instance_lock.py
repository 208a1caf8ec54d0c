"""One agent per data dir and socket: the data dir's lock file, and a refusal to take over a live socket."""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path
from typing import IO

from leadsync.common.errors import LeadsyncError


class AgentAlreadyRunningError(LeadsyncError):
    """Another agent uses this data dir or socket."""


def hold_instance_lock(data_dir: Path) -> IO[bytes]:
    """An exclusive, non-blocking lock on ``<data dir>/agent.lock``, held for the agent's life (the
    kernel drops it if the process dies, so a crash never leaves a stale lock)."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle = os.fdopen(os.open(data_dir / "agent.lock", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise AgentAlreadyRunningError(f"another leadsync agent is using {data_dir}") from None
    return handle


async def refuse_live_socket(path: Path) -> None:
    """Raise AgentAlreadyRunningError if something answers on ``path``; a stale socket file is fine."""
    try:
        _, writer = await asyncio.open_unix_connection(str(path))
    except (FileNotFoundError, ConnectionRefusedError, OSError):
        return
    writer.close()
    raise AgentAlreadyRunningError(f"an agent is already listening on {path}; stop it first or use another --socket")
