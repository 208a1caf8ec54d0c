"""The sandbox's modules and their fields, in the shape of ``GET /crm/v8/settings/fields?module=``.

Leads and Contacts carry Zoho's standard fields the sandbox stores (``Last_Name`` mandatory on both;
``Company``, ``Designation`` and ``Lead_Status`` only on Leads; ``Title`` and ``Account_Name`` only on
Contacts) plus the custom number field ``Lead_Score`` on both. ``Owner``, ``Created_Time`` and
``Modified_Time`` are system fields (the latter two read-only).
"""

from __future__ import annotations

from typing import Any, Final

LEAD_STATUSES: Final = ("Not Contacted", "Attempted to Contact", "Contact in Future", "Contacted", "Junk Lead",
                        "Lost Lead", "Pre-Qualified", "Not Qualified")
LEAD_SOURCES: Final = ("Advertisement", "Cold Call", "Employee Referral", "External Referral", "Online Store",
                       "Partner", "Public Relations", "Seminar Partner", "Trade Show", "Web Download", "Web Research",
                       "Chat")
MODULES: Final = ("Leads", "Contacts")
MODULE_IDS: Final = {"Leads": "4876876000000002175", "Contacts": "4876876000000002179"}
"""Each module's id (``GET /settings/modules``; named in a ``DUPLICATE_DATA`` answer's ``duplicate_record``)."""

_NUMBER = 4_876_876_000_000_100_000


def _field(api_name: str, label: str, data_type: str, *, mandatory: bool = False, read_only: bool = False,
           unique: bool = False, picklist: tuple[str, ...] = (), length: int = 120,
           custom: bool = False) -> dict[str, Any]:
    global _NUMBER
    _NUMBER += 1
    return {
        "api_name": api_name, "field_label": label, "display_label": label, "data_type": data_type,
        "json_type": {"boolean": "boolean", "integer": "integer", "bigint": "string", "double": "double",
                      "ownerlookup": "jsonobject", "lookup": "jsonobject", "multiselectpicklist": "jsonarray"}
        .get(data_type, "string"),
        "id": str(_NUMBER), "system_mandatory": mandatory, "read_only": read_only, "field_read_only": read_only,
        "custom_field": custom, "length": length, "visible": True,
        "unique": {"casesensitive": "false"} if unique else {},
        "pick_list_values": [{"display_value": v, "actual_value": v, "type": "used", "id": str(_NUMBER * 10 + n)}
                             for n, v in enumerate(("-None-", *picklist) if picklist else ())],
    }


def _common() -> list[dict[str, Any]]:
    return [
        _field("Owner", "Lead Owner", "ownerlookup"),
        _field("First_Name", "First Name", "text", length=40),
        _field("Last_Name", "Last Name", "text", mandatory=True, length=80),
        _field("Email", "Email", "email", length=100),
        _field("Phone", "Phone", "phone", length=30),
        _field("Mobile", "Mobile", "phone", length=30),
        _field("Lead_Source", "Lead Source", "picklist", picklist=LEAD_SOURCES),
        _field("Email_Opt_Out", "Email Opt Out", "boolean"),
        _field("Description", "Description", "textarea", length=32000),
        _field("Lead_Score", "Lead Score", "integer", length=9, custom=True),
        _field("Created_Time", "Created Time", "datetime", read_only=True),
        _field("Modified_Time", "Modified Time", "datetime", read_only=True),
    ]


FIELDS: Final[dict[str, list[dict[str, Any]]]] = {
    "Leads": [
        *_common(),
        _field("Company", "Company", "text", length=200),
        _field("Designation", "Title", "text", length=100),
        _field("Lead_Status", "Lead Status", "picklist", picklist=LEAD_STATUSES),
        _field("Website", "Website", "website", length=255),
        _field("No_of_Employees", "No. of Employees", "integer"),
        _field("Annual_Revenue", "Annual Revenue", "currency"),
    ],
    "Contacts": [
        *_common(),
        _field("Title", "Title", "text", length=100),
        _field("Department", "Department", "text", length=30),
        _field("Account_Name", "Account Name", "lookup"),
        _field("Date_of_Birth", "Date of Birth", "date"),
    ],
}
"""``module -> fields[]`` as the fields-metadata answer lists them."""


def field_map(module: str) -> dict[str, dict[str, Any]]:
    """The module's fields keyed by ``api_name``."""
    return {f["api_name"]: f for f in FIELDS[module]}
