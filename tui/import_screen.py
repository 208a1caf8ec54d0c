"""Import contacts from a file: choose it, preview what would happen, change where columns go, import,
and read the problems of each line.

The file is read here, on the TUI's side, by the same code as ``leadsync import``
(:func:`leadsync.common.importfile.upload.import_file`), in a thread worker whose calls go through the
app's one connection. Preview (ctrl+r, or Enter in the path) is the ``--dry-run``: the agent decides
everything and writes nothing. Import (ctrl+s or the button) runs exactly the options the last preview
showed, and only then; changing an option or a column asks for a new preview (a column change starts
it). Enter in an input never imports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import msgspec
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Header, Input, ProgressBar, Select, Static
from textual.worker import Worker, WorkerState, get_current_worker

from leadsync.common.importfile.report import ColumnInfo, Problem, counts_line, dates_line, layout_line
from leadsync.tui.connection import AgentLink
from leadsync.tui.errors import ReportsWorkerErrors
from leadsync.tui.formatting import MISSING
from leadsync.tui.import_forms import ColumnChoice, ColumnFieldScreen, PathSuggester
from leadsync.tui.import_run import Cancelled, ImportOptions, Outcome, describe_problem, problem_rows, run_import

CHUNK_TIMEOUT_S = 300.0  # one contacts.import chunk (up to 2,000 rows)
MAX_PROBLEM_ROWS = 1000
DATE_ORDERS = (("dates: day first", "DMY"), ("dates: month first", "MDY"), ("dates: year first", "YMD"))
NOTES = {"--map": "your choice", "--skip": "your choice"}


class ImportScreen(ReportsWorkerErrors, Screen[None]):
    """The import form, its column plan and its problems; Escape goes back (the form keeps its state)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("ctrl+r", "preview", "Preview"),
        Binding("ctrl+s", "import", "Import"),
        Binding("f", "change_field", "Column's field"),
    ]

    class Progress(Message, bubble=False):
        """Run ``generation`` answered ``done`` of ``total`` rows; coalesces with the next one."""

        def __init__(self, generation: int, done: int, total: int) -> None:
            super().__init__()
            self.generation = generation
            self.done = done
            self.total = total

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ImportScreen.Progress)

    class Finished(Message, bubble=False):
        """Run ``generation`` ended with ``outcome``."""

        def __init__(self, generation: int, outcome: Outcome) -> None:
            super().__init__()
            self.generation = generation
            self.outcome = outcome

    def __init__(self, link: AgentLink) -> None:
        super().__init__(id="import-screen")
        self.link = link
        self.choices: dict[str, str | None] = {}
        self.choices_path = ""  # the file the choices are for
        self.plan: list[ColumnInfo] = []
        self.previewed: ImportOptions | None = None  # what the shown preview was made with
        self.running: str | None = None  # "preview" or "import" while a worker runs
        self.generation = 0  # the latest run: messages of replaced runs are ignored
        self.problems: list[tuple[str, Problem]] = []
        self.last_answer: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="import-file-row"):
            yield Input(placeholder="path of a .csv or .xlsx file (→ completes)", id="import-path", compact=True,
                        suggester=PathSuggester())
            yield Button("Preview", id="import-preview", compact=True, tooltip="What would happen (ctrl+r)")
            yield Button("Import", id="import-run", compact=True, variant="primary", disabled=True,
                         tooltip="Import as previewed (ctrl+s)")
        with Horizontal(id="import-options"):
            yield Select[int]([], prompt="importing user…", id="import-as", compact=True,
                              tooltip="Owns new contacts unless a row names another owner")
            yield Input(placeholder="sheet (.xlsx)", id="import-sheet", compact=True,
                        tooltip="The workbook's sheet; empty: the first")
            yield Select[str](DATE_ORDERS, prompt="dates: auto", id="import-dates", compact=True,
                              tooltip="For date columns whose rows do not decide day or month first")
        yield Static("Choose a file, the importing user, then Preview (ctrl+r).", id="import-file-info",
                     markup=False)
        yield DataTable[Text | str](id="import-columns", cursor_type="row", zebra_stripes=True)
        yield Static("", id="import-summary", markup=False)
        yield ProgressBar(id="import-progress", show_eta=False)
        yield DataTable[Text | str](id="import-problems", cursor_type="row", zebra_stripes=True)
        yield Static("", id="import-detail", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "import contacts"
        columns = self.query_one("#import-columns", DataTable)
        columns.add_column("Column", key="column", width=24)
        columns.add_column("Field", key="field", width=20)
        columns.add_column("Note", key="note")
        columns.border_title = "Columns → fields (enter or f: change)"
        problems = self.query_one("#import-problems", DataTable)
        for key, label, width in (("line", "Line", 5), ("what", "What", 9), ("column", "Column", 14),
                                  ("value", "Value", 16), ("message", "Message", None)):
            problems.add_column(label, key=key, width=width)
        problems.border_title = "Problems"
        self.query_one("#import-progress", ProgressBar).display = False
        self.directory_changed()
        self.query_one("#import-path", Input).focus()

    def directory_changed(self) -> None:
        """Users changed: offer them as the importing user, keeping the choice (or the only user)."""
        select: Select[int] = self.query_one("#import-as", Select)
        options = self.link.directory.user_options()
        kept = select.value if select.value in {user_id for _, user_id in options} else None
        select.set_options(options)
        if kept is None and len(options) == 1:
            kept = options[0][1]
        if isinstance(kept, int):
            select.value = kept

    # --- the form ----------------------------------------------------------------------------

    def read_form(self) -> ImportOptions | None:
        """The options the form holds (None while the path or the user is missing); the column choices
        count only for the file they were made for."""
        path = self.query_one("#import-path", Input).value.strip()
        user = self.query_one("#import-as", Select).value
        if not path or not isinstance(user, int):
            return None
        path = str(Path(path).expanduser())
        sheet = self.query_one("#import-sheet", Input).value.strip() or None
        dates = self.query_one("#import-dates", Select).value
        choices = tuple(self.choices.items()) if path == self.choices_path else ()
        return ImportOptions(path, user, sheet, dates if isinstance(dates, str) else None, choices)

    def current_options(self) -> ImportOptions | None:
        """:meth:`read_form`, saying on the form what is missing; choices for another file are dropped."""
        options = self.read_form()
        if options is None:
            if not self.query_one("#import-path", Input).value.strip():
                self._say("Type the path of a .csv or .xlsx file.", self.query_one("#import-path", Input))
            else:
                self._say("Choose the importing user: they own new contacts unless a row names an owner.",
                          self.query_one("#import-as", Select))
            return None
        if options.path != self.choices_path:
            self.choices, self.choices_path = {}, options.path
        return options

    def _say(self, text: str, focus: Input | Select[int]) -> None:
        self.query_one("#import-file-info", Static).update(Text(text, style="bold"))
        focus.focus()

    def _sync_buttons(self) -> None:
        ready = self.previewed is not None and self.running is None and self.previewed == self.read_form()
        self.query_one("#import-run", Button).disabled = not ready

    @on(Input.Changed)
    @on(Select.Changed)
    def _form_changed(self) -> None:
        self._sync_buttons()

    @on(Input.Submitted, "#import-path")
    @on(Input.Submitted, "#import-sheet")
    @on(Button.Pressed, "#import-preview")
    def action_preview(self) -> None:
        """Preview (dry run) the form's options."""
        options = self.current_options()
        if options is None:
            return
        if self.running == "import":
            self.notify("An import is running: wait for it to finish", severity="warning")
            return
        self.launch(options, dry_run=True)

    @on(Button.Pressed, "#import-run")
    def action_import(self) -> None:
        """Import for real, when the shown preview was made with the form's options."""
        options = self.current_options()
        if options is None or self.running is not None:
            return
        if options != self.previewed:
            self.notify("Preview first (ctrl+r): the import does what the preview shows", title="Import",
                        severity="warning")
            return
        self.launch(options, dry_run=False)

    @on(DataTable.RowSelected, "#import-columns")
    def action_change_field(self) -> None:
        """Change where the highlighted column goes; a new preview follows."""
        table = self.query_one("#import-columns", DataTable)
        if not self.plan or table.cursor_row >= len(self.plan) or self.running == "import":
            return
        column = self.plan[table.cursor_row]
        if not column.column:
            self.notify("A column without a header cannot be imported: give it a header in the file",
                        severity="warning")
            return

        def chosen(choice: ColumnChoice | None) -> None:
            if choice is None:
                return
            if choice.automatic:
                self.choices.pop(choice.column, None)
            else:
                self.choices[choice.column] = choice.field
            self.action_preview()

        self.app.push_screen(ColumnFieldScreen(column, chosen=column.column in self.choices), chosen)

    @on(DataTable.RowHighlighted, "#import-problems")
    def _problem_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.problems):
            what, problem = self.problems[event.cursor_row]
            self.query_one("#import-detail", Static).update(describe_problem(what, problem))

    # --- running -----------------------------------------------------------------------------

    def launch(self, options: ImportOptions, *, dry_run: bool) -> None:
        """Show that a preview or import runs, and run it (replacing a preview that still runs)."""
        self.running = "preview" if dry_run else "import"
        self.generation += 1
        if not dry_run:
            self.previewed = None
        self._sync_buttons()
        self.query_one("#import-summary", Static).update("Previewing…" if dry_run else "Importing…")
        bar = self.query_one("#import-progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        self.run_file(self.generation, options, dry_run=dry_run)

    @work(thread=True, exclusive=True, group="import-file", exit_on_error=False)
    def run_file(self, generation: int, options: ImportOptions, *, dry_run: bool) -> None:
        """:func:`run_import` in a thread, its calls sent through the app's connection."""
        worker = get_current_worker()

        def call(method: str, params: dict[str, Any]) -> Any:
            return self.app.call_from_thread(self.link.call, method, params, timeout_s=CHUNK_TIMEOUT_S)

        def progress(done: int, total: int) -> None:
            if worker.is_cancelled:
                raise Cancelled
            self.post_message(self.Progress(generation, done, total))

        outcome = run_import(options, dry_run=dry_run, call=call, progress=progress)
        if outcome is not None:
            self.post_message(self.Finished(generation, outcome))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        super().on_worker_state_changed(event)  # notifies an unexpected failure
        if event.worker.group == "import-file" and event.state == WorkerState.ERROR:
            self._stopped()

    def _stopped(self) -> None:
        self.running = None
        self.query_one("#import-progress", ProgressBar).display = False
        self._sync_buttons()

    def on_import_screen_progress(self, message: Progress) -> None:
        if message.generation != self.generation:
            return
        self.query_one("#import-progress", ProgressBar).update(total=max(message.total, 1), progress=message.done)
        verb = "Previewing" if self.running == "preview" else "Importing"
        self.query_one("#import-summary", Static).update(f"{verb}… {message.done:,} of {message.total:,} rows")

    def on_import_screen_finished(self, message: Finished) -> None:
        if message.generation != self.generation:
            return
        outcome = message.outcome
        answer = self.last_answer = outcome.answer
        self.previewed = outcome.options if outcome.dry_run and answer is not None else None
        self._stopped()
        if answer is None:
            self.show_refusal(outcome)
            return
        self.query_one("#import-file-info", Static).update(layout_line(answer["file"]) if answer.get("file") else "")
        self.show_plan(msgspec.convert(answer.get("columns") or [], list[ColumnInfo]))
        lines = [counts_line(answer) if outcome.dry_run else f"Imported: {counts_line(answer)}"]
        if answer.get("date_orders"):
            lines.append(dates_line(answer))
        if answer.get("threshold_pushes"):
            lines.append(f"{answer['threshold_pushes']} contacts reached the lead score threshold: pushed now")
        self.query_one("#import-summary", Static).update("\n".join(lines))
        self.show_problems(problem_rows(answer))
        if not outcome.dry_run:
            self.notify(counts_line(answer), title="Imported", markup=False)

    def show_refusal(self, outcome: Outcome) -> None:
        if outcome.plan:
            self.show_plan(outcome.plan)
        stopped = "" if outcome.dry_run else (f" (the import stopped after {outcome.done:,} rows; those are imported)"
                                              if outcome.done else " (nothing was imported)")
        self.query_one("#import-summary", Static).update(Text(f"Refused: {outcome.reason}{stopped}", style="bold"))
        self.show_problems([])

    def show_plan(self, plan: list[ColumnInfo]) -> None:
        self.plan = plan
        table = self.query_one("#import-columns", DataTable)
        row = table.cursor_row
        table.clear()
        for col in plan:
            field = (col.field or "not imported") + (" [list]" if col.multi else "")
            table.add_row(col.column or "(no header)", Text(field, style="" if col.field else "dim"),
                          NOTES.get(col.note, col.note))
        if plan:
            table.move_cursor(row=min(row, len(plan) - 1))

    def show_problems(self, rows: list[tuple[str, Problem]]) -> None:
        self.problems = rows[:MAX_PROBLEM_ROWS]
        table = self.query_one("#import-problems", DataTable)
        table.clear()
        for what, p in self.problems:
            table.add_row(Text(str(p.line), justify="right"), what, p.column or MISSING, p.value or "", p.message)
        shown = f"showing {len(self.problems):,} of {len(rows):,}; leadsync import --json lists all" \
            if len(rows) > len(self.problems) else f"{len(rows):,}"
        table.border_title = f"Problems ({shown})"
        first = describe_problem(*self.problems[0]) if self.problems else "No problems."
        self.query_one("#import-detail", Static).update(first)

