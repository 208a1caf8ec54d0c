"""CSV import and export: cases C01, C03, C05 and C09, through the socket API as the CLI sends them."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from leadsync.agent.cli import main
from leadsync.agent.daemon import Agent
from leadsync.agent.exporting import write_contacts
from leadsync.common.csvio import read_csv
from leadsync.common.errors import ValidationError
from leadsync.common.rpc import RpcClient, RpcError


async def import_text(client: RpcClient, text: str, as_user: str = "importer@corp.com") -> dict[str, Any]:
    header, rows = read_csv(text)
    result: dict[str, Any] = await client.call(
        "contacts.import", {"as_user": as_user, "header": header, "rows": [[r.line, r.values] for r in rows]})
    return result


@pytest.fixture
async def importer(client: RpcClient) -> dict[str, Any]:
    user: dict[str, Any] = await client.call("users.create", {"email": "importer@corp.com", "name": "Imp"})
    return user


async def test_c01_byte_order_mark_before_quoted_header(client: RpcClient, importer: dict[str, Any]) -> None:
    text = '\ufeff"Record ID","First Name","Last Name","Email"\r\n"101","Ada","Lovelace","ada@example.org"\r\n' \
           '"102","Alan","Turing","alan@example.org"\r\n'
    header, _ = read_csv(text)
    assert header[0] == "Record ID"
    report = await import_text(client, text)
    assert report["created"] == 2 and report["failed"] == []
    assert report["unmapped_columns"] == []
    page = await client.call("contacts.list", {"filter": {"q": "ada"}})
    assert page["contacts"][0]["first_name"] == "Ada"
    assert page["contacts"][0]["fields"] == {"record_id": "101"}  # kept as a custom field
    assert page["contacts"][0]["created_by"] == importer["id"]


async def test_c03_quoted_line_break_is_one_record(client: RpcClient, importer: dict[str, Any]) -> None:
    text = 'First Name,Last Name,Street,Email\n"Ada","Quill","12 Harbour Rd\nUnit 4","ada@example.org"\n' \
           '"Bo","Reed","1 Main St","bo@example.org"\n"Cy","Bad","x","not-an-email"\n'
    report = await import_text(client, text)
    assert report["rows"] == 3
    assert report["created"] == 2
    assert [(f["line"], f["column"], f["value"]) for f in report["failed"]] == [(5, "Email", "not-an-email")]
    assert "not-an-email" in report["failed"][0]["reason"] and report["failed"][0]["message"] == \
        report["failed"][0]["reason"]
    page = await client.call("contacts.list", {"filter": {"q": "ada"}})
    assert page["contacts"][0]["fields"]["street"] == "12 Harbour Rd\nUnit 4"


async def test_c05_header_twice_stops_with_column_name(client: RpcClient, importer: dict[str, Any]) -> None:
    text = "Email,Phone,Phone Number\nada@example.org,111,222\n"
    with pytest.raises(RpcError) as err:
        await import_text(client, text)
    assert "Phone Number" in err.value.message and "phone" in err.value.message
    assert (await client.call("contacts.list", {}))["contacts"] == []


async def test_c09_one_person_three_spellings(client: RpcClient, importer: dict[str, Any]) -> None:
    text = "Email,First Name\n Ana.Lopez@Example.COM ,Ana\nana.lopez@example.com,Ana\nana lopez@example.com,Ana\n"
    first = await import_text(client, text)
    assert first["created"] == 1
    assert [d["line"] for d in first["duplicates"]] == [3] and "line 2" in first["duplicates"][0]["reason"]
    assert [f["line"] for f in first["failed"]] == [4]
    again = await import_text(client, text)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 1)
    contacts = (await client.call("contacts.list", {}))["contacts"]
    assert [c["email"] for c in contacts] == ["Ana.Lopez@Example.COM"]


async def test_reimport_with_a_change_updates(client: RpcClient, importer: dict[str, Any]) -> None:
    await import_text(client, "Email,Company\nada@example.org,Acme\n")
    report = await import_text(client, "Email,Company\nADA@example.org,Initech\n")
    assert report["updated"] == 1
    contacts = (await client.call("contacts.list", {}))["contacts"]
    assert [(c["email"], c["company"]) for c in contacts] == [("ada@example.org", "Initech")]


def test_header_without_email_is_refused() -> None:
    from leadsync.common.importfile.columns import plan_columns

    with pytest.raises(ValidationError, match="no email column"):
        plan_columns(["Name", "Phone"])


def test_export_writes_header_and_rows() -> None:
    out = io.StringIO()
    count = write_contacts(out, [{"id": 1, "email": "a@b.org", "lead_score": 0, "phone": None}], [], {})
    lines = out.getvalue().splitlines()
    assert count == 1 and lines[0].startswith("id,email") and lines[1].startswith("1,a@b.org")
    assert ",0," in lines[1]


async def test_cli_import_and_export_round_trip(agent: Agent, importer: dict[str, Any], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    source = tmp_path / "in.csv"
    source.write_text("Email,First Name\nada@example.org,Ada\nbad,Bo\n", encoding="utf-8")
    sock = str(agent.socket_path)
    code = await asyncio.to_thread(main, ["--socket", sock, "import", str(source), "--as", "importer@corp.com"])
    assert code == 1  # one row failed
    out = capsys.readouterr().out
    assert "1 created" in out and "line 3:" in out
    target = tmp_path / "out.csv"
    code = await asyncio.to_thread(main, ["--socket", sock, "export", str(target), "-q", "ada"])
    assert code == 0
    assert "ada@example.org" in target.read_text()


async def test_a_row_with_more_values_than_the_header_fails_alone(client: RpcClient, importer: dict[str, Any]) -> None:
    report = await import_text(client, "Email,First Name\nr1@example.org,A,EXTRA\nr2@example.org,B\n")
    assert report["created"] == 1
    assert [f["line"] for f in report["failed"]] == [2] and "3 values" in report["failed"][0]["reason"]
