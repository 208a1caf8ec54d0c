"""SalesforceConnector reads against the sandbox: the incremental pull (cases B03, B09), deletes,
conversions, reads by id and by email."""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import parse_qs

import pytest

from leadsync.agent.connectors.base import PullPage
from leadsync.agent.connectors.salesforce.sandbox import FaultSwitches, ManualClock, SandboxState
from leadsync.agent.connectors.salesforce.sandbox.seed import seed_directory
from leadsync.common.errors import CrmProtocolError, ValidationError
from tests.salesforce.conftest import T0, MakeConnector, collect

OVERLAP_MS = 5 * 60 * 1000


@pytest.fixture
def state(clock: ManualClock) -> SandboxState:
    """An org with its users and no Leads or Contacts yet: each test adds exactly what it needs."""
    org = SandboxState(clock=clock)
    seed_directory(org, seed=7)
    return org


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp() * 1000)


def sent_queries(state: SandboxState) -> list[str]:
    return [parse_qs(r.query)["q"][0] for r in state.request_log if r.path.endswith(("/query", "/queryAll"))]


def records(pages: list[PullPage]) -> list[str]:
    return [r.id for page in pages for r in page.records]


async def test_b03_a_pull_follows_next_records_url_through_1000_1000_137(
        make_connector: MakeConnector, state: SandboxState, faults: FaultSwitches) -> None:
    ids = [state.add_record("Lead", {"LastName": f"L{n}", "Company": "Paging"}, modstamp_ms=T0 - 3_600_000 + n)
           for n in range(2137)]
    faults.query_page_size = 1000
    pages = await collect(make_connector().pull_changes("lead", None, properties=["LastName"]))
    assert [len(p.records) for p in pages] == [1000, 1000, 137]
    assert [p.done for p in pages] == [False, False, True]
    assert records(pages) == ids and pages[0].total == 2137
    page_paths = [r.path for r in state.request_log if "/queryAll/" in r.path]
    first_page = next(r for r in state.request_log if r.path.endswith("/queryAll"))
    assert len(page_paths) == 2 and all(p.startswith("/services/data/v60.0/queryAll/01g") for p in page_paths)
    assert page_paths[0].endswith("-1000") and page_paths[1].endswith("-2000") and first_page.status == 200
    assert {r.status for r in state.request_log} == {200}


async def test_b03_done_false_without_next_records_url_fails_the_pull(
        make_connector: MakeConnector, state: SandboxState, faults: FaultSwitches) -> None:
    for n in range(250):
        state.add_record("Lead", {"LastName": f"L{n}", "Company": "Paging"}, modstamp_ms=T0 - 60_000)
    faults.update({"query_page_size": 100, "drop_next_records_url": True})
    seen: list[PullPage] = []
    with pytest.raises(CrmProtocolError) as caught:
        async for page in make_connector().pull_changes("lead", None, properties=[]):
            seen.append(page)
    assert "nextRecordsUrl" in caught.value.message and "done: false" in caught.value.message
    assert not any(page.done for page in seen)


async def test_b09_the_soql_and_the_cursor_are_the_same_in_every_time_zone(
        make_connector: MakeConnector, state: SandboxState, clock: ManualClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    stamps = ["2024-03-10T23:30:00-08:00", "2024-03-11T05:00:00+05:30", "2024-03-11T07:00:00Z"]
    ids = {text: state.add_record("Lead", {"LastName": "Tz", "Company": "B09"}, modstamp_ms=ms(text))
           for text in stamps}
    clock.set(ms("2024-03-11T12:00:00Z"))  # the day after the US switch to daylight saving time
    since = {"since_ms": ms("2024-03-10T00:00:00Z")}
    runs: dict[str, tuple[list[str], list[str], object]] = {}
    for zone in ("America/New_York", "Asia/Kolkata"):
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        state.reset_counters()
        pages = await collect(make_connector().pull_changes("lead", since, properties=["LastName"]))
        runs[zone] = (sent_queries(state), records(pages), pages[-1].cursor)
    monkeypatch.delenv("TZ")
    time.tzset()
    assert runs["America/New_York"] == runs["Asia/Kolkata"]
    queries, order, cursor = runs["Asia/Kolkata"]
    assert order == [ids[stamps[1]], ids[stamps[2]], ids[stamps[0]]]  # 23:30Z (10th), 07:00Z, 07:30Z
    assert cursor == {"since_ms": ms("2024-03-11T07:30:00Z") - OVERLAP_MS}
    assert queries == ["SELECT Id, SystemModstamp, CreatedDate, IsDeleted, MasterRecordId, Email, OwnerId, "
                       "IsConverted, ConvertedContactId, LastName FROM Lead WHERE SystemModstamp >= "
                       "2024-03-10T00:00:00.000Z AND SystemModstamp < 2024-03-11T12:00:00.000Z "
                       "ORDER BY SystemModstamp ASC, Id ASC LIMIT 50000"]


async def test_values_are_canonical_text(make_connector: MakeConnector, state: SandboxState,
                                         clock: ManualClock) -> None:
    lead_id = state.add_record("Lead", {"LastName": "Types", "Company": "Co", "HasOptedOutOfEmail": True,
                                        "NumberOfEmployees": 12, "AnnualRevenue": 1500000.0, "Lead_Score__c": 0.25,
                                        "Interests__c": "Webinars;Events", "Email": "t@example.com"})
    clock.advance(1000)  # a pull reads up to the moment it starts
    pages = await collect(make_connector().pull_changes(
        "lead", None, properties=["HasOptedOutOfEmail", "NumberOfEmployees", "AnnualRevenue", "Lead_Score__c",
                                  "Interests__c", "Owner.Email", "Phone", "email"]))
    (record,) = [r for p in pages for r in p.records]
    assert record.id == lead_id and record.updated_at_ms == T0 and record.created_at_ms == T0
    props = record.properties
    assert (props["HasOptedOutOfEmail"], props["IsConverted"], props["IsDeleted"]) == ("true", "false", "false")
    assert (props["NumberOfEmployees"], props["AnnualRevenue"], props["Lead_Score__c"]) == ("12", "1500000.0", "0.25")
    assert props["Interests__c"] == "Webinars;Events" and props["Phone"] is None
    assert props["Owner.Email"] is not None and "@" in props["Owner.Email"]
    assert props["Email"] == "t@example.com" and props["SystemModstamp"] == "2025-01-01T00:00:00.000+0000"


async def test_deletes_come_back_archived_in_the_next_pull(make_connector: MakeConnector, state: SandboxState,
                                                           clock: ManualClock) -> None:
    keep, gone = (state.add_record("Contact", {"LastName": name}) for name in ("Keep", "Gone"))
    clock.advance(1000)
    connector = make_connector()
    first = await collect(connector.pull_changes("contact", None, properties=["LastName"]))
    assert records(first) == [keep, gone] and not any(r.archived for p in first for r in p.records)
    clock.advance(60_000)
    state.delete_record("Contact", gone)
    clock.advance(60_000)
    second = await collect(connector.pull_changes("contact", first[-1].cursor, properties=["LastName"]))
    changed = {r.id: r for p in second for r in p.records}
    assert changed[gone].archived is True and changed[gone].properties["IsDeleted"] == "true"
    archived = [r for page in await collect(connector.list_archived("contact", properties=[])) for r in page]
    assert [r.id for r in archived] == [gone]
    assert await connector.deleted_since("contact", T0, T0 + 5 * 60_000) == [(gone, T0 + 61_000)]


async def test_a_conversion_shows_on_the_lead_and_brings_a_contact(make_connector: MakeConnector, state: SandboxState,
                                                                   clock: ManualClock) -> None:
    lead_id = state.add_record("Lead", {"LastName": "Convert", "Company": "Co", "Email": "c@example.com"})
    clock.advance(1000)
    connector = make_connector()
    leads = await collect(connector.pull_changes("lead", None, properties=[]))
    contacts = await collect(connector.pull_changes("contact", None, properties=[]))
    clock.advance(120_000)
    contact_id = state.convert_lead(lead_id)
    clock.advance(60_000)
    (lead,) = [r for p in await collect(connector.pull_changes("lead", leads[-1].cursor, properties=[]))
               for r in p.records]
    assert lead.properties["IsConverted"] == "true" and lead.properties["ConvertedContactId"] == contact_id
    (contact,) = [r for p in await collect(connector.pull_changes("contact", contacts[-1].cursor, properties=[]))
                  for r in p.records]
    assert contact.id == contact_id and contact.properties["Email"] == "c@example.com"


async def test_windows_walk_a_block_of_one_second_by_id(make_connector: MakeConnector, state: SandboxState) -> None:
    ids = [state.add_record("Lead", {"LastName": f"Same{n}", "Company": "Co"}, modstamp_ms=T0 - 60_000)
           for n in range(120)]
    connector = make_connector(window=50)
    pages = await collect(connector.pull_changes("lead", {"since_ms": T0 - 3_600_000}, properties=[]))
    assert records(pages) == ids and [p.done for p in pages] == [False, False, True]
    queries = sent_queries(state)
    assert len(queries) == 3
    assert f"(SystemModstamp > 2024-12-31T23:59:00.000Z OR (SystemModstamp = 2024-12-31T23:59:00.000Z AND " \
           f"Id > '{ids[49]}'))" in queries[1]
    assert pages[-1].cursor == {"since_ms": T0 - 60_000 - OVERLAP_MS}


async def test_an_empty_full_pull_is_one_done_page_without_cursor(make_connector: MakeConnector) -> None:
    pages = await collect(make_connector().pull_changes("contact", None, properties=["Email"]))
    assert pages == [PullPage(records=[], cursor=None, done=True, total=0)]


async def test_bad_cursors_and_field_names_are_refused_before_any_request(make_connector: MakeConnector,
                                                                         state: SandboxState) -> None:
    connector = make_connector()
    with pytest.raises(ValidationError):
        await collect(connector.pull_changes("lead", {"mode": "search"}, properties=[]))
    with pytest.raises(ValidationError):
        await collect(connector.pull_changes("lead", None, properties=["Email FROM Lead --"]))
    assert not sent_queries(state)


async def test_read_by_id(make_connector: MakeConnector, state: SandboxState) -> None:
    live = state.add_record("Lead", {"LastName": "Live", "Company": "Co"})
    gone = state.add_record("Lead", {"LastName": "Gone", "Company": "Co"})
    state.delete_record("Lead", gone)
    found = await make_connector().read("lead", [live[:15], gone, "nonsense"], properties=["LastName"])
    assert set(found) == {live[:15], gone, "nonsense"}
    assert found[live[:15]] is not None and found[live[:15]].properties["LastName"] == "Live"  # type: ignore[union-attr]
    assert found[gone] is None and found["nonsense"] is None


async def test_find_by_email_prefers_an_unconverted_lead(make_connector: MakeConnector, state: SandboxState,
                                                         clock: ManualClock) -> None:
    converted = state.add_record("Lead", {"LastName": "Old", "Company": "Co", "Email": "dup@example.com"})
    state.convert_lead(converted)
    clock.advance(1000)
    fresh = state.add_record("Lead", {"LastName": "New", "Company": "Co", "Email": "DUP@example.com"})
    only = state.add_record("Lead", {"LastName": "Only", "Company": "Co", "Email": "only@example.com"})
    state.convert_lead(only)
    found = await make_connector().find_by_email("lead", [" Dup@Example.com", "only@example.com", "none@x.io"],
                                                 properties=[])
    assert found[" Dup@Example.com"].id == fresh
    assert found["only@example.com"].properties["IsConverted"] == "true"
    assert "none@x.io" not in found
