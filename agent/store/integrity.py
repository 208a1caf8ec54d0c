"""The store checks itself: SQLite's ``quick_check`` at every agent start, the full ``integrity_check`` on
request (``leadsync agent --integrity-check``) and on every backup copy. A damaged store is refused with
:class:`~leadsync.common.errors.StoreDamagedError`, never served.

These run with the standard library's ``sqlite3`` before the agent opens the store (nothing else has it open
then: the agent holds the data dir's lock), or in a worker thread on a backup copy.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from leadsync.common.errors import StoreDamagedError

MAX_PROBLEMS = 20
"""Problems an integrity check reports at most (SQLite stops there)."""


def integrity_problems(path: Path, *, full: bool = False) -> list[str]:
    """What SQLite finds wrong with the database file at ``path``: [] when it passes.

    ``full``: ``PRAGMA integrity_check`` (also checks every index against its table; slower), else
    ``PRAGMA quick_check`` (pages, records, constraints; linear in the file's size). A file that is not a
    database, or whose header or schema cannot be read, gives one problem naming SQLite's error."""
    pragma = "integrity_check" if full else "quick_check"
    try:
        db = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        return [f"cannot open: {exc}"]
    try:
        rows = db.execute(f"PRAGMA {pragma}({MAX_PROBLEMS})").fetchall()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    finally:
        db.close()
    problems = [str(row[0]) for row in rows]
    return [] if problems == ["ok"] else problems


def check_store(path: Path, *, full: bool = False) -> None:
    """Refuse a damaged store: StoreDamagedError naming ``path``, the first problems, and how to restore.
    A store that does not exist yet passes (the agent creates it)."""
    if not path.exists():
        return
    problems = integrity_problems(path, full=full)
    if problems:
        raise StoreDamagedError(damaged_message(path, problems), data={"path": str(path), "problems": problems})


def damaged_message(path: Path, problems: list[str]) -> str:
    """The refusal: which file, what SQLite said (first three problems), and how to restore it."""
    shown = "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")
    return (f"the store {path} is damaged and will not be served: {shown}. Restore it from a backup: "
            f"`leadsync restore BACKUP.db --data-dir {path.parent}` while the agent is stopped (the damaged "
            "file is kept aside), then start the agent again")
