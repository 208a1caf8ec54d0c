"""The split full pull: a list walker up from the lowest id and a search walker down from the highest,
meeting in the middle, and the checkpoint of what they yielded (the ``"split"`` cursor of
:mod:`~leadsync.agent.connectors.hubspot.pull`, whose docstring gives the algorithm).

Raises CrmProtocolError for answers that break HubSpot's paging contract and whatever the fetch
functions raise; a walker's failure is raised at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from leadsync.agent.connectors.base import CrmRecord, ObjectType, PullPage
from leadsync.agent.connectors.hubspot.pull_paging import (
    ListPage,
    SearchPage,
    handover,
    next_after,
    object_id,
    page_records,
    search_body,
    search_filter,
)
from leadsync.agent.connectors.hubspot.wire import ID_PROPERTY
from leadsync.common.errors import CrmProtocolError


@dataclass(slots=True)
class SplitCheckpoint:
    """What a split pull has *yielded* (its checkpoint): every id ``<= list_high`` (the list resumes at
    ``after``) and every id ``>= below`` (the search resumes below it); None: that walker yielded nothing.
    ``started``: the wall clock (epoch ms) when the pull started; ``newest``: the newest modified time
    yielded."""

    started: int
    newest: int | None
    after: str | None
    list_high: int | None
    below: int | None

    @classmethod
    def from_cursor(cls, cursor: Mapping[str, Any]) -> SplitCheckpoint | None:
        """The checkpoint a ``"split"`` cursor saved; None when it is not one this module wrote."""
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
        """The ``"split"`` cursor to save."""
        return {"mode": "split", "started_at_ms": self.started, "newest_ms": self.newest, "after": self.after,
                "list_high": self.list_high, "below": self.below}

    def take(self, page: _Fetched) -> tuple[list[CrmRecord], bool]:
        """The records of ``page`` not yielded yet (in the page's order) and whether the pull is now done."""
        ids = [object_id(r) for r in page.records]
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


class SplitPull:
    """One split full pull of ``object_type``: :meth:`pages` from a checkpoint to the handover page.

    ``search_properties`` are what each search asks for (the list asks for what ``list_page`` does),
    ``search_limit`` its page size; ``overlap_ms`` goes into the handover cursor; at most ``queue_depth``
    fetched pages wait for the caller.
    """

    def __init__(
        self,
        object_type: ObjectType,
        *,
        list_page: ListPage,
        search: SearchPage,
        search_properties: Sequence[str],
        search_limit: int,
        overlap_ms: int,
        queue_depth: int,
    ) -> None:
        self.object_type = object_type
        self._list_page = list_page
        self._search = search
        self.search_properties = search_properties
        self.search_limit = search_limit
        self.overlap_ms = overlap_ms
        self.queue_depth = queue_depth

    async def pages(self, split: SplitCheckpoint) -> AsyncIterator[PullPage]:
        """Pages as either walker brings them, trimmed to ids not yielded yet; the last has ``done=True``."""
        queue: asyncio.Queue[_Fetched | None] = asyncio.Queue(self.queue_depth)
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
                    yield PullPage(records=records, cursor=handover(split.started, split.newest, self.overlap_ms),
                                   done=True, total=total)
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
            records = page_records(page, self.object_type)
            after = next_after(page)
            coverage.list_fetched(records, end=after is None)
            yield _Fetched("list", records, after, end=after is None)
            if after is None:
                return

    async def _search_walker(self, below: int | None, coverage: _Coverage) -> AsyncIterator[_Fetched]:
        """Search pages downwards by ``hs_object_id`` from ``below`` until the bottom or the list."""
        limit = self.search_limit
        while not coverage.met():
            bound = (search_filter(ID_PROPERTY, "GT", "0") if below is None
                     else search_filter(ID_PROPERTY, "LT", str(below)))
            page = await self._search(search_body([bound], ID_PROPERTY, self.search_properties, limit, "DESCENDING"))
            records = page_records(page, self.object_type)
            if records:
                lowest = min(object_id(r) for r in records)
                if below is not None and lowest >= below:
                    raise CrmProtocolError("HubSpot ignored the hs_object_id keyset filter", crm="hubspot")
                below = lowest
            end = not records or next_after(page) is None
            coverage.search_fetched(records, end=end)
            total = page.get("total")
            yield _Fetched("search", records, None, end=end, total=total if isinstance(total, int) else None)
            if end:
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
            high = max(object_id(r) for r in records)
            self.list_high = high if self.list_high is None else max(self.list_high, high)
        self.list_end = self.list_end or end

    def search_fetched(self, records: list[CrmRecord], *, end: bool) -> None:
        if records:
            low = min(object_id(r) for r in records)
            self.below = low if self.below is None else min(self.below, low)
        self.search_end = self.search_end or end


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
