"""A create the CRM refuses because the record already exists ends linked to that record, on every CRM: no
error, no create tried again every run (issue 18)."""

from __future__ import annotations

from typing import Any

from leadsync.common.rpc import RpcClient
from tests.conftest import SideWorld
from tests.test_sync import new_user


async def _create(client: RpcClient, fields: dict[str, Any]) -> dict[str, Any]:
    user = await new_user(client)
    contact: dict[str, Any] = await client.call("contacts.create", {"created_by": user["id"], "fields": fields})
    return contact


async def _settled(world: SideWorld, client: RpcClient) -> None:
    """A further sync writes nothing to the CRM and finds nothing wrong."""
    world.crm.reset()
    again = await client.call("sync.run", {"wait": True})
    assert again["status"] == "ok" and again["failed"] == 0, again
    assert world.crm.sent_writes() == [], world.crm.sent_writes()


async def test_a_create_refused_as_a_duplicate_links_to_the_record_the_crm_names(crm_synced: SideWorld,
                                                                                crm_client: RpcClient) -> None:
    crm_id, fields = crm_synced.crm.refuse_as_duplicate()  # after the pull: only the push meets it
    local = await _create(crm_client, fields)
    live = crm_synced.crm.count()
    run = await crm_client.call("sync.run", {"wait": True, "pull": False})
    assert (run["status"], run["failed"], run["created_crm"], run["linked"]) == ("ok", 0, 0, 1), run
    contact = await crm_client.call("contacts.get", {"id": local["id"]})
    assert contact["crm_id"] == crm_id and contact["sync_state"] == "synced", contact
    # merged as a first sync would: the CRM's value wins, the local one is kept as a conflict to restore
    assert contact["email"] == "ann.dupe@old.example"
    conflicts = await crm_client.call("conflicts.list", {"contact_id": local["id"]})
    assert [(c["field"], c["local_value"]) for c in conflicts] == [("email", fields["email"])]
    assert crm_synced.crm.count() == live  # nothing created in the CRM
    assert await crm_client.call("errors.list", {}) == []
    log = await crm_client.call("sync.log", {"contact_id": local["id"]})
    # linked, then (in the same run) the values only the contact had went out to the record
    assert sorted((e["op"], e["crm_id"]) for e in log) in ([("link", crm_id)], [("link", crm_id), ("update", crm_id)])
    await _settled(crm_synced, crm_client)


async def test_a_duplicate_of_a_record_already_linked_folds_into_its_contact(crm_world: SideWorld,
                                                                            crm_client: RpcClient) -> None:
    crm_id, fields = crm_world.crm.refuse_as_duplicate()
    first = await crm_client.call("sync.run", {"wait": True})
    assert first["status"] == "ok", first
    (holder,) = [c for c in (await crm_client.call("contacts.list", {"filter": {"q": "ann.dupe"}}))["contacts"]]
    assert holder["crm_id"] == crm_id
    local = await _create(crm_client, {**fields, "job_title": "Buyer"})
    live = crm_world.crm.count()
    run = await crm_client.call("sync.run", {"wait": True})
    assert (run["status"], run["failed"], run["created_crm"], run["linked"]) == ("ok", 0, 0, 1), run
    folded = await crm_client.call("contacts.get", {"id": local["id"]})
    assert folded["crm_state"] == "merged" and folded["crm_id"] is None, folded
    log = await crm_client.call("sync.log", {"contact_id": local["id"]})
    assert [(e["op"], e["crm_id"]) for e in log] == [("link", crm_id)] and f"contact {holder['id']}" in log[0]["note"]
    assert crm_world.crm.count() == live
    # the refused contact's own edit reaches the record through the contact it was folded into
    assert crm_world.crm.get(crm_id)["job_title"] == "Buyer"
    assert await crm_client.call("errors.list", {}) == []
    await _settled(crm_world, crm_client)


async def test_a_record_created_in_the_crm_since_the_pull_is_linked_not_duplicated(crm_synced: SideWorld,
                                                                                  crm_client: RpcClient) -> None:
    local = await _create(crm_client, {"email": "late.twin@example.org", "first_name": "Late", "last_name": "Twin",
                                       "company": "Twinco", "phone": "+1 555 0102"})
    crm_id = crm_synced.crm.add({"email": "late.twin@example.org", "first_name": "Late", "last_name": "Twin",
                                 "company": "Twinco"})
    live = crm_synced.crm.count()
    run = await crm_client.call("sync.run", {"wait": True, "pull": False})
    assert (run["status"], run["failed"], run["created_crm"], run["linked"]) == ("ok", 0, 0, 1), run
    assert (await crm_client.call("contacts.get", {"id": local["id"]}))["crm_id"] == crm_id
    assert crm_synced.crm.count() == live
    # the local-only phone goes out once, in the same run: the next run has nothing left to write
    assert crm_synced.crm.get(crm_id)["phone"] == "+1 555 0102"
    await _settled(crm_synced, crm_client)
