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
- **Writes** and **duplicates** — one request per contact, never a second contact for an email: see
  :mod:`~.writes`. The Resources (owners) and the contact's fields: :mod:`~.directory`; the zone:
  :mod:`~.zone`.

Every call goes through the shared :class:`~leadsync.agent.connectors.http.HttpClient` (timeouts,
retries with ``Retry-After``, two proactive rate limits — per 10 s and per hour, the database's threshold of
10,000 requests per rolling hour read from ThresholdInformation, see :mod:`~.threshold` — error translation by
:func:`~.errors.autotask_error`, the ``Secret`` and integration code redacted).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import httpx

from leadsync.agent.connectors.autotask.companies import Companies
from leadsync.agent.connectors.autotask.directory import ContactDirectory
from leadsync.agent.connectors.autotask.errors import CRM, autotask_error
from leadsync.agent.connectors.autotask.pull import ContactPull
from leadsync.agent.connectors.autotask.query import MAX_IN_VALUES, MAX_RECORDS, body, cond, query_all, query_pages
from leadsync.agent.connectors.autotask.spec import CREDENTIAL_KEYS
from leadsync.agent.connectors.autotask.threshold import HOUR_BUCKET, HOUR_S, ThresholdCheck, threshold_limit
from leadsync.agent.connectors.autotask.wire import (
    COMPANY_ID,
    CONTACT_FIELDS,
    EMAIL,
    ID,
    IS_ACTIVE,
    OWNER,
    PSEUDO,
    chunks,
    contact_from_wire,
    wire_id,
)
from leadsync.agent.connectors.autotask.writes import ContactWrites
from leadsync.agent.connectors.autotask.zone import GLOBAL_URL, rest_root, trusted_zone_url
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
)
from leadsync.agent.connectors.http import Clock, HttpClient, RateLimit, RetryPolicy, Sleep
from leadsync.agent.connectors.incremental import DEFAULT_OVERLAP_MS
from leadsync.agent.connectors.usage import ApiUsage
from leadsync.common import instants
from leadsync.common.emails import normalize_email
from leadsync.common.errors import CrmProtocolError, ValidationError
from leadsync.common.instants import NowMs

EMAIL_CHUNK: Final = 200

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


def _contact_id(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isdigit() else None


class AutotaskConnector:
    """The Autotask REST API through one API user.

    ``base_url`` is the zone's REST URL (``https://webservices2.autotask.net/atservicesrest``; a URL with
    no path gets ``/atservicesrest``), or the global ``https://webservices.autotask.net/atservicesrest``,
    from which the zone is discovered (``GET /V1.0/zoneInformation?user=``; ``discover_zone`` forces it on
    or off). ``credentials`` are ``{"username", "secret", "integration_code"}`` (the API user's user name,
    its secret and the API tracking identifier), optionally ``"zone_url"`` (a zone already discovered).

    ``rate_limit_per_10s`` keeps bursts polite; ``rate_limit_per_hour`` and ``threshold_window_s``: the hour's
    limiter (:func:`.threshold.threshold_limit`); ``concurrency`` caps writes in flight (3 threads per endpoint).
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
        rate_limit_per_hour: int | None = None,
        threshold_window_s: float = HOUR_S,
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
        usage: ApiUsage | None = None,
    ) -> None:
        creds = {k: str(v).strip() for k, v in (credentials or {}).items() if v}
        missing = [k for k in CREDENTIAL_KEYS if not creds.get(k)]
        if missing:
            raise ValidationError("credentials: Autotask needs the API user's username, secret and integration_code "
                                  f"(missing: {', '.join(missing)})")
        if concurrency < 1:
            raise ValidationError(f"concurrency: must be at least 1, not {concurrency}")
        self.base_url = rest_root(base_url)
        self.username = creds["username"]
        self._zone = rest_root(creds["zone_url"]) if creds.get("zone_url") else None
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
                         HOUR_BUCKET: threshold_limit(rate_limit_per_hour, threshold_window_s)},
            sleep=sleep,
            clock=clock,
            wall_clock=lambda: self._now_ms() / 1000,
            usage=usage,
            **extra,
        )
        self._threshold = ThresholdCheck(self._http.limiters[HOUR_BUCKET], get=self._get)
        self.companies = Companies(post=self._post, create=self._create_call, zone_url=self.zone_url)
        self._directory = ContactDirectory(get=self._get, query=self._query, username=self.username)
        self._contact_writes = ContactWrites(
            fields=self._directory.contact_fields, create=self._create_call, patch=self._patch,
            read=lambda ids: self.read("contact", ids, properties=()),
            find_by_email=lambda emails: self.find_by_email("contact", emails, properties=()),
            contacts=self._contacts, companies=self.companies, api_user_resource=self._directory.api_user_resource,
            default_owner_id=default_owner_id, company_defaults=self.company_defaults)

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
        """The zone's REST URL every API call goes to, discovered once when needed (see
        :func:`.zone.trusted_zone_url`: CrmProtocolError for a zone the credentials must not go to)."""
        if self._zone is not None:
            return self._zone
        async with self._zone_lock:
            if self._zone is None:
                self._zone = trusted_zone_url(await self._zone_information(), self.base_url, self.username)
            return self._zone

    async def _url(self, path_or_url: str) -> str:
        await self._threshold()
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

    # -- account -------------------------------------------------------------------------------------

    async def connection_info(self) -> ConnectionInfo:
        """Who the API user is: ``GET /V1.0/zoneInformation?user=`` (its ``ci`` is the database id, our
        ``account_id``) and its Resource (``userName`` or ``email`` equal to the user name).

        ``is_admin`` is True: API-only users get the "API User (system)" security level, which sees every
        contact; the REST API does not expose a Resource's security level, so a restricted copy of it
        cannot be detected (said in ``note``). Raises CrmAuthError for refused credentials.
        """
        await self._zone_information()
        resource = await self._directory.api_user_resource()
        return ConnectionInfo(
            user_email=resource.email if resource is not None and resource.email else self.username,
            user_id=resource.id if resource is not None else None,
            is_admin=True,
            account_id=str(self._zone_ci) if self._zone_ci is not None else None,
            note="Autotask API users normally have the 'API User (system)' security level (every contact "
                 "visible); a restricted copy of that level cannot be detected through the API",
        )

    async def list_owners(self) -> list[CrmOwner]:
        """Every Resource, active or not, as owners: see :meth:`.directory.ContactDirectory.list_owners`."""
        return await self._directory.list_owners()

    async def list_properties(self, object_type: ObjectType) -> list[PropertyMeta]:
        """The contact's fields and the pseudo-properties ``companyName`` and ``ownerResourceID``: see
        :meth:`.directory.ContactDirectory.list_properties`."""
        self._check(object_type)
        return await self._directory.list_properties()

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
        fields = [*CONTACT_FIELDS, *(p for p in properties if p not in PSEUDO)]
        rows = await self._query("Contacts", conditions, fields)
        company_ids = sorted({cid for row in rows if (cid := wire_id(row.get(COMPANY_ID))) is not None})
        companies = await self.companies.pseudo_by_ids(company_ids) if company_ids else {}
        return [contact_from_wire(row, companies.get(wire_id(row.get(COMPANY_ID)) or "")) for row in rows]

    async def list_archived(
        self, object_type: ObjectType, *, properties: Sequence[str]
    ) -> AsyncIterator[list[CrmRecord]]:
        """Deactivated contacts (``isActive eq 0``), page by page, each ``archived=True``."""
        self._check(object_type)
        fields = [*CONTACT_FIELDS, *(p for p in properties if p not in PSEUDO)]
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

    # -- writes (see :mod:`~.writes`) ---------------------------------------------------------------

    async def update(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Update contacts by id, one ``PATCH`` per contact: see :meth:`.writes.ContactWrites.update`."""
        self._check(object_type)
        return await self._contact_writes.update(inputs)

    async def create(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Create contacts, each under its Company; never a second contact for an email: see
        :meth:`.writes.ContactWrites.create`."""
        self._check(object_type)
        return await self._contact_writes.create(inputs)

    async def upsert(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Create or update keyed by ``emailAddress`` (looked up first): see :meth:`.writes.ContactWrites.upsert`."""
        self._check(object_type)
        return await self._contact_writes.upsert(inputs)

    async def archive(self, object_type: ObjectType, ids: Sequence[str]) -> list[WriteResult]:
        """Deactivate contacts (``isActive`` 0): see :meth:`.writes.ContactWrites.archive`."""
        self._check(object_type)
        return await self._contact_writes.archive(ids)


if TYPE_CHECKING:
    def _conforms(connector: AutotaskConnector) -> Connector:
        """mypy proves AutotaskConnector implements the Connector protocol."""
        return connector


__all__ = ["CAPABILITIES", "CREDENTIAL_KEYS", "GLOBAL_URL", "AutotaskConnector"]
