"""The sObjects the sandbox knows (Lead, Contact, User, Profile, UserRole) and their describe answers.

Fields follow the standard objects' fields ("Object Reference for the Salesforce Platform": Lead,
Contact, User) with two custom fields on Lead and Contact (``Lead_Score__c``, a double, and
``Interests__c``, a multipicklist). A field's describe entry (``GET /sobjects/{Object}/describe``,
``fields[]``) carries ``name``, ``label``, ``type``, ``length``, ``nillable``, ``createable``,
``updateable``, ``defaultedOnCreate``, ``picklistValues``, ``referenceTo``, ``relationshipName`` and the
other keys real answers have. A field is required on create when it is not nillable, createable and
not defaulted on create: ``LastName`` and ``Company`` on Lead, ``LastName`` on Contact (case S13).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .ids import CONTACT_PREFIX, LEAD_PREFIX, PROFILE_PREFIX, ROLE_PREFIX, USER_PREFIX

STRING_TYPES: Final = frozenset({"id", "string", "email", "phone", "url", "textarea", "picklist",
                                 "multipicklist", "reference", "combobox"})
NUMBER_TYPES: Final = frozenset({"double", "currency", "percent", "int"})
_SOAP: Final = {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "double": "xsd:double",
                "currency": "xsd:double", "percent": "xsd:double", "int": "xsd:int", "date": "xsd:date",
                "datetime": "xsd:dateTime"}


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One field. ``picklist`` holds the values (the first ``default`` one is the default when
    ``defaulted_on_create``); ``restricted`` refuses other values; ``reference_to`` names the target
    objects of a reference and ``relationship_name`` the path used in SOQL (``Owner.Email``)."""

    name: str
    label: str
    type: str
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False
    unique: bool = False
    custom: bool = False
    calculated: bool = False
    picklist: tuple[str, ...] = ()
    default: str | None = None
    restricted: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    precision: int = 0
    scale: int = 0

    @property
    def required(self) -> bool:
        """Refused on create when missing: not nillable, createable, not defaulted on create."""
        return not self.nillable and self.createable and not self.defaulted_on_create

    def describe(self) -> dict[str, Any]:
        """The field's ``fields[]`` entry in a describe answer."""
        digits = 9 if self.type == "int" else 0
        return {
            "aggregatable": self.type not in ("textarea", "multipicklist"),
            "autoNumber": False,
            "byteLength": self.length * 3,
            "calculated": self.calculated,
            "calculatedFormula": None,
            "caseSensitive": self.type == "id",
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": (self.default == "true") if self.type == "boolean" and self.default else None,
            "defaultedOnCreate": self.defaulted_on_create,
            "dependentPicklist": False,
            "digits": digits,
            "externalId": False,
            "filterable": self.type != "textarea" or self.length <= 255,
            "groupable": self.type not in ("textarea", "multipicklist", "double", "currency", "percent", "datetime"),
            "htmlFormatted": False,
            "idLookup": self.name in ("Id", "Email", "Username"),
            "label": self.label,
            "length": self.length,
            "name": self.name,
            "nameField": self.name == "Name",
            "namePointing": self.name == "OwnerId" and len(self.reference_to) > 1,
            "nillable": self.nillable,
            "permissionable": self.nillable and not self.calculated and self.createable,
            "picklistValues": [
                {"active": True, "defaultValue": value == self.default, "label": value, "validFor": None,
                 "value": value}
                for value in self.picklist
            ],
            "polymorphicForeignKey": len(self.reference_to) > 1,
            "precision": self.precision,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "restrictedPicklist": self.restricted,
            "scale": self.scale,
            "soapType": _SOAP.get(self.type, "xsd:string"),
            "sortable": self.type not in ("textarea", "multipicklist"),
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
        }


@dataclass(frozen=True, slots=True)
class ObjectDef:
    """One sObject: name, labels, key prefix, fields, and whether the API may write it."""

    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: tuple[FieldDef, ...]
    writable: bool = False
    by_lower: dict[str, FieldDef] = field(default_factory=dict, compare=False)
    relationships: dict[str, FieldDef] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.by_lower.update({f.name.lower(): f for f in self.fields})
        self.relationships.update({f.relationship_name.lower(): f for f in self.fields if f.relationship_name})

    def field(self, name: str) -> FieldDef | None:
        """The field named ``name`` (any case), or None."""
        return self.by_lower.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field whose relationship is ``name`` (``Owner`` -> ``OwnerId``), or None."""
        return self.relationships.get(name.lower())

    def describe(self, version: str) -> dict[str, Any]:
        """The ``GET /sobjects/{name}/describe`` answer (the commonly read keys)."""
        base = f"/services/data/{version}/sobjects/{self.name}"
        return {
            "actionOverrides": [],
            "activateable": False,
            "childRelationships": [],
            "compactLayoutable": True,
            "createable": self.writable,
            "custom": False,
            "customSetting": False,
            "deletable": self.writable,
            "deprecatedAndHidden": False,
            "feedEnabled": True,
            "fields": [f.describe() for f in self.fields],
            "keyPrefix": self.key_prefix,
            "label": self.label,
            "labelPlural": self.label_plural,
            "layoutable": True,
            "mergeable": self.name in ("Lead", "Contact"),
            "name": self.name,
            "queryable": True,
            "recordTypeInfos": [],
            "replicateable": True,
            "retrieveable": True,
            "searchable": True,
            "triggerable": True,
            "undeletable": self.writable,
            "updateable": self.writable,
            "urls": {"compactLayouts": f"{base}/describe/compactLayouts", "rowTemplate": f"{base}/{{ID}}",
                     "describe": f"{base}/describe", "sobject": base},
        }

    def summary(self, version: str) -> dict[str, Any]:
        """The object's entry in the global describe (``GET /sobjects``)."""
        base = f"/services/data/{version}/sobjects/{self.name}"
        return {"name": self.name, "label": self.label, "labelPlural": self.label_plural,
                "keyPrefix": self.key_prefix, "createable": self.writable, "updateable": self.writable,
                "deletable": self.writable, "queryable": True, "retrieveable": True, "custom": False,
                "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}}


def _system(object_name: str) -> list[FieldDef]:
    def ro(name: str, label: str, type_: str, **kw: Any) -> FieldDef:
        return FieldDef(name, label, type_, createable=False, updateable=False, **kw)

    return [
        ro("Id", f"{object_name} ID", "id", length=18, nillable=False, defaulted_on_create=True),
        ro("IsDeleted", "Deleted", "boolean", nillable=False, defaulted_on_create=True, default="false"),
        ro("MasterRecordId", "Master Record ID", "reference", length=18, reference_to=(object_name,),
           relationship_name="MasterRecord"),
    ]


def _audit() -> list[FieldDef]:
    def ro(name: str, label: str, type_: str, **kw: Any) -> FieldDef:
        return FieldDef(name, label, type_, createable=False, updateable=False, nillable=False,
                        defaulted_on_create=True, **kw)

    return [
        ro("CreatedDate", "Created Date", "datetime"),
        ro("CreatedById", "Created By ID", "reference", length=18, reference_to=("User",),
           relationship_name="CreatedBy"),
        ro("LastModifiedDate", "Last Modified Date", "datetime"),
        ro("LastModifiedById", "Last Modified By ID", "reference", length=18, reference_to=("User",),
           relationship_name="LastModifiedBy"),
        ro("SystemModstamp", "System Modstamp", "datetime"),
        FieldDef("LastActivityDate", "Last Activity", "date", createable=False, updateable=False),
    ]


SALUTATIONS: Final = ("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")
LEAD_SOURCES: Final = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
LEAD_STATUSES: Final = ("Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted")
INDUSTRIES: Final = ("Agriculture", "Banking", "Communications", "Consulting", "Education", "Energy", "Finance",
                     "Healthcare", "Manufacturing", "Media", "Retail", "Technology", "Other")
RATINGS: Final = ("Hot", "Warm", "Cold")
INTERESTS: Final = ("Product A", "Product B", "Webinars", "Newsletter", "Events")


def _custom() -> list[FieldDef]:
    return [
        FieldDef("Lead_Score__c", "Lead Score", "double", custom=True, precision=5, scale=2),
        FieldDef("Interests__c", "Interests", "multipicklist", length=4099, custom=True, picklist=INTERESTS,
                 restricted=True),
    ]


def _owner(targets: tuple[str, ...]) -> FieldDef:
    return FieldDef("OwnerId", "Owner ID", "reference", length=18, nillable=False, defaulted_on_create=True,
                    reference_to=targets, relationship_name="Owner")


LEAD: Final = ObjectDef("Lead", "Lead", "Leads", LEAD_PREFIX, writable=True, fields=(
    *_system("Lead"),
    FieldDef("LastName", "Last Name", "string", length=80, nillable=False),
    FieldDef("FirstName", "First Name", "string", length=40),
    FieldDef("Salutation", "Salutation", "picklist", length=40, picklist=SALUTATIONS),
    FieldDef("Name", "Full Name", "string", length=121, nillable=False, createable=False, updateable=False),
    FieldDef("Title", "Title", "string", length=128),
    FieldDef("Company", "Company", "string", length=255, nillable=False),
    FieldDef("Street", "Street", "textarea", length=255),
    FieldDef("City", "City", "string", length=40),
    FieldDef("State", "State/Province", "string", length=80),
    FieldDef("PostalCode", "Zip/Postal Code", "string", length=20),
    FieldDef("Country", "Country", "string", length=80),
    FieldDef("Phone", "Phone", "phone", length=40),
    FieldDef("MobilePhone", "Mobile Phone", "phone", length=40),
    FieldDef("Email", "Email", "email", length=80),
    FieldDef("Website", "Website", "url", length=255),
    FieldDef("Description", "Description", "textarea", length=32000),
    FieldDef("LeadSource", "Lead Source", "picklist", length=255, picklist=LEAD_SOURCES),
    FieldDef("Status", "Status", "picklist", length=255, nillable=False, defaulted_on_create=True,
             picklist=LEAD_STATUSES, default=LEAD_STATUSES[0], restricted=True),
    FieldDef("Industry", "Industry", "picklist", length=255, picklist=INDUSTRIES),
    FieldDef("Rating", "Rating", "picklist", length=255, picklist=RATINGS),
    FieldDef("AnnualRevenue", "Annual Revenue", "currency", precision=18, scale=0),
    FieldDef("NumberOfEmployees", "Employees", "int"),
    _owner(("Group", "User")),
    FieldDef("HasOptedOutOfEmail", "Email Opt Out", "boolean", nillable=False, defaulted_on_create=True,
             default="false"),
    FieldDef("IsConverted", "Converted", "boolean", nillable=False, createable=False, updateable=False,
             defaulted_on_create=True, default="false"),
    FieldDef("ConvertedDate", "Converted Date", "date", createable=False, updateable=False),
    FieldDef("ConvertedAccountId", "Converted Account ID", "reference", length=18, createable=False,
             updateable=False, reference_to=("Account",), relationship_name="ConvertedAccount"),
    FieldDef("ConvertedContactId", "Converted Contact ID", "reference", length=18, createable=False,
             updateable=False, reference_to=("Contact",), relationship_name="ConvertedContact"),
    FieldDef("ConvertedOpportunityId", "Converted Opportunity ID", "reference", length=18, createable=False,
             updateable=False, reference_to=("Opportunity",), relationship_name="ConvertedOpportunity"),
    FieldDef("IsUnreadByOwner", "Unread By Owner", "boolean", nillable=False, defaulted_on_create=True,
             default="true"),
    *_audit(),
    *_custom(),
))

CONTACT: Final = ObjectDef("Contact", "Contact", "Contacts", CONTACT_PREFIX, writable=True, fields=(
    *_system("Contact"),
    FieldDef("AccountId", "Account ID", "reference", length=18, reference_to=("Account",), relationship_name="Account"),
    FieldDef("LastName", "Last Name", "string", length=80, nillable=False),
    FieldDef("FirstName", "First Name", "string", length=40),
    FieldDef("Salutation", "Salutation", "picklist", length=40, picklist=SALUTATIONS),
    FieldDef("Name", "Full Name", "string", length=121, nillable=False, createable=False, updateable=False),
    FieldDef("MailingStreet", "Mailing Street", "textarea", length=255),
    FieldDef("MailingCity", "Mailing City", "string", length=40),
    FieldDef("MailingState", "Mailing State/Province", "string", length=80),
    FieldDef("MailingPostalCode", "Mailing Zip/Postal Code", "string", length=20),
    FieldDef("MailingCountry", "Mailing Country", "string", length=80),
    FieldDef("Phone", "Business Phone", "phone", length=40),
    FieldDef("MobilePhone", "Mobile Phone", "phone", length=40),
    FieldDef("Email", "Email", "email", length=80),
    FieldDef("Title", "Title", "string", length=128),
    FieldDef("Department", "Department", "string", length=80),
    FieldDef("LeadSource", "Lead Source", "picklist", length=255, picklist=LEAD_SOURCES),
    FieldDef("Birthdate", "Birthdate", "date"),
    FieldDef("Description", "Contact Description", "textarea", length=32000),
    _owner(("User",)),
    FieldDef("HasOptedOutOfEmail", "Email Opt Out", "boolean", nillable=False, defaulted_on_create=True,
             default="false"),
    FieldDef("DoNotCall", "Do Not Call", "boolean", nillable=False, defaulted_on_create=True, default="false"),
    *_audit(),
    *_custom(),
))

USER: Final = ObjectDef("User", "User", "Users", USER_PREFIX, fields=(
    FieldDef("Id", "User ID", "id", length=18, nillable=False, createable=False, updateable=False),
    FieldDef("Username", "Username", "string", length=80, nillable=False, unique=True),
    FieldDef("LastName", "Last Name", "string", length=80, nillable=False),
    FieldDef("FirstName", "First Name", "string", length=40),
    FieldDef("Name", "Full Name", "string", length=121, nillable=False, createable=False, updateable=False),
    FieldDef("Email", "Email", "email", length=128, nillable=False),
    FieldDef("Title", "Title", "string", length=80),
    FieldDef("Department", "Department", "string", length=80),
    FieldDef("IsActive", "Active", "boolean", nillable=False, defaulted_on_create=True, default="true"),
    FieldDef("UserRoleId", "Role ID", "reference", length=18, reference_to=("UserRole",), relationship_name="UserRole"),
    FieldDef("ProfileId", "Profile ID", "reference", length=18, nillable=False, reference_to=("Profile",),
             relationship_name="Profile"),
    FieldDef("UserType", "User Type", "picklist", length=40, createable=False, updateable=False,
             picklist=("Standard", "PowerPartner", "CsnOnly", "Guest")),
    FieldDef("TimeZoneSidKey", "Time Zone", "picklist", length=40, nillable=False,
             picklist=("America/Los_Angeles", "America/New_York", "Europe/London", "Asia/Kolkata")),
    FieldDef("CreatedDate", "Created Date", "datetime", createable=False, updateable=False, nillable=False),
    FieldDef("LastModifiedDate", "Last Modified Date", "datetime", createable=False, updateable=False,
             nillable=False),
    FieldDef("SystemModstamp", "System Modstamp", "datetime", createable=False, updateable=False, nillable=False),
))

PROFILE: Final = ObjectDef("Profile", "Profile", "Profile", PROFILE_PREFIX, fields=(
    FieldDef("Id", "Profile ID", "id", length=18, nillable=False, createable=False, updateable=False),
    FieldDef("Name", "Name", "string", length=255, nillable=False),
    FieldDef("PermissionsModifyAllData", "Modify All Data", "boolean", nillable=False, default="false"),
    FieldDef("PermissionsViewAllData", "View All Data", "boolean", nillable=False, default="false"),
    FieldDef("UserType", "User Type", "picklist", length=40, picklist=("Standard", "PowerPartner", "Guest")),
    FieldDef("SystemModstamp", "System Modstamp", "datetime", createable=False, updateable=False, nillable=False),
))

USER_ROLE: Final = ObjectDef("UserRole", "Role", "Roles", ROLE_PREFIX, fields=(
    FieldDef("Id", "Role ID", "id", length=18, nillable=False, createable=False, updateable=False),
    FieldDef("Name", "Name", "string", length=80, nillable=False),
    FieldDef("DeveloperName", "Developer Name", "string", length=80, nillable=False),
    FieldDef("ParentRoleId", "Parent Role ID", "reference", length=18, reference_to=("UserRole",),
             relationship_name="ParentRole"),
    FieldDef("SystemModstamp", "System Modstamp", "datetime", createable=False, updateable=False, nillable=False),
))

OBJECTS: Final[Mapping[str, ObjectDef]] = {o.name.lower(): o for o in (LEAD, CONTACT, USER, PROFILE, USER_ROLE)}
"""Known objects by lower-cased name."""


def object_def(name: str) -> ObjectDef | None:
    """The object named ``name`` (any case), or None."""
    return OBJECTS.get(name.lower())


def object_for_id(record_id: str, candidates: Sequence[str] | None = None) -> ObjectDef | None:
    """The object whose key prefix starts ``record_id`` (limited to ``candidates`` when given)."""
    for obj in OBJECTS.values():
        if record_id[:3] == obj.key_prefix and (candidates is None or obj.name in candidates):
            return obj
    return None
