"""The store's files on disk: private modes, and a full disk told apart from other errors.

Every file the agent writes is its own user's only: directories 0700, files 0600 (the agent also runs under
``umask 077``, see :mod:`leadsync.agent.hardening`; these calls make it so for files made before that, or by an
agent embedded in another process). A full disk (SQLite's ``SQLITE_FULL``, ``ENOSPC``, a quota) becomes
:class:`~leadsync.common.errors.DiskFullError`, "disk full at PATH, nothing was written".
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from leadsync.common.errors import DiskFullError

log = logging.getLogger("leadsync.agent")
SQLITE_FULL = 13
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
"""OS errors that mean no room for the write: no space, quota exceeded, file size limit."""
STORE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def disk_full(exc: BaseException, path: Path) -> DiskFullError | None:
    """``exc`` (or the error it was raised from) as DiskFullError at ``path`` when it says the disk is full;
    None for any other error. ``path`` names the store; an OSError naming its own file names that file."""
    for error in (exc, exc.__cause__, exc.__context__):
        if isinstance(error, DiskFullError):
            return error
        if isinstance(error, sqlite3.Error) and (getattr(error, "sqlite_errorcode", 0) & 0xFF) == SQLITE_FULL:
            return DiskFullError(str(path))
        if isinstance(error, OSError) and error.errno in FULL_ERRNOS:
            return DiskFullError(str(error.filename or path))
    return None


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and make it 0700 when this user owns it (a directory someone else
    gave the agent, such as a shared backup directory, keeps its mode); returns it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_uid == os.geteuid():
        os.chmod(path, 0o700)
    return path


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (SQLite then gives its WAL and SHM the same
    mode), and make an existing one 0600."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    os.chmod(path, 0o600)


def secure_store_files(db: Path) -> None:
    """The store's directory 0700 and its database, WAL, SHM and journal 0600 (those that exist)."""
    private_dir(db.parent)
    create_private_file(db)
    for suffix in STORE_SUFFIXES[1:]:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(db.with_name(db.name + suffix), 0o600)


@contextlib.contextmanager
def unless_disk_full(path: Path, what: str) -> Iterator[None]:
    """Let a full disk skip the block's write (logged as a warning naming ``what`` left undone); any other
    error is raised. For writes that may be left to later, such as the bookkeeping of a stopping agent."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        full = disk_full(exc, path)
        if full is None:
            raise
        log.warning("%s not recorded: %s", what, full.message)
