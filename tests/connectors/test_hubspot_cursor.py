"""The incremental pull (cursor.py) against a small in-memory HubSpot."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from leadsync.agent.connectors.base import PullPage
from leadsync.agent.connectors.hubspot.client import HubSpotConnector
from leadsync.common.errors import ValidationError

from .fake_hubspot import FakeHubSpot
from .fakes import FakeClock, Recorder

OVERLAP = 5 * 60 * 1000
T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z


def connect(crm: FakeHubSpot, clock: FakeClock) -> tuple[HubSpotConnector, Recorder]:
    recorder = Recorder(crm.handler, clock)
    connector = HubSpotConnector("https://api.hubapi.com", "tok", transport=recorder.transport(),
                                 rate_limit_per_10s=10_000, search_per_s=1_000,
                                 sleep=clock.sleep, clock=clock.monotonic, now_ms=clock.now_ms)
    return connector, recorder


async def pull(connector: HubSpotConnector, cursor: dict[str, Any] | None) -> list[PullPage]:
    return [page async for page in connector.pull_changes("contact", cursor, properties=["email", "firstname"])]


def ids(pages: list[PullPage]) -> list[str]:
    return [r.id for page in pages for r in page.records]


async def test_full_pull_lists_everything_then_hands_over_to_search_from_its_start_time() -> None:
    crm = FakeHubSpot()
    for n in range(250):
        crm.add(T0 - 86_400_000 + n, email=f"c{n}@example.com")
    clock = FakeClock(T0)
    connector, recorder = connect(crm, clock)

    pages = await pull(connector, None)

    assert sorted(ids(pages), key=int) == [str(i) for i in range(1, 251)]
    assert [p.done for p in pages] == [False, False, True]
    assert pages[0].cursor == {"mode": "list", "after": "100", "started_at_ms": T0, "newest_ms": T0 - 86_400_000 + 99}
    newest = T0 - 86_400_000 + 249
    assert pages[-1].cursor == {"mode": "search", "since_ms": newest - OVERLAP}
    assert crm.searches == []
    assert all(s.params["limit"] == ["100"] for s in recorder.sent)


async def test_full_pull_resumes_from_a_list_checkpoint() -> None:
    crm = FakeHubSpot()
    for n in range(250):
        crm.add(T0 - 1000 + n)
    connector, _ = connect(crm, FakeClock(T0))

    first = await connector.pull_changes("contact", None, properties=[]).__anext__()
    rest = await pull(connector, first.cursor)

    assert sorted(ids([first, *rest]), key=int) == [str(i) for i in range(1, 251)]
    assert rest[-1].done


async def test_b01_incremental_pull_gets_every_record_without_paging_past_the_cap() -> None:
    crm = FakeHubSpot(cap=1_000)
    since = T0 - 3_600_000
    for n in range(2_500):
        crm.add(since + 1 + n // 3)  # three contacts share each millisecond
    connector, _ = connect(crm, FakeClock(T0))

    pages = await pull(connector, {"mode": "search", "since_ms": since})

    got = ids(pages)
    assert Counter(got) == Counter(str(i) for i in range(1, 2_501))
    assert all("after" not in body for body in crm.searches)
    assert [p.done for p in pages].count(True) == 1 and pages[-1].done
    assert all(body["limit"] == 200 for body in crm.searches)
    assert {p.total for p in pages} == {2_500}  # progress: the first query's total


async def test_b01_a_block_sharing_one_timestamp_is_walked_by_object_id() -> None:
    crm = FakeHubSpot(cap=1_000)
    since = T0 - 3_600_000
    for _ in range(50):
        crm.add(since + 10)
    for _ in range(1_500):
        crm.add(since + 20)  # more than a page and more than the cap share one time
    for _ in range(50):
        crm.add(since + 30)
    connector, _ = connect(crm, FakeClock(T0))

    pages = await pull(connector, {"mode": "search", "since_ms": since})

    assert Counter(ids(pages)) == Counter(str(i) for i in range(1, 1_601))
    keyset = [b for b in crm.searches if b["sorts"][0]["propertyName"] == "hs_object_id"]
    assert keyset, "the block should be walked by hs_object_id"
    assert len(crm.searches) < 30
    assert pages[-1].done


async def test_b06_edits_made_during_a_full_pull_arrive_on_the_next_pull() -> None:
    crm = FakeHubSpot()
    for n in range(300):
        crm.add(T0 - 86_400_000 + n)
    clock = FakeClock(T0)
    x, y = crm.contacts[5], crm.contacts[250]

    def edit_during_pull(kind: str, n: int) -> None:
        if kind == "list" and n == 1:  # after the first page (which holds X) was answered
            crm.edit(x.id, T0 + 6_000, firstname="X edited")
            crm.edit(y.id, T0 + 8_000, firstname="Y edited")

    crm.after_hook = edit_during_pull
    connector, _ = connect(crm, clock)
    first = await pull(connector, None)
    crm.after_hook = None
    clock.advance(60)

    second = await pull(connector, first[-1].cursor)

    latest = {r.id: r for page in [*first, *second] for r in page.records}
    assert latest[str(x.id)].properties["firstname"] == "X edited"
    assert latest[str(x.id)].updated_at_ms == T0 + 6_000
    assert latest[str(y.id)].properties["firstname"] == "Y edited"
    assert first[-1].cursor is not None and first[-1].cursor["since_ms"] <= T0 - OVERLAP


async def test_b06_edits_made_during_an_incremental_pull_arrive_on_the_next_pull() -> None:
    crm = FakeHubSpot()
    since = T0 - 3_600_000
    for n in range(600):
        crm.add(since + 1 + n)
    clock = FakeClock(T0)
    x, y = crm.contacts[3], crm.contacts[550]

    def edit_during_pull(kind: str, n: int) -> None:
        if kind == "search" and n == 1:
            crm.edit(x.id, T0 + 6_000, firstname="X edited")
            crm.edit(y.id, T0 + 8_000, firstname="Y edited")

    crm.after_hook = edit_during_pull
    connector, _ = connect(crm, clock)
    first = await pull(connector, {"mode": "search", "since_ms": since})
    crm.after_hook = None
    clock.advance(60)

    second = await pull(connector, first[-1].cursor)

    assert Counter(ids(first)).keys() >= {str(i) for i in range(1, 601)} - {str(y.id)}
    seen = {r.id: r for page in [*first, *second] for r in page.records}
    assert seen[str(x.id)].updated_at_ms == T0 + 6_000
    assert seen[str(y.id)].updated_at_ms == T0 + 8_000


async def test_checkpoints_resume_without_skipping() -> None:
    crm = FakeHubSpot()
    since = T0 - 3_600_000
    for n in range(900):
        crm.add(since + 1 + n)
    connector, _ = connect(crm, FakeClock(T0))

    iterator = connector.pull_changes("contact", {"mode": "search", "since_ms": since}, properties=[])
    first = await iterator.__anext__()
    second = await iterator.__anext__()
    resumed = await pull(connector, second.cursor)

    assert set(ids([first, second, *resumed])) == {str(i) for i in range(1, 901)}
    assert second.cursor is not None and second.cursor["since_ms"] <= second.records[-1].updated_at_ms


async def test_empty_incremental_pull_keeps_the_cursor() -> None:
    crm = FakeHubSpot()
    connector, _ = connect(crm, FakeClock(T0))

    pages = await pull(connector, {"mode": "search", "since_ms": T0 - 10_000})

    assert len(pages) == 1 and pages[0].done and pages[0].records == []
    assert pages[0].cursor == {"mode": "search", "since_ms": T0 - 10_000}


async def test_a_cursor_from_elsewhere_is_refused() -> None:
    connector, _ = connect(FakeHubSpot(), FakeClock(T0))
    with pytest.raises(ValidationError):
        await pull(connector, {"mode": "offset", "n": 3})


async def test_too_many_properties_for_a_search_body_are_read_in_batches() -> None:
    crm = FakeHubSpot()
    since = T0 - 3_600_000
    many = [f"custom_property_with_a_long_name_{n}" for n in range(120)]
    for n in range(250):
        crm.add(since + 1 + n, custom_property_with_a_long_name_7=f"v{n}")
    connector, _ = connect(crm, FakeClock(T0))

    pages = [p async for p in connector.pull_changes("contact", {"mode": "search", "since_ms": since},
                                                     properties=many)]

    records = [r for p in pages for r in p.records]
    assert len(records) == 250
    assert records[3].properties["custom_property_with_a_long_name_7"] == "v3"
    assert all(len(body["properties"]) == 4 for body in crm.searches)
    assert crm.reads == 3  # 200 + 50 records, 100 per batch read
