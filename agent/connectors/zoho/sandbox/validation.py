"""Checking one record of a write against the module's fields, the way Zoho answers each record.

A refusal is :class:`RecordRefused` (``code``, ``message``, ``details`` with ``api_name`` and
``json_path``), which the route turns into that record's ``{code, details, message, status: "error"}``:
``MANDATORY_NOT_FOUND`` (``Last_Name`` missing on create or cleared), ``INVALID_DATA`` (a value of the
wrong type with ``expected_data_type``, an unknown or read-only field, an ``Owner`` that is no active user),
``DUPLICATE_DATA`` (a unique field's value taken, see :func:`duplicate_of`). The sandbox refuses
unknown field names, which Zoho may ignore: a connector that sends a Contact ``Company`` is caught here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any, Final

from .schema import MODULE_IDS, field_map
from .state import SandboxState

_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NUMBERS: Final = {"double", "currency", "decimal", "percent"}
_TEXT: Final = {"text", "textarea", "phone", "website", "picklist", "email"}


class RecordRefused(Exception):
    """One record's refusal: ``code``, ``message`` and ``details``."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def result(self) -> dict[str, Any]:
        """The record's result entry."""
        return {"code": self.code, "details": self.details, "message": self.message, "status": "error"}


def _type_ok(data_type: str, value: Any, state: SandboxState) -> bool:
    if value is None:
        return True
    # a picklist (Lead_Status too) takes any of its values in any order: Zoho CRM has no forward-only rule
    if data_type in _TEXT:
        return isinstance(value, str) and (data_type != "email" or bool(_EMAIL.match(value)))
    if data_type in ("integer", "bigint"):
        return isinstance(value, int) and not isinstance(value, bool)
    if data_type in _NUMBERS:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if data_type == "boolean":
        return isinstance(value, bool)
    if data_type == "multiselectpicklist":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if data_type in ("lookup", "ownerlookup"):
        return isinstance(value, dict) and isinstance(value.get("id"), str | int)
    if data_type in ("date", "datetime"):
        try:
            (dt.date if data_type == "date" else dt.datetime).fromisoformat(str(value))
        except ValueError:
            return False
        return True
    return True


def check(state: SandboxState, module: str, record: Any, index: int, *, creating: bool,
          unique: Sequence[str] = (), record_id: str | None = None) -> tuple[dict[str, Any], str | None]:
    """``(values to store, new owner id or None)`` of one input record; raises RecordRefused. ``unique``:
    the fields no other record may share (see :func:`duplicate_of`)."""
    if not isinstance(record, dict):
        raise RecordRefused("INVALID_DATA", "invalid data", json_path=f"$.data[{index}]")
    fields = field_map(module)
    values: dict[str, Any] = {}
    owner: str | None = None
    for name, value in record.items():
        path = f"$.data[{index}].{name}"
        if name in ("id", "$append_values"):
            continue
        meta = fields.get(name)
        if meta is None:
            raise RecordRefused("INVALID_DATA", "the field name given seems to be invalid", api_name=name,
                                json_path=path)
        if meta["read_only"]:
            raise RecordRefused("INVALID_DATA", "the field is read only", api_name=name, json_path=path)
        if not _type_ok(meta["data_type"], value, state):
            raise RecordRefused("INVALID_DATA", "invalid data", api_name=name, json_path=path,
                                expected_data_type=meta["data_type"])
        if name == "Owner":
            owner = str(value["id"]) if isinstance(value, dict) else None
            if owner not in state.users or state.users[owner]["status"] != "active":
                raise RecordRefused("INVALID_DATA", "invalid data", api_name="Owner", json_path=path)
            continue
        values[name] = value
    for meta in fields.values():
        name = meta["api_name"]
        missing = values.get(name) in (None, "") if (creating or name in values) else False
        if meta["system_mandatory"] and missing:
            raise RecordRefused("MANDATORY_NOT_FOUND", "required field not found", api_name=name,
                                json_path=f"$.data[{index}].{name}")
    duplicate_of(state, module, values, index, unique, record_id)
    return values, owner


def duplicate_of(state: SandboxState, module: str, values: dict[str, Any], index: int, unique: Sequence[str],
                 record_id: str | None) -> None:
    """Raise ``DUPLICATE_DATA`` when a value of a ``unique`` field is another live record's (compared
    without case; converted Leads too): a Lead is checked against Leads, then Contacts (Zoho's duplicate
    check preference "mapped_module_records"), a Contact against Contacts. The refusal names the field and
    the record: ``details: {api_name, json_path, more_records, duplicate_record: {id, module: {api_name,
    id}, Owner}}`` (Zoho's v8 answer; "Kaizen #177: Duplicate Check Preferences API vs. Upsert API")."""
    for name in unique:
        value = values.get(name)
        if not isinstance(value, str) or not value.strip():
            continue
        for other in (module, "Contacts") if module == "Leads" else (module,):
            taken = [i for i in state.find_value(other, name, value) if i != record_id]
            if taken:
                row = state.rows[other][taken[0]]
                raise RecordRefused("DUPLICATE_DATA", "duplicate data", api_name=name,
                                    json_path=f"$.data[{index}].{name}", more_records=len(taken) > 1,
                                    duplicate_record={"module": {"api_name": other, "id": MODULE_IDS[other]},
                                                      "id": row.id, "Owner": state.owner_ref(row.owner_id)})
