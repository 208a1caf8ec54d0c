"""Ownership, sharing and to-dos (issue 3), through the socket API against the HubSpot sandbox.

The sandbox seeds 8 owners in 3 teams (owner n is in team n % 3); the first is a super admin and
the last is deactivated (only listed with archived=true, case B17).
"""

from __future__ import annotations

from typing import Any

import pytest

from leadsync.common.errors import RpcCode
from leadsync.common.rpc import RpcClient, RpcError
from tests.conftest import CrmWorld
from tests.test_sync import all_contacts


async def owners(client: RpcClient) -> list[dict[str, Any]]:
    listed = await client.call("users.list")
    return sorted(listed["unmatched_owners"], key=lambda o: o["crm_id"])


async def user_for(client: RpcClient, owner: dict[str, Any], role: str = "user") -> dict[str, Any]:
    user: dict[str, Any] = await client.call("users.create", {"email": owner["email"], "name": owner["first_name"],
                                                              "role": role})
    return user


def team_of(owner: dict[str, Any]) -> str:
    return str(owner["teams"][0]["id"])


async def test_unmatched_owners_are_listed_with_contact_counts(synced_agent: CrmWorld, world_client: RpcClient) -> None:
    listed = await owners(world_client)
    assert len(listed) == 8
    assert sum(o["contacts_owned"] for o in listed) > 0
    inactive = [o for o in listed if not o["active"]]
    assert len(inactive) == 1  # the deactivated owner stays an owner, marked inactive (B17)


async def test_second_crm_is_refused_until_disconnect(world: CrmWorld, world_client: RpcClient) -> None:
    with pytest.raises(RpcError) as err:
        await world_client.call("crm.connect", {"crm": "hubspot", "credentials": {"token": "other"}})
    assert err.value.code == RpcCode.CRM_ALREADY_CONNECTED
    assert "hubspot is already connected" in err.value.message
    status = await world_client.call("crm.status")
    assert status["connected"] and status["is_admin"] is True and status["user_email"]
    await world_client.call("crm.disconnect")
    assert (await world_client.call("crm.status"))["connected"] is False


async def test_owner_change_in_crm_arrives_with_history(synced_agent: CrmWorld, world_client: RpcClient) -> None:
    contact = (await all_contacts(world_client))[0]
    others = [o for o in await owners(world_client) if o["crm_id"] != contact["owner_id"] and o["active"]]
    synced_agent.state.update_contact(contact["crm_id"], {"hubspot_owner_id": others[0]["crm_id"]})
    run = await world_client.call("sync.run", {"wait": True})
    updated = await world_client.call("contacts.get", {"id": contact["id"], "include": ["owner_history"]})
    assert updated["owner_id"] == others[0]["crm_id"]
    history = updated["owner_history"]
    assert history[-1]["old_owner"] == contact["owner_id"]
    assert history[-1]["new_owner"] == others[0]["crm_id"]
    assert history[-1]["source"] == "crm" and history[-1]["sync_run_id"] == run["id"]


async def test_local_owner_change_is_refused_with_crm_hint(synced_agent: CrmWorld, world_client: RpcClient) -> None:
    contact = (await all_contacts(world_client))[0]
    with pytest.raises(RpcError) as err:
        await world_client.call("contacts.update", {"id": contact["id"], "fields": {"owner_id": "123"}})
    assert err.value.code == RpcCode.OWNER_READ_ONLY
    assert "change the owner in the CRM" in err.value.message
    assert (await world_client.call("contacts.get", {"id": contact["id"]}))["owner_id"] == contact["owner_id"]


async def test_form_contact_is_owned_by_the_publisher_in_the_crm(synced_agent: CrmWorld,
                                                                world_client: RpcClient) -> None:
    publisher = await user_for(world_client, (await owners(world_client))[2])
    contact = await world_client.call("contacts.create", {"created_by": publisher["email"], "source": "form",
                                                          "fields": {"email": "form.fill@example.org"}})
    run = await world_client.call("sync.run", {"wait": True})
    assert run["created_crm"] == 1
    pushed = await world_client.call("contacts.get", {"id": contact["id"]})
    crm = synced_agent.state.get_contact(pushed["crm_id"])
    assert crm.properties["hubspot_owner_id"] == publisher["crm_owner_id"]
    assert pushed["created_by"] == publisher["id"] and pushed["source"] == "form"


async def test_todo_moves_ownership_to_the_assignee_in_the_crm(synced_agent: CrmWorld, world_client: RpcClient) -> None:
    contact = (await all_contacts(world_client))[3]
    assignee_owner = next(o for o in await owners(world_client) if o["active"] and o["crm_id"] != contact["owner_id"])
    assignee = await user_for(world_client, assignee_owner)
    answer = await world_client.call("todos.assign", {"contact_id": contact["id"], "assignee": assignee["id"],
                                                      "title": "Call back", "due": "2026-12-01"})
    assert answer["pushed"] is True and answer["run"]["trigger"] == "todo"
    assert synced_agent.state.get_contact(contact["crm_id"]).properties["hubspot_owner_id"] == assignee_owner["crm_id"]
    sharing = await world_client.call("contacts.sharing", {"id": contact["id"]})
    reasons = {r["kind"] for u in sharing["shared_to"] if u["user_id"] == assignee["id"] for r in u["reasons"]}
    assert {"todo", "owner"} <= reasons
    again = await world_client.call("sync.run", {"wait": True})
    assert (await world_client.call("contacts.get", {"id": contact["id"]}))["owner_id"] == assignee_owner["crm_id"]
    assert again["updated_crm"] == 0


async def test_todo_with_push_disabled_writes_nothing(synced_agent: CrmWorld, world_client: RpcClient) -> None:
    contact = (await all_contacts(world_client))[4]
    assignee = await user_for(world_client, next(o for o in await owners(world_client) if o["active"]))
    await world_client.call("settings.update", {"push_enabled": False})
    writes = synced_agent.state.write_requests
    answer = await world_client.call("todos.assign", {"contact_id": contact["id"], "assignee": assignee["id"],
                                                      "title": "Later"})
    assert answer["pushed"] is False and "push is disabled" in answer["note"]
    assert synced_agent.state.write_requests == writes


async def test_each_sharing_reason_and_as_user_visibility(synced_agent: CrmWorld, world_client: RpcClient) -> None:
    listed = [o for o in await owners(world_client) if o["active"]]
    owner_a = listed[0]
    teammate = next(o for o in listed[1:] if team_of(o) == team_of(owner_a))
    outsider = next(o for o in listed if team_of(o) != team_of(owner_a))
    user_a = await user_for(world_client, owner_a)
    user_team = await user_for(world_client, teammate)
    user_out = await user_for(world_client, outsider)
    admin = await world_client.call("users.create", {"email": "boss@corp.example", "role": "admin"})
    contact = (await all_contacts(world_client, owner=owner_a["crm_id"]))[0]

    sharing = await world_client.call("contacts.sharing", {"id": contact["id"]})
    reasons = {u["user_id"]: {r["kind"] for r in u["reasons"]} for u in sharing["shared_to"]}
    assert sharing["owner"]["crm_owner_id"] == owner_a["crm_id"] and sharing["owner"]["user_id"] == user_a["id"]
    assert reasons[user_a["id"]] == {"owner"}
    assert reasons[user_team["id"]] == {"team"}
    assert reasons[admin["id"]] == {"admin"}
    assert user_out["id"] not in reasons

    visible = await all_contacts_as(world_client, user_out["id"])
    assert contact["id"] not in visible
    with pytest.raises(RpcError):
        await world_client.call("contacts.get", {"id": contact["id"], "as_user": user_out["id"]})

    smart = await world_client.call("smartlists.create", {"name": "owned by A", "filter": {"owner": owner_a["email"]},
                                                          "shared_with": [user_out["id"]]})
    sharing = await world_client.call("contacts.sharing", {"id": contact["id"]})
    out_reasons = next(u["reasons"] for u in sharing["shared_to"] if u["user_id"] == user_out["id"])
    assert out_reasons == [{"kind": "smart_list", "detail": "owned by A"}]
    assert contact["id"] in await all_contacts_as(world_client, user_out["id"])
    listed_by_smart = await world_client.call("contacts.list", {"smart_list": smart["id"], "limit": 500})
    assert {c["owner_id"] for c in listed_by_smart["contacts"]} == {owner_a["crm_id"]}

    await world_client.call("smartlists.update", {"id": smart["id"], "shared_with": []})
    assert contact["id"] not in await all_contacts_as(world_client, user_out["id"])
    other = (await all_contacts(world_client, owner=outsider["crm_id"]))[0]
    await world_client.call("settings.update", {"push_enabled": False})
    await world_client.call("todos.assign", {"contact_id": contact["id"], "assignee": user_out["id"], "title": "x"})
    assert contact["id"] in await all_contacts_as(world_client, user_out["id"])
    assert other["id"] in await all_contacts_as(world_client, user_out["id"])
    admin_sees = await world_client.call("contacts.list", {"as_user": admin["id"], "limit": 500})
    assert len(admin_sees["contacts"]) == 200


async def all_contacts_as(client: RpcClient, user_id: int) -> set[int]:
    seen: set[int] = set()
    after = None
    while True:
        page = await client.call("contacts.list", {"as_user": user_id, "after": after, "limit": 500})
        seen |= {c["id"] for c in page["contacts"]}
        after = page["next_after"]
        if after is None:
            return seen


async def test_s05_owner_without_user_is_shown_and_push_uses_fallback_or_holds(synced_agent: CrmWorld,
                                                                             world_client: RpcClient) -> None:
    listed = await owners(world_client)
    carol = next(o for o in listed if o["active"] and o["contacts_owned"] > 0)
    assert carol["user_id"] is None  # shown as an owner needing a user, not reassigned
    creator = await world_client.call("users.create", {"email": "nobody@corp.example"})
    held = await world_client.call("contacts.create", {"created_by": creator["id"],
                                                       "fields": {"email": "held@example.org"}})
    run = await world_client.call("sync.run", {"wait": True})
    assert run["created_crm"] == 0 and run["failed"] == 1 and run["status"] == "partial"
    errors = await world_client.call("errors.list", {"contact_id": held["id"]})
    assert "no CRM owner" in errors[0]["reason"] and "fallback" in errors[0]["reason"]
    await world_client.call("settings.update", {"fallback_owner": carol["crm_id"]})
    await world_client.call("contacts.push", {"ids": [held["id"]]})
    pushed = await world_client.call("contacts.get", {"id": held["id"]})
    assert synced_agent.state.get_contact(pushed["crm_id"]).properties["hubspot_owner_id"] == carol["crm_id"]
    assert await world_client.call("errors.list", {"contact_id": held["id"]}) == []
    still = next(o for o in await owners(world_client) if o["crm_id"] == carol["crm_id"])
    assert still["contacts_owned"] == carol["contacts_owned"] + 1


async def test_b17_owner_who_left_stays_owner_and_push_uses_fallback(synced_agent: CrmWorld,
                                                                    world_client: RpcClient) -> None:
    listed = await owners(world_client)
    bob = next(o for o in listed if not o["active"])
    theirs = await all_contacts(world_client, owner=bob["crm_id"])
    assert theirs and all(c["owner_id"] == bob["crm_id"] for c in theirs)
    user_bob = await user_for(world_client, bob)
    assert user_bob["owner_active"] is False
    fallback = next(o for o in listed if o["active"])
    await world_client.call("settings.update", {"fallback_owner": fallback["crm_id"]})
    contact = await world_client.call("contacts.create", {"created_by": user_bob["id"],
                                                          "fields": {"email": "from.bob@example.org"}})
    await world_client.call("contacts.push", {"ids": [contact["id"]]})
    pushed = await world_client.call("contacts.get", {"id": contact["id"]})
    assert synced_agent.state.get_contact(pushed["crm_id"]).properties["hubspot_owner_id"] == fallback["crm_id"]
    log = await world_client.call("sync.log", {"contact_id": contact["id"]})
    assert "fallback owner" in (log[0]["note"] or "")


async def test_push_of_a_contact_whose_email_exists_in_the_crm_links_without_overwriting(
        synced_agent: CrmWorld, world_client: RpcClient) -> None:
    listed = [o for o in await owners(world_client) if o["active"]]
    crm_owner, creator_owner = listed[0], listed[1]
    crm_id = synced_agent.state.add_contact({"email": "exists@example.com", "lifecyclestage": "customer",
                                             "hubspot_owner_id": crm_owner["crm_id"], "jobtitle": "CRM title"})
    creator = await user_for(world_client, creator_owner)
    local = await world_client.call("contacts.create", {"created_by": creator["id"], "fields": {
        "email": "Exists@Example.com", "first_name": "Loc", "job_title": "Local title"}})
    run = await world_client.call("contacts.push", {"ids": [local["id"]]})  # a push-only run: no pull first
    assert run["created_crm"] == 0 and run["linked"] == 1 and run["failed"] == 0
    props = synced_agent.state.get_contact(crm_id).properties
    assert (props["lifecyclestage"], props["hubspot_owner_id"], props["jobtitle"]) == (
        "customer", crm_owner["crm_id"], "CRM title")
    linked = await world_client.call("contacts.get", {"id": local["id"], "include": ["conflicts"]})
    assert linked["crm_id"] == crm_id and linked["owner_id"] == crm_owner["crm_id"]
    assert linked["lifecycle_stage"] == "customer" and linked["job_title"] == "CRM title"
    assert {c["field"] for c in linked["conflicts"]} >= {"job_title", "lifecycle_stage"}  # the losing values kept
    await world_client.call("sync.run", {"wait": True})
    assert synced_agent.state.get_contact(crm_id).properties["firstname"] == "Loc"  # a local-only value goes out
    assert synced_agent.state.get_contact(crm_id).properties["hubspot_owner_id"] == crm_owner["crm_id"]


async def test_ownership_cannot_be_changed_through_a_mapping_or_a_custom_field(synced_agent: CrmWorld,
                                                                              world_client: RpcClient) -> None:
    with pytest.raises(RpcError, match="ownership comes from the CRM"):
        await world_client.call("mappings.update", {"local": "owner_hack", "crm": "hubspot_owner_id"})
    contact = (await all_contacts(world_client))[0]
    for field in ("owner", "crm_id", "created_by"):
        with pytest.raises(RpcError) as err:
            await world_client.call("contacts.update", {"id": contact["id"], "fields": {field: "1"}})
        assert err.value.code in (RpcCode.VALIDATION, RpcCode.OWNER_READ_ONLY)
    with pytest.raises(RpcError, match="field name"):
        await world_client.call("contacts.update", {"id": contact["id"], "fields": {"Bad Name": "x"}})
