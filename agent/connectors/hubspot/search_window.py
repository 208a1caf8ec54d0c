"""The incremental pull: a window of ``lastmodifieddate`` from the cursor to the wall clock at the start,
walked by fresh searches anchored at the newest time seen, and by ``hs_object_id`` keyset through blocks of
records sharing one time (the ``"search"`` cursor of :mod:`~leadsync.agent.connectors.hubspot.pull`, whose
docstring gives the algorithm).

Raises CrmProtocolError for answers that break HubSpot's paging contract and whatever the fetch
functions raise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from leadsync.agent.connectors.base import CrmRecord, ObjectType, PullPage
from leadsync.agent.connectors.hubspot.pull_paging import (
    Hydrate,
    SearchPage,
    next_after,
    object_id,
    page_records,
    page_total,
    search_body,
    search_filter,
)
from leadsync.agent.connectors.hubspot.wire import ID_PROPERTY, MODIFIED_PROPERTY, format_ms
from leadsync.agent.connectors.incremental import checkpoint_ms
from leadsync.common.errors import CrmProtocolError
from leadsync.common.instants import NowMs


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


class SearchWindow:
    """The incremental pulls of ``object_type``: :meth:`pages` from a ``since_ms`` to the wall clock.

    ``search_properties`` are what each search asks for, ``search_limit`` its page size, ``overlap_ms``
    the checkpoint's overlap; ``hydrate`` (None: the searches ask for every wanted property) completes
    each page with a batch read.
    """

    def __init__(
        self,
        object_type: ObjectType,
        *,
        search: SearchPage,
        search_properties: Sequence[str],
        search_limit: int,
        overlap_ms: int,
        now_ms: NowMs,
        hydrate: Hydrate | None,
    ) -> None:
        self.object_type = object_type
        self._search = search
        self.search_properties = search_properties
        self.search_limit = search_limit
        self.overlap_ms = overlap_ms
        self._now_ms = now_ms
        self._hydrate = hydrate

    async def pages(self, since: int) -> AsyncIterator[PullPage]:
        """Records modified in ``[since, now)`` oldest first, each page checkpointed; the last has ``done=True``
        and ``total`` is the first search's (the window's size, for progress)."""
        started = self._now_ms()
        limit = self.search_limit
        upper = search_filter(MODIFIED_PROPERTY, "LT", format_ms(started))
        boundary = _Boundary()
        lower = search_filter(MODIFIED_PROPERTY, "GTE", format_ms(since))
        total: int | None = None
        while True:
            body = search_body([lower, upper], MODIFIED_PROPERTY, self.search_properties, limit)
            page = await self._search(body)
            if total is None:
                total = page_total(page)  # the first query spans the whole pull: its size, for progress
            records = page_records(page, self.object_type)
            more = next_after(page) is not None and bool(records)
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
                lower = search_filter(MODIFIED_PROPERTY, "GT", format_ms(block_time))
            else:
                assert boundary.time is not None  # records were non-empty
                lower = search_filter(MODIFIED_PROPERTY, "GTE", format_ms(boundary.time))

    def _checkpoint(self, since: int, started: int, boundary: _Boundary) -> dict[str, Any]:
        return {"mode": "search", "since_ms": checkpoint_ms(since, boundary.time, started, self.overlap_ms)}

    async def _complete(self, records: list[CrmRecord]) -> list[CrmRecord]:
        if self._hydrate is None or not records:
            return records
        return await self._hydrate(records)

    async def _block(
        self, t: int, boundary: _Boundary, since: int, started: int, total: int | None
    ) -> AsyncIterator[PullPage]:
        """Every record modified at exactly ``t``, by keyset on ``hs_object_id``, not yet yielded."""
        limit = self.search_limit
        at_t = search_filter(MODIFIED_PROPERTY, "EQ", format_ms(t))
        last_id: int | None = None
        while True:
            filters = [at_t] if last_id is None else [at_t, search_filter(ID_PROPERTY, "GT", str(last_id))]
            page = await self._search(search_body(filters, ID_PROPERTY, self.search_properties, limit))
            records = page_records(page, self.object_type)
            fresh = [r for r in records if not boundary.is_seen(r)]
            for record in fresh:
                boundary.add(record)
            if records:
                newest_id = max(object_id(r) for r in records)
                if last_id is not None and newest_id <= last_id:
                    raise CrmProtocolError("HubSpot ignored the hs_object_id keyset filter", crm="hubspot")
                last_id = newest_id
            if fresh:
                yield PullPage(records=await self._complete(fresh), cursor=self._checkpoint(since, started, boundary),
                               total=total)
            if not records or next_after(page) is None:
                return
