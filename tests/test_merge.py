"""Field mappings and the conflict-safe bidirectional merge (issue 5), against each CRM's sandbox."""

from __future__ import annotations

import json
from typing import Any

import pytest

from leadsync.agent.mappings import MappingUpdate, update_mapping
from leadsync.common.rpc import RpcClient, RpcError
from tests.conftest import CrmWorld, SideWorld
from tests.crm_worlds import plain_text_field
from tests.test_ownership import owners, user_for
from tests.test_sync import all_contacts


async def sync(client: RpcClient) -> dict[str, Any]:
    run: dict[str, Any] = await client.call("sync.run", {"wait": True})
    assert run["status"] in ("ok", "partial"), run
    return run


def crm(world: SideWorld, crm_id: str) -> dict[str, Any]:
    """The CRM record in local field names."""
    return world.crm.get(crm_id)


def sent_bodies(world: CrmWorld, suffix: str) -> list[Any]:
    """JSON bodies of the write requests the HubSpot sandbox received on paths ending with ``suffix``."""
    return [r.body for r in world.state.request_log if r.method == "POST" and r.path.endswith(suffix)]


def creates(world: SideWorld) -> list[Any]:
    """Records sent to be created (or upserted: created unless found) since the sandbox's last reset."""
    return [w for w in world.crm.sent_writes() if w[0] in ("create", "upsert")]


async def pick(client: RpcClient, n: int = 0, *, company: bool = False) -> dict[str, Any]:
    """The ``n``-th contact; with ``company``, among those whose CRM record has a company (a Salesforce
    Contact has none: its company is its Account)."""
    return [c for c in await all_contacts(client) if not company or c["company"] is not None][n]


async def test_s01_cleared_locally_stays_cleared(crm_synced: SideWorld, crm_client: RpcClient) -> None:
    contact = await pick(crm_client, 1)
    await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"job_title": "Manager"}})
    await sync(crm_client)
    assert crm(crm_synced, contact["crm_id"])["job_title"] == "Manager"
    await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"job_title": None}})
    run = await sync(crm_client)
    assert run["updated_crm"] == 1
    assert crm(crm_synced, contact["crm_id"])["job_title"] is None  # get() reads "" as None
    await sync(crm_client)
    assert (await crm_client.call("contacts.get", {"id": contact["id"]}))["job_title"] is None


# The update body of each CRM holding exactly the changed fields, a blank as that CRM clears a field:
# HubSpot "" (a null would be ignored, case B19), Salesforce, Zoho and Autotask null. Autotask maps no lead
# score (no standard field): the score stays local and only the phone goes out.
CLEARED_PHONE_SCORE_0 = {"hubspot": {"phone": "", "lead_score": "0"},
                         "salesforce": {"Phone": None, "Lead_Score__c": 0},
                         "zoho": {"Phone": None, "Lead_Score": 0},
                         "autotask": {"phone": None}}
CLEARED = {"hubspot": "", "salesforce": None, "zoho": None, "autotask": None}


async def test_b19_update_body_holds_exactly_the_changed_fields(crm_synced: SideWorld,
                                                                crm_client: RpcClient) -> None:
    contact = await pick(crm_client, 2, company=True)
    await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"phone": "+1 555 0100",
                                                                              "lead_score": 12}})
    await sync(crm_client)
    crm_synced.crm.reset()
    await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"phone": None, "lead_score": 0}})
    await sync(crm_client)
    assert crm_synced.crm.sent_writes() == [
        ("update", contact["crm_id"], CLEARED_PHONE_SCORE_0[crm_synced.crm.crm])]  # no fax key, nothing else
    # an incoming "" clears the local value
    field = plain_text_field(crm_synced.crm.crm)
    crm_synced.crm.set(contact["crm_id"], {field: ""})
    await sync(crm_client)
    assert (await crm_client.call("contacts.get", {"id": contact["id"]}))[field] is None


async def test_s02_email_change_is_an_update_of_the_linked_record(crm_synced: SideWorld,
                                                                  crm_client: RpcClient) -> None:
    contact = await pick(crm_client, 3)
    live = crm_synced.crm.count()
    await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"email": "b@b.com"}})
    await sync(crm_client)
    assert crm(crm_synced, contact["crm_id"])["email"] == "b@b.com"
    crm_synced.crm.set(contact["crm_id"], {"email": "c@c.com"})
    await sync(crm_client)
    local = await crm_client.call("contacts.get", {"id": contact["id"]})
    assert local["email"] == "c@c.com" and local["crm_id"] == contact["crm_id"]
    assert crm_synced.crm.count() == live
    assert creates(crm_synced) == []
    assert len(await all_contacts(crm_client)) == live


# HubSpot-only: HubSpot's own property types on the wire (hs_is_unworked, a multi-select sent as "a;b").
async def test_b18_booleans_and_multi_select_follow_property_types(synced_agent: CrmWorld,
                                                                  world_client: RpcClient) -> None:
    for local, prop in (("is_unworked", "hs_is_unworked"), ("interests", "interests"), ("do_not_call", "do_not_call")):
        await world_client.call("mappings.update", {"local": local, "crm": prop})
    contact = await pick(world_client, 4)
    synced_agent.state.update_contact(contact["crm_id"], {"hs_is_unworked": "false", "interests": "a;c"})
    await sync(world_client)
    pulled = await world_client.call("contacts.get", {"id": contact["id"]})
    assert pulled["fields"]["is_unworked"] is False
    assert pulled["fields"]["interests"] == ["a", "c"]
    synced_agent.state.reset_counters()
    await world_client.call("contacts.update", {"id": contact["id"], "fields": {"do_not_call": True,
                                                                                "interests": ["a", "b"]}})
    await sync(world_client)
    body = sent_bodies(synced_agent, "/batch/update")[0]["inputs"][0]["properties"]
    assert body == {"do_not_call": "true", "interests": "a;b"}


async def test_conflict_recorded_with_both_values_and_restorable(crm_synced: SideWorld,
                                                                 crm_client: RpcClient) -> None:
    field = plain_text_field(crm_synced.crm.crm)
    await crm_client.call("mappings.update", {"local": field, "policy": "crm_wins"})
    contact = await pick(crm_client, 5, company=True)
    await crm_client.call("contacts.update", {"id": contact["id"], "fields": {field: "Local Co"}})
    crm_synced.crm.set(contact["crm_id"], {field: "CRM Co"})
    await sync(crm_client)
    local = await crm_client.call("contacts.get", {"id": contact["id"], "include": ["conflicts", "provenance"]})
    assert local[field] == "CRM Co"
    [conflict] = local["conflicts"]
    assert (conflict["local_value"], conflict["crm_value"], conflict["winner"]) == ("Local Co", "CRM Co", "crm")
    assert conflict["policy"] == "crm_wins"
    assert local["provenance"][field]["source"] == "crm"
    assert local["provenance"][field]["previous"] == "Local Co"
    await crm_client.call("conflicts.resolve", {"id": conflict["id"], "choice": "restore"})
    await sync(crm_client)
    assert crm(crm_synced, contact["crm_id"])[field] == "Local Co"
    assert await crm_client.call("conflicts.list", {}) == []
    with pytest.raises(RpcError, match="already resolved"):
        await crm_client.call("conflicts.resolve", {"id": conflict["id"], "choice": "keep"})


async def test_newest_wins_inside_skew_refuses_to_decide(crm_synced: SideWorld, crm_client: RpcClient) -> None:
    await crm_client.call("mappings.update", {"local": "job_title", "policy": "newest_wins", "skew_ms": 3_600_000})
    contact = await pick(crm_client, 6)
    await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"job_title": "Local Title"}})
    crm_synced.crm.set(contact["crm_id"], {"job_title": "CRM Title"})
    writes = crm_synced.crm.writes()
    await sync(crm_client)
    await sync(crm_client)
    [conflict] = await crm_client.call("conflicts.list", {"contact_id": contact["id"]})
    assert conflict["winner"] == "none"
    assert (await crm_client.call("contacts.get", {"id": contact["id"]}))["job_title"] == "Local Title"
    assert crm(crm_synced, contact["crm_id"])["job_title"] == "CRM Title"
    assert crm_synced.crm.writes() == writes  # nothing written either way
    with pytest.raises(RpcError, match="choose 'local' or 'crm'"):
        await crm_client.call("conflicts.resolve", {"id": conflict["id"], "choice": "keep"})
    await crm_client.call("conflicts.resolve", {"id": conflict["id"], "choice": "local"})
    await sync(crm_client)
    assert crm(crm_synced, contact["crm_id"])["job_title"] == "Local Title"


async def test_a_local_edit_back_to_the_synced_value_is_not_backed_out(crm_synced: SideWorld,
                                                                       crm_client: RpcClient) -> None:
    await crm_client.call("mappings.update", {"local": "phone", "policy": "crm_unless_blank"})
    contact = await pick(crm_client, 15)
    crm_synced.crm.set(contact["crm_id"], {"phone": "+1 555 0111"})
    await sync(crm_client)  # both sides, and the base, hold +1 555 0111
    await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"phone": "+1 555 0112"}})
    crm_synced.crm.set(contact["crm_id"], {"phone": None})  # cleared in the CRM
    await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"phone": "+1 555 0111"}})  # back
    await sync(crm_client)
    local = await crm_client.call("contacts.get", {"id": contact["id"], "include": ["conflicts"]})
    # the latest edit is the local one, and a blank CRM value loses under crm_unless_blank: it stays, and goes out
    assert local["phone"] == "+1 555 0111" == crm(crm_synced, contact["crm_id"])["phone"]
    assert [(c["field"], c["winner"]) for c in local["conflicts"]] == [("phone", "local")]  # recorded, restorable


async def test_provenance_of_a_value_changed_in_the_crm(crm_synced: SideWorld, crm_client: RpcClient) -> None:
    contact = await pick(crm_client, 7)
    crm_synced.crm.set(contact["crm_id"], {"job_title": "Changed In CRM"})
    run = await sync(crm_client)
    got = await crm_client.call("contacts.get", {"id": contact["id"], "include": ["provenance"]})
    entry = got["provenance"]["job_title"]
    assert entry["source"] == "crm" and entry["sync_run_id"] == run["id"]
    assert entry["previous"] == contact["job_title"] and entry["changed_at"] >= run["started_at"]


async def test_b21_merged_contacts_relink_to_the_survivor(crm_synced: SideWorld, crm_client: RpcClient) -> None:
    contacts = (await all_contacts(crm_client))[8:]
    survivor = contacts[0]  # a CRM merges records of one object (Salesforce: two Leads or two Contacts)
    merged = next(c for c in contacts[1:] if c["crm_object_type"] == survivor["crm_object_type"])
    await crm_client.call("contacts.update", {"id": merged["id"], "fields": {"job_title": "Edited On Merged"}})
    crm_synced.crm.merge(survivor["crm_id"], merged["crm_id"])
    live = crm_synced.crm.count()
    crm_synced.crm.reset()
    await sync(crm_client)
    assert creates(crm_synced) == []
    assert crm_synced.crm.count() == live
    gone = await crm_client.call("contacts.get", {"id": merged["id"]})
    kept = await crm_client.call("contacts.get", {"id": survivor["id"]})
    assert gone["crm_state"] == "merged" and gone["crm_id"] is None
    assert kept["crm_id"] == survivor["crm_id"] and kept["job_title"] == "Edited On Merged"
    assert crm(crm_synced, survivor["crm_id"])["job_title"] == "Edited On Merged"  # the update went to the survivor


async def test_b22_archived_record_is_marked_not_recreated_and_restorable(crm_synced: SideWorld,
                                                                          crm_client: RpcClient) -> None:
    contact = await pick(crm_client, 10, company=True)
    crm_synced.crm.delete(contact["crm_id"])
    await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"company": "Still Here"}})
    live = crm_synced.crm.count()
    await sync(crm_client)
    await sync(crm_client)
    marked = await crm_client.call("contacts.get", {"id": contact["id"]})
    assert marked["crm_state"] == "archived"
    assert crm_synced.crm.count() == live  # never recreated by a push
    archived = await crm_client.call("contacts.list", {"filter": {"sync_state": "archived"}})
    assert [c["id"] for c in archived["contacts"]] == [contact["id"]]
    await crm_client.call("contacts.restore", {"id": contact["id"]})
    run = await sync(crm_client)
    assert run["created_crm"] == 1
    restored = await crm_client.call("contacts.get", {"id": contact["id"]})
    assert restored["crm_state"] == "linked" and restored["crm_id"] != contact["crm_id"]
    assert crm(crm_synced, restored["crm_id"])["company"] == "Still Here"


async def test_mappings_check_reports_a_broken_mapping(crm_synced: SideWorld, crm_client: RpcClient) -> None:
    names = crm_synced.crm.names
    connector = crm_synced.agent.require_connector()
    properties = [p for t in connector.capabilities.object_types for p in await connector.list_properties(t)]
    read_only = next(p.name for p in properties if p.read_only and "modified" in p.name.lower())  # lastmodifieddate
    if "lifecycle_stage" not in names:  # Autotask maps no lifecycle stage: a picklist field stands in for it
        picklist = next(p for p in properties if p.type == "enumeration" and p.options and not p.read_only)
        await crm_client.call("mappings.update", {"local": "lifecycle_stage", "crm": picklist.name,
                                                  "value_map": {"lead": picklist.options[0].value}})
    lifecycle = next(m for m in await crm_client.call("mappings.list") if m["local"] == "lifecycle_stage")
    value_map = {**lifecycle["value_map"], "lead": lifecycle["value_map"].get("lead", "lead")}
    assert (await crm_client.call("mappings.check"))["ok"] is True
    # a property that does not exist is refused when mapped (with the near name) ...
    with pytest.raises(RpcError, match="'compnay' is not a property") as refused:
        await crm_client.call("mappings.update", {"local": "company", "crm": "compnay"})
    assert refused.value.data["property"] == "compnay"
    if crm_synced.crm.crm == "hubspot":
        assert "did you mean 'company'?" in refused.value.message
    # ... so one only gets in by being deleted in the CRM after it was mapped: saved here as then
    await update_mapping(crm_synced.agent.store, connector.name, MappingUpdate(local="company", crm="compnay"),
                         owner_property=connector.capabilities.owner_property)
    await crm_synced.agent.reload_mappings()
    await crm_client.call("mappings.update", {"local": "lead_score", "crm": names["first_name"]})
    await crm_client.call("mappings.update", {"local": "modified", "crm": read_only, "direction": "two_way"})
    await crm_client.call("mappings.update", {"local": "lifecycle_stage", "value_map": value_map})
    user = await user_for(crm_client, next(o for o in await owners(crm_client) if o["active"]))
    await crm_client.call("contacts.create", {"created_by": user["id"],
                                              "fields": {"email": "x@example.org", "lifecycle_stage": "hot-lead"}})
    report = await crm_client.call("mappings.check")
    print(json.dumps(report, indent=2))
    kinds = {(p["kind"], p["field"] or p["property"]) for p in report["problems"]}
    assert report["ok"] is False
    assert ("unknown_property", "company") in kinds
    assert ("type_mismatch", "lead_score") in kinds
    assert ("read_only", "modified") in kinds
    enum = next(p for p in report["problems"] if p["kind"] == "enum_unmatched")
    assert enum["values"] == ["hot-lead"]


class _RequiredFieldsCrm:
    """Just enough of a connector for mappings.check: a CRM whose Lead requires LastName and Company."""

    name = "salesforce-like"

    def __init__(self) -> None:
        from leadsync.agent.connectors.base import Capabilities

        self.capabilities = Capabilities(batch_size=200, page_size=2000, object_types=("lead",),
                                         new_lead_object="lead", email_property="Email", owner_property="OwnerId",
                                         supports_upsert=False, cursor="SystemModstamp")

    async def list_properties(self, object_type: str) -> list[Any]:
        from leadsync.agent.connectors.base import PropertyMeta

        return [PropertyMeta(name="Email", label="Email", type="string"),
                PropertyMeta(name="LastName", label="Last Name", type="string", required=True),
                PropertyMeta(name="Company", label="Company", type="string", required=True)]


async def test_s13_required_crm_field_without_source_is_reported(agent: Any) -> None:
    from leadsync.agent.engine.mapping import FieldMapping
    from leadsync.agent.mappings import check_mappings

    mappings = (FieldMapping(local="email", crm="Email"), FieldMapping(local="last_name", crm="LastName"))
    report = await check_mappings(agent.store, _RequiredFieldsCrm(), mappings)  # type: ignore[arg-type]
    assert report.ok is False
    [problem] = report.problems
    assert (problem.kind, problem.property) == ("required_unmapped", "Company")
    with_default = (*mappings, FieldMapping(local="company", crm="Company", default_value="Unknown"))
    assert (await check_mappings(agent.store, _RequiredFieldsCrm(), with_default)).ok is True  # type: ignore[arg-type]


async def test_local_delete_never_deletes_in_the_crm_unless_configured(crm_synced: SideWorld,
                                                                       crm_client: RpcClient) -> None:
    first, second = (await all_contacts(crm_client))[11:13]
    live = crm_synced.crm.count()
    answer = await crm_client.call("contacts.delete", {"id": first["id"]})
    assert answer == {"deleted": first["id"], "crm_id": first["crm_id"], "deleted_in_crm": False}
    await sync(crm_client)
    assert crm_synced.crm.count() == live
    with pytest.raises(RpcError, match="crm_delete_enabled"):
        await crm_client.call("contacts.delete", {"id": second["id"], "also_in_crm": True})
    await crm_client.call("settings.update", {"crm_delete_enabled": True})
    answer = await crm_client.call("contacts.delete", {"id": second["id"], "also_in_crm": True})
    assert answer["deleted_in_crm"] is True
    assert crm_synced.crm.count() == live - 1


async def test_absent_property_is_not_a_clear(crm_synced: SideWorld, crm_client: RpcClient) -> None:
    from leadsync.agent.connectors.base import CrmRecord
    from leadsync.agent.engine.context import RunContext
    from leadsync.agent.engine.pull import record_values

    names = crm_synced.crm.names
    connector = crm_synced.agent.require_connector()
    ctx = RunContext(run_id=0, connector=connector, mappings=crm_synced.agent.mappings(connector), properties={})
    record = CrmRecord(object_type=connector.capabilities.new_lead_object, id="1", updated_at_ms=0,
                       properties={names["email"]: "a@b.org", names["company"]: None, names["job_title"]: ""})
    values = record_values(ctx, record, [])
    assert values == {"email": "a@b.org", "company": None, "job_title": None}  # phone etc. absent: untouched


async def test_s13_default_for_a_required_field_is_visible_in_the_plan_and_never_overwrites(
        crm_synced: SideWorld, crm_client: RpcClient) -> None:
    company = crm_synced.crm.names["company"]
    await crm_client.call("mappings.update", {"local": "company", "default_value": "Unknown"})
    user = await user_for(crm_client, next(o for o in await owners(crm_client) if o["active"]))
    new = await crm_client.call("contacts.create", {"created_by": user["id"], "fields": {
        "email": "nocompany@example.org", "first_name": "No", "last_name": "Nocompany",
        "phone": "+1 555 0105"}})  # Autotask: the default company is new, and a new company needs a phone
    existing = await pick(crm_client, 14, company=True)
    await crm_client.call("contacts.update", {"id": existing["id"], "fields": {"company": None}})
    plan = await crm_client.call("sync.plan")
    item = next(i for i in plan["items"] if i["side"] == "crm" and i["contact_id"] == new["id"])
    assert item["fields"][company] == [None, "Unknown"] and "default" in item["note"]
    crm_synced.crm.reset()
    await sync(crm_client)
    created = await crm_client.call("contacts.get", {"id": new["id"]})
    assert crm(crm_synced, created["crm_id"])["company"] == "Unknown"
    updates = {w[1]: w[2] for w in crm_synced.crm.sent_writes() if w[0] == "update"}
    if crm_synced.crm.crm == "autotask":  # the connector refuses the clear before sending anything (see below)
        assert existing["crm_id"] not in updates
    else:
        assert updates[existing["crm_id"]] == {company: CLEARED[crm_synced.crm.crm]}  # never the default
    connector = crm_synced.agent.require_connector()
    required = {p.name for p in await connector.list_properties(existing["crm_object_type"]) if p.required}
    if company in required:  # Salesforce: a Lead's Company is required, so the CRM refuses the clear itself;
        # Autotask: a contact cannot be without its company, so the connector refuses it
        assert crm(crm_synced, existing["crm_id"])["company"] == existing["company"]
        [error] = await crm_client.call("errors.list", {"contact_id": existing["id"]})
        assert company in error["reason"]
    else:
        assert crm(crm_synced, existing["crm_id"])["company"] is None
