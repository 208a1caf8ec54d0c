"""The split full pull when HubSpot's list ``after`` is not an object id (HubSpot documents it as an opaque
cursor): the pull does not fail, it logs why and goes on as one list chain and the search walker, with no gap
and no duplicate, through crashes too (split_pull.py, split_plan.py)."""

from __future__ import annotations

import base64
import logging
from collections import Counter
from typing import Any

import httpx
import pytest

from leadsync.agent.connectors.hubspot.split_plan import Segment, View
from leadsync.common.errors import CrmError

from .fake_hubspot import FakeHubSpot
from .fakes import FakeClock, json_response
from .test_hubspot_split_pull import T0, chain_starts, connect, every_id, ids, pages_until_crash, pull, seeded

LIST = "/crm/v3/objects/contacts"


class OwnAfters:
    """The fake's list, honouring only the ``after`` values it gave out (numbers, the page's last id); any
    other is ignored and the list answered from its start, as an opaque cursor would be (``refuse``: refused
    with a 400 instead)."""

    def __init__(self, crm: FakeHubSpot, *, refuse: bool = False) -> None:
        self.crm = crm
        self.refuse = refuse
        self.issued: set[str] = set()
        self.foreign: list[str] = []

    def __call__(self, request: httpx.Request, body: Any) -> httpx.Response:
        if request.method == "GET" and request.url.path == LIST:
            after = request.url.params.get("after")
            if after is not None and after not in self.issued:
                self.foreign.append(after)
                if self.refuse:
                    return json_response(400, {"status": "error", "message": "invalid after",
                                               "category": "VALIDATION_ERROR"})
                request = httpx.Request("GET", request.url.copy_remove_param("after"), headers=request.headers)
            answer = self.crm.handler(request, body)
            nxt = (answer.json().get("paging") or {}).get("next", {}).get("after")
            if nxt is not None:
                self.issued.add(nxt)
            return answer
        return self.crm.handler(request, body)


def tokens(crm: FakeHubSpot) -> Any:
    """The fake's list with opaque ``after`` tokens (base64 of the last id, like HubSpot's documented
    ``NTI1Cg%3D%3D``); an ``after`` that is not one is refused with a 400."""

    def handler(request: httpx.Request, body: Any) -> httpx.Response:
        if request.method == "GET" and request.url.path == LIST:
            after = request.url.params.get("after")
            if after is not None:
                try:
                    real = base64.urlsafe_b64decode(after.encode()).decode()
                except ValueError:
                    return json_response(400, {"status": "error", "message": "invalid after",
                                               "category": "VALIDATION_ERROR"})
                if not real.isdigit():
                    return json_response(400, {"status": "error", "message": "invalid after",
                                               "category": "VALIDATION_ERROR"})
                request = httpx.Request("GET", request.url.copy_set_param("after", real), headers=request.headers)
            answer = crm.handler(request, body)
            data = answer.json()
            nxt = (data.get("paging") or {}).get("next", {}).get("after")
            if nxt is not None:
                data["paging"]["next"]["after"] = base64.urlsafe_b64encode(nxt.encode()).decode()
            return json_response(200, data)
        return crm.handler(request, body)

    return handler


def offsets(crm: FakeHubSpot) -> Any:
    """The fake's list paged by offset (``after`` = how many contacts came before, by id)."""

    def handler(request: httpx.Request, body: Any) -> httpx.Response:
        if request.method == "GET" and request.url.path == LIST:
            skip = int(request.url.params.get("after", "0"))
            limit = int(request.url.params.get("limit", "10"))
            ordered = sorted(crm.contacts)
            page = ordered[skip:skip + limit]
            properties = request.url.params.get_list("properties")
            answer: dict[str, Any] = {"results": [crm.wire(crm.contacts[i], properties) for i in page]}
            if skip + limit < len(ordered):
                answer["paging"] = {"next": {"after": str(skip + limit)}}
            return json_response(200, answer)
        return crm.handler(request, body)

    return handler


@pytest.mark.parametrize(("budget", "refuse"), [(190, False), (1_000, False), (190, True)])
async def test_a_list_that_honours_only_its_own_afters_falls_back_to_one_chain(
    budget: int, refuse: bool, caplog: pytest.LogCaptureFixture
) -> None:
    crm = seeded(6_000)
    fake = OwnAfters(crm, refuse=refuse)
    connector, _ = connect(crm, FakeClock(T0), fake, rate_limit_per_10s=budget)

    with caplog.at_level(logging.WARNING, logger="leadsync.hubspot"):
        pages = await pull(connector, None)

    assert Counter(ids(pages)) == every_id(crm)
    assert pages[-1].done and fake.foreign, "chains should have started from ids, and been answered wrongly"
    warnings = [r.getMessage() for r in caplog.records if "not an object id" in r.getMessage()]
    assert len(warnings) == 1 and ("HTTP 400" if refuse else "with ids from 1") in warnings[0]
    assert len(fake.foreign) < connector._list_chains(), "no chain starts from an id once it showed"
    assert all(p.cursor is not None and p.cursor.get("after_is_id") is False for p in pages[-5:-1])


async def test_opaque_tokens_fall_back_before_any_chain_starts_from_an_id(caplog: pytest.LogCaptureFixture) -> None:
    crm = seeded(4_000)
    connector, recorder = connect(crm, FakeClock(T0), tokens(crm), rate_limit_per_10s=190)

    with caplog.at_level(logging.WARNING, logger="leadsync.hubspot"):
        pages = await pull(connector, None)

    assert Counter(ids(pages)) == every_id(crm)
    assert any("is not a number" in r.getMessage() for r in caplog.records)
    afters = [s.params["after"][0] for s in recorder.sent if s.method == "GET" and "after" in s.params]
    assert afters and not any(a.isdigit() for a in afters), "no cut is made before a list page showed 'after'"


async def test_offset_paging_is_seen_not_to_be_ids_and_leaves_no_gap(caplog: pytest.LogCaptureFixture) -> None:
    crm = seeded(4_000)  # every 7th id deleted: an offset is not an id
    connector, _ = connect(crm, FakeClock(T0), offsets(crm), rate_limit_per_10s=190)

    with caplog.at_level(logging.WARNING, logger="leadsync.hubspot"):
        pages = await pull(connector, None)

    assert Counter(ids(pages)) == every_id(crm)
    assert any("below the page's highest id" in r.getMessage() for r in caplog.records)


async def test_after_the_fall_back_crashes_at_any_page_resume_without_gap_or_duplicate() -> None:
    crm = seeded(4_000)
    fake = OwnAfters(crm)
    whole = await pull(connect(crm, FakeClock(T0), fake, rate_limit_per_10s=190)[0], None)
    assert len(whole) > 20

    for crash_after in range(1, len(whole), 2):
        applied = await pages_until_crash(connect(crm, FakeClock(T0), fake, rate_limit_per_10s=190)[0], crash_after)
        saved = applied[-1].cursor
        assert saved is not None
        if applied[-1].done:
            assert Counter(ids(applied)) == every_id(crm)
            continue
        fake.foreign.clear()
        resumed = await pull(connect(crm, FakeClock(T0), fake, rate_limit_per_10s=190)[0], saved)
        assert Counter(ids([*applied, *resumed])) == every_id(crm), f"crash after page {crash_after}"
        if saved.get("after_is_id") is False:
            assert fake.foreign == [], "a resumed fall-back pull starts no chain from an id"


def test_a_segment_none_of_whose_ids_are_held_goes_to_the_one_below() -> None:
    view = View([Segment(0, 1_000, "400", 400), Segment(1_000, 2_000), Segment(2_000, None, "2100", 2100)], 5_000)

    assert view.merge_down(1_000)
    assert [(s.lo, s.end) for s in view.segments] == [(0, 2_000), (2_000, None)]
    assert not view.merge_down(0) and not view.merge_down(1_000)
    gone = View([Segment(1_000, 2_000), Segment(2_000, None)], 5_000)  # [0, 1000) was done
    assert not gone.merge_down(1_000)


async def test_a_list_that_ignores_every_after_fails_the_pull_rather_than_looping() -> None:
    crm = seeded(3_000, gaps=False)

    def ignoring_after(request: httpx.Request, body: Any) -> httpx.Response:
        if request.method == "GET" and request.url.path == LIST:
            request = httpx.Request("GET", request.url.copy_remove_param("after"), headers=request.headers)
        return crm.handler(request, body)

    connector, _ = connect(crm, FakeClock(T0), ignoring_after, rate_limit_per_10s=190)
    with pytest.raises(CrmError, match="the same 'after'"):
        await pull(connector, None)


async def test_ids_honoured_as_after_keep_the_chains() -> None:
    crm = seeded(6_000)
    connector, recorder = connect(crm, FakeClock(T0), rate_limit_per_10s=190)

    pages = await pull(connector, None)

    assert Counter(ids(pages)) == every_id(crm)
    assert len(chain_starts(recorder)) >= 3
    assert all(p.cursor is None or p.cursor.get("after_is_id") is not False for p in pages)


async def test_a_fall_back_checkpoint_whose_lowest_segment_is_done_walks_the_rest_from_the_lists_start() -> None:
    crm = seeded(3_000, gaps=False)
    saved = {"mode": "split", "started_at_ms": T0, "newest_ms": None, "below": None, "after_is_id": False,
             "segments": [{"lo": 1_000, "end": 2_000, "after": None, "high": None},
                          {"lo": 2_000, "end": None, "after": None, "high": None}]}  # [0, 1000) was done
    fake = OwnAfters(crm)
    connector, _ = connect(crm, FakeClock(T0), fake, rate_limit_per_10s=190)

    resumed = await pull(connector, saved)

    assert Counter(ids(resumed)) == Counter(str(i) for i in range(1_000, 3_001))
    assert fake.foreign == [] and resumed[-1].done
