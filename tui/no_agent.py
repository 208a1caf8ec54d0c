"""The screen shown while no agent answers: where the TUI looked and how to start one."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from leadsync.common.paths import socket_path as default_socket_path
from leadsync.tui.messages import RetryNow


def start_command(socket_path: Path) -> str:
    """The command that starts an agent on ``socket_path``: ``leadsync agent`` for the default path."""
    if socket_path == default_socket_path():
        return "leadsync agent"
    return f"leadsync --socket {socket_path} agent"


class NoAgentScreen(Screen[None]):
    """Covers the dashboard until the watcher reconnects (it pops this screen itself)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "retry", "Retry now"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, socket_path: Path, reason: str, retry_s: float) -> None:
        super().__init__(id="no-agent")
        self.socket_path = socket_path
        self.reason = reason
        self.retry_s = retry_s

    def compose(self) -> ComposeResult:
        yield Header()
        with Center(), Vertical(id="no-agent-box"):
            yield Static("No leadsync agent is running", id="no-agent-title")
            yield Static(Text.assemble("Tried the socket ", (str(self.socket_path), "bold")), id="no-agent-path")
            yield Static(self.reason, id="no-agent-reason", markup=False)
            yield Static("Start one in another terminal with:", classes="no-agent-hint")
            yield Static(start_command(self.socket_path), id="no-agent-command", markup=False)
            yield Static(f"This screen reconnects by itself (every {self.retry_s:g} s) once the agent is up.",
                         classes="no-agent-hint")
        yield Footer()

    def show_reason(self, reason: str) -> None:
        """Show the latest failure (before the screen is composed, ``compose`` picks it up)."""
        if reason != self.reason:
            self.reason = reason
            if self.is_mounted:
                self.query_one("#no-agent-reason", Static).update(reason)

    def action_retry(self) -> None:
        self.app.post_message(RetryNow())

