"""Running the agent as a process: signals, readiness and shutdown.

SIGTERM/SIGINT stop the agent after the current page or batch (each is one transaction); SIGHUP
reloads settings from the store. Under systemd (``Type=notify``) READY=1 and STOPPING=1 are sent.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from leadsync.agent.daemon import Agent
from leadsync.agent.settings import load

log = logging.getLogger("leadsync.agent")


def _notify(state: str) -> None:
    try:
        import sdnotify

        sdnotify.SystemdNotifier().notify(state)
    except ImportError:  # optional outside systemd
        pass


async def run_agent(data: Path, sock: Path, *, socket_mode: int = 0o600) -> int:
    """Serve until SIGTERM or SIGINT; returns the process exit code."""
    agent = Agent(data, sock, socket_mode=socket_mode)
    await agent.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)

    async def reload() -> None:
        agent.settings = load(await agent.store.get_settings())
        log.info("settings reloaded")

    loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(reload()))
    _notify("READY=1")
    await stop.wait()
    _notify("STOPPING=1")
    log.info("stopping")
    await agent.stop()
    return 0
