"""The sandbox on its own, over raw HTTP: paging, SOQL semantics, collections, sessions, limits, faults."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx
import pytest

from leadsync.agent.connectors.salesforce.sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    FaultSwitches,
    ManualClock,
    SandboxState,
    build_state,
)
from leadsync.agent.connectors.salesforce.sandbox.ids import is_id, to18
from leadsync.agent.connectors.salesforce.sandbox.seed import seed_directory
from tests.salesforce.conftest import T0

V = "/services/data/v60.0"


async def soql(client: httpx.AsyncClient, text: str, *, all_rows: bool = False) -> httpx.Response:
    return await client.get(f"{V}/{'queryAll' if all_rows else 'query'}", params={"q": text})


def lead(n: int, **extra: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Lead"}, "LastName": f"Last{n}", "Company": f"Co {n}",
            "Email": f"lead{n}@example.com", **extra}


# -- paging -----------------------------------------------------------------------------------------


async def test_b03_pages_of_1000_1000_137_follow_issued_urls_only(client: httpx.AsyncClient, state: SandboxState,
                                                                  faults: FaultSwitches) -> None:
    for n in range(2137 - state.count("Lead")):
        state.add_record("Lead", {"LastName": f"Bulk{n}", "Company": "Bulk"})
    faults.query_page_size = 1000
    first = (await soql(client, "SELECT Id FROM Lead")).json()
    assert (first["totalSize"], first["done"], len(first["records"])) == (2137, False, 1000)
    second = (await client.get(first["nextRecordsUrl"])).json()
    third = (await client.get(second["nextRecordsUrl"])).json()
    assert [len(second["records"]), len(third["records"])] == [1000, 137]
    assert third["done"] is True and "nextRecordsUrl" not in third
    ids = {r["Id"] for page in (first, second, third) for r in page["records"]}
    assert len(ids) == 2137
    locator = first["nextRecordsUrl"].rsplit("/", 1)[1].split("-")[0]
    for other in (f"{V}/query/{locator}-1001", f"{V}/query/{locator}", f"/services/data/v59.0/query/{locator}-1000",
                  f"{V}/query/01gDn0000000999AAA-1000"):
        answer = await client.get(other)
        assert answer.status_code == 404, other
        assert answer.json()[0]["errorCode"] == "NOT_FOUND"


async def test_a_query_locator_expires_after_15_idle_minutes(client: httpx.AsyncClient, clock: ManualClock,
                                                              faults: FaultSwitches) -> None:
    faults.query_page_size = 100
    first = (await soql(client, "SELECT Id FROM Lead")).json()
    clock.advance(16 * 60 * 1000)
    answer = await client.get(first["nextRecordsUrl"])
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


async def test_batch_size_header_and_the_broken_page_switch(client: httpx.AsyncClient, faults: FaultSwitches) -> None:
    answer = await client.get(f"{V}/query", params={"q": "SELECT Id FROM Lead"},
                              headers={"Sforce-Query-Options": "batchSize=250"})
    assert len(answer.json()["records"]) == 250
    faults.update({"drop_next_records_url": True, "query_page_size": 100})
    broken = (await soql(client, "SELECT Id FROM Lead")).json()
    assert broken["done"] is False and "nextRecordsUrl" not in broken


# -- SOQL semantics ---------------------------------------------------------------------------------


async def test_query_hides_the_recycle_bin_and_query_all_shows_it(client: httpx.AsyncClient,
                                                                  state: SandboxState) -> None:
    victim = state.ids("Lead")[0]
    state.delete_record("Lead", victim)
    live = (await soql(client, f"SELECT Id FROM Lead WHERE Id = '{victim}'")).json()
    everything = (await soql(client, f"SELECT Id, IsDeleted FROM Lead WHERE Id = '{victim[:15]}'",
                             all_rows=True)).json()
    assert live["totalSize"] == 0
    assert everything["records"][0]["IsDeleted"] is True and everything["records"][0]["Id"] == victim


async def test_filters_order_limit_and_relationships(client: httpx.AsyncClient, state: SandboxState) -> None:
    answer = await soql(client, "SELECT id, email, owner.email, SystemModstamp FROM lead "
                                "WHERE SystemModstamp >= 2024-12-01T00:00:00Z AND (LeadSource = 'web' OR "
                                "LeadSource IN ('Other')) ORDER BY SystemModstamp DESC, Id LIMIT 7")
    body = answer.json()
    assert answer.status_code == 200 and len(body["records"]) == 7
    record = body["records"][0]
    assert list(record) == ["attributes", "Id", "Email", "Owner", "SystemModstamp"]
    assert record["attributes"] == {"type": "Lead", "url": f"{V}/sobjects/Lead/{record['Id']}"}
    assert record["Owner"]["attributes"]["type"] == "User" and "@" in record["Owner"]["Email"]
    stamps = [r["SystemModstamp"] for r in body["records"]]
    assert stamps == sorted(stamps, reverse=True) and all(s.endswith(".000+0000") for s in stamps)


async def test_values_must_suit_their_fields(client: httpx.AsyncClient) -> None:
    cases = {
        "SELECT Id FROM Lead WHERE SystemModstamp > '2024-01-01T00:00:00Z'": "INVALID_FIELD",
        "SELECT Id FROM Lead WHERE Email = 5": "INVALID_FIELD",
        "SELECT Id FROM Lead WHERE IsConverted = 'true'": "INVALID_FIELD",
        "SELECT Nope FROM Lead": "INVALID_FIELD",
        "SELECT Id FROM Nope": "INVALID_TYPE",
        "SELECT Id, id FROM Lead": "MALFORMED_QUERY",
        "SELECT Id FROM Lead WHERE Email = 'a' AND Phone = 'b' OR City = 'c'": "MALFORMED_QUERY",
        "SELECT COUNT() FROM Lead": "MALFORMED_QUERY",
        "SELECT Id FROM Lead WHERE Email = 'unterminated": "MALFORMED_QUERY",
        "SELECT Id FROM Lead WHERE CreatedDate = TODAY": "MALFORMED_QUERY",
    }
    for text, code in cases.items():
        answer = await soql(client, text)
        assert answer.status_code == 400, text
        assert answer.json()[0]["errorCode"] == code, text


async def test_text_compares_without_case_and_not_equal_keeps_nulls(client: httpx.AsyncClient,
                                                                     state: SandboxState) -> None:
    lead_id = state.add_record("Lead", {"LastName": "O'Brien", "Company": "Acme", "Email": "O'Brien@Example.com"})
    state.add_record("Lead", {"LastName": "NoMail", "Company": "Acme"})
    found = (await soql(client, "SELECT Id FROM Lead WHERE Email = 'o\\'brien@example.com'")).json()
    assert [r["Id"] for r in found["records"]] == [lead_id]
    like = (await soql(client, "SELECT Id FROM Lead WHERE LastName LIKE 'o\\'b%'")).json()
    assert [r["Id"] for r in like["records"]] == [lead_id]
    no_mail = (await soql(client, "SELECT Id FROM Lead WHERE Company = 'acme' AND Email != 'x@y.z'")).json()
    assert no_mail["totalSize"] == 2


# -- writes -----------------------------------------------------------------------------------------


async def test_b23c_collection_answers_200_with_one_result_per_record(client: httpx.AsyncClient,
                                                                      state: SandboxState) -> None:
    records = [lead(n) for n in range(5)]
    records[2]["Email"] = "not-an-email"
    records[4].pop("Company")
    answer = await client.post(f"{V}/composite/sobjects", json={"allOrNone": False, "records": records})
    assert answer.status_code == 200
    results = answer.json()
    assert [r["success"] for r in results] == [True, True, False, True, False]
    assert results[2]["errors"] == [{"statusCode": "INVALID_EMAIL_ADDRESS",
                                     "message": "Email: invalid email address: not-an-email", "fields": ["Email"]}]
    assert results[4]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert all(is_id(r["id"]) and state.get_record(r["id"]) for r in results if r["success"])


async def test_all_or_none_rolls_everything_back(client: httpx.AsyncClient, state: SandboxState) -> None:
    before = state.count("Lead")
    records = [lead(1), lead(2, Status="Nonsense")]
    results = (await client.post(f"{V}/composite/sobjects", json={"allOrNone": True, "records": records})).json()
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert state.count("Lead") == before


async def test_whole_request_refusals(client: httpx.AsyncClient) -> None:
    too_many = await client.post(f"{V}/composite/sobjects", json={"records": [lead(n) for n in range(201)]})
    unknown = await client.post(f"{V}/composite/sobjects", json={"records": [lead(1, Nope__c="x")]})
    wrong_type = await client.post(f"{V}/composite/sobjects", json={"records": [lead(1, HasOptedOutOfEmail="true")]})
    assert [too_many.status_code, unknown.status_code, wrong_type.status_code] == [400, 400, 400]
    assert too_many.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert unknown.json()[0]["errorCode"] == "INVALID_FIELD"
    assert wrong_type.json()[0]["errorCode"] == "JSON_PARSER_ERROR"


async def test_every_write_moves_system_modstamp_on_the_injected_clock(client: httpx.AsyncClient, state: SandboxState,
                                                                        clock: ManualClock) -> None:
    created = (await client.post(f"{V}/sobjects/Lead", json={"LastName": "Time", "Company": "Clock"})).json()
    record = state.get_record(created["id"])
    assert record is not None and record["SystemModstamp"] == T0 == record["CreatedDate"]
    clock.advance(90_500)
    assert (await client.patch(f"{V}/sobjects/Lead/{created['id']}", json={"Title": "CTO"})).status_code == 204
    record = state.get_record(created["id"])
    assert record is not None and record["SystemModstamp"] == T0 + 90_000  # whole seconds
    assert record["CreatedDate"] == T0


async def test_owner_must_be_an_active_user(client: httpx.AsyncClient, state: SandboxState) -> None:
    inactive = state.find_ids("User", "IsActive", False)[0]
    answer = await client.post(f"{V}/sobjects/Lead", json={"LastName": "X", "Company": "Y", "OwnerId": inactive})
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "INACTIVE_OWNER_OR_USER"


async def test_converted_leads_are_read_only_and_point_at_their_contact(client: httpx.AsyncClient,
                                                                        state: SandboxState) -> None:
    lead_id = state.add_record("Lead", {"LastName": "Convert", "Company": "Me", "Email": "convert@me.io"})
    contact_id = state.convert_lead(lead_id)
    row = (await client.get(f"{V}/sobjects/Lead/{lead_id}")).json()
    assert row["IsConverted"] is True and row["ConvertedContactId"] == contact_id
    assert row["Status"] == "Closed - Converted" and row["ConvertedDate"] == "2025-01-01"
    contact = (await client.get(f"{V}/sobjects/Contact/{contact_id}")).json()
    assert contact["Email"] == "convert@me.io" and contact["LastName"] == "Convert"
    refused = await client.patch(f"{V}/sobjects/Lead/{lead_id}", json={"Title": "x"})
    assert refused.status_code == 400 and refused.json()[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"


async def test_updated_and_deleted_feeds(client: httpx.AsyncClient, state: SandboxState, clock: ManualClock) -> None:
    start = "2024-12-31T23:00:00+00:00"
    lead_id = state.add_record("Lead", {"LastName": "Fresh", "Company": "Co"})
    gone = state.ids("Contact")[0]
    state.delete_record("Contact", gone)
    clock.advance(5 * 60 * 1000)
    end = "2025-01-01T00:10:00+00:00"
    updated = (await client.get(f"{V}/sobjects/Lead/updated/", params={"start": start, "end": end})).json()
    deleted = (await client.get(f"{V}/sobjects/Contact/deleted/", params={"start": start, "end": end})).json()
    assert lead_id in updated["ids"] and updated["latestDateCovered"] == "2025-01-01T00:05:00.000+0000"
    assert deleted["deletedRecords"] == [{"id": gone, "deletedDate": "2025-01-01T00:00:00.000+0000"}]
    too_old = await client.get(f"{V}/sobjects/Lead/updated/", params={"start": "2024-11-01T00:00:00Z", "end": end})
    assert too_old.status_code == 400 and too_old.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"


# -- sessions, limits, faults -------------------------------------------------------------------------


async def token(client: httpx.AsyncClient, refresh_token: str = DEFAULT_REFRESH_TOKEN) -> httpx.Response:
    return await client.post("/services/oauth2/token", data={
        "grant_type": "refresh_token", "client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET,
        "refresh_token": refresh_token})


async def test_refresh_tokens_rotate_and_sessions_time_out(client: httpx.AsyncClient, clock: ManualClock,
                                                           state: SandboxState) -> None:
    first = (await token(client)).json()
    assert set(first) >= {"access_token", "instance_url", "id", "issued_at", "signature", "refresh_token"}
    assert "expires_in" not in first and first["instance_url"] == "https://sandbox.test"
    assert first["id"].endswith(f"/id/{state.org_id}/{state.api_user_id}")
    spent = await token(client)
    assert spent.status_code == 400 and spent.json() == {"error": "invalid_grant",
                                                         "error_description": "expired access/refresh token"}
    session = {"Authorization": f"Bearer {first['access_token']}"}
    assert (await client.get(f"{V}/limits", headers=session)).status_code == 200
    clock.advance(2 * 3600 * 1000)
    expired = await client.get(f"{V}/limits", headers=session)
    assert expired.status_code == 401
    assert expired.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID",
                               "fields": []}]
    second = await token(client, first["refresh_token"])
    assert second.status_code == 200


async def test_the_daily_quota_answers_403_request_limit_exceeded(client: httpx.AsyncClient,
                                                                  faults: FaultSwitches) -> None:
    faults.daily_limit = 3
    answers = [await client.get(f"{V}/limits") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 403]
    assert [a.headers["Sforce-Limit-Info"] for a in answers] == ["api-usage=1/3", "api-usage=2/3", "api-usage=3/3",
                                                                 "api-usage=3/3"]
    assert answers[3].json()[0] == {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED",
                                    "fields": []}


async def test_scripted_and_random_faults(client: httpx.AsyncClient, faults: FaultSwitches) -> None:
    faults.fail_next(f"{V}/composite/sobjects", "POST", 503, times=1, retry_after=2)
    failed = await client.post(f"{V}/composite/sobjects", json={"records": [lead(1)]})
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "2"
    assert failed.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert (await client.post(f"{V}/composite/sobjects", json={"records": [lead(1)]})).status_code == 200
    faults.update({"error_5xx_rate": 1.0, "error_5xx_status": 500})
    assert (await client.get(f"{V}/limits")).json()[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    with pytest.raises(ValueError):
        faults.update({"nope": 1})


async def test_unknown_routes_and_versions_answer_salesforce_404s(client: httpx.AsyncClient) -> None:
    for path in ("/services/data/v20.0/limits", f"{V}/nothing", f"{V}/sobjects/Nope/describe"):
        answer = await client.get(path)
        assert answer.status_code == 404 and answer.json()[0]["errorCode"] == "NOT_FOUND", path
    versions = (await client.get("/services/data/", headers={"Authorization": ""})).json()
    assert {"label": "Spring '24", "url": "/services/data/v60.0", "version": "60.0"} in versions


# -- seed -------------------------------------------------------------------------------------------


def test_seed_is_deterministic_and_realistic() -> None:
    a = build_state(leads=400, contacts=200, seed=3, clock=ManualClock(T0))
    b = build_state(leads=400, contacts=200, seed=3, clock=ManualClock(T0))
    assert [a.get_record(i) for i in a.ids("Lead")[:50]] == [b.get_record(i) for i in b.ids("Lead")[:50]]
    users = [a.get_record(i) for i in a.ids("User")]
    assert sum(1 for u in users if u and u["IsActive"] is False) == 1
    admin = a.get_record(a.api_user_id)
    assert admin is not None and a.get_record(admin["ProfileId"])["Name"] == "System Administrator"  # type: ignore[index]
    converted = a.find_ids("Lead", "IsConverted", True)
    assert converted and all(is_id(str(a.get_record(c)["ConvertedContactId"])) for c in converted)  # type: ignore[index]
    assert a.count("Lead", deleted=True) + a.count("Contact", deleted=True) > 0
    stamps = [a.get_record(i)["SystemModstamp"] for i in a.ids("Contact")]  # type: ignore[index]
    assert all(s % 1000 == 0 and T0 - 91 * 86_400_000 < s <= T0 for s in stamps)


def test_ids_carry_a_case_checksum() -> None:
    assert to18("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    state = SandboxState(clock=ManualClock(T0))
    seed_directory(state)
    assert all(is_id(i) and len(i) == 18 for i in state.ids("User"))


def test_serve_on_port_zero_announces_the_actual_url() -> None:
    command = [sys.executable, "-m", "leadsync.agent.connectors.salesforce.sandbox.serve", "--port", "0",
               "--leads", "30", "--contacts", "20", "--token", "tok"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        announcement = json.loads(proc.stdout.readline())
        assert announcement["event"] == "listening"
        url = announcement["url"]
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        answer = httpx.get(f"{url}{V}/query", params={"q": "SELECT Id FROM Lead"},
                           headers={"Authorization": "Bearer tok"}, timeout=10)
        assert answer.status_code == 200 and answer.json()["totalSize"] > 20
    finally:
        proc.terminate()
        proc.wait(timeout=10)
