"""Fidelity: Salesforce's ``simple-salesforce`` client drives the sandbox over loopback (uvicorn thread)
and reads every answer its own way (paging by ``nextRecordsUrl``, ``Sforce-Limit-Info``, error classes)."""

from __future__ import annotations

import datetime as dt

import pytest
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.format import format_soql

from leadsync.agent.connectors.salesforce.sandbox import FaultSwitches, ManualClock, SandboxState
from leadsync.agent.connectors.salesforce.sandbox.ids import make_id

UTC = dt.UTC


def test_query_all_follows_next_records_url_through_every_page(sf: Salesforce, state: SandboxState,
                                                               faults: FaultSwitches) -> None:
    faults.query_page_size = 120
    first = sf.query("SELECT Id, Email, LastName FROM Lead ORDER BY Id")
    assert first["done"] is False and first["totalSize"] == state.count("Lead")
    assert len(first["records"]) == 120 and first["nextRecordsUrl"].startswith("/services/data/v60.0/query/01g")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert len(second["records"]) == 120
    everything = sf.query_all("SELECT Id, Email FROM Lead ORDER BY Id")
    assert [r["Id"] for r in everything["records"]] == state.ids("Lead")
    assert sf.api_usage["api-usage"].used >= 3


def test_query_all_with_deleted_rows_uses_query_all(sf: Salesforce, state: SandboxState) -> None:
    gone = state.ids("Lead")[5]
    state.delete_record("Lead", gone)
    live = sf.query_all(format_soql("SELECT Id FROM Lead WHERE Id = {}", gone))
    with_deleted = sf.query_all(format_soql("SELECT Id, IsDeleted FROM Lead WHERE Id = {}", gone),
                                include_deleted=True)
    assert live["totalSize"] == 0
    assert with_deleted["records"][0]["IsDeleted"] is True


def test_lead_create_get_update_delete(sf: Salesforce, state: SandboxState) -> None:
    created = sf.Lead.create({"LastName": "Lovelace", "FirstName": "Ada", "Company": "Analytical Engines",
                              "Email": "ada@example.org", "AnnualRevenue": 1500000, "HasOptedOutOfEmail": True})
    assert created["success"] is True and created["id"].startswith("00Q") and len(created["id"]) == 18
    lead = sf.Lead.get(created["id"])
    assert lead["Name"] == "Ada Lovelace" and lead["Status"] == "Open - Not Contacted"
    assert lead["AnnualRevenue"] == 1500000.0 and lead["HasOptedOutOfEmail"] is True
    assert lead["OwnerId"] == state.api_user_id and lead["SystemModstamp"] == "2025-01-01T00:00:00.000+0000"
    assert sf.Lead.update(created["id"], {"Title": "Countess", "Email": None}) == 204
    assert sf.Lead.get(created["id"])["Email"] is None
    assert sf.Lead.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Lead.get(created["id"])
    assert caught.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_a_refused_single_create_is_a_malformed_request_with_salesforces_errors(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.create({"LastName": "NoCompany"})
    assert caught.value.content == [{"message": "Required fields are missing: [Company]",
                                     "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["Company"]}]


def test_b23c_composite_create_with_one_bad_record(sf: Salesforce, state: SandboxState) -> None:
    records = [{"attributes": {"type": "Lead"}, "LastName": f"Batch{n}", "Company": "Batch Inc",
                "Email": f"batch{n}@example.com"} for n in range(10)]
    records[6]["Email"] = "batch6-at-example.com"
    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})
    assert isinstance(results, list) and len(results) == 10
    assert [r["success"] for r in results].count(False) == 1
    assert results[6] == {"success": False, "errors": [{"statusCode": "INVALID_EMAIL_ADDRESS", "fields": ["Email"],
                                                        "message": "Email: invalid email address: "
                                                                   "batch6-at-example.com"}]}
    ids = [r["id"] for r in results if r["success"]]
    assert all(state.get_record(i) is not None for i in ids)

    updates = [{"attributes": {"type": "Lead"}, "Id": i, "Rating": "Hot"} for i in ids[:3]]
    updates.append({"attributes": {"type": "Lead"}, "Id": make_id("00Q", 999_999), "Rating": "Hot"})
    patched = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": False, "records": updates})
    assert patched is not None and [r["success"] for r in patched] == [True, True, True, False]

    fetched = sf.restful("composite/sobjects/Lead", params={"ids": ",".join([ids[0], ids[1]]),
                                                            "fields": "Id,Rating"})
    assert fetched is not None and [r["Rating"] for r in fetched] == ["Hot", "Hot"]

    deleted = sf.restful("composite/sobjects", method="DELETE", params={"ids": ",".join(ids[:2]),
                                                                         "allOrNone": "false"})
    assert deleted == [{"id": ids[0], "success": True, "errors": []}, {"id": ids[1], "success": True, "errors": []}]
    again = sf.restful("composite/sobjects/Lead", params={"ids": ids[0], "fields": "Id"})
    assert again == [None]


def test_updated_and_deleted_since(sf: Salesforce, state: SandboxState, clock: ManualClock) -> None:
    fresh = sf.Lead.create({"LastName": "Fresh", "Company": "New Co"})["id"]
    gone = state.ids("Lead")[0]
    sf.Lead.delete(gone)
    clock.advance(3 * 60_000)  # the feeds cover whole minutes that are over
    start = dt.datetime(2025, 1, 1, 0, 0, tzinfo=UTC)  # the seed's own deletes are older
    end = dt.datetime(2025, 1, 1, 1, 0, tzinfo=UTC)
    updated = sf.Lead.updated(start, end)
    assert fresh in updated["ids"] and gone not in updated["ids"]
    deleted = sf.Lead.deleted(start, end)
    assert [d["id"] for d in deleted["deletedRecords"]] == [gone]
    assert deleted["deletedRecords"][0]["deletedDate"] == "2025-01-01T00:00:00.000+0000"
    assert deleted["latestDateCovered"] == "2025-01-01T00:03:00.000+0000"


def test_describe_reports_required_fields_and_types(sf: Salesforce) -> None:
    fields = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    required = sorted(n for n, f in fields.items()
                      if not f["nillable"] and f["createable"] and not f["defaultedOnCreate"])
    assert required == ["Company", "LastName"]
    assert fields["Interests__c"]["type"] == "multipicklist" and fields["Interests__c"]["custom"] is True
    assert fields["OwnerId"]["referenceTo"] == ["Group", "User"] and fields["OwnerId"]["relationshipName"] == "Owner"
    assert "Closed - Converted" in [p["value"] for p in fields["Status"]["picklistValues"]]
    assert {o["name"] for o in sf.describe()["sobjects"]} >= {"Lead", "Contact", "User"}
    contact = {f["name"]: f for f in sf.Contact.describe()["fields"]}
    assert not contact["LastName"]["nillable"] and contact["Email"]["type"] == "email"


def test_users_with_profiles_and_roles(sf: Salesforce) -> None:
    users = sf.query_all("SELECT Id, Email, IsActive, UserRole.Name, Profile.Name FROM User ORDER BY Id")["records"]
    assert len(users) == 8
    assert users[0]["Profile"]["Name"] == "System Administrator" and users[0]["UserRole"]["Name"] == "CEO"
    assert [u["IsActive"] for u in users].count(False) == 1


def test_errors_map_to_the_clients_exceptions(sf: Salesforce, faults: FaultSwitches, state: SandboxState) -> None:
    with pytest.raises(SalesforceMalformedRequest) as malformed:
        sf.query("SELECT Id FROM Lead WHERE")
    assert malformed.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    faults.daily_limit = 0
    with pytest.raises(SalesforceRefusedRequest) as refused:
        sf.query("SELECT Id FROM Lead LIMIT 1")
    assert refused.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    faults.daily_limit = None
    sf.session_id = "00Dwrong!token"
    sf.headers["Authorization"] = "Bearer 00Dwrong!token"
    with pytest.raises(SalesforceExpiredSession) as expired:
        sf.query("SELECT Id FROM Lead LIMIT 1")
    assert expired.value.content[0]["errorCode"] == "INVALID_SESSION_ID"


def test_b13_official_escaping_finds_an_apostrophe_address(sf: Salesforce, state: SandboxState) -> None:
    lead_id = state.add_record("Lead", {"LastName": "O'Brien", "Company": "Pub", "Email": "o'brien@example.com"})
    found = sf.query_all(format_soql("SELECT Id FROM Lead WHERE Email = {}", "O'Brien@example.com"))
    assert [r["Id"] for r in found["records"]] == [lead_id]
