"""Shapes that cross the socket: what the agent's JSON-RPC methods return.

Times are epoch milliseconds, UTC. Field names follow the field's standard terms (owner, lifecycle
stage, lead score, sync run, cursor...). These are plain msgspec Structs so the TUI, the CLI and
scripts decode exactly what the agent encodes.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

# The local contact fields with columns of their own; anything else lives in ``Contact.fields``.
STANDARD_FIELDS: tuple[str, ...] = (
    "email",
    "first_name",
    "last_name",
    "company",
    "job_title",
    "phone",
    "lifecycle_stage",
    "lead_score",
)
# a custom field's name
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
# names of contact attributes leadsync manages itself: never settable as fields
RESERVED_FIELDS = frozenset({"id", "owner", "owner_id", "crm_id", "crm_object_type", "crm_state", "created_by",
                             "source", "created_at", "updated_at", "sync_state", "fields"})


class User(msgspec.Struct, kw_only=True):
    """A leadsync user, matched to a CRM owner by email (trimmed, case-insensitive)."""

    id: int
    email: str
    name: str
    role: str
    crm_owner_id: str | None = None
    owner_active: bool | None = None
    created_at: int


class Owner(msgspec.Struct, kw_only=True):
    """A CRM owner as last pulled. ``user_id`` is the matched leadsync user, or None (unmatched)."""

    crm_id: str
    email: str
    first_name: str
    last_name: str
    active: bool
    teams: list[dict[str, Any]]
    user_id: int | None = None
    contacts_owned: int = 0


class Contact(msgspec.Struct, kw_only=True):
    """A contact in the local store.

    ``owner_id`` is the CRM owner id (the CRM decides it); ``created_by`` the leadsync user who
    created it; ``crm_id``/``crm_object_type`` the CRM link; ``crm_state`` one of none, linked,
    archived, merged; ``sync_state`` one of synced, pending, error, local.
    """

    id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    job_title: str | None
    phone: str | None
    lifecycle_stage: str | None
    lead_score: int | None
    owner_id: str | None
    created_by: int | None
    source: str
    fields: dict[str, Any]
    created_at: int
    updated_at: int
    crm_id: str | None = None
    crm_object_type: str | None = None
    crm_state: str = "none"
    sync_state: str = "local"


class ContactPage(msgspec.Struct, kw_only=True):
    """One page of ``contacts.list``. Pass ``next_after`` back as ``after`` for the next page; None: last page."""

    contacts: list[Contact]
    next_after: int | None


class SyncRun(msgspec.Struct, kw_only=True):
    """One sync run with its counts. ``status``: running, ok, partial, failed, interrupted."""

    id: int
    trigger: str
    status: str
    started_at: int
    finished_at: int | None
    pulled: int = 0
    created_local: int = 0
    updated_local: int = 0
    created_crm: int = 0
    updated_crm: int = 0
    linked: int = 0
    failed: int = 0
    api_calls: int = 0
    error: str | None = None
    undoes: int | None = None
    """An undo run (trigger ``undo``): the run it undid."""

    @property
    def crm_writes(self) -> int:
        return self.created_crm + self.updated_crm


class SyncError(msgspec.Struct, kw_only=True):
    """A record that failed alone, with the reason: one open error per record and problem (``operation`` and
    ``code``, machine-readable), seen ``count`` times, first at ``created_at`` and last at ``last_seen_at``
    (by sync run ``sync_run_id``); ``reason`` reads as a sentence, ``detail`` is the CRM's raw answer (JSON
    or text, never a secret; None when there was none); ``next_retry_at`` is when an automatic retry is due
    (None: a retry cannot fix it, or it is resolved). Times epoch ms UTC."""

    id: int
    sync_run_id: int | None
    contact_id: int | None
    crm_id: str | None
    operation: str
    code: str | None
    reason: str
    created_at: int
    resolved_at: int | None = None
    count: int = 1
    last_seen_at: int | None = None
    detail: Any = None
    next_retry_at: int | None = None


class CrmStatus(msgspec.Struct, kw_only=True):
    """The CRM connection: which CRM, who connected it and whether that user is an admin."""

    connected: bool
    crm: str | None = None
    base_url: str | None = None
    user_email: str | None = None
    is_admin: bool | None = None
    status: str | None = None
    connected_at: int | None = None
    warning: str | None = None
    note: str | None = None  # e.g. a private-app token: the connecting user is unknown, every record is visible
