"""Running the agent as a process: signals, readiness, the watchdog and shutdown.

- SIGTERM/SIGINT stop the agent: the current sync run is cut at its next await (each pulled page and
  each pushed batch is one transaction, so nothing half-applied stays), recorded as ``interrupted``,
  and the next run resumes from the saved cursors; the process exits 0.
- SIGHUP reloads settings from the store and applies them (a changed interval is rescheduled at once).
- Under systemd (``Type=notify``): READY=1 once the socket listens, RELOADING=1/READY=1 around a
  reload, STOPPING=1 on the way out, and WATCHDOG=1 every half of ``$WATCHDOG_USEC`` (``WatchdogSec=``)
  while the event loop and the store answer, so a wedged agent is restarted.
- Who may use the socket: the agent's own user and root, plus ``allow_users``/``allow_groups``
  (``leadsync agent --allow-user/--allow-group``), checked with SO_PEERCRED on every connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from leadsync.agent.daemon import Agent
from leadsync.agent.hardening import harden_process
from leadsync.agent.rpc_limits import SocketLimits
from leadsync.agent.rpc_server import PeerAuthorizer
from leadsync.agent.settings import load

log = logging.getLogger("leadsync.agent")

_notifier: Any = None


def _notify(state: str) -> None:
    """Send ``state`` to systemd's notify socket (``$NOTIFY_SOCKET``); a no-op outside systemd."""
    global _notifier
    if not os.environ.get("NOTIFY_SOCKET"):
        return
    if _notifier is None:
        import sdnotify

        _notifier = sdnotify.SystemdNotifier()
    _notifier.notify(state)


def watchdog_interval_s() -> float | None:
    """Half of ``$WATCHDOG_USEC`` in seconds when systemd asked this process for watchdog pings, else None
    (``$WATCHDOG_PID``, when set, must be this process)."""
    usec = os.environ.get("WATCHDOG_USEC", "").strip()
    pid = os.environ.get("WATCHDOG_PID", "").strip()
    if not usec.isdigit() or int(usec) <= 0:
        return None
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(usec) / 1_000_000 / 2


async def _watchdog(agent: Agent, interval_s: float) -> None:
    """Ping WATCHDOG=1 every ``interval_s`` while the store still answers (within the interval)."""
    while True:
        try:
            await asyncio.wait_for(agent.store.ping(), timeout=interval_s)
        except Exception as exc:  # TimeoutError included. No ping: systemd restarts a wedged agent
            log.warning("watchdog: the store did not answer (%s); not pinging", type(exc).__name__)
        else:
            _notify("WATCHDOG=1")
        await asyncio.sleep(interval_s)


async def reload_settings(agent: Agent) -> dict[str, Any]:
    """Re-read settings from the store and apply what changed; returns the changes (SIGHUP)."""
    before = msgspec.structs.asdict(agent.settings)
    after = msgspec.structs.asdict(load(await agent.store.get_settings()))
    changes = {key: value for key, value in after.items() if before.get(key) != value}
    await agent.apply_settings(changes)
    log.info("settings reloaded: %s", ", ".join(f"{k}={v}" for k, v in changes.items()) or "no change")
    return changes


async def run_agent(data: Path, sock: Path, *, socket_mode: int = 0o600, allow_users: Sequence[str] = (),
                    allow_groups: Sequence[str] = (), full_check: bool = False,
                    socket_limits: SocketLimits | None = None) -> int:
    """Serve until SIGTERM or SIGINT; returns the process exit code (0 after a clean stop).

    ``allow_users``/``allow_groups`` (names or numeric ids) may use the socket besides the agent's own
    user and root; ``socket_limits`` bound connections, deadlines and buffers (defaults: SocketLimits()).
    ``full_check``: SQLite's integrity_check at start instead of quick_check. The process is
    hardened first (umask 077, no core dumps, not dumpable: :mod:`leadsync.agent.hardening`). Raises
    ValueError for an unknown user or group name, StoreDamagedError for a damaged store (nothing served).
    """
    harden_process()
    authorize = PeerAuthorizer.default(allow_users, allow_groups)
    agent = Agent(data, sock, socket_mode=socket_mode, authorize=authorize, full_check=full_check,
                  socket_limits=socket_limits)
    await agent.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    reloads: set[asyncio.Task[None]] = set()

    async def reload() -> None:
        _notify(f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}")
        try:
            await reload_settings(agent)
        except Exception:
            log.exception("settings reload failed; the previous settings stay in force")
        finally:
            _notify("READY=1")

    def on_hangup() -> None:
        task = asyncio.ensure_future(reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_hangup)
    interval = watchdog_interval_s()
    watchdog = asyncio.create_task(_watchdog(agent, interval)) if interval else None
    _notify("READY=1")
    log.info("agent ready (pid %s)%s", os.getpid(), f", watchdog every {interval:.1f} s" if interval else "")
    await stop.wait()
    _notify("STOPPING=1")
    log.info("stopping")
    if watchdog is not None:
        watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watchdog
    await agent.stop()
    log.info("stopped")
    return 0
