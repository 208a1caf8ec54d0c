"""The CRM side of an engine test, for every CRM: a seeded in-process sandbox and a small adapter that
reads and edits its records in local field terms (``email``, ``first_name``, ..., ``owner``), so one
test runs against HubSpot, Salesforce, Zoho CRM and Autotask alike (issue 9: same guarantees).

Each adapter edits the sandbox state directly, the way a person would in the CRM's own UI: the edit
moves the record's modified time, so the next incremental pull sees it.
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import parse_qs

import httpx

from leadsync.agent.connectors.registry import DEFAULT_MAPPINGS
from leadsync.agent.connectors.sandbox.middleware import ConnectionDropped

SANDBOX_TOKEN = "sandbox-token"
BASE_URLS = {"hubspot": "http://sandbox.test", "salesforce": "http://salesforce.test", "zoho": "http://zoho.test",
             "autotask": "http://autotask.test"}

class SocketLikeTransport(httpx.AsyncBaseTransport):
    """``httpx.ASGITransport`` to a sandbox app whose dropped connections (the sandbox's fault) reach the
    client as they do over a socket: ``httpx.RemoteProtocolError``, not the app's own exception."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self.inner.handle_async_request(request)
        except ConnectionDropped as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from None


Write = tuple[str, str | None, dict[str, Any]]
"""One record of a write request: ``(op, crm id, properties)``, op ``create``/``update``/``upsert``/``delete``,
the id None where the request names none, the properties in the CRM's own names and wire values."""


class CrmSide(Protocol):
    """A sandbox seen in local field names. ``owner`` is the CRM owner id."""

    crm: str
    state: Any
    app: Any
    names: dict[str, str]
    """Local field name -> the CRM's property name, ``owner`` included; a field the CRM does not map
    (Autotask: ``lifecycle_stage``, ``lead_score``) is absent."""
    seeded_owners: int
    """Owners (users, resources) the sandbox is seeded with, the inactive one included."""

    def add(self, values: dict[str, Any]) -> str:
        """Create a record (a lead where the CRM has leads) without API checks; returns its id."""
        ...

    def get(self, crm_id: str) -> dict[str, Any]:
        """The record's mapped values as text (None: not set), plus ``owner``."""
        ...

    def set(self, crm_id: str, values: dict[str, Any]) -> None: ...

    def delete(self, crm_id: str) -> None: ...

    def merge(self, survivor: str, merged: str) -> None:
        """Merge ``merged`` into ``survivor`` as the CRM's own merge does."""
        ...

    def count(self) -> int:
        """Live records a full pull brings (converted leads and deleted records excluded)."""
        ...

    def ids(self) -> list[str]: ...

    def find(self, email: str) -> str | None: ...

    def writes(self) -> int:
        """Write requests the sandbox has answered since the last :meth:`reset`."""
        ...

    def requests(self) -> int:
        """Requests the sandbox has received, reads too, since the last :meth:`reset`."""
        ...

    def sent_writes(self) -> list[Write]:
        """The records of the write requests received since the last :meth:`reset`, in order."""
        ...

    def reset(self) -> None: ...

    def deactivate_owner(self, owner_id: str) -> None: ...

    def refuse_as_duplicate(self) -> tuple[str, dict[str, Any]]:
        """Make the sandbox refuse, in this CRM's own way, a create of the returned local fields as a duplicate
        of the returned record, whose own email differs (so only the CRM's duplicate check finds it): HubSpot
        a secondary email, Salesforce its standard lead duplicate rule (name and phone), Zoho a unique Phone,
        Autotask a unique email that is the record's second email address."""
        ...


DUPLICATE_FIELDS = {"email": "ann.dupe@new.example", "first_name": "Ann", "last_name": "Dupe", "company": "Dupeco",
                    "phone": "+1 555 0199"}
"""The local fields :meth:`CrmSide.refuse_as_duplicate` sets the sandbox up to refuse."""
DUPLICATE_RECORD = {**DUPLICATE_FIELDS, "email": "ann.dupe@old.example"}
"""The record those fields duplicate (another email)."""


def _crm_names(crm: str) -> dict[str, str]:
    return {m.local: m.crm for m in DEFAULT_MAPPINGS[crm]}


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _Counters:
    """What every sandbox state counts the same way (the shared sandbox_counters.RequestCounters)."""

    state: Any

    def writes(self) -> int:
        return int(self.state.write_requests)

    def requests(self) -> int:
        return sum(self.state.requests.values())

    def reset(self) -> None:
        self.state.reset_counters()


class HubSpotSide(_Counters):
    crm = "hubspot"

    def __init__(self, contacts: int, seed: int, faults: dict[str, Any]) -> None:
        from leadsync.agent.connectors.hubspot.sandbox import FaultSwitches, create_app
        from leadsync.agent.connectors.hubspot.sandbox.seed import build_state

        self.state = build_state(contacts=contacts, seed=seed)
        switches = FaultSwitches(**{"rate_limit_per_10s": None, "search_rate_limit_per_s": None, **faults})
        self.app = create_app(self.state, faults=switches, token=SANDBOX_TOKEN)
        self.names = {**_crm_names(self.crm), "owner": "hubspot_owner_id"}
        self.seeded_owners = 8

    def credentials(self) -> dict[str, str]:
        return {"token": SANDBOX_TOKEN}

    def _wire(self, values: dict[str, Any]) -> dict[str, str | None]:
        return {self.names[k]: "" if v is None else _text(v) for k, v in values.items()}

    def add(self, values: dict[str, Any]) -> str:
        return str(self.state.add_contact(self._wire(values)))

    def get(self, crm_id: str) -> dict[str, Any]:
        snapshot = self.state.get_contact(crm_id)
        assert snapshot is not None, f"no HubSpot contact {crm_id}"
        return {k: _text(snapshot.properties.get(v)) for k, v in self.names.items()}

    def set(self, crm_id: str, values: dict[str, Any]) -> None:
        self.state.update_contact(crm_id, self._wire(values))

    def delete(self, crm_id: str) -> None:
        self.state.archive_contact(crm_id)

    def merge(self, survivor: str, merged: str) -> None:
        self.state.merge_contacts(survivor, merged)

    def count(self) -> int:
        return int(self.state.contact_count())

    def ids(self) -> list[str]:
        return [str(i) for i in self.state.live_contact_ids()]

    def find(self, email: str) -> str | None:
        found = self.state.find_contact_by_email(email)
        return None if found is None else str(found)

    def sent_writes(self) -> list[Write]:
        out: list[Write] = []
        for r in self.state.request_log:
            if r.method == "GET" or not r.path.startswith("/crm/v3/objects/contacts") \
                    or r.path.endswith(("/batch/read", "/search")):
                continue
            op = {"create": "create", "update": "update", "upsert": "upsert", "archive": "delete"}.get(
                r.path.rsplit("/batch/", 1)[-1]) if "/batch/" in r.path else None
            assert op is not None and r.method == "POST", f"sent_writes cannot read {r.method} {r.path}"
            out += [(op, None if i.get("id") is None else str(i["id"]), dict(i.get("properties") or {}))
                    for i in r.body["inputs"]]
        return out

    def deactivate_owner(self, owner_id: str) -> None:
        self.state.deactivate_owner(owner_id)

    def refuse_as_duplicate(self) -> tuple[str, dict[str, Any]]:
        wire = self._wire(DUPLICATE_RECORD)
        return str(self.state.add_contact({**wire, "hs_additional_emails": DUPLICATE_FIELDS["email"]})), \
            dict(DUPLICATE_FIELDS)


class SalesforceSide(_Counters):
    """Leads and Contacts of the Salesforce sandbox; ``add`` makes a Lead (with a Company, which Leads
    require); ``convert`` converts one to a Contact."""

    crm = "salesforce"

    def __init__(self, contacts: int, seed: int, faults: dict[str, Any]) -> None:
        from leadsync.agent.connectors.salesforce.sandbox import FaultSwitches, build_state, create_app

        leads = contacts * 3 // 5
        self.state = build_state(leads=leads, contacts=contacts - leads, seed=seed)
        self.app = create_app(self.state, faults=FaultSwitches(**{"daily_limit": None, **faults}),
                              token=SANDBOX_TOKEN)
        self.names = {**_crm_names(self.crm), "owner": "OwnerId"}
        self.seeded_owners = 8

    def credentials(self) -> dict[str, str]:
        return {"access_token": SANDBOX_TOKEN}

    def _object(self, crm_id: str) -> str:
        return "Lead" if crm_id.startswith("00Q") else "Contact"

    def _fields(self, obj: str, values: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in values.items():
            name = self.names[key]
            if obj == "Contact" and name in ("Company", "Status"):
                continue
            if name == "Status" and value is not None:
                value = next(m.value_map.get(value, value) for m in DEFAULT_MAPPINGS[self.crm] if m.crm == name)
            if name == "Lead_Score__c" and value not in (None, ""):
                value = float(value)
            out[name] = None if value == "" else value
        return out

    def add(self, values: dict[str, Any]) -> str:
        fields = {"LastName": "Unknown", "Company": "Unknown", **self._fields("Lead", values)}
        fields.setdefault("OwnerId", self.state.api_user_id)
        return str(self.state.add_record("Lead", fields))

    def get(self, crm_id: str) -> dict[str, Any]:
        record = self.state.get_record(crm_id)
        assert record is not None and not record.get("IsDeleted"), f"no live Salesforce record {crm_id}"
        out = {k: _text(record.get(v)) for k, v in self.names.items()}
        status = DEFAULT_MAPPINGS[self.crm][6]
        reverse = {v: k for k, v in status.value_map.items()}
        if out["lifecycle_stage"] is not None:
            out["lifecycle_stage"] = reverse.get(out["lifecycle_stage"], out["lifecycle_stage"])
        return out

    def set(self, crm_id: str, values: dict[str, Any]) -> None:
        obj = self._object(crm_id)
        self.state.update_record(obj, crm_id, self._fields(obj, values))

    def delete(self, crm_id: str) -> None:
        self.state.delete_record(self._object(crm_id), crm_id)

    def merge(self, survivor: str, merged: str) -> None:
        obj = self._object(merged)
        self.state.update_record(obj, merged, {"MasterRecordId": survivor})
        self.state.delete_record(obj, merged)

    def convert(self, lead_id: str) -> str:
        return str(self.state.convert_lead(lead_id))

    def ids(self) -> list[str]:
        leads = [i for i in self.state.ids("Lead") if not (self.state.get_record(i) or {}).get("IsConverted")]
        return leads + list(self.state.ids("Contact"))

    def count(self) -> int:
        return len(self.ids())

    def find(self, email: str) -> str | None:
        for obj in ("Contact", "Lead"):
            for crm_id in self.state.find_ids(obj, "Email", email.strip()):
                if not (self.state.get_record(crm_id) or {}).get("IsConverted"):
                    return str(crm_id)
        return None

    def sent_writes(self) -> list[Write]:
        out: list[Write] = []
        for r in self.state.request_log:
            if r.method == "GET" or "/services/data/" not in r.path:
                continue
            assert r.path.endswith("/composite/sobjects"), f"sent_writes cannot read {r.method} {r.path}"
            if r.method == "DELETE":
                ids = parse_qs(r.query).get("ids", [""])[0].split(",")
                out += [("delete", i, {}) for i in ids if i]
                continue
            op = {"POST": "create", "PATCH": "update"}[r.method]
            for record in r.body["records"]:
                fields = {k: v for k, v in record.items() if k not in ("attributes", "Id")}
                out.append((op, record.get("Id"), fields))
        return out

    def deactivate_owner(self, owner_id: str) -> None:
        self.state.update_record("User", owner_id, {"IsActive": False})

    def refuse_as_duplicate(self) -> tuple[str, dict[str, Any]]:
        self.app.state.faults.duplicate_rule_blocks = True
        return self.add(DUPLICATE_RECORD), dict(DUPLICATE_FIELDS)


class ZohoSide(_Counters):
    """Leads and Contacts of the Zoho CRM sandbox; ``add`` makes a Lead; ``convert`` converts one."""

    crm = "zoho"

    def __init__(self, contacts: int, seed: int, faults: dict[str, Any]) -> None:
        from leadsync.agent.connectors.zoho.sandbox import ZohoFaults, build_state, create_app

        leads = contacts * 3 // 5
        self.state = build_state(leads=leads, contacts=contacts - leads, seed=seed)
        self.app = create_app(self.state, faults=ZohoFaults(**{"daily_limit": None, **faults}))
        self.mappings = {m.local: m for m in DEFAULT_MAPPINGS[self.crm]}
        self.names = {**_crm_names(self.crm), "owner": "Owner"}
        self.seeded_owners = len(self.state.users)

    def credentials(self) -> dict[str, str]:
        from leadsync.agent.connectors.zoho import sandbox

        return {"client_id": sandbox.DEFAULT_CLIENT_ID, "client_secret": sandbox.DEFAULT_CLIENT_SECRET,
                "refresh_token": sandbox.DEFAULT_REFRESH_TOKEN}

    def _module(self, crm_id: str) -> str:
        return "Leads" if crm_id in self.state.rows["Leads"] else "Contacts"

    def _fields(self, module: str, values: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        out: dict[str, Any] = {}
        owner = None
        for key, value in values.items():
            if key == "owner":
                owner = value
                continue
            mapping = self.mappings[key]
            name = mapping.crm_for("lead" if module == "Leads" else "contact")
            if module == "Contacts" and name in ("Company", "Lead_Status"):
                continue
            if value is not None and mapping.value_map:
                value = mapping.value_map.get(value, value)
            if name == "Lead_Score" and value not in (None, ""):
                value = int(float(value))
            out[name] = None if value == "" else value
        return out, owner

    def add(self, values: dict[str, Any]) -> str:
        fields, owner = self._fields("Leads", values)
        return str(self.state.add_record("Leads", {"Last_Name": "Unknown", "Company": "Unknown", **fields},
                                         owner_id=owner))

    def get(self, crm_id: str) -> dict[str, Any]:
        module = self._module(crm_id)
        record = self.state.get_record(module, crm_id)
        assert record is not None, f"no live Zoho record {crm_id}"
        object_type = "lead" if module == "Leads" else "contact"
        out: dict[str, Any] = {}
        for local, mapping in self.mappings.items():
            value = _text(record.get(mapping.crm_for(object_type)))
            reverse = {v: k for k, v in mapping.value_map.items()}
            out[local] = reverse.get(value, value) if value is not None else None
        out["owner"] = str(record["Owner"]["id"])
        return out

    def set(self, crm_id: str, values: dict[str, Any]) -> None:
        module = self._module(crm_id)
        fields, owner = self._fields(module, values)
        self.state.update_record(module, crm_id, fields, owner_id=owner)

    def delete(self, crm_id: str) -> None:
        self.state.delete_record(self._module(crm_id), crm_id)

    def merge(self, survivor: str, merged: str) -> None:
        import pytest

        pytest.skip("the Zoho CRM sandbox has no merge")

    def convert(self, lead_id: str) -> str:
        return str(self.state.convert_lead(lead_id))

    def ids(self) -> list[str]:
        return [r.id for module in ("Leads", "Contacts") for r in self.state.ordered(module, False)]

    def count(self) -> int:
        return len(self.ids())

    def find(self, email: str) -> str | None:
        for module in ("Contacts", "Leads"):
            found = self.state.find_email(module, email)
            if found:
                return str(found[0])
        return None

    def sent_writes(self) -> list[Write]:
        out: list[Write] = []
        for r in self.state.request_log:
            if r.method == "GET" or not r.path.startswith("/crm/"):
                continue
            if r.method == "DELETE":
                out += [("delete", i, {}) for i in parse_qs(r.query).get("ids", [""])[0].split(",") if i]
                continue
            op = "upsert" if r.path.endswith("/upsert") else {"POST": "create", "PUT": "update"}.get(r.method)
            assert op is not None and "/actions/" not in r.path, f"sent_writes cannot read {r.method} {r.path}"
            out += [(op, record.get("id"), {k: v for k, v in record.items() if k != "id"})
                    for record in r.body["data"]]
        return out

    def deactivate_owner(self, owner_id: str) -> None:
        self.state.set_user_active(owner_id, False)

    def refuse_as_duplicate(self) -> tuple[str, dict[str, Any]]:
        self.app.state.faults.unique_fields = ["Phone"]
        return self.add(DUPLICATE_RECORD), dict(DUPLICATE_FIELDS)


class AutotaskSide(_Counters):
    """Contacts of the Autotask sandbox, each under a Company whose owner is the contact's owner; lifecycle
    stage and lead score are not mapped on Autotask (no standard fields), so they read as None."""

    crm = "autotask"

    def __init__(self, contacts: int, seed: int, faults: dict[str, Any]) -> None:
        from leadsync.agent.connectors.autotask.sandbox import FaultSwitches, build_state, create_app

        self.state = build_state(contacts=contacts, seed=seed)
        self.app = create_app(self.state, faults=FaultSwitches(**{"hourly_threshold": None, **faults}))
        self.names = {**_crm_names(self.crm), "owner": "ownerResourceID"}
        self.seeded_owners = len(self.state.rows("Resources"))

    def credentials(self) -> dict[str, str]:
        from leadsync.agent.connectors.autotask.sandbox import (
            DEFAULT_INTEGRATION_CODE,
            DEFAULT_SECRET,
            DEFAULT_USERNAME,
        )

        return {"username": DEFAULT_USERNAME, "secret": DEFAULT_SECRET, "integration_code": DEFAULT_INTEGRATION_CODE}

    def _company(self, name: str | None, owner: str | None) -> int:
        for company in self.state.rows("Companies"):
            if name is not None and company.get("companyName") == name:
                return int(company["id"])
        resource = owner or next(str(r["id"]) for r in self.state.rows("Resources") if r.get("isActive"))
        return int(self.state.add_company({"companyName": name or "Unknown", "ownerResourceID": int(resource),
                                           "phone": "+1-555-0100"}))

    def _fields(self, values: dict[str, Any]) -> dict[str, Any]:
        return {self.names[k]: (None if v == "" else v) for k, v in values.items()
                if k in self.names and k not in ("company", "owner")}

    def add(self, values: dict[str, Any]) -> str:
        company = self._company(values.get("company"), values.get("owner"))
        return str(self.state.add_contact({"lastName": "Unknown", **self._fields(values), "companyID": company}))

    def get(self, crm_id: str) -> dict[str, Any]:
        row = self.state.get_contact(int(crm_id))
        assert row is not None and row.get("isActive"), f"no active Autotask contact {crm_id}"
        company = self.state.get("Companies", int(row["companyID"])) or {}
        out = {local: _text(row.get(name)) for local, name in self.names.items() if local not in ("company", "owner")}
        out.update(company=_text(company.get("companyName")), owner=_text(company.get("ownerResourceID")),
                   lifecycle_stage=None, lead_score=None)
        return out

    def set(self, crm_id: str, values: dict[str, Any]) -> None:
        row = self.state.get_contact(int(crm_id)) or {}
        if "owner" in values:
            company = int(row["companyID"])
            self.state.tables["Companies"][company]["ownerResourceID"] = int(values["owner"])
        fields = self._fields(values)
        if "company" in values:  # moves the contact to the company of that name (found or created)
            assert values["company"], "an Autotask contact cannot be without a company"
            fields["companyID"] = self._company(values["company"], None)
        self.state.update_contact(int(crm_id), fields)

    def delete(self, crm_id: str) -> None:
        self.state.deactivate_contact(int(crm_id))

    def merge(self, survivor: str, merged: str) -> None:
        import pytest

        pytest.skip("Autotask has no contact merge")

    def ids(self) -> list[str]:
        return [str(r["id"]) for r in self.state.rows("Contacts") if r.get("isActive")]

    def count(self) -> int:
        return len(self.ids())

    def find(self, email: str) -> str | None:
        rows = [r for r in self.state.contacts_by_email(email) if r.get("isActive")]
        return str(rows[0]["id"]) if rows else None

    def sent_writes(self) -> list[Write]:
        """Contact creates and updates, a deactivation as a delete (a company created on the way is not a
        contact write)."""
        out: list[Write] = []
        for r in self.state.request_log:
            if r.method == "GET" or r.path.endswith(("/query", "/Companies")) or "/query/" in r.path:
                continue
            op = {"POST": "create", "PATCH": "update"}.get(r.method)
            assert op is not None and r.path.endswith("/Contacts"), f"sent_writes cannot read {r.method} {r.path}"
            body = dict(r.body)
            crm_id = body.pop("id", None)
            if op == "update" and body == {"isActive": 0}:
                op, body = "delete", {}
            out.append((op, None if crm_id is None else str(crm_id), body))
        return out

    def deactivate_owner(self, owner_id: str) -> None:
        self.state.tables["Resources"][int(owner_id)]["isActive"] = False

    def refuse_as_duplicate(self) -> tuple[str, dict[str, Any]]:
        self.app.state.faults.unique_contact_email = True
        company = self._company(DUPLICATE_RECORD["company"], None)
        crm_id = self.state.add_contact({"lastName": "Unknown", **self._fields(DUPLICATE_RECORD), "companyID": company,
                                         "emailAddress2": DUPLICATE_FIELDS["email"]})
        return str(crm_id), dict(DUPLICATE_FIELDS)


Side = HubSpotSide | SalesforceSide | ZohoSide | AutotaskSide
SIDES: dict[str, type[Side]] = {"hubspot": HubSpotSide, "salesforce": SalesforceSide, "zoho": ZohoSide,
                                "autotask": AutotaskSide}
CRMS = tuple(SIDES)


def plain_text_field(crm: str) -> str:
    """A text field that a test may edit, move or clear on either side: ``company``, except on Autotask,
    where a contact's company is its Company record (never blank; moving a contact to another company is
    refused, ``COMPANY_CHANGE``), so ``job_title`` there."""
    return "job_title" if crm == "autotask" else "company"


def make_side(crm: str, contacts: int = 200, seed: int = 42, **faults: Any) -> Side:
    """A seeded sandbox of ``crm`` with about ``contacts`` records; rate limits off unless given."""
    return SIDES[crm](contacts, seed, faults)
