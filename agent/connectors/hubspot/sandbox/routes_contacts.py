"""Single-record contact endpoints (HubSpot "Contacts" API v3, basic API):

- ``GET /crm/v3/objects/contacts``: ``limit`` (1..100, default 10), ``after``, ``properties``,
  ``propertiesWithHistory``, ``archived``; ordered by id; ``paging.next`` absent on the last page.
- ``GET /crm/v3/objects/contacts/{contactId}``: ``idProperty=email``, ``properties``, ``archived``;
  404 for missing, archived (unless ``archived=true``) and merged-away ids.
- ``POST /crm/v3/objects/contacts`` (201), ``PATCH .../{contactId}`` (200), ``DELETE
  .../{contactId}`` (204, archive), ``POST .../merge`` (200, the surviving contact).
"""

from __future__ import annotations

from itertools import islice

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import CONFLICT, HubSpotError, bad_request, invalid_properties, not_found
from .params import Sandbox, query_bool, query_int, read_object, sandbox_of
from .records import Contact
from .validation import check_properties, stage_of
from .wire import contact_to_wire, requested_properties

CONTACTS = "/crm/v3/objects/contacts"
UNIQUE_ID_PROPERTIES = ("hs_object_id", "email")


def contact_not_found(contact_id: str) -> HubSpotError:
    """404 for a contact id that does not resolve."""
    return not_found(
        f"Object not found. objectId are usually numeric. (id: {contact_id})", context={"id": [contact_id]}
    )


def resolve_contact(sandbox: Sandbox, raw_id: str, id_property: str | None, *, archived: bool = False) -> Contact:
    """Find the contact a path id names (by id or ``idProperty=email``); raises 404/400.

    Merged-away ids answer 404 unless ``faults.merged_ids_resolve`` (then the survivor).
    """
    state = sandbox.state
    if id_property not in (None, "", *UNIQUE_ID_PROPERTIES):
        raise bad_request(f"'{id_property}' is not a unique property of contacts and cannot be an idProperty.")
    if id_property == "email":
        found = None if archived else state.contact_by_email(raw_id)
        if found is None:
            raise contact_not_found(raw_id)
        return found
    contact = state.contact(int(raw_id)) if raw_id.isdigit() else None
    seen = 0
    while contact is not None and contact.merged_into is not None and sandbox.faults.merged_ids_resolve and seen < 50:
        contact, seen = state.contact(contact.merged_into), seen + 1
    if contact is None or contact.merged_into is not None or contact.archived != archived:
        raise contact_not_found(raw_id)
    return contact


def email_conflict(sandbox: Sandbox, email: str | None, own_id: int | None) -> HubSpotError | None:
    """409 ``CONFLICT`` if another live contact already has ``email`` (case-insensitive)."""
    if not email:
        return None
    existing = sandbox.state.contact_by_email(email)
    if existing is None or existing.id == own_id:
        return None
    return HubSpotError(
        409,
        CONFLICT,
        f"Contact already exists. Existing ID: {existing.id}",
        context={"existingId": [str(existing.id)]},
    )


def owner_ids(sandbox: Sandbox) -> set[str]:
    """Ids of the active owners (what ``hubspot_owner_id`` may name)."""
    return {o.id for o in sandbox.state.owners.values() if not o.archived}


async def list_contacts(request: Request) -> Response:
    """``GET /crm/v3/objects/contacts``: a page of contacts in id order; ``paging.next`` unless the last."""
    state = sandbox_of(request).state
    limit = query_int(request, "limit", 10, low=1, high=100)
    after = query_int(request, "after", 0)
    archived = query_bool(request, "archived")
    names = requested_properties(request.query_params.getlist("properties"))
    history = requested_properties(request.query_params.getlist("propertiesWithHistory"))
    with state.lock:
        ids = list(islice(state.iter_ids(archived=archived, after=after), limit + 1))
        results = []
        for contact_id in ids[:limit]:
            contact = state.contact(contact_id)
            assert contact is not None
            results.append(contact_to_wire(contact, names, state.property_defs, history=history))
    body: dict[str, object] = {"results": results}
    if len(ids) > limit:
        nxt = str(ids[limit])
        link = str(request.url.include_query_params(after=nxt, limit=limit))
        body["paging"] = {"next": {"after": nxt, "link": link}}
    return JSONResponse(body)


async def get_contact(request: Request) -> Response:
    """``GET .../{contactId}`` (``idProperty``, ``properties``, ``propertiesWithHistory``, ``archived``)."""
    sandbox = sandbox_of(request)
    state = sandbox.state
    archived = query_bool(request, "archived")
    names = requested_properties(request.query_params.getlist("properties"))
    history = requested_properties(request.query_params.getlist("propertiesWithHistory"))
    with state.lock:
        contact = resolve_contact(
            sandbox, request.path_params["contactId"], request.query_params.get("idProperty"), archived=archived
        )
        return JSONResponse(contact_to_wire(contact, names, state.property_defs, history=history))


async def create_contact(request: Request) -> Response:
    """``POST /crm/v3/objects/contacts`` ``{properties}`` -> 201; 400 bad properties, 409 email taken."""
    sandbox = sandbox_of(request)
    state = sandbox.state
    body = await read_object(request)
    with state.lock:
        values, problems = check_properties(body.get("properties"), state.property_defs, owner_ids(sandbox))
        if problems:
            raise invalid_properties(problems)
        conflict = email_conflict(sandbox, values.get("email"), None)
        if conflict is not None:
            raise conflict
        contact = state.create_contact(values)
        state.records_written += 1
        return JSONResponse(contact_to_wire(contact, None, state.property_defs, all_values=True), status_code=201)


async def update_contact(request: Request) -> Response:
    """``PATCH .../{contactId}`` ``{properties}`` -> 200; 404 unknown, 400 bad properties, 409 email taken."""
    sandbox = sandbox_of(request)
    state = sandbox.state
    body = await read_object(request)
    with state.lock:
        contact = resolve_contact(sandbox, request.path_params["contactId"], request.query_params.get("idProperty"))
        values, problems = check_properties(body.get("properties"), state.property_defs, owner_ids(sandbox),
                                            stage_of(contact))
        if problems:
            raise invalid_properties(problems)
        conflict = email_conflict(sandbox, values.get("email"), contact.id)
        if conflict is not None:
            raise conflict
        if values:
            state.write_contact(contact, values)
            state.records_written += 1
        return JSONResponse(contact_to_wire(contact, None, state.property_defs, all_values=True))


async def archive_contact(request: Request) -> Response:
    """``DELETE .../{contactId}`` -> 204, also for ids that are unknown or already archived."""
    state = sandbox_of(request).state
    raw_id = request.path_params["contactId"]
    with state.lock:
        contact = state.live_contact(raw_id)
        if contact is not None:
            state.archive_contact(contact.id)
            state.records_written += 1
    return Response(status_code=204)


async def merge_contacts(request: Request) -> Response:
    """``POST .../merge`` ``{primaryObjectId, objectIdToMerge}`` -> the surviving contact; 400, 404."""
    state = sandbox_of(request).state
    body = await read_object(request)
    primary = str(body.get("primaryObjectId") or "")
    other = str(body.get("objectIdToMerge") or "")
    if not primary or not other:
        raise bad_request("Both 'primaryObjectId' and 'objectIdToMerge' are required.")
    if primary == other:
        raise bad_request("Cannot merge a contact into itself.")
    with state.lock:
        for raw_id in (primary, other):
            if state.live_contact(raw_id) is None:
                raise contact_not_found(raw_id)
        survivor = state.merge_contacts(primary, other)
        contact = state.live_contact(survivor)
        assert contact is not None
        state.records_written += 2
        return JSONResponse(contact_to_wire(contact, None, state.property_defs, all_values=True))


ROUTES = [
    Route(CONTACTS, list_contacts, methods=["GET"]),
    Route(CONTACTS, create_contact, methods=["POST"]),
    Route(f"{CONTACTS}/merge", merge_contacts, methods=["POST"]),
    Route(f"{CONTACTS}/{{contactId}}", get_contact, methods=["GET"]),
    Route(f"{CONTACTS}/{{contactId}}", update_contact, methods=["PATCH"]),
    Route(f"{CONTACTS}/{{contactId}}", archive_contact, methods=["DELETE"]),
]
"""The single-record contact routes, in matching order."""

