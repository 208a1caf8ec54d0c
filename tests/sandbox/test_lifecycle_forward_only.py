"""HubSpot's lifecycle stages only move forward through the API unless cleared first: the sandbox refuses a
backwards set (single update, batch update, upsert) with HubSpot's VALIDATION_ERROR body, lets a clear
followed by the earlier stage through, and leaves creates and the CRM's own UI edits alone."""

from __future__ import annotations

import json

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import SimplePublicObjectInput
from hubspot.crm.contacts.exceptions import ApiException

from leadsync.agent.connectors.hubspot.sandbox import SandboxState

CONTACTS = "/crm/v3/objects/contacts"


def customer(state: SandboxState, email: str = "cust@example.com") -> str:
    return str(state.add_contact({"email": email, "lifecyclestage": "customer"}))


def stage(state: SandboxState, contact_id: str) -> str | None:
    snapshot = state.get_contact(contact_id)
    assert snapshot is not None
    return snapshot.properties.get("lifecyclestage")


async def test_a_backwards_set_is_a_400_validation_error(client: httpx.AsyncClient, state: SandboxState) -> None:
    contact_id = customer(state)
    refused = await client.patch(f"{CONTACTS}/{contact_id}", json={"properties": {"lifecyclestage": "lead",
                                                                                   "firstname": "Not Applied"}})
    assert refused.status_code == 400
    body = refused.json()
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: ")
    [item] = json.loads(body["message"].removeprefix("Property values were not valid: "))
    assert item["name"] == "lifecyclestage" and item["error"] == "INVALID_OPTION" and item["isValid"] is False
    assert "can only move forward" in item["message"]
    assert stage(state, contact_id) == "customer"
    snapshot = state.get_contact(contact_id)
    assert snapshot is not None and snapshot.properties.get("firstname") != "Not Applied"  # nothing applied


async def test_clearing_first_then_setting_an_earlier_stage_works(client: httpx.AsyncClient,
                                                                  state: SandboxState) -> None:
    contact_id = customer(state)
    cleared = await client.patch(f"{CONTACTS}/{contact_id}", json={"properties": {"lifecyclestage": ""}})
    assert cleared.status_code == 200 and stage(state, contact_id) in (None, "")
    again = await client.patch(f"{CONTACTS}/{contact_id}", json={"properties": {"lifecyclestage": "lead"}})
    assert again.status_code == 200 and stage(state, contact_id) == "lead"


async def test_forward_moves_other_and_ui_edits_are_not_limited(client: httpx.AsyncClient,
                                                                state: SandboxState) -> None:
    contact_id = str(state.add_contact({"email": "fwd@example.com", "lifecyclestage": "lead"}))
    for value in ("salesqualifiedlead", "customer", "other", "subscriber"):  # "other" is outside the order
        answer = await client.patch(f"{CONTACTS}/{contact_id}", json={"properties": {"lifecyclestage": value}})
        assert answer.status_code == 200, (value, answer.json())
    state.update_contact(contact_id, {"lifecyclestage": "customer"})
    state.update_contact(contact_id, {"lifecyclestage": "lead"})  # a person in HubSpot's UI may set any stage
    assert stage(state, contact_id) == "lead"


async def test_batch_update_and_upsert_refuse_the_backwards_record_alone(client: httpx.AsyncClient,
                                                                         state: SandboxState) -> None:
    back, ahead = customer(state, "back@example.com"), customer(state, "ahead@example.com")
    answer = await client.post(f"{CONTACTS}/batch/update", json={"inputs": [
        {"id": back, "properties": {"lifecyclestage": "marketingqualifiedlead"}},
        {"id": ahead, "properties": {"lifecyclestage": "evangelist"}}]})
    assert answer.status_code == 207
    [error] = answer.json()["errors"]
    assert error["context"]["ids"] == [back] and "lifecyclestage" in error["context"]["propertyName"]
    assert (stage(state, back), stage(state, ahead)) == ("customer", "evangelist")
    upsert = await client.post(f"{CONTACTS}/batch/upsert", json={"inputs": [
        {"id": "back@example.com", "idProperty": "email", "properties": {"lifecyclestage": "lead"}}]})
    assert upsert.status_code == 400 and upsert.json()["category"] == "VALIDATION_ERROR"
    assert stage(state, back) == "customer"
    created = await client.post(f"{CONTACTS}/batch/upsert", json={"inputs": [
        {"id": "new@example.com", "idProperty": "email", "properties": {"lifecyclestage": "lead"}}]})
    assert created.status_code == 200  # a new contact starts anywhere


def test_the_official_client_sees_the_refusal(hubspot: HubSpot, state: SandboxState) -> None:
    contact_id = customer(state)
    contacts = hubspot.crm.contacts.basic_api
    with pytest.raises(ApiException) as caught:
        contacts.update(contact_id, SimplePublicObjectInput(properties={"lifecyclestage": "lead"}))
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["category"] == "VALIDATION_ERROR"
    contacts.update(contact_id, SimplePublicObjectInput(properties={"lifecyclestage": ""}))
    done = contacts.update(contact_id, SimplePublicObjectInput(properties={"lifecyclestage": "lead"}))
    assert done.properties["lifecyclestage"] == "lead"
