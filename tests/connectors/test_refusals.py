"""Refusals read as sentences (issue 18): one helper builds them for every connector from the CRM's name, the
fields it blamed and its message; the raw answer kept as ``detail`` never carries a secret."""

from __future__ import annotations

import pytest

from leadsync.agent.connectors.hubspot.errors import item_error_reason
from leadsync.agent.connectors.refusals import MAX_DETAIL_TEXT, raw_detail, refusal_reason
from leadsync.agent.connectors.salesforce.errors import record_error_reason
from leadsync.agent.connectors.zoho.errors import result_reason
from leadsync.common.errors import CrmError


@pytest.mark.parametrize(("crm", "message", "fields", "sentence"), [
    ("HubSpot", "Not a valid phone number.", ["phone"], "HubSpot refused the phone: not a valid phone number"),
    ("Salesforce", "Title: data value too large: x (max length=128)", ["Title"],
     "Salesforce refused the Title: data value too large: x (max length=128)"),
    ("Zoho CRM", "Zoho 400 INVALID_DATA: invalid data", [], "Zoho CRM refused the record: invalid data"),
    ("Autotask", "Autotask 500: The email address 'x' is not valid.", [],
     "Autotask refused the record: the email address 'x' is not valid"),
    ("HubSpot", "  ", ["email", "phone", "email"], "HubSpot refused the email and phone: no reason given"),
    ("HubSpot", "VALIDATION failed", ["a", "b", "c"], "HubSpot refused the a, b and c: VALIDATION failed"),
])
def test_a_refusal_reads_as_one_sentence(crm: str, message: str, fields: list[str], sentence: str) -> None:
    assert refusal_reason(crm, message, fields) == sentence


def test_each_crm_s_refusal_names_the_fields_it_blamed() -> None:
    hubspot = {"status": "error", "category": "VALIDATION_ERROR", "message": "Property values were not valid: [..]",
               "errors": [{"message": "Email address not-an-email is invalid", "code": "INVALID_EMAIL",
                           "context": {"propertyName": ["email"]}}]}
    assert item_error_reason(hubspot) == ("HubSpot refused the email: email address not-an-email is invalid",
                                          "VALIDATION_ERROR")
    salesforce = [{"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [Company]",
                   "fields": ["Company"]}]
    assert record_error_reason(salesforce) == ("Salesforce refused the Company: required fields are missing: "
                                               "[Company]", "REQUIRED_FIELD_MISSING")
    zoho = {"code": "INVALID_DATA", "message": "invalid data", "status": "error",
            "details": {"api_name": "Email", "expected_data_type": "email"}}
    assert result_reason(zoho) == ("Zoho CRM refused the Email: invalid data (expected: email)", "INVALID_DATA")


def test_the_raw_detail_masks_secrets_and_cuts_long_text() -> None:
    answer = {"errors": [{"message": "bad", "context": {"access_token": "pat-123", "Authorization": "Bearer x"}}],
              "echo": "y" * (MAX_DETAIL_TEXT + 10), "refresh_token": "r", "n": 3, "ok": False}
    detail = raw_detail(answer)
    assert detail["errors"][0]["context"] == {"access_token": "<redacted>", "Authorization": "<redacted>"}
    assert detail["refresh_token"] == "<redacted>" and detail["n"] == 3 and detail["ok"] is False
    assert len(detail["echo"]) == MAX_DETAIL_TEXT + 1 and "pat-123" not in str(detail)
    assert raw_detail(CrmError("x", crm="hubspot")) == "x"  # anything else as its text
