"""The split full pull's walkers: list chains upwards through the segments of the id space and a search
walker down from the highest id, meeting the top chain (the segments and the ``"split"`` checkpoint are in
:mod:`~leadsync.agent.connectors.hubspot.split_plan`; the algorithm in
:mod:`~leadsync.agent.connectors.hubspot.pull`). Each walker has one request in flight; how many list chains
run is asked when the pull starts (``chains()``, from the request budget), so a budget larger than one chain
can spend (HubSpot's 190 per 10 s and up) is spent by several.

A chain starts a segment at ``after = lo - 1``, taking HubSpot's ``after`` for an object id, which HubSpot
documents as an opaque cursor. Every list page is checked: the first page of a start made that way must not
hold ids below ``lo - 1`` (else ``after`` was not honoured as an id), and every ``paging.next.after`` must
be a whole number at least the page's highest id (an id cursor names the last or the next id; an offset or a
token does not). When a check fails the pull does not: it logs why (a warning) and goes on as one list chain
and the search walker (:attr:`View.by_id` False: no more cuts; a segment whose start was made from its
``lo`` goes to the chain below it, or is walked from the start of the list; pages of such starts are dropped).

Raises CrmProtocolError for answers that break HubSpot's paging contract and whatever the fetch
functions raise; a walker's failure is raised at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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
    page_total,
    search_body,
    search_filter,
)
from leadsync.agent.connectors.hubspot.split_plan import Segment, SplitCheckpoint, View
from leadsync.agent.connectors.hubspot.wire import ID_PROPERTY
from leadsync.common.errors import CrmError, CrmProtocolError

log = logging.getLogger("leadsync.hubspot")


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
                       split.view.below, split.view.search_end, split.view.by_id)
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
        left; waits while the search has not said where the top is. A page showing that ``after`` is not an
        id turns the pull to one chain (see the module doc)."""
        while not plan.fetched.done():
            segment = plan.take_segment()
            if segment is None:
                await plan.changed()
                continue
            after = segment.start_after(plan.fetched.by_id)
            made_up = segment.after is None and after is not None  # from lo, not from HubSpot's paging
            while not segment.done:
                records, nxt, problem = await self._list(after, made_up)
                if not segment.done and plan.fetched.by_id:
                    problem = problem or not_an_id(records, nxt, after if made_up else None)
                    if problem is not None:
                        plan.fall_back(problem)
                    elif not made_up:
                        plan.after_checked = True
                if made_up and not plan.fetched.by_id and not segment.done:
                    if plan.merge_down(segment):
                        break  # the chain below walks its ids
                    after, made_up = None, False  # nothing below walks them: from the start of the list
                    continue
                made_up = False
                after = nxt
                plan.fetched.take_list(segment.lo, records, after)
                plan.touch()
                yield _Fetched(segment.lo, records, after, end=after is None)
                if plan.fetched.find(segment.lo) is None:
                    break

    async def _list(self, after: str | None, made_up: bool) -> tuple[list[CrmRecord], str | None, str | None]:
        """A list page's records and next ``after``, and why ``after`` is not an id when HubSpot refused
        (HTTP 400) one made from an id (``made_up``); CrmProtocolError when the next ``after`` is the one
        asked (the list would loop)."""
        try:
            page = await self._list_page(after)
        except CrmError as exc:
            if made_up and exc.status == 400:
                return [], None, f"the list refused after={after} (HTTP 400: {exc})"
            raise
        records, nxt = page_records(page, self.object_type), next_after(page)
        if nxt is not None and nxt == after:
            raise CrmProtocolError(f"HubSpot's list answered after={after} with the same 'after'", crm="hubspot")
        return records, nxt, None

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
            yield _Fetched(None, records, None, end=end, total=page_total(page))


def not_an_id(records: Sequence[CrmRecord], after: str | None, asked: str | None) -> str | None:
    """Why a list page shows that HubSpot's ``after`` is not an object id, None when it does not: ``records``
    and ``after`` (its ``paging.next.after``) answered ``asked`` (an ``after`` made from an id; None: one of
    HubSpot's own)."""
    ids = [object_id(r) for r in records]
    if asked is not None and ids and min(ids) < int(asked):
        return f"the list answered after={asked} with ids from {min(ids)}"
    if after is not None and not after.isdigit():
        return f"the list's next 'after' {after!r} is not a number"
    if after is not None and ids and int(after) < max(ids):
        return f"the list's next 'after' {after} is below the page's highest id {max(ids)}"
    return None


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
        self.after_checked = False  # a page of HubSpot's own paging showed its 'after' can be an id
        if not fetched.by_id:  # a checkpoint's segments whose start would be made from lo go to the one below
            for segment in list(fetched.segments):
                if segment.after is None and segment.high is None and segment.lo > 1:
                    self.merge_down(segment)

    def take_segment(self) -> Segment | None:
        """A segment no chain walks (left by a crash), else one cut from the largest once a list page showed
        ``after`` can be an id; None: none yet."""
        segment = next((s for s in self.fetched.segments if not s.done and not s.walking), None)
        if segment is None and self.fetched.by_id and self.after_checked:
            segment = self.fetched.split()
            if segment is not None:
                self.yielded.cut_at(segment.lo)
        if segment is not None:
            segment.walking = True
        return segment

    def fall_back(self, why: str) -> None:
        """HubSpot's ``after`` is not an object id (``why``): both views stop taking it for one."""
        log.warning("hubspot full pull: %s: HubSpot's 'after' is not an object id here; going on with one list "
                    "chain and the search walker", why)
        self.fetched.by_id = self.yielded.by_id = False
        self.touch()

    def merge_down(self, segment: Segment) -> bool:
        """Give ``segment`` (none of its ids held) to the chain of the segment below it, in both views; False
        when none below walks on (it is done)."""
        if not self.fetched.merge_down(segment.lo):
            return False
        merged = self.yielded.merge_down(segment.lo)
        assert merged, "the yielded view lags the fetched one: the segment below is there, not done"
        segment.done = True  # this chain lets it go
        self.touch()
        return True

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
