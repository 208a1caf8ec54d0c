"""What the agent process loads: not the terminal-output libraries of the CLI verbs (memory: issue 15)."""

from __future__ import annotations

import json
import subprocess
import sys

TERMINAL_LIBRARIES = ("rich", "click", "pygments")


def loaded_by(code: str) -> list[str]:
    """The top-level modules among TERMINAL_LIBRARIES that a fresh interpreter has loaded after ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    return [m for m in json.loads(out.splitlines()[-1]) if m in TERMINAL_LIBRARIES]


def test_the_agent_loads_neither_rich_nor_click_nor_pygments() -> None:
    # what `leadsync agent` imports: the CLI (all verbs' parsers), the daemon, a connector and its HTTP client
    code = ("import leadsync.agent.cli, leadsync.agent.daemon\n"
            "from leadsync.agent.connectors.hubspot import client\nimport httpx\nhttpx.AsyncClient()")
    assert loaded_by(code) == []


def test_httpx_alone_would_load_them_so_the_check_above_can_fail() -> None:
    # httpx imports its command-line tool (click, rich, pygments) when they are installed, as they are here
    assert set(loaded_by("import httpx")) == set(TERMINAL_LIBRARIES)


def test_the_health_verb_still_renders_with_rich() -> None:
    code = ("from leadsync.agent.cli_health import escape\nassert escape('[bold]x') == '\\\\[bold]x'\n"
            "from leadsync.agent.cli_live import make_console\nmake_console()")
    assert loaded_by(code) == ["rich"]
