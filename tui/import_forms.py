"""What the import screen asks with: path completion for the file input, and the form that changes
where one column goes.

:class:`PathSuggester` completes the last part of a path from the folder on disk (folders and the
file kinds an import reads). :class:`ColumnFieldScreen` dismisses with the :class:`ColumnChoice` the
user made for one column (a contact field, the owner, a custom field, not imported, or back to what
the importer detects), or None.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from leadsync.common.importfile.columns import OWNER, custom_field_name
from leadsync.common.importfile.report import ColumnInfo
from leadsync.common.models import FIELD_NAME, RESERVED_FIELDS, STANDARD_FIELDS

IMPORT_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm")
AUTOMATIC = "=automatic"
NOT_IMPORTED = "=skip"


def complete_path(value: str) -> str | None:
    """``value`` continued to the first folder (ending in ``/``) or importable file
    (:data:`IMPORT_SUFFIXES`) whose name continues its last part, or None. ``~`` is the home folder;
    hidden entries only when the last part starts with ``.``."""
    if not value:
        return None
    path = Path(value).expanduser()
    folder, prefix = (path, "") if value.endswith(os.sep) else (path.parent, path.name)
    try:
        with os.scandir(folder) as entries:
            names = sorted(e.name + (os.sep if e.is_dir() else "") for e in entries
                           if e.name.startswith(prefix) and (prefix.startswith(".") or not e.name.startswith("."))
                           and (e.is_dir() or e.name.lower().endswith(IMPORT_SUFFIXES)))
    except OSError:
        return None
    rest = next((n[len(prefix):] for n in names if n != prefix), None)
    return value + rest if rest else None


class PathSuggester(Suggester):
    """Path completion for an Input (:func:`complete_path`); reads the folder each time (no cache:
    files come and go)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        return complete_path(value)


@dataclass(frozen=True)
class ColumnChoice:
    """Where the user wants ``column`` to go: ``field`` (a contact field, ``owner`` or a custom field
    name), or not imported (``field`` None); ``automatic`` drops the user's choice."""

    column: str
    field: str | None
    automatic: bool = False


def field_problem(name: str) -> str | None:
    """Why ``name`` cannot be a column's field, or None (the rule ``contacts.import`` applies)."""
    if name == OWNER or name in STANDARD_FIELDS:
        return None
    if not FIELD_NAME.fullmatch(name):
        return f"{name!r}: a custom field name is lower-case letters, digits and _, starting with a letter"
    if name in RESERVED_FIELDS:
        return f"{name!r} is managed by leadsync itself: choose another name"
    return None


class ColumnFieldScreen(ModalScreen[ColumnChoice | None]):
    """Choose the field for ``column`` (as the last preview planned it); Escape keeps it as it is."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, column: ColumnInfo, *, chosen: bool) -> None:
        super().__init__(classes="form-modal")
        self.column = column
        self.chosen = chosen  # whether the current field is the user's choice (so "automatic" differs)

    def options(self) -> list[Option]:
        """Every standard field, the owner, the column's own custom field, not imported (and automatic
        when the current field is the user's choice)."""
        custom = custom_field_name(self.column.column)
        items = [Option(f"{f}", id=f) for f in STANDARD_FIELDS]
        items += [Option("owner (matched to users and CRM owners)", id=OWNER),
                  Option(f"custom field {custom}", id=custom),
                  Option("not imported", id=NOT_IMPORTED)]
        if self.chosen:
            items.insert(0, Option("automatic (as the importer detects it)", id=AUTOMATIC))
        return items

    def compose(self) -> ComposeResult:
        current = self.column.field or "not imported"
        with Vertical(classes="form-box", id="column-field-box"):
            yield Label(f"Column {self.column.column!r} → {current}", classes="form-title", markup=False)
            yield OptionList(*self.options(), id="column-field-options")
            yield Label("or a custom field name")
            yield Input(placeholder="e.g. lead_source", id="column-field-name", compact=True)
            yield Static("", id="column-field-error", classes="form-error", markup=False)
            with Horizontal(classes="form-buttons"):
                yield Button("Cancel", id="column-field-cancel", compact=True)

    def on_mount(self) -> None:
        options = self.query_one("#column-field-options", OptionList)
        current = self.column.field or NOT_IMPORTED
        ids = [o.id for o in options.options]
        options.highlighted = ids.index(current) if current in ids else 0
        options.focus()

    @on(OptionList.OptionSelected, "#column-field-options")
    def _option_chosen(self, event: OptionList.OptionSelected) -> None:
        choice = event.option.id
        if choice == AUTOMATIC:
            self.dismiss(ColumnChoice(self.column.column, None, automatic=True))
        else:
            self.dismiss(ColumnChoice(self.column.column, None if choice == NOT_IMPORTED else choice))

    @on(Input.Submitted, "#column-field-name")
    def _name_given(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        problem = field_problem(name) if name else "type a field name, or pick one above"
        if problem is not None:
            self.query_one("#column-field-error", Static).update(problem)
            return
        self.dismiss(ColumnChoice(self.column.column, name))

    @on(Button.Pressed, "#column-field-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
