"""Pulled pages gathered into one transaction each while the store is busy (agent/engine/page_groups.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from leadsync.agent.connectors.base import CrmRecord, PullPage
from leadsync.agent.engine.page_groups import merge_pages, page_groups
from leadsync.common.errors import CrmProtocolError


def page(first: int, count: int, cursor: dict[str, Any] | None = None, *, done: bool = False,
         total: int | None = None) -> PullPage:
    records = [CrmRecord(id=str(n), object_type="contact", properties={"email": f"c{n}@example.org"},
                         updated_at_ms=1_700_000_000_000)
               for n in range(first, first + count)]
    return PullPage(records=records, cursor=cursor, done=done, total=total)


class Source:
    """An async iterator of ``pages`` (then ``error`` if given), each page sent once :meth:`allow` lets it
    through; records how far it was read and whether it was closed."""

    def __init__(self, pages: list[PullPage], error: Exception | None = None, *, allowed: int = 10**6) -> None:
        self.pages = pages
        self.error = error
        self.fetched = 0
        self.closed = False
        self.allowed = allowed
        self._changed = asyncio.Event()

    def allow(self, count: int) -> None:
        self.allowed = count
        self._changed.set()

    async def __aiter__(self) -> AsyncIterator[PullPage]:
        try:
            for p in self.pages:
                while self.fetched >= self.allowed:
                    self._changed.clear()
                    await self._changed.wait()
                await asyncio.sleep(0)  # a fetch takes a turn of the loop at least
                self.fetched += 1
                yield p
            if self.error is not None:
                raise self.error
        finally:
            self.closed = True


def ids(p: PullPage) -> list[int]:
    return [int(r.id) for r in p.records]


async def until(check: Any) -> None:
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


async def test_pages_waiting_while_the_caller_works_come_as_one_in_order_with_the_last_cursor() -> None:
    source = Source([page(10 * k, 10, {"after": 10 * k + 10}, total=50) for k in range(5)], allowed=1)
    groups = page_groups(source.__aiter__(), max_records=1_000)
    first = await anext(groups)  # nothing else was waiting: the first page alone
    assert ids(first) == list(range(10))
    source.allow(5)
    await until(lambda: source.fetched == 5)  # the caller is busy while the rest arrive
    second = await anext(groups)
    assert ids(second) == list(range(10, 50))
    assert second.cursor == {"after": 50} and second.total == 50
    with pytest.raises(StopAsyncIteration):
        await anext(groups)
    assert source.closed


async def test_no_more_than_max_records_wait_and_a_larger_page_is_never_split() -> None:
    source = Source([page(0, 30, {"n": 1}), page(30, 30, {"n": 2}), page(60, 30, {"n": 3}), page(90, 250, {"n": 4}),
                     page(340, 5, {"n": 5}, done=True)])
    groups = page_groups(source.__aiter__(), max_records=50)
    seen: list[list[int]] = []
    async for group in groups:
        seen.append(ids(group))
        for _ in range(20):  # the caller busy for some turns of the loop: the fetcher fills the next group
            await asyncio.sleep(0)
    assert len(seen) < 5  # pages were grouped
    assert [n for g in seen for n in g] == list(range(345))  # every record once, in order
    assert all(len(g) <= 50 + 30 for g in seen if len(g) != 250)  # at most max_records, plus the page that crossed it
    assert [len(g) for g in seen if len(g) >= 250] == [250]  # the large page alone, whole


async def test_pages_fetched_before_an_error_are_handed_over_then_the_error_is_raised() -> None:
    source = Source([page(0, 10, {"n": 1}), page(10, 10, {"n": 2})], CrmProtocolError("bad page", crm="hubspot"))
    groups = page_groups(source.__aiter__())
    got: list[int] = []
    with pytest.raises(CrmProtocolError, match="bad page"):
        async for group in groups:
            got += ids(group)
            await until(lambda: source.closed)
    assert got == list(range(20))


async def test_closing_the_groups_stops_the_fetching_and_closes_the_pages() -> None:
    source = Source([page(10 * k, 10, {"n": k}) for k in range(100)], allowed=1)
    groups = page_groups(source.__aiter__(), max_records=20)
    assert ids(await anext(groups)) == list(range(10))
    source.allow(100)
    await until(lambda: source.fetched >= 3)
    await groups.aclose()
    assert source.closed and source.fetched < 100


def test_a_merged_group_keeps_the_last_cursor_given_and_the_last_page_done() -> None:
    merged = merge_pages([page(0, 2, {"n": 1}, total=9), page(2, 2, None), page(4, 1, None, done=True)])
    assert ids(merged) == [0, 1, 2, 3, 4]
    assert merged.cursor == {"n": 1}  # safe: the pages after it are applied with it, nothing skipped on resume
    assert merged.done and merged.total == 9
    alone = page(0, 1, {"n": 1})
    assert merge_pages([alone]) is alone
