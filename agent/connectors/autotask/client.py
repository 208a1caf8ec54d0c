"""AutotaskConnector: leadsync's :class:`~leadsync.agent.connectors.base.Connector` for the Autotask PSA REST API.

Autotask has one kind of person leadsync syncs: the ``Contacts`` entity (canonical ``contact``; there is
no separate lead object, so new marketing contacts are created as contacts too). Every contact belongs to
a Company (see :mod:`~.companies`): the connector carries the Company's name and owner in the
pseudo-properties ``companyName`` and ``ownerResourceID`` (see :mod:`~.wire`).

Decisions, with their reasons:

- **Owner** — a Contact has no owner field; the Company has ``ownerResourceID`` (a Resource). A contact's
  owner is its Company's owner: read on every pull, used as the owner of a Company the push creates, and
  read-only afterwards (an update that would change it fails with ``OWNER_READ_ONLY``: changing it would
  change the owner of every contact of that Company; do it on the Company in Autotask).
- **Archive** — Autotask retires contacts by deactivating them (``isActive`` 0; deletion is refused for
  contacts with history). :meth:`AutotaskConnector.archive` deactivates, deactivated contacts come back
  ``archived=True`` from every read and pull, and :meth:`AutotaskConnector.list_archived` lists them. A
  contact someone deleted in Autotask just stops resolving (no tombstones are kept).
- **Writes** — there is no batch endpoint for contacts: one request per contact
  (``POST``/``PATCH /V1.0/Companies/{companyId}/Contacts``, answered ``{"itemId": n}``), at most
  ``concurrency`` (default 3, Autotask's thread limit per endpoint and integration) at a time. Writes are
  never replayed after an answer Autotask may have acted on.
- **Duplicates** — Autotask lets two contacts share an email; leadsync does not: create looks the
  addresses up first and refuses one an active contact has with its ``existing_id``. A deactivated contact
  is retired (archived), so its email is free again: re-creating an archived contact makes a new one.

Every call goes through the shared :class:`~leadsync.agent.connectors.http.HttpClient` (timeouts,
retries with ``Retry-After``, two proactive rate limits — per 10 s and per hour, since Autotask's
threshold is 10,000 requests per rolling hour for the whole database — error translation by
:func:`~.errors.autotask_error`, the ``Secret`` and integration code redacted).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast
from urllib.parse import urlsplit

import httpx
import msgspec

from leadsync.agent.connectors.autotask.companies import Companies, Company, company_key
from leadsync.agent.connectors.autotask.errors import CRM, autotask_error, refusal_of
from leadsync.agent.connectors.autotask.pull import ContactPull
from leadsync.agent.connectors.autotask.query import MAX_IN_VALUES, MAX_RECORDS, body, cond, query_all, query_pages
from leadsync.agent.connectors.autotask.spec import CREDENTIAL_KEYS
from leadsync.agent.connectors.autotask.wire import (
    COMPANY_ID,
    COMPANY_NAME,
    CONTACT_FIELDS,
    EMAIL,
    ID,
    IS_ACTIVE,
    OWNER,
    PSEUDO,
    PSEUDO_PROPERTIES,
    chunks,
    contact_from_wire,
    json_value,
    owner_from_wire,
    property_from_wire,
    wire_id,
)
from leadsync.agent.connectors.base import (
    Capabilities,
    ConnectionInfo,
    Connector,
    CrmOwner,
    CrmRecord,
    ObjectType,
    PropertyMeta,
    PullPage,
    WriteInput,
    WriteResult,
    not_sent,
)
from leadsync.agent.connectors.http import Clock, HttpClient, RateLimit, RetryPolicy, Sleep, check_base_url
from leadsync.agent.connectors.incremental import DEFAULT_OVERLAP_MS
from leadsync.agent.connectors.refusals import raw_detail
from leadsync.common import instants
from leadsync.common.emails import normalize_email
from leadsync.common.errors import (
    CrmAuthError,
    CrmError,
    CrmProtocolError,
    CrmRateLimitedError,
    CrmUnavailableError,
    ValidationError,
    is_transient,
)
from leadsync.common.instants import NowMs

GLOBAL_URL: Final = "https://webservices.autotask.net/atservicesrest"
"""The zone-independent URL: only good for ``zoneInformation`` (zone discovery)."""
REST_ROOT: Final = "/atservicesrest"
EMAIL_CHUNK: Final = 200
CONTACT_QUERY_FIELDS: Final = CONTACT_FIELDS
RESOURCE_FIELDS: Final = ("id", "email", "firstName", "lastName", "isActive", "userName")

CAPABILITIES: Final = Capabilities(
    batch_size=1,
    page_size=MAX_RECORDS,
    object_types=("contact",),
    new_lead_object="contact",
    email_property=EMAIL,
    owner_property=OWNER,
    supports_upsert=True,  # emulated: look up by emailAddress, then create or update (see upsert)
    cursor="lastModifiedDate window, read in id order (id as the resume point)",
    link_first=(),
    deletes="contacts are deactivated (isActive = 0) and arrive archived; contacts deleted in Autotask are not seen",
    limits="10,000 requests per rolling hour per database, shared by all integrations (429 + Retry-After past it); "
           "3 concurrent requests per endpoint per integration code",
)
"""Autotask's capabilities: one contact per write request, query pages of 500."""


def _rest_root(url: str) -> str:
    """``url`` without a trailing slash, with ``/atservicesrest`` added when it has no path at all."""
    url = check_base_url(url.strip()).rstrip("/")
    return url + REST_ROOT if urlsplit(url).path in ("", "/") else url


def _contact_id(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isdigit() else None


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


class AutotaskConnector:
    """The Autotask REST API through one API user.

    ``base_url`` is the zone's REST URL (``https://webservices2.autotask.net/atservicesrest``; a URL with
    no path gets ``/atservicesrest``), or the global ``https://webservices.autotask.net/atservicesrest``,
    from which the zone is discovered (``GET /V1.0/zoneInformation?user=``; ``discover_zone`` forces it on
    or off). ``credentials`` are ``{"username", "secret", "integration_code"}`` (the API user's user name,
    its secret and the API tracking identifier), optionally ``"zone_url"`` (a zone already discovered).

    ``rate_limit_per_10s`` and ``rate_limit_per_hour`` are proactive limits (Autotask's own threshold is
    10,000 an hour for the whole database, shared with every other integration, and it slows answers past
    half of it); ``concurrency`` caps writes in flight (Autotask allows 3 threads per endpoint).
    ``default_owner_id`` owns Companies a push creates when the input names no ``ownerResourceID`` (else
    the API user's own Resource); ``company_defaults`` are extra fields for those Companies (e.g.
    ``{"companyType": 3}``; ``phone`` is required by Autotask and defaults to the contact's phone).
    ``overlap_ms`` tunes the pull. ``transport`` replaces the network; ``sleep`` (s), ``clock`` (monotonic
    s) and ``now_ms`` (wall clock, epoch ms UTC) make time injectable. Raises ValidationError for missing
    credentials or a bad URL.
    """

    name = "autotask"
    capabilities = CAPABILITIES

    def __init__(
        self,
        base_url: str = GLOBAL_URL,
        credentials: Mapping[str, str] | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        rate_limit_per_10s: int = 100,
        rate_limit_per_hour: int = 5_000,
        concurrency: int = 3,
        discover_zone: bool | None = None,
        default_owner_id: str | None = None,
        company_defaults: Mapping[str, Any] | None = None,
        overlap_ms: int = DEFAULT_OVERLAP_MS,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
        now_ms: NowMs | None = None,
    ) -> None:
        creds = {k: str(v).strip() for k, v in (credentials or {}).items() if v}
        missing = [k for k in CREDENTIAL_KEYS if not creds.get(k)]
        if missing:
            raise ValidationError("credentials: Autotask needs the API user's username, secret and integration_code "
                                  f"(missing: {', '.join(missing)})")
        if concurrency < 1:
            raise ValidationError(f"concurrency: must be at least 1, not {concurrency}")
        self.base_url = _rest_root(base_url)
        self.username = creds["username"]
        self._zone = _rest_root(creds["zone_url"]) if creds.get("zone_url") else None
        if discover_zone is None:
            discover_zone = urlsplit(self.base_url).hostname == urlsplit(GLOBAL_URL).hostname
        if self._zone is None and not discover_zone:
            self._zone = self.base_url
        self._zone_lock = asyncio.Lock()
        self._zone_ci: int | None = None
        self._now_ms: NowMs = now_ms or instants.now_ms
        self._overlap_ms = overlap_ms
        self._writes = asyncio.Semaphore(concurrency)
        self.default_owner_id = default_owner_id
        self.company_defaults = dict(company_defaults or {})
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        self._http = HttpClient(
            crm=CRM,
            base_url=self.base_url,
            error_mapper=autotask_error,
            headers={"Accept": "application/json", "ApiIntegrationCode": creds["integration_code"],
                     "UserName": self.username, "Secret": creds["secret"]},
            secrets=(creds["secret"], creds["integration_code"]),
            transport=transport,
            retry=retry,
            rate_limits={"default": RateLimit(rate_limit_per_10s, 10.0),
                         "hour": RateLimit(rate_limit_per_hour, 3600.0)},
            sleep=sleep,
            clock=clock,
            wall_clock=lambda: self._now_ms() / 1000,
            **extra,
        )
        self.companies = Companies(post=self._post, create=self._create_call, zone_url=self.zone_url)
        self._fields: dict[str, Mapping[str, Any]] | None = None
        self._api_resource: CrmOwner | None = None

    def __repr__(self) -> str:
        return f"AutotaskConnector(base_url={self.base_url!r}, api_calls={self.api_calls})"

    @property
    def api_calls(self) -> int:
        """HTTP requests made so far, retries and zone discovery included."""
        return self._http.api_calls

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._http.aclose()

    # -- plumbing ------------------------------------------------------------------------------------

    async def _zone_information(self) -> Mapping[str, Any]:
        answer = await self._http.request_json("GET", f"{self.base_url}/V1.0/zoneInformation",
                                               params={"user": self.username}, buckets=("default", "hour"))
        if not isinstance(answer, dict):
            raise CrmProtocolError("Autotask answered zoneInformation without a JSON object", crm=CRM)
        ci = answer.get("ci")
        self._zone_ci = ci if isinstance(ci, int) and not isinstance(ci, bool) else None
        return answer

    async def zone_url(self) -> str:
        """The zone's REST URL every API call goes to (discovered once when needed).

        A discovered URL must be https on an ``autotask.net`` host, or on the host ``base_url`` names:
        the credentials never travel anywhere else (CrmProtocolError otherwise)."""
        if self._zone is not None:
            return self._zone
        async with self._zone_lock:
            if self._zone is None:
                url = (await self._zone_information()).get("url")
                if not isinstance(url, str) or not url.strip():
                    raise CrmProtocolError(f"Autotask named no zone for the user {self.username}", crm=CRM)
                zone = _rest_root(url)
                parts, ours = urlsplit(zone), urlsplit(self.base_url)
                trusted = (parts.scheme == "https" and (parts.hostname or "").endswith(".autotask.net")) or (
                    (parts.scheme, parts.netloc) == (ours.scheme, ours.netloc))
                if not trusted:
                    raise CrmProtocolError(f"Autotask named an unexpected zone URL {zone}; not sending the "
                                           "credentials there", crm=CRM)
                self._zone = zone
            return self._zone

    async def _url(self, path_or_url: str) -> str:
        return path_or_url if "://" in path_or_url else await self.zone_url() + path_or_url

    async def _post(self, path_or_url: str, payload: dict[str, Any]) -> Any:
        """A query (a POST that changes nothing, so retried freely)."""
        return await self._http.request_json("POST", await self._url(path_or_url), json=payload,
                                             buckets=("default", "hour"))

    async def _create_call(self, path: str, payload: dict[str, Any]) -> Any:
        """A create: never replayed once Autotask may have acted on it."""
        async with self._writes:
            return await self._http.request_json("POST", await self._url(path), json=payload,
                                                 buckets=("default", "hour"), replay_safe=False)

    async def _patch(self, path: str, payload: dict[str, Any]) -> Any:
        """An update. Not replayed either: Autotask answers business-rule refusals with 500, which must
        fail the record at once rather than be retried."""
        async with self._writes:
            return await self._http.request_json("PATCH", await self._url(path), json=payload,
                                                 buckets=("default", "hour"), replay_safe=False)

    async def _get(self, path: str) -> Any:
        return await self._http.request_json("GET", await self._url(path), buckets=("default", "hour"))

    async def _query(self, entity: str, conditions: list[dict[str, Any]],
                     fields: Sequence[str]) -> list[dict[str, Any]]:
        return await query_all(self._post, entity, body(conditions, fields), zone_url=await self.zone_url())

    async def _count(self, query: dict[str, Any]) -> int | None:
        answer = await self._post("/V1.0/Contacts/query/count", {"filter": query["filter"]})
        count = answer.get("queryCount") if isinstance(answer, dict) else None
        return count if isinstance(count, int) and not isinstance(count, bool) else None

    @staticmethod
    def _check(object_type: ObjectType) -> None:
        if object_type != "contact":
            raise ValidationError(f"Autotask has only contacts, not {object_type!r}")

    async def _contact_fields(self) -> dict[str, Mapping[str, Any]]:
        if self._fields is None:
            await self.list_properties("contact")
        assert self._fields is not None
        return self._fields

    # -- account -------------------------------------------------------------------------------------

    async def connection_info(self) -> ConnectionInfo:
        """Who the API user is: ``GET /V1.0/zoneInformation?user=`` (its ``ci`` is the database id, our
        ``account_id``) and its Resource (``userName`` or ``email`` equal to the user name).

        ``is_admin`` is True: API-only users get the "API User (system)" security level, which sees every
        contact; the REST API does not expose a Resource's security level, so a restricted copy of it
        cannot be detected (said in ``note``). Raises CrmAuthError for refused credentials.
        """
        await self._zone_information()
        resource = await self._api_user_resource()
        return ConnectionInfo(
            user_email=resource.email if resource is not None and resource.email else self.username,
            user_id=resource.id if resource is not None else None,
            is_admin=True,
            account_id=str(self._zone_ci) if self._zone_ci is not None else None,
            note="Autotask API users normally have the 'API User (system)' security level (every contact "
                 "visible); a restricted copy of that level cannot be detected through the API",
        )

    async def _api_user_resource(self) -> CrmOwner | None:
        if self._api_resource is None:
            rows = await self._query("Resources", [{"op": "or", "items": [cond("userName", "eq", self.username),
                                                                          cond("email", "eq", self.username)]}],
                                     RESOURCE_FIELDS)
            self._api_resource = owner_from_wire(rows[0]) if rows else None
        return self._api_resource

    async def list_owners(self) -> list[CrmOwner]:
        """Every Resource, active or not (``POST /V1.0/Resources/query`` with ``id gte 0``, all pages), as
        owners matched by email; inactive resources come back ``active=False``. Resources are who own
        Companies (``ownerResourceID``), and so, in leadsync's terms, contacts."""
        rows = await self._query("Resources", [cond(ID, "gte", 0)], RESOURCE_FIELDS)
        return [owner_from_wire(row) for row in rows]

    async def list_properties(self, object_type: ObjectType) -> list[PropertyMeta]:
        """The contact's fields: ``GET /V1.0/Contacts/entityInformation/fields``, each as a
        :class:`PropertyMeta` (picklists with their values, ``isRequired``, ``isReadOnly``), then the
        pseudo-properties ``companyName`` and ``ownerResourceID``. ``companyID`` and ``isActive``, which
        Autotask requires, are listed as not required: the connector fills them itself (``companyID`` from
        ``companyName``, so it is read-only here; ``isActive`` 1 on create), so no mapping needs to source
        them. Also refreshes the field types writes are converted with."""
        self._check(object_type)
        answer = await self._get("/V1.0/Contacts/entityInformation/fields")
        fields = answer.get("fields") if isinstance(answer, dict) else None
        if not isinstance(fields, list):
            raise CrmProtocolError("Autotask answered entityInformation/fields without 'fields'", crm=CRM)
        rows = [f for f in fields if isinstance(f, dict) and isinstance(f.get("name"), str)]
        self._fields = {str(f["name"]).lower(): f for f in rows}
        return [*(_as_written(property_from_wire(f)) for f in rows), *PSEUDO_PROPERTIES]

    # -- reads ---------------------------------------------------------------------------------------

    def pull_changes(
        self, object_type: ObjectType, cursor: dict[str, Any] | None, *, properties: Sequence[str]
    ) -> AsyncIterator[PullPage]:
        """Contacts changed since ``cursor`` (None: all of them), deactivated ones ``archived=True``, as
        checkpointed pages of up to 500; see :mod:`~leadsync.agent.connectors.autotask.pull`. Besides
        ``properties``, ``id``, ``companyID``, ``emailAddress``, ``isActive``, ``lastModifiedDate`` and
        ``createDate`` are always read, and ``companyName``/``ownerResourceID`` come from the Companies."""
        self._check(object_type)
        return self._pull(cursor, properties)

    async def _pull(self, cursor: dict[str, Any] | None, properties: Sequence[str]) -> AsyncIterator[PullPage]:
        pull = ContactPull(post=self._post, zone_url=await self.zone_url(), properties=properties,
                           companies=self.companies.pseudo_by_ids, count=self._count, now_ms=self._now_ms,
                           overlap_ms=self._overlap_ms)
        async for page in pull.pages(cursor):
            yield page

    async def _contacts(self, conditions: list[dict[str, Any]], properties: Sequence[str]) -> list[CrmRecord]:
        fields = [*CONTACT_QUERY_FIELDS, *(p for p in properties if p not in PSEUDO)]
        rows = await self._query("Contacts", conditions, fields)
        company_ids = sorted({cid for row in rows if (cid := wire_id(row.get(COMPANY_ID))) is not None})
        companies = await self.companies.pseudo_by_ids(company_ids) if company_ids else {}
        return [contact_from_wire(row, companies.get(wire_id(row.get(COMPANY_ID)) or "")) for row in rows]

    async def list_archived(
        self, object_type: ObjectType, *, properties: Sequence[str]
    ) -> AsyncIterator[list[CrmRecord]]:
        """Deactivated contacts (``isActive eq 0``), page by page, each ``archived=True``."""
        self._check(object_type)
        fields = [*CONTACT_QUERY_FIELDS, *(p for p in properties if p not in PSEUDO)]
        query = body([cond(IS_ACTIVE, "eq", 0)], fields)
        async for page in query_pages(self._post, "Contacts", query, zone_url=await self.zone_url()):
            company_ids = sorted({cid for row in page.items if (cid := wire_id(row.get(COMPANY_ID))) is not None})
            companies = await self.companies.pseudo_by_ids(company_ids) if company_ids else {}
            yield [contact_from_wire(row, companies.get(wire_id(row.get(COMPANY_ID)) or "")) for row in page.items]

    async def read(
        self, object_type: ObjectType, ids: Sequence[str], *, properties: Sequence[str]
    ) -> dict[str, CrmRecord | None]:
        """Contacts by id (``id in [...]``, 500 a query); ids that are not Autotask ids or no longer resolve
        map to None. A deactivated contact resolves, ``archived=True``."""
        self._check(object_type)
        unique = list(dict.fromkeys(str(i) for i in ids))
        found: dict[str, CrmRecord | None] = dict.fromkeys(unique)
        numeric = {n: i for i in unique if (n := _contact_id(i)) is not None}
        for chunk in chunks([str(n) for n in numeric], MAX_IN_VALUES):
            for record in await self._contacts([cond(ID, "in", [int(n) for n in chunk])], properties):
                asked = numeric.get(int(record.id))
                if asked is not None:
                    found[asked] = record
        return found

    async def find_by_email(
        self, object_type: ObjectType, emails: Sequence[str], *, properties: Sequence[str]
    ) -> dict[str, CrmRecord]:
        """Contacts by ``emailAddress``, keyed by each email exactly as given; emails without a contact are
        absent. ``{"op": "in", "field": "emailAddress", "value": [...]}``, 200 addresses a query, each
        trimmed and lower-cased and sent as a JSON string (so ``o'brien@...`` or ``"quoted"@...`` need no
        escaping of their own); Autotask compares without regard to case. When several contacts share an
        address, an active one wins over a deactivated one, then the oldest (lowest id)."""
        self._check(object_type)
        keys = list(dict.fromkeys(k for e in emails if (k := normalize_email(e))))
        by_key: dict[str, CrmRecord] = {}
        for chunk in chunks(keys, EMAIL_CHUNK):
            records = await self._contacts([cond(EMAIL, "in", chunk)], properties)
            for record in sorted(records, key=lambda r: (r.archived, int(r.id))):
                email = record.properties.get(EMAIL)
                if email:
                    by_key.setdefault(normalize_email(email), record)
        return {e: by_key[normalize_email(e)] for e in emails if normalize_email(e) in by_key}

    # -- writes --------------------------------------------------------------------------------------

    async def _prepare(self, inp: WriteInput) -> tuple[dict[str, Any], WriteResult | None]:
        """The Contact fields of ``inp`` as JSON (pseudo-properties left out), or the refusal of ``inp``:
        ``INVALID_FIELD`` (no such field), ``READ_ONLY`` (a read-only field) or ``INVALID_VALUE``."""
        fields = await self._contact_fields()
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
            answer = await self._create_call(f"/V1.0/Companies/{company.id}/Contacts", payload)
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
        records = await self.read("contact", ids, properties=())
        return {i: known for i, r in records.items() if r is not None and (known := _known_of(r)) is not None}

    async def update(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Update contacts by id: ``PATCH /V1.0/Companies/{companyId}/Contacts`` with ``{"id", ...fields}``,
        one request per contact (``concurrency`` at a time); each contact's Company is read first.

        Only the given fields change; ``""`` clears one. Fails alone: ``MISSING_ID``, ``NOT_FOUND``,
        ``COMPANY_CHANGE`` (a ``companyName`` other than the contact's Company's), ``MISSING_COMPANY`` (a
        ``companyName`` of ``""``: a contact cannot be without a company), ``OWNER_READ_ONLY`` (an
        ``ownerResourceID`` other than the Company's owner), ``INVALID_FIELD``/``READ_ONLY``/``INVALID_VALUE``
        and Autotask's own refusals (its message, code ``AUTOTASK_REFUSED``).
        """
        self._check(object_type)
        known = await self._known([inp.id for inp in inputs if inp.id])

        async def one(inp: WriteInput) -> WriteResult:
            if not inp.id:
                return _failed(inp.ref, "an update of an Autotask contact needs its id", "MISSING_ID")
            target = known.get(inp.id)
            if target is None:
                return _failed(inp.ref, f"no Autotask contact with the id {inp.id!r}", "NOT_FOUND", inp.id)
            return await self._update_one(inp, target)

        return await _all(one(inp) for inp in inputs)

    async def create(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
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
        self._check(object_type)
        return await self._write_by_email(inputs, upsert=False)

    async def upsert(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Create or update keyed by ``emailAddress``; idempotent, so a replay after a crash makes no duplicate.

        Autotask has no upsert: the addresses are looked up (:meth:`find_by_email`), found active contacts
        are updated as by :meth:`update` (``created=False``), the others created as by :meth:`create`
        (``created=True``). Inputs sharing an address are applied one after the other, so the first creates
        and the later ones update. An input without ``emailAddress`` fails alone (``MISSING_EMAIL``).
        """
        self._check(object_type)
        return await self._write_by_email(inputs, upsert=True)

    async def _write_by_email(self, inputs: Sequence[WriteInput], *, upsert: bool) -> list[WriteResult]:
        keys = [normalize_email(_prop(inp.properties, EMAIL) or "") for inp in inputs]
        refused = {n: refusal for n, inp in enumerate(inputs) if (refusal := (await self._prepare(inp))[1])}
        found = await self.find_by_email("contact", [k for k in keys if k], properties=())
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
        companies = await self.companies.by_names([first[k].properties[COMPANY_NAME] for k in first])
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
                    companies[key] = await self.companies.create(name, owner_id=owner, phone=phone,
                                                                 defaults=self.company_defaults)
                except CrmError as exc:
                    errors[key] = f"could not create the company {name!r}: {_refusal(inp.ref, exc).error}"

        await _all(make(key) for key in first if key not in companies)
        return companies, errors

    async def archive(self, object_type: ObjectType, ids: Sequence[str]) -> list[WriteResult]:
        """Deactivate contacts (Autotask's way to retire one): ``PATCH /V1.0/Companies/{companyId}/Contacts``
        with ``{"id", "isActive": 0}``; each result's ``ref`` is the id. A contact already inactive counts
        as done; an unknown id fails alone (``NOT_FOUND``)."""
        self._check(object_type)
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


def _as_written(meta: PropertyMeta) -> PropertyMeta:
    """``meta`` as the connector's writes see it: the required fields it fills itself are not required."""
    if meta.name == COMPANY_ID:
        return msgspec.structs.replace(meta, required=False, read_only=True)
    if meta.name == IS_ACTIVE:
        return msgspec.structs.replace(meta, required=False)
    return meta


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


if TYPE_CHECKING:
    def _conforms(connector: AutotaskConnector) -> Connector:
        """mypy proves AutotaskConnector implements the Connector protocol."""
        return connector


__all__ = ["CAPABILITIES", "CREDENTIAL_KEYS", "GLOBAL_URL", "AutotaskConnector"]
