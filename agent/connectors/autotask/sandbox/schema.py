"""The fields the sandbox knows, as ``GET /V1.0/{Entity}/entityInformation/fields`` describes them.

Each entry has the documented keys of that answer ("The entityInformation REST API call"): ``name``,
``dataType``, ``length``, ``isRequired``, ``isReadOnly``, ``isQueryable``, ``isReference``,
``referenceEntityType``, ``isPickList``, ``picklistValues`` (``{value, label, isDefaultValue, sortOrder,
parentValue, isActive, isSystem}``), ``picklistParentValueField``, ``isSupportedWebhookField``.
"""

from __future__ import annotations

from typing import Any, Final


def _field(name: str, data_type: str, length: int = 0, *, required: bool = False, read_only: bool = False,
           reference: str = "", picklist: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    return {
        "name": name, "dataType": data_type, "length": length, "isRequired": required, "isReadOnly": read_only,
        "isQueryable": True, "isReference": bool(reference), "referenceEntityType": reference,
        "isPickList": bool(picklist),
        "picklistValues": [{"value": value, "label": label, "isDefaultValue": False, "sortOrder": n,
                            "parentValue": "", "isActive": True, "isSystem": True}
                           for n, (value, label) in enumerate(picklist)] if picklist else None,
        "picklistParentValueField": "", "isSupportedWebhookField": not read_only,
    }


NAME_PREFIXES: Final = (("1", "Mr."), ("2", "Mrs."), ("3", "Ms."), ("4", "Dr."))
COMPANY_TYPES: Final = (("1", "Customer"), ("2", "Lead"), ("3", "Prospect"), ("4", "Dead"), ("6", "Cancellation"),
                        ("7", "Vendor"), ("8", "Partner"))

CONTACT_FIELDS: Final = (
    _field("id", "long", read_only=True),
    _field("companyID", "integer", required=True, reference="Company"),
    _field("companyLocationID", "integer", reference="CompanyLocation"),
    _field("firstName", "string", 50, required=True),
    _field("lastName", "string", 50, required=True),
    _field("middleInitial", "string", 2),
    _field("namePrefix", "integer", picklist=NAME_PREFIXES),
    _field("title", "string", 50),
    _field("emailAddress", "string", 254),
    _field("emailAddress2", "string", 254),
    _field("emailAddress3", "string", 254),
    _field("phone", "string", 25),
    _field("extension", "string", 10),
    _field("mobilePhone", "string", 25),
    _field("alternatePhone", "string", 25),
    _field("faxNumber", "string", 25),
    _field("addressLine", "string", 128),
    _field("city", "string", 32),
    _field("state", "string", 40),
    _field("zipCode", "string", 16),
    _field("countryID", "integer", reference="Country"),
    _field("isActive", "integer", required=True),
    _field("primaryContact", "boolean"),
    _field("externalID", "string", 50),
    _field("createDate", "datetime", read_only=True),
    _field("lastActivityDate", "datetime", read_only=True),
    _field("lastModifiedDate", "datetime", read_only=True),
)

COMPANY_FIELDS: Final = (
    _field("id", "long", read_only=True),
    _field("companyName", "string", 100, required=True),
    _field("companyType", "integer", required=True, picklist=COMPANY_TYPES),
    _field("ownerResourceID", "integer", required=True, reference="Resource"),
    _field("phone", "string", 25, required=True),
    _field("webAddress", "string", 255),
    _field("city", "string", 30),
    _field("isActive", "boolean"),
    _field("createDate", "datetime", read_only=True),
    _field("lastActivityDate", "datetime", read_only=True),
)

RESOURCE_FIELDS: Final = (
    _field("id", "long", read_only=True),
    _field("userName", "string", 32, required=True),
    _field("email", "string", 254, required=True),
    _field("firstName", "string", 50, required=True),
    _field("lastName", "string", 50, required=True),
    _field("title", "string", 50),
    _field("isActive", "boolean", required=True),
)

FIELDS: Final = {"Contacts": CONTACT_FIELDS, "Companies": COMPANY_FIELDS, "Resources": RESOURCE_FIELDS}
"""Field definitions by entity name (the URL's spelling)."""


def field_map(entity: str) -> dict[str, dict[str, Any]]:
    """An entity's fields keyed by lower-cased name (Autotask reads field names without regard to case)."""
    return {f["name"].lower(): f for f in FIELDS[entity]}
