"""The in-memory Autotask database the sandbox serves: Resources, Companies and their Contacts.

Rows are JSON objects keyed by integer id, stored as the API returns them (``isActive`` of a Contact is
an integer, of a Company or Resource a boolean; times are text). Every write stamps ``lastModifiedDate``
(Contacts) from ``clock`` as ``2025-01-01T00:00:00.000Z``; the test helpers may store any datetime text
(with an offset, say: case B09), which queries compare by instant.

Writes through the API are checked like Autotask checks them (:meth:`AutotaskState.create_contact`,
:meth:`~AutotaskState.patch_contact`, :meth:`~AutotaskState.create_company`) and refused with
:class:`~.errors.AutotaskError` 500. The test-facing helpers (``add_*``, ``get_contact``,
``update_contact``, ``deactivate_contact``, ``count``) skip the checks. Counters (``requests``,
``write_requests``, ``records_written``, ``status_counts``, ``request_log``) come from the shared
``RequestCounters``; :meth:`take_request` keeps the rolling hour of the request threshold.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Final

from leadsync.agent.connectors.sandbox.clock import system_clock
from leadsync.agent.connectors.sandbox.counters import RequestCounters

from .errors import AutotaskError, refused
from .schema import field_map

DEFAULT_USERNAME: Final = "leadsync-api@autotask-sandbox.example.com"
DEFAULT_SECRET: Final = "sandbox-api-secret-0001"
DEFAULT_INTEGRATION_CODE: Final = "LEADSYNCSANDBOXTRACKINGCODE"
HOUR_MS: Final = 3_600_000
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EMAIL_FIELDS: Final = ("emailAddress", "emailAddress2", "emailAddress3")
DUPLICATE_EMAIL_MESSAGE: Final = "A contact with the email address {email} already exists."
"""The refusal of a contact whose email another active contact has (``unique_contact_email``). Autotask's
documentation does not publish this text; the sandbox's is a model of it that names the address, not the
contact (so a client has to look the contact up by email)."""
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

Row = dict[str, Any]


def stamp(ms: int) -> str:
    """Epoch ms as Autotask writes a datetime: ``2025-01-01T00:00:00.000Z``."""
    when = _EPOCH + dt.timedelta(milliseconds=ms)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


class AutotaskState(RequestCounters):
    """See the module docstring. ``clock`` returns epoch ms (inject a ManualClock in tests);
    ``api_username`` is the Resource the API user is."""

    def __init__(self, *, clock: Callable[[], int] | None = None, request_log_size: int = 2_000,
                 api_username: str = DEFAULT_USERNAME) -> None:
        self.clock: Callable[[], int] = clock or system_clock
        self.lock = threading.RLock()
        self._init_counters(request_log_size)
        self.tables: dict[str, dict[int, Row]] = {"Contacts": {}, "Companies": {}, "Resources": {}}
        self._next = {"Contacts": 30_000_001, "Companies": 1, "Resources": 29_682_885}
        self.api_username = api_username
        self.ci = 4242
        self._hits: deque[int] = deque()

    # -- the request threshold -------------------------------------------------------------------

    def take_request(self, limit: int | None, window_ms: int = HOUR_MS) -> int | None:
        """Count one API request in the rolling hour (``window_ms``); None when allowed, else the seconds until
        the oldest request of the window ages out (the ``Retry-After``). A refused request is not counted."""
        with self.lock:
            now = self.clock()
            while self._hits and self._hits[0] <= now - window_ms:
                self._hits.popleft()
            if limit is not None and len(self._hits) >= limit:
                return max(1, -(-(self._hits[0] + window_ms - now) // 1000))
            self._hits.append(now)
            return None

    def requests_this_hour(self, window_ms: int = HOUR_MS) -> int:
        with self.lock:
            now = self.clock()
            return sum(1 for t in self._hits if t > now - window_ms)

    # -- rows ------------------------------------------------------------------------------------

    def rows(self, entity: str) -> list[Row]:
        """Every row of an entity in id order (copies)."""
        with self.lock:
            return [dict(row) for _, row in sorted(self.tables[entity].items())]

    def rows_after(self, entity: str, after_id: int | None) -> list[Row]:
        """The rows of an entity with an id above ``after_id`` (None: all), in id order, as stored (callers
        copy what they hand out)."""
        with self.lock:
            table = self.tables[entity]
            ids = sorted(table)
            return [table[i] for i in ids[bisect.bisect_right(ids, after_id):]] if after_id is not None else \
                [table[i] for i in ids]

    def _insert(self, entity: str, row: Row) -> int:
        with self.lock:
            given = row.get("id")
            row_id: int = given if isinstance(given, int) else self._next[entity]
            self._next[entity] = max(self._next[entity], row_id + 1)
            row["id"] = row_id
            self.tables[entity][row_id] = row
            return row_id

    def add_resource(self, values: Mapping[str, Any]) -> int:
        """Store a Resource (``userName, email, firstName, lastName, isActive``...); its id."""
        return self._insert("Resources", {"isActive": True, **values})

    def add_company(self, values: Mapping[str, Any], *, created_at: int | None = None) -> int:
        """Store a Company (``companyName, companyType, ownerResourceID, phone``...); its id."""
        at = stamp(self.clock() if created_at is None else created_at)
        return self._insert("Companies", {"isActive": True, "companyType": 1, "createDate": at,
                                          "lastActivityDate": at, **values})

    def add_contact(self, values: Mapping[str, Any], *, modified_at: int | str | None = None,
                    created_at: int | None = None) -> int:
        """Store a Contact as given (``companyID`` must name a Company); ``modified_at`` is epoch ms or
        datetime text stored verbatim (default: now). Returns its id."""
        with self.lock:
            if values.get("companyID") not in self.tables["Companies"]:
                raise KeyError(f"no company {values.get('companyID')!r}")
            now = self.clock()
            modified = modified_at if isinstance(modified_at, str) else stamp(now if modified_at is None
                                                                              else modified_at)
            return self._insert("Contacts", {"isActive": 1, "createDate": stamp(now if created_at is None
                                                                                else created_at),
                                             "lastActivityDate": None, "lastModifiedDate": modified,
                                             "userDefinedFields": [], **values})

    def get(self, entity: str, row_id: int) -> Row | None:
        with self.lock:
            row = self.tables[entity].get(row_id)
            return None if row is None else dict(row)

    def get_contact(self, contact_id: int) -> Row | None:
        """A copy of the Contact, or None."""
        return self.get("Contacts", contact_id)

    def update_contact(self, contact_id: int, values: Mapping[str, Any], *,
                       modified_at: int | str | None = None) -> None:
        """Change a Contact without checks (a change made in Autotask's UI, say); stamps lastModifiedDate."""
        with self.lock:
            row = self.tables["Contacts"][contact_id]
            row.update(values)
            row["lastModifiedDate"] = modified_at if isinstance(modified_at, str) else \
                stamp(self.clock() if modified_at is None else modified_at)

    def deactivate_contact(self, contact_id: int) -> None:
        """Set ``isActive`` 0, as Autotask's UI does."""
        self.update_contact(contact_id, {"isActive": 0})

    def count(self, entity: str = "Contacts", *, active: bool | None = None) -> int:
        """Rows of an entity (only active or inactive ones when ``active`` says)."""
        with self.lock:
            rows = self.tables[entity].values()
            if active is None:
                return len(rows)
            return sum(1 for r in rows if bool(r.get("isActive")) == active)

    def contacts_by_email(self, email: str) -> list[Row]:
        """Contacts whose ``emailAddress`` is ``email`` (case-insensitive), in id order."""
        key = email.strip().casefold()
        return [r for r in self.rows("Contacts") if str(r.get("emailAddress") or "").strip().casefold() == key]

    def stats(self) -> dict[str, Any]:
        """Counters as JSON-ready data (``GET /__sandbox/stats``)."""
        with self.lock:
            return {**self.counter_stats(), "rate_limited": self.rate_limited,
                    "requests_this_hour": self.requests_this_hour(),
                    "records": {name: len(table) for name, table in self.tables.items()}}

    # -- API writes, checked as Autotask checks them -------------------------------------------------

    def _checked(self, entity: str, body: Mapping[str, Any], *, creating: bool) -> Row:
        fields = field_map(entity)
        values: Row = {}
        problems: list[str] = []
        for name, value in body.items():
            meta = fields.get(str(name).lower())
            if meta is None:
                problems.append(f"Unable to find field '{name}' in the {entity} entity.")
                continue
            canonical = meta["name"]
            if meta["isReadOnly"] and canonical != "id":
                problems.append(f"The field '{canonical}' is read-only.")
            elif isinstance(value, str) and meta["length"] and len(value) > meta["length"]:
                problems.append(f"The value for '{canonical}' exceeds the maximum length of {meta['length']}.")
            elif meta["isPickList"] and value is not None and str(value) not in {
                    v["value"] for v in meta["picklistValues"]}:
                problems.append(f"Value '{value}' does not exist in the picklist for field '{canonical}'.")
            values[canonical] = value
        if creating:
            for meta in fields.values():
                if meta["isRequired"] and values.get(meta["name"]) in (None, "") and meta["name"] != "isActive":
                    problems.append(f"Value does not exist for the required field {meta['name']}.")
        email = values.get("emailAddress")
        if isinstance(email, str) and email and not _EMAIL.match(email.strip()):
            problems.append(f"The email address '{email}' is not valid.")
        if problems:
            raise refused(*problems)
        return values

    def create_company(self, body: Mapping[str, Any]) -> int:
        """``POST /V1.0/Companies``: companyName, companyType, ownerResourceID (an active Resource) and phone
        are required."""
        with self.lock:
            values = self._checked("Companies", body, creating=True)
            values.pop("id", None)
            owner = self.tables["Resources"].get(values.get("ownerResourceID"))  # type: ignore[arg-type]
            if owner is None or not owner.get("isActive"):
                raise refused(f"Resource {values.get('ownerResourceID')} does not exist or is inactive.")
            self.records_written += 1
            return self.add_company(values)

    def _refuse_taken_email(self, values: Mapping[str, Any], own_id: int | None) -> None:
        """With unique contact emails: refuse ``values`` when one of its emails is another active contact's
        (any of the three email fields, without regard to case)."""
        mine = {str(values.get(f) or "").strip().casefold() for f in EMAIL_FIELDS} - {""}
        for row in self.rows("Contacts"):
            if row.get("isActive") and row["id"] != own_id:
                taken = mine & {str(row.get(f) or "").strip().casefold() for f in EMAIL_FIELDS}
                if taken:
                    raise refused(DUPLICATE_EMAIL_MESSAGE.format(email=min(taken)))

    def create_contact(self, company_id: int, body: Mapping[str, Any], *, unique_email: bool = False) -> int:
        """``POST /V1.0/Companies/{companyId}/Contacts``: firstName and lastName required, the company must
        exist and match any ``companyID`` in the body, ``isActive`` 0 or 1 (default 1); with
        ``unique_email``, no email of another active contact."""
        with self.lock:
            if company_id not in self.tables["Companies"]:
                raise refused(f"Company {company_id} does not exist.")
            values = self._checked("Contacts", {"isActive": 1, **body, "companyID": body.get("companyID", company_id)},
                                   creating=True)
            values.pop("id", None)
            if values["companyID"] != company_id:
                raise refused("The companyID of the contact must be the parent company of the URL.")
            if values.get("isActive") not in (0, 1):
                raise refused("isActive must be 0 or 1.")
            if unique_email:
                self._refuse_taken_email(values, None)
            self.records_written += 1
            return self.add_contact(values)

    def patch_contact(self, company_id: int, body: Mapping[str, Any], *, unique_email: bool = False) -> int:
        """``PATCH /V1.0/Companies/{companyId}/Contacts`` with ``{"id", ...fields}``: only the given fields
        change; the contact must belong to that company (``unique_email`` as for :meth:`create_contact`)."""
        with self.lock:
            contact_id = body.get("id")
            row = self.tables["Contacts"].get(contact_id) if isinstance(contact_id, int) else None
            if row is None or row.get("companyID") != company_id:
                raise AutotaskError(404, f"Contact {contact_id} of company {company_id} was not found.")
            values = self._checked("Contacts", {k: v for k, v in body.items() if k != "id"}, creating=False)
            if "companyID" in values and values["companyID"] != company_id:
                raise refused("A contact cannot be moved to another company through this URL.")
            merged = {**row, **values}
            for required in ("firstName", "lastName"):
                if merged.get(required) in (None, ""):
                    raise refused(f"Value does not exist for the required field {required}.")
            if merged.get("isActive") not in (0, 1):
                raise refused("isActive must be 0 or 1.")
            if unique_email and merged.get("isActive"):
                self._refuse_taken_email(values, int(contact_id))  # type: ignore[arg-type]
            self.records_written += 1
            self.update_contact(contact_id, values)  # type: ignore[arg-type]
            return int(contact_id)  # type: ignore[arg-type]

