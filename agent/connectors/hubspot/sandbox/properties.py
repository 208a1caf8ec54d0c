"""Contact property definitions, as ``GET /crm/v3/properties/contacts`` describes them.

Each :class:`PropertyDef` renders to HubSpot's property shape (``name``, ``label``, ``type``,
``fieldType``, ``groupName``, ``options`` with ``label``/``value``/``displayOrder``/``hidden``,
``modificationMetadata.readOnlyValue``, ``hasUniqueValue``, ``calculated`` ...).

Types (HubSpot "Properties" guide): ``string``, ``number``, ``bool``, ``date`` (midnight UTC,
``YYYY-MM-DD`` on read), ``datetime`` (ISO-8601 instant), ``enumeration`` (``select``/``radio`` =
one value, ``checkbox`` = multi-select joined with ``;``). Booleans are ``"true"``/``"false"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .timefmt import ms_to_iso


@dataclass(frozen=True, slots=True)
class PropertyOption:
    """One option of an enumeration (or bool) property."""

    label: str
    value: str
    display_order: int
    hidden: bool = False
    description: str = ""

    def to_wire(self) -> dict[str, Any]:
        """Render as HubSpot's option object."""
        return {
            "label": self.label,
            "value": self.value,
            "displayOrder": self.display_order,
            "hidden": self.hidden,
            "description": self.description,
        }


@dataclass(frozen=True, slots=True)
class PropertyDef:
    """A contact property definition.

    ``read_only_value`` properties cannot be written through the API (HubSpot answers
    ``READ_ONLY_VALUE``); ``has_unique_value`` marks ``email`` (usable as ``idProperty``);
    ``owner_options`` makes the options the live list of active owners (``hubspot_owner_id``).
    """

    name: str
    label: str
    type: str
    field_type: str
    group_name: str = "contactinformation"
    description: str = ""
    options: tuple[PropertyOption, ...] = ()
    read_only_value: bool = False
    read_only_definition: bool = True
    has_unique_value: bool = False
    calculated: bool = False
    hubspot_defined: bool = True
    display_order: int = -1
    form_field: bool = False
    owner_options: bool = False
    option_values: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def multi_select(self) -> bool:
        """True for multi-select enumerations (``fieldType`` ``checkbox``), values joined by ``;``."""
        return self.type == "enumeration" and self.field_type == "checkbox"

    def to_wire(self, created_ms: int, owner_options: Sequence[PropertyOption] = ()) -> dict[str, Any]:
        """Render as HubSpot's property object; ``owner_options`` fills ``hubspot_owner_id``."""
        options = owner_options if self.owner_options else self.options
        body: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": [option.to_wire() for option in options],
            "displayOrder": self.display_order,
            "calculated": self.calculated,
            "externalOptions": self.owner_options,
            "hasUniqueValue": self.has_unique_value,
            "hidden": False,
            "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.read_only_definition,
                "readOnlyValue": self.read_only_value,
            },
            "formField": self.form_field,
            "createdAt": ms_to_iso(created_ms),
            "updatedAt": ms_to_iso(created_ms),
            "archived": False,
        }
        if self.owner_options:
            body["referencedObjectType"] = "OWNER"
        return body


def _options(pairs: Iterable[tuple[str, str]]) -> tuple[PropertyOption, ...]:
    return tuple(PropertyOption(label, value, order) for order, (value, label) in enumerate(pairs))


def make_property(name: str, label: str, type_: str, field_type: str, **kwargs: Any) -> PropertyDef:
    """Build a :class:`PropertyDef`, precomputing the set of option values for validation."""
    options: tuple[PropertyOption, ...] = kwargs.pop("options", ())
    if type_ == "bool" and not options:
        options = (PropertyOption("Yes", "true", 0), PropertyOption("No", "false", 1))
    return PropertyDef(
        name,
        label,
        type_,
        field_type,
        options=options,
        option_values=frozenset(option.value for option in options),
        **kwargs,
    )


LIFECYCLE_STAGES: tuple[tuple[str, str], ...] = (
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
)


_CUSTOM: dict[str, Any] = {"hubspot_defined": False, "read_only_definition": False}
"""What the portal's own properties share: created there, so their definition can change."""

CONTACT_PROPERTIES: tuple[PropertyDef, ...] = (
    make_property("email", "Email", "string", "text", has_unique_value=True, form_field=True),
    make_property("firstname", "First Name", "string", "text", form_field=True),
    make_property("lastname", "Last Name", "string", "text", form_field=True),
    make_property("company", "Company Name", "string", "text", form_field=True),
    make_property("jobtitle", "Job Title", "string", "text", form_field=True),
    make_property("phone", "Phone Number", "string", "phonenumber", form_field=True),
    make_property("fax", "Fax Number", "string", "phonenumber", form_field=True),
    make_property("address", "Street Address", "string", "textarea", form_field=True),
    make_property("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", options=_options(LIFECYCLE_STAGES)),
    make_property("hubspot_owner_id", "Contact owner", "enumeration", "select", group_name="sales_properties",
                  owner_options=True),
    make_property("hs_is_unworked", "Is Unworked", "bool", "calculation_equation", group_name="sales_properties",
                  read_only_value=True, calculated=True),
    make_property("lead_score", "Lead score", "number", "number", description="Interest level from marketing (0-100).",
                  **_CUSTOM),
    make_property("interests", "Interests", "enumeration", "checkbox",
                  options=_options((("a", "A"), ("b", "B"), ("c", "C"))), **_CUSTOM),
    make_property("do_not_call", "Do not call", "bool", "booleancheckbox", **_CUSTOM),
    make_property("date_of_birth", "Date of birth", "date", "date", **_CUSTOM),
    make_property("last_contacted", "Last Contacted", "datetime", "date", group_name="sales_properties"),
    make_property("createdate", "Create Date", "datetime", "date"),
    make_property("lastmodifieddate", "Last Modified Date", "datetime", "date", read_only_value=True),
    make_property("hs_object_id", "Record ID", "number", "number", read_only_value=True),
    make_property("hs_merged_object_ids", "Merged Contact IDs", "enumeration", "checkbox", read_only_value=True,
                  calculated=True),
    make_property("hs_additional_emails", "Additional email addresses", "enumeration", "checkbox",
                  read_only_value=True),
)
"""The sandbox's contact properties in display order: HubSpot's defaults plus the custom ``lead_score``,
``interests``, ``do_not_call``, ``date_of_birth`` (and ``last_contacted``, a sales property)."""


def default_contact_properties() -> dict[str, PropertyDef]:
    """A fresh copy of :data:`CONTACT_PROPERTIES` keyed by name, each with its ``display_order``."""
    return {d.name: replace(d, display_order=order) for order, d in enumerate(CONTACT_PROPERTIES)}


DEFAULT_LIST_PROPERTIES: tuple[str, ...] = (
    "firstname",
    "lastname",
    "email",
    "createdate",
    "lastmodifieddate",
    "hs_object_id",
)
"""Properties a contacts read/list/search answers with when none are requested (HubSpot search
guide: ``createdate``, ``email``, ``firstname``, ``hs_object_id``, ``lastmodifieddate``, ``lastname``)."""
