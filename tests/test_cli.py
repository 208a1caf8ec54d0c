"""The ``leadsync`` command as a script uses it, against a running agent."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from leadsync.agent.cli import main
from leadsync.agent.daemon import Agent
from leadsync.common.rpc import RpcClient


async def seed(client: RpcClient, n: int) -> None:
    user = await client.call("users.create", {"email": "alice@corp.example"})
    for i in range(n):
        await client.call("contacts.create", {"created_by": user["id"], "fields": {"email": f"c{i}@example.org"}})


async def test_contacts_pages_and_says_how_to_get_the_next_page(agent: Agent, client: RpcClient,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    await seed(client, 120)
    sock = str(agent.socket_path)
    assert await asyncio.to_thread(main, ["--socket", sock, "contacts", "--limit", "50"]) == 0
    first = capsys.readouterr()
    assert len(first.out.splitlines()) == 50
    assert "--after 50" in first.err
    assert await asyncio.to_thread(main, ["--socket", sock, "contacts", "--limit", "50", "--after", "50"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()][:2] == ["51", "52"]
    assert await asyncio.to_thread(main, ["--socket", sock, "contacts", "--all", "--limit", "50"]) == 0
    every = capsys.readouterr()
    assert len(every.out.splitlines()) == 120 and "--after" not in every.err


async def test_contacts_all_as_json_is_one_page_per_line(agent: Agent, client: RpcClient,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    await seed(client, 7)
    assert await asyncio.to_thread(main, ["--socket", str(agent.socket_path), "contacts", "--all", "--json",
                                          "--limit", "3"]) == 0
    pages = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [len(p["contacts"]) for p in pages] == [3, 3, 1]
    assert pages[-1]["next_after"] is None


async def test_call_reads_params_from_stdin_and_socket_goes_after_the_verb_too(
        agent: Agent, client: RpcClient, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO('{"email": "stdin@corp.example"}'))
    assert await asyncio.to_thread(main, ["call", "users.create", "-", "--socket", str(agent.socket_path)]) == 0
    assert json.loads(capsys.readouterr().out)["email"] == "stdin@corp.example"
    monkeypatch.setattr("sys.stdin", io.StringIO("not json"))
    assert await asyncio.to_thread(main, ["call", "users.create", "-", "--socket", str(agent.socket_path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


async def test_status_says_how_many_contacts_an_error_holds(synced_agent: Any, world_client: RpcClient,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    user = await world_client.call("users.create", {"email": "nobody@corp.example"})  # no CRM owner matches
    await world_client.call("contacts.create", {"created_by": user["id"], "fields": {"email": "held@example.org"}})
    run = await world_client.call("sync.run", {"wait": True})
    assert run["failed"] == 1
    assert await asyncio.to_thread(main, ["status", "--socket", str(synced_agent.agent.socket_path)]) == 0
    out = capsys.readouterr().out
    assert "0 contacts waiting to push, 1 held by an error" in out


async def test_status_shows_a_partial_run_behind_a_later_ok_one(synced_agent: Any, world_client: RpcClient,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    user = await world_client.call("users.create", {"email": "nobody@corp.example"})  # no CRM owner matches
    await world_client.call("contacts.create", {"created_by": user["id"], "fields": {"email": "held@example.org"}})
    partial = await world_client.call("sync.run", {"wait": True})
    later = await world_client.call("sync.run", {"wait": True})  # the held contact is not retried: ok
    assert (partial["status"], later["status"]) == ("partial", "ok")
    assert await asyncio.to_thread(main, ["status", "--socket", str(synced_agent.agent.socket_path)]) == 0
    out = capsys.readouterr().out
    assert f"last sync #{later['id']} ok" in out
    assert f"last problem: sync #{partial['id']} partial (manual): failed 1" in out


async def test_errors_lists_the_held_record_and_retry_says_what_it_retried(
        synced_agent: Any, world_client: RpcClient, capsys: pytest.CaptureFixture[str]) -> None:
    sock = str(synced_agent.agent.socket_path)
    user = await world_client.call("users.create", {"email": "nobody@corp.example"})  # no CRM owner matches
    held = await world_client.call("contacts.create", {"created_by": user["id"],
                                                       "fields": {"email": "held@example.org"}})
    await world_client.call("sync.run", {"wait": True})
    assert await asyncio.to_thread(main, ["errors", "--socket", sock]) == 0
    listed = capsys.readouterr()
    first, reason = listed.out.splitlines()[:2]
    assert f"contact {held['id']}" in first and "no_owner" in first and "seen 1x" in first
    assert "waits for a change or a retry" in first and "no CRM owner" in reason
    assert "creator nobody@corp.example has no CRM owner" in reason  # named as people know them, not by id
    assert "leadsync errors retry" in listed.err
    error_id = int(first.split()[0].lstrip("#"))
    assert await asyncio.to_thread(main, ["errors", "retry", str(error_id), "--socket", sock]) == 1  # still held
    out = capsys.readouterr().out
    assert "retried 1 errors: 1 contacts pushed again" in out and f"still open 1 (#{error_id}" in out
    assert await asyncio.to_thread(main, ["errors", "retry", "--code", "no_owner", "--json", "--socket", sock]) == 0
    assert json.loads(capsys.readouterr().out)["retried"] == [error_id]
    assert await asyncio.to_thread(main, ["errors", "retry", "--socket", sock]) == 2  # nothing chosen
    assert await asyncio.to_thread(main, ["errors", "--json", "--code", "no_owner", "--socket", sock]) == 0
    [error] = json.loads(capsys.readouterr().out)
    assert error["count"] == 3 and error["id"] == error_id


async def test_undo_shows_the_plan_then_undoes(synced_agent: Any, world_client: RpcClient,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    sock = str(synced_agent.agent.socket_path)
    contact = (await world_client.call("contacts.list", {"limit": 1}))["contacts"][0]
    await world_client.call("contacts.update", {"id": contact["id"], "fields": {"job_title": "Undone soon"}})
    run = await world_client.call("sync.run", {"wait": True})
    assert await asyncio.to_thread(main, ["undo", str(run["id"]), "--dry-run", "--socket", sock]) == 0
    out = capsys.readouterr().out
    assert f"undo of sync #{run['id']}: would put back 1 local fields and 1 CRM properties" in out
    assert f"contact {contact['id']} job_title: 'Undone soon' -> {contact['job_title']!r}" in out
    assert await asyncio.to_thread(main, ["undo", str(run["id"]), "--socket", sock]) == 0
    out = capsys.readouterr().out
    assert "put back 1 local fields" in out and "undo run #" in out and " ok" in out
    assert (await world_client.call("contacts.get", {"id": contact["id"]}))["job_title"] == contact["job_title"]
    assert await asyncio.to_thread(main, ["undo", str(run["id"]), "--socket", sock]) == 1  # the agent refuses
    assert "was already undone by sync run" in capsys.readouterr().err
    quiet = await world_client.call("sync.run", {"wait": True})
    assert await asyncio.to_thread(main, ["undo", str(quiet["id"]), "--socket", sock]) == 0
    assert "nothing to put back: no undo run was recorded" in capsys.readouterr().out


async def test_undo_says_the_records_a_run_created_are_kept_unless_archived(
        synced_agent: Any, world_client: RpcClient, capsys: pytest.CaptureFixture[str]) -> None:
    sock = str(synced_agent.agent.socket_path)
    owner = (await world_client.call("users.list"))["unmatched_owners"][0]
    user = await world_client.call("users.create", {"email": owner["email"]})
    await world_client.call("contacts.create", {"created_by": user["id"], "fields": {"email": "made@example.org"}})
    run = await world_client.call("sync.run", {"wait": True})
    assert run["created_crm"] == 1
    assert await asyncio.to_thread(main, ["undo", str(run["id"]), "--dry-run", "--socket", sock]) == 0
    out = capsys.readouterr().out
    assert "0 created records to archive" in out
    assert "1 records the run created in the CRM are kept (--archive-created archives them)" in out
    assert await asyncio.to_thread(main, ["undo", str(run["id"]), "--dry-run", "--archive-created",
                                          "--socket", sock]) == 0
    out = capsys.readouterr().out
    assert "1 created records to archive" in out and "are kept" not in out


async def test_contacts_name_the_owner_and_refuse_an_unknown_one(synced_agent: Any, world_client: RpcClient,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    sock = str(synced_agent.agent.socket_path)
    owners = (await world_client.call("users.list"))["unmatched_owners"]
    owner = next(o for o in owners if o["contacts_owned"] >= 3 and o["first_name"])
    assert await asyncio.to_thread(main, ["contacts", "--owner", owner["email"], "--limit", "3", "--socket", sock]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert all(f"owner {owner['first_name']} {owner['last_name']}" in line and "Contact" in line for line in lines)
    assert all(f"owner {owner['crm_id']} " not in line for line in lines)  # the name, not the numeric id
    assert await asyncio.to_thread(main, ["contacts", "--owner", "nobody-at-all@corp.example", "--socket", sock]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "--owner: 'nobody-at-all@corp.example' is no CRM owner" in captured.err


async def test_contacts_of_a_user_without_a_crm_owner_are_the_ones_they_created(
        agent: Agent, client: RpcClient, capsys: pytest.CaptureFixture[str]) -> None:
    await seed(client, 2)  # created by alice@corp.example, who has no CRM owner (no CRM at all)
    assert await asyncio.to_thread(main, ["contacts", "--owner", "alice@corp.example",
                                          "--socket", str(agent.socket_path)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2 and "owner -" in captured.out
    assert "alice@corp.example has no CRM owner: the contacts they created" in captured.err


async def test_errors_retry_says_when_nothing_matched_and_takes_all_with_a_code(
        synced_agent: Any, world_client: RpcClient, capsys: pytest.CaptureFixture[str]) -> None:
    sock = str(synced_agent.agent.socket_path)
    user = await world_client.call("users.create", {"email": "nobody@corp.example"})  # no CRM owner matches
    await world_client.call("contacts.create", {"created_by": user["id"], "fields": {"email": "held@example.org"}})
    await world_client.call("sync.run", {"wait": True})
    assert await asyncio.to_thread(main, ["errors", "retry", "999", "--socket", sock]) == 1
    assert "nothing to retry: #999 no such error" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["errors", "retry", "--code", "nope", "--socket", sock]) == 1
    assert "nothing to retry: no open error has code 'nope'" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["errors", "retry", "--all", "--code", "no_owner", "--socket", sock]) == 1
    assert "retried 1 errors: 1 contacts pushed again" in capsys.readouterr().out  # still held: exit 1
    assert await asyncio.to_thread(main, ["errors", "retry", "5", "--all", "--socket", sock]) == 2


async def test_a_new_mapping_shows_what_it_would_write_and_asks_first(synced_agent: Any, world_client: RpcClient,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    sock = str(synced_agent.agent.socket_path)
    contacts = (await world_client.call("contacts.list", {"limit": 3}))["contacts"]
    await world_client.call("users.create", {"email": "mapper@corp.com"})
    await world_client.call("contacts.import", {  # a custom field (kept from an import) no mapping syncs yet
        "as_user": "mapper@corp.com", "header": ["Email", "Fax"],
        "rows": [[n + 2, [c["email"], "+1 555 0100"]] for n, c in enumerate(contacts)]})
    preview = await world_client.call("mappings.preview", {"local": "fax", "crm": "fax"})
    assert preview["field_counts"]["crm"].get("fax", 0) >= 3
    assert "fax" not in {m["local"] for m in await world_client.call("mappings.list")}  # nothing saved

    # piped (no terminal to ask on) and no --yes: the plan is shown, nothing is saved
    assert await asyncio.to_thread(main, ["mapping", "fax", "--crm", "fax", "--socket", sock]) == 2
    captured = capsys.readouterr()
    assert "mapping fax: the next sync would write" in captured.out and "contacts to the CRM" in captured.out
    assert "confirm with --yes" in captured.err
    assert "fax" not in {m["local"] for m in await world_client.call("mappings.list")}

    assert await asyncio.to_thread(main, ["mapping", "fax", "--crm", "fax", "--yes", "--socket", sock]) == 0
    assert "saved:" in capsys.readouterr().out
    assert "fax" in {m["local"] for m in await world_client.call("mappings.list")}
    run = await world_client.call("sync.run", {"wait": True})  # the plan said what the sync does
    assert run["updated_crm"] == preview["counts"]["crm"].get("update", 0)
    assert synced_agent.state.get_contact(contacts[0]["crm_id"]).properties["fax"] == "+1 555 0100"
