"""``sync.plan`` while push is off shows what a push would send, marked as not going to be sent (issue 18), on
every CRM: that is when people want it most, before turning push on."""

from __future__ import annotations

from leadsync.common.rpc import RpcClient
from tests.conftest import SideWorld
from tests.test_sync import all_contacts, new_user


async def test_the_plan_shows_the_push_while_push_is_off_and_sends_nothing(crm_synced: SideWorld,
                                                                          crm_client: RpcClient) -> None:
    await crm_client.call("settings.update", {"push_enabled": False})
    edited = (await all_contacts(crm_client))[4]
    await crm_client.call("contacts.update", {"id": edited["id"], "fields": {"job_title": "Planned Only"}})
    user = await new_user(crm_client)
    new = await crm_client.call("contacts.create", {"created_by": user["id"], "fields": {
        "email": "planned@example.org", "first_name": "Plan", "last_name": "Ned", "company": "Planco",
        "phone": "+1 555 0107"}})
    crm_synced.crm.reset()

    plan = await crm_client.call("sync.plan")

    assert (plan["push_enabled"], plan["push_disabled"]) == (False, True)
    assert plan["counts"]["crm"] == {"update": 1, "create": 1}, plan["counts"]
    crm_items = {i["contact_id"]: i for i in plan["items"] if i["side"] == "crm"}
    assert set(crm_items) == {edited["id"], new["id"]} and all(i["push_disabled"] for i in crm_items.values())
    title = crm_synced.crm.names["job_title"]
    assert crm_items[edited["id"]]["fields"][title][1] == "Planned Only"
    assert crm_synced.crm.sent_writes() == []
    # the run itself only pulls; the plan stays the same until push is on
    run = await crm_client.call("sync.run", {"wait": True})
    assert (run["status"], run["created_crm"], run["updated_crm"]) == ("ok", 0, 0)
    assert crm_synced.crm.sent_writes() == []
    assert (await crm_client.call("sync.plan"))["counts"]["crm"] == {"update": 1, "create": 1}
    await crm_client.call("settings.update", {"push_enabled": True})
    on = await crm_client.call("sync.plan")
    assert on["push_disabled"] is False and not any(i["push_disabled"] for i in on["items"])
