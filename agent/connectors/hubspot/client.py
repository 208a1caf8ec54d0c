"""HubSpotConnector: leadsync's :class:`~leadsync.agent.connectors.base.Connector` for HubSpot CRM v3.

Both canonical object types, ``contact`` and ``lead``, are HubSpot's one contacts object (a lead is a
contact whose ``lifecyclestage`` is ``lead``; the stage is an ordinary property to map). Every call
goes through the shared :class:`~leadsync.agent.connectors.http.HttpClient` (timeouts, retries,
rate limits: 100 requests per 10 s by default and 5 searches per second), and raises only
:mod:`leadsync.common.errors` types.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

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
from leadsync.agent.connectors.http import Clock, HttpClient, RateLimit, RetryPolicy, Secret, Sleep, check_token
from leadsync.agent.connectors.hubspot import directory
from leadsync.agent.connectors.hubspot.errors import CRM, daily_quota, hubspot_error, item_error_keys, rate_windows
from leadsync.agent.connectors.hubspot.oauth import OAuthSession, SaveCredentials, StatusHook
from leadsync.agent.connectors.hubspot.pages import Page, decode_page, list_query
from leadsync.agent.connectors.hubspot.pull import IncrementalPull, PullSettings
from leadsync.agent.connectors.hubspot.pull_paging import next_after, page_records
from leadsync.agent.connectors.hubspot.wire import (
    ADDITIONAL_EMAILS_PROPERTY,
    CONTACTS,
    EMAIL_PROPERTY,
    create_input,
    input_keys,
    properties_param,
    record_email,
    record_from_wire,
    results_of,
    split_ids,
    update_input,
    upsert_input,
)
from leadsync.agent.connectors.hubspot.writes import BATCH_SIZE, poster, with_existing_id, write_all
from leadsync.agent.connectors.incremental import DEFAULT_OVERLAP_MS
from leadsync.agent.connectors.usage import ApiUsage
from leadsync.common import instants
from leadsync.common.emails import normalize_email
from leadsync.common.errors import ValidationError
from leadsync.common.instants import NowMs

DEFAULT_BASE_URL: Final = "https://api.hubapi.com"
DEFAULT_PER_10S: Final = 100
"""HubSpot's requests per rolling 10 s before an answer names the account's tier (``X-HubSpot-RateLimit-Max``)."""
FULL_PULL_SEARCH_MAX_PER_10S: Final = 1_000
"""Up to this request budget (HubSpot grants 100 to 250 per 10 s) a full pull adds the search walker: one
request in flight on the list endpoint leaves most of the budget idle, and search pages hold 200. With the
budget lifted (a sandbox without limits) the list alone is not held back by it, and the searches (capped at
5 a second) would add little."""
CAPABILITIES: Final = Capabilities(
    batch_size=BATCH_SIZE,
    page_size=200,
    object_types=("contact",),  # HubSpot leads are contacts whose lifecyclestage is "lead"
    new_lead_object="contact",
    email_property=EMAIL_PROPERTY,
    owner_property="hubspot_owner_id",
    supports_upsert=True,
    cursor="lastmodifieddate + id",
    deletes="archived=true list; a merge lists the merged ids on the survivor (hs_merged_object_ids)",
    limits="100 requests / 10 s per app (190 on higher tiers) + daily quota; search ~5 requests / s",
    forward_only=("lifecyclestage",),  # a stage set back through the API must be cleared first
)
"""HubSpot's capabilities: batches of 100, search pages of 200 (list pages are 100)."""


class HubSpotConnector:
    """HubSpot CRM v3 through one private-app or OAuth token, or an OAuth refresh token.

    ``base_url`` points at HubSpot (or a regional endpoint, or the sandbox); ``token`` is sent as
    ``Authorization: Bearer`` and never appears in logs, exceptions or reprs. Instead of ``token``,
    ``oauth`` takes an OAuth connection's credentials (``client_id``, ``client_secret``,
    ``refresh_token``, see :mod:`leadsync.agent.connectors.hubspot.oauth`): access tokens are then
    refreshed before they expire and after a 401, each new set handed to ``save_credentials``, and
    ``on_status`` hears ``"needs_reauth"`` when HubSpot refuses the refresh token.
    ``rate_limit_per_10s`` caps requests per rolling 10 s (None: HubSpot's 100 until its
    ``X-HubSpot-RateLimit-Max`` names the tier's, e.g. 190; a number given is a cap the header may lower, never raise);
    ``search_per_s`` caps searches per second (HubSpot allows 5). ``overlap_ms`` is how far each
    incremental pull reaches back before its cursor (default 5 minutes). ``full_pull_search`` runs
    a full pull as two walkers, the list endpoint upwards and search downwards by id (see
    :mod:`~leadsync.agent.connectors.hubspot.pull`); by default it does whenever requests are
    budgeted like HubSpot budgets them (``rate_limit_per_10s`` up to
    :data:`FULL_PULL_SEARCH_MAX_PER_10S`). ``transport`` replaces the
    network; ``sleep`` (seconds), ``clock`` (monotonic seconds) and ``now_ms`` (wall clock, epoch ms
    UTC) make time injectable for tests.
    """

    name = "hubspot"
    capabilities = CAPABILITIES

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        token: str = "",
        *,
        oauth: Mapping[str, str] | None = None,
        save_credentials: SaveCredentials | None = None,
        on_status: StatusHook | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        rate_limit_per_10s: int | None = None,
        search_per_s: float = 5.0,
        overlap_ms: int = DEFAULT_OVERLAP_MS,
        full_pull_search: bool | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
        sleep: Sleep | None = None,
        clock: Clock | None = None,
        now_ms: NowMs | None = None,
        usage: ApiUsage | None = None,
    ) -> None:
        if not token and not oauth:
            raise ValidationError("a HubSpot access token is required")
        if token and not oauth:
            check_token("token", token)
        self.base_url = base_url.rstrip("/")
        self._token = Secret(token)
        self._now_ms: NowMs = now_ms or instants.now_ms
        if full_pull_search is None:
            full_pull_search = (rate_limit_per_10s or DEFAULT_PER_10S) <= FULL_PULL_SEARCH_MAX_PER_10S
        self._pull_settings = PullSettings(overlap_ms=overlap_ms, split_full_pull=full_pull_search)
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        headers = {"Accept": "application/json"}
        if token and not oauth:
            headers["Authorization"] = f"Bearer {token}"
        self._http = HttpClient(
            crm=CRM,
            base_url=self.base_url,
            error_mapper=hubspot_error,
            headers=headers,
            secrets=(token, quote(token, safe="")),
            transport=transport,
            retry=retry,
            rate_limits={"default": RateLimit(rate_limit_per_10s or DEFAULT_PER_10S, 10.0,
                                              cap=rate_limit_per_10s is not None),
                         "search": RateLimit(search_per_s, 1.0)},
            sleep=sleep,
            clock=clock,
            wall_clock=lambda: self._now_ms() / 1000,
            usage=usage, quota_reader=daily_quota, rate_reader=rate_windows,
            **extra,
        )
        self.oauth: OAuthSession | None = None
        if oauth:
            self.oauth = OAuthSession(self._http, oauth, now_ms=self._now_ms, save_credentials=save_credentials,
                                      on_status=on_status, crm=CRM)
            self._http.auth = self.oauth

    def __repr__(self) -> str:
        return f"HubSpotConnector(base_url={self.base_url!r}, api_calls={self.api_calls})"

    @property
    def api_calls(self) -> int:
        """HTTP requests made so far, retries included."""
        return self._http.api_calls

    def current_credentials(self) -> dict[str, str] | None:
        """An OAuth connection's credentials with its latest tokens (to store); None for a fixed token."""
        return self.oauth.credentials() if self.oauth is not None else None

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._http.aclose()

    # -- account (see :mod:`~.directory`) ---------------------------------------------------------

    async def connection_info(self) -> ConnectionInfo:
        """Who the token belongs to and whether they are a super admin: see
        :func:`.directory.connection_info`. Raises CrmAuthError for a bad token."""
        token = await self.oauth.access_token() if self.oauth is not None else self._token.reveal()
        return await directory.connection_info(self._http, token)

    async def list_owners(self) -> list[CrmOwner]:
        """Every owner, deactivated ones ``active=False``: see :func:`.directory.list_owners`."""
        return await directory.list_owners(self._http)

    async def list_properties(self, object_type: ObjectType) -> list[PropertyMeta]:
        """The contacts object's properties: ``GET /crm/v3/properties/contacts``."""
        return await directory.list_properties(self._http)

    # -- reads ---------------------------------------------------------------------------------------

    async def _list_page(self, after: str | None, query: str) -> Page:
        """A ``GET /crm/v3/objects/contacts`` page: ``query`` from :func:`.pages.list_query`, then ``after``."""
        if after is not None:
            query = f"{query}&{httpx.QueryParams(after=after)}"
        return decode_page(await self._http.request("GET", CONTACTS, params=query), f"GET {CONTACTS}")

    async def _search(self, body: dict[str, Any]) -> Page:
        response = await self._http.request("POST", f"{CONTACTS}/search", json=body, buckets=("default", "search"))
        return decode_page(response, f"POST {CONTACTS}/search")

    def pull_changes(
        self, object_type: ObjectType, cursor: dict[str, Any] | None, *, properties: Sequence[str]
    ) -> AsyncIterator[PullPage]:
        """Records changed since ``cursor`` (None: all of them) as checkpointed pages: an incremental pull
        oldest first; a full pull by id, from both ends at once when ``full_pull_search`` is on.

        See :mod:`leadsync.agent.connectors.hubspot.pull` for the algorithm and cursor shapes.
        ``lastmodifieddate``, ``hs_object_id``, ``hs_merged_object_ids`` and ``email`` are always
        requested besides ``properties``. When ``properties`` are too many for a search body (3,000
        characters), each search page is completed with a batch read.
        """
        wanted = properties_param(properties)

        query = list_query(wanted, archived=False)

        async def list_page(after: str | None) -> Page:
            return await self._list_page(after, query)

        async def hydrate(records: list[CrmRecord]) -> list[CrmRecord]:
            found = await self.read(object_type, [r.id for r in records], properties=wanted)
            return [rec for r in records if (rec := found.get(r.id)) is not None and rec.id == r.id]

        pull = IncrementalPull(object_type, properties=wanted, list_page=list_page, search=self._search,
                               now_ms=self._now_ms, hydrate=hydrate, settings=self._pull_settings,
                               chains=self._list_chains)
        return pull.pages(cursor)

    def _list_chains(self) -> int:
        """List chains a split full pull runs: one per 3.5 requests a second the budget leaves beside the
        searches, rounded down, 1 to 8 (1 at HubSpot's 100 per 10 s, 4 at 190). Measured on the sandbox at
        150 ms: a chain alone makes 5-6 requests a second, about 4 when several share the window; a chain too
        many takes the window's places from the searches, which bring 200 records a page to the list's 100
        (2 chains at 100 per 10 s pulled 8% fewer records a second than 1; at 190, 3 chains 2% fewer than 4)."""
        budget, search = self._http.window("default"), self._http.window("search")
        spare = budget.max_rate / budget.period_s - search.max_rate / search.period_s
        chains = max(1, min(8, int(spare / 3.5)))
        logging.getLogger("leadsync.hubspot").info(
            "hubspot full pull: %d list chains beside the search walker (request budget %g per %g s, searches "
            "%g per %g s)", chains, budget.max_rate, budget.period_s, search.max_rate, search.period_s)
        return chains

    async def list_archived(
        self, object_type: ObjectType, *, properties: Sequence[str]
    ) -> AsyncIterator[list[CrmRecord]]:
        """Archived contacts, page by page: ``GET /crm/v3/objects/contacts?archived=true`` (case B22)."""
        query = list_query(properties_param(properties), archived=True)
        after: str | None = None
        while True:
            page = await self._list_page(after, query)
            yield page_records(page, object_type)
            after = next_after(page)
            if after is None:
                return

    async def read(
        self, object_type: ObjectType, ids: Sequence[str], *, properties: Sequence[str]
    ) -> dict[str, CrmRecord | None]:
        """Records by id: ``POST /crm/v3/objects/contacts/batch/read`` in chunks of 100.

        Ids HubSpot reports missing (207 ``errors`` with OBJECT_NOT_FOUND: deleted or merged away)
        or does not return map to None. ``hs_merged_object_ids`` is always read, so a survivor shows
        its merged ids in ``merged_ids`` (case B21); when HubSpot answers a merged-away id with its
        survivor instead of "not found", that id maps to the survivor record (whose ``id`` differs
        from the one asked for).
        """
        wanted = properties_param(properties)
        unique = list(dict.fromkeys(str(i) for i in ids))
        found: dict[str, CrmRecord | None] = dict.fromkeys(unique)
        for start in range(0, len(unique), BATCH_SIZE):
            chunk = unique[start:start + BATCH_SIZE]
            body = {"inputs": [{"id": i} for i in chunk], "properties": wanted}
            answer = await self._http.request_json("POST", f"{CONTACTS}/batch/read", json=body)
            not_found = {key for item in answer.get("errors") or () if isinstance(item, dict)
                         for key in item_error_keys(item)} if isinstance(answer, dict) else set()
            for obj in results_of(answer):
                record = record_from_wire(obj, object_type)
                if record.id in found:
                    found[record.id] = record
                for merged in record.merged_ids:
                    if merged in found and found[merged] is None and merged not in not_found:
                        found[merged] = record
        return found

    async def find_by_email(
        self, object_type: ObjectType, emails: Sequence[str], *, properties: Sequence[str]
    ) -> dict[str, CrmRecord]:
        """Records by email, keyed by each email exactly as given; emails without a record are absent.

        ``POST /crm/v3/objects/contacts/batch/read`` with ``idProperty: "email"``, 100 addresses a
        request, each sent trimmed and lower-cased (case B11); answers are matched back by
        :func:`~leadsync.common.emails.normalize_email` of the record's ``email``
        (or of one of its ``hs_additional_emails``, which a merge leaves behind). A batch read sees
        fresh writes at once, unlike search, and does not count against the search rate limit.
        Addresses HubSpot does not know (207 ``errors``) are simply absent.
        """
        wanted = properties_param([*properties, ADDITIONAL_EMAILS_PROPERTY])
        keys = list(dict.fromkeys(k for e in emails if (k := normalize_email(e))))
        by_key: dict[str, CrmRecord] = {}
        for start in range(0, len(keys), BATCH_SIZE):
            chunk = keys[start:start + BATCH_SIZE]
            body = {"idProperty": EMAIL_PROPERTY, "inputs": [{"id": k} for k in chunk], "properties": wanted}
            answer = await self._http.request_json("POST", f"{CONTACTS}/batch/read", json=body)
            records = [record_from_wire(obj, object_type) for obj in results_of(answer)]
            for record in records:  # primary addresses first, then addresses merged into a record
                email = record_email(record)
                if email is not None and normalize_email(email) in chunk:
                    by_key.setdefault(normalize_email(email), record)
            for record in records:
                for extra in split_ids(record.properties.get(ADDITIONAL_EMAILS_PROPERTY)):
                    if normalize_email(extra) in chunk:
                        by_key.setdefault(normalize_email(extra), record)
        return {e: by_key[normalize_email(e)] for e in emails if normalize_email(e) in by_key}

    # -- writes -------------------------------------------------------------------------------------

    async def create(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Create records: ``POST /crm/v3/objects/contacts/batch/create``, 100 a batch.

        One result per input, in input order, matched by ``objectWriteTraceId`` (= ``ref``) or email.
        Refused records come back ``ok=False`` with HubSpot's reason (207 errors, or a whole-batch
        400/409 retried without them). Bodies hold exactly the given properties. A create is
        retried only when HubSpot surely did not act (429, 503, no connection), so a timeout cannot
        make duplicates; prefer :meth:`upsert`, which is safe to replay.
        """
        results = await write_all(poster(self._http, "create"), inputs, create_input, input_keys, object_type,
                                  created_by_default=True)
        return [with_existing_id(r) for r in results]

    async def update(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Update records by id: ``POST /crm/v3/objects/contacts/batch/update``, 100 a batch.

        Each input needs ``id``; the body is exactly ``{"id", "properties", "objectWriteTraceId"}``
        with the given keys only, ``""`` to clear (case B19). Results map back by trace id or id;
        OBJECT_NOT_FOUND (deleted or merged away, case B21) comes back ``ok=False`` for that input.

        An input with ``clear_first`` (a lifecycle stage set back on purpose) has those properties set to
        ``""`` in a batch update of its own first: HubSpot's lifecycle stages only move forward through the
        API unless cleared, and a batch does not apply its inputs in order, so the clear cannot share the
        request. When the clear is refused, the input fails with that reason and is not written.
        """
        post = poster(self._http, "update")
        clears = [WriteInput(ref=i.ref, id=i.id, properties=dict.fromkeys(i.clear_first, ""))
                  for i in inputs if i.clear_first]
        refused = {r.ref: msgspec.structs.replace(r, error=f"clearing {', '.join(clears[n].properties)} before "
                                                             f"setting it back was refused: {r.error}")
                   for n, r in enumerate(await write_all(post, clears, update_input, input_keys, object_type,
                                                         created_by_default=False)) if not r.ok}
        rest = [i for i in inputs if i.ref not in refused]
        written = {r.ref: r for r in await write_all(post, rest, update_input, input_keys, object_type,
                                                     created_by_default=False)}
        return [refused.get(i.ref) or written[i.ref] for i in inputs]

    async def upsert(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """Create or update by email: ``POST /crm/v3/objects/contacts/batch/upsert`` with
        ``idProperty: "email"``, 100 a batch; idempotent, so a replay after a crash makes no duplicate.

        The key is the input's ``email`` property, trimmed and lower-cased; ``created`` is HubSpot's
        ``new``. An input without an email fails alone.
        """
        return await write_all(poster(self._http, "upsert"), inputs, upsert_input, input_keys, object_type,
                               created_by_default=False)

    async def archive(self, object_type: ObjectType, ids: Sequence[str]) -> list[WriteResult]:
        """Archive (delete) records: ``POST /crm/v3/objects/contacts/batch/archive``, 100 a batch.

        HubSpot answers 204 without per-record detail; each result's ``ref`` is the id. A whole-batch
        refusal is isolated like other writes.
        """
        async def post(batch_inputs: list[dict[str, Any]]) -> Any:
            await self._http.request("POST", f"{CONTACTS}/batch/archive", json={"inputs": batch_inputs})
            return {"results": [{"id": item["id"]} for item in batch_inputs]}

        inputs = [WriteInput(ref=str(i), properties={}, id=str(i)) for i in ids]
        results = await write_all(post, inputs, lambda inp: {"id": inp.id}, input_keys, object_type,
                                  created_by_default=False)
        return [WriteResult(ref=r.ref, ok=True, id=r.ref) if r.ok else r for r in results]


if TYPE_CHECKING:
    def _conforms(connector: HubSpotConnector) -> Connector:
        """mypy proves HubSpotConnector implements the Connector protocol."""
        return connector
