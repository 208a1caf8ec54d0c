"""Ownership, sharing and to-dos (issue 3), through the socket API against each CRM's sandbox.

Each sandbox seeds owners (``CrmSide.seeded_owners``: 8, Zoho 6), in teams where the CRM has them
(HubSpot: 3 teams, owner n in team n % 3; Salesforce and Zoho: Users whose role is their team; Autotask
Resources have none); the first is the administrator the connection acts as and one is deactivated
(HubSpot lists it only with archived=true, case B17; the others keep it as an inactive user).

New contacts carry a first and last name, a company and a phone: every CRM accepts them (a Salesforce or
Zoho Lead needs a last name and a company; an Autotask contact needs both names and a company, and a new
Autotask company a phone).
"""

from __future__ import annotations

from typing import Any

import pytest

from leadsync.common.errors import RpcCode
from leadsync.common.rpc import RpcClient, RpcError
from tests.conftest import SideWorld
from tests.test_sync import all_contacts


async def owners(client: RpcClient) -> list[dict[str, Any]]:
    listed = await client.call("users.list")
    return sorted(listed["unmatched_owners"], key=lambda o: o["crm_id"])


async def user_for(client: RpcClient, owner: dict[str, Any], role: str = "user") -> dict[str, Any]:
    user: dict[str, Any] = await client.call("users.create", {"email": owner["email"], "name": owner["first_name"],
                                                              "role": role})
    return user


def team_of(owner: dict[str, Any]) -> str | None:
    """The owner's (first) team; None where the CRM has no teams (Autotask)."""
    return str(owner["teams"][0]["id"]) if owner["teams"] else None


async def test_unmatched_owners_are_listed_with_contact_counts(crm_synced: SideWorld, crm_client: RpcClient) -> None:
    listed = await owners(crm_client)
    assert len(listed) == crm_synced.crm.seeded_owners
    assert sum(o["contacts_owned"] for o in listed) > 0
    inactive = [o for o in listed if not o["active"]]
    assert len(inactive) == 1  # the deactivated owner stays an owner, marked inactive (B17)


async def test_second_crm_is_refused_until_disconnect(crm_world: SideWorld, crm_client: RpcClient) -> None:
    for other in ("hubspot", "salesforce"):  # the same CRM again, or another one
        with pytest.raises(RpcError) as err:
            await crm_client.call("crm.connect", {"crm": other, "credentials": {"token": "other"}})
        assert err.value.code == RpcCode.CRM_ALREADY_CONNECTED
        assert f"{crm_world.crm.crm} is already connected" in err.value.message
    status = await crm_client.call("crm.status")
    assert status["connected"] and status["is_admin"] is True and status["user_email"]
    await crm_client.call("crm.disconnect")
    assert (await crm_client.call("crm.status"))["connected"] is False


async def test_owner_change_in_crm_arrives_with_history(crm_synced: SideWorld, crm_client: RpcClient) -> None:
    contact = (await all_contacts(crm_client))[0]
    others = [o for o in await owners(crm_client) if o["crm_id"] != contact["owner_id"] and o["active"]]
    crm_synced.crm.set(contact["crm_id"], {"owner": others[0]["crm_id"]})
    run = await crm_client.call("sync.run", {"wait": True})
    updated = await crm_client.call("contacts.get", {"id": contact["id"], "include": ["owner_history"]})
    assert updated["owner_id"] == others[0]["crm_id"]
    history = updated["owner_history"]
    assert history[-1]["old_owner"] == contact["owner_id"]
    assert history[-1]["new_owner"] == others[0]["crm_id"]
    assert history[-1]["source"] == "crm" and history[-1]["sync_run_id"] == run["id"]


async def test_local_owner_change_is_refused_with_crm_hint(crm_synced: SideWorld, crm_client: RpcClient) -> None:
    contact = (await all_contacts(crm_client))[0]
    with pytest.raises(RpcError) as err:
        await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"owner_id": "123"}})
    assert err.value.code == RpcCode.OWNER_READ_ONLY
    assert "change the owner in the CRM" in err.value.message
    assert (await crm_client.call("contacts.get", {"id": contact["id"]}))["owner_id"] == contact["owner_id"]


async def test_form_contact_is_owned_by_the_publisher_in_the_crm(crm_synced: SideWorld,
                                                                 crm_client: RpcClient) -> None:
    publisher = await user_for(crm_client, (await owners(crm_client))[2])
    contact = await crm_client.call("contacts.create", {"created_by": publisher["email"], "source": "form",
                                                        "fields": {"email": "form.fill@example.org",
                                                                   "first_name": "Form", "last_name": "Fill",
                                                                   "company": "Formco", "phone": "+1 555 0102"}})
    run = await crm_client.call("sync.run", {"wait": True})
    assert run["created_crm"] == 1
    pushed = await crm_client.call("contacts.get", {"id": contact["id"]})
    assert crm_synced.crm.get(pushed["crm_id"])["owner"] == publisher["crm_owner_id"]
    assert pushed["created_by"] == publisher["id"] and pushed["source"] == "form"


async def test_todo_moves_ownership_to_the_assignee_in_the_crm(crm_synced: SideWorld, crm_client: RpcClient) -> None:
    contact = (await all_contacts(crm_client))[3]
    assignee_owner = next(o for o in await owners(crm_client) if o["active"] and o["crm_id"] != contact["owner_id"])
    assignee = await user_for(crm_client, assignee_owner)
    answer = await crm_client.call("todos.assign", {"contact_id": contact["id"], "assignee": assignee["id"],
                                                    "title": "Call back", "due": "2026-12-01"})
    if crm_synced.crm.crm == "autotask":
        # an Autotask contact's owner is its company's: the connector refuses to move one contact (that would
        # move every contact of the company); the record fails alone with the reason, the to-do still shares it
        assert answer["pushed"] is False and answer["run"]["trigger"] == "todo" and answer["run"]["failed"] == 1
        [error] = await crm_client.call("errors.list", {"contact_id": contact["id"]})
        assert "owner of its company" in error["reason"] and "change it on the company" in error["reason"]
        assert crm_synced.crm.get(contact["crm_id"])["owner"] == contact["owner_id"]
        assert (await crm_client.call("contacts.get", {"id": contact["id"]}))["owner_id"] == contact["owner_id"]
        sharing = await crm_client.call("contacts.sharing", {"id": contact["id"]})
        assert any(r["kind"] == "todo" for u in sharing["shared_to"] if u["user_id"] == assignee["id"]
                   for r in u["reasons"])
        return
    assert answer["pushed"] is True and answer["run"]["trigger"] == "todo"
    assert crm_synced.crm.get(contact["crm_id"])["owner"] == assignee_owner["crm_id"]
    sharing = await crm_client.call("contacts.sharing", {"id": contact["id"]})
    reasons = {r["kind"] for u in sharing["shared_to"] if u["user_id"] == assignee["id"] for r in u["reasons"]}
    assert {"todo", "owner"} <= reasons
    again = await crm_client.call("sync.run", {"wait": True})
    assert (await crm_client.call("contacts.get", {"id": contact["id"]}))["owner_id"] == assignee_owner["crm_id"]
    assert again["updated_crm"] == 0


async def test_todo_with_push_disabled_writes_nothing(crm_synced: SideWorld, crm_client: RpcClient) -> None:
    contact = (await all_contacts(crm_client))[4]
    assignee = await user_for(crm_client, next(o for o in await owners(crm_client) if o["active"]))
    await crm_client.call("settings.update", {"push_enabled": False})
    writes = crm_synced.crm.writes()
    answer = await crm_client.call("todos.assign", {"contact_id": contact["id"], "assignee": assignee["id"],
                                                    "title": "Later"})
    assert answer["pushed"] is False and "push is disabled" in answer["note"]
    assert crm_synced.crm.writes() == writes


async def test_each_sharing_reason_and_as_user_visibility(crm_synced: SideWorld, crm_client: RpcClient) -> None:
    listed = [o for o in await owners(crm_client) if o["active"]]
    teams = any(o["teams"] for o in listed)  # Autotask has no teams: no team reason to check there
    # the first owner with contacts and an active teammate (HubSpot: the first owner; Salesforce's
    # administrator owns nothing and is alone in its role)
    owner_a = next(o for o in listed if o["contacts_owned"] and (not teams or any(
        team_of(t) == team_of(o) for t in listed if t is not o)))
    teammate = next(o for o in listed if o is not owner_a and team_of(o) == team_of(owner_a)) if teams else None
    outsider = next(o for o in listed if o is not owner_a and (not teams or team_of(o) != team_of(owner_a))
                    and o["contacts_owned"])
    user_a = await user_for(crm_client, owner_a)
    user_team = await user_for(crm_client, teammate) if teammate is not None else None
    user_out = await user_for(crm_client, outsider)
    admin = await crm_client.call("users.create", {"email": "boss@corp.example", "role": "admin"})
    contact = (await all_contacts(crm_client, owner=owner_a["crm_id"]))[0]

    sharing = await crm_client.call("contacts.sharing", {"id": contact["id"]})
    reasons = {u["user_id"]: {r["kind"] for r in u["reasons"]} for u in sharing["shared_to"]}
    assert sharing["owner"]["crm_owner_id"] == owner_a["crm_id"] and sharing["owner"]["user_id"] == user_a["id"]
    assert reasons[user_a["id"]] == {"owner"}
    if user_team is not None:
        assert reasons[user_team["id"]] == {"team"}
    else:  # a CRM without teams shares to nobody for a team
        assert not any("team" in kinds for kinds in reasons.values())
    assert reasons[admin["id"]] == {"admin"}
    assert user_out["id"] not in reasons

    visible = await all_contacts_as(crm_client, user_out["id"])
    assert contact["id"] not in visible
    with pytest.raises(RpcError):
        await crm_client.call("contacts.get", {"id": contact["id"], "as_user": user_out["id"]})

    smart = await crm_client.call("smartlists.create", {"name": "owned by A", "filter": {"owner": owner_a["email"]},
                                                        "shared_with": [user_out["id"]]})
    sharing = await crm_client.call("contacts.sharing", {"id": contact["id"]})
    out_reasons = next(u["reasons"] for u in sharing["shared_to"] if u["user_id"] == user_out["id"])
    assert out_reasons == [{"kind": "smart_list", "detail": "owned by A"}]
    assert contact["id"] in await all_contacts_as(crm_client, user_out["id"])
    listed_by_smart = await crm_client.call("contacts.list", {"smart_list": smart["id"], "limit": 500})
    assert {c["owner_id"] for c in listed_by_smart["contacts"]} == {owner_a["crm_id"]}

    await crm_client.call("smartlists.update", {"id": smart["id"], "shared_with": []})
    assert contact["id"] not in await all_contacts_as(crm_client, user_out["id"])
    other = (await all_contacts(crm_client, owner=outsider["crm_id"]))[0]
    await crm_client.call("settings.update", {"push_enabled": False})
    await crm_client.call("todos.assign", {"contact_id": contact["id"], "assignee": user_out["id"], "title": "x"})
    assert contact["id"] in await all_contacts_as(crm_client, user_out["id"])
    assert other["id"] in await all_contacts_as(crm_client, user_out["id"])
    admin_sees = await crm_client.call("contacts.list", {"as_user": admin["id"], "limit": 500})
    assert len(admin_sees["contacts"]) == crm_synced.crm.count()


async def all_contacts_as(client: RpcClient, user_id: int) -> set[int]:
    seen: set[int] = set()
    after = None
    while True:
        page = await client.call("contacts.list", {"as_user": user_id, "after": after, "limit": 500})
        seen |= {c["id"] for c in page["contacts"]}
        after = page["next_after"]
        if after is None:
            return seen


async def test_s05_owner_without_user_is_shown_and_push_uses_fallback_or_holds(crm_synced: SideWorld,
                                                                               crm_client: RpcClient) -> None:
    listed = await owners(crm_client)
    carol = next(o for o in listed if o["active"] and o["contacts_owned"] > 0)
    assert carol["user_id"] is None  # shown as an owner needing a user, not reassigned
    creator = await crm_client.call("users.create", {"email": "nobody@corp.example"})
    held = await crm_client.call("contacts.create", {"created_by": creator["id"],
                                                     "fields": {"email": "held@example.org", "first_name": "Hal",
                                                                "last_name": "Held", "company": "Holdco",
                                                                "phone": "+1 555 0103"}})
    run = await crm_client.call("sync.run", {"wait": True})
    assert run["created_crm"] == 0 and run["failed"] == 1 and run["status"] == "partial"
    errors = await crm_client.call("errors.list", {"contact_id": held["id"]})
    assert "no CRM owner" in errors[0]["reason"] and "fallback" in errors[0]["reason"]
    await crm_client.call("settings.update", {"fallback_owner": carol["crm_id"]})
    await crm_client.call("contacts.push", {"ids": [held["id"]]})
    pushed = await crm_client.call("contacts.get", {"id": held["id"]})
    assert crm_synced.crm.get(pushed["crm_id"])["owner"] == carol["crm_id"]
    assert await crm_client.call("errors.list", {"contact_id": held["id"]}) == []
    still = next(o for o in await owners(crm_client) if o["crm_id"] == carol["crm_id"])
    assert still["contacts_owned"] == carol["contacts_owned"] + 1


async def test_b17_owner_who_left_stays_owner_and_push_uses_fallback(crm_synced: SideWorld,
                                                                     crm_client: RpcClient) -> None:
    listed = await owners(crm_client)
    bob = next(o for o in listed if not o["active"])
    theirs = await all_contacts(crm_client, owner=bob["crm_id"])
    assert theirs and all(c["owner_id"] == bob["crm_id"] for c in theirs)
    user_bob = await user_for(crm_client, bob)
    assert user_bob["owner_active"] is False
    fallback = next(o for o in listed if o["active"])
    await crm_client.call("settings.update", {"fallback_owner": fallback["crm_id"]})
    contact = await crm_client.call("contacts.create", {"created_by": user_bob["id"],
                                                        "fields": {"email": "from.bob@example.org",
                                                                   "first_name": "Bob", "last_name": "Bob",
                                                                   "company": "Bobco", "phone": "+1 555 0104"}})
    await crm_client.call("contacts.push", {"ids": [contact["id"]]})
    pushed = await crm_client.call("contacts.get", {"id": contact["id"]})
    assert crm_synced.crm.get(pushed["crm_id"])["owner"] == fallback["crm_id"]
    log = await crm_client.call("sync.log", {"contact_id": contact["id"]})
    assert "fallback owner" in (log[0]["note"] or "")


async def test_push_of_a_contact_whose_email_exists_in_the_crm_links_without_overwriting(
        crm_synced: SideWorld, crm_client: RpcClient) -> None:
    listed = [o for o in await owners(crm_client) if o["active"]]
    crm_owner, creator_owner = listed[0], listed[1]
    crm_id = crm_synced.crm.add({"email": "exists@example.com", "lifecycle_stage": "customer",
                                 "owner": crm_owner["crm_id"], "job_title": "CRM title"})
    creator = await user_for(crm_client, creator_owner)
    local = await crm_client.call("contacts.create", {"created_by": creator["id"], "fields": {
        "email": "Exists@Example.com", "first_name": "Loc", "job_title": "Local title"}})
    run = await crm_client.call("contacts.push", {"ids": [local["id"]]})  # a push-only run: no pull first
    assert run["created_crm"] == 0 and run["linked"] == 1 and run["failed"] == 0
    # Autotask has no lifecycle stage field (not mapped): there the stage is local only, in no conflict
    stage = "customer" if "lifecycle_stage" in crm_synced.crm.names else None
    props = crm_synced.crm.get(crm_id)
    assert (props["lifecycle_stage"], props["owner"], props["job_title"]) == (
        stage, crm_owner["crm_id"], "CRM title")
    linked = await crm_client.call("contacts.get", {"id": local["id"], "include": ["conflicts"]})
    assert linked["crm_id"] == crm_id and linked["owner_id"] == crm_owner["crm_id"]
    assert linked["job_title"] == "CRM title"
    if stage is not None:
        assert linked["lifecycle_stage"] == stage
    conflicted = {"job_title", "lifecycle_stage"} if stage is not None else {"job_title"}
    assert {c["field"] for c in linked["conflicts"]} >= conflicted  # the losing values kept
    await crm_client.call("sync.run", {"wait": True})
    assert crm_synced.crm.get(crm_id)["first_name"] == "Loc"  # a local-only value goes out
    assert crm_synced.crm.get(crm_id)["owner"] == crm_owner["crm_id"]


async def test_ownership_cannot_be_changed_through_a_mapping_or_a_custom_field(crm_synced: SideWorld,
                                                                               crm_client: RpcClient) -> None:
    with pytest.raises(RpcError, match="ownership comes from the CRM"):
        await crm_client.call("mappings.update", {"local": "owner_hack", "crm": crm_synced.crm.names["owner"]})
    contact = (await all_contacts(crm_client))[0]
    for field in ("owner", "crm_id", "created_by"):
        with pytest.raises(RpcError) as err:
            await crm_client.call("contacts.update", {"id": contact["id"], "fields": {field: "1"}})
        assert err.value.code in (RpcCode.VALIDATION, RpcCode.OWNER_READ_ONLY)
    with pytest.raises(RpcError, match="field name"):
        await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"Bad Name": "x"}})
