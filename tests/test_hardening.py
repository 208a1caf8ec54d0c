"""The process guards ``agent.status`` reports are read without running anything: ``ctypes.util.find_library``
runs ``ldconfig -p`` in a subprocess, which blocked the event loop on every ``agent.status`` (found by the
socket-abuse benchmark: each client of a burst asks for it)."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys
from typing import Any

import pytest

from leadsync.agent import hardening


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_process_guards_start_no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("a subprocess was started to read the process guards")

    hardening._libc.cache_clear()
    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(ctypes.util, "find_library", refuse)
    guards = hardening.process_guards()
    assert isinstance(guards["dumpable"], bool) and isinstance(guards["core_limit_bytes"], int)
