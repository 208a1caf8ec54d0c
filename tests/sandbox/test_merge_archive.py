"""Merged (case B21) and archived (case B22) contacts."""

from __future__ import annotations

import httpx

from leadsync.agent.connectors.hubspot.sandbox import FaultSwitches, ManualClock, SandboxState

CONTACTS = "/crm/v3/objects/contacts"


async def test_merged_away_id_answers_404_and_survivor_lists_it(
    client: httpx.AsyncClient, state: SandboxState, clock: ManualClock
) -> None:
    state.add_contact({"email": "old@corp.com"}, contact_id=150)
    state.add_contact({"email": "primary@corp.com", "firstname": "Pat"}, contact_id=201)
    state.add_contact({"email": "dupe@corp.com", "phone": "+1 555 0100"}, contact_id=202)
    state.merge_contacts(202, 150)
    clock.advance(5_000)
    answer = await client.post(f"{CONTACTS}/merge", json={"primaryObjectId": "201", "objectIdToMerge": "202"})
    assert answer.status_code == 200
    survivor = answer.json()
    assert survivor["id"] == "201"
    assert survivor["properties"]["hs_merged_object_ids"] == "202;150"
    assert survivor["properties"]["phone"] == "+1 555 0100"  # filled from the merged contact
    assert survivor["properties"]["email"] == "primary@corp.com"
    assert survivor["updatedAt"] == "2025-01-01T00:00:05.000Z"

    gone = await client.get(f"{CONTACTS}/202")
    assert gone.status_code == 404 and gone.json()["category"] == "OBJECT_NOT_FOUND"
    assert (await client.get(f"{CONTACTS}/dupe@corp.com", params={"idProperty": "email"})).json()["id"] == "201"
    read = await client.post(f"{CONTACTS}/batch/read", json={"inputs": [{"id": "201"}, {"id": "202"}]})
    assert read.status_code == 207 and read.json()["errors"][0]["context"]["ids"] == ["202"]
    snapshot = state.get_contact(202)
    assert snapshot is not None and snapshot.merged_into == "201"


async def test_merged_ids_can_be_made_to_resolve_to_the_survivor(
    client: httpx.AsyncClient, state: SandboxState, faults: FaultSwitches
) -> None:
    state.add_contact({"email": "a@corp.com"}, contact_id=5001)
    state.add_contact({"email": "b@corp.com"}, contact_id=5002)
    state.merge_contacts(5001, 5002)
    faults.merged_ids_resolve = True
    answer = await client.get(f"{CONTACTS}/5002")
    assert answer.status_code == 200 and answer.json()["id"] == "5001"


async def test_archived_contact_only_in_archived_listing_with_unchanged_modified_time(
    client: httpx.AsyncClient, state: SandboxState, clock: ManualClock
) -> None:
    contact_id = state.add_contact({"email": "bye@corp.com"}, contact_id=777, updated_at_ms=1_734_000_000_000)
    clock.advance(60_000)
    assert (await client.delete(f"{CONTACTS}/{contact_id}")).status_code == 204

    assert (await client.get(f"{CONTACTS}/777")).status_code == 404
    archived = (await client.get(CONTACTS, params={"archived": "true"})).json()
    assert [r["id"] for r in archived["results"]] == ["777"]
    record = archived["results"][0]
    assert record["archived"] is True and record["archivedAt"] == "2025-01-01T00:01:00.000Z"
    assert record["updatedAt"] == "2024-12-12T10:40:00.000Z"
    assert (await client.get(f"{CONTACTS}/777", params={"archived": "true"})).json()["archived"] is True

    live_ids: list[str] = []
    after = None
    while True:
        page = (await client.get(CONTACTS, params={"limit": 100, **({"after": after} if after else {})})).json()
        live_ids += [r["id"] for r in page["results"]]
        if "paging" not in page:
            break
        after = page["paging"]["next"]["after"]
    assert "777" not in live_ids and len(live_ids) == 300
    assert live_ids == sorted(live_ids, key=int)
    search = await client.post(
        f"{CONTACTS}/search",
        json={"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": "bye@corp.com"}]}]},
    )
    assert search.json()["total"] == 0


async def test_list_paging_link_and_default_properties(client: httpx.AsyncClient) -> None:
    page = (await client.get(CONTACTS, params={"limit": 3})).json()
    assert len(page["results"]) == 3
    assert set(page["results"][0]["properties"]) == {
        "firstname",
        "lastname",
        "email",
        "createdate",
        "lastmodifieddate",
        "hs_object_id",
    }
    nxt = page["paging"]["next"]
    assert nxt["after"] == "1004" and "after=1004" in nxt["link"]
    assert (await client.get(CONTACTS, params={"limit": 101})).status_code == 400
