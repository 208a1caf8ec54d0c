"""No back door around the rules (issue 18), on every CRM: the owner under any name is refused like
``owner_id`` (a custom field named like an owner property, or a field whose mapping targets the CRM's owner
property), ``contacts.update`` refuses a field the store does not know with the known names, and custom
fields that came in by a create or an import are reported by ``mappings.check`` as unmapped."""

from __future__ import annotations

from typing import Any

import pytest

from leadsync.common.errors import RpcCode
from leadsync.common.rpc import RpcClient, RpcError
from tests.conftest import SideWorld
from tests.test_merge import sync
from tests.test_ownership import owners
from tests.test_push_rules import creator
from tests.test_sync import all_contacts

OWNER_NAMES = ("hubspot_owner_id", "OwnerId", "Owner", "ownerResourceID", "owner_email", "contact_owner",
               "Lead Owner")


async def owner_refused(call: Any) -> RpcError:
    with pytest.raises(RpcError) as refused:
        await call
    assert refused.value.code == RpcCode.OWNER_READ_ONLY, refused.value.message
    return refused.value


async def test_an_edit_of_a_field_named_like_an_owner_property_is_refused(crm_synced: SideWorld,
                                                                          crm_client: RpcClient) -> None:
    contact = (await all_contacts(crm_client))[0]
    for name in (*OWNER_NAMES, crm_synced.crm.names["owner"]):
        error = await owner_refused(crm_client.call("contacts.update", {"id": contact["id"],
                                                                         "fields": {name: "1"}}))
        assert "owner comes from the CRM" in error.message
    user = await creator(crm_client)
    error = await owner_refused(crm_client.call("contacts.create", {"created_by": user["id"], "fields": {
        "email": "sneaky@example.org", "hubspot_owner_id": "1"}}))
    assert "owned by its creator" in error.message
    assert (await crm_client.call("contacts.list", {"filter": {"q": "sneaky"}}))["contacts"] == []
    assert (await crm_client.call("contacts.get", {"id": contact["id"]}))["fields"] == contact["fields"]
    with pytest.raises(RpcError, match="ownership comes from the CRM"):  # nor mapped under such a name
        await crm_client.call("mappings.update", {"local": "hubspot_owner_id", "crm": crm_synced.crm.names["email"]})


async def test_a_field_mapped_to_the_owner_property_is_refused_and_never_pushed(crm_synced: SideWorld,
                                                                                crm_client: RpcClient) -> None:
    owner_property = crm_synced.agent.require_connector().capabilities.owner_property
    # mappings.update refuses it (any case); one saved before that rule, as here, is refused at the edit
    with pytest.raises(RpcError, match="ownership comes from the CRM"):
        await crm_client.call("mappings.update", {"local": "assigned_to", "crm": owner_property.upper()})
    await crm_client.call("mappings.update", {"local": "assigned_to", "crm": crm_synced.crm.names["email"],
                                              "direction": "to_crm"})
    async with crm_synced.agent.store.transaction() as db:
        await db.execute("UPDATE field_mappings SET crm = ? WHERE local = 'assigned_to'", (owner_property,))
    await crm_synced.agent.reload_mappings()
    contact = (await all_contacts(crm_client))[1]
    await owner_refused(crm_client.call("contacts.update", {"id": contact["id"], "fields": {"assigned_to": "1"}}))
    check = await crm_client.call("mappings.check")
    assert ("owner_mapped", "assigned_to") in {(p["kind"], p["field"]) for p in check["problems"]}
    # a value it holds (written before the rule, or pulled) is never pushed as the owner
    other = next(o["crm_id"] for o in await owners(crm_client) if o["active"] and o["crm_id"] != contact["owner_id"])
    async with crm_synced.agent.store.transaction() as db:
        await db.execute("UPDATE contacts SET fields = json_set(fields, '$.assigned_to', ?), "
                         "local_rev = local_rev + 1 WHERE id = ?", (other, contact["id"]))
    crm_synced.crm.reset()
    await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"job_title": "Still Synced"}})
    await sync(crm_client)
    sent = [props for _, crm_id, props in crm_synced.crm.sent_writes() if crm_id == contact["crm_id"]]
    assert sent and all(owner_property not in props for props in sent)
    assert crm_synced.crm.get(contact["crm_id"])["owner"] == contact["owner_id"]


async def test_an_edit_of_an_unknown_field_is_refused_with_the_known_ones(crm_synced: SideWorld,
                                                                          crm_client: RpcClient) -> None:
    contact = (await all_contacts(crm_client))[2]
    with pytest.raises(RpcError) as refused:
        await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"frist_name": "Ada",
                                                                                  "job_title": "Not Applied"}})
    assert refused.value.code == RpcCode.VALIDATION
    assert refused.value.message.startswith("frist_name: no such field; the known fields are ")
    assert {"first_name", "email", "lead_score"} <= set(refused.value.data["known_fields"])
    after = await crm_client.call("contacts.get", {"id": contact["id"]})
    assert (after["job_title"], after["fields"]) == (contact["job_title"], contact["fields"])
    # a custom field that came in with a create is known from then on, for every contact
    user = await creator(crm_client)
    await crm_client.call("contacts.create", {"created_by": user["id"], "fields": {
        "email": "colourful@example.org", "favourite_colour": "teal"}})
    edited = await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"favourite_colour": "red"}})
    assert edited["fields"]["favourite_colour"] == "red"


async def test_mappings_check_reports_custom_fields_no_mapping_syncs(crm_synced: SideWorld,
                                                                     crm_client: RpcClient) -> None:
    user = await creator(crm_client)
    report = await crm_client.call("contacts.import", {"as_user": user["id"], "header": ["Email", "Shoe Size"],
                                                       "rows": [[2, ["shoes@example.org", "44"]]]})
    assert report["created"] == 1
    check = await crm_client.call("mappings.check")
    [unmapped] = [p for p in check["problems"] if p["kind"] == "unmapped_field"]
    assert (unmapped["severity"], unmapped["field"]) == ("warning", "shoe_size")
    assert "never reaches" in unmapped["message"]
    assert check["ok"] is True  # a warning: the field is kept, only not synced
