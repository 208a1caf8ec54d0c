"""The CRM connectors (one interface, :mod:`~leadsync.agent.connectors.base`; one package per CRM).

httpx imports its command-line tool (``httpx._main``, and with it click, rich and pygments: some 6 MB of the
agent's memory) whenever those are installed (the sandboxes' uvicorn brings click, the TUI's textual brings
rich); encode/httpx#3547 (open) would import it only for ``python -m httpx``. The agent never runs that tool,
so unless httpx is already imported a placeholder module stands in for it: ``httpx.main()`` (the ``httpx``
console script's entry point) then says so instead of running.
"""

from __future__ import annotations

import sys
import types


def _httpx_cli_placeholder() -> types.ModuleType:
    module = types.ModuleType("httpx._main", "placeholder: the httpx command line is not loaded by leadsync")

    def main() -> None:
        raise SystemExit("httpx's command line is not loaded in leadsync's processes (see leadsync.agent.connectors)")

    module.main = main  # type: ignore[attr-defined]
    return module


if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", _httpx_cli_placeholder())
