"""The incremental pull: which HubSpot requests to make, in what order, and what cursor to save.

Two modes, named in the cursor:

``{"mode": "list", "after": str | None, "started_at_ms": T, "newest_ms": int | None}``
    A full pull walks ``GET /crm/v3/objects/contacts`` (no 10,000 cap, cheapest; ordered by id, so
    edits during the walk move nothing). The checkpoint after each page resumes the walk; the last
    page hands over to search mode from ``min(T, newest seen) - overlap``, where ``T`` is the wall
    clock when the pull *started* (case B06: never the newest modified time alone).

``{"mode": "split", "started_at_ms": T, "newest_ms": int | None, "below": int | None, "segments": [...],
"after_is_id": bool}``
    The full pull when the request budget is HubSpot's (``PullSettings.split_full_pull``): list chains and
    a search walker over the id space at once. The id space is cut into segments ``[lo, end)``; a list
    chain pages ``GET /crm/v3/objects/contacts`` upwards through one (100 a page, starting at ``after = lo -
    1``: HubSpot's ``after`` is an object id); the search walker pages ``POST .../search`` downwards from
    the highest id by keyset (``hs_object_id LT below`` sorted by ``hs_object_id`` descending, 200 a page,
    never ``after``, so no query nears the 10,000-result cap) and meets the chain of the top segment. Each
    walker has one request in flight; the chains are one per 3.5 requests a second the budget leaves beside
    the searches (1 at HubSpot's 100 per 10 s, where 5 are left beside the 5 searches; 4 at 190), and a
    chain that reaches the end of its segment takes half of the largest one left (a third of the top one,
    which the search shares). Pages are
    yielded as they arrive, each trimmed to the ids of its segment not yielded yet; each checkpoint lists
    the segments not done (``lo``, ``end``, the highest id held, the ``after`` to resume at) and ``below``
    (the search holds every id ``>= below``), so a crash resumes every chain with no gap and no duplicate;
    pages fetched but not yet applied are fetched again (:mod:`~leadsync.agent.connectors.hubspot.split_plan`).
    HubSpot documents ``after`` as opaque: no segment is cut before a list page showed its ``after`` is an
    id, and when one shows it is not, the pull logs why and goes on as one list chain and the search walker
    (``after_is_id`` false; :mod:`~leadsync.agent.connectors.hubspot.split_pull`).
    The last page hands over to search mode exactly like the list mode. A cursor of the two-walker pull
    before it (``after``, ``list_high``, ``below``) resumes as one segment.

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

This module picks the mode from the cursor and walks the list; the split walkers and their checkpoint are in
:mod:`~leadsync.agent.connectors.hubspot.split_pull`, the incremental window in
:mod:`~leadsync.agent.connectors.hubspot.search_window`, what they share (reading pages, search bodies,
prefetching) in :mod:`~leadsync.agent.connectors.hubspot.pull_paging`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from leadsync.agent.connectors.base import ObjectType, PullPage
from leadsync.agent.connectors.hubspot.pull_paging import (
    Hydrate,
    ListPage,
    SearchPage,
    handover,
    next_after,
    page_records,
    prefetch,
    search_fits,
)
from leadsync.agent.connectors.hubspot.search_window import SearchWindow
from leadsync.agent.connectors.hubspot.split_plan import SplitCheckpoint
from leadsync.agent.connectors.hubspot.split_pull import SplitPull
from leadsync.agent.connectors.hubspot.wire import SYSTEM_PROPERTIES, properties_param
from leadsync.agent.connectors.incremental import DEFAULT_OVERLAP_MS
from leadsync.common.errors import ValidationError
from leadsync.common.instants import NowMs


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


class IncrementalPull:
    """One pull of one object type, as an async iterator of :class:`PullPage` (see the module doc).

    ``chains()`` is how many list chains a split full pull runs. Raises CrmProtocolError for answers that
    break HubSpot's paging contract, ValidationError for a cursor this module did not write, and whatever
    the fetch functions raise.
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
        chains: Callable[[], int] = lambda: 1,
    ) -> None:
        self.object_type = object_type
        self.properties = properties_param(properties)
        self._list_page = list_page
        self._now_ms = now_ms
        self.settings = settings or PullSettings()
        fits = search_fits(self.properties, self.settings.search_limit)
        # a search page completed by batch reads costs 3 calls for 200 records: the list is cheaper
        self._split = self.settings.split_full_pull and fits
        self.search_properties = self.properties if fits else list(SYSTEM_PROPERTIES)
        self._split_pull = SplitPull(
            object_type, list_page=list_page, search=search, search_properties=self.search_properties,
            search_limit=self.settings.search_limit, overlap_ms=self.settings.overlap_ms,
            queue_depth=self.settings.prefetch_pages, chains=chains)
        self._window = SearchWindow(
            object_type, search=search, search_properties=self.search_properties,
            search_limit=self.settings.search_limit, overlap_ms=self.settings.overlap_ms, now_ms=now_ms,
            hydrate=None if fits else hydrate)

    def pages(self, cursor: Mapping[str, Any] | None) -> AsyncIterator[PullPage]:
        """Pages from ``cursor`` (None: a full pull) to the end; the last one has ``done=True``."""
        if cursor is None and self._split:
            return self._split_pull.pages(SplitCheckpoint(self._now_ms()))
        if cursor is not None and cursor.get("mode") == "split":
            split = SplitCheckpoint.from_cursor(cursor)
            if split is None:
                raise ValidationError(f"not a HubSpot pull cursor: {dict(cursor)!r}")
            return self._split_pull.pages(split)  # its walkers run ahead already
        return prefetch(self._pages(cursor), self.settings.prefetch_pages)

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
                return self._window.pages(since)
        raise ValidationError(f"not a HubSpot pull cursor: {dict(cursor)!r}")

    async def _list_mode(
        self, after: str | None, started: int, newest: int | None
    ) -> AsyncIterator[PullPage]:
        """The full pull by the list alone, upwards by id from ``after``; the last page hands over."""
        overlap = self.settings.overlap_ms
        while True:
            page = await self._list_page(after)
            records = page_records(page, self.object_type)
            for record in records:
                if newest is None or record.updated_at_ms > newest:
                    newest = record.updated_at_ms
            after = next_after(page)
            if after is None:
                yield PullPage(records=records, cursor=handover(started, newest, overlap), done=True)
                return
            yield PullPage(records=records, cursor={"mode": "list", "after": after, "started_at_ms": started,
                                                    "newest_ms": newest})
