"""Undoing a sync run (issue 18), on every CRM's sandbox: the plan first (``dry_run``), then every field the run
wrote goes back on both sides (a local field its pull changed, a CRM property its push changed), a field
changed since is listed and left untouched, a record it created is archived only on request, and the undo is
a run of its own (trigger ``undo``) that can be undone in turn."""

from __future__ import annotations

from typing import Any

import pytest

from leadsync.common.rpc import RpcClient, RpcError
from tests.conftest import SideWorld
from tests.crm_worlds import plain_text_field
from tests.test_ownership import owners, user_for
from tests.test_sync import all_contacts


async def sync(client: RpcClient) -> dict[str, Any]:
    run: dict[str, Any] = await client.call("sync.run", {"wait": True})
    assert run["status"] == "ok", run
    return run


async def leads(world: SideWorld, client: RpcClient) -> list[dict[str, Any]]:
    """Contacts of the object new leads go to (a Salesforce or Zoho Lead has a company; a Contact has none)."""
    lead_object = world.agent.require_connector().capabilities.new_lead_object
    return [c for c in await all_contacts(client) if c["crm_object_type"] == lead_object]


async def local(client: RpcClient, contact: dict[str, Any], field: str) -> Any:
    return (await client.call("contacts.get", {"id": contact["id"]}))[field]


async def test_undo_restores_both_sides_and_leaves_a_field_changed_since(crm_synced: SideWorld,
                                                                        crm_client: RpcClient) -> None:
    side, text = crm_synced.crm, plain_text_field(crm_synced.crm.crm)
    pushed, pulled, later = (await leads(crm_synced, crm_client))[:3]
    await crm_client.call("contacts.update", {"id": pushed["id"], "fields": {text: "Written by the run"}})
    await crm_client.call("contacts.update", {"id": later["id"], "fields": {text: "Also by the run"}})
    side.set(pulled["crm_id"], {"phone": "+1 555 0177"})
    user = await user_for(crm_client, next(o for o in await owners(crm_client) if o["active"]))
    new = await crm_client.call("contacts.create", {"created_by": user["id"], "fields": {
        "email": "undo.me@example.org", "first_name": "Undo", "last_name": "Me", "company": "Undoco",
        "phone": "+1 555 0178"}})
    run = await sync(crm_client)
    assert (run["updated_crm"], run["created_crm"], run["updated_local"]) == (2, 1, 1)
    side.set(later["crm_id"], {text: "Changed in the CRM since"})
    records = side.count()

    plan = await crm_client.call("sync.undo", {"run": run["id"], "dry_run": True})
    restore = {(i["contact_id"], i["field"]): i for i in plan["restore"]}
    assert set(restore) == {(pushed["id"], text), (pulled["id"], "phone")}
    assert restore[(pushed["id"], text)]["before"] == pushed[text]
    assert restore[(pushed["id"], text)]["run_value"] == "Written by the run"
    assert restore[(pulled["id"], "phone")]["before"] == pulled["phone"]
    assert sorted(restore[(pulled["id"], "phone")]["sides"]) == ["crm", "local"]
    [left] = plan["changed_since"]
    assert (left["contact_id"], left["field"]) == (later["id"], text) and "in the CRM" in left["note"]
    assert left["crm_value"] == "Changed in the CRM since" and left["local_value"] == "Also by the run"
    assert plan["created"] == [{"contact_id": new["id"], "crm_id": plan["created"][0]["crm_id"],
                                "object_type": plan["created"][0]["object_type"], "archive": False}]
    assert plan["counts"] == {"local": 2, "crm": 2, "changed_since": 1, "archive": 0, "failed": 0}
    assert plan["undo_run"] is None
    assert side.get(pushed["crm_id"])[text] == "Written by the run"  # the plan changed nothing

    undone = await crm_client.call("sync.undo", {"run": run["id"]})
    assert undone["undo_run"]["trigger"] == "undo" and undone["undo_run"]["status"] == "ok"
    assert undone["undo_run"]["undoes"] == run["id"] and undone["undo_run"]["updated_crm"] == 2
    for contact, field in ((pushed, text), (pulled, "phone")):  # back on both sides
        assert await local(crm_client, contact, field) == contact[field]
        assert side.get(contact["crm_id"])[field] == contact[field]
    assert side.get(later["crm_id"])[text] == "Changed in the CRM since"  # untouched on both sides
    assert await local(crm_client, later, text) == "Also by the run"
    assert side.count() == records  # the created record stays: not asked to archive it
    history = await crm_client.call("sync.history", {"limit": 1})
    assert history[0]["id"] == undone["undo_run"]["id"] and history[0]["trigger"] == "undo"

    after = await sync(crm_client)  # both sides agree: nothing written back; the later CRM edit comes in
    assert after["updated_crm"] == 0 and after["created_crm"] == 0
    assert await local(crm_client, pushed, text) == pushed[text]
    assert await local(crm_client, later, text) == "Changed in the CRM since"

    with pytest.raises(RpcError, match=f"sync run {run['id']} was already undone by sync run "
                                       f"{undone['undo_run']['id']}; to put its changes back, undo sync run"):
        await crm_client.call("sync.undo", {"run": run["id"], "dry_run": True})
    redo = await crm_client.call("sync.undo", {"run": undone["undo_run"]["id"]})  # the undo undone
    assert redo["counts"]["crm"] == 2 and redo["undo_run"]["status"] == "ok"
    assert side.get(pushed["crm_id"])[text] == "Written by the run"
    assert await local(crm_client, pulled, "phone") == side.get(pulled["crm_id"])["phone"] == "+1 555 0177"
    assert (await crm_client.call("sync.undo", {"run": run["id"], "dry_run": True}))["counts"]["crm"] == 2  # again
    quiet = await sync(crm_client)
    nothing = await crm_client.call("sync.undo", {"run": quiet["id"]})  # the run wrote nothing
    assert (nothing["dry_run"], nothing["undo_run"], nothing["counts"]["local"] + nothing["counts"]["crm"]) == (
        False, None, 0)
    assert (await crm_client.call("sync.history", {"limit": 1}))[0]["id"] == quiet["id"]  # no empty undo run


async def test_undo_archives_the_records_the_run_created_only_on_request(crm_synced: SideWorld,
                                                                         crm_client: RpcClient) -> None:
    user = await user_for(crm_client, next(o for o in await owners(crm_client) if o["active"]))
    new = await crm_client.call("contacts.create", {"created_by": user["id"], "fields": {
        "email": "archive.me@example.org", "first_name": "Archive", "last_name": "Me", "company": "Archiveco",
        "phone": "+1 555 0179"}})
    run = await sync(crm_client)
    records = crm_synced.crm.count()
    plan = await crm_client.call("sync.undo", {"run": run["id"], "dry_run": True, "archive_created": True})
    assert [c["contact_id"] for c in plan["created"] if c["archive"]] == [new["id"]]
    undone = await crm_client.call("sync.undo", {"run": run["id"], "archive_created": True})
    assert undone["counts"]["archive"] == 1 and undone["undo_run"]["status"] == "ok"
    assert crm_synced.crm.count() == records - 1
    assert (await crm_client.call("contacts.get", {"id": new["id"]}))["crm_state"] == "archived"
    again = await sync(crm_client)  # an archived contact is never re-created
    assert again["created_crm"] == 0


async def test_undo_refuses_what_it_cannot_do(crm_synced: SideWorld, crm_client: RpcClient) -> None:
    with pytest.raises(RpcError, match="no sync run"):
        await crm_client.call("sync.undo", {"run": 999_999})
    contact = (await leads(crm_synced, crm_client))[5]
    await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"phone": "+1 555 0180"}})
    run = await sync(crm_client)
    await crm_client.call("settings.update", {"push_enabled": False})
    with pytest.raises(RpcError, match="push is disabled"):
        await crm_client.call("sync.undo", {"run": run["id"]})
    assert crm_synced.crm.get(contact["crm_id"])["phone"] == "+1 555 0180"
