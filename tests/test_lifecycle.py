"""Lifecycle never goes backwards by accident (issue 18), on every CRM where it applies.

HubSpot's order (subscriber < lead < MQL < SQL < opportunity < customer < evangelist, ``other`` outside):
``contacts.mark_lead`` and ``contacts.update`` refuse a demotion with the current stage unless ``force``;
an import keeps the stage with a warning for that line; a pull that would demote is held as an undecided
conflict. Each CRM's own rule: HubSpot's stages only move forward through the API, so a forced demotion
is sent as a clear, then the set; Salesforce's and Zoho's lead status picklists have no forward-only rule,
so there it is one update. Autotask maps no lifecycle stage (no standard field): the stage is local only,
the local rules hold and the CRM side does not apply. The stages used are those every mapping names
(lead, salesqualifiedlead): Salesforce's value map has no MQL, Zoho's no customer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from leadsync.agent import lifecycle
from leadsync.common.errors import RpcCode
from leadsync.common.rpc import RpcClient, RpcError
from tests.conftest import SideWorld, connect_side
from tests.crm_worlds import make_side
from tests.test_merge import sync
from tests.test_sync import all_contacts

SQL = "salesqualifiedlead"


@pytest.mark.parametrize(("current", "new", "demotes"), [
    ("customer", "lead", True), ("marketingqualifiedlead", "subscriber", True), ("evangelist", "customer", True),
    ("lead", "customer", False), ("lead", "lead", False), ("customer", "other", False), ("other", "lead", False),
    (None, "lead", False), ("customer", None, False), ("Working - Contacted", "lead", False),
])
def test_the_order_is_hubspots_with_other_and_blanks_outside(current: Any, new: Any, demotes: bool) -> None:
    assert lifecycle.is_demotion(current, new) is demotes


def stage_mapped(world: SideWorld) -> bool:
    return "lifecycle_stage" in world.crm.names


async def stage_record(world: SideWorld, client: RpcClient, n: int = 0) -> dict[str, Any]:
    """The ``n``-th contact linked to the object new leads are made as (where the CRM keeps the stage: a
    Salesforce or Zoho Lead) and not past lead, at stage ``lead`` on both sides after a sync."""
    lead_object = world.agent.require_connector().capabilities.new_lead_object
    contact = [c for c in await all_contacts(client) if c["crm_object_type"] == lead_object
               and (lifecycle.rank(c["lifecycle_stage"]) or 0) <= 1][n]
    if stage_mapped(world):
        world.crm.set(contact["crm_id"], {"lifecycle_stage": "lead"})
    else:
        await client.call("contacts.update", {"id": contact["id"], "fields": {"lifecycle_stage": "lead"}})
    await sync(client)
    got: dict[str, Any] = await client.call("contacts.get", {"id": contact["id"]})
    assert got["lifecycle_stage"] == "lead"
    return got


async def promote(client: RpcClient, contact: dict[str, Any], stage: str = SQL) -> None:
    """Move a contact forward locally and sync it."""
    await client.call("contacts.update", {"id": contact["id"], "fields": {"lifecycle_stage": stage}})
    await sync(client)


def stage_writes(world: SideWorld, crm_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The writes sent for ``crm_id`` that carry its stage property: (op, that property's value only)."""
    name = world.crm.names["lifecycle_stage"]
    return [(op, {name: props[name]}) for op, i, props in world.crm.sent_writes() if i == crm_id and name in props]


async def test_mark_lead_past_lead_is_refused_with_the_stage_unless_forced(crm_synced: SideWorld,
                                                                           crm_client: RpcClient) -> None:
    contact = await stage_record(crm_synced, crm_client)
    await promote(crm_client, contact)
    with pytest.raises(RpcError) as refused:
        await crm_client.call("contacts.mark_lead", {"id": contact["id"]})
    assert refused.value.code == RpcCode.VALIDATION
    assert f"already {SQL}" in refused.value.message and "force" in refused.value.message
    assert refused.value.data == {"lifecycle_stage": SQL}
    assert (await crm_client.call("contacts.get", {"id": contact["id"]}))["lifecycle_stage"] == SQL
    crm_synced.crm.reset()
    marked = await crm_client.call("contacts.mark_lead", {"id": contact["id"], "force": True})
    assert marked["lifecycle_stage"] == "lead"
    run = await sync(crm_client)
    assert run["failed"] == 0
    if not stage_mapped(crm_synced):
        return
    assert crm_synced.crm.get(contact["crm_id"])["lifecycle_stage"] == "lead"
    name, sent = crm_synced.crm.names["lifecycle_stage"], stage_writes(crm_synced, contact["crm_id"])
    if crm_synced.crm.crm == "hubspot":  # forward only unless cleared: a clear, then the set, in two requests
        assert sent == [("update", {name: ""}), ("update", {name: "lead"})]
    else:  # a lead status picklist has no forward-only rule: set back in one update
        assert [op for op, _ in sent] == ["update"]


async def test_mark_lead_from_subscriber_or_other_needs_no_force(crm_synced: SideWorld,
                                                                 crm_client: RpcClient) -> None:
    first, second = [c for c in await all_contacts(crm_client)][5:7]
    for contact, stage in ((first, "subscriber"), (second, "other")):
        await crm_client.call("contacts.update", {"id": contact["id"], "force": True,
                                                  "fields": {"lifecycle_stage": stage}})
        marked = await crm_client.call("contacts.mark_lead", {"id": contact["id"]})
        assert marked["lifecycle_stage"] == "lead"


async def test_an_update_that_demotes_is_refused_a_clear_is_not(crm_synced: SideWorld,
                                                                crm_client: RpcClient) -> None:
    contact = (await all_contacts(crm_client))[8]
    await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"lifecycle_stage": "customer"}})
    with pytest.raises(RpcError, match="already customer, past marketingqualifiedlead") as refused:
        await crm_client.call("contacts.update", {"id": contact["id"], "fields": {
            "lifecycle_stage": "marketingqualifiedlead", "job_title": "Not Applied"}})
    assert refused.value.code == RpcCode.VALIDATION
    unchanged = await crm_client.call("contacts.get", {"id": contact["id"]})
    assert (unchanged["lifecycle_stage"], unchanged["job_title"]) == ("customer", contact["job_title"])
    forced = await crm_client.call("contacts.update", {"id": contact["id"], "force": True,
                                                       "fields": {"lifecycle_stage": "opportunity"}})
    assert forced["lifecycle_stage"] == "opportunity"
    cleared = await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"lifecycle_stage": None}})
    assert cleared["lifecycle_stage"] is None  # clearing is not a demotion (HubSpot's way to go back)


async def test_an_import_row_that_demotes_keeps_the_stage_and_warns_the_rest_is_imported(
        crm_synced: SideWorld, crm_client: RpcClient) -> None:
    contact = (await all_contacts(crm_client))[9]
    await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"lifecycle_stage": SQL}})
    creator = await crm_client.call("users.create", {"email": "importer@corp.com"})
    header = ["Email", "Lifecycle Stage", "Job Title"]
    rows = [[2, [contact["email"], "Lead", "Imported Title"]],
            [3, ["new.lead@example.org", "Lead", "New"]]]
    for dry_run in (True, False):
        report = await crm_client.call("contacts.import", {"as_user": creator["id"], "header": header,
                                                           "rows": rows, "dry_run": dry_run})
        assert (report["created"], report["updated"], report["failed"]) == (1, 1, [])
        [warning] = [w for w in report["warnings"] if w["kind"] == "stage_not_demoted"]
        assert (warning["line"], warning["column"], warning["value"]) == (2, "Lifecycle Stage", "lead")
        assert f"already {SQL}" in warning["message"]
    imported = await crm_client.call("contacts.get", {"id": contact["id"]})
    assert (imported["lifecycle_stage"], imported["job_title"]) == (SQL, "Imported Title")


async def test_a_pull_that_would_demote_is_held_as_a_conflict_for_a_person(crm_synced: SideWorld,
                                                                           crm_client: RpcClient) -> None:
    if not stage_mapped(crm_synced):
        pytest.skip("Autotask maps no lifecycle stage: nothing of it is pulled")
    contact = await stage_record(crm_synced, crm_client, 1)
    crm_synced.crm.set(contact["crm_id"], {"lifecycle_stage": SQL})
    await sync(crm_client)
    assert (await crm_client.call("contacts.get", {"id": contact["id"]}))["lifecycle_stage"] == SQL  # forward: taken
    crm_synced.crm.set(contact["crm_id"], {"lifecycle_stage": "lead"})  # a rep sets it back in the CRM
    run = await sync(crm_client)
    assert run["failed"] == 0
    held = await crm_client.call("contacts.get", {"id": contact["id"], "include": ["conflicts"]})
    assert held["lifecycle_stage"] == SQL
    [conflict] = [c for c in held["conflicts"] if c["resolved_at"] is None]
    assert (conflict["field"], conflict["local_value"], conflict["crm_value"]) == ("lifecycle_stage", SQL, "lead")
    assert (conflict["winner"], conflict["policy"]) == ("none", "no_demotion")
    await sync(crm_client)  # nothing pushed back over the CRM's value while it waits
    assert crm_synced.crm.get(contact["crm_id"])["lifecycle_stage"] == "lead"
    again = await crm_client.call("contacts.get", {"id": contact["id"], "include": ["conflicts"]})
    assert len(again["conflicts"]) == 1  # recorded once, not again at every pull
    crm_synced.crm.reset()
    await crm_client.call("conflicts.resolve", {"id": conflict["id"], "choice": "crm"})  # a person accepts it
    assert (await crm_client.call("contacts.get", {"id": contact["id"]}))["lifecycle_stage"] == "lead"
    await sync(crm_client)
    assert stage_writes(crm_synced, contact["crm_id"]) == []


async def test_hubspot_refusing_a_stale_backwards_push_fails_that_record_alone_then_merges(short_tmp: Path) -> None:
    """The CRM moved the stage forward since the last pull and the local (forward) edit is behind it: HubSpot
    refuses the push, the record fails alone with HubSpot's reason, and the next pull merges it."""
    world = await connect_side(short_tmp, make_side("hubspot", contacts=30))
    try:
        async with RpcClient(world.agent.socket_path) as client:
            await sync(client)
            contact = await stage_record(world, client, 2)
            world.crm.set(contact["crm_id"], {"lifecycle_stage": "customer"})  # in HubSpot, not yet pulled
            await client.call("contacts.update", {"id": contact["id"], "fields": {"lifecycle_stage": SQL}})
            run = await client.call("contacts.push", {"ids": [contact["id"]]})  # push only: no pull first
            assert (run["status"], run["failed"], run["updated_crm"]) == ("partial", 1, 0)
            [error] = await client.call("errors.list", {"contact_id": contact["id"]})
            assert "can only move forward" in error["reason"]
            assert world.crm.get(contact["crm_id"])["lifecycle_stage"] == "customer"
            await sync(client)
            merged = await client.call("contacts.get", {"id": contact["id"], "include": ["conflicts"]})
            assert merged["lifecycle_stage"] == "customer"  # both changed; the CRM's later stage wins (crm_wins)
    finally:
        await world.agent.stop()


async def test_a_first_link_keeps_the_later_stage_on_both_sides(crm_synced: SideWorld, crm_client: RpcClient) -> None:
    """The same person met by email: the stage furthest down the funnel wins, as HubSpot's own merge keeps it;
    the CRM's earlier stage is kept in the conflict."""
    if not stage_mapped(crm_synced):
        pytest.skip("Autotask maps no lifecycle stage: nothing of it is linked")
    crm_id = crm_synced.crm.add({"email": "met@example.org", "first_name": "Met", "last_name": "Twice",
                                 "company": "Metco", "lifecycle_stage": "lead"})
    user = await crm_client.call("users.create", {"email": "linker@corp.com"})
    local = await crm_client.call("contacts.create", {"created_by": user["id"], "fields": {
        "email": "met@example.org", "lifecycle_stage": SQL}})
    run = await sync(crm_client)  # the pull links by email, the push sends the later stage
    assert run["linked"] == 1 and run["failed"] == 0
    linked = await crm_client.call("contacts.get", {"id": local["id"], "include": ["conflicts"]})
    assert (linked["crm_id"], linked["lifecycle_stage"]) == (crm_id, SQL)
    [conflict] = [c for c in linked["conflicts"] if c["field"] == "lifecycle_stage"]
    assert (conflict["policy"], conflict["winner"], conflict["crm_value"]) == ("no_demotion", "local", "lead")
    assert crm_synced.crm.get(crm_id)["lifecycle_stage"] == SQL
