"""Files saved by Excel on Windows (German locale: ``sep=;`` and cp1252; US locale: comma and cp1252),
Excel's "Unicode Text" (UTF-16, tabs), and ``.xlsx`` workbooks read directly; each value's fate."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from leadsync.agent.daemon import Agent
from leadsync.common.errors import ValidationError
from leadsync.common.importfile.reading import open_table
from leadsync.common.rpc import RpcClient
from tests.importing.conftest import contact, fields_of, problems, run_import, write

GERMAN = (
    "sep=;\r\n"
    "Vorname;Nachname;E-Mail;Firma;Telefon;PLZ;Ort;Geburtstag;Interessen;Notiz;;\r\n"
    "Jürgen;Müller;juergen@example.de;Bäckerei Müller GmbH;'+49 351 1234567;1067;Dresden;05.03.1980;Brot;"
    "Kunde seit 1999;;\r\n"
    'Änne;Weiß;aenne@example.de;Straßenbau AG;4,91E+11;80331;München;31.12.1975;;"=HYPERLINK(""http://x"")";;x\r\n'
)


async def test_excel_windows_german_locale(agent: Agent, client: RpcClient, importer: dict[str, Any],
                                           tmp_path: Path) -> None:
    answer = await run_import(agent, write(tmp_path / "Kontakte.csv", GERMAN, "cp1252"))
    assert answer["file"] | {"name": None} == {"name": None, "encoding": "cp1252", "delimiter": ";",
                                               "header_line": 2, "sheet": None}
    assert {(p["line"], p["kind"]) for p in answer["skipped_lines"]} == {(1, "sep_line")}
    assert fields_of(answer) == {"Vorname": "first_name", "Nachname": "last_name", "E-Mail": "email",
                                 "Firma": "company", "Telefon": "phone", "PLZ": "zip", "Ort": "city",
                                 "Geburtstag": "geburtstag", "Interessen": "interessen", "Notiz": "notiz", "": None}
    assert (answer["created"], answer["failed"], answer["date_orders"]) == (2, [], {"Geburtstag": "DMY"})
    assert problems(answer) == {(3, "PLZ", "lost_leading_zero"), (4, "Telefon", "scientific_notation"),
                                (4, "column 12 (no header)", "headerless_value")}
    juergen = await contact(client, "juergen@example.de")
    assert (juergen["first_name"], juergen["last_name"], juergen["company"], juergen["phone"]) == (
        "Jürgen", "Müller", "Bäckerei Müller GmbH", "+49 351 1234567")  # the guard apostrophe is gone
    assert juergen["fields"] == {"zip": "1067", "city": "Dresden", "geburtstag": "1980-03-05", "interessen": "Brot",
                                 "notiz": "Kunde seit 1999"}
    aenne = await contact(client, "aenne@example.de")
    assert (aenne["first_name"], aenne["last_name"], aenne["phone"]) == ("Änne", "Weiß", "4,91E+11")
    assert aenne["fields"] == {"zip": "80331", "city": "München", "geburtstag": "1975-12-31",
                               "notiz": '=HYPERLINK("http://x")'}  # kept as text, never evaluated


US = (
    "First Name,Last Name,E-mail Address,Company,Business Phone,ZIP,Birthday,Lead Score\r\n"
    "René,Côté,rene@example.com,Café Ltd,4.15E+09,2134,3/5/1980,\r\n"
    "Zoë,O’Brien,zoe@example.com,Acme,+1 415 555 0100,94105,12/31/1975,70\r\n"
)


async def test_excel_windows_us_locale(agent: Agent, client: RpcClient, importer: dict[str, Any],
                                       tmp_path: Path) -> None:
    answer = await run_import(agent, write(tmp_path / "contacts.csv", US, "cp1252"))
    assert (answer["file"]["encoding"], answer["file"]["delimiter"]) == ("cp1252", ",")
    assert answer["date_orders"] == {"Birthday": "MDY"}
    assert problems(answer) == {(2, "Business Phone", "scientific_notation"), (2, "ZIP", "lost_leading_zero")}
    rene = await contact(client, "rene@example.com")
    assert (rene["first_name"], rene["last_name"], rene["company"], rene["phone"], rene["lead_score"]) == (
        "René", "Côté", "Café Ltd", "4.15E+09", None)
    assert rene["fields"] == {"zip": "2134", "birthday": "1980-03-05"}
    zoe = await contact(client, "zoe@example.com")
    assert (zoe["last_name"], zoe["phone"], zoe["lead_score"], zoe["fields"]["birthday"]) == (
        "O’Brien", "+1 415 555 0100", 70, "1975-12-31")


async def test_excel_unicode_text_is_utf16_with_tabs(agent: Agent, client: RpcClient, importer: dict[str, Any],
                                                     tmp_path: Path) -> None:
    text = "Email\tFirst Name\tCity\r\nzoe@example.com\tZoë\tKraków\r\n"
    answer = await run_import(agent, write(tmp_path / "contacts.txt", "\ufeff" + text, "utf-16-le"))
    assert (answer["file"]["encoding"], answer["file"]["delimiter"], answer["created"]) == ("utf-16", "\t", 1)
    zoe = await contact(client, "zoe@example.com")
    assert (zoe["first_name"], zoe["fields"]) == ("Zoë", {"city": "Kraków"})


async def test_ambiguous_day_month_is_refused_until_date_format(agent: Agent, client: RpcClient,
                                                               importer: dict[str, Any], tmp_path: Path) -> None:
    path = write(tmp_path / "events.csv", "Email,Event Date\na@example.org,03/04/2024\nb@example.org,01/02/2024\n")
    with pytest.raises(ValidationError, match=r"'Event Date'.*'03/04/2024' on line 2.*--date-format"):
        await run_import(agent, path)
    assert (await client.call("contacts.list", {}))["contacts"] == []  # refused: nothing written
    answer = await run_import(agent, path, date_format="DD/MM/YYYY")
    assert answer["date_orders"] == {"Event Date": "DMY"}
    assert (await contact(client, "a@example.org"))["fields"] == {"event_date": "2024-04-03"}


async def test_a_column_mixing_day_first_and_month_first_is_refused(agent: Agent, importer: dict[str, Any],
                                                                    tmp_path: Path) -> None:
    path = write(tmp_path / "mixed.csv", "Email,Created Date\na@example.org,25/04/2024\nb@example.org,04/25/2024\n")
    with pytest.raises(ValidationError, match=r"mixes day-first \('25/04/2024' on line 2\) and month-first"):
        await run_import(agent, path)


def _workbook(path: Path) -> Path:
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "Notes"
    first.append(["not the contacts"])
    sheet = book.create_sheet("Leads")
    sheet.append(["Leads exported 2024-03-07"])
    sheet.append([])
    sheet.append(["Email", "First Name", "Phone", "Zip", "Created Date", "Lead Score"])
    sheet.append(["ada@example.org", "Ada", 441234567890, 1067, dt.date(2024, 3, 5), 85])
    sheet.cell(row=4, column=4).number_format = "00000"
    book.save(path)
    return path


async def test_xlsx_read_directly_with_sheet(agent: Agent, client: RpcClient, importer: dict[str, Any],
                                            tmp_path: Path) -> None:
    path = _workbook(tmp_path / "leads.xlsx")
    answer = await run_import(agent, path, sheet="Leads")
    assert answer["file"] | {"name": None} == {"name": None, "encoding": None, "delimiter": None, "header_line": 3,
                                               "sheet": "Leads"}
    assert (answer["created"], answer["failed"], answer["warnings"]) == (1, [], [])
    ada = await contact(client, "ada@example.org")
    # numbers keep their digits, the ZIP its zero (from the cell's 00000 format), the date its day
    assert (ada["phone"], ada["lead_score"], ada["fields"]) == (
        "441234567890", 85, {"zip": "01067", "created_date": "2024-03-05"})
    with pytest.raises(ValidationError, match="has no sheet 'Kontakte' \\(sheets: Notes, Leads\\)"):
        open_table(path, sheet="Kontakte")
    with pytest.raises(ValidationError, match="no email column"):  # the first sheet by default
        await run_import(agent, path)
