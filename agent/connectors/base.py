"""The one interface every CRM connector implements (HubSpot, Salesforce, Zoho CRM, Autotask).

The sync engine speaks only this. A connector translates between its CRM's wire format and these
canonical shapes, batches writes at its CRM's batch size, maps results back to the inputs that caused
them, and raises only :mod:`leadsync.common.errors` types.

Canonical object types: ``"contact"`` and ``"lead"``. HubSpot has one contacts object whose
``lifecyclestage`` says lead or not, so both map to it; Salesforce and Zoho have separate Lead and
Contact objects; Autotask contacts live under a company.

Times are epoch milliseconds, UTC, everywhere in this interface.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

from leadsync.common.errors import CrmError

ObjectType = Literal["contact", "lead"]
PropertyType = Literal["string", "number", "bool", "date", "datetime", "enumeration"]


class CrmTeam(msgspec.Struct, frozen=True):
    """A CRM team: visibility of contacts follows team membership."""

    id: str
    name: str
    primary: bool = False


class CrmOwner(msgspec.Struct, frozen=True):
    """A CRM user who can own records. ``active=False`` for deactivated users (they stay owners)."""

    id: str
    email: str
    first_name: str = ""
    last_name: str = ""
    active: bool = True
    user_id: str | None = None
    teams: tuple[CrmTeam, ...] = ()


class ConnectionInfo(msgspec.Struct, frozen=True):
    """Who the credentials belong to. ``is_admin`` False means the connection sees only some records.

    ``user_email`` is "" when the CRM does not say (a HubSpot private-app token); ``note`` then says why."""

    user_email: str
    user_id: str | None = None
    is_admin: bool = False
    account_id: str | None = None
    note: str | None = None


class PropertyOption(msgspec.Struct, frozen=True):
    value: str
    label: str = ""
    hidden: bool = False


class PropertyMeta(msgspec.Struct, frozen=True):
    """One CRM field (HubSpot: property) as the CRM's metadata describes it.

    ``type`` is the value type; ``multi`` marks multi-select enumerations (values joined with ``;``
    on the HubSpot wire); ``required`` means a create is refused without it.
    """

    name: str
    label: str
    type: PropertyType
    field_type: str = ""
    options: tuple[PropertyOption, ...] = ()
    multi: bool = False
    required: bool = False
    read_only: bool = False
    unique: bool = False


class CrmRecord(msgspec.Struct, frozen=True):
    """A record as pulled from the CRM.

    ``properties`` holds wire values keyed by CRM property name: text as the CRM sent it (HubSpot
    sends every value as a string) or None for not set. ``merged_ids`` lists ids that were merged
    into this record and no longer resolve (HubSpot ``hs_merged_object_ids``). ``merged_into_id`` is the
    survivor of an archived record that was merged away (Salesforce ``MasterRecordId``). A converted lead
    names the record it became: ``converted_to_type`` and ``converted_to_id`` (Salesforce
    ``ConvertedContactId``, Zoho's conversion); its later updates belong there.
    """

    object_type: ObjectType
    id: str
    properties: dict[str, str | None]
    updated_at_ms: int
    created_at_ms: int | None = None
    archived: bool = False
    merged_ids: tuple[str, ...] = ()
    merged_into_id: str | None = None
    converted_to_type: ObjectType | None = None
    converted_to_id: str | None = None


class PullPage(msgspec.Struct, frozen=True):
    """One page of an incremental pull.

    ``cursor`` is a checkpoint that is safe to save once every record of this page (and of the
    pages before it) is applied: resuming from it skips nothing. None means "do not move the cursor
    yet". ``done`` is True only on the last page of a pull that covered everything.
    """

    records: list[CrmRecord]
    cursor: dict[str, Any] | None
    done: bool = False
    total: int | None = None  # records the whole pull will yield, when the CRM says (for progress)


class WriteInput(msgspec.Struct, frozen=True):
    """One record to write. ``ref`` is the caller's key (the local contact id) and comes back in its
    result; ``id`` is the CRM id for updates; ``properties`` are wire values (``""`` clears).
    ``clear_first`` names properties of :attr:`Capabilities.forward_only` that this update sets back on
    purpose: the connector clears them in a request of its own first, then writes ``properties``."""

    ref: str
    properties: dict[str, str]
    id: str | None = None
    clear_first: tuple[str, ...] = ()


class WriteResult(msgspec.Struct, frozen=True):
    """The CRM's answer for one :class:`WriteInput`.

    ``ok`` False carries ``error`` (a reason a person can read) and ``error_code`` (the CRM's
    category). ``created`` is True when a create or upsert made a new record. ``record`` is the record
    as the CRM stored it, when the answer included it. ``existing_id`` names the record that made a
    create fail because it already exists (its email, a secondary email, or what the CRM's duplicate
    rules match, is taken): the caller links to it instead of duplicating; ``existing_type`` is that
    record's object type when it is not the created one (a Lead refused as a duplicate of a Contact).
    ``not_sent`` marks a record whose request could not get through (the CRM unavailable or rate
    limited after the HTTP layer's retries, see :func:`not_sent`): nothing is known to be written, and
    it is worth sending again later; the other records of the call are unaffected.
    ``detail`` is the CRM's raw answer about a refused record (JSON-ready or text, never a secret; see
    :func:`~leadsync.agent.connectors.refusals.raw_detail`).
    """

    ref: str
    ok: bool
    id: str | None = None
    created: bool = False
    record: CrmRecord | None = None
    error: str | None = None
    error_code: str | None = None
    existing_id: str | None = None
    existing_type: ObjectType | None = None
    not_sent: bool = False
    detail: Any = None


def not_sent(inp: WriteInput, error: CrmError) -> WriteResult:
    """The result of ``inp`` when its request could not get through: ``error`` (transient, see
    :func:`~leadsync.common.errors.is_transient`) as the reason, ``not_sent`` set."""
    return WriteResult(ref=inp.ref, ok=False, id=inp.id, error=error.message,
                       error_code=error.category or type(error).__name__, not_sent=True)


class Capabilities(msgspec.Struct, frozen=True):
    """What a CRM can do, for the engine and for the README's table.

    ``object_types`` are pulled in this order, each with its own cursor (a lead before the contact it
    may be converted to). New marketing contacts are created as ``new_lead_object``; before that, the
    emails are looked up in ``link_first`` (e.g. Salesforce's Contacts) and a match is linked instead of
    creating a lead beside an existing contact; ``emails_per_lookup`` is how many emails one such look-up
    request carries (0: nothing is looked up). ``batch_size`` is the most records one write request
    carries; ``deletes`` says how deletions are seen; ``limits`` is the rate limit in words.
    ``forward_only`` are properties whose value the CRM's API only moves forward unless it is cleared
    first (HubSpot's ``lifecyclestage``); Salesforce's and Zoho's lead status picklists have no such rule.
    """

    batch_size: int
    page_size: int
    object_types: tuple[ObjectType, ...]
    new_lead_object: ObjectType
    email_property: str
    owner_property: str
    supports_upsert: bool
    cursor: str
    link_first: tuple[ObjectType, ...] = ()
    emails_per_lookup: int = 0
    deletes: str = ""
    limits: str = ""
    forward_only: tuple[str, ...] = ()


@runtime_checkable
class Connector(Protocol):
    """A CRM seen through one client. Every method raises :class:`leadsync.common.errors.CrmError`
    subclasses on failure; per-record refusals come back as ``WriteResult(ok=False)`` instead."""

    name: str
    base_url: str
    capabilities: Capabilities

    @property
    def api_calls(self) -> int:
        """HTTP requests made so far (retries included)."""
        ...

    async def connection_info(self) -> ConnectionInfo: ...

    async def list_owners(self) -> list[CrmOwner]:
        """Every owner, active and deactivated."""
        ...

    async def list_properties(self, object_type: ObjectType) -> list[PropertyMeta]: ...

    def pull_changes(
        self, object_type: ObjectType, cursor: dict[str, Any] | None, *, properties: Sequence[str]
    ) -> AsyncIterator[PullPage]:
        """Records changed since ``cursor`` (None: everything), oldest first, as pages."""
        ...

    def list_archived(self, object_type: ObjectType, *, properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        """Archived (deleted) records, page by page."""
        ...

    async def read(self, object_type: ObjectType, ids: Sequence[str], *,
                   properties: Sequence[str]) -> dict[str, CrmRecord | None]:
        """Records by id; None for ids that no longer resolve (deleted or merged away)."""
        ...

    async def find_by_email(self, object_type: ObjectType, emails: Sequence[str], *,
                            properties: Sequence[str]) -> dict[str, CrmRecord]:
        """Records by email, keyed by the email as given (match is trimmed and case-insensitive)."""
        ...

    async def create(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Create records. Never duplicates an email: an input whose email a record already has comes
        back ``ok=False`` with that record's ``existing_id`` (so replaying a create after a crash is
        harmless and an existing CRM record is linked, not overwritten); so does one the CRM itself
        refuses as a duplicate (HubSpot 409 CONFLICT, Salesforce DUPLICATES_DETECTED, Zoho DUPLICATE_DATA,
        Autotask's duplicate email). A batch whose request cannot get through comes back ``not_sent``
        for its records rather than raising, so the batches that went through are not lost."""
        ...

    async def update(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]: ...

    async def upsert(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Create or update keyed by email; idempotent, so a replay after a crash makes no duplicate."""
        ...

    async def archive(self, object_type: ObjectType, ids: Sequence[str]) -> list[WriteResult]:
        """Delete (archive) records by CRM id; each result's ``ref`` is the id."""
        ...

    async def aclose(self) -> None: ...
