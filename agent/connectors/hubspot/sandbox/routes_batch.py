"""Batch contact endpoints (HubSpot "Contacts" API v3, batch API), at most 100 inputs each:

- ``POST .../batch/read`` ``{inputs: [{id}], properties, propertiesWithHistory, idProperty}``;
- ``POST .../batch/create`` ``{inputs: [{properties, associations?, objectWriteTraceId?}]}`` (201);
- ``POST .../batch/update`` ``{inputs: [{id, properties, idProperty?}]}`` (200);
- ``POST .../batch/upsert`` ``{inputs: [{idProperty: "email", id, properties}]}`` (200, each
  result says ``new``);
- ``POST .../batch/archive`` ``{inputs: [{id}]}`` (204).

Answers: ``{status: "COMPLETE", results, startedAt, completedAt}``; when some inputs fail, 207
with ``errors: [{status: "error", category, message, context, errors}]`` and ``numErrors``. When
every input of a write fails (or ``faults.reject_batch_if_any_invalid`` and any fails), the whole
batch is refused with the error's status (400, or 409 for conflicts) and nothing is written.
Failed inputs are identified in ``context``: ``ids`` for updates and reads, ``objectWriteTraceId``
(when given) and ``email`` for creates and upserts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import CONFLICT, OBJECT_NOT_FOUND, HubSpotError, PropertyProblem, bad_request, invalid_properties
from .params import Sandbox, query_bool, read_object, sandbox_of
from .records import Contact
from .routes_contacts import CONTACTS, email_conflict, owner_ids
from .state import normalize_email
from .timefmt import ms_to_iso
from .validation import check_properties, stage_of
from .wire import contact_to_wire, requested_properties

MAX_INPUTS = 100


def batch_inputs(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Return ``body['inputs']``: a list of objects, at most 100; 400 otherwise."""
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(item, dict) for item in inputs):
        raise bad_request("Invalid input JSON: 'inputs' must be a list of objects.")
    if len(inputs) > MAX_INPUTS:
        raise bad_request(
            f"Batch input size {len(inputs)} exceeds the maximum of {MAX_INPUTS} inputs.",
            context={"size": [str(len(inputs))]},
        )
    return inputs


def whole_batch_error(errors: Sequence[HubSpotError]) -> HubSpotError:
    """Fold per-input errors into the single error a refused batch answers with."""
    if len(errors) == 1:
        return errors[0]
    status = 409 if all(e.status == 409 for e in errors) else 400
    context: dict[str, list[str]] = {}
    details: list[Mapping[str, Any]] = []
    for error in errors:
        for key, values in (error.context or {}).items():
            context.setdefault(key, []).extend(values)
        details.extend(error.errors or [{"message": error.message}])
    category = errors[0].category if status == 400 else CONFLICT
    message = f"{len(errors)} inputs were not valid. First: {errors[0].message}"
    return HubSpotError(status, category, message, errors=details, context=context)


def batch_answer(
    sandbox: Sandbox,
    started_ms: int,
    results: list[dict[str, Any]],
    errors: list[HubSpotError],
    ok_status: int,
) -> Response:
    """Render a batch answer: ``ok_status`` when nothing failed, else 207 with ``errors``."""
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": ms_to_iso(started_ms),
        "completedAt": ms_to_iso(sandbox.state.clock()),
    }
    if not errors:
        return JSONResponse(body, status_code=ok_status)
    body["numErrors"] = len(errors)
    body["errors"] = [error.batch_item() for error in errors]
    return JSONResponse(body, status_code=207)


def duplicate_ids(dupes: list[str]) -> HubSpotError:
    """400 for a batch naming the same record twice (HubSpot refuses the whole batch)."""
    return bad_request(f"Duplicate IDs found in batch input: {dupes}. IDs must be unique", context={"ids": dupes})


def _duplicates(keys: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    dupes: list[str] = []
    for key in keys:
        if key in seen and key not in dupes:
            dupes.append(key)
        seen.add(key)
    return dupes


def _trace_context(item: dict[str, Any], email: str | None) -> dict[str, list[str]]:
    context: dict[str, list[str]] = {}
    trace = item.get("objectWriteTraceId")
    if trace:
        context["objectWriteTraceId"] = [str(trace)]
    if email:
        context["email"] = [email]
    return context


Planned = tuple[dict[str, Any], Contact | None, dict[str, str | None]]
"""A write a batch input asks for, once checked: ``(input, existing contact or None, property values)``."""


def _refuse_if_invalid(sandbox: Sandbox, planned: Sequence[Planned], errors: list[HubSpotError]) -> None:
    """Raise the whole-batch error when every input failed (or any did, with ``reject_batch_if_any_invalid``)."""
    if errors and (not planned or sandbox.faults.reject_batch_if_any_invalid):
        raise whole_batch_error(errors)


async def batch_read(request: Request) -> Response:
    """``POST .../batch/read``: the contacts found; 207 with one 404 naming the ids that were not."""
    sandbox = sandbox_of(request)
    state = sandbox.state
    started = state.clock()
    body = await read_object(request)
    inputs = batch_inputs(body)
    archived = query_bool(request, "archived")
    id_property = body.get("idProperty") or None
    names = requested_properties(body.get("properties") or None)
    history = requested_properties(body.get("propertiesWithHistory") or None)
    results: list[dict[str, Any]] = []
    missing: list[str] = []
    with state.lock:
        for item in inputs:
            raw_id = str(item.get("id", ""))
            contact = _lookup(sandbox, raw_id, id_property, archived=archived)
            if contact is None:
                missing.append(raw_id)
            else:
                results.append(contact_to_wire(contact, names, state.property_defs, history=history))
    errors = [_missing(missing)] if missing else []
    return batch_answer(sandbox, started, results, errors, 200)


def _create_item_error(sandbox: Sandbox, item: dict[str, Any], values: dict[str, str | None],
                       problems: Sequence[PropertyProblem], batch_emails: set[str]) -> HubSpotError | None:
    """What a bad create input answers: 400 for invalid properties, 409 for an email another contact has
    or an earlier input of the batch has; identified by ``objectWriteTraceId`` and ``email``."""
    email = values.get("email")
    context = _trace_context(item, email or _raw_email(item))
    if problems:
        return invalid_properties(problems, context)
    conflict = email_conflict(sandbox, email, None)
    if conflict is None and email and normalize_email(email) in batch_emails:
        conflict = HubSpotError(409, CONFLICT, f"Duplicate email in batch input: {email}")
    return None if conflict is None else _with_context(conflict, context)


async def batch_create(request: Request) -> Response:
    """``POST .../batch/create``: 201 with the new contacts (and their ``objectWriteTraceId``), or 207."""
    sandbox = sandbox_of(request)
    state = sandbox.state
    started = state.clock()
    inputs = batch_inputs(await read_object(request))
    with state.lock:
        owners = owner_ids(sandbox)
        planned: list[Planned] = []
        errors: list[HubSpotError] = []
        batch_emails: set[str] = set()
        for item in inputs:
            values, problems = check_properties(item.get("properties"), state.property_defs, owners)
            error = _create_item_error(sandbox, item, values, problems, batch_emails)
            if error is not None:
                errors.append(error)
                continue
            email = values.get("email")
            if email:
                batch_emails.add(normalize_email(email))
            planned.append((item, None, values))
        _refuse_if_invalid(sandbox, planned, errors)
        results = []
        for item, _existing, values in planned:
            contact = state.create_contact(values)
            state.records_written += 1
            wire = contact_to_wire(contact, None, state.property_defs, all_values=True)
            if item.get("objectWriteTraceId"):
                wire["objectWriteTraceId"] = str(item["objectWriteTraceId"])
            results.append(wire)
    return batch_answer(sandbox, started, results, errors, 201)


def _update_item_error(sandbox: Sandbox, raw_id: str, contact: Contact, values: dict[str, str | None],
                       problems: Sequence[PropertyProblem]) -> HubSpotError | None:
    """What a bad update input answers: 400 for invalid properties, 409 for an email another contact has;
    identified by ``ids``. (Unknown ids are gathered into one 404.)"""
    context = {"ids": [raw_id]}
    if problems:
        return invalid_properties(problems, context)
    conflict = email_conflict(sandbox, values.get("email"), contact.id)
    return None if conflict is None else _with_context(conflict, context)


async def batch_update(request: Request) -> Response:
    """``POST .../batch/update``: 200 with the updated contacts, or 207; 400 when an id repeats."""
    sandbox = sandbox_of(request)
    state = sandbox.state
    started = state.clock()
    inputs = batch_inputs(await read_object(request))
    ids = [str(item.get("id", "")) for item in inputs]
    dupes = _duplicates(ids)
    if dupes:
        raise duplicate_ids(dupes)
    with state.lock:
        owners = owner_ids(sandbox)
        planned: list[Planned] = []
        errors: list[HubSpotError] = []
        missing: list[str] = []
        for item, raw_id in zip(inputs, ids, strict=True):
            contact = _lookup(sandbox, raw_id, item.get("idProperty") or None)
            if contact is None:
                missing.append(raw_id)
                continue
            values, problems = check_properties(item.get("properties"), state.property_defs, owners,
                                                stage_of(contact))
            error = _update_item_error(sandbox, raw_id, contact, values, problems)
            if error is not None:
                errors.append(error)
                continue
            planned.append((item, contact, values))
        if missing:
            errors.append(_missing(missing))
        _refuse_if_invalid(sandbox, planned, errors)
        results = []
        for _item, existing, values in planned:
            assert existing is not None
            if values:
                state.write_contact(existing, values)
                state.records_written += 1
            results.append(contact_to_wire(existing, None, state.property_defs, all_values=True))
    return batch_answer(sandbox, started, results, errors, 200)


def _upsert_keys(inputs: list[dict[str, Any]]) -> None:
    """400 unless every input's ``idProperty`` is ``email`` or ``hs_object_id`` and no key repeats."""
    keys = [normalize_email(str(item.get("id", ""))) for item in inputs]
    for item in inputs:
        if item.get("idProperty") not in ("email", "hs_object_id"):
            raise bad_request(
                "Each upsert input needs 'idProperty' naming a unique property ('email').",
                context={"idProperty": [str(item.get("idProperty"))]},
            )
    dupes = _duplicates(keys)
    if dupes:
        raise duplicate_ids(dupes)


def _plan_upsert(sandbox: Sandbox, item: dict[str, Any], owners: set[str]) -> Planned | HubSpotError:
    """Check one upsert input: the write it asks for, or what a bad one answers: 404 for an unknown
    ``hs_object_id``, 400 for invalid properties, 409 for an email another contact has; identified by
    ``objectWriteTraceId`` and ``email``. An input by email that matches no contact creates one."""
    raw_id = str(item.get("id", ""))
    by_email = item.get("idProperty") == "email"
    existing = _lookup(sandbox, raw_id, "email" if by_email else None)
    properties = item.get("properties")
    if isinstance(properties, dict) and by_email and existing is None:
        properties = {"email": raw_id, **properties}
    values, problems = check_properties(properties, sandbox.state.property_defs, owners,
                                        None if existing is None else stage_of(existing))
    context = _trace_context(item, raw_id if by_email else None)
    if not by_email and existing is None:
        return _missing([raw_id])
    if problems:
        return invalid_properties(problems, context)
    conflict = email_conflict(sandbox, values.get("email"), existing.id if existing else None)
    if conflict is not None:
        return _with_context(conflict, context)
    return item, existing, values


async def batch_upsert(request: Request) -> Response:
    """``POST .../batch/upsert``: 200 with each contact (``new`` says whether it was created), or 207."""
    sandbox = sandbox_of(request)
    state = sandbox.state
    started = state.clock()
    inputs = batch_inputs(await read_object(request))
    _upsert_keys(inputs)
    with state.lock:
        owners = owner_ids(sandbox)
        planned: list[Planned] = []
        errors: list[HubSpotError] = []
        for item in inputs:
            plan = _plan_upsert(sandbox, item, owners)
            if isinstance(plan, HubSpotError):
                errors.append(plan)
            else:
                planned.append(plan)
        _refuse_if_invalid(sandbox, planned, errors)
        results = []
        for _item, existing, values in planned:
            if existing is None:
                contact = state.create_contact(values)
                state.records_written += 1
            else:
                contact = existing
                if values:
                    state.write_contact(contact, values)
                    state.records_written += 1
            wire = contact_to_wire(contact, None, state.property_defs, all_values=True)
            wire["new"] = existing is None
            results.append(wire)
    return batch_answer(sandbox, started, results, errors, 200)


async def batch_archive(request: Request) -> Response:
    """``POST .../batch/archive``: 204; unknown and already archived ids are ignored."""
    state = sandbox_of(request).state
    inputs = batch_inputs(await read_object(request))
    with state.lock:
        for item in inputs:
            contact = state.live_contact(str(item.get("id", "")))
            if contact is not None:
                state.archive_contact(contact.id)
                state.records_written += 1
    return Response(status_code=204)


ROUTES = [
    Route(f"{CONTACTS}/batch/read", batch_read, methods=["POST"]),
    Route(f"{CONTACTS}/batch/create", batch_create, methods=["POST"]),
    Route(f"{CONTACTS}/batch/update", batch_update, methods=["POST"]),
    Route(f"{CONTACTS}/batch/upsert", batch_upsert, methods=["POST"]),
    Route(f"{CONTACTS}/batch/archive", batch_archive, methods=["POST"]),
]
"""The batch contact routes."""


def _missing(ids: list[str]) -> HubSpotError:
    return HubSpotError(
        404,
        OBJECT_NOT_FOUND,
        "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.",
        context={"ids": ids},
    )


def _raw_email(item: dict[str, Any]) -> str | None:
    properties = item.get("properties")
    if isinstance(properties, dict) and isinstance(properties.get("email"), str):
        return str(properties["email"])
    return None


def _with_context(error: HubSpotError, context: dict[str, list[str]]) -> HubSpotError:
    merged = dict(error.context or {})
    merged.update(context)
    return HubSpotError(error.status, error.category, error.message, errors=error.errors, context=merged)


def _lookup(sandbox: Sandbox, raw_id: str, id_property: str | None, *, archived: bool = False) -> Contact | None:
    state = sandbox.state
    if id_property == "email":
        return None if archived else state.contact_by_email(raw_id)
    contact = state.contact(int(raw_id)) if raw_id.isdigit() else None
    if contact is not None and contact.merged_into is not None and sandbox.faults.merged_ids_resolve:
        contact = state.live_contact(contact.merged_into)
    if contact is None or contact.merged_into is not None or contact.archived != archived:
        return None
    return contact
