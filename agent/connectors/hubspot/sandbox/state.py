"""The sandbox CRM's in-memory state: contacts, owners, teams, users, property definitions.

Indexes (``sortedcontainers``):

- ``_live_ids`` / ``_archived_ids``: contact ids in ascending order, for ``GET /crm/v3/objects/
  contacts`` (HubSpot lists by id) with ``archived=false`` / ``archived=true``;
- ``_search``: the *search index*, one int key per searchable contact encoding
  ``(lastmodifieddate ms, id)`` as ``ms << 40 | id``; a ``lastmodifieddate`` range sorted by
  ``lastmodifieddate`` is a bisect plus a slice, O(log n + page) even at 1,000,000 contacts.

Search index lag (HubSpot search guide, "Limits": new or updated objects take a few moments to
appear): with a lag > 0 a write reaches the search index only ``lag`` seconds later; until then
search sees the record as it was (``_stale`` snapshot) or not at all (new record).

Every method takes ``self.lock`` so tests may call them while a uvicorn thread serves requests.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sortedcontainers import SortedList

from .properties import PropertyDef, PropertyOption, default_contact_properties
from .records import COMPUTED_PROPERTIES, Contact, ContactSnapshot, Owner, PropertySource, Team, User
from .timefmt import parse_instant_ms, system_clock

KEY_SHIFT = 40
ID_MASK = (1 << KEY_SHIFT) - 1


def search_key(updated_ms: int, contact_id: int) -> int:
    """Encode ``(lastmodifieddate ms, id)`` as one sortable int (ids must be < 2**40)."""
    return (updated_ms << KEY_SHIFT) | contact_id


def normalize_email(email: str) -> str:
    """Email identity as HubSpot matches it: trimmed and case-insensitive."""
    return email.strip().lower()


class ContactNotFound(KeyError):
    """Raised by state methods given an id that does not name a live contact."""


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request the sandbox received: method, path, query string, answer status, JSON body."""

    method: str
    path: str
    query: str
    status: int
    at_ms: int
    body: Any


class SandboxState:
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
      ``rate_limited``: 429 answers served; ``status_counts``; ``request_log`` (last 10,000).
    """

    def __init__(self, *, clock: Callable[[], int] | None = None, portal_id: int = 4_242_424) -> None:
        """Create an empty account; ``clock`` defaults to real time."""
        self.clock: Callable[[], int] = clock or system_clock
        self.lock = threading.RLock()
        self.portal_id = portal_id
        self.hub_domain = f"sandbox-{portal_id}.hubspot.test"
        self.property_defs: dict[str, PropertyDef] = default_contact_properties()
        self.owners: dict[str, Owner] = {}
        self.teams: dict[str, Team] = {}
        self.users: dict[str, User] = {}
        self.token_user_id: str | None = None
        self.search_lag_source: Callable[[], float] = lambda: 0.0
        self.created_ms = self.clock()

        self._contacts: dict[int, Contact] = {}
        self._live_ids: Any = SortedList()
        self._archived_ids: Any = SortedList()
        self._search: Any = SortedList()
        self._stale: dict[int, Contact] = {}
        self._unindexed: set[int] = set()
        self._pending: deque[tuple[int, int]] = deque()
        self._pending_due: dict[int, int] = {}
        self._email_index: dict[str, int] = {}
        self._email_resolver: Callable[[str], int | None] | None = None
        self._next_id = 101
        self._next_owner_id = 10_000_001
        self._next_user_id = 20_000_001
        self._next_team_id = 3_000_001

        self.requests: Counter[tuple[str, str]] = Counter()
        self.write_requests = 0
        self.records_written = 0
        self.rate_limited = 0
        self.status_counts: Counter[int] = Counter()
        self.request_log: deque[LoggedRequest] = deque(maxlen=10_000)

    # ------------------------------------------------------------------ counters

    def record_request(self, method: str, path: str, *, is_write: bool) -> None:
        """Count one received request (``is_write``: on an endpoint that changes data)."""
        with self.lock:
            self.requests[(method, path)] += 1
            if is_write:
                self.write_requests += 1

    def record_response(self, method: str, path: str, query: str, status: int, body: Any) -> None:
        """Count one answer by status (429s also in ``rate_limited``) and log it."""
        with self.lock:
            self.status_counts[status] += 1
            if status == 429:
                self.rate_limited += 1
            self.request_log.append(LoggedRequest(method, path, query, status, self.clock(), body))

    def reset_counters(self) -> None:
        """Zero every request counter and clear the request log."""
        with self.lock:
            self.requests.clear()
            self.write_requests = 0
            self.records_written = 0
            self.rate_limited = 0
            self.status_counts.clear()
            self.request_log.clear()

    def stats(self) -> dict[str, Any]:
        """Return counters as JSON-ready data (the ``GET /__sandbox/stats`` answer)."""
        with self.lock:
            return {
                "requests_total": sum(self.requests.values()),
                "requests": {f"{m} {p}": n for (m, p), n in sorted(self.requests.items())},
                "write_requests": self.write_requests,
                "records_written": self.records_written,
                "rate_limited": self.rate_limited,
                "status_counts": {str(k): v for k, v in sorted(self.status_counts.items())},
                "contacts": {
                    "live": len(self._live_ids),
                    "archived": len(self._archived_ids),
                    "merged": len(self._contacts) - len(self._live_ids) - len(self._archived_ids),
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
            contact = self._contacts.get(_as_int(contact_id))
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

    @property
    def contact_count(self) -> int:
        """Number of live (not archived, not merged) contacts."""
        return len(self._live_ids)

    def live_contact_ids(self) -> list[str]:
        """Ids of all live contacts, ascending."""
        with self.lock:
            return [str(x) for x in self._live_ids]

    # ------------------------------------------------------------------ contacts: used by the app

    def contact(self, contact_id: int) -> Contact | None:
        """Return the contact record with this id in any state, or ``None``."""
        return self._contacts.get(contact_id)

    def live_contact(self, contact_id: int | str) -> Contact | None:
        """Return the contact if it exists and is neither archived nor merged away."""
        contact = self._contacts.get(_as_int(contact_id))
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
        """Create a contact from validated values (API create/upsert); counts one record written."""
        now = self.clock() if at_ms is None else at_ms
        self.records_written += 1
        return self._insert(dict(values), now, now, None)

    def write_contact(self, contact: Contact, values: Mapping[str, str | None], *, at_ms: int | None = None) -> None:
        """Apply validated values to a live contact and bump its ``lastmodifieddate``."""
        self._before_change(contact)
        old_email = contact.get("email")
        for name, value in values.items():
            contact.set(name, value)
        contact.updated_ms = self.clock() if at_ms is None else at_ms
        new_email = contact.get("email")
        if new_email and new_email != old_email:
            self._email_index[normalize_email(new_email)] = contact.id
        self.records_written += 1
        self._after_change(contact)

    def iter_ids(self, *, archived: bool, after: int) -> Iterator[int]:
        """Yield contact ids ``>= after`` ascending, live ones or archived ones."""
        ids = self._archived_ids if archived else self._live_ids
        start: int = ids.bisect_left(after)
        for position in range(start, len(ids)):
            yield ids[position]

    # ------------------------------------------------------------------ search index

    def search_view(self, contact_id: int) -> Contact:
        """Return the contact as the search index sees it (a pre-write snapshot while lagging)."""
        return self._stale.get(contact_id) or self._contacts[contact_id]

    def search_index(self) -> Any:
        """Bring the index up to date with due writes and return it (``SortedList`` of keys)."""
        now = self.clock()
        while self._pending and self._pending[0][0] <= now:
            due, contact_id = self._pending.popleft()
            if self._pending_due.get(contact_id) != due:
                continue
            del self._pending_due[contact_id]
            self._reindex(contact_id)
        return self._search

    def _lag_ms(self) -> int:
        return int(self.search_lag_source() * 1000)

    def _before_change(self, contact: Contact) -> None:
        """Keep what search sees of ``contact`` while a write waits for the lag."""
        cid = contact.id
        lagging = cid in self._pending_due
        if self._lag_ms() > 0 or lagging:
            if not lagging and cid not in self._unindexed and cid not in self._stale:
                self._stale[cid] = contact.clone()
        else:
            self._search.discard(search_key(contact.updated_ms, cid))

    def _after_change(self, contact: Contact) -> None:
        cid = contact.id
        lag = self._lag_ms()
        if lag > 0 or cid in self._pending_due:
            due = self.clock() + lag
            self._pending_due[cid] = due
            self._pending.append((due, cid))
            if len(self._pending) > 1 and self._pending[-2][0] > due:
                self._pending = deque(sorted(self._pending))
        elif not contact.archived and contact.merged_into is None:
            self._search.add(search_key(contact.updated_ms, cid))

    def _reindex(self, contact_id: int) -> None:
        stale = self._stale.pop(contact_id, None)
        if contact_id in self._unindexed:
            self._unindexed.discard(contact_id)
        else:
            indexed = stale or self._contacts[contact_id]
            self._search.discard(search_key(indexed.updated_ms, contact_id))
        contact = self._contacts[contact_id]
        if not contact.archived and contact.merged_into is None:
            self._search.add(search_key(contact.updated_ms, contact_id))

    # ------------------------------------------------------------------ contacts: internals

    def _insert(
        self, values: dict[str, str | None], created_ms: int, updated_ms: int, contact_id: int | str | None
    ) -> Contact:
        cid = self._next_id if contact_id is None else _as_int(contact_id)
        if cid in self._contacts:
            raise ValueError(f"contact id {cid} is already used")
        self._next_id = max(self._next_id, cid + 1)
        contact = Contact(cid, created_ms, updated_ms, values, None)
        self._contacts[cid] = contact
        self._live_ids.add(cid)
        email = values.get("email")
        if email:
            self._email_index[normalize_email(email)] = cid
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
            if self._contacts and first_id <= max(self._contacts):
                raise ValueError("seeded ids must follow existing ids")
            contacts = self._contacts
            keys = []
            for offset, (created, updated) in enumerate(times):
                cid = first_id + offset
                contacts[cid] = Contact(cid, created, updated, None, source)
                keys.append((updated << KEY_SHIFT) | cid)
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

    # ------------------------------------------------------------------ owners, teams, users

    def add_team(self, name: str, *, team_id: str | None = None) -> Team:
        """Create a team and return it."""
        with self.lock:
            tid = team_id or str(self._next_team_id)
            self._next_team_id += 1
            team = Team(tid, name)
            self.teams[tid] = team
            return team

    def add_owner(
        self,
        email: str,
        first_name: str,
        last_name: str,
        *,
        owner_id: str | None = None,
        team_ids: tuple[str, ...] | list[str] = (),
        archived: bool = False,
        super_admin: bool = False,
        created_at_ms: int | None = None,
    ) -> Owner:
        """Create an owner and, unless ``archived``, its settings user.

        An ``archived`` owner is a deactivated user: ``userId`` null, shown only by
        ``GET /crm/v3/owners?archived=true`` (case B17). ``team_ids[0]`` is the primary team.
        """
        with self.lock:
            oid = owner_id or str(self._next_owner_id)
            self._next_owner_id += 1
            uid = self._next_user_id
            self._next_user_id += 1
            at = self.clock() if created_at_ms is None else created_at_ms
            owner = Owner(
                id=oid,
                email=email,
                first_name=first_name,
                last_name=last_name,
                user_id=None if archived else uid,
                user_id_including_inactive=uid,
                created_ms=at,
                updated_ms=at,
                archived=archived,
                team_ids=list(team_ids),
            )
            self.owners[oid] = owner
            if not archived:
                self.users[str(uid)] = User(
                    id=str(uid),
                    email=email,
                    first_name=first_name,
                    last_name=last_name,
                    role_ids=[] if super_admin else ["100001"],
                    primary_team_id=team_ids[0] if team_ids else None,
                    secondary_team_ids=list(team_ids[1:]),
                    super_admin=super_admin,
                )
            return owner

    def deactivate_owner(self, owner_id: str) -> None:
        """Deactivate an owner's user: the owner becomes archived with ``userId`` null."""
        with self.lock:
            owner = self.owners[owner_id]
            if owner.user_id is not None:
                self.users.pop(str(owner.user_id), None)
            owner.archived = True
            owner.user_id = None
            owner.updated_ms = self.clock()

    def owner_options(self) -> list[PropertyOption]:
        """Options of ``hubspot_owner_id``: the active owners, labelled "First Last"."""
        active = [o for o in self.owners.values() if not o.archived]
        return [
            PropertyOption(f"{o.first_name} {o.last_name}".strip() or o.email, o.id, n)
            for n, o in enumerate(active)
        ]

    def token_user(self) -> User | None:
        """The settings user the API token belongs to: ``token_user_id`` or the super admin."""
        if self.token_user_id is not None:
            return self.users.get(self.token_user_id)
        return next((u for u in self.users.values() if u.super_admin), None)


def _as_int(value: int | str) -> int:
    if isinstance(value, int):
        return value
    text = value.strip()
    return int(text) if text.isdigit() else -1
