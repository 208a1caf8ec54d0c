"""Multi-record writes: 100 records a request, one result per record (case B23); :class:`RecordWrites` is
the connector's create, update, upsert and archive (never a second record for an email).

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

from leadsync.agent.connectors.base import CrmRecord, ObjectType, WriteInput, WriteResult, not_sent
from leadsync.agent.connectors.refusals import raw_detail
from leadsync.agent.connectors.zoho.errors import CRM, duplicate_of, error_reason, result_reason
from leadsync.agent.connectors.zoho.wire import (
    EMAIL,
    ID,
    chunked,
    data_of,
    is_record_id,
    module,
    nonempty_text,
    text_value,
    wire_value,
)
from leadsync.common.emails import normalize_email
from leadsync.common.errors import CrmError, CrmProtocolError, is_transient

BATCH_SIZE: Final = 100
"""Zoho's limit on records per insert, update, upsert or delete request."""
CONVERTED_LEAD: Final = "CONVERTED_LEAD"
DUPLICATE_DATA: Final = "DUPLICATE_DATA"
INVALID_DATA: Final = "INVALID_DATA"

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


def email_key(inp: WriteInput) -> str:
    email = next((v for k, v in inp.properties.items() if str(k).lower() == EMAIL.lower()), None)
    return normalize_email(email) if isinstance(email, str) else ""


def email_rounds(inputs: Sequence[WriteInput], outcome: dict[int, WriteResult], *,
            require_email: bool) -> list[list[tuple[int, WriteInput, str]]]:
    """Inputs as ``(position, input, email key)`` in rounds in which no email repeats (the n-th input with
    an address goes to round n), so each round sees what the rounds before it wrote. Inputs without an email
    join the first round, or fail with ``MISSING_EMAIL`` into ``outcome`` when one is required."""
    rounds: list[list[tuple[int, WriteInput, str]]] = []
    depth_of: dict[str, int] = {}
    for n, inp in enumerate(inputs):
        key = email_key(inp)
        if require_email and not key:
            outcome[n] = refusal(inp, f"an upsert needs the {EMAIL} field", "MISSING_EMAIL")
            continue
        depth = depth_of.get(key, 0) if key else 0
        if key:
            depth_of[key] = depth + 1
        rounds.extend([] for _ in range(depth + 1 - len(rounds)))
        rounds[depth].append((n, inp, key))
    return rounds


def already_there(inp: WriteInput, record: CrmRecord, key: str) -> WriteResult:
    """The refusal of a create whose email ``record`` already has: link to it instead."""
    if record.converted_to_id:
        return WriteResult(ref=inp.ref, ok=False, existing_id=record.id, record=record, error_code=CONVERTED_LEAD,
                           error=f"{key} belongs to Lead {record.id}, converted to Contact "
                                 f"{record.converted_to_id}; write to the Contact instead")
    kind = "Lead" if record.object_type == "lead" else "Contact"
    return WriteResult(ref=inp.ref, ok=False, existing_id=record.id, record=record, error_code=DUPLICATE_DATA,
                       error=f"a {kind} with the email {key} already exists: {record.id}")


class RecordWrites:
    """The writes of one :class:`~.client.ZohoConnector` (Leads and Contacts), through what it gives:
    ``call(method, path, params=, json=, replay_safe=)`` (one API request, its decoded answer),
    ``fields(object_type)`` (the module's fields by API name), ``find_by_email(object_type, emails)`` and
    ``read(object_type, ids)`` (the connector's reads with no extra properties)."""

    def __init__(self, *, call: Callable[..., Awaitable[Any]],
                 fields: Callable[[ObjectType], Awaitable[dict[str, Mapping[str, Any]]]],
                 find_by_email: Callable[[ObjectType, Sequence[str]], Awaitable[dict[str, CrmRecord]]],
                 read: Callable[[ObjectType, Sequence[str]], Awaitable[dict[str, CrmRecord | None]]]) -> None:
        self._call = call
        self._fields = fields
        self._find_by_email = find_by_email
        self._read = read

    def _sender(self, method: str, path: str, **extra: Any) -> Any:
        async def send(records: list[dict[str, Any]]) -> Any:
            # an insert has no idempotency key: never replay one Zoho may have carried out
            return await self._call(method, path, json={"data": records, "trigger": [], **extra},
                                    replay_safe=method != "POST" or path.endswith("/upsert"))
        return send

    async def _write(self, object_type: ObjectType, inputs: Sequence[WriteInput], *, method: str, suffix: str = "",
                     with_id: bool, created: bool, **extra: Any) -> list[WriteResult]:
        name = module(object_type)
        ready, refused = prepare(inputs, name, await self._fields(object_type), with_id=with_id)
        return await write_all(self._sender(method, f"/{name}{suffix}", **extra), len(inputs), ready, refused,
                               created=created)

    async def create(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Insert records: ``POST /{Module}`` with up to 100 records a request; never a second record for an email.

        Zoho itself lets many records share an email (unless the field is set unique), so the addresses are
        looked up first (:meth:`find_by_email`): an input whose email a record already has is not sent and
        comes back ``ok=False`` with ``existing_id`` (``DUPLICATE_DATA``; ``CONVERTED_LEAD`` when that record
        is a converted Lead, whose Contact is its ``converted_to_id``), so the engine links to it and a
        replay after a crash creates nothing twice. Inputs sharing an email in one call are created once; the
        later ones name the first. Zoho's own ``DUPLICATE_DATA`` refusal names its record the same way.

        One result per input, in input order, ``created=True`` on success; a refused record
        (``MANDATORY_NOT_FOUND`` "required field not found (field: Last_Name)", case S13; ``INVALID_DATA``)
        fails alone with Zoho's reason (case B23). Nothing is invented for missing required fields. The POST
        is retried only when Zoho surely did not act (429, 503, no connection).
        """
        outcome: dict[int, WriteResult] = {}
        for round_ in email_rounds(inputs, outcome, require_email=False):
            keys = [key for _, _, key in round_ if key]
            found = await self._find_by_email(object_type, keys) if keys else {}
            fresh: list[tuple[int, WriteInput]] = []
            for n, inp, key in round_:
                record = found.get(key) if key else None
                if record is None:
                    fresh.append((n, inp))
                else:
                    outcome[n] = already_there(inp, record, key)
            results = await self._write(object_type, [inp for _, inp in fresh], method="POST", with_id=False,
                                        created=True)
            outcome.update((n, result) for (n, _), result in zip(fresh, results, strict=True))
        return [outcome[n] for n in range(len(inputs))]

    async def update(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Update records by id: ``PUT /{Module}`` (each record with its ``id``), 100 a request.

        Only the given fields change; ``""`` clears one. A deleted or unknown id fails with ``INVALID_DATA``.
        A converted Lead cannot be updated any more: it fails with ``CONVERTED_LEAD``, its result's
        ``record`` being the Lead read again, whose ``converted_to_id`` names the Contact the update belongs to.
        """
        results = await self._write(object_type, inputs, method="PUT", with_id=True, created=False)
        if object_type != "lead":
            return results
        suspects = [r.id for r in results if not r.ok and r.error_code == INVALID_DATA and r.id]
        if not suspects:
            return results
        leads = await self._read("lead", suspects)
        out: list[WriteResult] = []
        for result in results:
            lead = leads.get(result.id or "") if result.error_code == INVALID_DATA else None
            if lead is not None and lead.converted_to_id:
                result = WriteResult(ref=result.ref, ok=False, id=result.id, record=lead, error_code=CONVERTED_LEAD,
                                     error=f"Lead {result.id} was converted to Contact {lead.converted_to_id}; "
                                           "write to the Contact instead")
            out.append(result)
        return out

    async def upsert(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Create or update keyed by ``Email``: ``POST /{Module}/upsert`` with ``duplicate_check_fields:
        ["Email"]``, 100 a request; each result's ``action`` (``insert``/``update``) sets ``created``.
        Idempotent: a replay finds what the first attempt created. Inputs sharing an address go in separate
        requests, one after the other, never creating two records. An input without ``Email`` fails alone
        (``MISSING_EMAIL``). Zoho matches only unconverted Leads: a converted Lead's address makes a new Lead.
        """
        outcome: dict[int, WriteResult] = {}
        for round_ in email_rounds(inputs, outcome, require_email=True):
            results = await self._write(object_type, [inp for _, inp, _ in round_], method="POST", suffix="/upsert",
                                        with_id=False, created=True, duplicate_check_fields=[EMAIL])
            outcome.update((n, result) for (n, _, _), result in zip(round_, results, strict=True))
        return [outcome[n] for n in range(len(inputs))]

    async def archive(self, object_type: ObjectType, ids: Sequence[str]) -> list[WriteResult]:
        """Delete records (to the recycle bin): ``DELETE /{Module}?ids=a,b,...``, 100 ids a request; each
        result's ``ref`` is the id. An id Zoho no longer knows (``INVALID_DATA``: already deleted) counts as
        done, so deleting is idempotent; a non-numeric id fails with ``MALFORMED_ID`` without being sent."""
        results: dict[str, WriteResult] = {}
        unique = list(dict.fromkeys(str(i) for i in ids))
        for record_id in unique:
            if not is_record_id(record_id):
                results[record_id] = WriteResult(ref=record_id, ok=False, id=record_id, error_code="MALFORMED_ID",
                                                 error=f"{record_id!r} is not a Zoho record id")
        path = f"/{module(object_type)}"
        for chunk in chunked([i for i in unique if i not in results], BATCH_SIZE):
            try:
                answer = await self._call("DELETE", path, params={"ids": ",".join(chunk)})
            except CrmError as error:  # every id refused: 400 with one result per id
                if type(error) is not CrmError or error.status != 400 or not isinstance(error.data, dict):
                    raise
                answer = error.data
            items = data_of(answer)
            if len(items) != len(chunk):
                raise CrmProtocolError("Zoho answered a delete without one result per id", crm=CRM)
            for record_id, item in zip(chunk, items, strict=True):
                ok = item.get("status") == "success" or item.get("code") == INVALID_DATA
                results[record_id] = WriteResult(ref=record_id, ok=True, id=record_id) if ok else WriteResult(
                    ref=record_id, ok=False, id=record_id, error=str(item.get("message") or "not deleted"),
                    error_code=nonempty_text(item.get("code")))
        return [results[i] for i in unique]
