"""Files as the four CRMs export contacts, each value's fate asserted: imported to which field, kept as
a custom field, flagged on which line, or refused with a reason.

Header names follow each vendor's export: HubSpot's contact export ("Record ID", "Contact owner",
"Phone Number", "Associated Company IDs"...), a Salesforce report exported as CSV (title and filter
lines above the header; the "Grand Totals", confidential and copyright lines below it), Zoho CRM's
Leads export ("Lead Owner" and "Lead Owner.id", zcrm_ ids, "Designation", "Tag") and Autotask's
contact export in import template format ("Organization Name", "Email Address", "Zip Code"...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leadsync.agent.daemon import Agent
from leadsync.common.rpc import RpcClient
from tests.importing.conftest import contact, fields_of, problems, run_import, write

HUBSPOT = (
    '"Record ID","First Name","Last Name","Email","Phone Number","Mobile Phone Number","Contact owner",'
    '"Lifecycle Stage","Lead Status","Create Date","Company Name","Job Title","HubSpot Score",'
    '"Associated Company IDs","Marketing contact status","Street Address","City","Postal Code","Country/Region"\n'
    '"51","Ada","Lovelace","ada@example.org","+44 20 7946 0958","","Alice Admin","Marketing Qualified Lead","NEW",'
    '"2024-03-05 14:22","Analytical Engines","Countess","85","9001;9002","Marketing contact","12 Harbour Rd",'
    '"London","N1 9GU","United Kingdom"\n'
    '"52","Alan","Turing","alan@example.org","","","Departed Dan","Lead","","2024-03-06 09:00","Bletchley","",'
    '"","","Non-marketing contact","","","",""\n'
    '"53","Grace","Hopper","grace@example.org","","","Nora Nouser","Customer","","yesterday","Navy","","12.5",'
    '"","","","","",""\n'
    '"54","Edsger","Dijkstra","edsger@example.org","","","","Lead","","","","","","","","","","",""\n'
    '"55","Barbara","Liskov","barbara@example.org","","","Nora Nouser","Lead","","","","","","","","","","",""\n'
)


async def test_hubspot_contact_export(agent: Agent, client: RpcClient, team: dict[str, int], tmp_path: Path) -> None:
    await client.call("settings.update", {"time_zone": "Europe/Berlin"})
    answer = await run_import(agent, write(tmp_path / "hubspot-crm-exports-all-contacts.csv", HUBSPOT, "utf-8-sig"))
    assert answer["file"]["encoding"] == "utf-8-sig" and answer["file"]["delimiter"] == ","
    assert fields_of(answer) == {
        "Record ID": "record_id", "First Name": "first_name", "Last Name": "last_name", "Email": "email",
        "Phone Number": "phone", "Mobile Phone Number": "mobile_phone", "Contact owner": "owner",
        "Lifecycle Stage": "lifecycle_stage", "Lead Status": "lead_status", "Create Date": "create_date",
        "Company Name": "company", "Job Title": "job_title", "HubSpot Score": "lead_score",
        "Associated Company IDs": "associated_company_ids", "Marketing contact status": "marketing_contact_status",
        "Street Address": "street", "City": "city", "Postal Code": "zip", "Country/Region": "country"}
    assert (answer["created"], answer["rows"], answer["time_zone"]) == (4, 5, "Europe/Berlin")
    # refused: a fractional score; the other rows went in
    assert [(f["line"], f["column"], f["value"]) for f in answer["failed"]] == [(4, "HubSpot Score", "12.5")]
    assert "lead_score: '12.5' is not a whole number" in answer["failed"][0]["reason"]
    # line 4 failed as a whole: its unreadable date and unmatched owner are not warned about as well
    assert problems(answer) == {(3, "Contact owner", "owner_inactive"), (6, "Contact owner", "owner_no_user")}

    ada = await contact(client, "ada@example.org")
    assert {k: ada[k] for k in ("first_name", "last_name", "phone", "company", "job_title", "lifecycle_stage",
                                "lead_score", "created_by", "owner_id")} == {
        "first_name": "Ada", "last_name": "Lovelace", "phone": "+44 20 7946 0958", "company": "Analytical Engines",
        "job_title": "Countess", "lifecycle_stage": "marketingqualifiedlead", "lead_score": 85,
        "created_by": team["alice@corp.com"], "owner_id": "1001"}
    assert ada["fields"] == {"record_id": "51", "lead_status": "NEW", "create_date": "2024-03-05T13:22:00Z",
                             "associated_company_ids": ["9001", "9002"],
                             "marketing_contact_status": "Marketing contact",
                             "street": "12 Harbour Rd", "city": "London", "zip": "N1 9GU", "country": "United Kingdom"}
    alan = await contact(client, "alan@example.org")  # deactivated owner: the importing user owns it
    assert (alan["created_by"], alan["owner_id"]) == (team["importer@corp.com"], None)
    assert alan["fields"]["create_date"] == "2024-03-06T08:00:00Z"
    edsger = await contact(client, "edsger@example.org")  # no owner named: the importing user
    assert edsger["created_by"] == team["importer@corp.com"] and edsger["fields"] == {"record_id": "54"}
    barbara = await contact(client, "barbara@example.org")  # a CRM owner without a leadsync user
    assert (barbara["created_by"], barbara["owner_id"]) == (team["importer@corp.com"], None)


SALESFORCE_REPORT = (
    '"Leads by Source"\n'
    '"Filtered By:"\n'
    '"  Lead Status equals Open - Not Contacted"\n'
    '\n'
    '"Lead Owner","First Name","Last Name","Title","Company / Account","Email","Phone","Lead Source","Lead Status",'
    '"Create Date","Lead ID","Owner ID"\n'
    '"Carol Sales","Marie","Curie","Physicist","Radium Institute","marie@example.org","4.41E+11","Web",'
    '"Open - Not Contacted","3/5/2024","00Q5g00000AbCdE","0055g00000XyZaB"\n'
    '"Sales Queue","Pierre","Curie","","Radium Institute","pierre@example.org","(555) 010-0199","Trade Show",'
    '"Open - Not Contacted","3/15/2024","00Q5g00000AbCdF","00G5g000001QqQq"\n'
    '\n'
    '"Grand Totals (2 records)"\n'
    '\n'
    '"Confidential Information - Do Not Distribute"\n'
    '"Copyright (c) 2000-2024 salesforce.com, inc. All rights reserved."\n'
)


async def test_salesforce_report_with_title_and_footer(agent: Agent, client: RpcClient, team: dict[str, int],
                                                       tmp_path: Path) -> None:
    answer = await run_import(agent, write(tmp_path / "report1709650930123.csv", SALESFORCE_REPORT))
    assert answer["file"]["header_line"] == 5
    assert (answer["rows"], answer["created"], answer["failed"]) == (2, 2, [])
    assert {(p["line"], p["kind"]) for p in answer["skipped_lines"]} == {
        (1, "title"), (2, "title"), (3, "title"), (9, "footer"), (11, "footer"), (12, "footer")}
    assert answer["skipped"] == 6  # skipped, not failed
    assert answer["date_orders"] == {"Create Date": "MDY"}  # 3/15/2024 proves month-first
    assert problems(answer) == {(6, "Phone", "scientific_notation"), (7, "Owner ID", "owner_queue")}
    assert fields_of(answer)["Company / Account"] == "company" and fields_of(answer)["Title"] == "job_title"

    marie = await contact(client, "marie@example.org")
    assert (marie["created_by"], marie["owner_id"]) == (team["carol@corp.com"], "0055g00000XyZaBAAX")
    assert (marie["phone"], marie["job_title"], marie["company"]) == ("4.41E+11", "Physicist", "Radium Institute")
    assert marie["fields"] == {"lead_source": "Web", "lead_status": "Open - Not Contacted", "create_date": "2024-03-05",
                               "lead_id": "00Q5g00000AbCdE"}
    pierre = await contact(client, "pierre@example.org")  # a queue owns it in Salesforce: the importing user here
    assert pierre["created_by"] == team["importer@corp.com"] and pierre["fields"]["create_date"] == "2024-03-15"


ZOHO = (
    "Record Id,Lead Owner,Lead Owner.id,Company,First Name,Last Name,Designation,Email,Phone,Mobile,Lead Source,"
    "Lead Status,Created Time,Tag,Street,City,Zip Code,Country,Lead Score\n"
    "zcrm_4876876000000123001,Dana Zoho,zcrm_4876876000000098001,Acme GmbH,Klaus,Berg,CTO,klaus@example.de,"
    '+49 30 1234567,,Advertisement,Contacted,2024-03-05 14:22:10,"vip,trade show",Unter den Linden 1,Berlin,10117,'
    "Germany,42\n"
    "zcrm_4876876000000123002,Somebody Else,zcrm_999,Beta AG,Lena,Ost,,lena@example.de,,+49 170 1234567,Web,,"
    "2024-03-06 08:00:00,,,,,,\n"
)


async def test_zoho_leads_export(agent: Agent, client: RpcClient, team: dict[str, int], tmp_path: Path) -> None:
    answer = await run_import(agent, write(tmp_path / "Leads_2024_03_07.csv", ZOHO))
    assert (answer["created"], answer["failed"]) == (2, [])
    assert fields_of(answer)["Lead Owner.id"] == "owner" and fields_of(answer)["Designation"] == "job_title"
    assert problems(answer) == {(3, "Lead Owner", "owner_unmatched")}
    klaus = await contact(client, "klaus@example.de")
    assert (klaus["created_by"], klaus["owner_id"], klaus["job_title"], klaus["lead_score"]) == (
        team["dana@corp.com"], "4876876000000098001", "CTO", 42)
    assert klaus["fields"] == {"record_id": "zcrm_4876876000000123001", "lead_source": "Advertisement",
                               "lead_status": "Contacted", "created_time": "2024-03-05T14:22:10Z",
                               "tags": ["vip", "trade show"], "street": "Unter den Linden 1", "city": "Berlin",
                               "zip": "10117", "country": "Germany"}
    lena = await contact(client, "lena@example.de")
    assert lena["created_by"] == team["importer@corp.com"] and lena["fields"]["mobile_phone"] == "+49 170 1234567"


AUTOTASK = (
    "Organization ID,Organization Name,Contact ID,External ID,Prefix,First Name,Middle Initial,Last Name,Suffix,"
    "Title,Address 1,Address 2,City,State,Zip Code,Country,Phone,Extension,Mobile Phone,Fax,Email Address,Active,"
    "Primary Contact\n"
    "174,ACME Inc,30682901,,Mr.,John,Q,Public,,IT Manager,1 Main St,,Boston,MA,2110,United States,617-555-0100,12,"
    ",,john@example.com,Yes,No\n"
    "175,Bergbau AG,30682902,,,Eva,,Graf,,,Hauptplatz 1,,Graz,,8010,Austria,,,,,eva@example.at,Yes,Yes\n"
)


async def test_autotask_contact_export(agent: Agent, client: RpcClient, importer: dict[str, Any],
                                       tmp_path: Path) -> None:
    answer = await run_import(agent, write(tmp_path / "ContactExport.csv", AUTOTASK))
    assert (answer["created"], answer["failed"]) == (2, [])
    assert {f: fields_of(answer)[f] for f in ("Organization Name", "Email Address", "Title", "Address 1",
                                              "Zip Code", "Mobile Phone")} == {
        "Organization Name": "company", "Email Address": "email", "Title": "job_title", "Address 1": "street",
        "Zip Code": "zip", "Mobile Phone": "mobile_phone"}
    # Boston's 02110 lost its zero in Excel; Graz's 8010 is a 4-digit Austrian code, rightly
    assert problems(answer) == {(2, "Zip Code", "lost_leading_zero")}
    john = await contact(client, "john@example.com")
    assert (john["first_name"], john["last_name"], john["company"], john["job_title"], john["phone"]) == (
        "John", "Public", "ACME Inc", "IT Manager", "617-555-0100")
    assert john["fields"] == {"organization_id": "174", "contact_id": "30682901", "prefix": "Mr.",
                              "middle_initial": "Q", "street": "1 Main St", "city": "Boston", "state": "MA",
                              "zip": "2110", "country": "United States", "extension": "12", "active": "Yes",
                              "primary_contact": "No"}
