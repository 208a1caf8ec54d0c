"""Bad input in contact data (issue 7, invariant 8): invalid emails, over-long fields and control characters
fail alone, each with a reason naming the field; everything else goes through, and nothing is lost."""

from __future__ import annotations

from typing import Any

import pytest

from leadsync.common.csvio import read_csv
from leadsync.common.errors import RpcCode
from leadsync.common.rpc import RpcClient, RpcError
from tests.conftest import SideWorld, connect_side
from tests.crm_worlds import make_side

OK = "ok@example.org"


@pytest.fixture
async def creator(client: RpcClient) -> dict[str, Any]:
    user: dict[str, Any] = await client.call("users.create", {"email": "creator@corp.com", "name": "Creator"})
    return user


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"email": "a" * 250 + "@example.org"}, "email: longer than 254 characters"),
        ({"email": "ada lovelace@example.org"}, "is not a valid address"),
        ({"email": "ada@exa\x00mple.org"}, "is not a valid address"),
        ({"email": "@example.org"}, "is not a valid address"),
        ({"email": 42}, "email: expected text"),
        ({"email": OK, "first_name": "x" * 1001}, "first_name: longer than 1000 characters (1001)"),
        ({"email": OK, "notes": "y" * 5000}, "notes: longer than 1000 characters (5000)"),
        ({"email": OK, "company": "Acme\x00Corp"}, "company: contains the control character U+0000"),
        ({"email": OK, "last_name": "Bell\x07"}, "last_name: contains the control character U+0007"),
        ({"email": OK, "job_title": "\x1b[31mBoss"}, "job_title: contains the control character U+001B"),
        ({"email": OK, "phone": "555\x7f"}, "phone: contains the control character U+007F"),
        ({"email": OK, "notes": "bad\x85line"}, "notes: contains the control character U+0085"),
        ({"email": OK, "tags": ["fine", "bad\x08"]}, "tags: contains the control character U+0008"),
        ({"email": OK, "prefs": {"nested": 1}}, "prefs: unsupported value"),
        ({"email": OK, "first_name": 7}, "first_name: expected text"),
        ({"email": OK, "lead_score": True}, "lead_score: expected a whole number"),
        ({"email": OK, "lead_score": 2.5}, "lead_score: expected a whole number"),
        ({"email": OK, "lead_score": 1_000_001}, "lead_score: 1000001 is outside 0..1000000"),
    ],
)
async def test_contacts_create_refuses_a_bad_field_with_its_reason_and_creates_nothing(
        client: RpcClient, creator: dict[str, Any], fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(RpcError) as caught:
        await client.call("contacts.create", {"created_by": creator["id"], "fields": fields})
    assert caught.value.code == RpcCode.VALIDATION
    assert reason in caught.value.message
    assert (await client.call("contacts.list", {}))["contacts"] == []
    # the bad one failed alone: the next create goes through
    good = await client.call("contacts.create", {"created_by": creator["id"], "fields": {"email": OK}})
    assert good["email"] == OK


async def test_tabs_newlines_unicode_and_exactly_1000_characters_are_kept_as_written(
        client: RpcClient, creator: dict[str, Any]) -> None:
    fields = {"email": " zoë@例え.jp ", "first_name": "Zoë 🙂", "company": "Line one\nLine two",
              "job_title": "Head\tof sales", "last_name": "x" * 1000, "notes": "\u2028 is a separator, not control"}
    contact = await client.call("contacts.create", {"created_by": creator["id"], "fields": fields})
    again = await client.call("contacts.get", {"id": contact["id"]})
    assert again["email"] == "zoë@例え.jp"  # trimmed, otherwise as written
    assert (again["first_name"], again["company"], again["job_title"]) == ("Zoë 🙂", "Line one\nLine two",
                                                                         "Head\tof sales")
    assert again["last_name"] == "x" * 1000 and again["fields"]["notes"] == fields["notes"]


async def test_contacts_update_with_one_bad_field_changes_nothing(client: RpcClient, creator: dict[str, Any]) -> None:
    contact = await client.call("contacts.create", {"created_by": creator["id"],
                                                    "fields": {"email": OK, "company": "Before"}})
    with pytest.raises(RpcError) as caught:
        await client.call("contacts.update", {"id": contact["id"], "fields": {"company": "After", "phone": "1\x002"}})
    assert caught.value.code == RpcCode.VALIDATION and "phone" in caught.value.message
    assert (await client.call("contacts.get", {"id": contact["id"]}))["company"] == "Before"


IMPORT = (
    "Email,First Name,Company,Lead Score,Street\n"
    "good.one@example.org,Ada,Acme,10,1 Main St\n"  # line 2
    "not-an-email,Bob,Acme,10,\n"  # line 3
    f"{'a' * 250}@example.org,Cy,Acme,10,\n"  # line 4
    f"dee@example.org,{'D' * 1001},Acme,10,\n"  # line 5
    "eve@example.org,Eve,\"Ac\x07me\",10,\n"  # line 6
    "fay@example.org,Fay,Acme,lots,\n"  # line 7
    ",Gus,Acme,10,\n"  # line 8
    "hal@example.org,Hal,Acme,10,\"1 Main\x00St\"\n"  # line 9
    "good.two@example.org,Ivy,Initech,,\"2 Side St\nUnit 4\"\n"  # line 10
)


async def test_import_bad_rows_fail_alone_with_line_and_reason(client: RpcClient, creator: dict[str, Any]) -> None:
    header, rows = read_csv(IMPORT)
    report = await client.call("contacts.import", {"as_user": creator["id"], "header": header,
                                                   "rows": [[r.line, r.values] for r in rows]})
    failed = {f["line"]: f["reason"] for f in report["failed"]}
    assert (report["rows"], report["created"]) == (9, 2)
    assert sorted(failed) == [3, 4, 5, 6, 7, 8, 9]
    assert "not-an-email" in failed[3] and "is not a valid address" in failed[3]
    assert "email: longer than 254 characters" in failed[4]
    assert "first_name: longer than 1000 characters" in failed[5]
    assert "company: contains the control character U+0007" in failed[6]
    assert "lead_score: 'lots' is not a number" in failed[7]
    assert "email: is required" in failed[8]
    assert "street: contains the control character U+0000" in failed[9]
    emails = sorted(c["email"] for c in (await client.call("contacts.list", {}))["contacts"])
    assert emails == ["good.one@example.org", "good.two@example.org"]


async def test_bad_data_pulled_from_the_crm_is_kept_and_fails_nothing(short_tmp: Any, crm_name: str) -> None:
    """The CRM is the master record: what it holds comes in as it is (nothing lost), and the run is ok."""
    side = make_side(crm_name, contacts=10)
    odd = {
        side.add({"email": "not-an-email", "first_name": "Odd", "company": "Oddco"}): ("not-an-email", "Odd", "Oddco"),
        side.add({"email": "ctrl@example.org", "company": "Ac\x00me\x1b"}): ("ctrl@example.org", None, "Ac\x00me\x1b"),
        side.add({"email": "long@example.org", "first_name": "x" * 5000, "company": "Longco"}): (
            "long@example.org", "x" * 5000, "Longco"),
    }
    live = side.count()
    world: SideWorld = await connect_side(short_tmp, side)
    try:
        async with RpcClient(world.agent.socket_path) as client:
            run = await client.call("sync.run", {"wait": True})
            contacts = {c["crm_id"]: c for c in (await client.call("contacts.list", {"limit": 500}))["contacts"]}
            # a local edit of another field of such a contact still goes out
            target = contacts[next(iter(odd))]
            await client.call("contacts.update", {"id": target["id"], "fields": {"job_title": "Checked"}})
            push = await client.call("sync.run", {"wait": True})
    finally:
        await world.agent.stop()
    assert run["status"] == "ok" and run["failed"] == 0 and run["pulled"] == live
    for crm_id, (email, first_name, company) in odd.items():
        assert (contacts[crm_id]["email"], contacts[crm_id]["first_name"], contacts[crm_id]["company"]) == (
            email, first_name, company)
    assert push["status"] == "ok" and push["updated_crm"] == 1
    assert side.get(target["crm_id"])["job_title"] == "Checked"
