"""The help screen (``?``): every key of the TUI, read from the bindings themselves so it cannot go stale.

:func:`help_rows` walks the classes that own bindings (``KEYED`` in the app: the app, each view, each
table, each screen) and lists each binding once per place: the key as the footer shows it, what it does,
and the action it runs (the pilot test presses every pane key it lists and checks where the focus went).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.table import Table
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from leadsync.tui.keymap import PANES


@dataclass(frozen=True)
class HelpRow:
    """One binding: where it works (``place``), its ``key`` (Textual's name: ``question_mark``), the key as
    shown (``shown``: ``?``), its description and ``action``."""

    place: str
    key: str
    shown: str
    description: str
    action: str


def help_rows(app: App[Any], places: Sequence[tuple[str, type[DOMNode]]]) -> list[HelpRow]:
    """A row per binding of each (place, class) — the class's own ``BINDINGS`` (inherited ones from Textual's
    widgets, like the arrow keys of a table, are left out: they are the same everywhere)."""
    rows: list[HelpRow] = []
    for place, cls in places:
        seen: set[tuple[str, str]] = set()
        for binding in _bindings(cls.__dict__.get("BINDINGS", [])):
            if (binding.key, binding.action) in seen:
                continue
            seen.add((binding.key, binding.action))
            rows.append(HelpRow(place, binding.key, app.get_key_display(binding),
                                binding.tooltip or binding.description or binding.action, binding.action))
    return rows


def _bindings(declared: Iterable[BindingType]) -> Iterable[Binding]:
    return Binding.make_bindings(declared)


def help_table(rows: list[HelpRow]) -> Table:
    table = Table(show_edge=False, pad_edge=False, expand=True)
    table.add_column("Where", style="bold", no_wrap=True)
    table.add_column("Key", no_wrap=True)
    table.add_column("Does", overflow="fold", ratio=1)
    place = None
    for row in rows:
        table.add_row(row.place if row.place != place else "", row.shown, row.description)
        place = row.place
    return table


class HelpScreen(ModalScreen[None]):
    """Every key (``rows``), scrollable; Escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
        # a modal screen stops the app's keys: the pane keys are bound here too, and close the help
        *(Binding(pane.key, f"app.show_pane('{pane.name}')", pane.title, show=False) for pane in PANES),
    ]

    def __init__(self, rows: list[HelpRow]) -> None:
        super().__init__(id="help", classes="form-modal")
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box", classes="form-box"):
            yield Label("Keys (ctrl+p finds every command by name)", classes="form-title")
            with VerticalScroll(id="help-body"):
                yield Static(help_table(self.rows), id="help-table")
            yield Static("Tab moves to the next field, Escape goes back, Enter opens or chooses.",
                         classes="form-hint")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()
