"""Batch writes and reads: result mapping, partial failures (B23), body exactness (B19), B11, B21, B15."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from leadsync.agent.connectors.base import WriteInput
from leadsync.agent.connectors.hubspot.client import HubSpotConnector
from leadsync.common.errors import CrmAuthError

from .fakes import FakeClock, Recorder, hubspot_error_body, json_response

NOW = "2025-01-01T00:00:00.000Z"


def connect(handler: Any) -> tuple[HubSpotConnector, Recorder]:
    clock = FakeClock()
    recorder = Recorder(handler, clock)
    connector = HubSpotConnector("https://api.hubapi.com", "tok", transport=recorder.transport(),
                                 sleep=clock.sleep, clock=clock.monotonic, now_ms=clock.now_ms)
    return connector, recorder


def stored(record_id: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": record_id, "properties": {**properties, "lastmodifieddate": NOW}, "createdAt": NOW,
            "updatedAt": NOW, "archived": False, **extra}


def contacts(n: int, bad: int | None = None) -> list[WriteInput]:
    return [WriteInput(ref=f"local-{i}", properties={"email": "not-an-email" if i == bad else f"c{i}@example.com",
                                                     "firstname": f"C{i}"})
            for i in range(n)]


def invalid_email_error(email: str) -> dict[str, Any]:
    return hubspot_error_body(f'Property values were not valid: [{{"message":"Email address {email} is invalid"}}]',
                              context={"email": [email]})


async def test_create_results_out_of_order_map_back_to_their_inputs_by_email() -> None:
    def handler(request: httpx.Request, body: Any) -> httpx.Response:
        results = [stored(str(1000 + i), inp["properties"]) for i, inp in enumerate(body["inputs"])]
        return json_response(201, {"status": "COMPLETE", "results": list(reversed(results))})

    connector, _ = connect(handler)
    inputs = contacts(5)

    results = await connector.create("contact", inputs)

    assert [r.ref for r in results] == [i.ref for i in inputs]
    assert [r.id for r in results] == [str(1000 + i) for i in range(5)]
    assert all(r.ok and r.created for r in results)
    assert results[2].record is not None and results[2].record.properties["email"] == "c2@example.com"


async def test_update_results_out_of_order_map_back_by_trace_id_or_id() -> None:
    def handler(request: httpx.Request, body: Any) -> httpx.Response:
        results = [stored(inp["id"], inp["properties"]) for inp in body["inputs"]]
        return json_response(200, {"status": "COMPLETE", "results": results[::-1]})

    connector, _ = connect(handler)
    inputs = [WriteInput(ref=f"l{i}", id=str(500 + i), properties={"firstname": f"N{i}"}) for i in range(4)]

    results = await connector.update("contact", inputs)

    assert [(r.ref, r.id, r.ok, r.created) for r in results] == [(f"l{i}", str(500 + i), True, False)
                                                                 for i in range(4)]


async def test_b23a_a_207_fails_only_the_record_hubspot_names() -> None:
    def handler(request: httpx.Request, body: Any) -> httpx.Response:
        good = [inp for inp in body["inputs"] if inp["properties"]["email"] != "not-an-email"]
        results = [stored(str(2000 + n), inp["properties"]) for n, inp in enumerate(good)]
        errors = [invalid_email_error("not-an-email")] if len(good) < len(body["inputs"]) else []
        return json_response(207, {"status": "COMPLETE", "results": results, "errors": errors,
                                   "numErrors": len(errors)})

    connector, recorder = connect(handler)

    results = await connector.create("contact", contacts(100, bad=37))

    assert len(recorder.sent) == 1
    assert sum(r.ok for r in results) == 99
    bad = results[37]
    assert not bad.ok and bad.ref == "local-37"
    assert bad.error is not None and "not-an-email is invalid" in bad.error
    assert bad.error_code == "VALIDATION_ERROR"


@pytest.mark.parametrize("names_the_record", [True, False])
async def test_b23b_a_whole_batch_400_is_retried_without_the_bad_record(names_the_record: bool) -> None:
    def handler(request: httpx.Request, body: Any) -> httpx.Response:
        emails = [inp["properties"]["email"] for inp in body["inputs"]]
        if "not-an-email" in emails:
            error = invalid_email_error("not-an-email")
            if not names_the_record:
                del error["context"]
            return json_response(400, error)
        results = [stored(str(3000 + int(inp["properties"]["firstname"][1:])), inp["properties"])
                   for inp in body["inputs"]]
        return json_response(201, {"status": "COMPLETE", "results": results})

    connector, recorder = connect(handler)

    results = await connector.create("contact", contacts(100, bad=63))

    assert sum(r.ok for r in results) == 99
    assert [r.ref for r in results if not r.ok] == ["local-63"]
    assert results[63].error is not None and "not-an-email is invalid" in results[63].error
    assert results[0].id == "3000" and results[99].id == "3099"
    assert len(recorder.sent) == 2 if names_the_record else len(recorder.sent) <= 2 * 7 + 1
    created = sum(len(s.body["inputs"]) for s in recorder.sent if "not-an-email" not in str(s.body))
    assert created == 99


async def test_an_update_whose_ids_are_all_gone_fails_per_record_instead_of_raising() -> None:
    def handler(request: httpx.Request, body: Any) -> httpx.Response:
        ids = [i["id"] for i in body["inputs"]]
        return json_response(404, hubspot_error_body("Could not get some CONTACT objects", "OBJECT_NOT_FOUND",
                                                     context={"ids": ids}))

    connector, _ = connect(handler)

    results = await connector.update("contact", [WriteInput(ref="l202", id="202", properties={"phone": "1"})])

    assert not results[0].ok and results[0].error_code == "OBJECT_NOT_FOUND"


async def test_auth_failure_during_a_batch_is_not_blamed_on_a_record() -> None:
    connector, _ = connect(lambda request, body: json_response(401, hubspot_error_body("expired", "EXPIRED")))
    with pytest.raises(CrmAuthError):
        await connector.create("contact", contacts(3))


async def test_b19_update_body_holds_exactly_the_given_keys() -> None:
    connector, recorder = connect(lambda request, body: json_response(
        200, {"status": "COMPLETE", "results": [stored("42", body["inputs"][0]["properties"])]}))

    results = await connector.update("contact", [WriteInput(ref="local-1", id="42",
                                                            properties={"phone": "", "lead_score": "0"})])

    assert results[0].ok
    (sent,) = recorder.sent
    assert sent.path == "/crm/v3/objects/contacts/batch/update"
    (inp,) = sent.body["inputs"]
    assert inp["properties"] == {"phone": "", "lead_score": "0"}
    assert inp["id"] == "42"
    assert "null" not in sent.body.__repr__().lower() and "None" not in repr(sent.body)


async def test_b19_a_null_value_fails_that_record_alone_and_is_never_sent() -> None:
    connector, recorder = connect(lambda request, body: json_response(
        200, {"status": "COMPLETE", "results": [stored(i["id"], i["properties"]) for i in body["inputs"]]}))
    inputs = [WriteInput(ref="a", id="1", properties={"fax": None}),  # type: ignore[dict-item]
              WriteInput(ref="b", id="2", properties={"phone": "1"})]

    results = await connector.update("contact", inputs)

    assert [r.ok for r in results] == [False, True]
    assert results[0].error is not None and "fax" in results[0].error
    assert [i["id"] for s in recorder.sent for i in s.body["inputs"]] == ["2"]


async def test_update_without_id_fails_alone() -> None:
    connector, recorder = connect(lambda request, body: json_response(200, {"results": []}))
    results = await connector.update("contact", [WriteInput(ref="a", properties={"phone": "1"})])
    assert not results[0].ok and recorder.sent == []


async def test_upsert_keys_on_email_and_reports_created() -> None:
    def handler(request: httpx.Request, body: Any) -> httpx.Response:
        results = [stored(str(700 + n), {**inp["properties"], "email": inp["id"]}, new=n == 0)
                   for n, inp in enumerate(body["inputs"])]
        return json_response(200, {"status": "COMPLETE", "results": results[::-1]})

    connector, recorder = connect(handler)
    inputs = [WriteInput(ref="new", properties={"email": " New.Person@Example.com ", "firstname": "N"}),
              WriteInput(ref="old", properties={"email": "old@example.com"})]

    results = await connector.upsert("contact", inputs)

    assert [(r.ref, r.id, r.created) for r in results] == [("new", "700", True), ("old", "701", False)]
    first = recorder.sent[0].body["inputs"][0]
    assert first["idProperty"] == "email" and first["id"] == "new.person@example.com"
    assert first["properties"] == {"email": " New.Person@Example.com ", "firstname": "N"}


async def test_writes_are_chunked_at_100_and_duplicate_ids_never_share_a_batch() -> None:
    connector, recorder = connect(lambda request, body: json_response(
        200, {"status": "COMPLETE", "results": [stored(i["id"], i["properties"]) for i in body["inputs"]]}))
    inputs = [WriteInput(ref=f"r{n}", id=str(n % 150), properties={"x": str(n)}) for n in range(250)]

    results = await connector.update("contact", inputs)

    assert all(r.ok for r in results) and [r.ref for r in results] == [f"r{n}" for n in range(250)]
    assert all(len(s.body["inputs"]) <= 100 for s in recorder.sent)
    for s in recorder.sent:
        batch_ids = [i["id"] for i in s.body["inputs"]]
        assert len(batch_ids) == len(set(batch_ids))


async def test_read_maps_missing_ids_to_none_and_exposes_merged_ids() -> None:
    def handler(request: httpx.Request, body: Any) -> httpx.Response:
        results = [stored("201", {"email": "a@b.c", "hs_merged_object_ids": "202;150"})]
        errors = [hubspot_error_body("Could not get some CONTACT objects", "OBJECT_NOT_FOUND",
                                     context={"ids": ["202"]})]
        return json_response(207, {"status": "COMPLETE", "results": results, "errors": errors})

    connector, recorder = connect(handler)

    found = await connector.read("contact", ["201", "202"], properties=["email"])

    survivor = found["201"]
    assert survivor is not None and survivor.merged_ids == ("202", "150")
    assert found["202"] is survivor or found["202"] is None
    assert "hs_merged_object_ids" in recorder.sent[0].body["properties"]


async def test_b11_find_by_email_matches_trimmed_and_case_insensitively() -> None:
    def handler(request: httpx.Request, body: Any) -> httpx.Response:
        assert request.url.path == "/crm/v3/objects/contacts/batch/read"
        assert body["idProperty"] == "email"
        assert [i["id"] for i in body["inputs"]] == ["john.doe@example.com", "nobody@example.com"]
        return json_response(207, {"status": "COMPLETE",
                                   "results": [stored("9", {"email": " John.Doe@Example.COM\n"})],
                                   "errors": [hubspot_error_body("not found", "OBJECT_NOT_FOUND",
                                                                 context={"ids": ["nobody@example.com"]})]})

    connector, _ = connect(handler)

    found = await connector.find_by_email("contact", ["john.doe@example.com", " Nobody@Example.com"],
                                          properties=[])

    assert list(found) == ["john.doe@example.com"]
    assert found["john.doe@example.com"].id == "9"
    assert found["john.doe@example.com"].properties["email"] == " John.Doe@Example.COM\n"


async def test_find_by_email_finds_an_address_merged_into_another_contact() -> None:
    connector, _ = connect(lambda request, body: json_response(200, {"results": [
        stored("201", {"email": "keep@example.com", "hs_additional_emails": "gone@example.com"})]}))

    found = await connector.find_by_email("contact", ["Gone@example.com"], properties=[])

    assert found["Gone@example.com"].id == "201"


async def test_b15_search_and_batch_update_succeed_on_the_third_attempt() -> None:
    calls: dict[str, int] = {}

    def handler(request: httpx.Request, body: Any) -> httpx.Response:
        calls[request.url.path] = calls.get(request.url.path, 0) + 1
        if calls[request.url.path] <= 2:
            return json_response(429, {"status": "error", "message": "ten secondly rolling",
                                       "policyName": "TEN_SECONDLY_ROLLING"}, {"Retry-After": "1"})
        if request.url.path.endswith("/search"):
            return json_response(200, {"total": 0, "results": []})
        return json_response(200, {"results": [stored(i["id"], i["properties"]) for i in body["inputs"]]})

    clock = FakeClock()
    recorder = Recorder(handler, clock)
    connector = HubSpotConnector("https://api.hubapi.com", "tok", transport=recorder.transport(),
                                 sleep=clock.sleep, clock=clock.monotonic, now_ms=clock.now_ms)

    pages = [p async for p in connector.pull_changes("contact", {"mode": "search", "since_ms": 0},
                                                     properties=[])]
    results = await connector.update("contact", [WriteInput(ref="a", id="1", properties={"phone": "2"})])

    assert pages[-1].done and results[0].ok
    assert calls == {"/crm/v3/objects/contacts/search": 3, "/crm/v3/objects/contacts/batch/update": 3}
    assert connector.api_calls == 6
    assert sum(1 for s in clock.sleeps if s >= 1.0) >= 4
