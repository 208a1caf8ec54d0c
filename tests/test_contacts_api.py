"""Users and contacts through the socket API, without a CRM."""

from __future__ import annotations

import pytest

from leadsync.common.errors import RpcCode
from leadsync.common.rpc import RpcClient, RpcError


async def test_create_and_get_contact(client: RpcClient) -> None:
    user = await client.call("users.create", {"email": " Alice@Corp.com ", "name": "Alice"})
    assert user["email"] == "Alice@Corp.com"
    contact = await client.call("contacts.create", {
        "created_by": "alice@corp.com", "fields": {"email": "ada@example.org", "first_name": "Ada"}})
    assert contact["lifecycle_stage"] == "lead"
    assert contact["created_by"] == user["id"]
    assert contact["sync_state"] == "local"
    again = await client.call("contacts.get", {"id": contact["id"]})
    assert again == contact


async def test_duplicate_email_is_refused_case_insensitively(client: RpcClient) -> None:
    await client.call("users.create", {"email": "a@corp.com"})
    await client.call("contacts.create", {"created_by": 1, "fields": {"email": "x@example.org"}})
    with pytest.raises(RpcError) as err:
        await client.call("contacts.create", {"created_by": 1, "fields": {"email": " X@Example.ORG"}})
    assert err.value.code == RpcCode.VALIDATION
    assert "already" in err.value.message


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "ok@example.org", "first_name": "x" * 1001}, "first_name"),
        ({"email": "ok@example.org", "company": "Acme\x00Corp"}, "U+0000"),
        ({"email": "ok@example.org", "lead_score": -1}, "lead_score"),
        ({"first_name": "no email"}, "email"),
    ],
)
async def test_bad_contact_data_fails_with_reason(client: RpcClient, fields: dict[str, object], needle: str) -> None:
    await client.call("users.create", {"email": "a@corp.com"})
    with pytest.raises(RpcError) as err:
        await client.call("contacts.create", {"created_by": 1, "fields": fields})
    assert err.value.code == RpcCode.VALIDATION
    assert needle in err.value.message
    page = await client.call("contacts.list", {})
    assert page["contacts"] == []


async def test_local_owner_change_is_refused(client: RpcClient) -> None:
    await client.call("users.create", {"email": "a@corp.com"})
    contact = await client.call("contacts.create", {"created_by": 1, "fields": {"email": "x@example.org"}})
    with pytest.raises(RpcError) as err:
        await client.call("contacts.update", {"id": contact["id"], "fields": {"owner_id": "7"}})
    assert err.value.code == RpcCode.OWNER_READ_ONLY
    assert "in the CRM" in err.value.message


async def test_keyset_paging_visits_every_contact_once(client: RpcClient) -> None:
    await client.call("users.create", {"email": "a@corp.com"})
    for i in range(23):
        await client.call("contacts.create", {"created_by": 1, "fields": {"email": f"p{i}@example.org"}})
    seen: list[int] = []
    after = None
    while True:
        page = await client.call("contacts.list", {"after": after, "limit": 5})
        seen += [c["id"] for c in page["contacts"]]
        after = page["next_after"]
        if after is None:
            break
    assert len(seen) == 23 == len(set(seen))
    found = await client.call("contacts.list", {"filter": {"q": "P1"}})
    assert {c["email"] for c in found["contacts"]} == {"p1@example.org"} | {f"p1{i}@example.org" for i in range(10)}


async def test_sync_without_crm_says_connect_first(client: RpcClient) -> None:
    with pytest.raises(RpcError) as err:
        await client.call("sync.run", {"wait": True})
    assert err.value.code == RpcCode.CRM_NOT_CONNECTED
    assert "crm.connect" in err.value.message


@pytest.mark.parametrize("minutes", [9, 1441, 0, -5])
async def test_interval_out_of_range_is_refused_with_range(client: RpcClient, minutes: int) -> None:
    with pytest.raises(RpcError) as err:
        await client.call("settings.update", {"sync_interval_minutes": minutes})
    assert "10 to 1440" in err.value.message


@pytest.mark.parametrize("minutes", [10, 1440])
async def test_interval_bounds_are_accepted(client: RpcClient, minutes: int) -> None:
    settings = await client.call("settings.update", {"sync_interval_minutes": minutes})
    assert settings["sync_interval_minutes"] == minutes


async def test_a_smart_list_by_an_unknown_user_is_a_validation_error(client: RpcClient) -> None:
    with pytest.raises(RpcError) as err:
        await client.call("smartlists.create", {"name": "orphan", "created_by": 9999})
    assert err.value.code == RpcCode.VALIDATION and "created_by" in err.value.message
    assert await client.call("smartlists.list") == []


async def test_contacts_count_counts_what_contacts_list_pages_through(client: RpcClient) -> None:
    await client.call("users.create", {"email": "a@corp.com"})
    await client.call("users.create", {"email": "b@corp.com"})
    for i in range(25):
        await client.call("contacts.create", {"created_by": 1 + i % 2, "fields": {
            "email": f"c{i}@example.org", "lead_score": i * 4, "lifecycle_stage": "lead" if i % 3 else "customer"}})

    async def listed(params: dict[str, object]) -> int:
        page = await client.call("contacts.list", {**params, "limit": 500})
        assert page["next_after"] is None
        return len(page["contacts"])

    smart = await client.call("smartlists.create", {"name": "hot", "filter": {"min_score": 50}})
    for params in ({}, {"filter": {"min_score": 40}}, {"filter": {"lifecycle_stage": "customer", "min_score": 20}},
                   {"filter": {"q": "c1"}}, {"as_user": 2}, {"smart_list": smart["id"]},
                   {"smart_list": smart["id"], "filter": {"lifecycle_stage": "lead"}}):
        assert (await client.call("contacts.count", params))["count"] == await listed(params), params
    assert (await client.call("contacts.count", {}))["count"] == 25
