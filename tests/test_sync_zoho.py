"""What only Zoho CRM does: Leads and Contacts with different field names for one thing (a Lead's
``Designation`` is a Contact's ``Title``), and Lead conversion. Shared guarantees are in test_sync.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from leadsync.common.rpc import RpcClient
from tests.conftest import SideWorld, connect_side
from tests.crm_worlds import ZohoSide, make_side
from tests.test_sync import all_contacts, new_user


@pytest.fixture
async def zoho(short_tmp: Path) -> AsyncIterator[SideWorld]:
    world = await connect_side(short_tmp, make_side("zoho"))
    async with RpcClient(world.agent.socket_path) as client:
        assert (await client.call("sync.run", {"wait": True}))["status"] == "ok"
    yield world
    await world.agent.stop()


@pytest.fixture
async def client(zoho: SideWorld) -> AsyncIterator[RpcClient]:
    async with RpcClient(zoho.agent.socket_path) as client:
        yield client


def side(world: SideWorld) -> ZohoSide:
    assert isinstance(world.crm, ZohoSide)
    return world.crm


async def test_job_title_is_designation_on_a_lead_and_title_on_a_contact(zoho: SideWorld, client: RpcClient) -> None:
    contacts = await all_contacts(client)
    lead = next(c for c in contacts if c["crm_object_type"] == "lead")
    contact = next(c for c in contacts if c["crm_object_type"] == "contact")
    for local in (lead, contact):
        await client.call("contacts.update", {"id": local["id"], "fields": {"job_title": f"Title {local['id']}"}})
    run = await client.call("sync.run", {"wait": True})
    assert run["updated_crm"] == 2 and run["failed"] == 0, run
    assert side(zoho).state.get_record("Leads", lead["crm_id"])["Designation"] == f"Title {lead['id']}"
    assert side(zoho).state.get_record("Contacts", contact["crm_id"])["Title"] == f"Title {contact['id']}"
    side(zoho).set(contact["crm_id"], {"job_title": "From Zoho"})
    assert (await client.call("sync.run", {"wait": True}))["updated_local"] == 1
    assert (await client.call("contacts.get", {"id": contact["id"]}))["job_title"] == "From Zoho"


async def test_a_converted_lead_is_followed_to_its_contact(zoho: SideWorld, client: RpcClient) -> None:
    lead = next(c for c in await all_contacts(client) if c["crm_object_type"] == "lead")
    contact_id = side(zoho).convert(lead["crm_id"])
    run = await client.call("sync.run", {"wait": True})
    assert run["status"] == "ok" and run["created_local"] == 0, run
    after = await client.call("contacts.get", {"id": lead["id"]})
    assert (after["crm_object_type"], after["crm_id"]) == ("contact", contact_id)
    await client.call("contacts.update", {"id": lead["id"], "fields": {"first_name": "Pushed"}})
    assert (await client.call("sync.run", {"wait": True}))["updated_crm"] == 1
    assert side(zoho).state.get_record("Contacts", contact_id)["First_Name"] == "Pushed"


async def test_an_update_to_a_lead_converted_since_the_last_pull_lands_on_the_contact(zoho: SideWorld,
                                                                                      client: RpcClient) -> None:
    lead = next(c for c in await all_contacts(client) if c["crm_object_type"] == "lead")
    await client.call("contacts.update", {"id": lead["id"], "fields": {"first_name": "Local Edit"}})
    contact_id = side(zoho).convert(lead["crm_id"])
    run = await client.call("sync.run", {"wait": True, "pull": False})
    assert run["failed"] == 0 and run["updated_crm"] == 1, run
    assert side(zoho).state.get_record("Contacts", contact_id)["First_Name"] == "Local Edit"


async def test_a_new_contact_whose_email_is_on_a_zoho_contact_links_to_it(zoho: SideWorld, client: RpcClient) -> None:
    contact = next(c for c in await all_contacts(client) if c["crm_object_type"] == "contact")
    await client.call("contacts.delete", {"id": contact["id"]})
    user = await new_user(client)
    local = await client.call("contacts.create", {"created_by": user["id"], "fields": {
        "email": contact["email"].upper(), "last_name": "Again", "company": "Acme"}})
    leads = side(zoho).state.count("Leads")
    run = await client.call("sync.run", {"wait": True, "pull": False})
    assert run["linked"] == 1 and run["created_crm"] == 0, run
    linked = await client.call("contacts.get", {"id": local["id"]})
    assert (linked["crm_object_type"], linked["crm_id"]) == ("contact", contact["crm_id"])
    assert side(zoho).state.count("Leads") == leads
