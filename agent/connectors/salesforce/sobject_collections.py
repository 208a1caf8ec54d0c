"""Writes through sObject Collections: 200 records a request, one result per record (case B23 c).

``POST /composite/sobjects`` (create), ``PATCH /composite/sobjects`` (update, each record carries its
``Id``) and ``DELETE /composite/sobjects?ids=...`` take at most 200 records and, with
``allOrNone: false``, answer **200** with one ``{id, success, errors: [{statusCode, message, fields}]}``
per record, in request order, even when some records fail ("Create Multiple Records with Fewer
Round-Trips", REST API Developer Guide). A failed record comes back ``ok=False`` with Salesforce's reason;
the rest went through.

Before anything is sent each input is checked against the object's describe (:func:`prepare`): an
unknown field, or a value that cannot be the field's type, would make Salesforce refuse the *whole*
request (400 ``INVALID_FIELD`` / ``JSON_PARSER_ERROR``), so such an input fails alone instead. If a whole
request is refused anyway (400, e.g. a describe that changed meanwhile), the batch is split in halves and
sent again, recursively, until the refused records stand alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from leadsync.agent.connectors.base import ObjectType, WriteInput, WriteResult, not_sent
from leadsync.agent.connectors.refusals import raw_detail
from leadsync.agent.connectors.salesforce.errors import error_reason, record_error_reason
from leadsync.agent.connectors.salesforce.wire import ID, wire_value
from leadsync.common.errors import CrmError, is_transient

COLLECTION_SIZE: Final = 200
"""Salesforce's limit on records per sObject Collections request."""

_ISOLATE_STATUSES: Final = frozenset({400, 422})

Send = Callable[[list[dict[str, Any]]], Awaitable[Any]]
"""``await send(records)`` -> the decoded answer (a list of save results) of one collection request."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """One input ready to send: its wire record and its position among the inputs of the call."""

    inp: WriteInput
    wire: dict[str, Any]
    position: int


def failed(inp: WriteInput, reason: str, code: str | None) -> WriteResult:
    """A refusal of ``inp`` with a reason a person can read."""
    return WriteResult(ref=inp.ref, ok=False, id=inp.id, error=reason, error_code=code)


def prepare(inputs: Sequence[WriteInput], object_name: str, fields: Mapping[str, Mapping[str, Any]], *,
            with_id: bool) -> tuple[list[Prepared], dict[int, WriteResult]]:
    """Inputs as sObject records (``{"attributes": {"type": object_name}, Field: value, ...}``, plus
    ``Id`` when ``with_id``) and, by position, the inputs refused before sending.

    ``fields`` is the describe's fields keyed by lower-cased name; names are sent in their describe
    spelling and values converted by :func:`~leadsync.agent.connectors.salesforce.wire.wire_value`.
    Refusals: ``MISSING_ID`` (an update without id), ``INVALID_FIELD`` (no such field, or ``Id`` among
    the properties), ``INVALID_VALUE`` (None, or text that is not of the field's type).
    """
    prepared: list[Prepared] = []
    refused: dict[int, WriteResult] = {}
    for n, inp in enumerate(inputs):
        if with_id and not inp.id:
            refused[n] = failed(inp, f"an update of a {object_name} needs its Id", "MISSING_ID")
            continue
        record: dict[str, Any] = {"attributes": {"type": object_name}}
        if with_id:
            record[ID] = inp.id
        problem: tuple[str, str] | None = None
        for name, text in inp.properties.items():
            meta = fields.get(str(name).lower())
            if meta is None or str(meta.get("name")).lower() == "id":
                problem = (f"{object_name} has no writable field {name!r}", "INVALID_FIELD")
                break
            canonical = str(meta["name"])
            if not isinstance(text, str):
                problem = (f"no value for {canonical}: send \"\" to clear a field", "INVALID_VALUE")
                break
            value, reason = wire_value(text, str(meta.get("type") or ""))
            if reason is not None:
                problem = (f"{canonical}: {reason} (a {meta.get('type')} field)", "INVALID_VALUE")
                break
            record[canonical] = value
        if problem is not None:
            refused[n] = failed(inp, *problem)
            continue
        prepared.append(Prepared(inp=inp, wire=record, position=n))
    return prepared, refused


def chunks(items: Sequence[Prepared], size: int = COLLECTION_SIZE) -> list[list[Prepared]]:
    """Requests of at most ``size`` records, never one id twice in a request; otherwise in order."""
    batches: list[tuple[list[Prepared], set[str]]] = []
    for item in items:
        key = item.inp.id
        for batch, ids in batches:
            if len(batch) < size and (key is None or key not in ids):
                batch.append(item)
                if key is not None:
                    ids.add(key)
                break
        else:
            batches.append(([item], {key} if key is not None else set()))
    return [batch for batch, _ in batches]


def parse_results(answer: Any, batch: Sequence[Prepared], *, created: bool) -> list[WriteResult]:
    """One :class:`WriteResult` per record of ``batch`` from a collection answer (results in request
    order). An answer that is not a list of as many results fails every record with ``NO_RESULT``:
    the base moves only for writes Salesforce confirmed."""
    if not isinstance(answer, list) or len(answer) != len(batch):
        reason = "Salesforce answered the collection request without one result per record"
        return [failed(item.inp, reason, "NO_RESULT") for item in batch]
    results: list[WriteResult] = []
    for item, outcome in zip(batch, answer, strict=True):
        if not isinstance(outcome, dict):
            results.append(failed(item.inp, "Salesforce returned no result for this record", "NO_RESULT"))
            continue
        record_id = outcome.get("id")
        record_id = record_id if isinstance(record_id, str) and record_id else item.inp.id
        if outcome.get("success") is True:
            results.append(WriteResult(ref=item.inp.ref, ok=True, id=record_id, created=created))
        else:
            reason, code = record_error_reason(outcome.get("errors"))
            existing, existing_type = duplicate_match(outcome.get("errors")) or (None, None)
            results.append(WriteResult(ref=item.inp.ref, ok=False, id=record_id, error=reason, error_code=code,
                                       existing_id=existing, existing_type=existing_type,
                                       detail=raw_detail(outcome.get("errors"))))
    return results


_OBJECT_TYPES: Final[dict[str, ObjectType]] = {"lead": "lead", "contact": "contact"}


def duplicate_match(errors: Any) -> tuple[str, ObjectType | None] | None:
    """The id and object type of the first record a duplicate rule matched (``DUPLICATES_DETECTED`` errors
    carry ``duplicateResult.matchResults[].matchRecords[].record`` with its ``Id`` and ``attributes.type``,
    Lead or Contact: the standard lead rule matches Contacts too), or None."""
    for error in errors if isinstance(errors, list) else ():
        result = error.get("duplicateResult") if isinstance(error, dict) else None
        for match in (result or {}).get("matchResults") or () if isinstance(result, dict) else ():
            for candidate in match.get("matchRecords") or () if isinstance(match, dict) else ():
                record = candidate.get("record") if isinstance(candidate, dict) else None
                if isinstance(record, dict) and isinstance(record.get("Id"), str):
                    attributes = record.get("attributes")
                    name = attributes.get("type") if isinstance(attributes, dict) else match.get("entityType")
                    return str(record["Id"]), _OBJECT_TYPES.get(str(name).lower())
    return None


async def write_all(send: Send, inputs: Sequence[WriteInput], prepared: list[Prepared],
                    refused: dict[int, WriteResult], *, created: bool) -> list[WriteResult]:
    """Send ``prepared`` in collections of 200 and return one result per input of ``inputs``, in order. A
    collection that cannot get through (Salesforce unavailable or rate limited after the retries) comes back
    ``not_sent``; other CrmErrors are raised."""
    outcome = dict(refused)
    for batch in chunks(prepared):
        try:
            results = await _write_isolating(send, batch, created=created)
        except CrmError as error:  # this collection could not get through; the others are kept
            if not is_transient(error):
                raise
            results = [not_sent(item.inp, error) for item in batch]
        outcome.update((item.position, result) for item, result in zip(batch, results, strict=True))
    return [outcome[n] for n in range(len(inputs))]


def _isolatable(error: CrmError) -> bool:
    return type(error) is CrmError and error.status in _ISOLATE_STATUSES


async def _write_isolating(send: Send, batch: list[Prepared], *, created: bool) -> list[WriteResult]:
    try:
        answer = await send([item.wire for item in batch])
    except CrmError as error:
        if not _isolatable(error):
            raise
        if len(batch) == 1:
            reason, code = error_reason(error)
            return [WriteResult(ref=batch[0].inp.ref, ok=False, id=batch[0].inp.id, error=reason, error_code=code,
                                detail=raw_detail({"status": error.status, "message": error.message,
                                                   **(error.data if isinstance(error.data, dict) else {})}))]
        middle = len(batch) // 2
        return [*await _write_isolating(send, batch[:middle], created=created),
                *await _write_isolating(send, batch[middle:], created=created)]
    return parse_results(answer, batch, created=created)


def delete_results(answer: Any, ids: Sequence[str]) -> list[WriteResult]:
    """Results of ``DELETE /composite/sobjects?ids=...`` (``ref`` = id). A record already deleted
    (``ENTITY_IS_DELETED``) counts as done: deleting is idempotent."""
    if not isinstance(answer, list) or len(answer) != len(ids):
        return [WriteResult(ref=i, ok=False, id=i, error="Salesforce answered the delete without one result "
                            "per id", error_code="NO_RESULT") for i in ids]
    results: list[WriteResult] = []
    for record_id, outcome in zip(ids, answer, strict=True):
        if isinstance(outcome, dict) and outcome.get("success") is True:
            results.append(WriteResult(ref=record_id, ok=True, id=record_id))
            continue
        reason, code = record_error_reason(outcome.get("errors") if isinstance(outcome, dict) else None)
        if code == "ENTITY_IS_DELETED":
            results.append(WriteResult(ref=record_id, ok=True, id=record_id))
        else:
            results.append(WriteResult(ref=record_id, ok=False, id=record_id, error=reason, error_code=code))
    return results


__all__ = ["COLLECTION_SIZE", "Prepared", "chunks", "delete_results", "duplicate_match", "failed", "parse_results",
           "prepare", "write_all"]
