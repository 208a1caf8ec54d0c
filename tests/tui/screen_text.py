"""The app's screen as plain text lines (for assertions that read what a person would read)."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from textual.app import App
from textual.widgets import Static


def screen_text(app: App[Any]) -> str:
    """What the terminal shows now, one line per row, trailing spaces removed."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip).rstrip() for strip in strips)


def static_text(widget: Static, width: int = 200) -> str:
    """The text of a Static's content (a string, Content or a Rich renderable), laid out ``width`` wide."""
    content = widget.content
    if isinstance(content, str):
        return content
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(content)
    return console.export_text()
