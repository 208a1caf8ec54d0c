"""Values and key/value grids as the TUI prints them, whatever their JSON type."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from rich.table import Table
from rich.text import Text

from leadsync.tui.formatting import format_value


def cell(value: Any) -> str:
    """One value as a short string: scalars as themselves, lists/objects as compact JSON."""
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return format_value(value)


def key_values(pairs: Iterable[tuple[str, Any]]) -> Table:
    """A two-column grid: bold key, value (a Text keeps its own style)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in pairs:
        grid.add_row(key, value if isinstance(value, Text) else cell(value))
    return grid
