"""What only Salesforce does: separate Lead and Contact objects, Lead conversion, merges that leave a
``MasterRecordId``, and SOQL literals (case B13). The guarantees every CRM shares are in test_sync.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest

from leadsync.common.rpc import RpcClient, RpcError
from tests.conftest import SideWorld, connect_side
from tests.crm_worlds import SalesforceSide, make_side
from tests.test_sync import all_contacts, new_user


@pytest.fixture
async def sf(short_tmp: Path) -> AsyncIterator[SideWorld]:
    world = await connect_side(short_tmp, make_side("salesforce"))
    async with RpcClient(world.agent.socket_path) as client:
        assert (await client.call("sync.run", {"wait": True}))["status"] == "ok"
    yield world
    await world.agent.stop()


@pytest.fixture
async def client(sf: SideWorld) -> AsyncIterator[RpcClient]:
    async with RpcClient(sf.agent.socket_path) as client:
        yield client


def side(world: SideWorld) -> SalesforceSide:
    assert isinstance(world.crm, SalesforceSide)
    return world.crm


async def a_lead(client: RpcClient) -> dict[str, Any]:
    return next(c for c in await all_contacts(client) if c["crm_object_type"] == "lead")


async def test_both_objects_are_pulled_each_with_its_own_cursor(sf: SideWorld, client: RpcClient) -> None:
    contacts = await all_contacts(client)
    kinds = {c["crm_object_type"] for c in contacts}
    assert kinds == {"lead", "contact"}
    cursors = await sf.agent.store.fetchall("SELECT object_type FROM cursors WHERE crm = 'salesforce'")
    assert sorted(r[0] for r in cursors) == ["contact", "lead"]


async def test_a_converted_lead_is_followed_to_its_contact(sf: SideWorld, client: RpcClient) -> None:
    lead = await a_lead(client)
    contact_id = side(sf).convert(lead["crm_id"])
    side(sf).set(contact_id, {"job_title": "Converted Title"})
    run = await client.call("sync.run", {"wait": True})
    assert run["status"] == "ok" and run["created_local"] == 0, run
    after = await client.call("contacts.get", {"id": lead["id"]})
    assert (after["crm_object_type"], after["crm_id"]) == ("contact", contact_id)
    assert after["job_title"] == "Converted Title"
    await client.call("contacts.update", {"id": lead["id"], "fields": {"first_name": "Pushed"}})
    assert (await client.call("sync.run", {"wait": True}))["updated_crm"] == 1
    assert side(sf).get(contact_id)["first_name"] == "Pushed"  # the update went to the Contact


async def test_an_update_to_a_lead_converted_since_the_last_pull_lands_on_the_contact(sf: SideWorld,
                                                                                      client: RpcClient) -> None:
    lead = await a_lead(client)
    await client.call("contacts.update", {"id": lead["id"], "fields": {"job_title": "Local Edit"}})
    contact_id = side(sf).convert(lead["crm_id"])
    run = await client.call("sync.run", {"wait": True, "pull": False})  # the push meets the converted Lead
    assert run["failed"] == 0 and run["updated_crm"] == 1, run
    assert side(sf).get(contact_id)["job_title"] == "Local Edit"
    after = await client.call("contacts.get", {"id": lead["id"]})
    assert (after["crm_object_type"], after["crm_id"], after["sync_state"]) == ("contact", contact_id, "synced")


async def test_a_new_contact_whose_email_is_on_a_salesforce_contact_links_to_it(sf: SideWorld,
                                                                                client: RpcClient) -> None:
    contact = next(c for c in await all_contacts(client) if c["crm_object_type"] == "contact")
    await client.call("contacts.delete", {"id": contact["id"]})  # forget it locally, keep it in Salesforce
    user = await new_user(client)
    local = await client.call("contacts.create", {"created_by": user["id"], "fields": {
        "email": contact["email"].upper(), "last_name": "Again", "company": "Acme"}})
    leads_before = side(sf).state.count("Lead")
    run = await client.call("sync.run", {"wait": True, "pull": False})
    assert run["linked"] == 1 and run["created_crm"] == 0, run
    linked = await client.call("contacts.get", {"id": local["id"]})
    assert (linked["crm_object_type"], linked["crm_id"]) == ("contact", contact["crm_id"])
    assert side(sf).state.count("Lead") == leads_before  # no Lead beside the Contact


async def test_b13_an_apostrophe_in_the_email_is_escaped_and_linked(sf: SideWorld, client: RpcClient) -> None:
    lead_id = side(sf).add({"email": "o'brien@example.com", "last_name": "O'Brien"})
    user = await new_user(client)
    local = await client.call("contacts.create", {"created_by": user["id"], "fields": {
        "email": "o'brien@example.com", "last_name": "O'Brien", "company": "Acme"}})
    run = await client.call("sync.run", {"wait": True, "pull": False})
    assert run["linked"] == 1 and run["created_crm"] == 0 and run["failed"] == 0, run
    assert (await client.call("contacts.get", {"id": local["id"]}))["crm_id"] == lead_id
    assert side(sf).state.find_ids("Lead", "Email", "o'brien@example.com") == [lead_id]
    queries = [unquote_plus(r.query) for r in side(sf).state.request_log if "/query" in r.path]
    assert any("o\\'brien@example.com" in q for q in queries)
    assert not any("'o'brien" in q for q in queries)


async def test_a_merge_moves_the_local_contact_to_the_survivor(sf: SideWorld, client: RpcClient) -> None:
    leads = [c for c in await all_contacts(client) if c["crm_object_type"] == "lead"][:2]
    survivor, merged = leads
    side(sf).merge(survivor["crm_id"], merged["crm_id"])
    run = await client.call("sync.run", {"wait": True})
    assert run["status"] == "ok", run
    gone = await client.call("contacts.get", {"id": merged["id"]})
    assert gone["crm_state"] == "merged" and gone["crm_id"] is None
    assert (await client.call("sync.run", {"wait": True}))["created_crm"] == 0  # never recreated


async def test_mappings_check_warns_that_contacts_have_no_company_or_status(sf: SideWorld, client: RpcClient) -> None:
    check = await client.call("mappings.check")
    warned = {p["field"]: p["message"] for p in check["problems"] if p["kind"] == "not_on_object"}
    assert set(warned) == {"company", "lifecycle_stage"}
    assert "contact records have no Company" in warned["company"]
    assert check["ok"] is True  # a warning, not an error: Leads still sync them


async def test_connecting_with_a_wrong_client_secret_names_the_credentials(short_tmp: Path) -> None:
    side = make_side("salesforce")
    world = await connect_side(short_tmp, side)  # connected with the sandbox's static session
    try:
        async with RpcClient(world.agent.socket_path) as client:
            await client.call("crm.disconnect")
            with pytest.raises(RpcError) as refused:
                await client.call("crm.connect", {"crm": "salesforce", "base_url": "http://salesforce.test",
                                                  "credentials": {"client_id": "sandbox-client-id",
                                                                  "client_secret": "wrong",
                                                                  "refresh_token": "sandbox-refresh-token"}})
            message = refused.value.message
            assert "refused these credentials" in message and "client_secret" in message
            assert "crm.reauth" not in message and "wrong" not in message
            assert (await client.call("crm.status"))["connected"] is False
    finally:
        await world.agent.stop()
