"""The sync engine against each CRM's sandbox, through the socket API as a script would drive it."""

from __future__ import annotations

from typing import Any

from leadsync.common.rpc import RpcClient
from tests.conftest import SideWorld


async def all_contacts(client: RpcClient, **flt: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = None
    while True:
        page = await client.call("contacts.list", {"filter": flt, "after": after, "limit": 500})
        out += page["contacts"]
        after = page["next_after"]
        if after is None:
            return out


async def new_user(client: RpcClient) -> dict[str, Any]:
    """A local user matched to the first active CRM owner."""
    owner = next(o for o in (await client.call("users.list"))["unmatched_owners"] if o["active"])
    user: dict[str, Any] = await client.call("users.create", {"email": owner["email"].upper(), "name": "Creator"})
    assert user["crm_owner_id"] == owner["crm_id"]
    return user


async def test_first_sync_pulls_everything_and_second_is_a_noop(crm_world: SideWorld, crm_client: RpcClient) -> None:
    first = await crm_client.call("sync.run", {"wait": True})
    assert first["status"] == "ok", first
    live = crm_world.crm.count()
    assert first["pulled"] == first["created_local"] == live > 150
    contacts = await all_contacts(crm_client)
    assert len(contacts) == live
    assert all(c["crm_id"] and c["sync_state"] == "synced" for c in contacts)
    for contact in contacts[:20]:
        crm = crm_world.crm.get(contact["crm_id"])
        assert (contact["email"], contact["owner_id"], contact["first_name"]) == (crm["email"], crm["owner"],
                                                                                  crm["first_name"])
    writes = crm_world.crm.writes()
    second = await crm_client.call("sync.run", {"wait": True})
    assert (second["created_local"], second["updated_local"], second["created_crm"], second["updated_crm"]) == (0,) * 4
    assert crm_world.crm.writes() == writes == 0


async def test_created_contact_reaches_crm_as_lead_owned_by_creators_owner(crm_synced: SideWorld,
                                                                          crm_client: RpcClient) -> None:
    user = await new_user(crm_client)
    contact = await crm_client.call("contacts.create", {"created_by": user["id"], "fields": {
        "email": "new.lead@example.org", "first_name": "New", "last_name": "Lead", "company": "Acme",
        "phone": "+1 555 0101"}})  # Autotask: a new company needs a phone
    run = await crm_client.call("sync.run", {"wait": True})
    assert run["created_crm"] == 1 and run["failed"] == 0, run
    linked = await crm_client.call("contacts.get", {"id": contact["id"]})
    crm = crm_synced.crm.get(linked["crm_id"])
    assert crm["email"] == "new.lead@example.org"
    # the stage where the CRM has one (Autotask has no lifecycle stage field: not mapped, read as None)
    assert crm["lifecycle_stage"] == ("lead" if "lifecycle_stage" in crm_synced.crm.names else None)
    assert crm["owner"] == user["crm_owner_id"]
    assert linked["created_by"] == user["id"] and linked["owner_id"] == user["crm_owner_id"]


async def test_b11_email_case_and_whitespace_link_instead_of_duplicate(crm_world: SideWorld,
                                                                      crm_client: RpcClient) -> None:
    crm_id = crm_world.crm.add({"email": " John.Doe@Example.COM\n", "first_name": "John", "last_name": "Doe"})
    user = await crm_client.call("users.create", {"email": "someone@corp.example"})
    local = await crm_client.call("contacts.create", {"created_by": user["id"],
                                                      "fields": {"email": "john.doe@example.com"}})
    live = crm_world.crm.count()
    run = await crm_client.call("sync.run", {"wait": True})
    assert run["linked"] == 1 and run["created_crm"] == 0, run
    contact = await crm_client.call("contacts.get", {"id": local["id"]})
    assert contact["crm_id"] == crm_id
    assert contact["email"] == "John.Doe@Example.COM"  # as the CRM wrote it, trimmed
    assert len(await all_contacts(crm_client, q="john.doe")) == 1
    assert crm_world.crm.count() == live  # nothing created in the CRM


async def test_s15_no_echo_over_twenty_runs(crm_synced: SideWorld, crm_client: RpcClient) -> None:
    contact = (await all_contacts(crm_client))[5]
    await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"job_title": "Head of Echo"}})
    run = await crm_client.call("sync.run", {"wait": True})
    assert run["updated_crm"] == 1, run
    assert crm_synced.crm.get(contact["crm_id"])["job_title"] == "Head of Echo"
    writes = crm_synced.crm.writes()
    for _ in range(20):
        again = await crm_client.call("sync.run", {"wait": True})
        assert again["status"] == "ok"
        assert again["created_crm"] + again["updated_crm"] + again["updated_local"] == 0
    assert crm_synced.crm.writes() == writes


async def test_crm_edit_and_deletion_reach_the_store(crm_synced: SideWorld, crm_client: RpcClient) -> None:
    edited, deleted = (await all_contacts(crm_client))[3:5]
    crm_synced.crm.set(edited["crm_id"], {"job_title": "Edited In The CRM"})
    crm_synced.crm.delete(deleted["crm_id"])
    run = await crm_client.call("sync.run", {"wait": True})
    assert run["status"] == "ok" and run["updated_local"] == 1, run
    assert (await crm_client.call("contacts.get", {"id": edited["id"]}))["job_title"] == "Edited In The CRM"
    gone = await crm_client.call("contacts.get", {"id": deleted["id"]})
    assert gone["crm_state"] == "archived"
    assert (await crm_client.call("sync.run", {"wait": True}))["created_crm"] == 0  # never recreated (B22)
