"""Writes of Autotask contacts (:class:`ContactWrites`), each under its Company.

- **Writes** — there is no batch endpoint for contacts: one request per contact
  (``POST``/``PATCH /V1.0/Companies/{companyId}/Contacts``, answered ``{"itemId": n}``), at most
  ``concurrency`` (default 3, Autotask's thread limit per endpoint and integration) at a time. Writes are
  never replayed after an answer Autotask may have acted on. Fields are checked and converted against the
  contact's field list first (``INVALID_FIELD``, ``READ_ONLY``, ``INVALID_VALUE``).
- **Duplicates** — Autotask lets two contacts share an email; leadsync does not: create looks the
  addresses up first and refuses one an active contact has with its ``existing_id``. A deactivated contact
  is retired (archived), so its email is free again: re-creating an archived contact makes a new one.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

from leadsync.agent.connectors.autotask.companies import Companies, Company, company_key
from leadsync.agent.connectors.autotask.errors import CRM, refusal_of
from leadsync.agent.connectors.autotask.query import cond
from leadsync.agent.connectors.autotask.wire import (
    COMPANY_ID,
    COMPANY_NAME,
    EMAIL,
    ID,
    IS_ACTIVE,
    OWNER,
    PSEUDO,
    json_value,
    wire_id,
)
from leadsync.agent.connectors.base import CrmOwner, CrmRecord, WriteInput, WriteResult, not_sent
from leadsync.agent.connectors.refusals import raw_detail
from leadsync.common.emails import normalize_email
from leadsync.common.errors import (
    CrmAuthError,
    CrmError,
    CrmProtocolError,
    CrmRateLimitedError,
    CrmUnavailableError,
    is_transient,
)

Call = Callable[[str, dict[str, Any]], Awaitable[Any]]
"""``await call(path, payload)`` -> Autotask's decoded answer (raises CrmError)."""


def _failed(ref: str, reason: str, code: str, record_id: str | None = None) -> WriteResult:
    return WriteResult(ref=ref, ok=False, id=record_id, error=reason, error_code=code)


def _refusal(ref: str, exc: CrmError, record_id: str | None = None) -> WriteResult:
    """A per-record failure from Autotask's answer: a request that could not get through (unavailable or
    rate limited after the retries) comes back ``not_sent``; a refusal's reason is a sentence naming the
    fields Autotask blamed (:func:`~leadsync.agent.connectors.autotask.errors.refusal_of`) with its body as
    ``detail``; auth and quota errors are raised instead (they are not about this record, and every other
    record would fail the same way)."""
    if is_transient(exc):
        return not_sent(WriteInput(ref=ref, properties={}, id=record_id), exc)
    if isinstance(exc, CrmAuthError | CrmRateLimitedError | CrmUnavailableError):
        raise exc
    return WriteResult(ref=ref, ok=False, id=record_id, error=refusal_of(exc), error_code=exc.category or
                       f"HTTP_{exc.status}", detail=raw_detail({"status": exc.status, **(exc.data or {})}))


DUPLICATE_EMAIL: Final = re.compile(r"e-?mail address\b.*\balready exists|duplicate e-?mail", re.IGNORECASE)
"""Autotask's refusal of a contact whose email another contact has (it names the address, not the contact)."""
EMAIL_FIELDS: Final = (EMAIL, "emailAddress2", "emailAddress3")
"""A contact's email fields: Autotask's duplicate check may match any of them."""


def _prop(properties: Mapping[str, str], name: str) -> str | None:
    """The value of ``name`` in ``properties``, matching the name without regard to case."""
    if name in properties:
        return properties[name]
    lowered = name.lower()
    return next((v for k, v in properties.items() if k.lower() == lowered), None)


@dataclass(frozen=True, slots=True)
class _Known:
    """A contact a write is about: its id and its Company."""

    id: str
    company: Company
    active: bool = True


class ContactWrites:
    """The contact writes of one :class:`~.client.AutotaskConnector`, through what it gives:

    ``fields()`` the contact's fields by lower-cased name (Autotask's ``entityInformation/fields`` rows);
    ``create`` and ``patch`` send one write (``POST``/``PATCH``, never replayed); ``read(ids)`` and
    ``find_by_email(emails)`` are the connector's reads with no extra properties; ``contacts(conditions,
    properties)`` queries contacts; ``companies`` finds and creates Companies; ``api_user_resource()`` is
    the API user's Resource (the owner of last resort of a new Company). ``default_owner_id`` and
    ``company_defaults`` are the connector's (see there).
    """

    def __init__(self, *, fields: Callable[[], Awaitable[dict[str, Mapping[str, Any]]]], create: Call, patch: Call,
                 read: Callable[[Sequence[str]], Awaitable[dict[str, CrmRecord | None]]],
                 find_by_email: Callable[[Sequence[str]], Awaitable[dict[str, CrmRecord]]],
                 contacts: Callable[[list[dict[str, Any]], Sequence[str]], Awaitable[list[CrmRecord]]],
                 companies: Companies, api_user_resource: Callable[[], Awaitable[CrmOwner | None]],
                 default_owner_id: str | None, company_defaults: Mapping[str, Any]) -> None:
        self._fields = fields
        self._create = create
        self._patch = patch
        self._read = read
        self._find_by_email = find_by_email
        self._contacts = contacts
        self._companies = companies
        self._api_user_resource = api_user_resource
        self.default_owner_id = default_owner_id
        self.company_defaults = company_defaults

    async def _prepare(self, inp: WriteInput) -> tuple[dict[str, Any], WriteResult | None]:
        """The Contact fields of ``inp`` as JSON (pseudo-properties left out), or the refusal of ``inp``:
        ``INVALID_FIELD`` (no such field), ``READ_ONLY`` (a read-only field) or ``INVALID_VALUE``."""
        fields = await self._fields()
        payload: dict[str, Any] = {}
        for name, text in inp.properties.items():
            if name in PSEUDO:
                continue
            meta = fields.get(str(name).lower())
            if meta is None:
                return {}, _failed(inp.ref, f"Autotask contacts have no field {name!r}", "INVALID_FIELD", inp.id)
            canonical = str(meta["name"])
            if meta.get("isReadOnly") is True or canonical in (ID, COMPANY_ID):
                return {}, _failed(inp.ref, f"{canonical} cannot be written", "READ_ONLY", inp.id)
            if not isinstance(text, str):
                return {}, _failed(inp.ref, f"no value for {canonical}: send \"\" to clear a field", "INVALID_VALUE",
                                   inp.id)
            value, reason = json_value(text, str(meta.get("dataType") or "string"))
            if reason is not None:
                return {}, _failed(inp.ref, f"{canonical}: {reason}", "INVALID_VALUE", inp.id)
            payload[canonical] = value
        return payload, None

    async def _create_one(self, inp: WriteInput, company: Company) -> WriteResult:
        payload, refused = await self._prepare(inp)
        if refused is not None:
            return refused
        payload.setdefault(IS_ACTIVE, 1)
        payload[COMPANY_ID] = int(company.id) if company.id.isdigit() else company.id
        try:
            answer = await self._create(f"/V1.0/Companies/{company.id}/Contacts", payload)
        except CrmError as exc:
            refusal = _refusal(inp.ref, exc)
            if refusal.not_sent or not DUPLICATE_EMAIL.search(exc.message):
                return refusal
            return await self._duplicate_of(inp, exc, refusal)
        new_id = wire_id(answer.get("itemId")) if isinstance(answer, dict) else None
        if new_id is None:
            raise CrmProtocolError("Autotask created a contact without answering its itemId", crm=CRM)
        return WriteResult(ref=inp.ref, ok=True, id=new_id, created=True)

    async def _duplicate_of(self, inp: WriteInput, exc: CrmError, refusal: WriteResult) -> WriteResult:
        """A create Autotask refused because another contact has one of its emails: its message names the
        address, not the contact, so the contact holding any of the input's emails in any of its three
        email fields is looked up (an active one first, then the oldest) and named as ``existing_id``."""
        keys = sorted({k for f in EMAIL_FIELDS if (k := normalize_email(_prop(inp.properties, f) or ""))})
        if not keys:
            return refusal
        group = {"op": "or", "items": [cond(f, "in", keys) for f in EMAIL_FIELDS]}
        found = sorted(await self._contacts([group], ()), key=lambda r: (r.archived, int(r.id)))
        if not found:
            return refusal
        return WriteResult(ref=inp.ref, ok=False, existing_id=found[0].id, record=found[0], error=exc.message,
                           error_code="DUPLICATE_EMAIL")

    async def _update_one(self, inp: WriteInput, known: _Known, *, created: bool = False) -> WriteResult:
        name = inp.properties.get(COMPANY_NAME)
        if name is not None and not name.strip():  # not left out silently: the CRM would keep the company
            return _failed(inp.ref, f"an Autotask contact belongs to a company: {COMPANY_NAME} cannot be cleared "
                                    f"(contact {known.id} belongs to {known.company.name!r})", "MISSING_COMPANY",
                           known.id)
        if name is not None and company_key(name) != company_key(known.company.name):
            return _failed(inp.ref, f"contact {known.id} belongs to the company {known.company.name!r}, not "
                                    f"{name.strip()!r}; move contacts between companies in Autotask", "COMPANY_CHANGE",
                           known.id)
        owner = inp.properties.get(OWNER)
        if owner is not None and owner.strip() and owner.strip() != (known.company.owner_id or ""):
            return _failed(inp.ref, f"the owner of contact {known.id} is the owner of its company "
                                    f"{known.company.name!r} (resource {known.company.owner_id}); change it on the "
                                    "company in Autotask", "OWNER_READ_ONLY", known.id)
        payload, refused = await self._prepare(inp)
        if refused is not None:
            return WriteResult(ref=refused.ref, ok=False, id=known.id, error=refused.error,
                               error_code=refused.error_code)
        if payload:
            try:
                await self._patch(f"/V1.0/Companies/{known.company.id}/Contacts", {ID: int(known.id), **payload})
            except CrmError as exc:
                return _refusal(inp.ref, exc, known.id)
        return WriteResult(ref=inp.ref, ok=True, id=known.id, created=created)

    async def _known(self, ids: Sequence[str]) -> dict[str, _Known]:
        records = await self._read(ids)
        return {i: known for i, r in records.items() if r is not None and (known := _known_of(r)) is not None}

    async def update(self, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Update contacts by id: ``PATCH /V1.0/Companies/{companyId}/Contacts`` with ``{"id", ...fields}``,
        one request per contact (``concurrency`` at a time); each contact's Company is read first.

        Only the given fields change; ``""`` clears one. Fails alone: ``MISSING_ID``, ``NOT_FOUND``,
        ``COMPANY_CHANGE`` (a ``companyName`` other than the contact's Company's), ``MISSING_COMPANY`` (a
        ``companyName`` of ``""``: a contact cannot be without a company), ``OWNER_READ_ONLY`` (an
        ``ownerResourceID`` other than the Company's owner), ``INVALID_FIELD``/``READ_ONLY``/``INVALID_VALUE``
        and Autotask's own refusals (its message, code ``AUTOTASK_REFUSED``).
        """
        known = await self._known([inp.id for inp in inputs if inp.id])

        async def one(inp: WriteInput) -> WriteResult:
            if not inp.id:
                return _failed(inp.ref, "an update of an Autotask contact needs its id", "MISSING_ID")
            target = known.get(inp.id)
            if target is None:
                return _failed(inp.ref, f"no Autotask contact with the id {inp.id!r}", "NOT_FOUND", inp.id)
            return await self._update_one(inp, target)

        return await _all(one(inp) for inp in inputs)

    async def create(self, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Create contacts, each under its Company; never a second contact for an email.

        The addresses are looked up first (:meth:`find_by_email`): an input whose email an active contact
        already has is not sent and comes back ``ok=False``, ``DUPLICATE_EMAIL``, with ``existing_id`` and the
        contact as ``record``, so the engine links to it and a replay after a crash creates nothing twice;
        inputs sharing an email in one call are created once. Each input's ``companyName`` is found or
        created (see :mod:`~.companies`; the new Company's owner is the input's ``ownerResourceID``, else
        ``default_owner_id``, else the API user's Resource). Then ``POST
        /V1.0/Companies/{companyId}/Contacts`` with the given fields, ``companyID`` and ``isActive: 1``,
        answered ``{"itemId": n}``. Fails alone: ``MISSING_COMPANY`` (no ``companyName``),
        ``COMPANY_FAILED`` (the Company could not be created; Autotask's reason), the field refusals of
        :meth:`update` and Autotask's own (e.g. a missing ``lastName``).
        """
        return await self._write_by_email(inputs, upsert=False)

    async def upsert(self, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Create or update keyed by ``emailAddress``; idempotent, so a replay after a crash makes no duplicate.

        Autotask has no upsert: the addresses are looked up (:meth:`find_by_email`), found active contacts
        are updated as by :meth:`update` (``created=False``), the others created as by :meth:`create`
        (``created=True``). Inputs sharing an address are applied one after the other, so the first creates
        and the later ones update. An input without ``emailAddress`` fails alone (``MISSING_EMAIL``).
        """
        return await self._write_by_email(inputs, upsert=True)

    async def _write_by_email(self, inputs: Sequence[WriteInput], *, upsert: bool) -> list[WriteResult]:
        keys = [normalize_email(_prop(inp.properties, EMAIL) or "") for inp in inputs]
        refused = {n: refusal for n, inp in enumerate(inputs) if (refusal := (await self._prepare(inp))[1])}
        found = await self._find_by_email([k for k in keys if k])
        # a deactivated contact is retired (archived, like a deleted record elsewhere): its email is free for a
        # new contact (Autotask allows a shared email), and it is neither a duplicate nor an upsert's target
        known: dict[str, _Known] = {k: kn for k, r in found.items() if not r.archived and (kn := _known_of(r))}
        needs_company = [inp for n, (inp, k) in enumerate(zip(inputs, keys, strict=True))
                         if k not in known and n not in refused]
        companies, company_errors = await self._resolve_companies(needs_company)

        groups: dict[str, list[int]] = {}
        for n, key in enumerate(keys):
            groups.setdefault(key or f"#{n}", []).append(n)
        results: dict[int, WriteResult] = dict(refused)

        async def run(group: list[int]) -> None:
            for n in group:
                if n not in refused:
                    results[n] = await self._write_one(inputs[n], keys[n], known, companies, company_errors, found,
                                                       upsert=upsert)

        await _all(run(group) for group in groups.values())
        return [results[n] for n in range(len(inputs))]

    async def _write_one(self, inp: WriteInput, key: str, known: dict[str, _Known], companies: Mapping[str, Company],
                         company_errors: Mapping[str, str], found: Mapping[str, CrmRecord], *,
                         upsert: bool) -> WriteResult:
        if upsert and not key:
            return _failed(inp.ref, f"an upsert needs the {EMAIL} field", "MISSING_EMAIL")
        target = known.get(key) if key else None
        if target is not None:
            if upsert:
                return await self._update_one(inp, target)
            return WriteResult(ref=inp.ref, ok=False, existing_id=target.id, record=found.get(key),
                               error=f"an Autotask contact with the email {key} already exists: {target.id}",
                               error_code="DUPLICATE_EMAIL")
        name = company_key(inp.properties.get(COMPANY_NAME) or "")
        if not name:
            return _failed(inp.ref, f"an Autotask contact belongs to a company: {COMPANY_NAME} is required",
                           "MISSING_COMPANY")
        company = companies.get(name)
        if company is None:
            return _failed(inp.ref, company_errors.get(name, f"no company {name!r}"), "COMPANY_FAILED")
        result = await self._create_one(inp, company)
        if result.ok and result.id is not None and key:
            known[key] = _Known(id=result.id, company=company)
        return result

    async def _resolve_companies(self, inputs: Sequence[WriteInput]) -> tuple[dict[str, Company], dict[str, str]]:
        """The Company of each distinct ``companyName`` among ``inputs`` (found, else created once), and the
        reason for each name whose Company could not be created."""
        first: dict[str, WriteInput] = {}
        for inp in inputs:
            key = company_key(inp.properties.get(COMPANY_NAME) or "")
            if key:
                first.setdefault(key, inp)
        if not first:
            return {}, {}
        companies = await self._companies.by_names([first[k].properties[COMPANY_NAME] for k in first])
        errors: dict[str, str] = {}

        async def make(key: str) -> None:
            inp = first[key]
            name = inp.properties[COMPANY_NAME].strip()
            owner = (inp.properties.get(OWNER) or "").strip() or self.default_owner_id
            if not owner:
                resource = await self._api_user_resource()
                owner = resource.id if resource is not None else None
            phone = str(self.company_defaults.get("phone") or "").strip() or \
                (_prop(inp.properties, "phone") or "").strip()
            if not owner:
                errors[key] = f"no owner for the new company {name!r}: give ownerResourceID or default_owner_id"
            elif not phone:
                errors[key] = (f"Autotask needs a phone number to create the company {name!r} and the contact has "
                               "none (company_defaults may give one)")
            else:
                try:
                    companies[key] = await self._companies.create(name, owner_id=owner, phone=phone,
                                                                 defaults=self.company_defaults)
                except CrmError as exc:
                    errors[key] = f"could not create the company {name!r}: {_refusal(inp.ref, exc).error}"

        await _all(make(key) for key in first if key not in companies)
        return companies, errors

    async def archive(self, ids: Sequence[str]) -> list[WriteResult]:
        """Deactivate contacts (Autotask's way to retire one): ``PATCH /V1.0/Companies/{companyId}/Contacts``
        with ``{"id", "isActive": 0}``; each result's ``ref`` is the id. A contact already inactive counts
        as done; an unknown id fails alone (``NOT_FOUND``)."""
        unique = list(dict.fromkeys(str(i) for i in ids))
        known = await self._known(unique)

        async def one(contact_id: str) -> WriteResult:
            target = known.get(contact_id)
            if target is None:
                return _failed(contact_id, f"no Autotask contact with the id {contact_id!r}", "NOT_FOUND", contact_id)
            if target.active:
                try:
                    await self._patch(f"/V1.0/Companies/{target.company.id}/Contacts",
                                      {ID: int(target.id), IS_ACTIVE: 0})
                except CrmError as exc:
                    return _refusal(contact_id, exc, contact_id)
            return WriteResult(ref=contact_id, ok=True, id=contact_id)

        return await _all(one(i) for i in unique)


def _known_of(record: CrmRecord) -> _Known | None:
    company_id = record.properties.get(COMPANY_ID)
    if not company_id:
        return None
    company = Company(id=company_id, name=record.properties.get(COMPANY_NAME) or "",
                      owner_id=record.properties.get(OWNER))
    return _Known(id=record.id, company=company, active=not record.archived)


T = TypeVar("T")


async def _all(jobs: Iterable[Awaitable[T]]) -> list[T]:
    """Await every job (each bounded by the write semaphore where it writes); re-raise the first error
    after all have finished, so no write is left running behind an exception."""
    outcomes = await asyncio.gather(*jobs, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return cast(list[T], outcomes)
