"""HubSpotConnector against the HubSpot sandbox, in-process through ``httpx.ASGITransport``.

The connector and the sandbox share one ManualClock: the connector's sleeps (retries, its own rate
limiter) move the sandbox's time, so HubSpot's rolling limits are checked without real waiting.
HubSpot's own limits stay switched on (190 per 10 s, 5 searches per second): the connector must
stay under them by itself.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from leadsync.agent.connectors.base import CrmRecord, PullPage, WriteInput
from leadsync.agent.connectors.hubspot.client import HubSpotConnector
from leadsync.agent.connectors.hubspot.sandbox import (
    FaultSwitches,
    ManualClock,
    SandboxState,
    create_app,
    serve_in_thread,
)

TOKEN = "pat-sandbox-0123456789abcdef"
T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z
DAY = 86_400_000
OVERLAP = 5 * 60 * 1000


@dataclass
class World:
    clock: ManualClock
    state: SandboxState
    faults: FaultSwitches
    connector: HubSpotConnector

    async def pull(self, cursor: dict[str, Any] | None, properties: list[str] | None = None) -> list[PullPage]:
        return [page async for page in self.connector.pull_changes(
            "contact", cursor, properties=properties or ["email", "firstname", "hubspot_owner_id"])]

    def searches(self) -> int:
        return self.state.requests[("POST", "/crm/v3/objects/contacts/search")]


def shared_clock_connector(clock: ManualClock, **kw: Any) -> HubSpotConnector:
    async def sleep(seconds: float) -> None:
        clock.advance(max(1, math.ceil(seconds * 1000)))

    return HubSpotConnector(kw.pop("base_url", "http://sandbox"), TOKEN, sleep=sleep, clock=lambda: clock() / 1000,
                            now_ms=clock, **kw)


@pytest.fixture
async def world() -> AsyncIterator[World]:
    clock = ManualClock(T0)
    state = SandboxState(clock=clock)
    faults = FaultSwitches()
    app = create_app(state, faults=faults, token=TOKEN)
    connector = shared_clock_connector(clock, transport=httpx.ASGITransport(app=app))
    yield World(clock, state, faults, connector)
    await connector.aclose()


def ids(pages: list[PullPage]) -> list[str]:
    return [r.id for page in pages for r in page.records]


def latest(pages: list[PullPage]) -> dict[str, CrmRecord]:
    return {r.id: r for page in pages for r in page.records}


async def test_b01_25000_changed_contacts_all_arrive_once_without_paging_past_the_cap(world: World) -> None:
    since = T0 - 10 * DAY
    created = [world.state.add_contact({"email": f"c{n}@example.com"}, updated_at_ms=since + 1 + (n // 2) * 30_000)
               for n in range(25_000)]

    pages = await world.pull({"mode": "search", "since_ms": since})

    assert Counter(ids(pages)) == Counter(created)
    assert [p.done for p in pages].count(True) == 1 and pages[-1].done
    assert world.state.status_counts[400] == 0
    assert world.state.rate_limited == 0
    assert world.searches() < 140  # 25,000 / 200 pages, plus one overlap record a page


async def test_b01_more_than_10000_contacts_sharing_one_timestamp_all_arrive_once(world: World) -> None:
    since = T0 - 10 * DAY
    created = [world.state.add_contact({}, updated_at_ms=since + 1 + n) for n in range(3_000)]
    created += [world.state.add_contact({}, updated_at_ms=since + 5_000) for _ in range(12_000)]
    created += [world.state.add_contact({}, updated_at_ms=since + 6_000 + n) for n in range(3_000)]

    pages = await world.pull({"mode": "search", "since_ms": since})

    assert Counter(ids(pages)) == Counter(created)
    assert pages[-1].done
    assert world.state.status_counts[400] == 0
    assert world.state.rate_limited == 0


async def test_b06_edits_during_a_full_pull_land_on_the_next_pull(world: World) -> None:
    world.faults.search_lag_s = 3.0
    created = [world.state.add_contact({"email": f"c{n}@example.com", "firstname": "old"},
                                       updated_at_ms=T0 - DAY + n) for n in range(450)]
    x, y = created[10], created[420]
    started = world.clock()

    iterator = world.connector.pull_changes("contact", None, properties=["email", "firstname"])
    first_page = await iterator.__anext__()
    assert x in [r.id for r in first_page.records] and y not in [r.id for r in first_page.records]
    world.state.update_contact(x, {"firstname": "X edited"}, at_ms=started + 6_000)
    world.state.update_contact(y, {"firstname": "Y edited"}, at_ms=started + 8_000)
    rest = [page async for page in iterator]
    world.clock.advance(60_000)
    second = await world.pull(rest[-1].cursor)

    seen = latest([first_page, *rest, *second])
    assert seen[x].properties["firstname"] == "X edited"
    assert seen[y].properties["firstname"] == "Y edited"
    assert set(seen) == set(created)


async def test_b06_edits_during_an_incremental_pull_land_on_the_next_pull(world: World) -> None:
    world.faults.search_lag_s = 3.0
    since = T0 - DAY
    created = [world.state.add_contact({"firstname": "old"}, updated_at_ms=since + 1 + n) for n in range(700)]
    x, y = created[5], created[650]
    world.clock.advance(5_000)  # past the search index lag
    started = world.clock()

    iterator = world.connector.pull_changes("contact", {"mode": "search", "since_ms": since},
                                            properties=["firstname"])
    first_page = await iterator.__anext__()
    world.state.update_contact(x, {"firstname": "X edited"}, at_ms=started + 6_000)
    world.state.update_contact(y, {"firstname": "Y edited"}, at_ms=started + 8_000)
    rest = [page async for page in iterator]
    world.clock.advance(60_000)
    second = await world.pull(rest[-1].cursor, ["firstname"])

    seen = latest([first_page, *rest, *second])
    assert seen[x].properties["firstname"] == "X edited"
    assert seen[y].properties["firstname"] == "Y edited"


async def test_b17_owners_include_the_deactivated_ones(world: World) -> None:
    team = world.state.add_team("East")
    world.state.add_owner("ann@corp.com", "Ann", "Active", owner_id="1", team_ids=[team.id], super_admin=True)
    world.state.add_owner("bob@corp.com", "Bob", "Left", owner_id="2", archived=True)
    contact = world.state.add_contact({"email": "c@example.com", "hubspot_owner_id": "2"},
                                      updated_at_ms=T0 - 1000)

    owners = {o.id: o for o in await world.connector.list_owners()}
    pages = await world.pull(None)

    assert owners["1"].active and owners["1"].teams[0].name == "East" and owners["1"].user_id is not None
    assert not owners["2"].active and owners["2"].email == "bob@corp.com" and owners["2"].user_id is None
    assert latest(pages)[contact].properties["hubspot_owner_id"] == "2"


async def test_connection_info_names_the_super_admin(world: World) -> None:
    world.state.add_owner("admin@corp.com", "Ada", "Admin", super_admin=True)

    info = await world.connector.connection_info()

    assert info.user_email == "admin@corp.com" and info.is_admin
    assert info.account_id == str(world.state.portal_id)


async def test_list_properties_reads_the_sandbox_definitions(world: World) -> None:
    props = {p.name: p for p in await world.connector.list_properties("contact")}

    assert props["email"].unique
    assert props["interests"].multi and props["interests"].type == "enumeration"
    assert props["lastmodifieddate"].read_only
    assert props["lead_score"].type == "number"


async def test_upsert_twice_creates_once(world: World) -> None:
    inputs = [WriteInput(ref=f"l{n}", properties={"email": f"Person{n}@Example.com", "firstname": f"P{n}"})
              for n in range(3)]

    first = await world.connector.upsert("contact", inputs)
    again = await world.connector.upsert("contact", inputs)

    assert [r.created for r in first] == [True, True, True]
    assert [r.created for r in again] == [False, False, False]
    assert [r.id for r in first] == [r.id for r in again]
    assert all(r.ok for r in [*first, *again])
    assert len(world.state.live_contact_ids()) == 3


async def test_b21_a_merged_contact_is_visible_from_its_survivor(world: World) -> None:
    survivor = world.state.add_contact({"email": "keep@example.com"}, updated_at_ms=T0 - 2 * DAY)
    merged = world.state.add_contact({"email": "gone@example.com"}, updated_at_ms=T0 - 2 * DAY)
    world.state.merge_contacts(survivor, merged, at_ms=T0 - 1000)

    found = await world.connector.read("contact", [survivor, merged], properties=["email"])
    update = await world.connector.update("contact", [WriteInput(ref="local-202", id=merged,
                                                                 properties={"firstname": "x"})])
    pulled = latest(await world.pull({"mode": "search", "since_ms": T0 - DAY}))
    by_email = await world.connector.find_by_email("contact", ["gone@example.com"], properties=[])

    record = found[survivor]
    assert record is not None and merged in record.merged_ids
    assert found[merged] is None
    assert not update[0].ok and update[0].error_code == "OBJECT_NOT_FOUND"
    assert merged in pulled[survivor].merged_ids
    assert by_email["gone@example.com"].id == survivor


async def test_b21_when_hubspot_resolves_a_merged_id_it_maps_to_the_survivor(world: World) -> None:
    world.faults.merged_ids_resolve = True
    survivor = world.state.add_contact({"email": "keep@example.com"})
    merged = world.state.add_contact({"email": "gone@example.com"})
    world.state.merge_contacts(survivor, merged)

    found = await world.connector.read("contact", [merged], properties=[])

    record = found[merged]
    assert record is not None and record.id == survivor and merged in record.merged_ids


async def test_b22_archived_contacts_show_only_in_the_archived_listing(world: World) -> None:
    keep = world.state.add_contact({"email": "keep@example.com"}, updated_at_ms=T0 - DAY)
    gone = world.state.add_contact({"email": "gone@example.com"}, updated_at_ms=T0 - DAY)
    world.state.archive_contact(gone)

    pulled = latest(await world.pull(None))
    archived = [r for page in [p async for p in world.connector.list_archived("contact", properties=["email"])]
                for r in page]

    assert set(pulled) == {keep}
    assert [r.id for r in archived] == [gone] and archived[0].archived


@pytest.mark.parametrize("whole_batch_refused", [False, True])
async def test_b23_one_invalid_email_fails_alone(world: World, whole_batch_refused: bool) -> None:
    world.faults.reject_batch_if_any_invalid = whole_batch_refused
    inputs = [WriteInput(ref=f"l{n}", properties={"email": "not an email" if n == 41 else f"p{n}@example.com"})
              for n in range(100)]

    results = await world.connector.create("contact", inputs)

    assert sum(r.ok for r in results) == 99
    assert [r.ref for r in results if not r.ok] == ["l41"]
    assert results[41].error and "not an email" in results[41].error
    assert len(world.state.live_contact_ids()) == 99
    assert all(r.id and world.state.get_contact(r.id) for r in results if r.ok)


async def test_b19_update_clears_and_sets_exactly_the_given_properties(world: World) -> None:
    contact = world.state.add_contact({"email": "a@example.com", "phone": "555", "lead_score": "12"})

    (result,) = await world.connector.update("contact", [WriteInput(ref="l1", id=contact,
                                                                    properties={"phone": "", "lead_score": "0"})])

    snapshot = world.state.get_contact(contact)
    assert result.ok and snapshot is not None
    assert snapshot.properties.get("phone") in ("", None)
    assert snapshot.properties.get("lead_score") == "0"
    assert snapshot.properties.get("fax") is None


async def test_b11_an_email_with_case_and_whitespace_is_found(world: World) -> None:
    contact = world.state.add_contact({"email": " John.Doe@Example.COM\n"})

    found = await world.connector.find_by_email("contact", ["john.doe@example.com"], properties=[])

    assert found["john.doe@example.com"].id == contact


async def test_b15_search_and_batch_update_succeed_on_the_third_attempt(world: World) -> None:
    contact = world.state.add_contact({"email": "a@example.com"}, updated_at_ms=T0 - 1000)
    world.faults.fail_next("/crm/v3/objects/contacts/search", "POST", 429, times=2, retry_after=1)
    world.faults.fail_next("/crm/v3/objects/contacts/batch/update", "POST", 429, times=2, retry_after=1)
    start = world.clock()

    pages = await world.pull({"mode": "search", "since_ms": T0 - DAY})
    after_pull = world.clock()
    (result,) = await world.connector.update("contact", [WriteInput(ref="l", id=contact,
                                                                    properties={"firstname": "B"})])

    assert pages[-1].done and ids(pages) == [contact]
    assert result.ok
    assert after_pull - start >= 2_000 and world.clock() - after_pull >= 2_000
    assert world.state.rate_limited == 4


async def test_a_pull_stays_under_hubspots_rate_limits(world: World) -> None:
    world.faults.rate_limit_per_10s = 100
    world.faults.search_rate_limit_per_s = 4
    since = T0 - DAY
    for n in range(3_000):
        world.state.add_contact({}, updated_at_ms=since + 1 + n)

    pages = await world.pull({"mode": "search", "since_ms": since})
    await world.connector.read("contact", [str(101 + n) for n in range(3_000)], properties=[])

    assert len(ids(pages)) == 3_000
    assert world.state.rate_limited == 0


async def test_a_dropped_connection_is_retried_over_a_real_socket() -> None:
    clock = ManualClock(T0)
    state = SandboxState(clock=clock)
    faults = FaultSwitches()
    state.add_owner("ann@corp.com", "Ann", "A")
    faults.fail_next("/crm/v3/owners", "GET", 0, times=1)
    with serve_in_thread(create_app(state, faults=faults, token=TOKEN)) as server:
        connector = shared_clock_connector(clock, base_url=server.url)
        try:
            owners = await connector.list_owners()
        finally:
            await connector.aclose()

    assert [o.email for o in owners] == ["ann@corp.com"]
    assert connector.api_calls == 3  # dropped + retried active listing + archived listing


@pytest.mark.parametrize("whole_batch_refused", [False, True])
async def test_a_create_with_a_secondary_email_is_refused_naming_the_contact(world: World,
                                                                            whole_batch_refused: bool) -> None:
    world.faults.reject_batch_if_any_invalid = whole_batch_refused
    existing = world.state.add_contact({"email": "ann@old.example",
                                        "hs_additional_emails": "x@y.example;Ann@New.example"})
    body = {"inputs": [{"properties": {"email": "ann@new.example"}, "objectWriteTraceId": "t1"},
                       {"properties": {"email": "fresh@example.com"}, "objectWriteTraceId": "t2"}]}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(world.state, faults=world.faults,
                                                                              token=TOKEN)),
                                 base_url="http://sandbox", headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        answer = await http.post("/crm/v3/objects/contacts/batch/create", json=body)
    error = answer.json() if whole_batch_refused else answer.json()["errors"][0]
    assert answer.status_code == (409 if whole_batch_refused else 207)
    assert (error["category"], error["message"]) == ("CONFLICT", f"Contact already exists. Existing ID: {existing}")

    results = await world.connector.create("contact", [
        WriteInput(ref="a", properties={"email": " ANN@new.example"}),
        WriteInput(ref="b", properties={"email": "other@example.com"})])

    assert (results[0].ok, results[0].error_code, results[0].existing_id) == (False, "CONFLICT", existing)
    assert results[1].ok and results[1].created
