"""The sandbox CRM's in-memory state: contacts, plus (via mixins) owners/teams/users
(``directory``), the search index (``search_index``) and request counters (the kit's ``counters``).

Contact indexes (``sortedcontainers``): ``_live_ids`` / ``_archived_ids`` hold contact ids in
ascending order for ``GET /crm/v3/objects/contacts`` (HubSpot lists by id) with
``archived=false`` / ``archived=true``. Seeded contacts live in compact arrays until first
written (see :meth:`SandboxState.contact`), so a million of them fit in modest memory.

Every public method takes ``self.lock`` so tests may call them while a uvicorn thread serves
requests; route handlers take it around each request's work.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from sortedcontainers import SortedList

from leadsync.agent.connectors.sandbox.counters import RequestCounters
from leadsync.common.emails import normalize_email

from .directory import Directory
from .properties import PropertyDef, default_contact_properties
from .records import COMPUTED_PROPERTIES, Contact, ContactSnapshot, PropertySource
from .search_index import ID_MASK, KEY_SHIFT, SearchIndex, search_key
from .timefmt import parse_instant_ms, system_clock

__all__ = ["ID_MASK", "KEY_SHIFT", "ContactNotFound", "SandboxState", "normalize_email", "search_key"]


class ContactNotFound(KeyError):
    """Raised by state methods given an id that does not name a live contact."""


class SandboxState(RequestCounters, Directory, SearchIndex):
    """The in-memory HubSpot account the sandbox app serves.

    Public attributes:
      ``clock``: ``Callable[[], int]`` giving epoch ms; every timestamp comes from it.
      ``property_defs``: contact property definitions by name.
      ``owners`` / ``teams`` / ``users``: by id (decimal strings).
      ``portal_id``, ``hub_domain``: the account's identity (``hub_id`` of the token).
      ``token_user_id``: the settings user the API token belongs to (default: the super admin).
      ``search_lag_source``: ``Callable[[], float]`` giving the search index lag in seconds
      (``create_app`` wires it to ``FaultSwitches.search_lag_s``).
      ``requests``: ``Counter`` of ``(method, path)``; ``write_requests``: calls received on
      endpoints that change data; ``records_written``: records those calls changed;
      ``rate_limited``: 429 answers served; ``status_counts``; ``request_log`` (``LoggedRequest``s, newest last).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], int] | None = None,
        portal_id: int = 4_242_424,
        request_log_size: int = 2_000,
    ) -> None:
        """Create an empty account; ``clock`` defaults to real time; ``request_log`` keeps the
        last ``request_log_size`` requests (with their JSON bodies)."""
        self.clock: Callable[[], int] = clock or system_clock
        self.lock = threading.RLock()
        self.portal_id = portal_id
        self.hub_domain = f"sandbox-{portal_id}.hubspot.test"
        self.property_defs: dict[str, PropertyDef] = default_contact_properties()
        self.created_ms = self.clock()

        self._contacts: dict[int, Contact] = {}
        self._merged_count = 0
        self._seed_source: PropertySource | None = None
        self._seed_first = 0
        self._seed_created = array("q")
        self._seed_updated = array("q")
        self._live_ids: Any = SortedList()
        self._archived_ids: Any = SortedList()
        self._email_index: dict[str, int] = {}
        self._email_resolver: Callable[[str], int | None] | None = None
        self._next_id = 101

        self._init_counters(request_log_size)
        self._init_directory()
        self._init_search_index()

    def stats(self) -> dict[str, Any]:
        """Return counters as JSON-ready data (the ``GET /__sandbox/stats`` answer)."""
        with self.lock:
            return {
                **self.counter_stats(),
                "rate_limited": self.rate_limited,
                "contacts": {
                    "live": len(self._live_ids),
                    "archived": len(self._archived_ids),
                    "merged": self._merged_count,
                },
            }

    # ------------------------------------------------------------------ contacts: test API

    def add_contact(
        self,
        properties: Mapping[str, str | None],
        *,
        updated_at_ms: int | None = None,
        created_at_ms: int | None = None,
        contact_id: int | str | None = None,
    ) -> str:
        """Create a contact without API validation and return its id (decimal string).

        ``updated_at_ms`` sets ``lastmodifieddate``/``updatedAt`` (default: now; ties allowed);
        ``created_at_ms`` sets ``createdate`` (default: ``updated_at_ms`` or now); ``contact_id``
        forces the id (must be unused). Raises ``ValueError`` for a used id.
        """
        with self.lock:
            now = self.clock()
            updated = now if updated_at_ms is None else updated_at_ms
            created = created_at_ms if created_at_ms is not None else min(updated, now)
            values = dict(properties)
            if "createdate" in values:
                parsed = parse_instant_ms(values.pop("createdate") or "")
                created = created if parsed is None else parsed
            for name in COMPUTED_PROPERTIES:
                values.pop(name, None)
            contact = self._insert(values, created, updated, contact_id)
            return str(contact.id)

    def update_contact(
        self, contact_id: int | str, properties: Mapping[str, str | None], *, at_ms: int | None = None
    ) -> None:
        """Write properties (no validation; ``None`` unsets) and set ``lastmodifieddate`` to
        ``at_ms`` (default: now). Raises :class:`ContactNotFound` unless the contact is live."""
        with self.lock:
            contact = self._require_live(contact_id)
            values = dict(properties)
            if "createdate" in values:
                parsed = parse_instant_ms(values.pop("createdate") or "")
                if parsed is not None:
                    contact.created_ms = parsed
            for name in COMPUTED_PROPERTIES:
                values.pop(name, None)
            self.write_contact(contact, values, at_ms=at_ms)

    def archive_contact(self, contact_id: int | str, *, at_ms: int | None = None) -> None:
        """Archive a live contact (like ``DELETE /crm/v3/objects/contacts/{id}``); its
        ``lastmodifieddate`` does not change. Raises :class:`ContactNotFound`."""
        with self.lock:
            contact = self._require_live(contact_id)
            self._before_change(contact)
            self._contacts[contact.id] = contact
            contact.archived_at_ms = self.clock() if at_ms is None else at_ms
            self._live_ids.remove(contact.id)
            self._archived_ids.add(contact.id)
            self._after_change(contact)

    def merge_contacts(self, primary_id: int | str, merged_id: int | str, *, at_ms: int | None = None) -> str:
        """Merge ``merged_id`` into ``primary_id`` (``POST /crm/v3/objects/contacts/merge``).

        The merged contact stops resolving; the primary keeps its values, takes the merged
        contact's values for properties it lacks, lists the merged id (and ids merged into it
        before) in ``hs_merged_object_ids`` (``;``-joined) and the merged email in
        ``hs_additional_emails``. Returns the primary id. Raises :class:`ContactNotFound`, or
        ``ValueError`` when both ids are the same.
        """
        with self.lock:
            primary = self._require_live(primary_id)
            merged = self._require_live(merged_id)
            if primary.id == merged.id:
                raise ValueError("cannot merge a contact into itself")
            mine = primary.stored()
            theirs = merged.stored()
            values: dict[str, str | None] = {
                name: value for name, value in theirs.items() if value not in (None, "") and not mine.get(name)
            }
            merged_ids = [x for x in (mine.get("hs_merged_object_ids") or "").split(";") if x]
            merged_ids += [str(merged.id)]
            merged_ids += [x for x in (theirs.get("hs_merged_object_ids") or "").split(";") if x]
            values["hs_merged_object_ids"] = ";".join(merged_ids)
            other_email = theirs.get("email")
            if other_email:
                extra = [x for x in (mine.get("hs_additional_emails") or "").split(";") if x]
                values["hs_additional_emails"] = ";".join([*extra, other_email.strip()])
                values.pop("email", None)
            self._before_change(merged)
            self._contacts[merged.id] = merged
            self._merged_count += 1
            merged.merged_into = primary.id
            self._live_ids.remove(merged.id)
            self._after_change(merged)
            for other in self._contacts.values():
                if other.merged_into == merged.id:
                    other.merged_into = primary.id
            self.write_contact(primary, values, at_ms=at_ms)
            if other_email:
                self._email_index[normalize_email(other_email)] = primary.id
            return str(primary.id)

    def get_contact(self, contact_id: int | str) -> ContactSnapshot | None:
        """Return a snapshot of any contact (live, archived or merged away), or ``None``."""
        with self.lock:
            contact = self.contact(_as_int(contact_id))
            if contact is None:
                return None
            return ContactSnapshot(
                id=str(contact.id),
                properties=contact.properties(),
                created_at_ms=contact.created_ms,
                updated_at_ms=contact.updated_ms,
                archived=contact.archived,
                archived_at_ms=contact.archived_at_ms,
                merged_into=None if contact.merged_into is None else str(contact.merged_into),
            )

    def find_contact_by_email(self, email: str) -> str | None:
        """Return the id of the live contact with this email (trimmed, case-insensitive)."""
        with self.lock:
            contact = self.contact_by_email(email)
            return None if contact is None else str(contact.id)

    def contact_count(self) -> int:
        """Number of live (not archived, not merged) contacts."""
        return len(self._live_ids)

    def live_contact_ids(self) -> list[str]:
        """Ids of all live contacts, ascending."""
        with self.lock:
            return [str(x) for x in self._live_ids]

    # ------------------------------------------------------------------ contacts: used by the app

    def contact(self, contact_id: int) -> Contact | None:
        """Return the contact record with this id in any state, or ``None``.

        Seeded contacts nobody has written are built on the fly from the seed arrays; a write
        (:meth:`write_contact`, archive, merge) stores the record for good.
        """
        contact = self._contacts.get(contact_id)
        if contact is not None:
            return contact
        offset = contact_id - self._seed_first
        if self._seed_source is not None and 0 <= offset < len(self._seed_created):
            return Contact(
                contact_id, self._seed_created[offset], self._seed_updated[offset], None, self._seed_source
            )
        return None

    def live_contact(self, contact_id: int | str) -> Contact | None:
        """Return the contact if it exists and is neither archived nor merged away."""
        contact = self.contact(_as_int(contact_id))
        if contact is None or contact.archived or contact.merged_into is not None:
            return None
        return contact

    def contact_by_email(self, email: str) -> Contact | None:
        """Resolve a live contact by email (its own, or one merged into it)."""
        key = normalize_email(email)
        found = self._email_index.get(key)
        if found is not None:
            contact = self.live_contact(found)
            if contact is not None and self._has_email(contact, key):
                return contact
        if self._email_resolver is not None:
            seeded = self._email_resolver(key)
            if seeded is not None:
                contact = self.live_contact(seeded)
                if contact is not None and (contact.own is None or "email" not in contact.own):
                    return contact
        return None

    def create_contact(self, values: Mapping[str, str | None], *, at_ms: int | None = None) -> Contact:
        """Create a contact from validated values (API create/upsert)."""
        now = self.clock() if at_ms is None else at_ms
        stored = dict(values)
        created = parse_instant_ms(stored.pop("createdate", None) or "")
        return self._insert(stored, now if created is None else created, now, None)

    def write_contact(self, contact: Contact, values: Mapping[str, str | None], *, at_ms: int | None = None) -> None:
        """Apply validated values to a live contact and bump its ``lastmodifieddate``."""
        self._before_change(contact)
        self._contacts[contact.id] = contact
        old_email = contact.get("email")
        for name, value in values.items():
            if name == "createdate":
                created = parse_instant_ms(value or "")
                if created is not None:
                    contact.created_ms = created
            elif name not in COMPUTED_PROPERTIES:
                contact.set(name, value)
        contact.updated_ms = self.clock() if at_ms is None else at_ms
        new_email = contact.get("email")
        if new_email and new_email != old_email:
            self._email_index[normalize_email(new_email)] = contact.id
        if "hs_additional_emails" in values:
            self._index_additional(contact)
        self._after_change(contact)

    def iter_ids(self, *, archived: bool, after: int) -> Iterator[int]:
        """Yield contact ids ``>= after`` ascending, live ones or archived ones."""
        ids = self._archived_ids if archived else self._live_ids
        start: int = ids.bisect_left(after)
        for position in range(start, len(ids)):
            yield ids[position]

    # ------------------------------------------------------------------ contacts: internals

    def _insert(
        self, values: dict[str, str | None], created_ms: int, updated_ms: int, contact_id: int | str | None
    ) -> Contact:
        cid = self._next_id if contact_id is None else _as_int(contact_id)
        if self.contact(cid) is not None:
            raise ValueError(f"contact id {cid} is already used")
        self._next_id = max(self._next_id, cid + 1)
        contact = Contact(cid, created_ms, updated_ms, values, None)
        self._contacts[cid] = contact
        self._live_ids.add(cid)
        email = values.get("email")
        if email:
            self._email_index[normalize_email(email)] = cid
        self._index_additional(contact)
        if self._lag_ms() > 0:
            self._unindexed.add(cid)
            self._after_change(contact)
        else:
            self._search.add(search_key(updated_ms, cid))
        return contact

    def bulk_add_seeded(self, source: PropertySource, first_id: int, times: Iterable[tuple[int, int]]) -> None:
        """Add seeded contacts with ids ``first_id, first_id + 1, ...`` in one pass.

        ``times[i]`` is ``(created_ms, updated_ms)`` of contact ``first_id + i``; the property
        values come from ``source``. Ids must be above every existing id.
        """
        with self.lock:
            if self._seed_source is not None:
                raise ValueError("the state is already seeded")
            if first_id < self._next_id:
                raise ValueError("seeded ids must follow existing ids")
            created_arr = self._seed_created
            updated_arr = self._seed_updated
            keys = []
            cid = first_id
            for created, updated in times:
                created_arr.append(created)
                updated_arr.append(updated)
                keys.append((updated << KEY_SHIFT) | cid)
                cid += 1
            self._seed_source = source
            self._seed_first = first_id
            ids = range(first_id, first_id + len(keys))
            if len(self._live_ids):
                self._live_ids.update(ids)
                self._search.update(keys)
            else:
                self._live_ids = SortedList(ids)
                self._search = SortedList(keys)
            self._next_id = max(self._next_id, first_id + len(keys))

    def set_email_resolver(self, resolver: Callable[[str], int | None]) -> None:
        """Install the seeded-email lookup (normalized email -> contact id or ``None``)."""
        self._email_resolver = resolver

    def _index_additional(self, contact: Contact) -> None:
        """Index the contact's secondary emails (``hs_additional_emails``, ``;``-joined): HubSpot finds a
        contact by any of its emails and refuses another contact with one of them."""
        for extra in (contact.get("hs_additional_emails") or "").split(";"):
            key = normalize_email(extra)
            current = self._email_index.get(key) if key else contact.id
            holder = self.live_contact(current) if current is not None else None
            if key and (holder is None or not self._has_email(holder, key)):
                self._email_index[key] = contact.id

    def _has_email(self, contact: Contact, key: str) -> bool:
        email = contact.get("email")
        if email is not None and normalize_email(email) == key:
            return True
        extra = contact.get("hs_additional_emails") or ""
        return any(normalize_email(x) == key for x in extra.split(";") if x)

    def _require_live(self, contact_id: int | str) -> Contact:
        contact = self.live_contact(contact_id)
        if contact is None:
            raise ContactNotFound(str(contact_id))
        return contact

def _as_int(value: int | str) -> int:
    if isinstance(value, int):
        return value
    text = value.strip()
    return int(text) if text.isdigit() else -1
