"""Writes, lookups, deletes, owners, field metadata and conversions against the sandbox."""

from __future__ import annotations

import pytest

from leadsync.agent.connectors.base import WriteInput
from leadsync.agent.connectors.zoho.client import ZohoConnector
from leadsync.agent.connectors.zoho.errors import duplicate_of
from leadsync.agent.connectors.zoho.sandbox import SandboxState, ZohoFaults
from leadsync.agent.connectors.zoho.sandbox.validation import RecordRefused, check

from .conftest import ConnectorFactory, api_requests


def lead(ref: str, email: str, **extra: str) -> WriteInput:
    return WriteInput(ref=ref, properties={"Email": email, "Last_Name": f"Person {ref}", "Company": "Acme",
                                           **extra})


async def test_create_makes_leads_and_never_duplicates_an_email(connector: ZohoConnector,
                                                                state: SandboxState) -> None:
    existing = state.add_record("Leads", {"Last_Name": "Old", "Email": "taken@example.com"})
    results = await connector.create("lead", [lead("1", "new@example.com"), lead("2", "TAKEN@example.com "),
                                             lead("3", "twice@example.com"), lead("4", "twice@example.com")])
    assert [r.ok for r in results] == [True, False, True, False]
    assert results[0].created and results[0].id in state.rows["Leads"]
    assert results[1].existing_id == existing and results[1].error_code == "DUPLICATE_DATA"
    assert results[3].existing_id == results[2].id
    replay = await connector.create("lead", [lead("1", "new@example.com")])
    assert replay[0].existing_id == results[0].id
    assert len(state.find_email("Leads", "new@example.com")) == 1


async def test_b23_one_bad_record_in_a_hundred_fails_alone_with_its_reason(connector: ZohoConnector,
                                                                         state: SandboxState) -> None:
    inputs = [lead(str(n), f"bulk{n}@example.com") for n in range(100)]
    inputs[37] = WriteInput(ref="37", properties={"Email": "not-an-email", "Last_Name": "Bad"})
    results = await connector.create("lead", inputs)
    assert sum(r.ok for r in results) == 99
    bad = results[37]
    assert not bad.ok and bad.error_code == "INVALID_DATA" and "Email" in (bad.error or "")
    inserts = api_requests(state, "POST", "/Leads")
    assert len(inserts) == 1 and inserts[0].status == 207


async def test_a_whole_batch_refused_reports_every_record(connector: ZohoConnector) -> None:
    results = await connector.create("lead", [WriteInput(ref=str(n), properties={"Email": f"x{n}@example.com"})
                                              for n in range(3)])
    assert [r.error_code for r in results] == ["MANDATORY_NOT_FOUND"] * 3
    assert "Last_Name" in (results[0].error or "")


async def test_a_request_refused_as_a_whole_is_narrowed_to_the_bad_record(
        connector: ZohoConnector, state: SandboxState, faults: ZohoFaults) -> None:
    state.reset_counters()
    # refused as a whole: the 4 records, then the half [0, 1], then [0] alone
    faults.fail_next("/crm/v8/Leads", "POST", 400, times=3)
    results = await connector.create("lead", [lead(str(n), f"half{n}@example.com") for n in range(4)])
    assert [r.ok for r in results] == [False, True, True, True]
    assert results[0].error_code == "INVALID_REQUEST"
    assert [r.status for r in api_requests(state, "POST", "/Leads")] == [400, 400, 400, 201, 201]


async def test_writes_drop_properties_the_module_does_not_have(connector: ZohoConnector,
                                                               state: SandboxState) -> None:
    [result] = await connector.create("contact", [WriteInput(ref="c", properties={
        "Email": "contact@example.com", "Last_Name": "Contact", "Company": "Acme", "Lead_Status": "Contacted",
        "Lead_Score": "42"})])
    assert result.ok, result.error
    stored = state.rows["Contacts"][result.id or ""].values
    assert stored["Lead_Score"] == 42 and "Company" not in stored


async def test_a_value_of_the_wrong_type_fails_before_sending(connector: ZohoConnector) -> None:
    [result] = await connector.create("lead", [lead("1", "score@example.com", Lead_Score="high")])
    assert result.error_code == "INVALID_VALUE" and "Lead_Score" in (result.error or "")


async def test_update_changes_only_the_given_fields_and_owner(connector: ZohoConnector,
                                                              state: SandboxState) -> None:
    record = next(r for r in state.rows["Contacts"].values())
    new_owner = next(u for u, user in state.users.items() if user["status"] == "active" and u != record.owner_id)
    [result] = await connector.update("contact", [WriteInput(ref="1", id=record.id,
                                                             properties={"Phone": "", "Owner": new_owner})])
    assert result.ok, result.error
    assert state.rows["Contacts"][record.id].values["Phone"] is None
    assert state.rows["Contacts"][record.id].owner_id == new_owner
    assert state.rows["Contacts"][record.id].values["Last_Name"] == record.values["Last_Name"]


async def test_updating_a_converted_lead_names_its_contact(connector: ZohoConnector, state: SandboxState) -> None:
    lead_id = state.add_record("Leads", {"Last_Name": "Convert", "Email": "convert@example.com"})
    contact_id = state.convert_lead(lead_id)
    [result] = await connector.update("lead", [WriteInput(ref="1", id=lead_id, properties={"Phone": "1"})])
    assert not result.ok and result.error_code == "CONVERTED_LEAD"
    assert result.record is not None and result.record.converted_to_id == contact_id


async def test_a_converted_lead_is_read_and_found_with_its_contact(connector: ZohoConnector,
                                                                    state: SandboxState) -> None:
    lead_id = state.add_record("Leads", {"Last_Name": "Convert", "Email": "conv@example.com"})
    contact_id = state.convert_lead(lead_id)
    read = await connector.read("lead", [lead_id, "999", "not-an-id"], properties=("Last_Name",))
    assert read["999"] is None and read["not-an-id"] is None
    assert read[lead_id] is not None and read[lead_id].converted_to_id == contact_id
    found = await connector.find_by_email("lead", ["Conv@Example.com"], properties=())
    assert found["Conv@Example.com"].converted_to_id == contact_id
    [again] = await connector.create("lead", [lead("1", "conv@example.com")])
    assert again.error_code == "CONVERTED_LEAD" and again.existing_id == lead_id
    contacts = await connector.find_by_email("contact", ["conv@example.com"], properties=())
    assert contacts["conv@example.com"].id == contact_id


async def test_the_real_convert_endpoint_converts(connector: ZohoConnector, state: SandboxState) -> None:
    lead_id = state.add_record("Leads", {"Last_Name": "Api", "Email": "api@example.com", "Designation": "CTO"})
    answer = await connector._call("POST", f"/Leads/{lead_id}/actions/convert", json={"data": [{}]})
    contact_id = answer["data"][0]["details"]["Contacts"]["id"]
    assert state.rows["Contacts"][contact_id].values["Title"] == "CTO"
    assert (await connector.read("lead", [lead_id], properties=()))[lead_id].converted_to_id == contact_id  # type: ignore[union-attr]


@pytest.mark.parametrize("email", ["o'brien@example.com", "a(b)c@example.com", "x,y@example.com",
                                   "back\\slash@example.com", "(all),'of'(them)@example.com"])
async def test_find_by_email_escapes_criteria_values(connector: ZohoConnector, state: SandboxState,
                                                     email: str) -> None:
    target = state.add_record("Contacts", {"Last_Name": "Odd", "Email": email})
    state.add_record("Contacts", {"Last_Name": "Decoy", "Email": "y@example.com"})
    found = await connector.find_by_email("contact", [f" {email.upper()} "], properties=("Last_Name",))
    assert [r.id for r in found.values()] == [target]


async def test_find_by_email_looks_up_ten_addresses_a_search(connector: ZohoConnector, state: SandboxState) -> None:
    emails = [f"many{n}@example.com" for n in range(25)]
    for email in emails[::2]:
        state.add_record("Leads", {"Last_Name": "Many", "Email": email})
    state.reset_counters()
    found = await connector.find_by_email("lead", emails, properties=())
    assert sorted(found) == sorted(emails[::2])
    assert len(api_requests(state, "GET", "/search")) == 3


async def test_upsert_updates_by_email_and_creates_the_rest(connector: ZohoConnector, state: SandboxState) -> None:
    existing = state.add_record("Leads", {"Last_Name": "Up", "Email": "up@example.com"})
    results = await connector.upsert("lead", [lead("1", "up@example.com", Lead_Score="7"),
                                             lead("2", "fresh@example.com"), WriteInput(ref="3", properties={})])
    assert (results[0].ok, results[0].created, results[0].id) == (True, False, existing)
    assert results[1].ok and results[1].created
    assert results[2].error_code == "MISSING_EMAIL"
    assert state.rows["Leads"][existing].values["Lead_Score"] == 7
    again = await connector.upsert("lead", [lead("2", "fresh@example.com")])
    assert again[0].id == results[1].id and not again[0].created


async def test_archive_deletes_and_list_archived_shows_them(connector: ZohoConnector, state: SandboxState) -> None:
    ids = list(state.rows["Contacts"])[:3]
    results = await connector.archive("contact", [*ids, ids[0], "bogus"])
    assert [(r.ref, r.ok) for r in results] == [(ids[0], True), (ids[1], True), (ids[2], True), ("bogus", False)]
    assert (await connector.archive("contact", ids[:1]))[0].ok  # already deleted counts as done
    archived = [r for batch in [b async for b in connector.list_archived("contact", properties=())] for r in batch]
    assert set(ids) <= {r.id for r in archived} and all(r.archived for r in archived)
    assert (await connector.read("contact", ids, properties=())) == dict.fromkeys(ids)


async def test_owners_include_deactivated_users(connector: ZohoConnector, state: SandboxState) -> None:
    owners = await connector.list_owners()
    assert {o.id for o in owners} == set(state.users)
    inactive = [o for o in owners if not o.active]
    assert len(inactive) == 1 and inactive[0].email == state.users[inactive[0].id]["email"]
    assert all(o.teams for o in owners)


async def test_field_metadata_maps_types_picklists_required_and_read_only(connector: ZohoConnector) -> None:
    props = {p.name: p for p in await connector.list_properties("lead")}
    assert props["Last_Name"].required and not props["Email"].required
    assert props["Lead_Status"].type == "enumeration" and "Contacted" in {o.value for o in props["Lead_Status"].options}
    assert props["Lead_Score"].type == "number" and props["Email_Opt_Out"].type == "bool"
    assert props["Modified_Time"].read_only and props["Modified_Time"].type == "datetime"
    contacts = {p.name for p in await connector.list_properties("contact")}
    assert "Company" not in contacts and "Lead_Score" in contacts


async def test_connection_info_names_the_admin(connector: ZohoConnector, state: SandboxState) -> None:
    info = await connector.connection_info()
    assert info.is_admin and info.user_id == state.api_user_id and info.account_id == state.org_id


async def test_a_spent_daily_credit_quota_is_not_retried(connector: ZohoConnector, faults: ZohoFaults,
                                                         state: SandboxState) -> None:
    from leadsync.common.errors import CrmQuotaExhaustedError

    await connector.list_properties("lead")
    faults.daily_limit = 0
    state.reset_counters()
    with pytest.raises(CrmQuotaExhaustedError) as caught:
        await connector.list_owners()
    assert state.status_counts[429] == 1
    assert caught.value.retry_after_s == 3600  # credits count over a rolling 24 hours: retry in an hour


async def test_a_unique_field_refuses_a_lead_naming_the_lead_or_contact_that_has_it(
        make_connector: ConnectorFactory, state: SandboxState, faults: ZohoFaults) -> None:
    faults.unique_fields = ["Phone"]
    contact = state.add_record("Contacts", {"Last_Name": "Dupe", "Email": "ann@old.example", "Phone": "+1 555 0199"})
    results = await make_connector().create("lead", [lead("1", "ann@new.example", Phone="+1 555 0199 "),
                                                     lead("2", "bo@new.example", Phone="+1 555 0200")])
    assert (results[0].ok, results[0].error_code, results[0].existing_id, results[0].existing_type) == (
        False, "DUPLICATE_DATA", contact, "contact")
    assert results[1].ok
    # the v2 answer names the record of the same module in ``details.id``
    assert duplicate_of({"code": "DUPLICATE_DATA", "details": {"api_name": "Email", "id": "4150868000000224005"},
                         "message": "duplicate data", "status": "error"}) == ("4150868000000224005", None)  # v2


async def test_the_sandbox_answers_duplicate_data_in_zohos_shape(state: SandboxState, faults: ZohoFaults) -> None:
    """As Zoho's v8 answer (Kaizen #177): the field, its JSON path, and the record with its module and owner."""
    faults.unique_email = True
    lead_id = state.add_record("Leads", {"Last_Name": "Old", "Email": "taken@example.com"})
    with pytest.raises(RecordRefused) as refused:
        check(state, "Leads", {"Last_Name": "New", "Email": "Taken@example.com"}, 0, creating=True,
              unique=faults.unique())
    assert (refused.value.code, refused.value.details["api_name"], refused.value.details["json_path"]) == (
        "DUPLICATE_DATA", "Email", "$.data[0].Email")
    duplicate = refused.value.details["duplicate_record"]
    assert duplicate["id"] == lead_id and duplicate["module"] == {"api_name": "Leads", "id": "4876876000000002175"}
    assert refused.value.details["more_records"] is False and set(duplicate["Owner"]) >= {"id", "name"}
