"""Writes against the sandbox: a contact's company found or created on push, create never duplicating an
email, one bad contact failing alone, upsert, updates under the company, owner and company read-only on
existing contacts, archive by deactivation, email look-ups with awkward characters."""

from __future__ import annotations

import httpx
import pytest

from leadsync.agent.connectors.autotask.client import AutotaskConnector
from leadsync.agent.connectors.autotask.sandbox import AutotaskState, FaultSwitches
from leadsync.agent.connectors.base import WriteInput


def person(ref: str, email: str, company: str = "Northwind Traders", **extra: str) -> WriteInput:
    return WriteInput(ref=ref, properties={"emailAddress": email, "firstName": "Ada", "lastName": f"Lovelace {ref}",
                                           "companyName": company, "phone": "555-0100", **extra})


def existing_company(state: AutotaskState) -> tuple[int, dict[str, object]]:
    company_id, row = sorted(state.tables["Companies"].items())[0]
    return company_id, row


async def test_a_new_contact_joins_the_existing_company_of_that_name(state: AutotaskState,
                                                                     connector: AutotaskConnector) -> None:
    company_id, company = existing_company(state)
    name = f"  {str(company['companyName']).upper()} "

    [result] = await connector.create("contact", [person("c1", "new.person@example.com", name)])

    assert result.ok and result.created and result.id is not None
    row = state.get_contact(int(result.id))
    assert row is not None and row["companyID"] == company_id and row["isActive"] == 1
    assert state.count("Companies") == 20


async def test_a_new_company_is_created_once_for_contacts_that_share_it(state: AutotaskState,
                                                                        connector: AutotaskConnector) -> None:
    owner = sorted(state.tables["Resources"])[2]
    inputs = [person("a", "a@fresh.example", "Fresh Widgets Ltd", ownerResourceID=str(owner)),
              person("b", "b@fresh.example", "fresh widgets ltd")]

    results = await connector.create("contact", inputs)

    assert [r.ok for r in results] == [True, True]
    companies = [row for row in state.rows("Companies") if row["companyName"] == "Fresh Widgets Ltd"]
    assert len(companies) == 1
    assert companies[0]["ownerResourceID"] == owner and companies[0]["companyType"] == 2
    assert companies[0]["phone"] == "555-0100"
    contacts = {state.get_contact(int(r.id or 0))["companyID"] for r in results}  # type: ignore[index]
    assert contacts == {companies[0]["id"]}
    records = await connector.read("contact", [r.id or "" for r in results], properties=["firstName"])
    assert {rec.properties["ownerResourceID"] for rec in records.values() if rec} == {str(owner)}


async def test_a_new_company_without_an_owner_is_owned_by_the_api_user(state: AutotaskState,
                                                                        connector: AutotaskConnector) -> None:
    [result] = await connector.create("contact", [person("x", "x@orphan.example", "Orphan Inc")])
    assert result.ok
    [company] = [row for row in state.rows("Companies") if row["companyName"] == "Orphan Inc"]
    api_user = next(r for r in state.rows("Resources") if r["userName"] == state.api_username)
    assert company["ownerResourceID"] == api_user["id"]


async def test_a_contact_without_a_company_or_a_phone_for_a_new_company_fails_alone(
        state: AutotaskState, connector: AutotaskConnector) -> None:
    no_company = WriteInput(ref="n", properties={"emailAddress": "n@x.example", "firstName": "N", "lastName": "N"})
    no_phone = WriteInput(ref="p", properties={"emailAddress": "p@x.example", "firstName": "P", "lastName": "P",
                                               "companyName": "Phoneless Partners"})
    fine = person("f", "f@x.example")

    results = await connector.create("contact", [no_company, no_phone, fine])

    assert [(r.ok, r.error_code) for r in results] == [(False, "MISSING_COMPANY"), (False, "COMPANY_FAILED"),
                                                      (True, None)]
    assert "phone" in (results[1].error or "")
    assert not [row for row in state.rows("Companies") if row["companyName"] == "Phoneless Partners"]


async def test_create_never_duplicates_an_email(state: AutotaskState, connector: AutotaskConnector) -> None:
    taken = state.rows("Contacts")[3]
    before = state.count()

    results = await connector.create("contact", [person("dup", str(taken["emailAddress"]).upper()),
                                                 person("twin1", "twin@example.com"),
                                                 person("twin2", " Twin@Example.com ")])

    assert (results[0].ok, results[0].existing_id, results[0].error_code) == (False, str(taken["id"]),
                                                                              "DUPLICATE_EMAIL")
    assert results[0].record is not None and results[0].record.id == str(taken["id"])
    assert results[1].ok and not results[2].ok and results[2].existing_id == results[1].id
    assert state.count() == before + 1
    replay = await connector.create("contact", [person("twin1", "twin@example.com")])
    assert replay[0].existing_id == results[1].id and state.count() == before + 1


async def test_b23_one_bad_contact_among_many_fails_alone_with_autotask_s_reason(
        state: AutotaskState, connector: AutotaskConnector) -> None:
    inputs = [person(f"r{n}", f"person{n}@batch.example") for n in range(20)]
    inputs[7] = person("r7", "not-an-email")
    inputs[12] = WriteInput(ref="r12", properties={"emailAddress": "nolast@batch.example", "firstName": "No",
                                                   "companyName": "Northwind Traders", "phone": "1"})

    results = await connector.create("contact", inputs)

    assert [r.ref for r in results] == [i.ref for i in inputs]
    failed = {r.ref: r for r in results if not r.ok}
    assert set(failed) == {"r7", "r12"}
    assert failed["r7"].error == "Autotask refused the record: the email address 'not-an-email' is not valid"
    assert failed["r7"].error_code == "AUTOTASK_REFUSED" and failed["r7"].detail == {
        "status": 500, "errors": ["The email address 'not-an-email' is not valid."]}
    assert failed["r7"].error_code == "AUTOTASK_REFUSED"
    assert "required field lastName" in (failed["r12"].error or "")
    assert sum(1 for r in state.rows("Contacts") if str(r.get("emailAddress", "")).endswith("@batch.example")) == 18


async def test_unknown_and_read_only_fields_fail_before_anything_is_sent(state: AutotaskState,
                                                                         connector: AutotaskConnector) -> None:
    writes = state.write_requests
    results = await connector.create("contact", [person("u", "u@x.example", favouriteColour="blue"),
                                                 person("r", "r@x.example", lastModifiedDate="2020-01-01"),
                                                 person("v", "v@x.example", namePrefix="Mister", isActive="yes")])
    assert [r.error_code for r in results] == ["INVALID_FIELD", "READ_ONLY", "INVALID_VALUE"]
    assert state.write_requests == writes


async def test_update_patches_the_contact_under_its_company(state: AutotaskState, connector: AutotaskConnector) -> None:
    row = state.rows("Contacts")[0]
    [result] = await connector.update("contact", [WriteInput(ref="l1", id=str(row["id"]),
                                                             properties={"title": "CTO", "mobilePhone": ""})])
    assert result.ok and not result.created
    after = state.get_contact(int(row["id"]))
    assert after is not None and after["title"] == "CTO" and after["mobilePhone"] is None
    patch = [r for r in state.request_log if r.method == "PATCH"][-1]
    assert patch.path == f"/atservicesrest/V1.0/Companies/{row['companyID']}/Contacts"
    assert patch.body == {"id": row["id"], "title": "CTO", "mobilePhone": None}


async def test_owner_and_company_of_an_existing_contact_are_read_only(state: AutotaskState,
                                                                      connector: AutotaskConnector) -> None:
    row = state.rows("Contacts")[0]
    company = state.get("Companies", int(row["companyID"]))
    assert company is not None
    same = WriteInput(ref="same", id=str(row["id"]), properties={
        "companyName": str(company["companyName"]).lower(), "ownerResourceID": str(company["ownerResourceID"]),
        "title": "Same company"})
    owner = WriteInput(ref="owner", id=str(row["id"]), properties={"ownerResourceID": "1"})
    move = WriteInput(ref="move", id=str(row["id"]), properties={"companyName": "Elsewhere Corp"})
    missing = WriteInput(ref="gone", id="99999999", properties={"title": "x"})

    results = await connector.update("contact", [same, owner, move, missing])

    assert [(r.ok, r.error_code) for r in results] == [(True, None), (False, "OWNER_READ_ONLY"),
                                                      (False, "COMPANY_CHANGE"), (False, "NOT_FOUND")]


async def test_upsert_updates_by_email_and_creates_the_rest(state: AutotaskState,
                                                            connector: AutotaskConnector) -> None:
    row = next(r for r in state.rows("Contacts")[1:] if r["isActive"] == 1)  # a deactivated one is no target
    inputs = [WriteInput(ref="old", properties={"emailAddress": str(row["emailAddress"]).upper(), "title": "VP"}),
              person("new", "brand.new@example.com"),
              person("new-again", "brand.new@example.com", title="Second write"),
              WriteInput(ref="noemail", properties={"title": "x"})]

    results = await connector.upsert("contact", inputs)

    assert [(r.ok, r.created) for r in results[:3]] == [(True, False), (True, True), (True, False)]
    assert results[0].id == str(row["id"]) and results[2].id == results[1].id
    assert results[3].error_code == "MISSING_EMAIL"
    created = state.get_contact(int(results[1].id or 0))
    assert created is not None and created["title"] == "Second write"
    assert len(state.contacts_by_email("brand.new@example.com")) == 1


async def test_archive_deactivates_and_list_archived_lists_the_deactivated(
        state: AutotaskState, connector: AutotaskConnector) -> None:
    active = [r for r in state.rows("Contacts") if r["isActive"] == 1][:2]
    inactive_before = state.count(active=False)

    results = await connector.archive("contact", [str(active[0]["id"]), str(active[1]["id"]), "12"])

    assert [(r.ref, r.ok, r.error_code) for r in results] == [
        (str(active[0]["id"]), True, None), (str(active[1]["id"]), True, None), ("12", False, "NOT_FOUND")]
    assert state.count(active=False) == inactive_before + 2
    archived = [r async for page in connector.list_archived("contact", properties=["lastName"]) for r in page]
    assert len(archived) == inactive_before + 2 and all(r.archived for r in archived)
    again = await connector.archive("contact", [str(active[0]["id"])])
    assert again[0].ok


@pytest.mark.parametrize("email", ["o'brien@example.com", 'quote"d@example.com', "back\\slash@example.com",
                                   "zoë@exämple.com", "a,b@example.com"])
async def test_find_by_email_sends_awkward_addresses_as_json_and_finds_them(
        email: str, state: AutotaskState, connector: AutotaskConnector) -> None:
    company_id, _ = existing_company(state)
    contact_id = state.add_contact({"companyID": company_id, "firstName": "A", "lastName": "B",
                                    "emailAddress": email})

    found = await connector.find_by_email("contact", [f" {email.upper()} ", "nobody@example.com"],
                                          properties=["lastName"])

    assert list(found) == [f" {email.upper()} "]
    assert found[f" {email.upper()} "].id == str(contact_id)
    query = [r for r in state.request_log if r.path.endswith("/Contacts/query")][-1]
    assert query.body["filter"] == [{"op": "in", "field": "emailAddress",
                                     "value": [email.lower(), "nobody@example.com"]}]



async def test_a_deactivated_contact_s_email_is_free_for_a_new_contact_and_no_upsert_target(
        state: AutotaskState, connector: AutotaskConnector) -> None:
    """A deactivated contact is archived (retired): re-creating it (contacts.restore) makes a new contact; a
    DUPLICATE_EMAIL pointing at it would leave the push with nothing to link to."""
    retired = next(r for r in state.rows("Contacts") if r["isActive"] == 1 and r.get("emailAddress"))
    state.deactivate_contact(int(retired["id"]))
    email = str(retired["emailAddress"])

    [created] = await connector.create("contact", [person("again", email)])
    assert created.ok and created.created and created.id != str(retired["id"])
    [upserted] = await connector.upsert("contact", [person("up", email, title="Upserted")])
    assert upserted.ok and upserted.id == created.id and not upserted.created  # the active one now
    assert state.get_contact(int(retired["id"]))["isActive"] == 0  # type: ignore[index]
    [duplicate] = await connector.create("contact", [person("twice", email)])
    assert (duplicate.ok, duplicate.error_code, duplicate.existing_id) == (False, "DUPLICATE_EMAIL", created.id)


async def test_clearing_the_company_of_an_existing_contact_fails_alone_with_the_reason(
        state: AutotaskState, connector: AutotaskConnector) -> None:
    """A contact cannot be without its company: a clear of companyName is refused, not silently left out
    (the CRM would keep the company while the caller believes it cleared)."""
    row, other = state.rows("Contacts")[:2]
    writes = state.write_requests

    results = await connector.update("contact", [
        WriteInput(ref="clear", id=str(row["id"]), properties={"companyName": "", "title": "Cleared"}),
        WriteInput(ref="fine", id=str(other["id"]), properties={"title": "Fine"})])

    assert [(r.ok, r.error_code) for r in results] == [(False, "MISSING_COMPANY"), (True, None)]
    assert "companyName cannot be cleared" in (results[0].error or "")
    assert state.get_contact(int(row["id"]))["title"] == row["title"]  # type: ignore[index]
    assert state.write_requests == writes + 1


async def test_a_refused_duplicate_email_names_the_contact_that_has_it_as_a_second_address(
        state: AutotaskState, faults: FaultSwitches, connector: AutotaskConnector, client: httpx.AsyncClient) -> None:
    faults.unique_contact_email = True
    company_id, _ = existing_company(state)
    holder = state.add_contact({"firstName": "Ann", "lastName": "Dupe", "companyID": company_id, "isActive": 1,
                                "emailAddress": "ann@old.example", "emailAddress2": "Ann@New.example"})
    answer = await client.post(f"/V1.0/Companies/{company_id}/Contacts", json={
        "firstName": "Ann", "lastName": "Again", "emailAddress": "ann@new.example"})
    # Autotask's refusal: a 500 whose message names the address, not the contact
    assert (answer.status_code, answer.json()) == (500, {"errors": [
        "A contact with the email address ann@new.example already exists."]})

    [result] = await connector.create("contact", [person("c1", "ann@new.example")])

    assert (result.ok, result.error_code, result.existing_id) == (False, "DUPLICATE_EMAIL", str(holder))
    assert "already exists" in (result.error or "")
    assert len([r for r in state.rows("Contacts") if r.get("lastName") == "Lovelace c1"]) == 0
