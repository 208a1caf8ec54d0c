"""Preview (``--dry-run``), duplicates across chunks, ``--map``/``--skip``, the threshold push, the
export's safety and the round trip (export, then import the export: nothing changes)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest

from leadsync.agent.cli import main
from leadsync.agent.daemon import Agent
from leadsync.agent.exporting import escape_cell, write_contacts
from leadsync.agent.importing import apply
from leadsync.agent.store.queries import import_lines
from leadsync.common.errors import ValidationError
from leadsync.common.importfile import upload
from leadsync.common.rpc import RpcClient
from tests.conftest import CrmWorld
from tests.importing.conftest import contact, fields_of, run_import, write
from tests.importing.test_crm_exports import HUBSPOT

FILE = ("Email,First Name,Notes,Internal,Tags\n"
        "ada@example.org,Ada,=1+2,secret,a;b\n"
        "bo@example.org,Bo,-5,x,\n"
        "ADA@example.org,Ada Again,,,\n")


async def test_dry_run_shows_the_plan_and_writes_nothing(agent: Agent, client: RpcClient, importer: dict[str, Any],
                                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "in.csv", FILE)
    answer = await run_import(agent, path, dry_run=True)
    assert (answer["dry_run"], answer["created"], answer["updated"], answer["skipped"]) == (True, 2, 0, 1)
    assert [(d["line"], d["message"].split(": ")[-1]) for d in answer["duplicates"]] == [(4, "line 2 wins")]
    assert (await client.call("contacts.list", {}))["contacts"] == []
    code = await asyncio.to_thread(main, ["--socket", str(agent.socket_path), "import", str(path), "--as",
                                          "importer@corp.com", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0 and "encoding utf-8, delimiter ','" in out and "header on line 1" in out
    assert "DRY RUN, nothing written: would be 3 rows: 2 created" in out and "line 4: Email 'ada@example.org'" in out
    assert "Internal" in out and "-> internal" in out
    assert (await client.call("contacts.list", {}))["contacts"] == []


async def test_duplicates_are_found_across_chunks(agent: Agent, client: RpcClient, importer: dict[str, Any],
                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload, "CHUNK_ROWS", 1)  # every row in its own contacts.import call
    answer = await run_import(agent, write(tmp_path / "in.csv", FILE))
    assert (answer["created"], answer["updated"], [d["line"] for d in answer["duplicates"]]) == (2, 0, [4])
    assert (await contact(client, "ada@example.org"))["first_name"] == "Ada"  # line 2 won


async def test_the_agent_keeps_a_files_emails_on_disk_until_its_last_chunk(
        agent: Agent, client: RpcClient, importer: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    header = ["Email", "First Name"]
    params: dict[str, Any] = {"as_user": "importer@corp.com", "header": header, "import_id": "f1", "dry_run": True}
    first = await client.call("contacts.import", {**params, "rows": [[2, ["ada@example.org", "Ada"]]]})
    assert (first["created"], first["duplicates"]) == (1, [])
    assert await import_lines.kept_keys(agent.store.writer) == 1  # the dry run's keys outlive its rollback
    again = await client.call("contacts.import", {**params, "rows": [[2, ["ada@example.org", "Ada"]]]})
    assert (again["created"], again["duplicates"]) == (1, [])  # a chunk sent again is not its own duplicate
    later = await client.call("contacts.import", {**params, "last": True,
                                                  "rows": [[9, ["ADA@example.org ", "Ada Again"]]]})
    assert [(d["line"], d["kind"]) for d in later["duplicates"]] == [(9, "duplicate")]
    assert await import_lines.kept_keys(agent.store.writer) == 0  # the last chunk freed the file's keys
    clock = [1000.0]
    monkeypatch.setattr(apply.time, "monotonic", lambda: clock[0])
    await client.call("contacts.import", {**params, "import_id": "idle", "rows": [[2, ["bo@example.org", "Bo"]]]})
    clock[0] += import_lines.IDLE_S + 1
    await client.call("contacts.import", {**params, "import_id": "other", "rows": [[2, ["cy@example.org", "Cy"]]]})
    assert await import_lines.kept_keys(agent.store.writer) == 1  # the idle file was forgotten, "other" kept


async def test_the_cli_frees_the_files_keys_after_its_last_chunk(agent: Agent, importer: dict[str, Any],
                                                                 tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upload, "CHUNK_ROWS", 2)
    answer = await run_import(agent, write(tmp_path / "in.csv", FILE))
    assert [d["line"] for d in answer["duplicates"]] == [4]
    assert await import_lines.kept_keys(agent.store.writer) == 0


async def test_map_and_skip_decide_where_columns_go(agent: Agent, client: RpcClient, importer: dict[str, Any],
                                                    tmp_path: Path) -> None:
    path = write(tmp_path / "in.csv", FILE)
    answer = await run_import(agent, path, mapping={"Notes": "job_title", "Tags": "labels[]"}, skip=["Internal"])
    assert fields_of(answer) == {"Email": "email", "First Name": "first_name", "Notes": "job_title", "Internal": None,
                                 "Tags": "labels"}
    assert answer["unmapped_columns"] == ["Internal"]
    ada = await contact(client, "ada@example.org")
    assert (ada["job_title"], ada["fields"]) == ("=1+2", {"labels": ["a", "b"]})
    with pytest.raises(ValidationError, match="'Nope' is not a column of this file"):
        await run_import(agent, path, skip=["Nope"])


async def test_an_imported_hot_lead_is_pushed_at_once(world: CrmWorld, world_client: RpcClient,
                                                      tmp_path: Path) -> None:
    await world_client.call("sync.run", {"wait": True})  # owners known
    owner = (await world_client.call("users.list"))["unmatched_owners"][0]
    await world_client.call("users.create", {"email": owner["email"], "name": "Imp"})
    await world_client.call("settings.update", {"score_threshold": 50})
    path = write(tmp_path / "in.csv", "Email,Lead Score\nhot@example.org,80\ncold@example.org,10\n")
    answer = await run_import(world.agent, path, as_user=owner["email"])
    assert (answer["created"], answer["threshold_pushes"]) == (2, 1)
    # a manual push queues behind the urgent threshold run, so once it is done, that one is too
    await world_client.call("sync.run", {"wait": True, "pull": False})
    [threshold] = [r for r in await world_client.call("sync.history", {}) if r["trigger"] == "threshold"]
    assert (threshold["status"], threshold["created_crm"]) == ("ok", 1)  # the hot lead alone
    hot = await contact(world_client, "hot@example.org")
    log = await world_client.call("sync.log", {"contact_id": hot["id"]})
    assert [(w["sync_run_id"], w["trigger"]) for w in log] == [(threshold["id"], "threshold")]


def test_export_escapes_formulas_and_keeps_numbers_usable() -> None:
    assert [escape_cell(v) for v in ("=SUM(A1)", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\tx", "\rx")] == [
        "'=SUM(A1)", "'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(1)", "'\tx", "'\rx"]
    assert [escape_cell(v) for v in ("-5", "+44 20 7946 0958", "+1 (415) 555-0100", "-0.5", "Ada")] == [
        "-5", "+44 20 7946 0958", "+1 (415) 555-0100", "-0.5", "Ada"]
    out = io.StringIO()
    write_contacts(out, [{"id": 1, "email": "a@b.org", "owner_id": "1001", "fields": {"tags": ["x", "y"],
                                                                                     "note": "=cmd"}}],
                   ["note", "tags"], {"1001": ("Alice Admin", "alice@corp.com")})
    header, row = out.getvalue().splitlines()
    assert header.endswith("owner_id,owner,owner_email,created_by,crm_id,sync_state,note,tags")
    assert row.endswith("1001,Alice Admin,alice@corp.com,,,,'=cmd,x;y")


async def test_export_refuses_an_unknown_stage_and_writes_no_file(agent: Agent, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out.csv"
    sock = str(agent.socket_path)
    code = await asyncio.to_thread(main, ["--socket", sock, "export", str(target), "--stage", "leads"])
    assert code == 2 and not target.exists()
    assert "'leads' is not a lifecycle stage" in capsys.readouterr().err
    code = await asyncio.to_thread(main, ["--socket", sock, "export", str(target), "--owner", "nobody@corp.com"])
    assert code == 2 and not target.exists()


async def test_round_trip_export_then_import_changes_nothing(
        agent: Agent, client: RpcClient, team: dict[str, int], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    await run_import(agent, write(tmp_path / "hubspot.csv", HUBSPOT, "utf-8-sig"))
    await run_import(agent, write(tmp_path / "more.csv", FILE))
    before = (await client.call("contacts.list", {}))["contacts"]
    sock = str(agent.socket_path)
    exported = tmp_path / "export.csv"
    assert await asyncio.to_thread(main, ["--socket", sock, "export", str(exported)]) == 0
    assert "'=1+2" in exported.read_text() and ",-5," in exported.read_text()
    code = await asyncio.to_thread(main, ["--socket", sock, "import", str(exported), "--as", "importer@corp.com",
                                          "--json"])
    answer = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert code == 0
    assert (answer["created"], answer["updated"], answer["unchanged"], answer["failed"]) == (0, 0, len(before), [])
    assert answer["warnings"] == []
    assert (await client.call("contacts.list", {}))["contacts"] == before
