"""Header -> field mapping: every column goes to a contact field, the owner, a custom field, or is
reported as not imported.

Header names are matched case-, space- and punctuation-insensitively (``"E-Mail Address"`` ->
``emailaddress``) against :data:`ALIASES`: the contact export headers of HubSpot (``Record ID``,
``Contact owner``, ``Phone Number``...), Salesforce (reports: ``Lead Owner``, ``Company / Account``;
Data Export and Data Loader: ``OwnerId``, ``FirstName``...), Zoho CRM (``Lead Owner``, ``Designation``,
``Lead Owner.id``...), Autotask (the contact export "in import template format": ``Email Address``,
``Organization Name``, ``Zip Code``...), German Excel lists, and leadsync's own export. The local
field names are those of :mod:`leadsync.agent.engine.mapping`.

Any other column is kept as a custom field named after its header (``Lead Source`` -> ``lead_source``).
``mapping`` (``--map "Column=field"``; ``field[]`` keeps a list) and ``skip`` (``--skip Column``)
override. Two columns for one field stop the import with both names (case C05); owner columns may be
several (an id and a name: the first that matches wins).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from leadsync.common.csvio import ImportRow
from leadsync.common.errors import ValidationError
from leadsync.common.importfile import dates
from leadsync.common.importfile.excel import strip_guard
from leadsync.common.importfile.report import ColumnInfo
from leadsync.common.models import FIELD_NAME, RESERVED_FIELDS, STANDARD_FIELDS
from leadsync.common.owner_names import OWNER_NAMES, is_owner_name, normalise_name

OWNER = "owner"


def _aliases(table: dict[str, str]) -> dict[str, str]:
    return {alias: field for field, names in table.items() for alias in names.split()}


# field -> normalised header names (space separated)
ALIASES: dict[str, str] = _aliases({
    "email": "email emailaddress mail email1 primaryemail emailadresse emailadresse1 mailadresse",
    "first_name": "firstname first givenname vorname prenom",
    "last_name": "lastname last surname familyname nachname nom",
    "company": "company companyname accountname account organization organisation organizationname "
               "companyaccount firma unternehmen",
    "job_title": "jobtitle title designation position berufsbezeichnung",
    "phone": "phone phonenumber telephone telefon telefonnummer businessphone officephone",
    "lifecycle_stage": "lifecyclestage lebenszyklusphase",
    "lead_score": "leadscore score hubspotscore interestlevel",
    OWNER: " ".join(sorted(OWNER_NAMES)),
    # custom fields with one name whatever the CRM calls them
    "mobile_phone": "mobile mobilephone mobilephonenumber mobilnummer handy cell cellphone",
    "street": "street streetaddress address address1 mailingstreet strasse",
    "city": "city mailingcity ort stadt",
    "state": "state stateregion province mailingstate bundesland",
    "zip": "zip zipcode postalcode postcode mailingpostalcode plz postleitzahl",
    "country": "country countryregion mailingcountry land",
    "website": "website websiteurl webseite",
    "lead_source": "leadsource source",
    "lead_status": "leadstatus status",
    "tags": "tag tags",
    "record_id": "recordid",
})
# normalised headers of multi-valued exports (HubSpot associations, Zoho tags): kept as lists
MULTI_VALUED = frozenset({"tag", "tags", "associatedcompanyids", "associatedcontactids", "associateddealids",
                          "listmemberships", "interests"})
# leadsync's own export: columns leadsync manages itself, not imported back
LEADSYNC_EXPORT = frozenset({"crmid", "syncstate", "createdby"})
_MANAGED = frozenset({"id", "crmid", "syncstate", "createdby"})
_PHONE = re.compile(r"phone|mobile|fax|telefon|handy|cell")
_DATE = re.compile(r"date|datum|time$|zeit$|birthday|geburtstag")


normalise_header = normalise_name
"""``" E-Mail Address"`` -> ``"emailaddress"``: accents dropped, lower case, letters and digits only."""


def custom_field_name(header: str) -> str:
    """A custom field name for a header: ``"Lead Source"`` -> ``lead_source``; names leadsync manages
    itself or that would not start with a letter get an ``import_`` prefix."""
    plain = unicodedata.normalize("NFKD", header.strip().lower()).replace("ß", "ss")
    slug = re.sub(r"[^a-z0-9]+", "_", plain.encode("ascii", "ignore").decode()).strip("_")[:57]
    if not slug or not slug[0].isalpha() or slug in RESERVED_FIELDS or slug in STANDARD_FIELDS:
        slug = f"import_{slug}".rstrip("_")
    return slug


def value_kind(header: str, field: str | None) -> str:
    """How a column's values are read and checked: email, lead_score, lifecycle_stage, phone, zip, id,
    date (by header; custom columns can also be found to hold dates by their values), or text."""
    key = normalise_header(header)
    if field in ("email", "lead_score", "lifecycle_stage", "zip"):
        return field
    if field == "phone" or _PHONE.search(key):
        return "phone"
    if _DATE.search(key) and field not in STANDARD_FIELDS:
        return "date"
    if key.endswith("id") or "number" in key or key.endswith("nummer"):
        return "id"
    return "text"


def plan_columns(header: list[str], *, mapping: dict[str, str] | None = None,
                 skip: list[str] | None = None) -> list[ColumnInfo]:
    """One :class:`ColumnInfo` per header column, in order.

    Raises ValidationError for a ``mapping``/``skip`` naming no column, a bad field name, two columns
    for one field (naming both), or no email column."""
    mapping, skip = mapping or {}, skip or []
    for name in [*mapping, *skip]:
        if name not in header:
            raise ValidationError(f"{name!r} is not a column of this file (columns: {', '.join(header)})")
    plan = draft_plan(header, mapping=mapping, skip=skip)
    seen: dict[str, str] = {}
    for col in plan:
        if col.field is None or col.field == OWNER:
            continue
        if col.field in seen:
            raise ValidationError(
                f"the header names {col.field!r} twice: columns {seen[col.field]!r} and {col.column!r} "
                f"(column {col.index + 1}); remove or rename one, or --skip or --map one, so no value is overwritten")
        seen[col.field] = col.column
    if "email" not in seen:
        raise ValidationError(_no_email(header, plan, mapping, skip))
    return plan


def _no_email(header: list[str], plan: list[ColumnInfo], mapping: dict[str, str], skip: list[str]) -> str:
    """Why the plan has no email column: the one the header has was mapped or skipped away, or there is none."""
    default = next((c.column for c in draft_plan(header) if c.field == "email"), None)
    if default is not None:
        given = next(c for c in plan if c.column == default)
        how = "skipped by --skip" if default in skip else f"mapped to {given.field or 'nothing'} by --map"
        return (f"column {default!r} holds the emails, but it is {how}; contacts are matched by email, so one "
                f"column must be email: drop that option or --map another column to email")
    return f"the header has no email column (found: {', '.join(header)}); --map one to email"


def draft_plan(header: list[str], *, mapping: dict[str, str] | None = None,
               skip: list[str] | None = None) -> list[ColumnInfo]:
    """The plan as :func:`plan_columns` makes it, without checking it can be imported (to show a
    refused plan so it can be changed). Raises ValidationError for a bad field name only."""
    mapping, skip = mapping or {}, skip or []
    own_export = LEADSYNC_EXPORT <= {normalise_header(h) for h in header}
    return [_column(i, name, mapping.get(name), name in skip, own_export) for i, name in enumerate(header)]


def _column(index: int, name: str, mapped: str | None, skipped: bool, own_export: bool) -> ColumnInfo:
    key = normalise_header(name)
    if skipped:
        return ColumnInfo(index=index, column=name, field=None, kind="skipped", note="--skip")
    if mapped is not None:
        field, multi = mapped.strip().removesuffix("[]"), mapped.strip().endswith("[]")
        if is_owner_name(field):  # hubspot_owner_id, OwnerId...: the owner under another name
            field = OWNER
        if field != OWNER and (not FIELD_NAME.fullmatch(field) or field in RESERVED_FIELDS):
            raise ValidationError(f"--map {name}={mapped}: a field is a contact field ({', '.join(STANDARD_FIELDS)}), "
                                  "owner, or a custom name of lower-case letters, digits and _")
        kind = "owner" if field == OWNER else "standard" if field in STANDARD_FIELDS else "custom"
        return ColumnInfo(index=index, column=name, field=field, kind=kind, multi=multi, note="--map")
    if not name:
        return ColumnInfo(index=index, column="", field=None, kind="headerless",
                          note="no header: a value here is reported for its line")
    if own_export and key in _MANAGED:
        return ColumnInfo(index=index, column=name, field=None, kind="managed",
                          note="managed by leadsync: not imported")
    known = ALIASES.get(key)
    if known == OWNER:
        return ColumnInfo(index=index, column=name, field=OWNER, kind="owner",
                          note="matched to users and CRM owners")
    if known in STANDARD_FIELDS:
        return ColumnInfo(index=index, column=name, field=known, kind="standard")
    return ColumnInfo(index=index, column=name, field=known or custom_field_name(name), kind="custom",
                      multi=key in MULTI_VALUED, note="" if known else "kept as a custom field")


def decide_orders(plan: list[ColumnInfo], rows: Iterable[ImportRow],
                  date_format: dates.Order | None) -> dict[str, dates.Order]:
    """Column -> day/month order, for the date columns among ``rows`` (streamed once): columns whose
    header says date, and custom columns whose every value is a date.
    Raises ValidationError as :meth:`.dates.OrderVote.decide` does."""
    candidates = [c for c in plan if c.kind in ("custom", "standard") and c.field not in STANDARD_FIELDS]
    votes = {c.index: dates.OrderVote(c.column) for c in candidates}
    for row in rows:
        for index, vote in votes.items():
            if index < len(row.values) and row.values[index].strip():
                vote.add(strip_guard(row.values[index].strip()), row.line)
    chosen: dict[str, dates.Order] = {}
    for col in candidates:
        vote = votes[col.index]
        by_header = value_kind(col.column, col.field) == "date"
        if vote.dates and (by_header or not vote.others):
            chosen[col.column] = vote.decide(date_format)
    return chosen
