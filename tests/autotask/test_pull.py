"""The incremental Contacts pull against the sandbox: case B04 (paging with POST and the same body), a
page that keeps failing, checkpoints safe to resume from, case B09 (timestamps with offsets)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from urllib.parse import unquote

import httpx
import pytest
from starlette.applications import Starlette

from leadsync.agent.connectors.autotask.client import AutotaskConnector
from leadsync.agent.connectors.autotask.sandbox import AutotaskState, FaultSwitches, build_state, create_app
from leadsync.agent.connectors.base import PullPage
from leadsync.common.errors import CrmUnavailableError, ValidationError

from .conftest import HEADERS, T0, ZONE, ConnectorFactory, ManualClock

PROPS = ["firstName", "lastName", "title"]


async def pull(connector: AutotaskConnector, cursor: dict[str, object] | None = None) -> list[PullPage]:
    return [page async for page in connector.pull_changes("contact", cursor, properties=PROPS)]


@pytest.fixture
def big(clock: ManualClock) -> AutotaskState:
    """B04's database: 1,234 contacts."""
    return build_state(contacts=1234, companies=50, seed=4, clock=clock)


@pytest.fixture
def big_app(big: AutotaskState, faults: FaultSwitches) -> Starlette:
    return create_app(big, faults=faults, zone_url=ZONE)


async def test_b04_every_contact_arrives_following_next_pages_with_post_and_the_same_body(
        big_app: Starlette, big: AutotaskState, make_connector: ConnectorFactory) -> None:
    connector = make_connector(transport=httpx.ASGITransport(app=big_app))
    pages = await pull(connector)

    assert [len(p.records) for p in pages] == [500, 500, 234]
    assert len({r.id for p in pages for r in p.records}) == 1234
    assert [p.done for p in pages] == [False, False, True]
    assert pages[0].total == 1234
    queries = [r for r in big.request_log if "/Contacts/query" in r.path and not r.path.endswith("/count")]
    assert [(r.method, r.path.rsplit("/V1.0", 1)[1]) for r in queries] == [
        ("POST", "/Contacts/query"), ("POST", "/Contacts/query/next"), ("POST", "/Contacts/query/next")]
    assert queries[1].body == queries[0].body == queries[2].body
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=big_app), headers=HEADERS) as http:
        first = (await http.post(f"{ZONE}/V1.0/Contacts/query", json=queries[0].body)).json()
        next_url = first["pageDetails"]["nextPageUrl"]
        as_get = await http.get(next_url)
    assert next_url.startswith(f"{ZONE}/V1.0/Contacts/query/next?paging=")
    assert json.loads(unquote(next_url.split("paging=", 1)[1]))["afterIds"] == [first["items"][-1]["id"]]
    assert as_get.status_code == 405
    assert as_get.json() == {"errors": ["The requested resource does not support http method 'GET'."]}


async def test_b04_a_page_that_keeps_failing_fails_the_pull_and_is_never_done(
        big_app: Starlette, faults: FaultSwitches, make_connector: ConnectorFactory) -> None:
    connector = make_connector(transport=httpx.ASGITransport(app=big_app))
    faults.fail_next("/atservicesrest/V1.0/Contacts/query/next", "POST", 503, times=100)
    seen: list[PullPage] = []
    with pytest.raises(CrmUnavailableError, match="503"):
        async for page in connector.pull_changes("contact", None, properties=PROPS):
            seen.append(page)

    assert [len(p.records) for p in seen] == [500]
    assert not any(p.done for p in seen)
    assert seen[0].cursor is not None and seen[0].cursor["after_id"] == int(seen[0].records[-1].id)


async def test_a_pull_resumed_from_a_page_checkpoint_skips_nothing_and_repeats_nothing(
        big_app: Starlette, big: AutotaskState, make_connector: ConnectorFactory) -> None:
    connector = make_connector(transport=httpx.ASGITransport(app=big_app))
    baseline = await pull(connector)
    assert baseline[-1].cursor is not None
    first_page = (await pull(connector, baseline[-1].cursor))  # nothing changed: one empty, done page
    assert [len(p.records) for p in first_page] == [0] and first_page[0].done

    changed = [30_000_010, 30_000_600, 30_001_200]
    for contact_id in changed:
        big.update_contact(contact_id, {"title": "Changed"})
    interrupted = connector.pull_changes("contact", None, properties=PROPS)
    page1 = await anext(interrupted)
    await interrupted.aclose()
    resumed = await pull(connector, page1.cursor)
    ids = [r.id for r in page1.records] + [r.id for p in resumed for r in p.records]
    assert len(ids) == len(set(ids)) == 1234
    assert resumed[-1].done


async def test_an_incremental_pull_returns_what_changed_since_the_cursor(
        state: AutotaskState, clock: ManualClock, connector: AutotaskConnector) -> None:
    done = await pull(connector)
    cursor = done[-1].cursor
    clock.advance(60 * 60_000)
    state.update_contact(30_000_005, {"title": "Head of IT"})
    state.deactivate_contact(30_000_007)
    clock.advance(1000)  # the pull starts a second later; its window ends where it starts

    pages = await pull(connector, cursor)

    records = {r.id: r for p in pages for r in p.records}
    assert set(records) == {"30000005", "30000007"}
    assert records["30000005"].properties["title"] == "Head of IT"
    assert records["30000007"].archived is True
    assert pages[-1].cursor == {"since_ms": T0 + 60 * 60_000 + 1000 - 5 * 60_000}


@pytest.fixture
def timezone() -> Iterator[None]:
    before = os.environ.get("TZ")
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.usefixtures("timezone")
async def test_b09_offsets_are_instants_and_filters_do_not_depend_on_the_machine_time_zone(
        clock: ManualClock, make_connector: ConnectorFactory) -> None:
    clock.set(1_710_300_000_000)  # 2024-03-13, after the US daylight-saving change of 2024-03-10
    db = build_state(contacts=0, companies=1, seed=9, clock=clock)
    company = next(iter(db.tables["Companies"]))
    texts = ["2024-03-10T23:30:00-08:00", "2024-03-11T05:00:00+05:30", "2024-03-11T07:00:00Z"]
    for n, text in enumerate(texts):
        db.add_contact({"companyID": company, "firstName": "B", "lastName": f"09-{n}",
                        "emailAddress": f"b09-{n}@example.com"}, modified_at=text)
    app = create_app(db, zone_url=ZONE)
    filters = []
    cursors = []
    for tz in ("America/New_York", "Asia/Kolkata"):
        os.environ["TZ"] = tz
        time.tzset()
        connector = make_connector(transport=httpx.ASGITransport(app=app), overlap_ms=0)
        full = await pull(connector)
        by_name = {r.properties["lastName"]: r.updated_at_ms for p in full for r in p.records}
        assert by_name == {"09-0": 1_710_142_200_000, "09-1": 1_710_113_400_000, "09-2": 1_710_140_400_000}
        since = {"since_ms": 1_710_120_000_000}  # 2024-03-11T01:20:00Z: after 09-1, before the others
        pages = await pull(connector, since)
        assert {r.properties["lastName"] for p in pages for r in p.records} == {"09-0", "09-2"}
        filters.append([r.body for r in db.request_log if r.path.endswith("/Contacts/query")][-1])
        cursors.append(pages[-1].cursor)
    assert filters[0] == filters[1]
    assert filters[0]["filter"][0] == {"op": "gte", "field": "lastModifiedDate", "value": "2024-03-11T01:20:00.000Z"}
    assert cursors[0] == cursors[1] == {"since_ms": 1_710_300_000_000}


async def test_a_bad_cursor_is_refused(connector: AutotaskConnector) -> None:
    with pytest.raises(ValidationError):
        await pull(connector, {"since": "yesterday"})
