"""Batch writes to HubSpot: chunking, mapping every answer back to its input, isolating bad records.

HubSpot's batch endpoints (``POST /crm/v3/objects/contacts/batch/{create,update,upsert}``, at most
100 inputs, https://developers.hubspot.com/docs/api/crm/contacts) answer 200/201 when all went
through, 207 with ``results`` and ``errors`` when some failed (case B23 a), and sometimes 400/409
for the whole batch because of one record (case B23 b). Results do not come back in input order, so
each input carries ``objectWriteTraceId = ref`` and results are matched by it first, then by id
(updates) or email (creates and upserts). A whole-batch refusal is split in halves and retried
recursively until the bad records stand alone; they come back ``ok=False`` with HubSpot's reason and
the rest go through.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from leadsync.agent.connectors.base import ObjectType, WriteInput, WriteResult, not_sent
from leadsync.agent.connectors.http import HttpClient
from leadsync.agent.connectors.hubspot.errors import error_reason, item_error_keys, item_error_reason
from leadsync.agent.connectors.hubspot.wire import CONTACTS, EMAIL_PROPERTY, null_properties, record_from_wire
from leadsync.agent.connectors.refusals import raw_detail
from leadsync.common.emails import normalize_email
from leadsync.common.errors import CrmError, CrmNotFoundError, CrmProtocolError, is_transient

BATCH_SIZE: Final = 100
"""HubSpot's limit on inputs per batch request."""

_ISOLATE_STATUSES: Final = frozenset({400, 409, 422})
"""Statuses with which HubSpot refuses a whole batch for the sake of some of its records."""

PostBatch = Callable[[list[dict[str, Any]]], Awaitable[Any]]
"""``await post(inputs)`` -> the decoded answer of one batch request (raises CrmError)."""


def poster(http: HttpClient, op: str) -> PostBatch:
    """The sender of ``POST /crm/v3/objects/contacts/batch/{op}`` batches (``op``: create, update, upsert).

    A create has no idempotency key: it is never replayed once HubSpot may have carried it out."""
    replay_safe = op != "create"

    async def post(inputs: list[dict[str, Any]]) -> Any:
        return await http.request_json("POST", f"{CONTACTS}/batch/{op}", json={"inputs": inputs},
                                       replay_safe=replay_safe)

    return post


_EXISTING_ID = re.compile(r"Existing ID: (\d+)")


def with_existing_id(result: WriteResult) -> WriteResult:
    """HubSpot refuses a create whose email is taken with CONFLICT "Contact already exists. Existing ID:
    N" (CRM API v3, batch create errors): surface N so the engine links instead of duplicating."""
    if result.ok or result.error_code != "CONFLICT" or not result.error:
        return result
    found = _EXISTING_ID.search(result.error)
    return msgspec.structs.replace(result, existing_id=found.group(1)) if found else result


WireInput = Callable[[WriteInput], "dict[str, Any] | str"]
"""An input's wire form in a batch body, or the reason it cannot be sent."""
InputKeys = Callable[[WriteInput], set[str]]
"""The keys (``trace:ref``, ``id:123``, ``email:a@b.c``) a HubSpot answer may name an input by."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """One input ready to send: its wire form, the keys a HubSpot answer may name it by, and its
    position among the inputs of the call."""

    inp: WriteInput
    wire: dict[str, Any]
    keys: frozenset[str] = field(default=frozenset())
    position: int = 0


def failed(inp: WriteInput, reason: str, code: str | None, detail: Any = None) -> WriteResult:
    """A refusal for ``inp`` with a reason a person can read and HubSpot's raw answer (``detail``)."""
    return WriteResult(ref=inp.ref, ok=False, id=inp.id, error=reason, error_code=code, detail=raw_detail(detail))


def refused_by(inp: WriteInput, error: CrmError) -> WriteResult:
    """``inp`` refused by a whole request HubSpot answered with ``error``."""
    reason, code = error_reason(error)
    return failed(inp, reason, code, {"status": error.status, "message": error.message,
                                      **(error.data if isinstance(error.data, dict) else {})})


def prepare(inputs: Sequence[WriteInput], wire: WireInput, keys: InputKeys) -> tuple[list[Prepared],
                                                                                 dict[int, WriteResult]]:
    """Split ``inputs`` into those ready to send and refusals by position (an input holding a
    non-string value, case B19, or one ``wire`` refuses)."""
    prepared: list[Prepared] = []
    refused: dict[int, WriteResult] = {}
    for n, inp in enumerate(inputs):
        nulls = null_properties(inp)
        if nulls:
            refused[n] = failed(inp, f"no value for {', '.join(nulls)}: send \"\" to clear a property "
                                     "(HubSpot ignores null)", "INVALID_VALUE")
            continue
        body = wire(inp)
        if isinstance(body, str):
            refused[n] = failed(inp, body, "INVALID_INPUT")
            continue
        prepared.append(Prepared(inp=inp, wire=body, keys=frozenset(keys(inp)), position=n))
    return prepared, refused


async def write_all(
    post: PostBatch, inputs: Sequence[WriteInput], wire: WireInput, keys: InputKeys, object_type: ObjectType,
    *, created_by_default: bool,
) -> list[WriteResult]:
    """Write ``inputs`` in batches of 100 (see :func:`write_isolating`), up to ``IN_FLIGHT`` batches at
    once so a CRM far away is not waited on one round trip at a time (the rate limiter still paces
    them): one result per input, in input order. A batch that cannot get through (HubSpot unavailable or
    rate limited after the retries) comes back ``not_sent``; other CrmErrors are raised."""
    prepared, outcome = prepare(inputs, wire, keys)
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def send(batch: list[Prepared]) -> None:
        async with gate:
            try:
                results = await write_isolating(post, batch, object_type, created_by_default=created_by_default)
            except CrmError as error:  # this batch could not get through; the others are kept
                if not is_transient(error):
                    raise
                results = [not_sent(item.inp, error) for item in batch]
        outcome.update((item.position, result) for item, result in zip(batch, results, strict=True))

    await asyncio.gather(*(send(batch) for batch in chunks(prepared)))
    return [outcome[n] for n in range(len(inputs))]


IN_FLIGHT = 3
"""Batch requests a single write call keeps in flight."""


def chunks(items: Sequence[Prepared], size: int = BATCH_SIZE) -> list[list[Prepared]]:
    """Batches of at most ``size``, never two inputs sharing a key in one batch (HubSpot refuses
    duplicate ids or emails in one batch), otherwise in input order."""
    batches: list[tuple[list[Prepared], set[str]]] = []
    for item in items:
        for batch, keys in batches:
            if len(batch) < size and not (item.keys & keys):
                batch.append(item)
                keys.update(item.keys)
                break
        else:
            batches.append(([item], set(item.keys)))
    return [batch for batch, _ in batches]


def _matchers(batch: Sequence[Prepared]) -> dict[str, list[int]]:
    index: dict[str, list[int]] = {}
    for position, item in enumerate(batch):
        for key in item.keys:
            index.setdefault(key, []).append(position)
    return index


def _result_keys(obj: Mapping[str, Any]) -> list[str]:
    keys: list[str] = []
    trace = obj.get("objectWriteTraceId")
    if isinstance(trace, str):
        keys.append(f"trace:{trace}")
    if obj.get("id") is not None:
        keys.append(f"id:{obj['id']}")
    props = obj.get("properties")
    if isinstance(props, dict) and isinstance(props.get(EMAIL_PROPERTY), str):
        keys.append(f"email:{normalize_email(props[EMAIL_PROPERTY])}")
    return keys


def _error_keys(item: Mapping[str, Any]) -> list[str]:
    keys: list[str] = []
    for value in item_error_keys(item):
        keys += [f"trace:{value}", f"id:{value}", f"email:{normalize_email(value)}"]
    return keys


def parse_answer(
    answer: Any, batch: Sequence[Prepared], object_type: ObjectType, *, created_by_default: bool
) -> list[WriteResult]:
    """Map a 200/201/207 batch answer back to ``batch``, one result per input, in input order.

    ``created_by_default`` says whether a result without ``new`` made a record (batch create).
    Inputs the answer does not mention fail with error code ``NO_RESULT``: the base moves only for
    writes HubSpot confirmed.
    """
    if not isinstance(answer, dict):
        raise CrmProtocolError("HubSpot answered a batch write without a JSON object", crm="hubspot")
    index = _matchers(batch)
    outcome: dict[int, WriteResult] = {}

    def claim(keys: Iterable[str]) -> int | None:
        for key in keys:
            for position in index.get(key, ()):
                if position not in outcome:
                    return position
        return None

    for obj in answer.get("results") or ():
        if not isinstance(obj, dict):
            continue
        position = claim(_result_keys(obj))
        if position is None:
            continue
        try:
            record = record_from_wire(obj, object_type)
        except CrmProtocolError:
            record = None
        new = obj.get("new")
        found = obj.get("id")
        outcome[position] = WriteResult(
            ref=batch[position].inp.ref, ok=True, id=None if found in (None, "") else str(found),
            created=new is True if isinstance(new, bool) else created_by_default, record=record)

    loose_errors: list[Mapping[str, Any]] = []
    for item in answer.get("errors") or ():
        if not isinstance(item, dict):
            continue
        reason, code = item_error_reason(item)
        keys = _error_keys(item)
        matched = False
        while (position := claim(keys)) is not None:
            outcome[position] = failed(batch[position].inp, reason, code, item)
            matched = True
        if not matched:
            loose_errors.append(item)

    missing = [p for p in range(len(batch)) if p not in outcome]
    if len(missing) == 1 and len(loose_errors) == 1:
        reason, code = item_error_reason(loose_errors[0])
        outcome[missing[0]] = failed(batch[missing[0]].inp, reason, code, loose_errors[0])
    else:
        reasons = list(dict.fromkeys(item_error_reason(item)[0] for item in loose_errors))
        reason = "HubSpot returned no result for this record"
        if reasons:
            reason += f"; its batch reported: {' | '.join(reasons)}"
        for position in missing:
            outcome[position] = failed(batch[position].inp, reason, "NO_RESULT", loose_errors or None)
    return [outcome[p] for p in range(len(batch))]


def _is_isolatable(error: CrmError) -> bool:
    """A whole-batch refusal that one bad record can cause (not auth, limits, outages): 400, 409,
    422, or 404 OBJECT_NOT_FOUND (every id of the batch is gone)."""
    if type(error) is CrmError:
        return error.status in _ISOLATE_STATUSES
    return isinstance(error, CrmNotFoundError) and error.category == "OBJECT_NOT_FOUND"


def _named(error: CrmError, batch: Sequence[Prepared]) -> list[int]:
    """Positions of the inputs a whole-batch error names in its ``context`` (ids, emails, trace ids)."""
    if not isinstance(error.data, dict):
        return []
    wanted = set(_error_keys(error.data))
    return [n for n, item in enumerate(batch) if item.keys & wanted]


async def write_isolating(
    post: PostBatch, batch: Sequence[Prepared], object_type: ObjectType, *, created_by_default: bool
) -> list[WriteResult]:
    """Send ``batch``; when HubSpot refuses the whole batch because of some records (case B23 b),
    send the others again so exactly the refused records come back ``ok=False`` with its reason.

    The culprits are the inputs the error names in its ``context``; when it names none (or naming
    them did not help), the batch is split in halves, recursively, until each bad record stands
    alone. Other CrmErrors (auth, rate limit after retries, outage) propagate: they are not about a
    record.
    """
    return await _write(post, list(batch), object_type, created_by_default, trust_context=True)


async def _write(
    post: PostBatch, batch: list[Prepared], object_type: ObjectType, created_by_default: bool, *,
    trust_context: bool,
) -> list[WriteResult]:
    try:
        answer = await post([item.wire for item in batch])
    except CrmError as error:
        if not _is_isolatable(error):
            raise
        if len(batch) == 1:
            return [refused_by(batch[0].inp, error)]
        outcome: dict[int, WriteResult] = {}
        named = _named(error, batch) if trust_context else []
        if named and len(named) < len(batch):
            rest = [n for n in range(len(batch)) if n not in named]
            groups = [(rest, True), (named, len(named) > 1)]
        else:
            middle = len(batch) // 2
            groups = [(list(range(middle)), True), (list(range(middle, len(batch))), True)]
        for positions, send in groups:
            if not send:  # the one input the error named: its reason is the error's
                outcome[positions[0]] = refused_by(batch[positions[0]].inp, error)
                continue
            part = [batch[n] for n in positions]
            results = await _write(post, part, object_type, created_by_default, trust_context=True)
            outcome.update(zip(positions, results, strict=True))
        return [outcome[n] for n in range(len(batch))]
    return parse_answer(answer, batch, object_type, created_by_default=created_by_default)
