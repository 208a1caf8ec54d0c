"""What only Autotask does: every contact belongs to a company (a push finds or creates it), the owner is
the company's owner, and a contact is retired (``isActive`` 0) rather than deleted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadsync.agent.connectors.http import RetryPolicy
from leadsync.common.rpc import RpcClient
from tests.conftest import SideWorld, connect_side
from tests.crm_worlds import AutotaskSide, make_side
from tests.test_sync import all_contacts, new_user


@pytest.fixture
async def autotask(short_tmp: Path) -> AsyncIterator[SideWorld]:
    world = await connect_side(short_tmp, make_side("autotask"))
    async with RpcClient(world.agent.socket_path) as client:
        assert (await client.call("sync.run", {"wait": True}))["status"] == "ok"
    yield world
    await world.agent.stop()


@pytest.fixture
async def client(autotask: SideWorld) -> AsyncIterator[RpcClient]:
    async with RpcClient(autotask.agent.socket_path) as client:
        yield client


def side(world: SideWorld) -> AutotaskSide:
    assert isinstance(world.crm, AutotaskSide)
    return world.crm


async def test_a_pushed_contact_finds_its_company_or_creates_it_once(autotask: SideWorld, client: RpcClient) -> None:
    existing = side(autotask).state.rows("Companies")[0]["companyName"]
    user = await new_user(client)
    created = []
    for n, company in enumerate((existing, "Brand New Co", "brand new co ")):
        created.append(await client.call("contacts.create", {"created_by": user["id"], "fields": {
            "email": f"at{n}@example.org", "first_name": "Ann", "last_name": f"Contact{n}", "company": company,
            "phone": "+1-555-0101"}}))
    companies = side(autotask).state.count("Companies")
    run = await client.call("sync.run", {"wait": True})
    assert run["created_crm"] == 3 and run["failed"] == 0, run
    assert side(autotask).state.count("Companies") == companies + 1  # the new company made once
    rows = [side(autotask).get((await client.call("contacts.get", {"id": c["id"]}))["crm_id"]) for c in created]
    assert [r["company"] for r in rows] == [existing, "Brand New Co", "Brand New Co"]
    assert all(r["owner"] == user["crm_owner_id"] for r in rows[1:])  # a new company is owned by the creator


async def test_a_retired_contact_is_archived_locally_and_never_recreated(autotask: SideWorld,
                                                                         client: RpcClient) -> None:
    contact = (await all_contacts(client))[0]
    side(autotask).delete(contact["crm_id"])
    assert (await client.call("sync.run", {"wait": True}))["status"] == "ok"
    assert (await client.call("contacts.get", {"id": contact["id"]}))["crm_state"] == "archived"
    assert (await client.call("sync.run", {"wait": True}))["created_crm"] == 0


class CrmGoesDown(httpx.AsyncBaseTransport):
    """The sandbox, until ``after`` contact creates have been answered: from then on Autotask is down (503)."""

    def __init__(self, app: Any, after: int) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.after = after
        self.creates = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/Contacts"):
            if self.creates >= self.after:
                return httpx.Response(503, json={"errors": ["Service Unavailable"]})
            self.creates += 1
        return await self.inner.handle_async_request(request)


async def test_writes_confirmed_before_the_crm_goes_down_are_recorded(short_tmp: Path) -> None:
    side = make_side("autotask")
    down = CrmGoesDown(side.app, after=45)
    world = await connect_side(short_tmp, side, transport=down,
                               retry=RetryPolicy(max_attempts=2, initial_backoff_s=0.01, jitter_s=0.0))
    try:
        async with RpcClient(world.agent.socket_path) as client:
            assert (await client.call("sync.run", {"wait": True}))["status"] == "ok"
            user = await new_user(client)
            company = side.state.rows("Companies")[0]["companyName"]
            for n in range(100):
                await client.call("contacts.create", {"created_by": user["id"], "fields": {
                    "email": f"down{n}@example.org", "first_name": "Ann", "last_name": f"Down{n}",
                    "company": company}})
            run = await client.call("sync.run", {"wait": True})
            # the run goes on past the outage: what could not get through stays queued, the run is partial
            assert run["status"] == "partial" and "stay queued" in run["error"], run
            assert (run["created_crm"], run["failed"]) == (45, 55), run
            created = [c for c in await all_contacts(client, q="down") if c["crm_id"]]
            # every create Autotask confirmed before it went down is linked and logged
            assert len(created) == 45
            assert len(await client.call("sync.log", {"limit": 500})) >= 45
            errors = await client.call("errors.list", {})
            assert len(errors) == 55 and all("queued for the next run" in e["reason"] for e in errors)
            status = await client.call("sync.status")
            assert status["pending_push"] == 55  # queued, not held
            down.after = 10**9  # back up: the rest goes out, nothing twice
            again = await client.call("sync.run", {"wait": True})
            assert again["status"] == "ok" and again["created_crm"] + again["linked"] == 55, again
            assert await client.call("errors.list", {}) == []
            assert len(side.state.contacts_by_email("down7@example.org")) == 1
    finally:
        await world.agent.stop()


async def test_a_to_do_owner_autotask_refuses_leaves_the_contacts_later_edits_free_to_push(
        autotask: SideWorld, client: RpcClient) -> None:
    """Found by the soak (seed 20261207): the refused owner was sent again with every later push of the
    contact, so none of its field edits ever reached Autotask."""
    user = await new_user(client)
    contact = next(c for c in await all_contacts(client)
                   if side(autotask).get(c["crm_id"])["owner"] != user["crm_owner_id"])
    company_owner = side(autotask).get(contact["crm_id"])["owner"]
    answer = await client.call("todos.assign", {"contact_id": contact["id"], "assignee": user["id"],
                                                "title": "Call back"})
    assert answer["pushed"] is False and answer["run"]["failed"] == 1
    [error] = await client.call("errors.list", {"contact_id": contact["id"]})
    assert error["code"] == "OWNER_READ_ONLY" and "company" in error["reason"]

    await client.call("contacts.update", {"id": contact["id"], "fields": {"job_title": "Buyer"}})
    run = await client.call("sync.run", {"wait": True})
    assert run["status"] == "ok" and run["failed"] == 0 and run["updated_crm"] == 1, run
    record = side(autotask).get(contact["crm_id"])
    assert record["job_title"] == "Buyer" and record["owner"] == company_owner
    assert (await client.call("contacts.get", {"id": contact["id"]}))["owner_id"] == company_owner
    # the refused owner is still a write that did not happen: its error stays open (not closed by the field push)
    [still] = await client.call("errors.list", {"contact_id": contact["id"]})
    assert (still["id"], still["operation"], still["resolved_at"]) == (error["id"], "owner", None)
    assert "the contact's fields go on without it" in still["reason"]
    retried = await client.call("errors.retry", {"id": error["id"]})
    assert retried["retried"] == [] and [s["id"] for s in retried["skipped"]] == [error["id"]]
    assert "assign the to-do" in retried["skipped"][0]["reason"]
