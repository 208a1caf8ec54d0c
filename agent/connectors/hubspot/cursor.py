"""The incremental pull: which HubSpot requests to make, in what order, and what cursor to save.

Two modes, named in the cursor:

``{"mode": "list", "after": str | None, "started_at_ms": T, "newest_ms": int | None}``
    A full pull walks ``GET /crm/v3/objects/contacts`` (no 10,000 cap, cheapest; ordered by id, so
    edits during the walk move nothing). The checkpoint after each page resumes the walk; the last
    page hands over to search mode from ``min(T, newest seen) - overlap``, where ``T`` is the wall
    clock when the pull *started* (case B06: never the newest modified time alone).

``{"mode": "search", "since_ms": S}``
    An incremental pull asks ``POST /crm/v3/objects/contacts/search`` for ``lastmodifieddate GTE
    S AND lastmodifieddate LT T`` sorted ascending, 200 a page
    (https://developers.hubspot.com/docs/api/crm/search). Instead of paging with ``after`` (offset
    paging shifts when records are edited mid-pull, and stops at 10,000 results, case B01), every
    page is a fresh query anchored at the newest time seen so far (``GTE t_last``); the records at
    exactly ``t_last`` that were already yielded are dropped. When a full page holds a single time
    ``t`` (a block of >= 200 records sharing one ``lastmodifieddate``), the block is walked by
    keyset on ``hs_object_id`` (``lastmodifieddate EQ t AND hs_object_id GT last_id``, sorted by
    ``hs_object_id``), then the pull continues with ``lastmodifieddate GT t``. No query ever pages,
    so none reaches the cap, none loops and none stops short. The upper bound ``LT T`` makes a pull
    finish even while the CRM keeps changing; later edits belong to the next pull.

HubSpot refuses search bodies over 3,000 characters; when the wanted properties would not fit, the
search asks only for the system properties and each page is completed by ``hydrate`` (a batch read).

``PullPage.total`` is the first search's ``total`` (the records the pull will bring, for progress);
a full pull leaves it None (the list endpoint does not count).

Checkpoints (``PullPage.cursor``) are ``max(S, min(t_last, T) - overlap)``; the final cursor is
``max(S, min(T, newest seen) - overlap)``. The overlap (default 5 minutes) covers search-index lag
("search results trail fresh writes by a few seconds") and clock skew between leadsync and HubSpot;
records seen again inside it are harmless (the engine ignores values equal to its base). Every
filter value is epoch milliseconds (UTC) as a string, identical under any time zone (case B09).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from leadsync.agent.connectors.base import CrmRecord, ObjectType, PullPage
from leadsync.agent.connectors.hubspot.wire import (
    ID_PROPERTY,
    MODIFIED_PROPERTY,
    SYSTEM_PROPERTIES,
    format_ms,
    properties_param,
    record_from_wire,
)
from leadsync.common.errors import CrmProtocolError, ValidationError

DEFAULT_OVERLAP_MS: Final = 5 * 60 * 1000
MAX_SEARCH_BODY_CHARS: Final = 3_000
"""HubSpot refuses a search request body longer than this."""

ListPage = Callable[[str | None], Awaitable[Mapping[str, Any]]]
"""``await list_page(after)`` -> a ``GET /crm/v3/objects/contacts`` answer."""
SearchPage = Callable[[dict[str, Any]], Awaitable[Mapping[str, Any]]]
"""``await search(body)`` -> a ``POST /crm/v3/objects/contacts/search`` answer."""
NowMs = Callable[[], int]
"""Wall clock, epoch milliseconds UTC."""
Hydrate = Callable[[list[CrmRecord]], Awaitable[list[CrmRecord]]]
"""``await hydrate(records)`` -> the same records (those still there) with every wanted property."""


@dataclass(frozen=True, slots=True)
class PullSettings:
    """Knobs of the pull: overlap in ms, page sizes (HubSpot: list <= 100, search <= 200)."""

    overlap_ms: int = DEFAULT_OVERLAP_MS
    list_limit: int = 100
    search_limit: int = 200


def _next_after(page: Mapping[str, Any]) -> str | None:
    paging = page.get("paging")
    if not isinstance(paging, dict):
        return None
    nxt = paging.get("next")
    if not isinstance(nxt, dict):
        return None
    after = nxt.get("after")
    if after is None or after == "":
        raise CrmProtocolError("HubSpot said more results follow but gave no 'after'", crm="hubspot")
    return str(after)


def _results(page: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    results = page.get("results")
    if not isinstance(results, list):
        raise CrmProtocolError("HubSpot answered a page without 'results'", crm="hubspot")
    return [r for r in results if isinstance(r, dict)]


def _object_id(record: CrmRecord) -> int:
    try:
        return int(record.id)
    except ValueError:
        raise CrmProtocolError(f"HubSpot object id {record.id!r} is not numeric", crm="hubspot") from None


class _Boundary:
    """The newest modified time yielded so far and the ids yielded at exactly that time."""

    def __init__(self) -> None:
        self.time: int | None = None
        self.ids: set[str] = set()

    def is_seen(self, record: CrmRecord) -> bool:
        return record.updated_at_ms == self.time and record.id in self.ids

    def add(self, record: CrmRecord) -> None:
        t = record.updated_at_ms
        if self.time is None or t > self.time:
            self.time, self.ids = t, {record.id}
        elif t == self.time:
            self.ids.add(record.id)


def search_body(
    filters: Sequence[Mapping[str, str]], sort_property: str, properties: Sequence[str], limit: int
) -> dict[str, Any]:
    """A search request body: one filter group (AND), one ascending sort, no ``after``."""
    return {
        "filterGroups": [{"filters": [dict(f) for f in filters]}],
        "sorts": [{"propertyName": sort_property, "direction": "ASCENDING"}],
        "properties": list(properties),
        "limit": limit,
    }


def search_fits(properties: Sequence[str], limit: int) -> bool:
    """Whether a pull's search body asking for ``properties`` stays under HubSpot's 3,000 characters."""
    widest = [_filter(MODIFIED_PROPERTY, "GTE", "9" * 13), _filter(MODIFIED_PROPERTY, "LT", "9" * 13)]
    body = search_body(widest, MODIFIED_PROPERTY, properties, limit)
    return len(msgspec.json.encode(body)) <= MAX_SEARCH_BODY_CHARS - 100


def _filter(prop: str, operator: str, value: str) -> dict[str, str]:
    return {"propertyName": prop, "operator": operator, "value": value}


class IncrementalPull:
    """One pull of one object type, as an async iterator of :class:`PullPage` (see the module doc).

    Raises CrmProtocolError for answers that break HubSpot's paging contract, ValidationError for
    a cursor this module did not write, and whatever the fetch functions raise.
    """

    def __init__(
        self,
        object_type: ObjectType,
        *,
        properties: Sequence[str],
        list_page: ListPage,
        search: SearchPage,
        now_ms: NowMs,
        hydrate: Hydrate,
        settings: PullSettings | None = None,
    ) -> None:
        self.object_type = object_type
        self.properties = properties_param(properties)
        self._list_page = list_page
        self._search = search
        self._now_ms = now_ms
        self.settings = settings or PullSettings()
        self._hydrate: Hydrate | None = None
        self.search_properties = self.properties
        if not search_fits(self.properties, self.settings.search_limit):
            self._hydrate = hydrate
            self.search_properties = list(SYSTEM_PROPERTIES)

    def pages(self, cursor: Mapping[str, Any] | None) -> AsyncIterator[PullPage]:
        """Pages from ``cursor`` (None: a full pull) to the end; the last one has ``done=True``."""
        if cursor is None:
            return self._list_mode(None, self._now_ms(), None)
        mode = cursor.get("mode")
        if mode == "list":
            started = cursor.get("started_at_ms")
            after = cursor.get("after")
            newest = cursor.get("newest_ms")
            if (isinstance(started, int) and (after is None or isinstance(after, str))
                    and (newest is None or isinstance(newest, int))):
                return self._list_mode(after, started, newest)
        elif mode == "search":
            since = cursor.get("since_ms")
            if isinstance(since, int) and not isinstance(since, bool):
                return self._search_mode(since)
        raise ValidationError(f"not a HubSpot pull cursor: {dict(cursor)!r}")

    # -- full pull -------------------------------------------------------------------------------

    async def _list_mode(
        self, after: str | None, started: int, newest: int | None
    ) -> AsyncIterator[PullPage]:
        overlap = self.settings.overlap_ms
        while True:
            page = await self._list_page(after)
            records = [record_from_wire(obj, self.object_type) for obj in _results(page)]
            for record in records:
                if newest is None or record.updated_at_ms > newest:
                    newest = record.updated_at_ms
            after = _next_after(page)
            if after is None:
                since = started if newest is None else min(started, newest)
                yield PullPage(records=records, cursor={"mode": "search", "since_ms": since - overlap},
                               done=True)
                return
            yield PullPage(records=records, cursor={"mode": "list", "after": after, "started_at_ms": started,
                                                    "newest_ms": newest})

    # -- incremental pull ------------------------------------------------------------------------

    def _checkpoint(self, since: int, started: int, boundary: _Boundary) -> dict[str, Any]:
        t = since if boundary.time is None else min(boundary.time, started)
        return {"mode": "search", "since_ms": max(since, t - self.settings.overlap_ms)}

    async def _search_mode(self, since: int) -> AsyncIterator[PullPage]:
        started = self._now_ms()
        limit = self.settings.search_limit
        upper = _filter(MODIFIED_PROPERTY, "LT", format_ms(started))
        boundary = _Boundary()
        lower = _filter(MODIFIED_PROPERTY, "GTE", format_ms(since))
        total: int | None = None
        while True:
            body = search_body([lower, upper], MODIFIED_PROPERTY, self.search_properties, limit)
            page = await self._search(body)
            if total is None and isinstance(page.get("total"), int):
                total = page["total"]  # the first query spans the whole pull: its size, for progress
            records = [record_from_wire(obj, self.object_type) for obj in _results(page)]
            more = _next_after(page) is not None and bool(records)
            fresh = [r for r in records if not boundary.is_seen(r)]
            for record in fresh:
                boundary.add(record)
            out = await self._complete(fresh)
            if not more:
                yield PullPage(records=out, cursor=self._checkpoint(since, started, boundary), done=True,
                               total=total)
                return
            yield PullPage(records=out, cursor=self._checkpoint(since, started, boundary), total=total)
            times = {r.updated_at_ms for r in records}
            if len(records) >= limit and len(times) == 1:
                block_time = times.pop()
                async for block_page in self._block(block_time, boundary, since, started, total):
                    yield block_page
                lower = _filter(MODIFIED_PROPERTY, "GT", format_ms(block_time))
            else:
                assert boundary.time is not None  # records were non-empty
                lower = _filter(MODIFIED_PROPERTY, "GTE", format_ms(boundary.time))

    async def _complete(self, records: list[CrmRecord]) -> list[CrmRecord]:
        if self._hydrate is None or not records:
            return records
        return await self._hydrate(records)

    async def _block(
        self, t: int, boundary: _Boundary, since: int, started: int, total: int | None
    ) -> AsyncIterator[PullPage]:
        """Every record modified at exactly ``t``, by keyset on ``hs_object_id``, not yet yielded."""
        limit = self.settings.search_limit
        at_t = _filter(MODIFIED_PROPERTY, "EQ", format_ms(t))
        last_id: int | None = None
        while True:
            filters = [at_t] if last_id is None else [at_t, _filter(ID_PROPERTY, "GT", str(last_id))]
            page = await self._search(search_body(filters, ID_PROPERTY, self.search_properties, limit))
            records = [record_from_wire(obj, self.object_type) for obj in _results(page)]
            fresh = [r for r in records if not boundary.is_seen(r)]
            for record in fresh:
                boundary.add(record)
            if records:
                newest_id = max(_object_id(r) for r in records)
                if last_id is not None and newest_id <= last_id:
                    raise CrmProtocolError("HubSpot ignored the hs_object_id keyset filter", crm="hubspot")
                last_id = newest_id
            if fresh:
                yield PullPage(records=await self._complete(fresh), cursor=self._checkpoint(since, started, boundary),
                               total=total)
            if not records or _next_after(page) is None:
                return
