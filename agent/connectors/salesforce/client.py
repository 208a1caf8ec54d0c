"""SalesforceConnector: leadsync's :class:`~leadsync.agent.connectors.base.Connector` for the Salesforce REST API.

Canonical ``lead`` is the ``Lead`` sObject and ``contact`` the ``Contact`` sObject: two objects with
their own ids, fields and required fields (a Lead needs ``LastName`` and ``Company``, a Contact
``LastName``). A converted Lead (``IsConverted``) stays a read-only Lead pointing at its
``ConvertedContactId``; later updates belong to that Contact (see :meth:`SalesforceConnector.update`).

Every call goes through the shared :class:`~leadsync.agent.connectors.http.HttpClient` (timeouts,
retries, a proactive rate limit, error translation by :func:`~.errors.salesforce_error`, secrets
redacted) and raises only :mod:`leadsync.common.errors` types. The org's API usage from each answer's
``Sforce-Limit-Info: api-usage=N/M`` header is kept in :attr:`SalesforceConnector.api_usage`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote as url_quote
from urllib.parse import urlsplit

import httpx
import msgspec

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
from leadsync.agent.connectors.http import Clock, HttpClient, RateLimit, RetryPolicy, Sleep, check_token
from leadsync.agent.connectors.incremental import DEFAULT_OVERLAP_MS
from leadsync.agent.connectors.salesforce import directory
from leadsync.agent.connectors.salesforce.errors import CRM, daily_quota, salesforce_error
from leadsync.agent.connectors.salesforce.oauth import (
    DEFAULT_SESSION_TIMEOUT_S,
    SalesforceSession,
    SaveCredentials,
    StatusHook,
    check_instance_url,
    is_oauth,
)
from leadsync.agent.connectors.salesforce.pull import DEFAULT_WINDOW, IncrementalPull, PullSettings
from leadsync.agent.connectors.salesforce.query import Queries
from leadsync.agent.connectors.salesforce.quota import DAY_S, QUOTA_BUCKET, QUOTA_MAX_WAIT_S, quota_limit, quota_window
from leadsync.agent.connectors.salesforce.sobject_collections import COLLECTION_SIZE
from leadsync.agent.connectors.salesforce.soql import datetime_literal, field_list, in_list
from leadsync.agent.connectors.salesforce.wire import (
    EMAIL,
    IS_CONVERTED,
    IS_DELETED,
    MODSTAMP,
    OWNER,
    SYSTEM_FIELDS,
    chunked,
    parse_instant_ms,
    record_email,
    record_from_wire,
    sobject,
)
from leadsync.agent.connectors.salesforce.writes import RecordWrites
from leadsync.agent.connectors.usage import ApiUsage
from leadsync.common import instants
from leadsync.common.emails import normalize_email
from leadsync.common.errors import CrmProtocolError, ValidationError

log = logging.getLogger("leadsync.salesforce")

DEFAULT_LOGIN_URL: Final = "https://login.salesforce.com"
DEFAULT_API_VERSION: Final = "v60.0"
EMAIL_CHUNK: Final = 100
"""Email addresses per lookup query (keeps the GET URL far below Salesforce's 16 KB limit)."""
ID_CHUNK: Final = 200
_RECORD_ID: Final = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_VERSION: Final = re.compile(r"v?(\d{2,3}\.\d)")

CAPABILITIES: Final = Capabilities(
    batch_size=COLLECTION_SIZE,
    page_size=2000,
    object_types=("lead", "contact"),
    new_lead_object="lead",
    email_property=EMAIL,
    owner_property=OWNER,
    supports_upsert=True,  # emulated: look up by Email, then create or update (see upsert)
    cursor="SystemModstamp + Id",
    link_first=("contact",),
    emails_per_lookup=EMAIL_CHUNK,
    deletes="queryAll IsDeleted rows (Recycle Bin, 15 days); MasterRecordId names a merge's survivor",
    limits="rolling 24 h API request quota per org (Sforce-Limit-Info); 403 REQUEST_LIMIT_EXCEEDED when spent",
)
"""Salesforce's capabilities: sObject Collections of 200, query pages of up to 2,000 rows."""


def _version(api_version: str) -> str:
    match = _VERSION.fullmatch(api_version.strip())
    if match is None:
        raise ValidationError(f"api_version: {api_version!r} is not a Salesforce API version such as v60.0")
    return f"v{match.group(1)}"


def _iso_param(ms: int) -> str:
    """An instant as the ``start``/``end`` parameter of ``/updated`` and ``/deleted``: ISO-8601 UTC."""
    return datetime_literal(ms).replace(".000Z", "+00:00").replace("Z", "+00:00")


class SalesforceConnector:
    """The Salesforce REST API through one OAuth connection (or one access token).

    ``base_url`` is the login URL the OAuth tokens come from (``https://login.salesforce.com``,
    ``https://test.salesforce.com`` for a sandbox org, a My Domain URL, or the leadsync sandbox);
    every API call then goes to the ``instance_url`` the token endpoint names. ``credentials`` are
    ``{"client_id", "refresh_token"}`` (+ ``client_secret``; + stored ``access_token``, ``instance_url``,
    ``access_token_expires_at``), see :mod:`~leadsync.agent.connectors.salesforce.oauth`; refreshed tokens
    go to ``save_credentials`` and ``on_status`` hears ``"needs_reauth"`` when the refresh token is
    refused. ``{"access_token"}`` (+ ``instance_url``, else ``base_url`` is the instance) works too, until
    the session ends. ``api_version`` like ``"v60.0"``. ``session_timeout_s`` is the org's session
    timeout (2 hours by default). ``rate_limit_per_10s`` caps requests per rolling 10 s (Salesforce has a
    rolling 24-hour quota, not a short window; this only keeps bursts polite); the 24-hour quota's limiter:
    :func:`.quota.quota_limit` (``daily_api_requests``, ``quota_window_s``, ``quota_max_wait_s``). ``overlap_ms``
    and ``window`` tune the incremental pull. ``transport`` replaces the network; ``sleep`` (s), ``clock``
    (monotonic s) and ``now_ms`` (wall clock, epoch ms UTC) make time injectable for tests.
    Raises ValidationError for missing credentials or a bad API version.
    """

    name = "salesforce"
    capabilities = CAPABILITIES

    def __init__(
        self,
        base_url: str = DEFAULT_LOGIN_URL,
        credentials: Mapping[str, str] | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        api_version: str = DEFAULT_API_VERSION,
        save_credentials: SaveCredentials | None = None,
        on_status: StatusHook | None = None,
        session_timeout_s: float = DEFAULT_SESSION_TIMEOUT_S,
        rate_limit_per_10s: int = 250,
        daily_api_requests: int | None = None,
        quota_window_s: float = DAY_S,
        quota_max_wait_s: float = QUOTA_MAX_WAIT_S,
        overlap_ms: int = DEFAULT_OVERLAP_MS,
        window: int = DEFAULT_WINDOW,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
        now_ms: instants.NowMs | None = None,
        usage: ApiUsage | None = None,
    ) -> None:
        creds = dict(credentials or {})
        self.base_url = base_url.rstrip("/")
        self.api_version = _version(api_version)
        self._now_ms: instants.NowMs = now_ms or instants.now_ms
        self._pull_settings = PullSettings(overlap_ms=overlap_ms, window=window)
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        headers = {"Accept": "application/json"}
        token = creds.get("access_token", "")
        oauth = is_oauth(creds)
        if not oauth and not token:
            raise ValidationError("credentials: Salesforce needs a connected app's client_id and refresh_token "
                                  "(and client_secret when the app requires it), or an access_token")
        if token and not oauth:
            headers["Authorization"] = f"Bearer {check_token('access_token', token)}"
        self._http = HttpClient(
            crm=CRM,
            base_url=self.base_url,
            error_mapper=salesforce_error,
            headers=headers,
            secrets=(token, url_quote(token, safe=""), creds.get("client_secret", ""), creds.get("refresh_token", "")),
            transport=transport,
            retry=retry,
            rate_limits={"default": RateLimit(rate_limit_per_10s, 10.0),
                         QUOTA_BUCKET: quota_limit(daily_api_requests, quota_window_s, quota_max_wait_s)},
            sleep=sleep,
            clock=clock,
            wall_clock=lambda: self._now_ms() / 1000,
            usage=usage, quota_reader=daily_quota, rate_reader=quota_window,
            **extra,
        )
        self.session: SalesforceSession | None = None
        self._static_instance = ""
        if oauth:
            self.session = SalesforceSession(self._http, creds, login_url=self.base_url, now_ms=self._now_ms,
                                             session_timeout_s=session_timeout_s,
                                             save_credentials=save_credentials, on_status=on_status)
            self._http.auth = self.session
        else:
            self._static_instance = check_instance_url(creds.get("instance_url") or self.base_url, self.base_url)
        self._describe: dict[ObjectType, dict[str, Mapping[str, Any]]] = {}
        self._queries = Queries(call=self._call, instance_url=self.instance_url, data=self._data)
        self._writes = RecordWrites(call=self._call, data=self._data, fields=self._fields,
                                    find_by_email=self.find_by_email, read=self.read)
        self.api_usage: tuple[int, int] | None = None
        self._usage_warned = False

    def __repr__(self) -> str:
        return f"SalesforceConnector(base_url={self.base_url!r}, api_calls={self.api_calls})"

    @property
    def api_calls(self) -> int:
        """HTTP requests made so far, retries and token requests included."""
        return self._http.api_calls

    def current_credentials(self) -> dict[str, str] | None:
        """An OAuth connection's credentials with its latest (rotated) tokens and instance URL, to store;
        None for a fixed access token."""
        return self.session.credentials() if self.session is not None else None

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._http.aclose()

    # -- plumbing ------------------------------------------------------------------------------------

    async def instance_url(self) -> str:
        """The API base URL (getting a session first when needed)."""
        if self.session is not None:
            return await self.session.instance_url()
        return self._static_instance

    async def _data(self, path: str) -> str:
        return f"{await self.instance_url()}/services/data/{self.api_version}{path}"

    async def _call(self, method: str, url: str, *, params: Mapping[str, str] | None = None, json: Any = None,
                    replay_safe: bool = True) -> Any:
        """Send one API request; return its decoded JSON body (None when empty) and note API usage."""
        response = await self._http.request(method, url, params=params, json=json, replay_safe=replay_safe,
                                            buckets=("default", QUOTA_BUCKET))
        self._note_usage(daily_quota(response.headers))
        if not response.content:
            return None
        try:
            return msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            raise CrmProtocolError(self._http.redact(f"salesforce: {method} {urlsplit(url).path} answered "
                                                     f"{response.status_code} with a body that is not JSON"),
                                   crm=CRM, status=response.status_code) from None

    def _note_usage(self, usage: tuple[int, int] | None) -> None:
        if usage is None:
            return
        used, limit = self.api_usage = usage
        if limit and used >= 0.9 * limit and not self._usage_warned:
            self._usage_warned = True
            log.warning("salesforce: the org has used %d of its %d API requests in the last 24 hours", used, limit)
        elif limit and used < 0.8 * limit:
            self._usage_warned = False

    def query_pages(self, soql: str, *, include_deleted: bool = False) -> AsyncIterator[list[Mapping[str, Any]]]:
        """Every page of rows of ``soql`` (built with :mod:`~.soql`): see :meth:`.query.Queries.pages`."""
        return self._queries.pages(soql, include_deleted=include_deleted)

    async def _fields(self, object_type: ObjectType) -> dict[str, Mapping[str, Any]]:
        if object_type not in self._describe:
            await self.list_properties(object_type)
        return self._describe[object_type]

    # -- account (see :mod:`~.directory`) -----------------------------------------------------------

    async def connection_info(self) -> ConnectionInfo:
        """Who the session belongs to and whether they administer the org: see
        :func:`.directory.connection_info`. Raises CrmAuthError for a bad session."""
        return await directory.connection_info(self._queries)

    async def list_owners(self) -> list[CrmOwner]:
        """Every User, active or not: see :func:`.directory.list_owners`."""
        return await directory.list_owners(self._queries)

    async def list_properties(self, object_type: ObjectType) -> list[PropertyMeta]:
        """The object's fields from its describe (see :func:`.directory.describe`). Also refreshes the field
        types writes are converted with."""
        self._describe[object_type], properties = await directory.describe(self._queries, object_type)
        return properties

    # -- reads ---------------------------------------------------------------------------------------

    def pull_changes(
        self, object_type: ObjectType, cursor: dict[str, Any] | None, *, properties: Sequence[str]
    ) -> AsyncIterator[PullPage]:
        """Records changed since ``cursor`` (None: all of them), oldest first, deleted ones
        ``archived=True``, as checkpointed pages; see :mod:`~leadsync.agent.connectors.salesforce.pull`.

        Besides ``properties``, ``Id``, ``SystemModstamp``, ``CreatedDate``, ``IsDeleted``,
        ``MasterRecordId``, ``Email``, ``OwnerId`` and, for Leads, ``IsConverted`` and
        ``ConvertedContactId`` are always selected. Properties come back keyed by Salesforce's own
        spelling of each field name.
        """
        pull = IncrementalPull(object_type, properties=properties, now_ms=self._now_ms, settings=self._pull_settings,
                               query=lambda soql: self._queries.first(soql, include_deleted=True),
                               more=self._queries.more)
        return pull.pages(cursor)

    async def list_archived(
        self, object_type: ObjectType, *, properties: Sequence[str]
    ) -> AsyncIterator[list[CrmRecord]]:
        """Deleted records still in the Recycle Bin (15 days), page by page: ``queryAll`` with ``WHERE
        IsDeleted = true``. A merged-away record is among them with ``MasterRecordId`` naming the survivor."""
        fields = field_list(SYSTEM_FIELDS[object_type], properties)
        soql = (f"SELECT {', '.join(fields)} FROM {sobject(object_type)} WHERE {IS_DELETED} = true "
                f"ORDER BY {MODSTAMP} ASC, Id ASC")
        async for rows in self.query_pages(soql, include_deleted=True):
            yield [record_from_wire(row, object_type) for row in rows]

    async def deleted_since(self, object_type: ObjectType, start_ms: int, end_ms: int) -> list[tuple[str, int]]:
        """``(id, deleted at epoch ms)`` of records deleted in ``[start_ms, end_ms]``: ``GET
        /sobjects/{Object}/deleted/?start=&end=`` ("Get Deleted Records", at most 30 days back; the
        window is read to the minute). Covers records already purged from the Recycle Bin."""
        answer = await self._call("GET", await self._data(f"/sobjects/{sobject(object_type)}/deleted/"),
                                  params={"start": _iso_param(start_ms), "end": _iso_param(end_ms)})
        rows = answer.get("deletedRecords") if isinstance(answer, dict) else None
        if not isinstance(rows, list):
            raise CrmProtocolError("Salesforce answered /deleted without 'deletedRecords'", crm=CRM)
        out: list[tuple[str, int]] = []
        for row in rows:
            if isinstance(row, dict) and isinstance(row.get("id"), str):
                out.append((row["id"], parse_instant_ms(row.get("deletedDate")) or 0))
        return out

    async def read(
        self, object_type: ObjectType, ids: Sequence[str], *, properties: Sequence[str]
    ) -> dict[str, CrmRecord | None]:
        """Records by id: ``SELECT ... FROM {Object} WHERE Id IN (...)``, 200 ids a query.

        Ids that are deleted, unknown or not Salesforce ids map to None. 15- and 18-character ids both
        work; the result is keyed by the ids as given.
        """
        fields = field_list(SYSTEM_FIELDS[object_type], properties)
        unique = list(dict.fromkeys(str(i) for i in ids))
        found: dict[str, CrmRecord | None] = dict.fromkeys(unique)
        valid = [i for i in unique if _RECORD_ID.fullmatch(i)]
        by_prefix = {i[:15]: i for i in valid}
        for chunk in chunked(valid, ID_CHUNK):
            soql = f"SELECT {', '.join(fields)} FROM {sobject(object_type)} WHERE Id IN {in_list(chunk)}"
            for row in await self._queries.all(soql):
                record = record_from_wire(row, object_type)
                asked = by_prefix.get(record.id[:15])
                if asked is not None:
                    found[asked] = record
        return found

    async def find_by_email(
        self, object_type: ObjectType, emails: Sequence[str], *, properties: Sequence[str]
    ) -> dict[str, CrmRecord]:
        """Records by email, keyed by each email exactly as given; emails without a record are absent.

        ``SELECT ... FROM {Object} WHERE Email IN ('a@b.c', 'o\\'brien@example.com') ORDER BY ...``, 100
        addresses a query, each trimmed, lower-cased and escaped with
        :func:`~leadsync.agent.connectors.salesforce.soql.quote` (case B13); SOQL compares text without
        regard to case. Salesforce allows several records with one email: the oldest wins, and for Leads
        an unconverted Lead wins over converted ones (a converted Lead comes back only when it is the
        only match, with ``IsConverted`` "true" and its ``ConvertedContactId``).
        """
        fields = field_list(SYSTEM_FIELDS[object_type], properties)
        keys = list(dict.fromkeys(k for e in emails if (k := normalize_email(e))))
        order = f"{IS_CONVERTED} ASC, CreatedDate ASC, Id ASC" if object_type == "lead" else "CreatedDate ASC, Id ASC"
        by_key: dict[str, CrmRecord] = {}
        for chunk in chunked(keys, EMAIL_CHUNK):
            soql = (f"SELECT {', '.join(fields)} FROM {sobject(object_type)} WHERE {EMAIL} IN {in_list(chunk)} "
                    f"ORDER BY {order}")
            for row in await self._queries.all(soql):
                record = record_from_wire(row, object_type)
                email = record_email(record)
                if email is not None:
                    by_key.setdefault(normalize_email(email), record)
        return {e: by_key[normalize_email(e)] for e in emails if normalize_email(e) in by_key}

    # -- writes (see :mod:`~.writes`) ---------------------------------------------------------------

    async def create(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Create records, never a second record for an email: see :meth:`.writes.RecordWrites.create`."""
        return await self._writes.create(object_type, inputs)

    async def update(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Update records by id: see :meth:`.writes.RecordWrites.update`."""
        return await self._writes.update(object_type, inputs)

    async def upsert(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Create or update keyed by ``Email``: see :meth:`.writes.RecordWrites.upsert`."""
        return await self._writes.upsert(object_type, inputs)

    async def archive(self, object_type: ObjectType, ids: Sequence[str]) -> list[WriteResult]:
        """Delete records (to the Recycle Bin): see :meth:`.writes.RecordWrites.archive`."""
        return await self._writes.archive(object_type, ids)


if TYPE_CHECKING:
    def _conforms(connector: SalesforceConnector) -> Connector:
        """mypy proves SalesforceConnector implements the Connector protocol."""
        return connector


__all__ = ["CAPABILITIES", "DEFAULT_API_VERSION", "DEFAULT_LOGIN_URL", "SalesforceConnector"]
