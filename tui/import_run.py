"""One run of ``leadsync import``'s own code for the TUI, and its answer as the import screen lists it.

:func:`run_import` calls :func:`leadsync.common.importfile.upload.import_file` (it reads the file and
sends the chunks; run it in a thread) and ends in an :class:`Outcome`: the merged answer, or what
refused or stopped it, with the column plan as far as it was made so that a refused plan (no email
column, two columns for one field) can be changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from leadsync.common.errors import LeadsyncError, ValidationError
from leadsync.common.importfile.columns import draft_plan
from leadsync.common.importfile.reading import open_table
from leadsync.common.importfile.report import ColumnInfo, Problem
from leadsync.common.importfile.upload import Call, Progress, import_file

# the answer's problem lists, as the screen names them
PROBLEM_LISTS = (("failed", "failed"), ("warnings", "review"), ("duplicates", "duplicate"),
                 ("skipped_lines", "skipped"))


class Cancelled(Exception):
    """Raised by a progress callback to stop a run between chunks (a newer run replaced it)."""


@dataclass(frozen=True)
class ImportOptions:
    """One import as the form describes it: the file, the importing user's id, the sheet of a
    workbook, the date order for undecided columns, and the user's column choices as
    ``(column, field)`` pairs (field None: not imported)."""

    path: str
    as_user: int
    sheet: str | None = None
    date_format: str | None = None
    choices: tuple[tuple[str, str | None], ...] = ()

    def mapping(self) -> dict[str, str] | None:
        """``--map``: column -> field."""
        return {c: f for c, f in self.choices if f is not None} or None

    def skip(self) -> list[str] | None:
        """``--skip``: the columns not imported."""
        return [c for c, f in self.choices if f is None] or None


@dataclass(frozen=True)
class Outcome:
    """How a run ended: ``answer`` (the merged ``contacts.import`` answer), or ``reason`` it was refused
    or stopped with ``plan`` (the columns as far as planned) and ``done`` (rows already answered: for
    a real import, imported)."""

    options: ImportOptions
    dry_run: bool
    answer: dict[str, Any] | None = None
    reason: str = ""
    plan: list[ColumnInfo] = field(default_factory=list)
    done: int = 0


def run_import(options: ImportOptions, *, dry_run: bool, call: Call, progress: Progress) -> Outcome | None:
    """Import (or preview) ``options`` through ``call``; None when ``progress`` raised :class:`Cancelled`.
    Blocks: reads the file and waits for each chunk's answer."""
    done = [0]

    def counted(rows_done: int, total: int) -> None:
        done[0] = rows_done
        progress(rows_done, total)

    try:
        answer = import_file(call, options.path, as_user=options.as_user, dry_run=dry_run, mapping=options.mapping(),
                             skip=options.skip(), date_format=options.date_format, sheet=options.sheet,
                             progress=counted)
    except Cancelled:
        return None
    except (LeadsyncError, TimeoutError, OSError) as exc:
        return Outcome(options, dry_run, reason=refusal(exc, options.path), plan=sketch_plan(options), done=done[0])
    return Outcome(options, dry_run, answer=answer)


def refusal(exc: BaseException, path: str) -> str:
    """What to tell about a run that could not start or stopped."""
    if isinstance(exc, LeadsyncError):
        return exc.message
    if isinstance(exc, TimeoutError):
        return "the agent did not answer in time"
    if isinstance(exc, OSError):
        return f"cannot read {path}: {exc.strerror or exc}"
    return str(exc)


def sketch_plan(options: ImportOptions) -> list[ColumnInfo]:
    """The file's columns as planned so far (unchecked), to show next to a refusal; [] when the file
    cannot be read."""
    try:
        header = open_table(options.path, sheet=options.sheet).header
        return draft_plan(header, mapping=options.mapping(), skip=options.skip())
    except (ValidationError, OSError):
        return []


def problem_rows(answer: dict[str, Any]) -> list[tuple[str, Problem]]:
    """Every problem of an answer as ``(what, problem)``, by line: what is failed (not imported),
    review (imported with a warning), duplicate (a later line of the same email) or skipped."""
    rows = [(what, msgspec.convert(item, Problem)) for key, what in PROBLEM_LISTS for item in answer.get(key) or []]
    return sorted(rows, key=lambda row: row[1].line)


def describe_problem(what: str, problem: Problem) -> str:
    """``line 7 (failed), Email 'x': email: is required`` for the detail line."""
    where = f", {problem.column}" if problem.column else ""
    value = f" {problem.value!r}" if problem.value else ""
    return f"line {problem.line} ({what}){where}{value}: {problem.message}"
