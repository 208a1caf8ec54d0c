"""ZohoConnector: leadsync's :class:`~leadsync.agent.connectors.base.Connector` for the Zoho CRM REST API (v8).

Canonical ``lead`` is the ``Leads`` module and ``contact`` the ``Contacts`` module: two modules with their
own ids and fields (a Lead needs ``Last_Name``, a Contact ``Last_Name``; only Leads have ``Company``).
Converting a Lead (``POST /Leads/{id}/actions/convert``) makes a Contact (and an Account, maybe a Deal);
the Lead then drops out of the Leads lists and searches unless ``converted=true|both`` is asked, and carries
``$converted: true`` and ``$converted_detail`` naming the Contact. This connector always asks
``converted=both`` for Leads, so a converted Lead comes back with ``converted_to_type="contact"`` and
``converted_to_id``: its later updates belong to that Contact.

Every call goes through the shared :class:`~leadsync.agent.connectors.http.HttpClient` (timeouts, retries,
a proactive rate limit, error translation by :func:`~.errors.zoho_error`, secrets redacted) to the
``api_domain`` the OAuth answer named, and raises only :mod:`leadsync.common.errors` types.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import httpx

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
from leadsync.agent.connectors.zoho import directory
from leadsync.agent.connectors.zoho.credits import CREDITS_BUCKET, CREDITS_MAX_WAIT_S, DAY_S, credits_limit
from leadsync.agent.connectors.zoho.errors import CRM, zoho_error
from leadsync.agent.connectors.zoho.headers import HeaderTransport, extra_headers
from leadsync.agent.connectors.zoho.oauth import ACCOUNTS_URLS, SaveCredentials, StatusHook, ZohoSession
from leadsync.agent.connectors.zoho.pull import PAGE_SIZE, IncrementalPull, PullSettings
from leadsync.agent.connectors.zoho.wire import (
    EMAIL,
    ID,
    OWNER,
    SYSTEM_FIELDS,
    chunked,
    data_of,
    email_criteria,
    is_converted,
    is_record_id,
    module,
    more_records,
    nonempty_text,
    parse_instant_ms,
    record_email,
    record_from_wire,
)
from leadsync.agent.connectors.zoho.writes import BATCH_SIZE, Outgoing, RecordWrites
from leadsync.common import instants
from leadsync.common.emails import normalize_email
from leadsync.common.errors import ValidationError
from leadsync.common.instants import NowMs

DEFAULT_ACCOUNTS_URL: Final = ACCOUNTS_URLS["us"]
DEFAULT_API_VERSION: Final = "v8"
SEARCH_TERMS: Final = 10
"""Criteria terms Zoho takes in one search."""

CAPABILITIES: Final = Capabilities(
    batch_size=BATCH_SIZE,
    page_size=PAGE_SIZE,
    object_types=("lead", "contact"),
    new_lead_object="lead",
    email_property=EMAIL,
    owner_property=OWNER,
    supports_upsert=True,  # POST /{Module}/upsert with duplicate_check_fields=["Email"]
    cursor="Modified_Time (If-Modified-Since, sort_by=Modified_Time) + id at the boundary second",
    link_first=("contact",),
    emails_per_lookup=SEARCH_TERMS,
    deletes="GET /{Module}/deleted?type=all (recycle bin, 60 days, and permanent deletes); not in the lists",
    limits="API credits per rolling 24 h by edition (a convert costs 5) and concurrent-request limits; "
           "429 TOO_MANY_REQUESTS",
)
"""Zoho CRM's capabilities: writes of 100 records, lists of 200."""


class ZohoConnector:
    """Zoho CRM through one OAuth connection.

    ``base_url`` is the data center's accounts URL (``https://accounts.zoho.com``, ``.eu``, ``.in``,
    ``.com.au``... see :data:`~.oauth.ACCOUNTS_URLS`, or the leadsync sandbox); every API call goes to the
    ``api_domain`` the token endpoint names. ``credentials`` are ``{"client_id", "client_secret",
    "refresh_token"}`` (+ stored ``access_token``, ``api_domain``, ``access_token_expires_at`` in epoch ms);
    refreshed tokens go to ``save_credentials``, and ``on_status`` hears ``"needs_reauth"`` when the refresh
    token is refused (see :mod:`~.oauth`). ``api_version`` like ``"v8"``. ``rate_limit_per_10s`` caps
    requests per rolling 10 s (Zoho counts credits per 24 h and concurrent requests; this keeps bursts
    polite); ``credits_per_day`` (the organisation's allocation), ``credits_window_s`` and
    ``credits_max_wait_s`` set the credits' limiter (:func:`.credits.credits_limit`). ``overlap_ms`` and
    ``page_size`` tune the incremental pull. ``transport`` replaces the network;
    ``sleep`` (s), ``clock`` (monotonic s) and ``now_ms`` (wall clock, epoch ms UTC) make time injectable.
    Raises ValidationError for missing credentials or a bad API version.

    Writes drop properties the module does not have (the engine writes one set of mapped properties to
    Leads and Contacts alike; Contacts have no ``Company``): see :mod:`~.writes`.
    """

    name = "zoho"
    capabilities = CAPABILITIES

    def __init__(
        self,
        base_url: str = DEFAULT_ACCOUNTS_URL,
        credentials: Mapping[str, str] | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        api_version: str = DEFAULT_API_VERSION,
        save_credentials: SaveCredentials | None = None,
        on_status: StatusHook | None = None,
        rate_limit_per_10s: int = 100,
        credits_per_day: int | None = None,
        credits_window_s: float = DAY_S,
        credits_max_wait_s: float = CREDITS_MAX_WAIT_S,
        overlap_ms: int = DEFAULT_OVERLAP_MS,
        page_size: int = PAGE_SIZE,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
        now_ms: NowMs | None = None,
        usage: ApiUsage | None = None,
    ) -> None:
        version = api_version.strip().lower()
        if not (version.startswith("v") and version[1:].isdigit() and 2 <= int(version[1:]) <= 99):
            raise ValidationError(f"api_version: {api_version!r} is not a Zoho CRM API version such as v8")
        if not 1 <= page_size <= PAGE_SIZE:
            raise ValidationError(f"page_size: {page_size} is not between 1 and {PAGE_SIZE}")
        self.base_url = base_url.rstrip("/")
        self.api_version = version
        self._now_ms: NowMs = now_ms or instants.now_ms
        self._pull_settings = PullSettings(overlap_ms=overlap_ms, page_size=page_size)
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        self._http = HttpClient(
            crm=CRM, base_url=self.base_url, error_mapper=zoho_error, headers={"Accept": "application/json"},
            transport=HeaderTransport(transport), retry=retry,
            rate_limits={"default": RateLimit(rate_limit_per_10s, 10.0),
                         CREDITS_BUCKET: credits_limit(credits_per_day, credits_window_s, credits_max_wait_s)},
            sleep=sleep, clock=clock,
            wall_clock=lambda: self._now_ms() / 1000, usage=usage, **extra)
        self.session = ZohoSession(self._http, dict(credentials or {}), accounts_url=self.base_url,
                                   now_ms=self._now_ms, save_credentials=save_credentials, on_status=on_status)
        self._http.auth = self.session
        self._fields_of: dict[ObjectType, dict[str, Mapping[str, Any]]] = {}
        self._writes = RecordWrites(
            call=self._call, fields=self._fields,
            find_by_email=lambda object_type, emails: self.find_by_email(object_type, emails, properties=()),
            read=lambda object_type, ids: self.read(object_type, ids, properties=()))

    def __repr__(self) -> str:
        return f"ZohoConnector(base_url={self.base_url!r}, api_calls={self.api_calls})"

    @property
    def api_calls(self) -> int:
        """HTTP requests made so far, retries and token requests included."""
        return self._http.api_calls

    def current_credentials(self) -> dict[str, str]:
        """The credentials with the latest access token and API domain, to store."""
        return self.session.credentials()

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._http.aclose()

    # -- plumbing ------------------------------------------------------------------------------------

    async def _url(self, path: str) -> str:
        return f"{await self.session.api_domain()}/crm/{self.api_version}{path}"

    async def _call(self, method: str, path: str, *, params: Mapping[str, str] | None = None, json: Any = None,
                    replay_safe: bool = True, headers: Mapping[str, str] | None = None) -> Any:
        """One API request to ``/crm/{version}{path}``; the decoded JSON body, None for 204/empty."""
        url = await self._url(path)
        with extra_headers(headers or {}):
            return await self._http.request_json(method, url, params=params, json=json, replay_safe=replay_safe,
                                                 buckets=("default", CREDITS_BUCKET))

    async def _fields(self, object_type: ObjectType) -> dict[str, Mapping[str, Any]]:
        if object_type not in self._fields_of:
            await self.list_properties(object_type)
        return self._fields_of[object_type]

    async def _field_names(self, object_type: ObjectType, properties: Sequence[str]) -> list[str]:
        """``SYSTEM_FIELDS`` plus the ``properties`` the module has, in Zoho's spelling (others dropped)."""
        fields = await self._fields(object_type)
        lowered = {name.lower(): name for name in fields}
        wanted = (lowered.get(str(p).lower()) for p in properties if str(p).lower() != ID)
        return list(dict.fromkeys([*SYSTEM_FIELDS, *(name for name in wanted if name)]))

    # -- account (see :mod:`~.directory`) -----------------------------------------------------------

    async def connection_info(self) -> ConnectionInfo:
        """The connected user and organisation: see :func:`.directory.connection_info`."""
        return await directory.connection_info(self._call)

    async def list_owners(self) -> list[CrmOwner]:
        """Every user, active or not: see :func:`.directory.list_owners`."""
        return await directory.list_owners(self._call)

    async def list_properties(self, object_type: ObjectType) -> list[PropertyMeta]:
        """The module's fields (see :func:`.directory.module_fields`). Also refreshes the field types that
        writes are converted with and the field list reads are filtered to."""
        self._fields_of[object_type], properties = await directory.module_fields(self._call, object_type)
        return properties

    # -- reads ---------------------------------------------------------------------------------------

    def pull_changes(
        self, object_type: ObjectType, cursor: dict[str, Any] | None, *, properties: Sequence[str]
    ) -> AsyncIterator[PullPage]:
        """Records changed since ``cursor`` (None: all), oldest first, as checkpointed pages; see
        :mod:`~leadsync.agent.connectors.zoho.pull`. ``Email``, ``Owner``, ``Modified_Time`` and
        ``Created_Time`` are always asked for; properties the module lacks are left out of ``fields``."""
        return self._pull(object_type, cursor, properties)

    async def _pull(self, object_type: ObjectType, cursor: dict[str, Any] | None,
                    properties: Sequence[str]) -> AsyncIterator[PullPage]:
        path = f"/{module(object_type)}"

        async def fetch(params: dict[str, str], since: str | None) -> Any:
            return await self._call("GET", path, params=params,
                                    headers={"If-Modified-Since": since} if since else None)

        pull = IncrementalPull(object_type, fields=await self._field_names(object_type, properties), fetch=fetch,
                               resolve=self._resolve_conversions, now_ms=self._now_ms, settings=self._pull_settings)
        async for page in pull.pages(cursor):
            yield page

    async def _resolve_conversions(self, records: list[CrmRecord]) -> list[CrmRecord]:
        """``records`` with each converted Lead read again on its own (``GET /Leads/{id}?converted=true``):
        lists do not carry ``$converted_detail``, the record read does."""
        out: list[CrmRecord] = []
        for record in records:
            if is_converted(record) and record.converted_to_id is None:
                answer = await self._call("GET", f"/Leads/{record.id}", params={"converted": "true"})
                rows = data_of(answer)
                if rows:
                    full = record_from_wire(rows[0], "lead")
                    record = CrmRecord(object_type="lead", id=record.id, properties=record.properties,
                                       updated_at_ms=record.updated_at_ms, created_at_ms=record.created_at_ms,
                                       converted_to_type=full.converted_to_type, converted_to_id=full.converted_to_id)
            out.append(record)
        return out

    async def list_archived(
        self, object_type: ObjectType, *, properties: Sequence[str]
    ) -> AsyncIterator[list[CrmRecord]]:
        """Deleted records, page by page: ``GET /{Module}/deleted?type=all&page=N&per_page=200`` ("Get
        Deleted Records": the recycle bin, kept 60 days, and permanently deleted ones). Each is
        ``archived=True`` with ``updated_at_ms`` the ``deleted_time`` and only ``display_name`` and
        ``deleted_type`` (``recycle``/``permanent``) as properties: Zoho keeps no fields of a deleted record."""
        page = 1
        while True:
            answer = await self._call("GET", f"/{module(object_type)}/deleted",
                                      params={"type": "all", "page": str(page), "per_page": str(PAGE_SIZE)})
            batch: list[CrmRecord] = []
            for row in data_of(answer):
                record_id = row.get(ID)
                if record_id is None:
                    continue
                batch.append(CrmRecord(object_type=object_type, id=str(record_id), archived=True,
                                       updated_at_ms=parse_instant_ms(row.get("deleted_time")) or 0,
                                       properties={"display_name": nonempty_text(row.get("display_name")),
                                                   "deleted_type": nonempty_text(row.get("type"))}))
            if batch:
                yield batch
            if not more_records(answer)[0]:
                return
            page += 1

    async def read(
        self, object_type: ObjectType, ids: Sequence[str], *, properties: Sequence[str]
    ) -> dict[str, CrmRecord | None]:
        """Records by id: ``GET /{Module}?ids=a,b,...&fields=...`` (100 ids a request; Leads with
        ``converted=both``, so a converted Lead comes back with its Contact). Deleted, unknown and non-numeric
        ids map to None."""
        unique = list(dict.fromkeys(str(i) for i in ids))
        found: dict[str, CrmRecord | None] = dict.fromkeys(unique)
        fields = ",".join(await self._field_names(object_type, properties))
        for chunk in chunked([i for i in unique if is_record_id(i)], BATCH_SIZE):
            params = {"ids": ",".join(chunk), "fields": fields}
            if object_type == "lead":
                params["converted"] = "both"
            rows = data_of(await self._call("GET", f"/{module(object_type)}", params=params))
            records = await self._resolve_conversions([record_from_wire(row, object_type) for row in rows])
            found.update((r.id, r) for r in records if r.id in found)
        return found

    async def find_by_email(
        self, object_type: ObjectType, emails: Sequence[str], *, properties: Sequence[str]
    ) -> dict[str, CrmRecord]:
        """Records by email, keyed by each email exactly as given; emails without a record are absent.

        ``GET /{Module}/search?criteria=((Email:equals:a)or(Email:equals:b))`` with up to 10 addresses a
        search, each trimmed, lower-cased and escaped by :func:`~.wire.criteria_value` (``\\(``, ``\\)``,
        ``\\,``), then URL-encoded as a whole; 204 means no match. Zoho allows several records with one
        email: for Leads an unconverted one wins over converted ones (searched with ``converted=both``),
        then the oldest.
        """
        keys = list(dict.fromkeys(k for e in emails if (k := normalize_email(e))))
        fields = ",".join(await self._field_names(object_type, properties))
        by_key: dict[str, CrmRecord] = {}
        for chunk in chunked(keys, SEARCH_TERMS):
            candidates: list[CrmRecord] = []
            page = 1
            while True:
                params = {"criteria": email_criteria(chunk), "fields": fields, "page": str(page),
                          "per_page": str(PAGE_SIZE)}
                if object_type == "lead":
                    params["converted"] = "both"
                answer = await self._call("GET", f"/{module(object_type)}/search", params=params)
                candidates += [record_from_wire(row, object_type) for row in data_of(answer)]
                if not more_records(answer)[0]:
                    break
                page += 1
            candidates.sort(key=lambda r: (is_converted(r), r.created_at_ms or 0,
                                           int(r.id) if is_record_id(r.id) else 0))
            for record in candidates:
                email = record_email(record)
                if email and normalize_email(email) in chunk:
                    by_key.setdefault(normalize_email(email), record)
        chosen = await self._resolve_conversions(list(by_key.values()))
        by_key = {normalize_email(record_email(r) or ""): r for r in chosen}
        return {e: by_key[normalize_email(e)] for e in emails if normalize_email(e) in by_key}


    # -- writes (see :mod:`~.writes`) ---------------------------------------------------------------

    async def create(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Insert records, never a second record for an email: see :meth:`.writes.RecordWrites.create`."""
        return await self._writes.create(object_type, inputs)

    async def update(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Update records by id: see :meth:`.writes.RecordWrites.update`."""
        return await self._writes.update(object_type, inputs)

    async def upsert(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Create or update keyed by ``Email``: see :meth:`.writes.RecordWrites.upsert`."""
        return await self._writes.upsert(object_type, inputs)

    async def archive(self, object_type: ObjectType, ids: Sequence[str]) -> list[WriteResult]:
        """Delete records (to the recycle bin), idempotently: see :meth:`.writes.RecordWrites.archive`."""
        return await self._writes.archive(object_type, ids)


if TYPE_CHECKING:
    def _conforms(connector: ZohoConnector) -> Connector:
        """mypy proves ZohoConnector implements the Connector protocol."""
        return connector


__all__ = ["CAPABILITIES", "DEFAULT_ACCOUNTS_URL", "DEFAULT_API_VERSION", "Outgoing", "ZohoConnector"]
