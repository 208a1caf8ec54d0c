"""The Salesforce connector's writes (:class:`RecordWrites`): create, update, upsert and archive of Leads and
Contacts, never a second record for an email, converted Leads named with their Contact. The requests
themselves are sObject Collections (:mod:`~.sobject_collections`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from leadsync.agent.connectors.base import (
    CrmRecord,
    ObjectType,
    WriteInput,
    WriteResult,
)
from leadsync.agent.connectors.salesforce.sobject_collections import (
    COLLECTION_SIZE,
    Send,
    delete_results,
    failed,
    prepare,
    write_all,
)
from leadsync.agent.connectors.salesforce.wire import (
    CONVERTED_CONTACT,
    EMAIL,
    IS_CONVERTED,
    chunked,
    sobject,
)
from leadsync.common.emails import normalize_email

CONVERTED_LEAD: Final = "CONVERTED_LEAD"
CANNOT_UPDATE_CONVERTED_LEAD: Final = "CANNOT_UPDATE_CONVERTED_LEAD"
DUPLICATES_DETECTED: Final = "DUPLICATES_DETECTED"
_RECORD_ID: Final = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


def email_key(inp: WriteInput) -> str:
    email = next((v for k, v in inp.properties.items() if str(k).lower() == EMAIL.lower()), None)
    return normalize_email(email) if isinstance(email, str) else ""


def email_rounds(inputs: Sequence[WriteInput], outcome: dict[int, WriteResult], *,
            require_email: bool) -> list[list[tuple[int, WriteInput, str]]]:
    """Inputs as ``(position, input, email key)`` in rounds where no email repeats (the n-th input with an
    address goes to round n), so each round's lookup sees what the rounds before it wrote. Inputs without
    an email go to the first round, or fail with ``MISSING_EMAIL`` into ``outcome`` when one is required."""
    rounds: list[list[tuple[int, WriteInput, str]]] = []
    seen: dict[str, int] = {}
    for n, inp in enumerate(inputs):
        key = email_key(inp)
        if not key and require_email:
            outcome[n] = failed(inp, f"an upsert needs the {EMAIL} field", "MISSING_EMAIL")
            continue
        depth = seen.get(key, 0) if key else 0
        if key:
            seen[key] = depth + 1
        while depth >= len(rounds):
            rounds.append([])
        rounds[depth].append((n, inp, key))
    return rounds


def is_converted_lead(record: CrmRecord, object_type: ObjectType) -> bool:
    return object_type == "lead" and record.properties.get(IS_CONVERTED) == "true"


def already_there(inp: WriteInput, record: CrmRecord, object_type: ObjectType, key: str) -> WriteResult:
    """The refusal of a create (or upsert) whose email ``record`` already has: link to it instead."""
    name = sobject(object_type)
    if is_converted_lead(record, object_type):
        contact = record.properties.get(CONVERTED_CONTACT) or "?"
        return WriteResult(ref=inp.ref, ok=False, existing_id=record.id, record=record,
                           error=f"{key} belongs to Lead {record.id}, converted to Contact {contact}; "
                                 "write to the Contact instead", error_code=CONVERTED_LEAD)
    return WriteResult(ref=inp.ref, ok=False, existing_id=record.id, record=record,
                       error=f"a {name} with the email {key} already exists: {record.id}",
                       error_code=DUPLICATES_DETECTED)


class RecordWrites:
    """The writes of one :class:`~.client.SalesforceConnector` (Leads and Contacts), through what it gives:
    ``call(method, url, params=, json=, replay_safe=)`` (one API request, its decoded answer), ``data(path)``
    (the URL of a ``/services/data/{version}`` path), ``fields(object_type)`` (the describe's field types),
    ``find_by_email(object_type, emails, properties=)`` and ``read(object_type, ids, properties=)`` (the
    connector's reads)."""

    def __init__(self, *, call: Callable[..., Awaitable[Any]], data: Callable[[str], Awaitable[str]],
                 fields: Callable[[ObjectType], Awaitable[dict[str, Mapping[str, Any]]]],
                 find_by_email: Callable[..., Awaitable[dict[str, CrmRecord]]],
                 read: Callable[..., Awaitable[dict[str, CrmRecord | None]]]) -> None:
        self._call = call
        self._data = data
        self._fields = fields
        self._find_by_email = find_by_email
        self._read = read

    def _sender(self, method: str) -> Send:
        # a create has no idempotency key: never replay one Salesforce may have carried out
        replay_safe = method != "POST"

        async def send(records: list[dict[str, Any]]) -> Any:
            return await self._call(method, await self._data("/composite/sobjects"),
                                    json={"allOrNone": False, "records": records}, replay_safe=replay_safe)

        return send

    async def create(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Create records: ``POST /composite/sobjects`` with ``allOrNone: false``, 200 a request; never
        a second record for an email.

        Salesforce itself lets many records share an email, so the addresses are looked up first
        (:meth:`find_by_email`): an input whose email a record of the object already has is not sent and
        comes back ``ok=False`` with ``existing_id`` (``DUPLICATES_DETECTED``; ``CONVERTED_LEAD`` when that
        record is a converted Lead, whose ``ConvertedContactId`` is in ``record``), so the engine links to
        it and a replay after a crash creates nothing twice. Inputs sharing an email in one call are
        created once; the later ones get the first one's ``existing_id``. A refusal of Salesforce's own
        duplicate rules (``DUPLICATES_DETECTED`` with ``duplicateResult``) names its match the same way.

        One result per input, in input order, ``created=True`` on success; a refused record (e.g.
        ``REQUIRED_FIELD_MISSING`` "Required fields are missing: [Company]", case S13;
        ``INVALID_EMAIL_ADDRESS``) fails alone with Salesforce's reason (case B23 c). Bodies hold exactly
        the given fields, converted to their JSON types (see :mod:`~.wire`); nothing is invented for
        missing required fields. The POST is retried only when Salesforce surely did not act (429, 503,
        no connection).
        """
        outcome: dict[int, WriteResult] = {}
        for batch in email_rounds(inputs, outcome, require_email=False):
            keys = [key for _, _, key in batch if key]
            found = await self._find_by_email(object_type, keys, properties=()) if keys else {}
            fresh: list[tuple[int, WriteInput]] = []
            for n, inp, key in batch:
                record = found.get(key) if key else None
                if record is None:
                    fresh.append((n, inp))
                else:
                    outcome[n] = already_there(inp, record, object_type, key)
            outcome.update(await self._create_now(object_type, fresh))
        return [outcome[n] for n in range(len(inputs))]

    async def _create_now(self, object_type: ObjectType,
                          inputs: Sequence[tuple[int, WriteInput]]) -> dict[int, WriteResult]:
        if not inputs:
            return {}
        fields = await self._fields(object_type)
        items = [inp for _, inp in inputs]
        prepared, refused = prepare(items, sobject(object_type), fields, with_id=False)
        results = await write_all(self._sender("POST"), items, prepared, refused, created=True)
        return {n: result for (n, _), result in zip(inputs, results, strict=True)}

    async def update(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Update records by id: ``PATCH /composite/sobjects`` (each record with its ``Id``), 200 a request.

        Only the given fields change; ``""`` clears one. A deleted record fails with
        ``ENTITY_IS_DELETED``. A converted Lead cannot be updated: it fails with
        ``CANNOT_UPDATE_CONVERTED_LEAD``, and its result's ``record`` is the Lead read again, whose
        ``ConvertedContactId`` names the Contact the update belongs to.
        """
        fields = await self._fields(object_type)
        prepared, refused = prepare(inputs, sobject(object_type), fields, with_id=True)
        results = await write_all(self._sender("PATCH"), inputs, prepared, refused, created=False)
        if object_type == "lead":
            results = await self._explain_conversions(results)
        return results

    async def _explain_conversions(self, results: list[WriteResult]) -> list[WriteResult]:
        converted = [r.id for r in results if not r.ok and r.error_code == CANNOT_UPDATE_CONVERTED_LEAD and r.id]
        if not converted:
            return results
        leads = await self._read("lead", converted, properties=())
        out: list[WriteResult] = []
        for result in results:
            lead = leads.get(result.id or "") if result.error_code == CANNOT_UPDATE_CONVERTED_LEAD else None
            contact = lead.properties.get(CONVERTED_CONTACT) if lead is not None else None
            if lead is not None and contact:
                result = WriteResult(ref=result.ref, ok=False, id=result.id, record=lead,
                                     error=f"Lead {result.id} was converted to Contact {contact}; "
                                           "write to the Contact instead",
                                     error_code=CANNOT_UPDATE_CONVERTED_LEAD)
            out.append(result)
        return out

    async def upsert(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Create or update keyed by ``Email``; idempotent, so a replay after a crash makes no duplicate.

        Salesforce has no email upsert key (``PATCH /sobjects/{Object}/{ExternalIdField}/{value}`` needs
        an External ID field), so: look the addresses up with :meth:`find_by_email` (escaped SOQL, case
        B13), :meth:`update` the records found (``created=False``), create the others (``created=True``).
        A replay finds what the first attempt created and updates it. Inputs sharing an address are
        applied one after the other, never creating two records. An input without an ``Email`` fails
        alone (``MISSING_EMAIL``); a Lead address that only a converted Lead has fails alone with
        ``CONVERTED_LEAD``, that Lead as ``record`` and its id as ``existing_id`` (its ``ConvertedContactId``
        names the Contact to write instead) rather than creating a duplicate Lead.
        """
        outcome: dict[int, WriteResult] = {}
        for batch in email_rounds(inputs, outcome, require_email=True):
            found = await self._find_by_email(object_type, [key for _, _, key in batch], properties=())
            creates: list[tuple[int, WriteInput]] = []
            updates: list[tuple[int, WriteInput]] = []
            for n, inp, key in batch:
                record = found.get(key)
                if record is None:
                    creates.append((n, inp))
                elif is_converted_lead(record, object_type):
                    outcome[n] = already_there(inp, record, object_type, key)
                else:
                    updates.append((n, WriteInput(ref=inp.ref, properties=inp.properties, id=record.id)))
            if updates:
                results = await self.update(object_type, [inp for _, inp in updates])
                outcome.update((n, result) for (n, _), result in zip(updates, results, strict=True))
            outcome.update(await self._create_now(object_type, creates))
        return [outcome[n] for n in range(len(inputs))]

    async def archive(self, object_type: ObjectType, ids: Sequence[str]) -> list[WriteResult]:
        """Delete records (to the Recycle Bin): ``DELETE /composite/sobjects?ids=...&allOrNone=false``,
        200 ids a request; each result's ``ref`` is the id. An id already deleted counts as done."""
        results: list[WriteResult] = []
        for chunk in chunked(list(dict.fromkeys(str(i) for i in ids)), COLLECTION_SIZE):
            valid = [i for i in chunk if _RECORD_ID.fullmatch(i)]
            answer = await self._call("DELETE", await self._data("/composite/sobjects"),
                                      params={"ids": ",".join(valid), "allOrNone": "false"}) if valid else []
            by_id = {r.ref: r for r in delete_results(answer, valid)}
            for record_id in chunk:
                results.append(by_id.get(record_id) or WriteResult(
                    ref=record_id, ok=False, id=record_id, error=f"{record_id!r} is not a Salesforce id",
                    error_code="MALFORMED_ID"))
        return results
