"""The split full pull's walkers: list chains upwards through the segments of the id space and a search
walker down from the highest id, meeting the top chain (the segments and the ``"split"`` checkpoint are in
:mod:`~leadsync.agent.connectors.hubspot.split_plan`; the algorithm in
:mod:`~leadsync.agent.connectors.hubspot.pull`). Each walker has one request in flight; how many list chains
run is asked when the pull starts (``chains()``, from the request budget), so a budget larger than one chain
can spend (HubSpot's 190 per 10 s and up) is spent by several.

Raises CrmProtocolError for answers that break HubSpot's paging contract and whatever the fetch
functions raise; a walker's failure is raised at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

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
from leadsync.agent.connectors.hubspot.split_plan import Segment, SplitCheckpoint, View
from leadsync.agent.connectors.hubspot.wire import ID_PROPERTY
from leadsync.common.errors import CrmProtocolError


class SplitPull:
    """One split full pull of ``object_type``: :meth:`pages` from a checkpoint to the handover page.

    ``search_properties`` are what each search asks for (the list asks for what ``list_page`` does),
    ``search_limit`` its page size; ``overlap_ms`` goes into the handover cursor; at most ``queue_depth``
    fetched pages wait for the caller; ``chains()`` is how many list chains to run (>= 1).
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
        chains: Callable[[], int] = lambda: 1,
    ) -> None:
        self._chains = chains
        self.object_type = object_type
        self._list_page = list_page
        self._search = search
        self.search_properties = search_properties
        self.search_limit = search_limit
        self.overlap_ms = overlap_ms
        self.queue_depth = queue_depth

    async def pages(self, split: SplitCheckpoint) -> AsyncIterator[PullPage]:
        """Pages as the walkers bring them, trimmed to ids not yielded yet; the last has ``done=True``."""
        queue: asyncio.Queue[_Fetched | None] = asyncio.Queue(self.queue_depth)
        failures: list[Exception] = []
        fetched = View([Segment(s.lo, s.end, s.after, s.high, s.done) for s in split.view.segments],
                       split.view.below, split.view.search_end)
        plan = _Plan(fetched, split.view)
        chains = max(1, self._chains())
        walkers = [asyncio.ensure_future(_walk(self._chain(plan), queue, failures)) for _ in range(chains)]
        walkers.append(asyncio.ensure_future(_walk(self._search_walker(plan), queue, failures)))
        fresh = split.view.below is None and all(s.high is None for s in split.view.segments)
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
                if item.lo is None:
                    total = item.total if fresh and total is None else total
                    records = split.view.take_search(item.records, end=item.end)
                else:
                    records = split.view.take_list(item.lo, item.records, item.after)
                split.note(records)
                if split.view.done():
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

    async def _chain(self, plan: _Plan) -> AsyncIterator[_Fetched]:
        """One list chain: walks a segment upwards to its end, then takes another (or cuts one) until none is
        left; waits while the search has not said where the top is."""
        while not plan.fetched.done():
            segment = plan.take_segment()
            if segment is None:
                await plan.changed()
                continue
            after = segment.start_after()
            first = True
            while not segment.done:
                page = await self._list_page(after)
                records = page_records(page, self.object_type)
                if first and records and segment.lo > 1 and min(object_id(r) for r in records) < segment.lo - 1:
                    raise CrmProtocolError("HubSpot's list ignored 'after' (not an object id)", crm="hubspot")
                first = False
                after = next_after(page)
                plan.fetched.take_list(segment.lo, records, after)
                plan.touch()
                yield _Fetched(segment.lo, records, after, end=after is None)
                if plan.fetched.find(segment.lo) is None:
                    break

    async def _search_walker(self, plan: _Plan) -> AsyncIterator[_Fetched]:
        """Search pages downwards by ``hs_object_id`` from ``below`` until the bottom or the top list chain."""
        view, limit = plan.fetched, self.search_limit
        below = view.below
        while not (view.last.done or view.search_end):
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
            view.take_search(records, end=end)
            plan.touch()
            total = page.get("total")
            yield _Fetched(None, records, None, end=end, total=total if isinstance(total, int) else None)


@dataclass(slots=True)
class _Fetched:
    """One page a walker fetched: the segment's ``lo`` (None: the search's), its records, the list's next
    ``after``, whether the walker ended; ``total`` of a search."""

    lo: int | None
    records: list[CrmRecord]
    after: str | None
    end: bool
    total: int | None = None


class _Plan:
    """The fetched view the walkers share, and the yielded one that takes the same cuts."""

    def __init__(self, fetched: View, yielded: View) -> None:
        self.fetched, self.yielded = fetched, yielded
        self._changed = asyncio.Event()

    def take_segment(self) -> Segment | None:
        """A segment no chain walks (left by a crash), else one cut from the largest; None: none yet."""
        segment = next((s for s in self.fetched.segments if not s.done and not s.walking), None)
        if segment is None:
            segment = self.fetched.split()
            if segment is not None:
                self.yielded.cut_at(segment.lo)
        if segment is not None:
            segment.walking = True
        return segment

    def touch(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def changed(self) -> None:
        await self._changed.wait()


async def _walk(
    walk: AsyncIterator[_Fetched], queue: asyncio.Queue[_Fetched | None], failures: list[Exception]
) -> None:
    """Run one walker into ``queue``; None when it ends. A failure goes to ``failures`` (then None, to wake
    the reader), so it is raised at once rather than behind pages the other walkers keep queueing."""
    try:
        async for fetched in walk:
            await queue.put(fetched)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        failures.append(exc)
    await queue.put(None)
