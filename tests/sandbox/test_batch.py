"""Batch writes: validation per record, 207 partial answers, whole-batch refusals (case B23),
limits, clearing and ignoring values."""

from __future__ import annotations

import httpx

from leadsync.agent.connectors.hubspot.sandbox import FaultSwitches, SandboxState

BATCH = "/crm/v3/objects/contacts/batch"


def creates(n: int, bad: dict[int, dict[str, str]] | None = None) -> dict[str, object]:
    inputs = []
    for i in range(n):
        properties = {"email": f"push{i}@example.com", "lifecyclestage": "lead"}
        properties.update((bad or {}).get(i, {}))
        inputs.append({"properties": properties, "objectWriteTraceId": f"t{i}"})
    return {"inputs": inputs}


async def test_one_invalid_email_in_a_hundred_is_a_207(client: httpx.AsyncClient, state: SandboxState) -> None:
    answer = await client.post(f"{BATCH}/create", json=creates(100, {41: {"email": "nope@"}}))
    assert answer.status_code == 207
    body = answer.json()
    assert body["status"] == "COMPLETE" and len(body["results"]) == 99 and body["numErrors"] == 1
    assert body["errors"][0]["context"]["objectWriteTraceId"] == ["t41"]
    assert body["errors"][0]["errors"][0]["code"] == "INVALID_EMAIL"
    assert state.find_contact_by_email("push40@example.com") is not None
    assert state.records_written == 99 and state.write_requests == 1


async def test_reject_switch_refuses_the_whole_batch(
    client: httpx.AsyncClient, state: SandboxState, faults: FaultSwitches
) -> None:
    faults.reject_batch_if_any_invalid = True
    answer = await client.post(f"{BATCH}/create", json=creates(100, {7: {"email": "bad"}}))
    assert answer.status_code == 400
    assert answer.json()["category"] == "VALIDATION_ERROR" and "INVALID_EMAIL" in answer.json()["message"]
    assert state.find_contact_by_email("push0@example.com") is None


async def test_all_failing_is_the_error_status(client: httpx.AsyncClient, state: SandboxState) -> None:
    taken = state.add_contact({"email": "Taken@Example.com"})
    conflict = await client.post(f"{BATCH}/create", json={"inputs": [{"properties": {"email": "taken@example.COM"}}]})
    assert conflict.status_code == 409
    assert conflict.json()["category"] == "CONFLICT" and taken in conflict.json()["message"]
    invalid = await client.post(
        f"{BATCH}/create",
        json={"inputs": [{"properties": {"lifecyclestage": "Lead"}}, {"properties": {"no_such": "1"}}]},
    )
    assert invalid.status_code == 400
    codes = {e["code"] for e in invalid.json()["errors"]}
    assert codes == {"INVALID_OPTION", "PROPERTY_DOESNT_EXIST"}


async def test_update_validates_each_record(client: httpx.AsyncClient, state: SandboxState) -> None:
    ids = state.live_contact_ids()[:3]
    answer = await client.post(
        f"{BATCH}/update",
        json={
            "inputs": [
                {"id": ids[0], "properties": {"lead_score": "88", "interests": "a;c"}},
                {"id": ids[1], "properties": {"lead_score": "lots"}},
                {"id": ids[2], "properties": {"date_of_birth": "1990-05-17", "do_not_call": "TRUE"}},
                {"id": "99999999", "properties": {"firstname": "Ghost"}},
            ]
        },
    )
    assert answer.status_code == 207
    body = answer.json()
    assert {r["id"] for r in body["results"]} == {ids[0], ids[2]}
    contexts = [e["context"].get("ids") for e in body["errors"]]
    assert [ids[1]] in contexts and ["99999999"] in contexts
    third = state.get_contact(ids[2])
    assert third is not None
    assert third.properties["date_of_birth"] == "1990-05-17" and third.properties["do_not_call"] == "true"


async def test_read_only_and_owner_validation(client: httpx.AsyncClient, state: SandboxState) -> None:
    contact_id = state.live_contact_ids()[0]
    left = next(o for o in state.owners.values() if o.archived)
    active = next(o for o in state.owners.values() if not o.archived)
    refused = await client.patch(
        f"/crm/v3/objects/contacts/{contact_id}", json={"properties": {"hubspot_owner_id": left.id}}
    )
    assert refused.status_code == 400 and "INVALID_OPTION" in refused.json()["message"]
    read_only = await client.patch(
        f"/crm/v3/objects/contacts/{contact_id}", json={"properties": {"lastmodifieddate": "1"}}
    )
    assert read_only.status_code == 400 and "READ_ONLY_VALUE" in read_only.json()["message"]
    ok = await client.patch(
        f"/crm/v3/objects/contacts/{contact_id}", json={"properties": {"hubspot_owner_id": active.id}}
    )
    assert ok.status_code == 200 and ok.json()["properties"]["hubspot_owner_id"] == active.id


async def test_empty_string_clears_and_null_is_ignored(client: httpx.AsyncClient, state: SandboxState) -> None:
    contact_id = state.add_contact({"email": "c@x.com", "phone": "123", "company": "Acme"})
    answer = await client.patch(
        f"/crm/v3/objects/contacts/{contact_id}", json={"properties": {"phone": "", "company": None}}
    )
    assert answer.status_code == 200
    got = (await client.get(f"/crm/v3/objects/contacts/{contact_id}", params={"properties": "phone,company"})).json()
    assert got["properties"] == {"phone": "", "company": "Acme"}


async def test_limits_and_duplicates_refuse_the_batch(client: httpx.AsyncClient, state: SandboxState) -> None:
    assert (await client.post(f"{BATCH}/create", json=creates(101))).status_code == 400
    contact_id = state.live_contact_ids()[0]
    dupes = {"inputs": [{"id": contact_id, "properties": {}}, {"id": contact_id, "properties": {}}]}
    assert (await client.post(f"{BATCH}/update", json=dupes)).status_code == 400
    assert (await client.post(f"{BATCH}/create", content=b"{not json")).status_code == 400


async def test_archive_batch_answers_204_and_counts_writes(client: httpx.AsyncClient, state: SandboxState) -> None:
    ids = state.live_contact_ids()[:2]
    answer = await client.post(f"{BATCH}/archive", json={"inputs": [{"id": i} for i in ids]})
    assert answer.status_code == 204
    assert state.contact_count() == 298
    stats = (await client.get("/__sandbox/stats")).json()
    assert stats["write_requests"] == 1 and stats["records_written"] == 2
    assert stats["contacts"]["archived"] == 2
