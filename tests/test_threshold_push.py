"""The third push rule wherever the score comes from (issue 18): a contact created (API, form) or imported
with a lead score at or above the threshold reaches the CRM within seconds, by a run with trigger
``threshold``, not at the next interval run (an hour away here). On every CRM: Autotask maps no lead score
(no standard field), so there the contact is pushed and its score stays local."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from leadsync.agent.daemon import INTERVAL_JOB
from leadsync.common.rpc import RpcClient
from tests.conftest import SideWorld
from tests.test_push_rules import creator
from tests.test_sync import all_contacts
from tests.waiting import eventually

THRESHOLD = 50


def new_lead(email: str, score: int) -> dict[str, Any]:
    """Fields every CRM accepts for a new lead (an Autotask contact needs both names, a company and a phone)."""
    return {"email": email, "first_name": "Hot", "last_name": "Lead", "company": "Hotco", "phone": "+1 555 0110",
            "lead_score": score}


async def triggers_of(client: RpcClient, contact_id: int, *, newest: str | None = None) -> list[str]:
    """The triggers of the writes made for a contact (newest first), once the agent has recorded them (it does
    right after the CRM answered, so a test that saw the CRM change may ask a moment too early): with
    ``newest``, waits up to 10 s for the newest write to have that trigger, then returns what is recorded."""
    triggers: list[str] = []
    for _ in range(200):
        triggers = [w["trigger"] for w in await client.call("sync.log", {"contact_id": contact_id})]
        if triggers and (newest is None or triggers[0] == newest):
            return triggers
        await asyncio.sleep(0.05)
    if triggers:
        return triggers
    raise AssertionError(f"no write recorded for contact {contact_id}")


async def threshold_world(world: SideWorld, client: RpcClient) -> dict[str, Any]:
    """Set the threshold and check the next interval run is far away; returns the creating user."""
    await client.call("settings.update", {"score_threshold": THRESHOLD})
    job = world.agent.scheduler.get_job(INTERVAL_JOB)
    assert job.next_run_time > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)
    return await creator(client)


def assert_score_in_crm(world: SideWorld, crm_id: str, score: int) -> None:
    if "lead_score" in world.crm.names:  # Autotask: not mapped, stays local
        assert world.crm.get(crm_id)["lead_score"] == str(score)


async def test_a_contact_created_at_the_threshold_reaches_the_crm_within_seconds(crm_synced: SideWorld,
                                                                                 crm_client: RpcClient) -> None:
    user = await threshold_world(crm_synced, crm_client)
    hot = await crm_client.call("contacts.create", {"created_by": user["id"],
                                                    "fields": new_lead("hot@example.org", 80)})
    form = await crm_client.call("contacts.create", {"created_by": user["id"], "source": "form",
                                                     "fields": new_lead("form@example.org", THRESHOLD)})
    cold = await crm_client.call("contacts.create", {"created_by": user["id"],
                                                     "fields": new_lead("cold@example.org", THRESHOLD - 1)})
    await eventually(lambda: None not in (crm_synced.crm.find("hot@example.org"),
                                          crm_synced.crm.find("form@example.org")), timeout_s=10)
    assert await triggers_of(crm_client, hot["id"]) == ["threshold"]
    assert await triggers_of(crm_client, form["id"]) == ["threshold"]
    assert_score_in_crm(crm_synced, str(crm_synced.crm.find("hot@example.org")), 80)
    runs = await crm_client.call("sync.history", {"limit": 10})
    assert "interval" not in {r["trigger"] for r in runs}
    assert crm_synced.crm.find("cold@example.org") is None  # below the threshold: waits for the interval
    assert (await crm_client.call("contacts.get", {"id": cold["id"]}))["sync_state"] == "local"


async def test_an_import_at_the_threshold_reaches_the_crm_within_seconds(crm_synced: SideWorld,
                                                                         crm_client: RpcClient) -> None:
    user = await threshold_world(crm_synced, crm_client)
    existing = (await all_contacts(crm_client))[3]
    await crm_client.call("contacts.update", {"id": existing["id"], "fields": {"lead_score": 10}})
    await crm_client.call("sync.run", {"wait": True})  # the score 10 is in the CRM: below, nothing urgent
    header = ["Email", "First Name", "Last Name", "Company", "Phone", "Lead Score"]
    rows = [[2, ["imported.hot@example.org", "Imp", "Orted", "Impco", "+1 555 0111", "90"]],
            [3, [existing["email"], "", "", "", "", "95"]],  # blank cells never clear: only the score changes
            [4, ["imported.cold@example.org", "Imp", "Cold", "Impco", "+1 555 0112", "20"]]]
    report = await crm_client.call("contacts.import", {"as_user": user["id"], "header": header, "rows": rows})
    assert (report["created"], report["updated"], report["threshold_pushes"]) == (2, 1, 2)
    await eventually(lambda: crm_synced.crm.find("imported.hot@example.org") is not None, timeout_s=10)
    created = (await crm_client.call("contacts.list", {"filter": {"q": "imported.hot"}}))["contacts"][0]
    assert await triggers_of(crm_client, created["id"]) == ["threshold"]
    if "lead_score" in crm_synced.crm.names:
        await eventually(lambda: crm_synced.crm.get(existing["crm_id"])["lead_score"] == "95", timeout_s=10)
        assert (await triggers_of(crm_client, existing["id"], newest="threshold"))[0] == "threshold"
    assert crm_synced.crm.find("imported.cold@example.org") is None
    assert "interval" not in {r["trigger"] for r in await crm_client.call("sync.history", {"limit": 10})}
