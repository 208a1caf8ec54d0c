"""The agent process guards the CRM tokens it holds in memory and the files it writes.

:func:`harden_process` runs first thing in ``leadsync agent``: ``umask 077`` (every file the agent creates is
0600, every directory 0700), no core dumps (``RLIMIT_CORE`` 0/0) and, on Linux, not dumpable
(``prctl(PR_SET_DUMPABLE, 0)``: no core even if a limit is raised again, and only root may ptrace the
process or read its memory through ``/proc``).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import resource
import sys

log = logging.getLogger("leadsync.agent")

PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
AGENT_UMASK = 0o077


@functools.cache
def _libc() -> ctypes.CDLL:
    """The C library the process already has loaded (``dlopen(NULL)``): found once, never by running
    ``ldconfig`` (``ctypes.util.find_library`` does, a subprocess on every call, which blocked the event
    loop for each ``agent.status``)."""
    return ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, arg: int = 0) -> int:
    """``prctl(option, arg)`` through libc; -1 when it fails or there is no libc prctl (not Linux)."""
    if not sys.platform.startswith("linux"):
        return -1
    try:
        result: int = _libc().prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0),
                                    ctypes.c_ulong(0))
    except (OSError, AttributeError):
        return -1
    return result


def harden_process() -> None:
    """umask 077, core dumps off, not dumpable (see the module docstring). A step the platform refuses is
    logged, and the others still apply."""
    os.umask(AGENT_UMASK)
    try:
        if resource.getrlimit(resource.RLIMIT_CORE) != (0, 0):  # already so under systemd (LimitCORE=0), whose
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))   # system call filter refuses setrlimit
    except (ValueError, OSError) as exc:
        log.warning("could not turn core dumps off (RLIMIT_CORE): %s", exc)
    if sys.platform.startswith("linux") and _prctl(PR_SET_DUMPABLE, 0) != 0:
        log.warning("could not mark the agent not dumpable (prctl PR_SET_DUMPABLE): errno %s", ctypes.get_errno())


def process_guards() -> dict[str, object]:
    """What :func:`harden_process` left in force, for ``agent.status``: ``dumpable`` (bool, None where the
    platform does not say) and ``core_limit_bytes`` (the soft RLIMIT_CORE; -1 for unlimited)."""
    dumpable = _prctl(PR_GET_DUMPABLE)
    soft, _ = resource.getrlimit(resource.RLIMIT_CORE)
    return {"dumpable": None if dumpable < 0 else bool(dumpable),
            "core_limit_bytes": -1 if soft == resource.RLIM_INFINITY else soft}
