"""SalesforceConnector writes against the sandbox: sObject Collections (case B23 c), required fields (case
S13), the emulated upsert (case B13, replays), conversions, deletes."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx

from leadsync.agent.connectors.base import WriteInput
from leadsync.agent.connectors.salesforce.sandbox import FaultSwitches, SandboxState
from leadsync.agent.connectors.salesforce.sandbox.ids import make_id
from tests.salesforce.conftest import MakeConnector


def lead_input(n: int, **props: str) -> WriteInput:
    return WriteInput(ref=f"local-{n}", properties={"LastName": f"Last{n}", "Company": f"Co {n}",
                                                    "Email": f"push{n}@example.com", **props})


def collection_calls(state: SandboxState, method: str) -> int:
    return sum(n for (m, p), n in state.requests.items() if m == method and p.endswith("/composite/sobjects"))


async def test_b23c_one_bad_record_in_a_batch_fails_alone(make_connector: MakeConnector, state: SandboxState) -> None:
    inputs = [lead_input(n) for n in range(100)]
    inputs[37] = lead_input(37, Email="not-an-email")
    results = await make_connector().create("lead", inputs)
    assert [r.ref for r in results] == [i.ref for i in inputs]
    failed = [r for r in results if not r.ok]
    assert [r.ref for r in failed] == ["local-37"]
    assert failed[0].error_code == "INVALID_EMAIL_ADDRESS" and "not-an-email" in (failed[0].error or "")
    assert all(r.created and r.id and state.get_record(r.id) for r in results if r.ok)
    assert collection_calls(state, "POST") == 1


async def test_creates_go_200_a_request(make_connector: MakeConnector, state: SandboxState) -> None:
    results = await make_connector().create("contact", [WriteInput(ref=str(n), properties={"LastName": f"C{n}"})
                                                        for n in range(450)])
    assert all(r.ok for r in results) and len({r.id for r in results}) == 450
    assert collection_calls(state, "POST") == 3


async def test_s13_a_lead_without_company_fails_alone_with_a_clear_reason(make_connector: MakeConnector,
                                                                          state: SandboxState) -> None:
    before = state.count("Lead")
    results = await make_connector().create("lead", [
        lead_input(1), WriteInput(ref="no-company", properties={"LastName": "Solo", "Email": "solo@example.com"})])
    assert results[0].ok
    assert (results[1].ok, results[1].error_code) == (False, "REQUIRED_FIELD_MISSING")
    assert "Company" in (results[1].error or "")
    assert state.count("Lead") == before + 1 and not state.find_ids("Lead", "Email", "solo@example.com")


async def test_values_are_converted_to_their_json_types(make_connector: MakeConnector, state: SandboxState) -> None:
    connector = make_connector()
    (created,) = await connector.create("lead", [lead_input(1, HasOptedOutOfEmail="TRUE", NumberOfEmployees="12",
                                                            Lead_Score__c="42.5", Interests__c="Webinars;Events")])
    assert created.ok and created.id
    record = state.get_record(created.id)
    assert record is not None
    assert (record["HasOptedOutOfEmail"], record["NumberOfEmployees"], record["Lead_Score__c"]) == (True, 12, 42.5)
    assert record["Interests__c"] == "Webinars;Events"
    (cleared,) = await connector.update("lead", [WriteInput(ref="x", id=created.id,
                                                            properties={"Lead_Score__c": "", "Title": "CTO"})])
    record = state.get_record(created.id)
    assert cleared.ok and record is not None and record["Lead_Score__c"] is None and record["Title"] == "CTO"


async def test_inputs_salesforce_would_refuse_as_a_whole_fail_alone(make_connector: MakeConnector,
                                                                   state: SandboxState) -> None:
    results = await make_connector().create("lead", [
        lead_input(1), lead_input(2, HasOptedOutOfEmail="yes"), lead_input(3, Nope__c="x"), lead_input(4)])
    assert [r.ok for r in results] == [True, False, False, True]
    assert (results[1].error_code, results[2].error_code) == ("INVALID_VALUE", "INVALID_FIELD")
    assert "HasOptedOutOfEmail" in (results[1].error or "") and "Nope__c" in (results[2].error or "")
    assert {r.status for r in state.request_log if r.path.endswith("/composite/sobjects")} == {200}


async def test_a_whole_request_refusal_is_split_until_the_culprit_stands_alone(
        make_connector: MakeConnector, state: SandboxState, faults: FaultSwitches) -> None:
    faults.fail_next("/services/data/*/composite/sobjects", "POST", 400, times=1,
                     body=[{"message": "Cannot deserialize instance", "errorCode": "JSON_PARSER_ERROR"}])
    results = await make_connector().create("lead", [lead_input(n) for n in range(6)])
    assert all(r.ok for r in results)
    assert collection_calls(state, "POST") == 3  # refused once, then two halves


async def test_b13_an_apostrophe_address_is_found_and_linked_not_duplicated(make_connector: MakeConnector,
                                                                           state: SandboxState) -> None:
    existing = state.add_record("Lead", {"LastName": "O'Brien", "Company": "Pub", "Email": "o'brien@example.com"})
    results = await make_connector().upsert("lead", [
        WriteInput(ref="local-obrien", properties={"Email": "O'Brien@Example.com", "Title": "Publican"})])
    assert [(r.ok, r.id, r.created, r.error) for r in results] == [(True, existing, False, None)]
    assert state.find_ids("Lead", "Email", "o'brien@example.com") == [existing]
    lookups = [parse_qs(r.query)["q"][0] for r in state.request_log if r.path.endswith("/query")]
    assert any("Email IN ('o\\'brien@example.com')" in q for q in lookups)
    record = state.get_record(existing)
    assert record is not None and record["Title"] == "Publican"


async def test_upsert_creates_once_and_a_replay_only_updates(make_connector: MakeConnector,
                                                            state: SandboxState) -> None:
    connector = make_connector()
    inputs = [lead_input(n) for n in range(3)]
    first = await connector.upsert("lead", inputs)
    assert all(r.ok and r.created for r in first)
    replay = await make_connector().upsert("lead", inputs)
    assert [(r.ok, r.created, r.id) for r in replay] == [(True, False, r.id) for r in first]
    assert all(len(state.find_ids("Lead", "Email", f"push{n}@example.com")) == 1 for n in range(3))


async def test_upsert_of_one_address_twice_in_a_call_makes_one_record(make_connector: MakeConnector,
                                                                     state: SandboxState) -> None:
    results = await make_connector().upsert("contact", [
        WriteInput(ref="a", properties={"LastName": "Twin", "Email": "twin@example.com", "Title": "First"}),
        WriteInput(ref="b", properties={"LastName": "Twin", "Email": "TWIN@example.com", "Title": "Second"}),
        WriteInput(ref="c", properties={"LastName": "NoMail"})])
    assert [(r.ok, r.created) for r in results[:2]] == [(True, True), (True, False)]
    assert results[0].id == results[1].id
    assert (results[2].ok, results[2].error_code) == (False, "MISSING_EMAIL")
    (twin,) = state.find_ids("Contact", "Email", "twin@example.com")
    record = state.get_record(twin)
    assert record is not None and record["Title"] == "Second"


async def test_a_converted_lead_sends_writes_to_its_contact(make_connector: MakeConnector, state: SandboxState) -> None:
    lead_id = state.add_record("Lead", {"LastName": "Conv", "Company": "Co", "Email": "conv@example.com"})
    contact_id = state.convert_lead(lead_id)
    connector = make_connector()
    (updated,) = await connector.update("lead", [WriteInput(ref="l1", id=lead_id, properties={"Title": "x"})])
    assert (updated.ok, updated.error_code) == (False, "CANNOT_UPDATE_CONVERTED_LEAD")
    assert contact_id in (updated.error or "") and updated.record is not None
    assert updated.record.properties["ConvertedContactId"] == contact_id
    (upserted,) = await connector.upsert("lead", [WriteInput(ref="l1", properties={"Email": "conv@example.com"})])
    assert (upserted.ok, upserted.error_code, upserted.existing_id) == (False, "CONVERTED_LEAD", lead_id)
    assert upserted.record is not None and upserted.record.properties["ConvertedContactId"] == contact_id
    assert len(state.find_ids("Lead", "Email", "conv@example.com")) == 1


async def test_updates_of_deleted_or_unknown_records_fail_alone(make_connector: MakeConnector,
                                                                state: SandboxState) -> None:
    live, gone = state.ids("Lead")[:2]
    state.delete_record("Lead", gone)
    results = await make_connector().update("lead", [
        WriteInput(ref="1", id=live, properties={"Rating": "Hot"}), WriteInput(ref="2", id=gone, properties={}),
        WriteInput(ref="3", properties={"Rating": "Hot"}), WriteInput(ref="4", id=make_id("00Q", 999_999),
                                                                      properties={})])
    assert [r.ok for r in results] == [True, False, False, False]
    assert [r.error_code for r in results[1:]] == ["ENTITY_IS_DELETED", "MISSING_ID", "INVALID_CROSS_REFERENCE_KEY"]


async def test_archive_deletes_and_is_idempotent(make_connector: MakeConnector, state: SandboxState) -> None:
    ids = state.ids("Contact")[:3]
    connector = make_connector()
    first = await connector.archive("contact", [*ids, "bogus"])
    assert [r.ok for r in first] == [True, True, True, False] and first[3].error_code == "MALFORMED_ID"
    assert all(state.get_record(i)["IsDeleted"] for i in ids)  # type: ignore[index]
    again = await connector.archive("contact", ids)
    assert all(r.ok for r in again) and [r.ref for r in again] == ids


async def test_a_create_that_may_have_happened_is_not_replayed(make_connector: MakeConnector, state: SandboxState,
                                                               faults: FaultSwitches) -> None:
    faults.fail_next("/services/data/*/composite/sobjects", "POST", 500, times=1)
    (unsent,) = await make_connector().create("lead", [lead_input(1)])
    # not retried (Salesforce may have acted): the record comes back not sent, for a later run to look up
    assert (unsent.ok, unsent.not_sent) == (False, True) and "500" in (unsent.error or "")
    assert collection_calls(state, "POST") == 1
    faults.fail_next("/services/data/*/composite/sobjects", "POST", 503, times=1)
    (result,) = await make_connector().create("lead", [lead_input(2)])
    assert result.ok and collection_calls(state, "POST") == 3  # 503: Salesforce did not act, so retried


async def test_a_create_never_duplicates_an_email_and_names_the_existing_record(
        make_connector: MakeConnector, state: SandboxState) -> None:
    existing = state.add_record("Lead", {"LastName": "Here", "Company": "Co", "Email": "push1@example.com"})
    connector = make_connector()
    results = await connector.create("lead", [lead_input(1), lead_input(2), lead_input(2, Title="twin")])
    assert (results[0].ok, results[0].existing_id, results[0].error_code) == (False, existing, "DUPLICATES_DETECTED")
    assert results[1].ok and results[1].created
    assert (results[2].ok, results[2].existing_id) == (False, results[1].id)
    replay = await connector.create("lead", [lead_input(1), lead_input(2)])
    assert [r.existing_id for r in replay] == [existing, results[1].id]
    assert len(state.find_ids("Lead", "Email", "push2@example.com")) == 1
    assert collection_calls(state, "POST") == 1


async def test_a_create_for_a_converted_leads_email_points_at_the_conversion(make_connector: MakeConnector,
                                                                            state: SandboxState) -> None:
    lead_id = state.add_record("Lead", {"LastName": "Conv", "Company": "Co", "Email": "push1@example.com"})
    contact_id = state.convert_lead(lead_id)
    (result,) = await make_connector().create("lead", [lead_input(1)])
    assert (result.ok, result.error_code, result.existing_id) == (False, "CONVERTED_LEAD", lead_id)
    assert result.record is not None and result.record.properties["ConvertedContactId"] == contact_id


def test_duplicate_rule_matches_name_the_existing_record() -> None:
    from leadsync.agent.connectors.salesforce.sobject_collections import Prepared, parse_results

    answer = [{"success": False, "errors": [{"statusCode": "DUPLICATES_DETECTED", "message": "Use one of these?",
                                             "fields": [], "duplicateResult": {"matchResults": [
                                                 {"matchRecords": [{"record": {"Id": "00Qxx0000000001AAA"}}]}]}}]}]
    (result,) = parse_results(answer, [Prepared(inp=lead_input(1), wire={}, position=0)], created=True)
    assert (result.ok, result.error_code, result.existing_id) == (False, "DUPLICATES_DETECTED", "00Qxx0000000001AAA")


async def test_the_standard_lead_duplicate_rule_blocks_a_lead_and_names_its_contact(
        make_connector: MakeConnector, state: SandboxState, faults: FaultSwitches, client: httpx.AsyncClient) -> None:
    faults.duplicate_rule_blocks = True
    contact = state.add_record("Contact", {"FirstName": "Ann", "LastName": "Dupe", "Phone": "+1 (555) 0199",
                                           "Email": "ann@old.example"})
    record = {"attributes": {"type": "Lead"}, "FirstName": "ann", "LastName": "Dupe", "Company": "Co",
              "Phone": "1 555 0199", "Email": "ann@new.example"}
    answer = (await client.post("/services/data/v62.0/composite/sobjects",
                                json={"allOrNone": False, "records": [record]})).json()
    (error,) = answer[0]["errors"]
    assert (answer[0]["success"], error["statusCode"], error["message"]) == (False, "DUPLICATES_DETECTED",
                                                                             "Use one of these records?")
    (match,) = error["duplicateResult"]["matchResults"]
    assert (match["entityType"], match["matchRecords"][0]["record"]["Id"]) == ("Contact", contact)
    assert error["duplicateResult"]["allowSave"] is False
    # the connector's own look-up by email misses it (another email): the rule's match is named instead
    (result,) = await make_connector().create("lead", [WriteInput(ref="r", properties={
        k: v for k, v in record.items() if k != "attributes"})])
    assert (result.ok, result.error_code, result.existing_id, result.existing_type) == (
        False, "DUPLICATES_DETECTED", contact, "contact")
    # the email match key: punctuation in the local part and subdomains do not hide a duplicate Lead
    lead = state.add_record("Lead", {"FirstName": "Bo", "LastName": "Key", "Company": "K",
                                     "Email": "bo.key@us.acme.com"})
    (keyed,) = await make_connector().create("lead", [lead_input(9, FirstName="Bo", LastName="Key",
                                                                 Email="bokey@acme.com")])
    assert (keyed.existing_id, keyed.existing_type) == (lead, "lead")
    faults.duplicate_rule_blocks = False  # the rule's default action (Allow) saves it
    (allowed,) = await make_connector().create("lead", [lead_input(10, FirstName="Bo", LastName="Key",
                                                                   Email="bokey@acme.com")])
    assert allowed.ok and allowed.created
