"""Field mappings and the conflict-safe bidirectional merge (issue 5), against the HubSpot sandbox."""

from __future__ import annotations

import json
from typing import Any

import pytest

from leadsync.common.rpc import RpcClient, RpcError
from tests.conftest import CrmWorld
from tests.test_ownership import owners, user_for
from tests.test_sync import all_contacts


async def sync(client: RpcClient) -> dict[str, Any]:
    run: dict[str, Any] = await client.call("sync.run", {"wait": True})
    assert run["status"] in ("ok", "partial"), run
    return run


def crm(world: CrmWorld, crm_id: str) -> dict[str, Any]:
    props: dict[str, Any] = world.state.get_contact(crm_id).properties
    return props


def sent_bodies(world: CrmWorld, suffix: str) -> list[Any]:
    """JSON bodies of the write requests the sandbox received on paths ending with ``suffix``."""
    return [r.body for r in world.state.request_log if r.method == "POST" and r.path.endswith(suffix)]


async def pick(client: RpcClient, n: int = 0) -> dict[str, Any]:
    return (await all_contacts(client))[n]


async def test_s01_cleared_locally_stays_cleared(synced_agent: CrmWorld, world_client: RpcClient) -> None:
    contact = await pick(world_client, 1)
    await world_client.call("contacts.update", {"id": contact["id"], "fields": {"job_title": "Manager"}})
    await sync(world_client)
    assert crm(synced_agent, contact["crm_id"])["jobtitle"] == "Manager"
    await world_client.call("contacts.update", {"id": contact["id"], "fields": {"job_title": None}})
    run = await sync(world_client)
    assert run["updated_crm"] == 1
    assert crm(synced_agent, contact["crm_id"])["jobtitle"] in ("", None)
    await sync(world_client)
    assert (await world_client.call("contacts.get", {"id": contact["id"]}))["job_title"] is None


async def test_b19_update_body_holds_exactly_the_changed_fields(synced_agent: CrmWorld,
                                                                world_client: RpcClient) -> None:
    contact = await pick(world_client, 2)
    await world_client.call("contacts.update", {"id": contact["id"], "fields": {"phone": "+1 555 0100",
                                                                                "lead_score": 12}})
    await sync(world_client)
    synced_agent.state.reset_counters()
    await world_client.call("contacts.update", {"id": contact["id"], "fields": {"phone": None, "lead_score": 0}})
    await sync(world_client)
    bodies = sent_bodies(synced_agent, "/batch/update")
    assert len(bodies) == 1
    assert [(i["id"], i["properties"]) for i in bodies[0]["inputs"]] == [
        (contact["crm_id"], {"phone": "", "lead_score": "0"})]  # no fax key, no null
    # an incoming "" clears the local value
    synced_agent.state.update_contact(contact["crm_id"], {"company": ""})
    await sync(world_client)
    assert (await world_client.call("contacts.get", {"id": contact["id"]}))["company"] is None


async def test_s02_email_change_is_an_update_of_the_linked_record(synced_agent: CrmWorld,
                                                                   world_client: RpcClient) -> None:
    contact = await pick(world_client, 3)
    live = synced_agent.state.contact_count()
    await world_client.call("contacts.update", {"id": contact["id"], "fields": {"email": "b@b.com"}})
    await sync(world_client)
    assert crm(synced_agent, contact["crm_id"])["email"] == "b@b.com"
    synced_agent.state.update_contact(contact["crm_id"], {"email": "c@c.com"})
    await sync(world_client)
    local = await world_client.call("contacts.get", {"id": contact["id"]})
    assert local["email"] == "c@c.com" and local["crm_id"] == contact["crm_id"]
    assert synced_agent.state.contact_count() == live
    assert sent_bodies(synced_agent, "/batch/create") == [] and sent_bodies(synced_agent, "/batch/upsert") == []
    assert len(await all_contacts(world_client)) == 200


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


async def test_conflict_recorded_with_both_values_and_restorable(synced_agent: CrmWorld,
                                                                world_client: RpcClient) -> None:
    await world_client.call("mappings.update", {"local": "company", "policy": "crm_wins"})
    contact = await pick(world_client, 5)
    await world_client.call("contacts.update", {"id": contact["id"], "fields": {"company": "Local Co"}})
    synced_agent.state.update_contact(contact["crm_id"], {"company": "CRM Co"})
    await sync(world_client)
    local = await world_client.call("contacts.get", {"id": contact["id"], "include": ["conflicts", "provenance"]})
    assert local["company"] == "CRM Co"
    [conflict] = local["conflicts"]
    assert (conflict["local_value"], conflict["crm_value"], conflict["winner"]) == ("Local Co", "CRM Co", "crm")
    assert conflict["policy"] == "crm_wins"
    assert local["provenance"]["company"]["source"] == "crm"
    assert local["provenance"]["company"]["previous"] == "Local Co"
    await world_client.call("conflicts.resolve", {"id": conflict["id"], "choice": "restore"})
    await sync(world_client)
    assert crm(synced_agent, contact["crm_id"])["company"] == "Local Co"
    assert await world_client.call("conflicts.list", {}) == []
    with pytest.raises(RpcError, match="already resolved"):
        await world_client.call("conflicts.resolve", {"id": conflict["id"], "choice": "keep"})


async def test_newest_wins_inside_skew_refuses_to_decide(synced_agent: CrmWorld, world_client: RpcClient) -> None:
    await world_client.call("mappings.update", {"local": "job_title", "policy": "newest_wins", "skew_ms": 3_600_000})
    contact = await pick(world_client, 6)
    await world_client.call("contacts.update", {"id": contact["id"], "fields": {"job_title": "Local Title"}})
    synced_agent.state.update_contact(contact["crm_id"], {"jobtitle": "CRM Title"})
    writes = synced_agent.state.write_requests
    await sync(world_client)
    await sync(world_client)
    [conflict] = await world_client.call("conflicts.list", {"contact_id": contact["id"]})
    assert conflict["winner"] == "none"
    assert (await world_client.call("contacts.get", {"id": contact["id"]}))["job_title"] == "Local Title"
    assert crm(synced_agent, contact["crm_id"])["jobtitle"] == "CRM Title"
    assert synced_agent.state.write_requests == writes  # nothing written either way
    with pytest.raises(RpcError, match="choose 'local' or 'crm'"):
        await world_client.call("conflicts.resolve", {"id": conflict["id"], "choice": "keep"})
    await world_client.call("conflicts.resolve", {"id": conflict["id"], "choice": "local"})
    await sync(world_client)
    assert crm(synced_agent, contact["crm_id"])["jobtitle"] == "Local Title"


async def test_provenance_of_a_value_changed_in_the_crm(synced_agent: CrmWorld, world_client: RpcClient) -> None:
    contact = await pick(world_client, 7)
    synced_agent.state.update_contact(contact["crm_id"], {"jobtitle": "Changed In CRM"})
    run = await sync(world_client)
    got = await world_client.call("contacts.get", {"id": contact["id"], "include": ["provenance"]})
    entry = got["provenance"]["job_title"]
    assert entry["source"] == "crm" and entry["sync_run_id"] == run["id"]
    assert entry["previous"] == contact["job_title"] and entry["changed_at"] >= run["started_at"]


async def test_b21_merged_contacts_relink_to_the_survivor(synced_agent: CrmWorld, world_client: RpcClient) -> None:
    contacts = await all_contacts(world_client)
    survivor, merged = contacts[8], contacts[9]
    await world_client.call("contacts.update", {"id": merged["id"], "fields": {"job_title": "Edited On Merged"}})
    synced_agent.state.merge_contacts(survivor["crm_id"], merged["crm_id"])
    live = synced_agent.state.contact_count()
    await sync(world_client)
    assert sent_bodies(synced_agent, "/batch/create") == [] and sent_bodies(synced_agent, "/batch/upsert") == []
    assert synced_agent.state.contact_count() == live
    gone = await world_client.call("contacts.get", {"id": merged["id"]})
    kept = await world_client.call("contacts.get", {"id": survivor["id"]})
    assert gone["crm_state"] == "merged" and gone["crm_id"] is None
    assert kept["crm_id"] == survivor["crm_id"] and kept["job_title"] == "Edited On Merged"
    assert crm(synced_agent, survivor["crm_id"])["jobtitle"] == "Edited On Merged"  # the update went to 201


async def test_b22_archived_record_is_marked_not_recreated_and_restorable(synced_agent: CrmWorld,
                                                                         world_client: RpcClient) -> None:
    contact = await pick(world_client, 10)
    synced_agent.state.archive_contact(contact["crm_id"])
    await world_client.call("contacts.update", {"id": contact["id"], "fields": {"company": "Still Here"}})
    live = synced_agent.state.contact_count()
    await sync(world_client)
    await sync(world_client)
    marked = await world_client.call("contacts.get", {"id": contact["id"]})
    assert marked["crm_state"] == "archived"
    assert synced_agent.state.contact_count() == live  # never recreated by a push
    archived = await world_client.call("contacts.list", {"filter": {"sync_state": "archived"}})
    assert [c["id"] for c in archived["contacts"]] == [contact["id"]]
    await world_client.call("contacts.restore", {"id": contact["id"]})
    run = await sync(world_client)
    assert run["created_crm"] == 1
    restored = await world_client.call("contacts.get", {"id": contact["id"]})
    assert restored["crm_state"] == "linked" and restored["crm_id"] != contact["crm_id"]
    assert crm(synced_agent, restored["crm_id"])["company"] == "Still Here"


async def test_mappings_check_reports_a_broken_mapping(synced_agent: CrmWorld, world_client: RpcClient) -> None:
    assert (await world_client.call("mappings.check"))["ok"] is True
    await world_client.call("mappings.update", {"local": "company", "crm": "compnay"})
    await world_client.call("mappings.update", {"local": "lead_score", "crm": "firstname"})
    await world_client.call("mappings.update", {"local": "modified", "crm": "lastmodifieddate", "direction": "two_way"})
    await world_client.call("mappings.update", {"local": "lifecycle_stage", "value_map": {"lead": "lead"}})
    user = await user_for(world_client, next(o for o in await owners(world_client) if o["active"]))
    await world_client.call("contacts.create", {"created_by": user["id"],
                                                "fields": {"email": "x@example.org", "lifecycle_stage": "hot-lead"}})
    report = await world_client.call("mappings.check")
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


async def test_local_delete_never_deletes_in_the_crm_unless_configured(synced_agent: CrmWorld,
                                                                      world_client: RpcClient) -> None:
    first, second = (await all_contacts(world_client))[11:13]
    live = synced_agent.state.contact_count()
    answer = await world_client.call("contacts.delete", {"id": first["id"]})
    assert answer == {"deleted": first["id"], "crm_id": first["crm_id"], "deleted_in_crm": False}
    await sync(world_client)
    assert synced_agent.state.contact_count() == live
    with pytest.raises(RpcError, match="crm_delete_enabled"):
        await world_client.call("contacts.delete", {"id": second["id"], "also_in_crm": True})
    await world_client.call("settings.update", {"crm_delete_enabled": True})
    answer = await world_client.call("contacts.delete", {"id": second["id"], "also_in_crm": True})
    assert answer["deleted_in_crm"] is True
    assert synced_agent.state.contact_count() == live - 1


async def test_absent_property_is_not_a_clear(synced_agent: CrmWorld, world_client: RpcClient) -> None:
    from leadsync.agent.connectors.base import CrmRecord
    from leadsync.agent.engine.context import RunContext
    from leadsync.agent.engine.pull import record_values

    connector = synced_agent.agent.require_connector()
    ctx = RunContext(run_id=0, connector=connector, mappings=synced_agent.agent.mappings(connector), properties={})
    values = record_values(ctx, CrmRecord(object_type="contact", id="1", updated_at_ms=0,
                                          properties={"email": "a@b.org", "company": None, "jobtitle": ""}), [])
    assert values == {"email": "a@b.org", "company": None, "job_title": None}  # phone etc. absent: untouched


async def test_s13_default_for_a_required_field_is_visible_in_the_plan_and_never_overwrites(
        synced_agent: CrmWorld, world_client: RpcClient) -> None:
    await world_client.call("mappings.update", {"local": "company", "default_value": "Unknown"})
    user = await user_for(world_client, next(o for o in await owners(world_client) if o["active"]))
    new = await world_client.call("contacts.create", {"created_by": user["id"],
                                                      "fields": {"email": "nocompany@example.org"}})
    existing = await pick(world_client, 14)
    await world_client.call("contacts.update", {"id": existing["id"], "fields": {"company": None}})
    plan = await world_client.call("sync.plan")
    item = next(i for i in plan["items"] if i["side"] == "crm" and i["contact_id"] == new["id"])
    assert item["fields"]["company"] == [None, "Unknown"] and "default" in item["note"]
    await sync(world_client)
    created = await world_client.call("contacts.get", {"id": new["id"]})
    assert crm(synced_agent, created["crm_id"])["company"] == "Unknown"
    assert crm(synced_agent, existing["crm_id"])["company"] in ("", None)  # an update never sends the default
