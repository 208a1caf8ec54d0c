"""The sandbox answers requests built from Autotask's REST documentation in the documented shapes
(``fixtures/documented_examples.json``), and behaves like Autotask where the connector relies on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadsync.agent.connectors.autotask.sandbox import AutotaskState

from .conftest import ZONE

EXAMPLES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "fixtures" / "documented_examples.json").read_text())["examples"]


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["name"] for e in EXAMPLES])
async def test_a_documented_request_gets_a_documented_answer(example: dict[str, Any], state: AutotaskState,
                                                             client: httpx.AsyncClient) -> None:
    request = example["request"]
    company_id = sorted(state.tables["Companies"])[0]
    path = request["path"].replace("{companyId}", str(company_id))
    headers = {"ApiIntegrationCode": "", "UserName": "", "Secret": ""} if request.get("no_credentials") else None
    answer = await client.request(request["method"], ZONE + path, json=request.get("body"), headers=headers)

    assert answer.status_code == example["status"], answer.text
    body = answer.json()
    assert sorted(body) == example["answer_keys"]
    if "page_details_keys" in example:
        assert sorted(body["pageDetails"]) == example["page_details_keys"]
        assert body["pageDetails"]["count"] == len(body["items"])
    if "item_keys" in example:
        assert body["items"] and all(sorted(item) == example["item_keys"] for item in body["items"])
    if "field_keys" in example:
        assert all(sorted(field) == example["field_keys"] for field in body["fields"])
    if "errors" in body:
        assert body["errors"] and all(isinstance(message, str) and message for message in body["errors"])


async def test_an_or_group_matches_either_condition(state: AutotaskState, client: httpx.AsyncClient) -> None:
    query = {"filter": [{"op": "or", "items": [{"op": "eq", "field": "isActive", "value": 0},
                                               {"op": "beginsWith", "field": "lastName", "value": "z"}]}]}
    items = (await client.post(f"{ZONE}/V1.0/Contacts/query", json=query)).json()["items"]
    expected = [r["id"] for r in state.rows("Contacts")
                if r["isActive"] == 0 or str(r["lastName"]).lower().startswith("z")]
    assert [i["id"] for i in items] == expected and expected


async def test_pages_hold_500_items_in_id_order_and_max_records_asks_for_fewer(
        state: AutotaskState, client: httpx.AsyncClient) -> None:
    query = {"MaxRecords": 30, "filter": [{"op": "gte", "field": "id", "value": 0}]}
    first = (await client.post(f"{ZONE}/V1.0/Contacts/query", json=query)).json()
    second = (await client.post(first["pageDetails"]["nextPageUrl"], json=query)).json()
    ids = [i["id"] for i in first["items"] + second["items"]]
    assert ids == sorted(ids) == [r["id"] for r in state.rows("Contacts")][:60]
    assert first["pageDetails"]["prevPageUrl"] is None and second["pageDetails"]["prevPageUrl"]
    big = (await client.post(f"{ZONE}/V1.0/Contacts/query", json={**query, "MaxRecords": 5000})).json()
    assert big["pageDetails"]["requestCount"] == 500


async def test_a_next_page_without_the_filter_body_is_refused(client: httpx.AsyncClient) -> None:
    query = {"MaxRecords": 10, "filter": [{"op": "gte", "field": "id", "value": 0}]}
    first = (await client.post(f"{ZONE}/V1.0/Contacts/query", json=query)).json()
    bare = await client.post(first["pageDetails"]["nextPageUrl"])
    assert bare.status_code == 500 and "filter" in bare.json()["errors"][0]


async def test_more_than_500_or_values_and_unknown_fields_are_refused(client: httpx.AsyncClient) -> None:
    too_many = {"filter": [{"op": "in", "field": "id", "value": list(range(501))}]}
    unknown = {"filter": [{"op": "eq", "field": "favouriteColour", "value": "blue"}]}
    for query in (too_many, unknown):
        answer = await client.post(f"{ZONE}/V1.0/Contacts/query", json=query)
        assert answer.status_code == 500 and answer.json()["errors"]


async def test_contacts_are_created_only_under_a_company(client: httpx.AsyncClient) -> None:
    answer = await client.post(f"{ZONE}/V1.0/Contacts", json={"firstName": "A", "lastName": "B"})
    assert answer.status_code == 405 and answer.json()["errors"]


async def test_writes_are_counted_and_queries_are_not(state: AutotaskState, client: httpx.AsyncClient) -> None:
    company_id = sorted(state.tables["Companies"])[0]
    await client.post(f"{ZONE}/V1.0/Contacts/query", json={"filter": [{"op": "gte", "field": "id", "value": 0}]})
    await client.post(f"{ZONE}/V1.0/Companies/{company_id}/Contacts", json={"firstName": "A", "lastName": "B"})
    assert state.write_requests == 1 and state.records_written == 1
