"""The incremental pull against the sandbox: paging, cursor, conversions, time zones (B09), failures."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest
from starlette.applications import Starlette

from leadsync.agent.connectors.base import PullPage
from leadsync.agent.connectors.zoho.client import ZohoConnector
from leadsync.agent.connectors.zoho.sandbox import ManualClock, SandboxState, ZohoFaults
from leadsync.common.errors import CrmUnavailableError

from .conftest import ConnectorFactory, api_requests


async def pull_all(connector: ZohoConnector, object_type: str = "lead", cursor: dict | None = None,
                   properties: tuple[str, ...] = ("First_Name", "Last_Name", "Company")) -> list[PullPage]:
    return [page async for page in connector.pull_changes(object_type, cursor, properties=properties)]  # type: ignore[arg-type]


async def test_a_full_pull_yields_every_live_lead_once_converted_ones_with_their_contact(
        make_connector: ConnectorFactory, state: SandboxState) -> None:
    state.add_record("Leads", {"Last_Name": "Extra", "Company": "Acme"})
    connector = make_connector(page_size=7)
    pages = await pull_all(connector)
    ids = [r.id for p in pages for r in p.records]
    assert sorted(ids) == sorted(state.rows["Leads"])
    assert len(ids) == len(set(ids))
    assert [p.done for p in pages] == [False] * (len(pages) - 1) + [True]
    converted = [r for p in pages for r in p.records if r.properties.get("$converted") == "true"]
    assert converted, "the seed converts some leads"
    for record in converted:
        assert record.converted_to_type == "contact"
        assert record.converted_to_id in state.rows["Contacts"]
    times = [r.updated_at_ms for p in pages for r in p.records]
    assert times == sorted(times)


async def test_pages_ask_for_modified_time_order_and_only_the_module_s_fields(
        make_connector: ConnectorFactory, state: SandboxState) -> None:
    await pull_all(make_connector(), "contact", properties=("First_Name", "Company", "Lead_Score"))
    lists = [r for r in api_requests(state, "GET") if r.path == "/crm/v8/Contacts"]
    query = parse_qs(lists[0].query)
    assert query["sort_by"] == ["Modified_Time"] and query["sort_order"] == ["asc"]
    fields = query["fields"][0].split(",")
    assert "Company" not in fields  # Contacts have no Company: left out instead of failing the pull
    assert {"Email", "Owner", "Modified_Time", "First_Name", "Lead_Score"} <= set(fields)


async def test_the_next_pull_returns_only_changes_since_the_cursor(
        make_connector: ConnectorFactory, state: SandboxState, clock: ManualClock) -> None:
    connector = make_connector()
    cursor = (await pull_all(connector))[-1].cursor
    clock.advance(3_600_000)
    changed = next(iter(state.rows["Leads"]))
    state.update_record("Leads", changed, {"Company": "Changed Inc"})
    pages = await pull_all(connector, cursor=cursor)
    records = [r for p in pages for r in p.records]
    assert records[-1].id == changed and records[-1].properties["Company"] == "Changed Inc"
    # besides the change, only what falls in the overlap window before the cursor comes back
    assert all(r.updated_at_ms >= cursor["since_ms"] - 1000 for r in records)
    assert len(records) < len(state.rows["Leads"]) // 4
    assert pages[-1].cursor is not None and pages[-1].cursor["since_ms"] > cursor["since_ms"]


async def test_records_sharing_one_second_beyond_a_page_are_all_pulled(
        make_connector: ConnectorFactory, state: SandboxState, clock: ManualClock) -> None:
    clock.advance(86_400_000)
    same_second = [state.add_record("Leads", {"Last_Name": f"Burst {n}"}, modified=clock()) for n in range(25)]
    connector = make_connector(page_size=10)
    cursor = {"since_ms": clock() - 1000}
    pages = await pull_all(connector, cursor=cursor)
    assert sorted(r.id for p in pages for r in p.records) == sorted(same_second)


async def test_an_edit_during_the_pull_skips_nothing(make_connector: ConnectorFactory, state: SandboxState,
                                                      clock: ManualClock) -> None:
    connector = make_connector(page_size=5)
    seen: list[str] = []
    async for page in connector.pull_changes("lead", None, properties=()):
        seen += [r.id for r in page.records]
        if len(seen) == 5:  # edit a record already read: it moves to the end of the list
            clock.advance(1000)
            state.update_record("Leads", seen[0], {"Company": "Moved"})
    assert set(seen) == set(state.rows["Leads"])


async def test_a_failing_page_ends_the_pull_without_done(make_connector: ConnectorFactory, state: SandboxState,
                                                         faults: ZohoFaults) -> None:
    connector = make_connector(page_size=10)
    pages: list[PullPage] = []
    with pytest.raises(CrmUnavailableError):
        async for page in connector.pull_changes("lead", None, properties=()):
            pages.append(page)
            faults.fail_next("/crm/v8/Leads", "GET", 503, times=10)
    assert len(pages) == 1 and not pages[0].done and pages[0].cursor is not None


async def test_the_cursor_is_saved_per_page_and_resuming_from_it_skips_nothing(
        make_connector: ConnectorFactory, state: SandboxState) -> None:
    connector = make_connector(page_size=9)
    first = await pull_all(connector)
    resumed = await pull_all(make_connector(page_size=9), cursor=first[2].cursor)
    later = {r.id for p in first[3:] for r in p.records}
    assert later <= {r.id for p in resumed for r in p.records}


class Recording(httpx.AsyncBaseTransport):
    """The sandbox in-process, noting each API request's URL and If-Modified-Since header."""

    def __init__(self, app: Starlette, sent: list[tuple[str, str | None]]) -> None:
        self._inner = httpx.ASGITransport(app)
        self._sent = sent

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/crm/"):
            self._sent.append((str(request.url), request.headers.get("If-Modified-Since")))
        return await self._inner.handle_async_request(request)


@pytest.fixture
def tz() -> Iterator[None]:
    saved = os.environ.get("TZ")
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


@pytest.mark.usefixtures("tz")
async def test_b09_offsets_give_the_latest_instant_and_the_same_requests_in_every_time_zone(
        make_connector: ConnectorFactory, state: SandboxState, clock: ManualClock, app: Starlette) -> None:
    clock.set(1_710_151_200_000)  # 2024-03-11T10:00:00Z, a day after the US DST change
    for module_rows in state.rows.values():
        module_rows.clear()
    texts = ["2024-03-10T23:30:00-08:00", "2024-03-11T05:00:00+05:30", "2024-03-11T07:00:00Z"]
    ids = [state.add_record("Leads", {"Last_Name": f"B09 {n}"}, modified=t) for n, t in enumerate(texts)]
    runs = []
    for zone in ("America/New_York", "Asia/Kolkata"):
        os.environ["TZ"] = zone
        time.tzset()
        state.reset_counters()
        sent: list[tuple[str, str | None]] = []
        connector = make_connector(overlap_ms=0, transport=Recording(app, sent))
        pages = await pull_all(connector, cursor={"since_ms": 1_710_028_800_000})  # 2024-03-10T00:00Z
        records = [r for p in pages for r in p.records]
        runs.append((sent, pages[-1].cursor, records))
    (requests_ny, cursor_ny, records_ny), (requests_in, cursor_in, _) = runs
    assert requests_ny == requests_in
    lists = [header for url, header in requests_ny if "/crm/v8/Leads?" in url]
    assert lists[0] == "2024-03-09T23:59:59+00:00"  # UTC, one second before the cursor
    latest = 1_710_142_200_000  # 2024-03-10T23:30:00-08:00 is 07:30Z, the latest of the three
    assert cursor_ny == cursor_in == {"since_ms": latest}
    assert [r.id for r in records_ny] == [ids[1], ids[2], ids[0]]
    assert [r.updated_at_ms for r in records_ny] == [1_710_113_400_000, 1_710_140_400_000, latest]
