"""HubSpot answer pages decoded from bytes (pages.py): the typed path reads what HubSpot's docs show, bodies of
other types read as before, malformed bodies are refused with a CrmProtocolError naming the problem."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec
import pytest

from leadsync.agent.connectors.hubspot.client import HubSpotConnector
from leadsync.agent.connectors.hubspot.pages import WirePage, decode_page, instant_ms
from leadsync.agent.connectors.hubspot.pull_paging import next_after, page_records, page_total
from leadsync.agent.connectors.hubspot.wire import parse_instant_ms, record_from_wire
from leadsync.common.errors import CrmProtocolError

from .fakes import json_response

DOC_OBJECT: dict[str, Any] = {  # the shape of HubSpot's own examples, with the fields a pull does not read
    "id": "512", "createdAt": "2019-10-30T03:30:17.883Z", "updatedAt": "2019-12-07T16:50:06.678Z",
    "archived": False, "archivedAt": None, "url": "https://app.hubspot.com/contacts/1/record/0-1/512",
    "properties": {"email": "bcooper@biglytics.net", "firstname": "Bryan", "lastname": None,
                   "lastmodifieddate": "2019-12-07T16:50:06.678Z", "hs_object_id": "512",
                   "hs_merged_object_ids": "77;78", "createdate": "2019-10-30T03:30:17.883Z"},
    "propertiesWithHistory": {"email": [{"value": "bcooper@biglytics.net", "timestamp": "2019-10-30T03:30:17.883Z",
                                         "sourceType": "API", "sourceId": "x", "updatedByUserId": 1}]},
    "associations": {"companies": {"results": [{"id": "9", "type": "contact_to_company"}]}},
}


def body(page: Any) -> httpx.Response:
    return httpx.Response(200, content=page if isinstance(page, bytes) else msgspec.json.encode(page))


def decoded(page: Any) -> Any:
    return decode_page(body(page), "GET /crm/v3/objects/contacts")


def test_a_documented_list_page_is_read_typed_with_the_records_the_plain_reading_gives() -> None:
    bare = {k: v for k, v in DOC_OBJECT.items() if k not in ("propertiesWithHistory", "associations", "url")}
    archived = {**bare, "id": "513", "archived": True, "archivedAt": "2020-01-01T00:00:00Z", "properties": {
        "lastmodifieddate": "2020-01-01T00:00:00Z"}}
    answer = {"results": [DOC_OBJECT, bare, archived],
              "paging": {"next": {"after": "514", "link": "https://api.hubapi.com/crm/v3/objects/contacts?after=514"}}}
    page = decoded(answer)
    assert isinstance(page, WirePage)
    records = page_records(page, "contact")
    assert records == [record_from_wire(obj, "contact") for obj in answer["results"]]
    assert records[0].merged_ids == ("77", "78") and records[0].properties["lastname"] is None
    assert records[0].updated_at_ms == parse_instant_ms("2019-12-07T16:50:06.678Z")
    assert records[0].created_at_ms == parse_instant_ms("2019-10-30T03:30:17.883Z")
    assert [r.archived for r in records] == [False, False, True]
    assert next_after(page) == "514" and page_total(page) is None


@pytest.mark.parametrize("paging", [{}, {"paging": None}, {"paging": {}}, {"paging": {"next": None}}])
def test_the_last_page_has_no_paging_or_an_empty_one(paging: dict[str, Any]) -> None:
    page = decoded({"total": 1, "results": [DOC_OBJECT], **paging})
    assert isinstance(page, WirePage)
    assert next_after(page) is None and page_total(page) == 1


@pytest.mark.parametrize("paging", [{"paging": None}, {"paging": {"prev": {"before": "3"}}},
                                    {"paging": {"next": None}}])
def test_an_untyped_last_page_has_no_next_and_is_not_an_error(paging: dict[str, Any]) -> None:
    page = decoded({"results": [{"id": 7}], **paging})  # an id that is not a string: read untyped
    assert not isinstance(page, WirePage)
    assert next_after(page) is None


def test_a_search_page_without_results_fields_reads_defaults() -> None:
    page = decoded({"total": 0, "results": []})
    assert isinstance(page, WirePage) and page_records(page, "contact") == [] and page_total(page) == 0
    minimal = decoded({"results": [{"id": "7", "updatedAt": "2024-01-01T00:00:00Z"}]})
    assert isinstance(minimal, WirePage)
    (record,) = page_records(minimal, "contact")
    assert record.properties == {} and record.created_at_ms is None and not record.archived
    assert record.updated_at_ms == parse_instant_ms("2024-01-01T00:00:00Z")


def test_values_of_other_types_are_read_as_the_plain_path_always_read_them() -> None:
    odd = {"id": 44, "archived": None, "createdAt": 1_700_000_000_000,
           "properties": {"lead_score": 70, "opted_in": True, "lastmodifieddate": "1700000000001"}}
    answer = {"results": [odd, "not an object"], "paging": {"next": {"after": 45}}}
    page = decoded(answer)
    assert not isinstance(page, WirePage)
    (record,) = page_records(page, "contact")
    assert record == record_from_wire(odd, "contact")
    assert record.id == "44" and record.properties["lead_score"] == "70" and record.properties["opted_in"] == "true"
    assert record.updated_at_ms == 1_700_000_000_001 and record.created_at_ms == 1_700_000_000_000
    assert next_after(page) == "45"


@pytest.mark.parametrize(("answer", "problem"), [
    (b"<html>502 Bad Gateway</html>", "not JSON"),
    (b"", "not JSON"),
    (b'{"results": [', "not JSON"),
    ([{"id": "1"}], "not an object"),
])
def test_a_body_that_is_not_a_json_object_is_refused(answer: Any, problem: str) -> None:
    with pytest.raises(CrmProtocolError, match=problem) as caught:
        decoded(answer)
    assert "GET /crm/v3/objects/contacts answered 200" in caught.value.message


@pytest.mark.parametrize(("answer", "problem"), [
    ({"paging": {"next": {"after": "2"}}}, "without 'results'"),
    ({"results": [{"id": "1", "properties": {}}]}, "has no modified time"),
    ({"results": [{"properties": {"lastmodifieddate": "2024-01-01T00:00:00Z"}}]}, "without an id"),
    ({"results": [{"id": "1", "properties": {"lastmodifieddate": "yesterday"}}]}, "where a time was expected"),
    ({"results": [{"id": "1", "properties": {"lastmodifieddate": "2024-13-01T00:00:00Z"}}]}, "time was expected"),
    ({"results": [], "paging": {"next": {"after": ""}}}, "gave no 'after'"),
    ({"results": [], "paging": {"next": {"link": "https://api.hubapi.com/x"}}}, "gave no 'after'"),
    ({"results": [], "paging": "after=2"}, "'paging' that is not an object"),
    ({"results": [], "paging": {"next": ["2"]}}, "'paging' that is not an object"),
])
def test_malformed_pages_are_refused_naming_the_problem(answer: Any, problem: str) -> None:
    with pytest.raises(CrmProtocolError, match=problem):
        page = decoded(answer)
        page_records(page, "contact")
        next_after(page)


@pytest.mark.parametrize("text", ["2024-03-10T23:30:00-08:00", "2024-01-17T19:55:04.281Z", "2024-01-17T19:55:04",
                                  "2024-01-17T19:55:04.1234567Z", "1710142200000", "20240101", "2024-01-17",
                                  " 2024-01-17T19:55:04Z", "2024-01-17T19:55:04Z\n", "", None])
def test_instant_ms_reads_every_time_as_the_general_parser_does(text: str | None) -> None:
    assert instant_ms(text) == parse_instant_ms(text)


async def test_the_connector_refuses_a_list_answer_that_is_not_json() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/search"):
            return json_response(200, {"total": 0, "results": []})
        return httpx.Response(200, content=b"upstream timeout", headers={"Content-Type": "text/plain"})

    connector = HubSpotConnector("https://api.hubapi.com", "tok", transport=httpx.MockTransport(handler),
                                 rate_limit_per_10s=10_000, full_pull_search=False)
    with pytest.raises(CrmProtocolError, match="GET /crm/v3/objects/contacts answered 200 with a body that is not"):
        [page async for page in connector.pull_changes("contact", None, properties=["email"])]
    await connector.aclose()


@pytest.mark.parametrize("base", ["https://api.hubapi.com", "https://eu1.example.com/hubspot/"])
async def test_list_requests_carry_the_url_httpx_builds_from_their_parameters(base: str) -> None:
    sent: list[httpx.URL] = []
    after = "1 0&x=ü"  # HubSpot's cursor is opaque: whatever it is, it travels encoded as httpx encodes it

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url)
        more = {"paging": {"next": {"after": after}}} if len(sent) == 1 else {}
        return json_response(200, {"results": [DOC_OBJECT], **more})

    connector = HubSpotConnector(base, "tok", transport=httpx.MockTransport(handler), rate_limit_per_10s=10_000,
                                 full_pull_search=False)
    pages = [page async for page in connector.pull_changes("contact", None, properties=["email", "firstname"])]
    await connector.aclose()
    assert [len(p.records) for p in pages] == [1, 1]
    props = ["email", "firstname", "lastmodifieddate", "hs_object_id", "hs_merged_object_ids"]
    client = httpx.AsyncClient(base_url=base.rstrip("/"))
    expected = [client.build_request("GET", "/crm/v3/objects/contacts", params={
        "limit": 100, "properties": props, "archived": "false", **extra}).url for extra in ({}, {"after": after})]
    assert [str(u) for u in sent] == [str(u) for u in expected]
    assert sent[1].params["after"] == after
