"""The sandbox org's in-memory state: records by object, query locators (:mod:`.locators`), request counters.

A record is a :data:`Row`, ``{field name: stored value}`` in the schema's spelling, with dateTimes as
epoch ms (UTC, whole seconds). Every write sets ``LastModifiedDate`` and ``SystemModstamp`` from
``clock`` (floored to the second, as Salesforce stores them), so tests control time with a
:class:`~.clock.ManualClock`. A delete moves a record to the Recycle Bin: ``IsDeleted`` true, a new
``SystemModstamp``, invisible to ``query`` and to reads, visible to ``queryAll`` and ``/deleted``.

Every public method takes ``self.lock`` (an RLock) so tests may call them while a uvicorn thread serves;
route handlers take it around each request's work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

from leadsync.agent.connectors.sandbox.counters import LoggedRequest, RequestCounters

from .errors import SalesforceError, error, not_found
from .ids import ORG_PREFIX, is_id, key15, make_id, to18
from .locators import Cursor, QueryLocators
from .schema import CONTACT, LEAD, OBJECTS, ObjectDef, object_def, object_for_id
from .timefmt import ms_to_date, system_clock, to_second

Row = dict[str, Any]
CONVERT_FIELDS: Final = ("FirstName", "LastName", "Salutation", "Title", "Email", "Phone", "MobilePhone",
                         "LeadSource", "Description", "HasOptedOutOfEmail", "Lead_Score__c", "Interests__c")


class RecordNotFound(KeyError):
    """A test-API call named an id that is not a live record of that object."""


class Table:
    """The records of one object, by 18-character id, in id order."""

    def __init__(self, obj: ObjectDef) -> None:
        self.obj = obj
        self.rows: dict[str, Row] = {}
        self.by15: dict[str, str] = {}
        self.deleted_at: dict[str, int] = {}
        self.next_number = 1
        self._ordered = True

    def add(self, row: Row) -> None:
        record_id: str = row["Id"]
        if self.rows and record_id < next(reversed(self.rows)):
            self._ordered = False
        self.rows[record_id] = row
        self.by15[key15(record_id)] = record_id

    def get(self, record_id: str | None) -> Row | None:
        """The row with this 15- or 18-character id (deleted ones too), or None."""
        if not record_id:
            return None
        full = self.by15.get(key15(record_id))
        return None if full is None else self.rows.get(full)

    def all_rows(self, *, include_deleted: bool) -> list[Row]:
        """Rows in id order; without ``include_deleted`` the Recycle Bin is left out."""
        if not self._ordered:
            self.rows = dict(sorted(self.rows.items()))
            self._ordered = True
        return [r for r in self.rows.values() if include_deleted or not r.get("IsDeleted")]


class SandboxState(QueryLocators, RequestCounters):
    """The in-memory org the sandbox app serves.

    Public attributes: ``clock`` (``Callable[[], int]``, epoch ms); ``org_id``, ``org_name``;
    ``api_user_id`` (the User the static sandbox token acts as: the System Administrator once seeded);
    ``requests`` (``Counter`` of ``(method, path)``), ``status_counts``, ``write_requests`` (calls on
    endpoints that change data), ``records_written``, ``request_log`` (newest last).
    """

    def __init__(self, *, clock: Callable[[], int] | None = None, org_name: str = "Leadsync Sandbox Org",
                 request_log_size: int = 2_000) -> None:
        self.clock: Callable[[], int] = clock or system_clock
        self.lock = threading.RLock()
        self.org_id = make_id(ORG_PREFIX, 4242)
        self.org_name = org_name
        self.api_user_id = ""
        self.tables: dict[str, Table] = {name: Table(obj) for name, obj in OBJECTS.items()}
        self._init_locators()
        self._init_counters(request_log_size)

    def stats(self) -> dict[str, Any]:
        """Counters as JSON-ready data (``GET /__sandbox/stats``)."""
        with self.lock:
            return {
                **self.counter_stats(),
                "records": {t.obj.name: {"live": self.count(t.obj.name),
                                         "deleted": self.count(t.obj.name, deleted=True)}
                            for t in self.tables.values()},
                "open_query_locators": len(self.cursors),
            }

    # -- lookups -------------------------------------------------------------------------------------

    def now(self) -> int:
        """The clock floored to the second (what ``SystemModstamp`` stores)."""
        return to_second(self.clock())

    def table(self, name: str) -> Table:
        """The table of object ``name`` (any case); KeyError for unknown objects."""
        return self.tables[name.lower()]

    def object_of(self, row: Row) -> ObjectDef:
        """The object a row belongs to (by its id's key prefix)."""
        obj = object_for_id(str(row["Id"]))
        assert obj is not None
        return obj

    def lookup(self, record_id: str | None) -> Row | None:
        """The live (not deleted) row with this id, whatever its object, or None."""
        if not record_id or not is_id(record_id):
            return None
        obj = object_for_id(record_id)
        row = self.tables[obj.name.lower()].get(record_id) if obj is not None else None
        return None if row is None or row.get("IsDeleted") else row

    def attributes(self, obj: ObjectDef, row: Row, version: str) -> dict[str, Any]:
        """``{"attributes": {"type", "url"}}``, the start of every record in an answer."""
        return {"attributes": {"type": obj.name, "url": f"/services/data/{version}/sobjects/{obj.name}/{row['Id']}"}}

    def count(self, object_name: str, *, deleted: bool = False) -> int:
        """Live (or, with ``deleted``, Recycle Bin) records of an object."""
        with self.lock:
            return sum(1 for r in self.table(object_name).rows.values() if bool(r.get("IsDeleted")) == deleted)

    # -- writes (validated by the routes; also the test API's backend) --------------------------------

    def insert_row(self, obj: ObjectDef, values: Mapping[str, Any], *, user_id: str | None = None,
                   at_ms: int | None = None, created_ms: int | None = None, record_id: str | None = None) -> Row:
        """Store a new record of ``obj`` with ``values`` plus defaults, audit fields and ``Name``."""
        with self.lock:
            table = self.table(obj.name)
            now = self.now() if at_ms is None else to_second(at_ms)
            if record_id is None:
                record_id = make_id(obj.key_prefix, table.next_number)
                table.next_number += 1
            elif table.get(record_id) is not None:
                raise ValueError(f"id {record_id} is in use")
            actor = user_id or self.api_user_id or None
            row: Row = {"Id": to18(record_id)}
            for f in obj.fields:
                if f.default is not None and f.defaulted_on_create:
                    row[f.name] = (f.default == "true") if f.type == "boolean" else f.default
            if obj.field("OwnerId") is not None and actor:
                row["OwnerId"] = actor
            row.update(values)
            created = now if created_ms is None else to_second(created_ms)
            for name, value in (("CreatedDate", created), ("LastModifiedDate", now), ("SystemModstamp", now),
                                ("CreatedById", actor), ("LastModifiedById", actor), ("IsDeleted", False)):
                if obj.field(name) is not None:
                    row[name] = value
            self._derive(obj, row)
            table.add(row)
            self.records_written += 1
            return row

    def update_row(self, obj: ObjectDef, row: Row, values: Mapping[str, Any], *, user_id: str | None = None,
                   at_ms: int | None = None) -> None:
        """Apply ``values`` to ``row`` and move its ``LastModifiedDate``/``SystemModstamp``."""
        with self.lock:
            now = self.now() if at_ms is None else to_second(at_ms)
            row.update(values)
            if obj.field("LastModifiedDate") is not None:
                row["LastModifiedDate"] = now
            row["SystemModstamp"] = now
            if obj.field("LastModifiedById") is not None:
                row["LastModifiedById"] = user_id or self.api_user_id or row.get("LastModifiedById")
            self._derive(obj, row)
            self.records_written += 1

    def delete_row(self, obj: ObjectDef, row: Row, *, at_ms: int | None = None) -> None:
        """Move ``row`` to the Recycle Bin (``IsDeleted``; ``SystemModstamp`` moves)."""
        with self.lock:
            now = self.now() if at_ms is None else to_second(at_ms)
            row["IsDeleted"] = True
            row["SystemModstamp"] = now
            self.table(obj.name).deleted_at[row["Id"]] = now
            self.records_written += 1

    def _derive(self, obj: ObjectDef, row: Row) -> None:
        if obj.field("Name") is not None and obj.field("LastName") is not None:
            row["Name"] = " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p)

    # -- test API ------------------------------------------------------------------------------------

    def add_record(self, object_name: str, values: Mapping[str, Any], *, modstamp_ms: int | None = None,
                   created_ms: int | None = None, record_id: str | None = None) -> str:
        """Create a record without API validation; return its 18-character id.

        ``values`` use API field names and JSON values (dateTimes as epoch ms or ISO text);
        ``modstamp_ms`` sets ``SystemModstamp``/``LastModifiedDate`` (default: now); ``created_ms`` sets
        ``CreatedDate`` (default: the modstamp).
        """
        with self.lock:
            obj = _object(object_name)
            when = self.now() if modstamp_ms is None else modstamp_ms
            row = self.insert_row(obj, _stored(obj, values), at_ms=when,
                                  created_ms=when if created_ms is None else created_ms, record_id=record_id)
            return str(row["Id"])

    def update_record(self, object_name: str, record_id: str, values: Mapping[str, Any], *,
                      at_ms: int | None = None) -> None:
        """Write fields without validation and move ``SystemModstamp`` to ``at_ms`` (default: now).
        Raises :class:`RecordNotFound` unless the record is live."""
        with self.lock:
            obj = _object(object_name)
            self.update_row(obj, self._live(obj, record_id), _stored(obj, values), at_ms=at_ms)

    def delete_record(self, object_name: str, record_id: str, *, at_ms: int | None = None) -> None:
        """Delete a live record (to the Recycle Bin). Raises :class:`RecordNotFound`."""
        with self.lock:
            obj = _object(object_name)
            self.delete_row(obj, self._live(obj, record_id), at_ms=at_ms)

    def get_record(self, record_id: str) -> dict[str, Any] | None:
        """A copy of any record (deleted ones too) with dateTimes as epoch ms, or None."""
        with self.lock:
            obj = object_for_id(record_id) if is_id(record_id) else None
            row = self.table(obj.name).get(record_id) if obj is not None else None
            return None if row is None else dict(row)

    def find_ids(self, object_name: str, field_name: str, value: Any, *, include_deleted: bool = False) -> list[str]:
        """Ids of records whose ``field_name`` equals ``value`` (text compared without case)."""
        with self.lock:
            wanted = value.lower() if isinstance(value, str) else value
            out = []
            for row in self.table(object_name).all_rows(include_deleted=include_deleted):
                have = row.get(field_name)
                if (have.lower() if isinstance(have, str) else have) == wanted:
                    out.append(str(row["Id"]))
            return out

    def ids(self, object_name: str, *, include_deleted: bool = False) -> list[str]:
        """Ids of an object's records in id order."""
        with self.lock:
            return [str(r["Id"]) for r in self.table(object_name).all_rows(include_deleted=include_deleted)]

    def convert_lead(self, lead_id: str, *, contact_id: str | None = None, at_ms: int | None = None) -> str:
        """Convert a Lead (as ``POST`` convertLead / the "Convert" button would): a new Contact from the
        Lead's fields, or ``contact_id`` when the Lead merges into an existing Contact; the Lead gets
        ``IsConverted`` true, ``ConvertedContactId``, ``ConvertedDate``, ``Status`` "Closed - Converted",
        and becomes read-only. Returns the Contact's id. Raises :class:`RecordNotFound` or ValueError
        for a Lead already converted."""
        with self.lock:
            lead = self._live(LEAD, lead_id)
            if lead.get("IsConverted"):
                raise ValueError(f"Lead {lead_id} is already converted")
            when = self.now() if at_ms is None else to_second(at_ms)
            owner = lead.get("OwnerId")
            if contact_id is None:
                values = {name: lead.get(name) for name in CONVERT_FIELDS if lead.get(name) is not None}
                if owner and str(owner).startswith("005"):
                    values["OwnerId"] = owner
                contact = self.insert_row(CONTACT, values, at_ms=when)
            else:
                contact = self._live(CONTACT, contact_id)
                self.update_row(CONTACT, contact, {}, at_ms=when)
            self.update_row(LEAD, lead, {"IsConverted": True, "ConvertedContactId": contact["Id"],
                                         "ConvertedDate": ms_to_date(when), "Status": "Closed - Converted"},
                            at_ms=when)
            return str(contact["Id"])

    def _live(self, obj: ObjectDef, record_id: str) -> Row:
        row = self.table(obj.name).get(record_id) if is_id(record_id) else None
        if row is None or row.get("IsDeleted"):
            raise RecordNotFound(f"no live {obj.name} {record_id}")
        return row

    # -- replication feeds ---------------------------------------------------------------------------

    def updated_ids(self, object_name: str, start_ms: int, end_ms: int) -> list[str]:
        """Ids of live records whose ``SystemModstamp`` is in ``[start_ms, end_ms]``."""
        with self.lock:
            return [str(r["Id"]) for r in self.table(object_name).all_rows(include_deleted=False)
                    if start_ms <= r.get("SystemModstamp", 0) <= end_ms]

    def deleted_since(self, object_name: str, start_ms: int, end_ms: int) -> list[tuple[str, int]]:
        """``(id, deleted at)`` of records deleted in ``[start_ms, end_ms]`` and not restored."""
        with self.lock:
            table = self.table(object_name)
            return sorted((rid, at) for rid, at in table.deleted_at.items()
                          if start_ms <= at <= end_ms and (row := table.rows.get(rid)) is not None
                          and row.get("IsDeleted"))


def _object(name: str) -> ObjectDef:
    obj = object_def(name)
    if obj is None:
        raise KeyError(f"unknown object {name!r}")
    return obj


def _stored(obj: ObjectDef, values: Mapping[str, Any]) -> dict[str, Any]:
    """Test-API values in stored form: names in the schema's spelling, dateTimes as epoch ms."""
    from .timefmt import parse_instant

    out: dict[str, Any] = {}
    for name, value in values.items():
        f = obj.field(name)
        if f is None:
            raise KeyError(f"{obj.name} has no field {name!r}")
        if f.type == "datetime" and isinstance(value, str):
            parsed = parse_instant(value)
            if parsed is None:
                raise ValueError(f"{name}: {value!r} is not a dateTime")
            value = to_second(parsed)
        out[f.name] = value
    return out


def not_live(obj: ObjectDef, record_id: str, row: Row | None) -> SalesforceError:
    """The 404 a REST read/write of a missing or deleted record gets."""
    if row is not None and row.get("IsDeleted"):
        return error(404, "ENTITY_IS_DELETED", "entity is deleted")
    return not_found(f"Provided external ID field does not exist or is not accessible: {record_id}"
                     if not is_id(record_id) else "The requested resource does not exist")


__all__ = ["Cursor", "LoggedRequest", "RecordNotFound", "Row", "SandboxState", "Table",
           "not_live"]
