"""The sync engine against the HubSpot sandbox, through the socket API as a script would drive it."""

from __future__ import annotations

from typing import Any

from leadsync.common.rpc import RpcClient
from tests.conftest import CrmWorld


async def all_contacts(client: RpcClient, **flt: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = None
    while True:
        page = await client.call("contacts.list", {"filter": flt, "after": after, "limit": 500})
        out += page["contacts"]
        after = page["next_after"]
        if after is None:
            return out


def crm_writes(world: CrmWorld) -> int:
    return int(world.state.stats()["write_requests"])


async def test_first_sync_pulls_everything_and_second_is_a_noop(world: CrmWorld, world_client: RpcClient) -> None:
    first = await world_client.call("sync.run", {"wait": True})
    assert first["status"] == "ok"
    assert first["pulled"] == world.state.contact_count() == 200
    assert first["created_local"] == 200
    contacts = await all_contacts(world_client)
    assert len(contacts) == 200
    assert all(c["crm_id"] and c["sync_state"] == "synced" for c in contacts)
    sample = world.state.get_contact(contacts[0]["crm_id"])
    assert contacts[0]["email"] == sample.properties["email"]
    assert contacts[0]["owner_id"] == sample.properties["hubspot_owner_id"]
    assert contacts[0]["first_name"] == sample.properties["firstname"]
    writes = crm_writes(world)
    second = await world_client.call("sync.run", {"wait": True})
    assert (second["created_local"], second["updated_local"], second["created_crm"], second["updated_crm"]) == (0,) * 4
    assert crm_writes(world) == writes == 0


async def test_created_contact_reaches_crm_as_lead_owned_by_creators_owner(synced_agent: CrmWorld,
                                                                          world_client: RpcClient) -> None:
    users = await world_client.call("users.list")
    owner = next(o for o in users["unmatched_owners"] if o["active"])
    user = await world_client.call("users.create", {"email": owner["email"].upper(), "name": "Creator"})
    assert user["crm_owner_id"] == owner["crm_id"]
    contact = await world_client.call("contacts.create", {
        "created_by": user["id"], "fields": {"email": "new.lead@example.org", "first_name": "New"}})
    run = await world_client.call("sync.run", {"wait": True})
    assert run["created_crm"] == 1 and run["failed"] == 0
    linked = await world_client.call("contacts.get", {"id": contact["id"]})
    crm = synced_agent.state.get_contact(linked["crm_id"])
    assert crm.properties["email"] == "new.lead@example.org"
    assert crm.properties["lifecyclestage"] == "lead"
    assert crm.properties["hubspot_owner_id"] == owner["crm_id"]
    assert linked["created_by"] == user["id"] and linked["owner_id"] == owner["crm_id"]


async def test_b11_email_case_and_whitespace_link_instead_of_duplicate(world: CrmWorld,
                                                                      world_client: RpcClient) -> None:
    crm_id = world.state.add_contact({"email": " John.Doe@Example.COM\n", "firstname": "John"})
    user = await world_client.call("users.create", {"email": "someone@corp.example"})
    local = await world_client.call("contacts.create", {"created_by": user["id"],
                                                        "fields": {"email": "john.doe@example.com"}})
    writes = crm_writes(world)
    run = await world_client.call("sync.run", {"wait": True})
    assert run["linked"] == 1 and run["created_crm"] == 0
    contact = await world_client.call("contacts.get", {"id": local["id"]})
    assert contact["crm_id"] == crm_id
    assert contact["email"] == "John.Doe@Example.COM"  # as the CRM wrote it, trimmed
    matches = await all_contacts(world_client, q="john.doe")
    assert len(matches) == 1
    creates = [r for r in world.state.request_log if r.method == "POST" and r.path.endswith(("/create", "/upsert"))]
    assert creates == []
    assert crm_writes(world) - writes <= 1  # at most the update carrying local-only values


async def test_s15_no_echo_over_twenty_runs(synced_agent: CrmWorld, world_client: RpcClient) -> None:
    contact = (await all_contacts(world_client))[5]
    await world_client.call("contacts.update", {"id": contact["id"], "fields": {"job_title": "Head of Echo"}})
    run = await world_client.call("sync.run", {"wait": True})
    assert run["updated_crm"] == 1
    assert synced_agent.state.get_contact(contact["crm_id"]).properties["jobtitle"] == "Head of Echo"
    writes = crm_writes(synced_agent)
    for _ in range(20):
        again = await world_client.call("sync.run", {"wait": True})
        assert again["status"] == "ok"
        assert again["created_crm"] + again["updated_crm"] + again["updated_local"] == 0
    assert crm_writes(synced_agent) == writes
