"""The README's commands, as a new user runs them: in a fresh clone, the headless variant of the first command
(``make demo-headless``: it makes ``.venv`` as ``make demo`` does), then every line of "Using it" in order,
in one shell, exactly as written. A line fails the test unless it exits as the README says (0, or 1 where its
comment says "exit 1 ... as here"). The one interactive line, ``leadsync tui``, runs on a pseudo-terminal
(``script``) and is quit with ``q``.

Slow (a venv install from ``requirements/demo.lock`` and a 10,000-contact demo): ``pytest -m slow``."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SANDBOX_PORT = 8765  # the port "Using it" names
EXIT_ONE = re.compile(r"exit 1\b.*\bas here")
INTERACTIVE = {"leadsync tui": '(for i in $(seq 60); do sleep 2; printf q; done) | timeout 150 script -qefc '
                                '"leadsync tui" /dev/null > /dev/null'}


def using_it_block(text: str) -> list[str]:
    """The lines of the first ``sh`` block under "## Using it"."""
    section = text.split("\n## Using it\n", 1)[1]
    return section.split("```sh\n", 1)[1].split("\n```", 1)[0].splitlines()


def commands(lines: list[str]) -> list[tuple[str, int | None]]:
    """(command line, expected exit code: None for a line sent to the background), comment lines folded into
    the command above them."""
    out: list[tuple[str, int | None]] = []
    notes: list[str] = []
    for line in lines:
        if line.strip().startswith("#") and out:
            notes[-1] += " " + line.strip()
            continue
        out.append((line, None if _code(line).endswith("&") else 0))
        notes.append(line)
    return [(line, None if code is None else (1 if EXIT_ONE.search(note) else 0))
            for (line, code), note in zip(out, notes, strict=True)]


def _code(line: str) -> str:
    """The line without its trailing comment (two or more spaces, then ``#``, outside quotes)."""
    quote = None
    for i, char in enumerate(line):
        if char in "'\"" and quote in (None, char):
            quote = None if quote else char
        elif char == "#" and quote is None and line[max(0, i - 2):i] == "  ":
            return line[:i].rstrip()
    return line.rstrip()


def script(lines: list[tuple[str, int | None]]) -> str:
    """A bash script running each line and printing ``@@ <index> <exit code>`` after it."""
    body = ["trap 'kill $(jobs -p) 2>/dev/null' EXIT"]
    for n, (line, code) in enumerate(lines):
        body.append(INTERACTIVE.get(_code(line), line))
        if code is not None:
            body.append(f'echo "@@ {n} $?"')
    return "\n".join(body) + "\n"


def test_the_commands_parse_as_the_readme_means() -> None:
    lines = commands(using_it_block(README.read_text()))
    assert lines[0][0].startswith(". .venv/bin/activate")
    background = [_code(line) for line, code in lines if code is None]
    assert background == ["leadsync sandbox --port 8765 &", "leadsync agent &"]
    assert {_code(line).split("  ")[0] for line, code in lines if code == 1} == {
        "leadsync errors retry --all", "leadsync health"}
    assert set(INTERACTIVE) <= {_code(line) for line, _ in lines}


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.slow
@pytest.mark.timeout(1500)
@pytest.mark.skipif(shutil.which("git") is None or shutil.which("script") is None or shutil.which("make") is None,
                    reason="needs git, make and script (util-linux)")
def test_the_readme_commands_run_as_written_in_a_fresh_clone(tmp_path: Path) -> None:
    if not _port_free(SANDBOX_PORT):
        pytest.skip(f"port {SANDBOX_PORT} (the README's sandbox port) is in use")
    clone = tmp_path / "leadsync"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    state = tmp_path / "home"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("LEADSYNC_", "VIRTUAL_ENV"))},
           "XDG_DATA_HOME": str(state / "data"), "XDG_STATE_HOME": str(state / "state"),
           "XDG_CONFIG_HOME": str(state / "config"), "XDG_RUNTIME_DIR": str(state / "run"), "TERM": "xterm-256color"}
    (state / "run").mkdir(parents=True, mode=0o700)
    demo = subprocess.run(["make", "demo-headless"], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=900)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    lines = commands(using_it_block((clone / "README.md").read_text()))
    ran = subprocess.run(["bash", "-c", script(lines)], cwd=clone, env=env, capture_output=True, text=True,
                         timeout=1200)
    codes = {int(n): int(rc) for n, rc in re.findall(r"^@@ (\d+) (\d+)$", ran.stdout, flags=re.M)}
    expected = {n: code for n, (_, code) in enumerate(lines) if code is not None}
    wrong = {_code(lines[n][0]): (codes.get(n), code) for n, code in expected.items() if codes.get(n) != code}
    assert not wrong, f"(got, expected) exit codes: {wrong}\n{ran.stdout[-4000:]}\n{ran.stderr[-4000:]}"
    assert "Warning" not in ran.stderr, ran.stderr[-3000:]  # no Python warning in normal use
