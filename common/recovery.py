"""Answer shapes of the agent's recovery methods: ``errors.retry`` (failed records tried again) and
``sync.undo`` (a sync run's writes taken back). The agent encodes them and the TUI and CLI decode them, from
this one definition. Times are epoch milliseconds, UTC."""

from __future__ import annotations

from typing import Any

import msgspec

from leadsync.common.models import SyncRun


class RetrySkip(msgspec.Struct, kw_only=True):
    """An error ``errors.retry`` was asked for and did not retry, and why (unknown id, already resolved)."""

    id: int
    reason: str


class RetryAnswer(msgspec.Struct, kw_only=True):
    """What ``errors.retry`` retried: the open errors (``retried``, ids), the contacts queued for a push
    again (``contacts``), the CRM records read again (``reread``; ``gone``: those the CRM no longer has, their
    errors resolved), what it skipped, and the runs doing it (``run``: the push, ``reread_run``: the re-read;
    finished with ``wait``). With ``wait``, ``closed`` and ``still_open`` split ``retried`` by the outcome."""

    retried: list[int]
    contacts: list[int]
    reread: list[str]
    gone: list[str] = []
    skipped: list[RetrySkip] = []
    run: SyncRun | None = None
    reread_run: SyncRun | None = None
    closed: list[int] = []
    still_open: list[int] = []


class UndoField(msgspec.Struct, kw_only=True):
    """One field an undo puts back (``restore``) or leaves (``changed_since``): contact ``contact_id`` (CRM
    record ``crm_id``), local ``field`` (CRM ``property``), the ``sides`` it writes (``local``, ``crm``), the
    value the run wrote (``run_value``) and the one before it (``before``), what each side holds now
    (``local_value``, ``crm_value``; None when not read) and, for a field left alone, ``note`` (why)."""

    contact_id: int
    crm_id: str | None
    field: str
    property: str | None
    sides: list[str]
    before: Any
    run_value: Any
    local_value: Any = None
    crm_value: Any = None
    note: str | None = None


class UndoCreated(msgspec.Struct, kw_only=True):
    """A CRM record the run created: archived by the undo when ``archive`` (``archive_created``), else kept."""

    contact_id: int
    crm_id: str
    object_type: str
    archive: bool


class UndoAnswer(msgspec.Struct, kw_only=True):
    """``sync.undo``: the plan (``dry_run``) or what was done: for sync run ``run``, the fields put back on
    each side (``restore``), those left because they changed since the run (``changed_since``, not touched),
    the records it created in the CRM (``created``), counts (``local``, ``crm``: fields written per side,
    ``changed_since``, ``archive``, ``failed``) and, when applied, the undo's own sync run (``undo_run``,
    trigger ``undo``: it shows in the history and can be undone in turn)."""

    run: int
    dry_run: bool
    restore: list[UndoField]
    changed_since: list[UndoField]
    created: list[UndoCreated]
    counts: dict[str, int]
    undo_run: SyncRun | None = None
