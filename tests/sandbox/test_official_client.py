"""Fidelity: HubSpot's official ``hubspot-api-client`` (v12) drives the sandbox over loopback and
deserialises every answer into its own models."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicMergeInput,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import ApiException, NotFoundException

from leadsync.agent.connectors.hubspot.sandbox import FaultSwitches, SandboxState


def test_create_then_get_by_id_and_by_email(hubspot: HubSpot, state: SandboxState) -> None:
    created = hubspot.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(
            properties={"email": "Ada.Lovelace@Example.org", "firstname": "Ada", "lifecyclestage": "lead"}
        )
    )
    assert created.id.isdigit()
    assert created.properties["email"] == "Ada.Lovelace@Example.org"
    assert created.properties["hs_object_id"] == created.id
    assert created.created_at.year == 2025 and created.created_at.tzinfo is not None

    fetched = hubspot.crm.contacts.basic_api.get_by_id(created.id, properties=["firstname", "lifecyclestage"])
    assert fetched.properties == {"firstname": "Ada", "lifecyclestage": "lead"}
    assert fetched.archived is False

    by_email = hubspot.crm.contacts.basic_api.get_by_id("ada.lovelace@example.org", id_property="email")
    assert by_email.id == created.id
    assert state.get_contact(created.id) is not None


def test_batch_create_100_then_batch_read(hubspot: HubSpot, state: SandboxState) -> None:
    inputs = [{"properties": {"email": f"batch{n}@example.com", "lastname": f"Batch{n}"}} for n in range(100)]
    answer = hubspot.crm.contacts.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs))
    assert answer.status == "COMPLETE"
    assert len(answer.results) == 100
    ids = [r.id for r in answer.results]
    assert len(set(ids)) == 100

    read = hubspot.crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[{"id": i} for i in ids[:50]], properties=["lastname", "email"], properties_with_history=[]
        )
    )
    assert sorted(r.properties["email"] for r in read.results) == sorted(f"batch{n}@example.com" for n in range(50))
    assert state.contact_count() == 400


def test_batch_upsert_by_email_says_whether_it_created(hubspot: HubSpot, state: SandboxState) -> None:
    existing = state.get_contact(state.live_contact_ids()[0])
    assert existing is not None
    email = existing.properties["email"]
    assert email is not None
    answer = hubspot.crm.contacts.batch_api.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                {"idProperty": "email", "id": email.upper(), "properties": {"jobtitle": "CTO"}},
                {"idProperty": "email", "id": "fresh@example.net", "properties": {"firstname": "Fresh"}},
            ]
        )
    )
    by_id = {r.id: r for r in answer.results}
    assert by_id[existing.id].new is False
    assert by_id[existing.id].properties["jobtitle"] == "CTO"
    fresh = next(r for r in answer.results if r.id != existing.id)
    assert fresh.new is True
    assert fresh.properties["email"] == "fresh@example.net"


def test_search_pages_through_modified_contacts_in_order(hubspot: HubSpot, state: SandboxState) -> None:
    since = "1733000000000"  # 2024-11-30T20:53:20Z
    modified_since = Filter(property_name="lastmodifieddate", operator="GTE", value=since)
    seen: list[str] = []
    stamps: list[tuple[int, int]] = []
    after: str | None = None
    total = None
    while True:
        page = hubspot.crm.contacts.search_api.do_search(
            PublicObjectSearchRequest(
                filter_groups=[FilterGroup(filters=[modified_since])],
                sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
                properties=["email", "lastmodifieddate"],
                limit=40,
                after=after,
            )
        )
        total = page.total
        seen += [r.id for r in page.results]
        stamps += [(int(r.updated_at.timestamp() * 1000), int(r.id)) for r in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    expected = [
        c for c in state.live_contact_ids() if (snap := state.get_contact(c)) and snap.updated_at_ms >= int(since)
    ]
    assert total == len(expected) and len(seen) == total > 80
    assert sorted(seen) == sorted(expected)
    assert stamps == sorted(stamps)


def test_search_beyond_10000_results_is_a_400(hubspot: HubSpot, state: SandboxState) -> None:
    for n in range(10_000):
        state.add_contact({"email": f"bulk{n}@example.com"}, updated_at_ms=1_700_000_000_000)
    stamp = "1700000000000"
    request = PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=[Filter(property_name="lastmodifieddate", operator="EQ", value=stamp)])],
        sorts=["lastmodifieddate"],
        limit=100,
        after="9900",
    )
    last_page = hubspot.crm.contacts.search_api.do_search(request)
    assert last_page.total == 10_000 and len(last_page.results) == 100
    assert last_page.paging is None

    request.after = "9950"
    with pytest.raises(ApiException) as caught:
        hubspot.crm.contacts.search_api.do_search(request)
    assert caught.value.status == 400
    body = json.loads(caught.value.body)
    assert body["category"] == "VALIDATION_ERROR" and body["status"] == "error" and body["correlationId"]


def test_owners_list_includes_deactivated_only_when_archived(hubspot: HubSpot, state: SandboxState) -> None:
    active = hubspot.crm.owners.owners_api.get_page(limit=100)
    archived = hubspot.crm.owners.owners_api.get_page(archived=True)
    assert len(active.results) == 7 and all(o.user_id is not None and not o.archived for o in active.results)
    assert [o.archived for o in archived.results] == [True]
    gone = archived.results[0]
    assert gone.user_id is None and gone.user_id_including_inactive is not None
    assert gone.teams and gone.teams[0].primary is True
    one = hubspot.crm.owners.owners_api.get_by_id(int(active.results[0].id))
    assert one.email == active.results[0].email and one.type == "PERSON"
    by_email = hubspot.crm.owners.owners_api.get_page(email=f"  {active.results[2].email.upper()} ")
    assert [o.id for o in by_email.results] == [active.results[2].id]
    paged = hubspot.crm.owners.owners_api.get_page(limit=3)
    assert len(paged.results) == 3 and paged.paging.next.after == "3"


def test_properties_list_describes_types_and_options(hubspot: HubSpot) -> None:
    listing = hubspot.crm.properties.core_api.get_all("contacts")
    by_name = {p.name: p for p in listing.results}
    assert by_name["email"].has_unique_value is True
    assert by_name["lead_score"].type == "number"
    assert by_name["interests"].field_type == "checkbox"
    assert [o.value for o in by_name["interests"].options] == ["a", "b", "c"]
    assert by_name["lastmodifieddate"].modification_metadata.read_only_value is True
    assert len(by_name["hubspot_owner_id"].options) == 7
    stage = hubspot.crm.properties.core_api.get_by_name("contacts", "lifecyclestage")
    assert "customer" in [o.value for o in stage.options]


def test_partial_batch_207_is_parsed_with_its_errors(hubspot: HubSpot) -> None:
    inputs: list[dict[str, Any]] = [{"properties": {"email": f"ok{n}@example.com"}} for n in range(3)]
    inputs.append({"properties": {"email": "not-an-email"}, "objectWriteTraceId": "row-4"})
    answer = hubspot.crm.contacts.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs))
    assert len(answer.results) == 3
    assert answer.num_errors == 1
    error = answer.errors[0]
    assert error.status == "error" and error.category == "VALIDATION_ERROR"
    assert "INVALID_EMAIL" in error.message
    assert error.context["objectWriteTraceId"] == ["row-4"]


def test_429_surfaces_as_the_clients_exception(hubspot: HubSpot, faults: FaultSwitches) -> None:
    faults.fail_next("/crm/v3/objects/contacts/search", "POST", 429, times=1, retry_after=1)
    request = PublicObjectSearchRequest(limit=1)
    with pytest.raises(ApiException) as caught:
        hubspot.crm.contacts.search_api.do_search(request)
    assert caught.value.status == 429
    assert caught.value.headers["Retry-After"] == "1"
    assert json.loads(caught.value.body)["policyName"] == "SECONDLY"
    assert hubspot.crm.contacts.search_api.do_search(request).total == 300


def test_missing_contact_is_the_clients_not_found(hubspot: HubSpot) -> None:
    with pytest.raises(NotFoundException) as caught:
        hubspot.crm.contacts.basic_api.get_by_id("999999999")
    assert json.loads(caught.value.body)["category"] == "OBJECT_NOT_FOUND"


def test_token_introspection_names_the_super_admin(hubspot: HubSpot, state: SandboxState) -> None:
    info = hubspot.oauth.access_tokens_api.get("test-token")
    admin = state.token_user()
    assert admin is not None and admin.super_admin
    assert info.user == admin.email and info.user_id == int(admin.id) and info.hub_id == state.portal_id
    users = hubspot.settings.users.users_api.get_page()
    assert [u.super_admin for u in users.results].count(True) == 1


def test_list_pages_follow_the_after_cursor(hubspot: HubSpot, state: SandboxState) -> None:
    ids: list[str] = []
    after = None
    while True:
        page = hubspot.crm.contacts.basic_api.get_page(limit=100, after=after, properties=["email", "lead_score"])
        ids += [r.id for r in page.results]
        assert all(set(r.properties) == {"email", "lead_score"} for r in page.results)
        if page.paging is None:
            break
        after = page.paging.next.after
        assert f"after={after}" in page.paging.next.link
    assert ids == state.live_contact_ids()


def test_update_archive_and_merge_through_the_client(hubspot: HubSpot, state: SandboxState) -> None:
    first, second, third = state.live_contact_ids()[:3]
    updated = hubspot.crm.contacts.basic_api.update(
        first, SimplePublicObjectInput(properties={"lifecyclestage": "customer", "interests": "b;c"})
    )
    assert updated.properties["lifecyclestage"] == "customer" and updated.properties["interests"] == "b;c"

    hubspot.crm.contacts.basic_api.archive(second)
    archived = hubspot.crm.contacts.basic_api.get_page(archived=True)
    assert [r.id for r in archived.results] == [second] and archived.results[0].archived_at is not None

    merged = hubspot.crm.contacts.basic_api.merge(PublicMergeInput(primary_object_id=first, object_id_to_merge=third))
    assert merged.id == first and merged.properties["hs_merged_object_ids"] == third
    with pytest.raises(NotFoundException):
        hubspot.crm.contacts.basic_api.get_by_id(third)
