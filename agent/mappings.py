"""Field mappings as configured (the ``field_mappings`` table, defaults per CRM) and "check mapped
fields": the mapping compared with the CRM's own field list (HubSpot: ``GET /crm/v3/properties/contacts``).

A mapping to a CRM property that does not exist is refused when it is made (``mappings.update`` checks the
CRM's property list) and reported by ``mappings.check`` (a property deleted in the CRM since), never left to
be skipped at sync time; the run also logs it when it reads the CRM's metadata.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping

import msgspec

from leadsync.agent.connectors.base import Connector, PropertyMeta
from leadsync.agent.connectors.registry import DEFAULT_MAPPINGS
from leadsync.agent.field_rules import is_owner_name
from leadsync.agent.store.queries.contacts import custom_field_names, distinct_values
from leadsync.agent.store.queries.field_mappings import replace_mappings, saved_mappings
from leadsync.agent.store.store import Store, loads
from leadsync.common.answers import DIRECTIONS, POLICIES, FieldMapping, MappingCheck, MappingProblem
from leadsync.common.errors import NotFoundError, ValidationError
from leadsync.common.models import FIELD_NAME, RESERVED_FIELDS

# what each standard local field holds, to compare with the CRM property's type
LOCAL_TYPES: dict[str, tuple[str, ...]] = {
    "email": ("string",), "first_name": ("string",), "last_name": ("string",), "company": ("string",),
    "job_title": ("string",), "phone": ("string",), "lifecycle_stage": ("string", "enumeration"),
    "lead_score": ("number",),
}


class MappingUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``mappings.update`` params: the local field to change (or add), and what to set."""

    local: str
    crm: str | None = None
    direction: str | None = None
    policy: str | None = None
    skew_ms: int | None = None
    value_map: dict[str, str] | None = None
    default_value: str | None = None
    crm_by_object: dict[str, str] | None = None
    remove: bool = False


async def load_mappings(store: Store, crm: str) -> tuple[FieldMapping, ...]:
    """The configured mappings, or the CRM's defaults when none were saved."""
    saved = await saved_mappings(store)
    return tuple(saved) if saved else DEFAULT_MAPPINGS.get(crm, ())


async def crm_properties(connector: Connector, cached: Mapping[str, PropertyMeta]) -> dict[str, PropertyMeta]:
    """The CRM's properties by name on every object type leadsync syncs: ``cached`` (the last run's metadata)
    when it holds any, else read from the CRM (``list_properties`` per object type). Raises CrmError."""
    if cached:
        return dict(cached)
    caps = connector.capabilities
    found: dict[str, PropertyMeta] = {}
    for object_type in dict.fromkeys((*caps.object_types, caps.new_lead_object, *caps.link_first)):
        for meta in await connector.list_properties(object_type):
            found.setdefault(meta.name, meta)
    return found


def _require_properties(mapping: FieldMapping, known: Collection[str], crm: str) -> None:
    """Raise ValidationError when a CRM property ``mapping`` names is not in ``known`` (exact names)."""
    if mapping.direction == "off":
        return
    for name in mapping.crm_names:
        if name in known:
            continue
        close = [k for k in known if k.lower() == name.lower()] or difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValidationError(f"crm: {name!r} is not a property in {crm}{hint} (mappings.check lists the "
                              "problems of every mapping)", data={"property": name, "suggestions": close})


async def update_mapping(store: Store, crm: str, change: MappingUpdate, *, owner_property: str,
                         properties: Collection[str] | None = None) -> tuple[FieldMapping, ...]:
    """Change one mapping (saving the whole set, defaults included, the first time): see
    :func:`changed_mappings` for what is refused."""
    changed = await changed_mappings(store, crm, change, owner_property=owner_property, properties=properties)
    async with store.transaction() as db:
        await replace_mappings(db, list(changed))
    return changed


async def changed_mappings(store: Store, crm: str, change: MappingUpdate, *, owner_property: str,
                           properties: Collection[str] | None = None) -> tuple[FieldMapping, ...]:
    """The whole set of mappings with ``change`` made, nothing saved. Raises
    ValidationError for an unknown direction or policy, a negative skew, removing email, a local field
    name that is not a plain identifier or that names the owner, a mapping to the CRM's owner property
    (ownership comes from the CRM and is synced by leadsync itself), or, with ``properties`` (the CRM's
    property names), a CRM property that is not one of them."""
    if change.crm is not None and change.crm.strip().lower() == owner_property.lower():
        raise ValidationError(f"crm: {owner_property} is the owner; ownership comes from the CRM and cannot be "
                              "mapped to a field")
    if not FIELD_NAME.fullmatch(change.local) or change.local in RESERVED_FIELDS or is_owner_name(change.local):
        raise ValidationError(f"local: {change.local[:80]!r} is not a field name you can map"
                              + ("; ownership comes from the CRM" if is_owner_name(change.local) else ""))
    current = {m.local: m for m in await load_mappings(store, crm)}
    if change.remove:
        if change.local == "email":
            raise ValidationError("email: the email mapping links records and cannot be removed")
        if current.pop(change.local, None) is None:
            raise NotFoundError(f"no mapping for local field {change.local!r}")
    else:
        if change.direction is not None and change.direction not in DIRECTIONS:
            raise ValidationError(f"direction: one of {', '.join(DIRECTIONS)}")
        if change.policy is not None and change.policy not in POLICIES:
            raise ValidationError(f"policy: one of {', '.join(POLICIES)}")
        if change.skew_ms is not None and not 0 <= change.skew_ms <= 86_400_000:
            raise ValidationError("skew_ms: 0 to 86400000 (a day)")
        for object_type, name in (change.crm_by_object or {}).items():
            if object_type not in ("contact", "lead"):
                raise ValidationError(f"crm_by_object: {object_type[:40]!r} is not an object type (contact or lead)")
            if not name.strip() or name.strip().lower() == owner_property.lower():
                raise ValidationError(f"crm_by_object.{object_type}: a CRM property other than the owner")
        base = current.get(change.local)
        if base is None:
            if not change.crm:
                raise ValidationError(f"crm: a new mapping for {change.local!r} needs the CRM property name")
            base = FieldMapping(local=change.local, crm=change.crm)
        updates = {k: v for k, v in msgspec.structs.asdict(change).items()
                   if k not in ("local", "remove") and v is not None}
        current[change.local] = msgspec.convert({**msgspec.structs.asdict(base), **updates}, FieldMapping)
        if properties is not None:
            _require_properties(current[change.local], properties, crm)
    return tuple(current.values())


async def check_mappings(store: Store, connector: Connector, mappings: tuple[FieldMapping, ...]) -> MappingCheck:
    """Compare the mappings with the CRM's field list: unknown properties, type mismatches, read-only
    properties written to, required CRM fields with no source (case S13), enumeration values with no
    matching option; and the custom fields contacts hold that no mapping syncs (warnings)."""
    caps = connector.capabilities
    problems: list[MappingProblem] = []
    properties: dict[str, PropertyMeta] = {}
    on_object: dict[str, set[str]] = {}
    for object_type in dict.fromkeys((*caps.object_types, caps.new_lead_object)):
        for meta in await connector.list_properties(object_type):
            properties.setdefault(meta.name, meta)
            on_object.setdefault(object_type, set()).add(meta.name.lower())
    for m in mappings:
        if m.direction == "off":
            continue
        missing = [t for t, names in on_object.items() if m.crm_for(t) in properties
                   and m.crm_for(t).lower() not in names]
        if missing:
            problems.append(MappingProblem(
                severity="warning", kind="not_on_object", field=m.local, property=m.crm,
                message=f"{connector.name} {' and '.join(missing)} records have no {m.crm_for(missing[0])}: "
                        f"{m.local} of those contacts stays local and is not synced (map it per object with "
                        "crm_by_object if they have a field for it)"))
        unknown = [name for name in m.crm_names if name not in properties]
        problems += [MappingProblem(severity="error", kind="unknown_property", field=m.local, property=name,
                                    message=f"{name!r} is not a property in {connector.name}: {m.local} is not synced")
                     for name in unknown]
        found = properties.get(m.crm)
        if found is None:
            continue
        meta = found
        if m.crm == caps.owner_property:
            problems.append(MappingProblem(severity="error", kind="owner_mapped", field=m.local, property=m.crm,
                                           message=f"{m.crm} is the owner: ownership comes from the CRM"))
        expected = LOCAL_TYPES.get(m.local)
        if expected is not None and meta.type not in expected:
            problems.append(MappingProblem(
                severity="error", kind="type_mismatch", field=m.local, property=m.crm,
                message=f"{m.local} holds {' or '.join(expected)} but {m.crm} is a {meta.type} property"))
        if meta.read_only and m.pushes:
            problems.append(MappingProblem(
                severity="error", kind="read_only", field=m.local, property=m.crm,
                message=f"{m.crm} is read-only in {connector.name}; use direction from_crm"))
        if meta.type == "enumeration" and meta.options and m.pushes:
            unmatched = await _unmatched_values(store, m, {o.value for o in meta.options})
            if unmatched:
                problems.append(MappingProblem(
                    severity="warning", kind="enum_unmatched", field=m.local, property=m.crm, values=unmatched,
                    message=f"{len(unmatched)} local value(s) of {m.local} match no option of {m.crm}; add them to "
                            "the value map or they will be refused"))
    sources = {m.crm for m in mappings if m.pushes or m.default_value is not None}
    sources.add(caps.owner_property)
    for meta in properties.values():
        if meta.required and meta.name not in sources and not meta.read_only:
            problems.append(MappingProblem(
                severity="error", kind="required_unmapped", field=None, property=meta.name,
                message=f"{meta.name} is required by {connector.name} to create a record but nothing is mapped to "
                        "it; map a field or set a default_value"))
    problems += await _unmapped_fields(store, mappings, connector.name)
    return MappingCheck(ok=not any(p.severity == "error" for p in problems), checked=len(mappings), problems=problems)


async def _unmapped_fields(store: Store, mappings: tuple[FieldMapping, ...], crm: str) -> list[MappingProblem]:
    """A warning for each custom field some contact holds (from a create, a form or an import) that no
    mapping syncs: it stays local."""
    mapped = {m.local for m in mappings if m.direction != "off"}
    return [MappingProblem(severity="warning", kind="unmapped_field", field=name, property=None,
                           message=f"contacts hold the custom field {name}, which no mapping syncs: it stays in "
                                   f"leadsync and never reaches {crm} (map it with mappings.update to sync it)")
            for name in await custom_field_names(store) if name not in mapped]


async def _unmatched_values(store: Store, mapping: FieldMapping, options: set[str]) -> list[str]:
    values: set[str] = set()
    for raw in await distinct_values(store, mapping.local):
        if isinstance(raw, str) and raw.startswith("["):
            values.update(str(v) for v in loads(raw))
        else:
            values.add(str(raw))
    return sorted(v for v in values if mapping.value_map.get(v, v) not in options)
