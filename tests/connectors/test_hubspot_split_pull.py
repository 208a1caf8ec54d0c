"""The split full pull (cursor.py): the list walker upwards and the search walker downwards, meeting in
the middle, with checkpoints that survive a crash anywhere, no duplicates, and no search past the cap."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest

from leadsync.agent.connectors.base import PullPage
from leadsync.agent.connectors.hubspot.client import HubSpotConnector
from leadsync.common.errors import CrmError

from .fake_hubspot import FakeHubSpot
from .fakes import FakeClock, Recorder, json_response

OVERLAP = 5 * 60 * 1000
T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z


def latent(recorder: Recorder) -> httpx.MockTransport:
    """``recorder`` behind a network that lets other tasks run while a request is out (as a real one does)."""

    async def handler(request: httpx.Request) -> httpx.Response:
        for _ in range(3):
            await asyncio.sleep(0)
        return recorder(request)

    return httpx.MockTransport(handler)


def connect(crm: FakeHubSpot, clock: FakeClock, handler: Any = None,
            **options: Any) -> tuple[HubSpotConnector, Recorder]:
    recorder = Recorder(handler or crm.handler, clock)
    settings: dict[str, Any] = {"rate_limit_per_10s": 100, "search_per_s": 5, "full_pull_search": True, **options}
    connector = HubSpotConnector("https://api.hubapi.com", "tok", transport=latent(recorder),
                                 sleep=clock.sleep, clock=clock.monotonic, now_ms=clock.now_ms, **settings)
    return connector, recorder


def seeded(count: int, *, cap: int = 10_000, gaps: bool = True) -> FakeHubSpot:
    """``count`` contacts with ids 1.. (every 7th id deleted when ``gaps``), modified a day before T0."""
    crm = FakeHubSpot(cap=cap)
    for n in range(count):
        crm.add(T0 - 86_400_000 + n, email=f"c{n}@example.com")
    if gaps:
        for contact_id in range(7, count + 1, 7):
            del crm.contacts[contact_id]
    return crm


async def pull(connector: HubSpotConnector, cursor: dict[str, Any] | None) -> list[PullPage]:
    return [page async for page in connector.pull_changes("contact", cursor, properties=["email"])]


async def pages_until_crash(connector: HubSpotConnector, crash_after: int) -> list[PullPage]:
    """The first ``crash_after`` pages of a full pull, as an engine that applied them and then died saw them
    (each page's cursor saved with it); the pull is closed there."""
    iterator = connector.pull_changes("contact", None, properties=["email"])
    applied: list[PullPage] = []
    async for page in iterator:
        applied.append(page)
        if len(applied) == crash_after:
            break
    await iterator.aclose()  # type: ignore[attr-defined]
    return applied


def ids(pages: list[PullPage]) -> list[str]:
    return [r.id for page in pages for r in page.records]


def every_id(crm: FakeHubSpot) -> Counter[str]:
    return Counter(str(i) for i in crm.contacts)


async def test_split_pull_brings_every_record_once_from_both_ends() -> None:
    crm = seeded(2_345)
    connector, recorder = connect(crm, FakeClock(T0))

    pages = await pull(connector, None)

    assert Counter(ids(pages)) == every_id(crm)
    assert [p.done for p in pages].count(True) == 1 and pages[-1].done
    newest = max(c.updated_ms for c in crm.contacts.values())
    assert pages[-1].cursor == {"mode": "search", "since_ms": newest - OVERLAP}
    assert crm.lists > 0 and crm.searches, "both walkers should have worked"
    assert all("after" not in body for body in crm.searches)
    assert all(body["sorts"] == [{"propertyName": "hs_object_id", "direction": "DESCENDING"}]
               for body in crm.searches)
    # the walkers stop once what they fetched meets: at most a page each past the meeting point
    live = len(crm.contacts)
    list_records = sum(1 for page in pages for r in page.records if int(r.id) <= max_list_id(recorder))
    floor = -(-list_records // 100) + -(-(live - list_records) // 200)
    assert crm.lists + len(crm.searches) <= floor + 2
    for page in pages[:-1]:
        assert page.cursor is not None and page.cursor["mode"] == "split"
    assert {p.total for p in pages} <= {None, live}


def max_list_id(recorder: Recorder) -> int:
    """The highest id the list walker was answered with (its pages are requested in order)."""
    afters = [int(s.params["after"][0]) for s in recorder.sent if s.method == "GET" and "after" in s.params]
    return max(afters, default=0) + 100


async def test_checkpoints_resume_after_a_crash_at_any_page_without_duplicates_or_gaps() -> None:
    crm = seeded(1_500)
    connector, _ = connect(crm, FakeClock(T0))
    whole = await pull(connector, None)
    assert len(whole) > 6

    for crash_after in range(1, len(whole)):
        # the engine saved page k's cursor in the same transaction as page k, then the agent died
        applied = await pages_until_crash(connect(crm, FakeClock(T0))[0], crash_after)
        saved = applied[-1].cursor
        assert saved is not None
        resumed = await pull(connect(crm, FakeClock(T0))[0], saved) if not applied[-1].done else []
        assert Counter(ids([*applied, *resumed])) == every_id(crm), f"crash after page {crash_after}"
        assert (resumed or applied)[-1].done


async def test_a_failed_request_mid_pull_leaves_a_checkpoint_that_resumes_exactly() -> None:
    crm = seeded(1_200, gaps=False)
    clock = FakeClock(T0)
    calls = 0

    def failing(request: httpx.Request, body: Any) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 6:
            return json_response(400, {"status": "error", "message": "boom", "category": "VALIDATION_ERROR"})
        return crm.handler(request, body)

    connector, _ = connect(crm, clock, failing)
    applied: list[PullPage] = []
    with pytest.raises(CrmError):
        async for page in connector.pull_changes("contact", None, properties=["email"]):
            applied.append(page)
    assert applied and not applied[-1].done
    resumed = await pull(connect(crm, FakeClock(T0))[0], applied[-1].cursor)
    assert Counter(ids([*applied, *resumed])) == every_id(crm)


async def test_the_search_walker_never_pages_past_the_cap() -> None:
    crm = seeded(6_000, cap=1_000)  # far more than one query may page through
    connector, _ = connect(crm, FakeClock(T0), rate_limit_per_10s=1_000, search_per_s=1_000)

    pages = await pull(connector, None)

    assert Counter(ids(pages)) == every_id(crm)
    assert all("after" not in body and body["limit"] == 200 for body in crm.searches)
    assert len(crm.searches) * 200 > 1_000  # the search walker went well past the cap, by keyset


async def test_records_created_and_edited_during_the_split_pull_arrive_on_the_next_pull() -> None:
    crm = seeded(1_000, gaps=False)
    clock = FakeClock(T0)
    x, y = crm.contacts[500], crm.contacts[990]

    def during(kind: str, n: int) -> None:
        if kind == "list" and n == 1:
            crm.edit(x.id, T0 + 6_000, email="x.edited@example.com")
            crm.edit(y.id, T0 + 8_000, email="y.edited@example.com")
            crm.add(T0 + 9_000, email="new@example.com")

    crm.after_hook = during
    connector, _ = connect(crm, clock)
    first = await pull(connector, None)
    crm.after_hook = None
    clock.advance(60)

    second = await pull(connector, first[-1].cursor)

    latest = {r.id: r for page in [*first, *second] for r in page.records}
    assert set(latest) == {str(i) for i in crm.contacts}
    assert latest[str(x.id)].properties["email"] == "x.edited@example.com"
    assert latest[str(y.id)].properties["email"] == "y.edited@example.com"
    assert first[-1].cursor is not None and first[-1].cursor["since_ms"] <= T0 - OVERLAP


async def test_an_empty_crm_ends_at_once() -> None:
    crm = FakeHubSpot()
    connector, _ = connect(crm, FakeClock(T0))

    pages = await pull(connector, None)

    assert ids(pages) == [] and pages[-1].done
    assert pages[-1].cursor == {"mode": "search", "since_ms": T0 - OVERLAP}


async def test_prefetch_stays_bounded_while_the_caller_is_slow() -> None:
    crm = seeded(5_000, gaps=False)
    connector, recorder = connect(crm, FakeClock(T0))
    iterator = connector.pull_changes("contact", None, properties=["email"])

    await iterator.__anext__()
    for _ in range(200):  # the caller applies its page slowly: the walkers may only run ahead so far
        await asyncio.sleep(0)

    prefetch = connector._pull_settings.prefetch_pages
    walkers = connector._list_chains() + 1
    assert walkers == 2  # one list chain at 100 per 10 s
    assert len(recorder.sent) <= 1 + prefetch + walkers  # in hand, queued, one waiting to be queued per walker
    await iterator.aclose()  # type: ignore[attr-defined]


async def test_a_split_cursor_from_elsewhere_is_refused() -> None:
    from leadsync.common.errors import ValidationError

    connector, _ = connect(FakeHubSpot(), FakeClock(T0))
    with pytest.raises(ValidationError):
        await pull(connector, {"mode": "split", "started_at_ms": "yesterday"})


async def test_too_many_properties_keep_the_full_pull_on_the_list() -> None:
    crm = seeded(450)
    connector, _ = connect(crm, FakeClock(T0))
    many = [f"custom_property_with_a_long_name_{n}" for n in range(120)]

    pages = [p async for p in connector.pull_changes("contact", None, properties=many)]

    assert Counter(ids(pages)) == every_id(crm)
    assert crm.searches == [] and crm.reads == 0


@pytest.mark.parametrize(("budget", "split"), [(100, True), (190, True), (1_000, True), (1_000_000_000, False)])
async def test_the_search_walker_joins_when_requests_are_budgeted_like_hubspot(budget: int, split: bool) -> None:
    crm = seeded(450)
    connector, _ = connect(crm, FakeClock(T0), rate_limit_per_10s=budget, full_pull_search=None)

    pages = await pull(connector, None)

    assert Counter(ids(pages)) == every_id(crm)
    assert bool(crm.searches) is split


def chain_starts(recorder: Recorder) -> set[int]:
    """Where list chains started: the ``after`` of list requests that do not continue an earlier page."""
    afters = [int(s.params["after"][0]) for s in recorder.sent if s.method == "GET" and "after" in s.params]
    return {a for a in afters if not any(0 < a - b <= 100 for b in afters)}


@pytest.mark.parametrize("budget", [190, 1_000])
async def test_several_chains_at_a_larger_budget_bring_every_record_once(budget: int) -> None:
    crm = seeded(6_000)
    connector, recorder = connect(crm, FakeClock(T0), rate_limit_per_10s=budget)
    assert connector._list_chains() == (4 if budget == 190 else 8)

    pages = await pull(connector, None)

    assert Counter(ids(pages)) == every_id(crm)
    assert len(chain_starts(recorder)) >= 3, "chains should have started in several places"
    live = len(crm.contacts)
    floor = -(-max(0, live - 200 * len(crm.searches)) // 100) + len(crm.searches)
    assert crm.lists + len(crm.searches) <= floor * 1.1 + 8  # a page or so per cut, no more


async def test_k_chain_checkpoints_resume_after_a_crash_at_any_page_without_duplicates_or_gaps() -> None:
    crm = seeded(4_000)
    connector, recorder = connect(crm, FakeClock(T0), rate_limit_per_10s=190)
    whole = await pull(connector, None)
    assert len(chain_starts(recorder)) >= 3 and len(whole) > 20

    for crash_after in range(1, len(whole), 2):
        applied = await pages_until_crash(connect(crm, FakeClock(T0), rate_limit_per_10s=190)[0], crash_after)
        # and a second crash, a few pages into the resumed run (its chains cut segments again)
        saved = applied[-1].cursor
        assert saved is not None
        if not applied[-1].done:
            connector = connect(crm, FakeClock(T0), rate_limit_per_10s=190)[0]
            iterator = connector.pull_changes("contact", saved, properties=["email"])
            async for page in iterator:
                applied.append(page)
                if len(applied) == crash_after + 3 or page.done:
                    break
            await iterator.aclose()  # type: ignore[attr-defined]
        saved = applied[-1].cursor
        resumed = (await pull(connect(crm, FakeClock(T0), rate_limit_per_10s=190)[0], saved)
                   if not applied[-1].done else [])
        assert Counter(ids([*applied, *resumed])) == every_id(crm), f"crash after page {crash_after}"
        assert (resumed or applied)[-1].done


async def test_a_two_walker_cursor_of_the_earlier_pull_resumes_as_one_segment() -> None:
    crm = seeded(3_000, gaps=False)
    old = {"mode": "split", "started_at_ms": T0, "newest_ms": None, "after": "1000", "list_high": 1000,
           "below": 2001}
    connector, _ = connect(crm, FakeClock(T0), rate_limit_per_10s=190)

    resumed = await pull(connector, old)

    assert Counter(ids(resumed)) == Counter(str(i) for i in range(1001, 2001))
    assert resumed[-1].done
