"""Search semantics: filters, ordering, ISO-8601 time values, caps, validation, index lag."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from leadsync.agent.connectors.hubspot.sandbox import FaultSwitches, ManualClock, SandboxState

SEARCH = "/crm/v3/objects/contacts/search"
T = 1_733_011_200_000  # 2024-12-01T00:00:00Z


def since(value: str, op: str = "GTE") -> dict[str, Any]:
    return {
        "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": op, "value": value}]}],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["email"],
        "limit": 200,
    }


async def test_iso_filters_with_offsets_equal_epoch_ms(client: httpx.AsyncClient) -> None:
    as_ms = (await client.post(SEARCH, json=since(str(T)))).json()
    as_z = (await client.post(SEARCH, json=since("2024-12-01T00:00:00Z"))).json()
    as_offset = (await client.post(SEARCH, json=since("2024-12-01T02:00:00+02:00"))).json()
    as_negative = (await client.post(SEARCH, json=since("2024-11-30T19:00:00.000-05:00"))).json()
    assert as_ms["total"] > 0
    assert as_ms == as_z == as_offset == as_negative
    assert all(r["updatedAt"] >= "2024-12-01T00:00:00.000Z" for r in as_ms["results"])


async def test_equal_modified_times_order_by_id_and_pages_do_not_overlap(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    ids = [state.add_contact({"email": f"tie{n}@x.com"}, updated_at_ms=T + 5) for n in range(450)]
    seen: list[str] = []
    body = since(str(T + 5), "EQ")
    while True:
        page = (await client.post(SEARCH, json=body)).json()
        seen += [r["id"] for r in page["results"]]
        if "paging" not in page:
            break
        body["after"] = page["paging"]["next"]["after"]
    assert seen == sorted(ids, key=int)


async def test_descending_sort_and_other_filters(client: httpx.AsyncClient, state: SandboxState) -> None:
    body = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "lastmodifieddate", "operator": "GT", "value": str(T)},
                    {"propertyName": "lifecyclestage", "operator": "IN", "values": ["lead", "customer"]},
                ]
            }
        ],
        "sorts": ["-lastmodifieddate"],
        "properties": ["lifecyclestage", "lastmodifieddate"],
        "limit": 100,
    }
    page = (await client.post(SEARCH, json=body)).json()
    stamps = [r["updatedAt"] for r in page["results"]]
    assert stamps == sorted(stamps, reverse=True) and stamps
    assert {r["properties"]["lifecyclestage"] for r in page["results"]} <= {"lead", "customer"}


async def test_email_eq_is_case_insensitive_and_or_groups(client: httpx.AsyncClient, state: SandboxState) -> None:
    a = state.add_contact({"email": "Mixed.Case@Example.com", "lead_score": "70"})
    b = state.add_contact({"email": "other@example.com", "lead_score": "9"})
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "email", "operator": "EQ", "value": "mixed.case@EXAMPLE.com"}]},
            {
                "filters": [
                    {"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@example.com"},
                    {"propertyName": "lead_score", "operator": "LT", "value": "10"},
                ]
            },
        ],
        "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
    }
    page = (await client.post(SEARCH, json=body)).json()
    assert [r["id"] for r in page["results"]] == [a, b]


async def test_has_property_and_number_comparisons(client: httpx.AsyncClient, state: SandboxState) -> None:
    state.add_contact({"email": "scored@x.com", "lead_score": "100"})
    state.add_contact({"email": "cleared@x.com", "lead_score": ""})
    body = {"filterGroups": [{"filters": [{"propertyName": "lead_score", "operator": "GTE", "value": "100"}]}]}
    expected = sum(
        1
        for i in state.live_contact_ids()
        if (s := state.get_contact(i)) and s.properties.get("lead_score") not in (None, "")
        and float(s.properties["lead_score"] or 0) >= 100
    )
    assert (await client.post(SEARCH, json=body)).json()["total"] == expected
    none = {"filterGroups": [{"filters": [{"propertyName": "lead_score", "operator": "NOT_HAS_PROPERTY"}]}]}
    results = (await client.post(SEARCH, json={**none, "properties": ["email"], "limit": 200})).json()["results"]
    assert "cleared@x.com" in {r["properties"]["email"] for r in results}


async def test_request_limits_are_validation_errors(client: httpx.AsyncClient) -> None:
    too_many_groups = {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}] * 6}
    too_many_filters = {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}] * 7}]}
    for body in (
        {"limit": 201},
        too_many_groups,
        too_many_filters,
        {"after": "abc"},
        {"filterGroups": [{"filters": [{"propertyName": "nope", "operator": "EQ", "value": "1"}]}]},
        {"sorts": ["email", "firstname"]},
        {"query": "x" * 3_000},
    ):
        answer = await client.post(SEARCH, json=body)
        assert answer.status_code == 400, body
        assert answer.json()["category"] == "VALIDATION_ERROR"


async def test_writes_reach_search_only_after_the_index_lag(
    client: httpx.AsyncClient, state: SandboxState, faults: FaultSwitches, clock: ManualClock
) -> None:
    faults.search_lag_s = 3
    created = await client.post("/crm/v3/objects/contacts", json={"properties": {"email": "fresh@lag.com"}})
    assert created.status_code == 201
    existing = state.live_contact_ids()[0]
    before = state.get_contact(existing)
    assert before is not None
    await client.patch(f"/crm/v3/objects/contacts/{existing}", json={"properties": {"jobtitle": "Lagging"}})
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "email", "operator": "EQ", "value": "fresh@lag.com"}]},
            {"filters": [{"propertyName": "hs_object_id", "operator": "EQ", "value": existing}]},
        ],
        "properties": ["email", "jobtitle"],
    }
    early = (await client.post(SEARCH, json=body)).json()
    assert [r["id"] for r in early["results"]] == [existing]
    assert early["results"][0]["properties"]["jobtitle"] == before.properties.get("jobtitle")
    clock.advance(3_000)
    late = (await client.post(SEARCH, json=body)).json()
    assert late["total"] == 2
    assert {r["properties"]["jobtitle"] for r in late["results"] if r["id"] == existing} == {"Lagging"}
    assert (await client.get(f"/crm/v3/objects/contacts/{created.json()['id']}")).status_code == 200


@pytest.mark.slow  # ~12 s: 10,000+ changes searched page by page
async def test_b01_more_than_10000_changes_are_reachable_by_narrowing(
    client: httpx.AsyncClient, state: SandboxState
) -> None:
    """25,000 contacts changed after the cursor, 12,000 of them in the very same millisecond: a
    query pages at most 10,000 deep, so the pull continues from (modified time, id) instead."""
    for n in range(25_000):
        state.add_contact({"email": f"b01-{n}@example.com"}, updated_at_ms=T + 1 + max(0, n - 12_000) // 7)
    capped = await client.post(SEARCH, json={**since(str(T + 1)), "after": "9900"})
    assert capped.status_code == 400
    cursor_ms, cursor_id = T, 0
    seen: list[str] = []
    while True:
        body = {
            "filterGroups": [
                {"filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": str(cursor_ms)}]},
                {
                    "filters": [
                        {"propertyName": "lastmodifieddate", "operator": "EQ", "value": str(cursor_ms)},
                        {"propertyName": "hs_object_id", "operator": "GT", "value": str(cursor_id)},
                    ]
                },
            ],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            "properties": ["email", "lastmodifieddate"],
            "limit": 200,
        }
        page = (await client.post(SEARCH, json=body)).json()
        if not page["results"]:
            break
        seen += [r["id"] for r in page["results"] if r["properties"]["email"].startswith("b01-")]
        last = page["results"][-1]
        cursor_ms = int(datetime.fromisoformat(last["properties"]["lastmodifieddate"]).timestamp() * 1000)
        cursor_id = int(last["id"])
    assert len(seen) == len(set(seen)) == 25_000
