"""Multi-record writes: 100 records a request, one result per record (case B23).

``POST /crm/v8/{Module}`` (insert), ``PUT /crm/v8/{Module}`` (update, each record with its ``id``) and
``POST /crm/v8/{Module}/upsert`` take ``{"data": [...], "trigger": []}`` with at most 100 records and answer
``{data: [{code, details, message, status}, ...]}`` in request order ("Insert Records", "Update Records",
"Upsert Records"): 201/200 when all went through, 207 (multi-status) when some failed, 400 with the same
``data`` list when every record failed. A success's ``details`` hold the record's ``id``,
``Modified_Time`` and ``Created_Time``; an upsert's result says ``action: "insert"|"update"``. A failure's
``code`` is ``MANDATORY_NOT_FOUND``, ``INVALID_DATA`` (``details.api_name`` names the field),
``DUPLICATE_DATA`` (``details.duplicate_record.id`` names the record holding the unique value)...

Before sending, each input is checked against the module's fields (:func:`prepare`): properties the module
does not have are **dropped**, not refused (the engine writes the same mapped properties to a Lead and to a
Contact, and Contacts have no ``Company``); a value that cannot be its field's type fails that input alone.
A whole request refused without per-record results (400 ``INVALID_DATA`` for the body) is split in halves and
sent again until the refused records stand alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from leadsync.agent.connectors.base import WriteInput, WriteResult, not_sent
from leadsync.agent.connectors.refusals import raw_detail
from leadsync.agent.connectors.zoho.errors import duplicate_of, error_reason, result_reason
from leadsync.agent.connectors.zoho.wire import ID, text_value, wire_value
from leadsync.common.errors import CrmError, is_transient

BATCH_SIZE: Final = 100
"""Zoho's limit on records per insert, update, upsert or delete request."""

Send = Callable[[list[dict[str, Any]]], Awaitable[Any]]
"""``await send(records)`` -> the decoded answer of one multi-record request."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One input ready to send: its position among the call's inputs and its wire record."""

    position: int
    inp: WriteInput
    body: dict[str, Any]


def refusal(inp: WriteInput, reason: str, code: str | None) -> WriteResult:
    """A refusal of ``inp`` with a reason a person can read."""
    return WriteResult(ref=inp.ref, ok=False, id=inp.id, error=reason, error_code=code)


def _field(fields: Mapping[str, Mapping[str, Any]], name: str) -> Mapping[str, Any] | None:
    meta = fields.get(name)
    if meta is None:
        meta = next((f for key, f in fields.items() if key.lower() == name.lower()), None)
    return meta


def prepare(inputs: Sequence[WriteInput], module_name: str, fields: Mapping[str, Mapping[str, Any]], *,
            with_id: bool) -> tuple[list[Outgoing], dict[int, WriteResult]]:
    """Inputs as Zoho records and, by position, the inputs refused before sending.

    ``fields`` are the module's ``settings/fields`` entries keyed by ``api_name``. Names are sent in their
    ``api_name`` spelling, values converted by :func:`~leadsync.agent.connectors.zoho.wire.wire_value`
    (``Owner`` becomes ``{"id": ...}``). A property the module lacks is dropped. Refusals: ``MISSING_ID``
    (an update without id), ``INVALID_VALUE`` (text that is not of the field's type).
    """
    ready: list[Outgoing] = []
    refused: dict[int, WriteResult] = {}
    for position, inp in enumerate(inputs):
        if with_id and not inp.id:
            refused[position] = refusal(inp, f"an update of {module_name} needs the record id", "MISSING_ID")
            continue
        body: dict[str, Any] = {ID: inp.id} if with_id else {}
        problem: str | None = None
        for name, text in inp.properties.items():
            meta = _field(fields, str(name))
            if meta is None or meta.get("api_name") == ID:
                continue  # not a field of this module (e.g. Company on Contacts): dropped, see the docstring
            api_name = str(meta.get("api_name"))
            value, reason = wire_value(text, str(meta.get("data_type") or "text"))
            if reason is not None:
                problem = f"{api_name}: {reason} (a {meta.get('data_type')} field)"
                break
            body[api_name] = value
        if problem is not None:
            refused[position] = refusal(inp, problem, "INVALID_VALUE")
        else:
            ready.append(Outgoing(position, inp, body))
    return ready, refused


def batches(items: Sequence[Outgoing], size: int = BATCH_SIZE) -> list[list[Outgoing]]:
    """Requests of at most ``size`` records, never one record id twice in a request; otherwise in order."""
    out: list[list[Outgoing]] = []
    for item in items:
        home = next((b for b in out if len(b) < size and (item.inp.id is None
                                                          or all(o.inp.id != item.inp.id for o in b))), None)
        if home is None:
            out.append([item])
        else:
            home.append(item)
    return out


def read_results(answer: Any, batch: Sequence[Outgoing], *, created: bool) -> list[WriteResult] | None:
    """One result per record of ``batch`` from ``{data: [...]}``, or None when the answer has no such list."""
    items = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(items, list) or len(items) != len(batch):
        return None
    results: list[WriteResult] = []
    for item, result in zip(batch, items, strict=True):
        if not isinstance(result, dict):
            results.append(refusal(item.inp, "Zoho returned no result for this record", "NO_RESULT"))
            continue
        details = result.get("details")
        record_id = text_value(details.get(ID)) if isinstance(details, dict) else None
        if result.get("status") == "success":
            made = result.get("action") == "insert" if "action" in result else created
            results.append(WriteResult(ref=item.inp.ref, ok=True, id=record_id or item.inp.id, created=made))
            continue
        reason, code = result_reason(result)
        existing, existing_type = duplicate_of(result) or (None, None)
        results.append(WriteResult(ref=item.inp.ref, ok=False, id=item.inp.id, error=reason, error_code=code,
                                   existing_id=existing, existing_type=existing_type,
                                   detail=raw_detail(result)))
    return results


async def send_batch(send: Send, batch: list[Outgoing], *, created: bool) -> list[WriteResult]:
    """Send one batch; a 400 without per-record results is narrowed down by halves (see the module docs)."""
    pending: list[list[Outgoing]] = [batch]
    done: dict[int, WriteResult] = {}
    while pending:
        part = pending.pop()
        try:
            answer: Any = await send([o.body for o in part])
        except CrmError as error:
            if type(error) is not CrmError or error.status != 400:
                raise
            answer = error.data
            if read_results(answer, part, created=created) is None:
                if len(part) == 1:
                    reason, code = error_reason(error)
                    done[part[0].position] = WriteResult(
                        ref=part[0].inp.ref, ok=False, id=part[0].inp.id, error=reason, error_code=code,
                        detail=raw_detail({"status": error.status, "message": error.message, "body": error.data}))
                else:
                    pending += [part[len(part) // 2:], part[:len(part) // 2]]
                continue
        results = read_results(answer, part, created=created)
        if results is None:
            results = [refusal(o.inp, "Zoho answered the write without one result per record", "NO_RESULT")
                       for o in part]
        done.update((o.position, r) for o, r in zip(part, results, strict=True))
    return [done[o.position] for o in batch]


async def write_all(send: Send, count: int, ready: list[Outgoing], refused: dict[int, WriteResult], *,
                    created: bool) -> list[WriteResult]:
    """Send ``ready`` 100 a request; one result per input (``count`` of them), in input order. A request that
    cannot get through (Zoho unavailable or rate limited after the retries) comes back ``not_sent``; other
    CrmErrors are raised."""
    outcome = dict(refused)
    for batch in batches(ready):
        try:
            results = await send_batch(send, batch, created=created)
        except CrmError as error:  # this request could not get through; the others are kept
            if not is_transient(error):
                raise
            results = [not_sent(o.inp, error) for o in batch]
        outcome.update((o.position, r) for o, r in zip(batch, results, strict=True))
    return [outcome[n] for n in range(count)]
