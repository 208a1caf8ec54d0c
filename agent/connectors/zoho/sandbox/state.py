"""The in-memory Zoho CRM organisation the sandbox serves: users, Leads, Contacts, deleted records.

Times are kept as epoch ms and written the way Zoho writes them, in the organisation's time zone with its
offset (``2024-03-11T05:00:00+05:30``, ``time_zone_offset_min``); a record may also keep the exact text it
was given (:meth:`SandboxState.add_record` ``modified="2024-03-10T23:30:00-08:00"``, case B09). Every method
takes the state's lock, so tests may change the org while a uvicorn thread serves it.

Test-facing helpers: :meth:`~SandboxState.add_user`, :meth:`~SandboxState.add_record`,
:meth:`~SandboxState.get_record`, :meth:`~SandboxState.update_record`, :meth:`~SandboxState.delete_record`,
:meth:`~SandboxState.convert_lead`, :meth:`~SandboxState.count`, :meth:`~SandboxState.find_email`, the
counters ``requests``, ``status_counts``, ``write_requests``, ``records_written`` and ``request_log``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from leadsync.agent.connectors.sandbox.clock import system_clock
from leadsync.agent.connectors.sandbox.counters import RequestCounters

from .schema import MODULES


class RecordNotFound(KeyError):
    """No live record with that id in that module."""


@dataclass(slots=True)
class Row:
    """A live record: field values as JSON (``values``), its owner, times (epoch ms) and conversion."""

    id: str
    module: str
    values: dict[str, Any]
    owner_id: str
    created_ms: int
    modified_ms: int
    modified_text: str | None = None
    converted: bool = False
    converted_detail: dict[str, Any] | None = None


@dataclass(slots=True)
class Deleted:
    """A deleted record as ``/deleted`` lists it (``kind``: ``recycle`` or ``permanent``)."""

    id: str
    module: str
    display_name: str
    deleted_ms: int
    deleted_by: str
    created_by: str
    kind: str = "recycle"


class SandboxState(RequestCounters):
    """The organisation; see the module docstring. ``clock`` returns epoch ms; ``time_zone_offset_min`` is the
    org's offset from UTC (answers' datetimes carry it); ``request_log_size`` bounds the request log."""

    def __init__(self, *, clock: Callable[[], int] | None = None, time_zone_offset_min: int = 330,
                 org_name: str = "Leadsync Sandbox Org", request_log_size: int = 2_000) -> None:
        self.lock = threading.RLock()
        self.clock: Callable[[], int] = clock or system_clock
        self.time_zone_offset_min = time_zone_offset_min
        self.org_name = org_name
        self.org_id = "4876876000000010001"
        self.api_user_id = ""
        self.users: dict[str, dict[str, Any]] = {}
        self.roles: dict[str, str] = {}
        """Role name -> role id: users of one role share its id (the role hierarchy is Zoho's sharing unit)."""
        self.profiles: dict[str, str] = {}
        self.rows: dict[str, dict[str, Row]] = {m: {} for m in MODULES}
        self.deleted: list[Deleted] = []
        self.page_tokens: dict[str, tuple[str, int, int]] = {}
        self._ids = itertools.count(4_876_876_000_001_000_001)
        self._init_counters(request_log_size)

    # -- time and ids ------------------------------------------------------------------------------

    def now(self) -> int:
        """The org's clock, epoch ms."""
        return self.clock()

    def new_id(self) -> str:
        """A fresh 19-digit record id, increasing."""
        with self.lock:
            return str(next(self._ids))

    def time_text(self, ms: int) -> str:
        """``ms`` as Zoho writes datetimes: whole seconds in the org's time zone with its offset."""
        zone = dt.timezone(dt.timedelta(minutes=self.time_zone_offset_min))
        return dt.datetime.fromtimestamp(ms // 1000, tz=zone).isoformat()

    def stats(self) -> dict[str, Any]:
        """Counters and record counts as JSON-ready data (``GET /__sandbox/stats``)."""
        with self.lock:
            return {**self.counter_stats(),
                    "records": {m: {"live": self.count(m), "converted": self.count(m, converted=True),
                                    "deleted": sum(d.module == m for d in self.deleted)} for m in MODULES}}

    # -- users ---------------------------------------------------------------------------------------

    def add_user(self, email: str, first_name: str, last_name: str, *, active: bool = True,
                 profile: str = "Standard", role: str = "Sales Rep", user_id: str | None = None) -> str:
        """Add a CRM user (``profile`` ``Administrator`` sees everything); returns its id."""
        with self.lock:
            uid = user_id or self.new_id()
            self.users[uid] = {
                "id": uid, "email": email, "first_name": first_name, "last_name": last_name,
                "full_name": f"{first_name} {last_name}".strip(), "status": "active" if active else "disabled",
                "confirm": True, "role": {"name": role, "id": self._named_id(self.roles, role, 900_001)},
                "profile": {"name": profile, "id": self._named_id(self.profiles, profile, 800_001)},
                "time_zone": "Asia/Kolkata",
            }
            if not self.api_user_id and profile == "Administrator":
                self.api_user_id = uid
            return uid

    @staticmethod
    def _named_id(ids: dict[str, str], name: str, base: int) -> str:
        """The id of the role or profile ``name``: one per name, numbered in the order names first appear."""
        if name not in ids:
            ids[name] = str(4_876_876_000_000_000_000 + base + len(ids))
        return ids[name]

    def set_user_active(self, user_id: str, active: bool) -> None:
        """Activate or deactivate a user (deactivated users keep their records)."""
        with self.lock:
            self.users[user_id]["status"] = "active" if active else "disabled"

    def owner_ref(self, user_id: str) -> dict[str, Any]:
        """``{id, name, email}`` of a user, as records carry ``Owner``."""
        user = self.users.get(user_id, {})
        return {"id": user_id, "name": user.get("full_name", ""), "email": user.get("email", "")}

    # -- records -------------------------------------------------------------------------------------

    def _live(self, module: str, record_id: str) -> Row:
        row = self.rows[module].get(record_id)
        if row is None:
            raise RecordNotFound(f"no live {module} record {record_id}")
        return row

    def add_record(self, module: str, values: dict[str, Any], *, owner_id: str | None = None,
                   created_ms: int | None = None, modified: int | str | None = None,
                   record_id: str | None = None) -> str:
        """Store a record as is (no validation); returns its id. ``modified`` is epoch ms or Zoho's text with
        its own offset (kept verbatim in answers); default now."""
        with self.lock:
            now = self.now()
            rid = record_id or self.new_id()
            row = Row(rid, module, dict(values), owner_id or self.api_user_id,
                      created_ms if created_ms is not None else now, now)
            self._set_modified(row, now if modified is None else modified)
            self.rows[module][rid] = row
            return rid

    @staticmethod
    def _set_modified(row: Row, modified: int | str) -> None:
        if isinstance(modified, str):
            instant = dt.datetime.fromisoformat(modified)
            row.modified_ms, row.modified_text = int(instant.timestamp() * 1000), modified
        else:
            row.modified_ms, row.modified_text = modified, None

    def update_record(self, module: str, record_id: str, values: dict[str, Any], *,
                      owner_id: str | None = None, modified: int | str | None = None) -> None:
        """Change fields (and the owner) of a live record; ``Modified_Time`` becomes ``modified`` or now."""
        with self.lock:
            row = self._live(module, record_id)
            row.values.update(values)
            row.owner_id = owner_id or row.owner_id
            self._set_modified(row, self.now() if modified is None else modified)

    def get_record(self, module: str, record_id: str) -> dict[str, Any] | None:
        """A live record as the record read answers it (``$converted_detail`` included), or None."""
        with self.lock:
            row = self.rows[module].get(record_id)
            return None if row is None else self.render(row, None, detail=True)

    def delete_record(self, module: str, record_id: str, *, permanent: bool = False,
                      by_user: str | None = None) -> None:
        """Delete a live record (to the recycle bin, or ``permanent``)."""
        with self.lock:
            row = self._live(module, record_id)
            del self.rows[module][record_id]
            name = " ".join(str(row.values.get(k) or "") for k in ("First_Name", "Last_Name")).strip()
            self.deleted.append(Deleted(record_id, module, name, self.now(), by_user or self.api_user_id,
                                        row.owner_id, "permanent" if permanent else "recycle"))

    def count(self, module: str, *, converted: bool = False) -> int:
        """Live records of ``module`` (converted Leads only, with ``converted``)."""
        with self.lock:
            return sum(r.converted == converted for r in self.rows[module].values())

    def find_email(self, module: str, email: str, *, converted: bool | None = False) -> list[str]:
        """Ids of live records whose ``Email`` equals ``email`` (case-insensitive), oldest first;
        ``converted`` None: converted Leads too."""
        key = email.strip().lower()
        with self.lock:
            return [r.id for r in self.ordered(module, converted)
                    if str(r.values.get("Email") or "").lower() == key]

    def find_value(self, module: str, field: str, value: str) -> list[str]:
        """Ids of live records (converted Leads too) whose ``field`` equals ``value`` without regard to case
        or surrounding spaces, oldest first."""
        key = value.strip().lower()
        with self.lock:
            return [r.id for r in self.ordered(module, None) if str(r.values.get(field) or "").strip().lower() == key]

    def ordered(self, module: str, converted: bool | None) -> list[Row]:
        """Live records by id (creation order); ``converted`` True/False/None (both)."""
        with self.lock:
            rows = self.rows[module].values()
            return sorted((r for r in rows if converted is None or r.converted == converted), key=lambda r: int(r.id))

    def render(self, row: Row, fields: Iterable[str] | None, *, detail: bool = False) -> dict[str, Any]:
        """The record's JSON: ``fields`` (None: all) plus ``id`` and Zoho's ``$`` keys (Leads:
        ``$converted``; ``$converted_detail`` only with ``detail``, as the single-record read gives it)."""
        full: dict[str, Any] = {**row.values, "Owner": self.owner_ref(row.owner_id),
                                "Created_Time": self.time_text(row.created_ms),
                                "Modified_Time": row.modified_text or self.time_text(row.modified_ms)}
        wanted = set(fields) if fields is not None else None
        out: dict[str, Any] = {k: v for k, v in full.items() if wanted is None or k in wanted}
        out["id"] = row.id
        if row.module == "Leads":
            out["$converted"] = row.converted
            if detail:
                out["$converted_detail"] = dict(row.converted_detail or {})
        out["$editable"] = True
        return out

    def convert_lead(self, lead_id: str, *, contact_id: str | None = None, user_id: str | None = None) -> str:
        """Convert a Lead: a new Contact (name, email, phone, ``Designation`` -> ``Title``, score, owner) or the
        given existing one; the Lead is marked ``$converted`` with ``$converted_detail`` naming the Contact.
        Returns the Contact id. Raises RecordNotFound, ValueError for a Lead already converted."""
        with self.lock:
            lead = self._live("Leads", lead_id)
            if lead.converted:
                raise ValueError(f"Lead {lead_id} is already converted")
            if contact_id is None:
                kept = ("First_Name", "Last_Name", "Email", "Phone", "Mobile", "Lead_Source", "Lead_Score",
                        "Email_Opt_Out")
                carried: dict[str, Any] = {k: lead.values[k] for k in kept if k in lead.values}
                if lead.values.get("Designation"):
                    carried["Title"] = lead.values["Designation"]
                contact_id = self.add_record("Contacts", carried, owner_id=lead.owner_id)
            else:
                self._live("Contacts", contact_id)
            now = self.now()
            lead.converted = True
            lead.converted_detail = {"convert_date": self.time_text(now)[:10], "converted_by": user_id or
                                     self.api_user_id, "contact": contact_id, "account": None, "deal": None}
            self._set_modified(lead, now)
            return contact_id
