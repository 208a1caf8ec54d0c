"""The incremental pull: which HubSpot requests to make, in what order, and what cursor to save.

Two modes, named in the cursor:

``{"mode": "list", "after": str | None, "started_at_ms": T, "newest_ms": int | None}``
    A full pull walks ``GET /crm/v3/objects/contacts`` (no 10,000 cap, cheapest; ordered by id, so
    edits during the walk move nothing). The checkpoint after each page resumes the walk; the last
    page hands over to search mode from ``min(T, newest seen) - overlap``, where ``T`` is the wall
    clock when the pull *started* (case B06: never the newest modified time alone).

``{"mode": "split", "started_at_ms": T, "newest_ms": int | None, "after": str | None,
"list_high": int | None, "below": int | None}``
    The full pull when the request budget is HubSpot's (``PullSettings.split_full_pull``): two walkers
    over the id space at once, meeting in the middle. The list walker pages ``GET
    /crm/v3/objects/contacts`` upwards from the lowest id (100 a page, opaque ``after``); the search
    walker pages ``POST .../search`` downwards from the highest id by keyset (``hs_object_id LT
    below`` sorted by ``hs_object_id`` descending, 200 a page, never ``after``, so no query nears the
    10,000-result cap). Each walker is one request in flight, so the pull keeps two busy and spends
    the search budget (5 a second, 200 records each) beside the list's. Pages are yielded as they
    arrive, each trimmed to the ids the other walker has not yielded: the list has yielded every id
    ``<= list_high`` (and resumes with ``after``), the search every id ``>= below``; the pull is done
    when ``list_high >= below - 1``, or when either walker reaches its end. Walkers stop fetching as
    soon as what they *fetched* meets, so the meeting costs at most a page or two. A crash resumes
    both walkers from the last saved checkpoint; pages fetched but not yet applied are fetched again.
    The last page hands over to search mode exactly like the list mode.

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
a list-only full pull leaves it None (the list endpoint does not count); a split pull started from
scratch gives its first search's total (every contact).

Every mode prefetches: its requests run in a task ahead of the caller, at most
``PullSettings.prefetch_pages`` pages ahead (memory stays bounded), so the next request is in flight
while the engine applies the page before it. The caller still sees pages strictly in order.

Checkpoints (``PullPage.cursor``) are ``max(S, min(t_last, T) - overlap)``; the final cursor is
``max(S, min(T, newest seen) - overlap)`` (the rule of :mod:`~leadsync.agent.connectors.incremental`; the
overlap also covers search-index lag: "search results trail fresh writes by a few seconds"). Every
filter value is epoch milliseconds (UTC) as a string, identical under any time zone (case B09).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

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
from leadsync.agent.connectors.incremental import DEFAULT_OVERLAP_MS, checkpoint_ms
from leadsync.common.errors import CrmProtocolError, ValidationError
from leadsync.common.instants import NowMs

MAX_SEARCH_BODY_CHARS: Final = 3_000
"""HubSpot refuses a search request body longer than this."""

ListPage = Callable[[str | None], Awaitable[Mapping[str, Any]]]
"""``await list_page(after)`` -> a ``GET /crm/v3/objects/contacts`` answer."""
SearchPage = Callable[[dict[str, Any]], Awaitable[Mapping[str, Any]]]
"""``await search(body)`` -> a ``POST /crm/v3/objects/contacts/search`` answer."""
Hydrate = Callable[[list[CrmRecord]], Awaitable[list[CrmRecord]]]
"""``await hydrate(records)`` -> the same records (those still there) with every wanted property."""


@dataclass(frozen=True, slots=True)
class PullSettings:
    """Knobs of the pull: overlap in ms, page sizes (HubSpot: list <= 100, search <= 200), whether a
    full pull runs the search walker beside the list walker (``split_full_pull``, see the module doc)
    and how many pages may be fetched ahead of the caller (``prefetch_pages``, >= 1)."""

    overlap_ms: int = DEFAULT_OVERLAP_MS
    list_limit: int = 100
    search_limit: int = 200
    split_full_pull: bool = False
    prefetch_pages: int = 4


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
    filters: Sequence[Mapping[str, str]], sort_property: str, properties: Sequence[str], limit: int,
    direction: Literal["ASCENDING", "DESCENDING"] = "ASCENDING",
) -> dict[str, Any]:
    """A search request body: one filter group (AND), one sort (ascending by default), no ``after``."""
    return {
        "filterGroups": [{"filters": [dict(f) for f in filters]}],
        "sorts": [{"propertyName": sort_property, "direction": direction}],
        "properties": list(properties),
        "limit": limit,
    }


def search_fits(properties: Sequence[str], limit: int) -> bool:
    """Whether a pull's search body asking for ``properties`` stays under HubSpot's 3,000 characters."""
    widest = [_filter(MODIFIED_PROPERTY, "GTE", "9" * 13), _filter(MODIFIED_PROPERTY, "LT", "9" * 13)]
    body = search_body(widest, MODIFIED_PROPERTY, properties, limit)
    return len(msgspec.json.encode(body)) <= MAX_SEARCH_BODY_CHARS - 100


def _handover(started: int, newest: int | None, overlap_ms: int) -> dict[str, Any]:
    """The search-mode cursor a full pull ends with: its list (or split) walk read everything up to the
    newest modified time seen (``newest``; None: no record), and nothing after ``started``."""
    reached = started if newest is None else newest
    return {"mode": "search", "since_ms": checkpoint_ms(None, reached, started, overlap_ms)}


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
        if cursor is None and self._split():
            return self._split_mode(_Split(self._now_ms(), None, None, None, None))
        if cursor is not None and cursor.get("mode") == "split":
            split = _Split.from_cursor(cursor)
            if split is None:
                raise ValidationError(f"not a HubSpot pull cursor: {dict(cursor)!r}")
            return self._split_mode(split)  # its walkers run ahead already
        return _prefetch(self._pages(cursor), self.settings.prefetch_pages)

    def _pages(self, cursor: Mapping[str, Any] | None) -> AsyncIterator[PullPage]:
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

    def _split(self) -> bool:
        # a search page completed by batch reads costs 3 calls for 200 records: the list is cheaper
        return self.settings.split_full_pull and self._hydrate is None

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
                yield PullPage(records=records, cursor=_handover(started, newest, overlap), done=True)
                return
            yield PullPage(records=records, cursor={"mode": "list", "after": after, "started_at_ms": started,
                                                    "newest_ms": newest})

    # -- split full pull -------------------------------------------------------------------------

    async def _split_mode(self, split: _Split) -> AsyncIterator[PullPage]:
        queue: asyncio.Queue[_Fetched | None] = asyncio.Queue(self.settings.prefetch_pages)
        failures: list[Exception] = []
        fetched = _Coverage(split.list_high, split.below)
        walkers = [asyncio.ensure_future(_walk(walk, queue, failures))
                   for walk in (self._list_walker(split.after, fetched), self._search_walker(split.below, fetched))]
        fresh = split.list_high is None and split.below is None
        total: int | None = None
        running = len(walkers)
        try:
            while True:
                item = await queue.get()
                if failures:  # a walker failed: the run fails now, the next one resumes from the checkpoint
                    raise failures[0]
                if item is None:
                    running -= 1
                    if running == 0:
                        raise CrmProtocolError("HubSpot's list and search ended without meeting", crm="hubspot")
                    continue
                if item.kind == "search" and fresh and total is None:
                    total = item.total
                records, done = split.take(item)
                if done:
                    handover = _handover(split.started, split.newest, self.settings.overlap_ms)
                    yield PullPage(records=records, cursor=handover, done=True, total=total)
                    return
                yield PullPage(records=records, cursor=split.cursor(), total=total)
        finally:
            for walker in walkers:
                walker.cancel()
            for walker in walkers:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await walker

    async def _list_walker(self, after: str | None, coverage: _Coverage) -> AsyncIterator[_Fetched]:
        """List pages upwards from ``after`` until the list ends or meets what the search fetched."""
        while not coverage.met():
            page = await self._list_page(after)
            records = [record_from_wire(obj, self.object_type) for obj in _results(page)]
            after = _next_after(page)
            coverage.list_fetched(records, end=after is None)
            yield _Fetched("list", records, after, end=after is None)
            if after is None:
                return

    async def _search_walker(self, below: int | None, coverage: _Coverage) -> AsyncIterator[_Fetched]:
        """Search pages downwards by ``hs_object_id`` from ``below`` until the bottom or the list."""
        limit = self.settings.search_limit
        while not coverage.met():
            bound = _filter(ID_PROPERTY, "GT", "0") if below is None else _filter(ID_PROPERTY, "LT", str(below))
            page = await self._search(search_body([bound], ID_PROPERTY, self.search_properties, limit, "DESCENDING"))
            records = [record_from_wire(obj, self.object_type) for obj in _results(page)]
            if records:
                lowest = min(_object_id(r) for r in records)
                if below is not None and lowest >= below:
                    raise CrmProtocolError("HubSpot ignored the hs_object_id keyset filter", crm="hubspot")
                below = lowest
            end = not records or _next_after(page) is None
            coverage.search_fetched(records, end=end)
            total = page.get("total")
            yield _Fetched("search", records, None, end=end, total=total if isinstance(total, int) else None)
            if end:
                return


    # -- incremental pull ------------------------------------------------------------------------

    def _checkpoint(self, since: int, started: int, boundary: _Boundary) -> dict[str, Any]:
        return {"mode": "search", "since_ms": checkpoint_ms(since, boundary.time, started, self.settings.overlap_ms)}

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


@dataclass(slots=True)
class _Fetched:
    """One page a walker fetched: its records, the list's next ``after``, whether the walker ended."""

    kind: Literal["list", "search"]
    records: list[CrmRecord]
    after: str | None
    end: bool
    total: int | None = None


class _Coverage:
    """What the two walkers have *fetched*: ids ``<= list_high`` and ``>= below`` (walkers stop once met)."""

    def __init__(self, list_high: int | None, below: int | None) -> None:
        self.list_high, self.below = list_high, below
        self.list_end = self.search_end = False

    def met(self) -> bool:
        if self.list_end or self.search_end:
            return True
        return self.list_high is not None and self.below is not None and self.list_high >= self.below - 1

    def list_fetched(self, records: list[CrmRecord], *, end: bool) -> None:
        if records:
            high = max(_object_id(r) for r in records)
            self.list_high = high if self.list_high is None else max(self.list_high, high)
        self.list_end = self.list_end or end

    def search_fetched(self, records: list[CrmRecord], *, end: bool) -> None:
        if records:
            low = min(_object_id(r) for r in records)
            self.below = low if self.below is None else min(self.below, low)
        self.search_end = self.search_end or end


@dataclass(slots=True)
class _Split:
    """What a split pull has *yielded* (its checkpoint): every id ``<= list_high`` (the list resumes at
    ``after``) and every id ``>= below`` (the search resumes below it); None: that walker yielded nothing."""

    started: int
    newest: int | None
    after: str | None
    list_high: int | None
    below: int | None

    @classmethod
    def from_cursor(cls, cursor: Mapping[str, Any]) -> _Split | None:
        values = [cursor.get(k) for k in ("started_at_ms", "newest_ms", "after", "list_high", "below")]
        started, newest, after, list_high, below = values
        ints = (newest, list_high, below)
        if (not isinstance(started, int) or isinstance(started, bool) or not (after is None or isinstance(after, str))
                or not all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in ints)):
            return None
        if list_high is not None and after is None:
            return None  # the list yielded its last page: that pull was done
        return cls(started, newest, after, list_high, below)

    def cursor(self) -> dict[str, Any]:
        return {"mode": "split", "started_at_ms": self.started, "newest_ms": self.newest, "after": self.after,
                "list_high": self.list_high, "below": self.below}

    def take(self, page: _Fetched) -> tuple[list[CrmRecord], bool]:
        """The records of ``page`` not yielded yet (in the page's order) and whether the pull is now done."""
        ids = [_object_id(r) for r in page.records]
        if page.kind == "list":
            below = self.below
            records = [r for r, i in zip(page.records, ids, strict=True) if below is None or i < below]
            crossed = below is not None and len(records) < len(ids)
            if ids:
                self.list_high = max(ids) if self.list_high is None else max(self.list_high, max(ids))
            self.after = page.after
        else:
            high = self.list_high
            records = [r for r, i in zip(page.records, ids, strict=True) if high is None or i > high]
            crossed = high is not None and len(records) < len(ids)
            if ids:
                self.below = min(ids) if self.below is None else min(self.below, min(ids))
        for record in records:
            if self.newest is None or record.updated_at_ms > self.newest:
                self.newest = record.updated_at_ms
        met = self.list_high is not None and self.below is not None and self.list_high >= self.below - 1
        return records, page.end or crossed or met


async def _walk(
    walk: AsyncIterator[_Fetched], queue: asyncio.Queue[_Fetched | None], failures: list[Exception]
) -> None:
    """Run one walker into ``queue``; None when it ends. A failure goes to ``failures`` (then None, to wake
    the reader), so it is raised at once rather than behind pages the other walker keeps queueing."""
    try:
        async for fetched in walk:
            await queue.put(fetched)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        failures.append(exc)
    await queue.put(None)


async def _prefetch(source: AsyncIterator[PullPage], depth: int) -> AsyncIterator[PullPage]:
    """``source``'s pages in order, fetched by a task at most ``depth`` pages ahead of the caller."""
    queue: asyncio.Queue[PullPage | BaseException | None] = asyncio.Queue(max(1, depth))

    async def run() -> None:
        try:
            async for page in source:
                await queue.put(page)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await queue.put(exc)
            return
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        await queue.put(None)

    task = asyncio.ensure_future(run())
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
            if item.done:
                return
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
