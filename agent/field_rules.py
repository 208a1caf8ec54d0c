"""What a local edit may name: never the owner under another name, and only fields the store knows.

**The owner.** Ownership comes from the CRM (the one exception, a to-do, writes it through
``todos.assign``). So an edit or a new contact naming the owner is refused with OwnerReadOnlyError, under
any name: ``owner``/``owner_id``, a field named like a CRM's owner property or an owner column of a CRM
export (``hubspot_owner_id``, ``OwnerId``, ``Owner``, ``ownerResourceID``, ``Contact owner``... compared
without case, spaces and punctuation, :data:`OWNER_NAMES`), or a field whose mapping targets the connected
CRM's owner property (``mappings.update`` refuses such a mapping; one saved before is refused here too, and
the push never sends it, :attr:`~leadsync.agent.engine.context.RunContext.push_mappings`).

**Known fields.** Custom fields live in ``Contact.fields``, one JSON object per contact. They come in where
a contact's data is first given (``contacts.create``, a form, an import: any name of lower-case letters,
digits and ``_``) or by a field mapping; ``mappings.check`` reports the custom fields contacts hold that no
mapping syncs (``unmapped_field``), so nothing stays local unnoticed. ``contacts.update`` changes fields the
store knows: a standard field, the local field of a mapping, or a custom field some contact already holds.
Any other name (a typo such as ``frist_name``) is refused with the known names instead of being stored
where no sync ever reads it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from leadsync.agent.connectors.base import Connector
from leadsync.agent.runtime import Runtime
from leadsync.agent.store.queries import contacts as contact_rows
from leadsync.agent.store.store import Store
from leadsync.common.answers import FieldMapping
from leadsync.common.errors import OwnerReadOnlyError, ValidationError
from leadsync.common.models import STANDARD_FIELDS, Contact
from leadsync.common.owner_names import OWNER_NAMES as OWNER_NAMES
from leadsync.common.owner_names import is_owner_name as is_owner_name
from leadsync.common.owner_names import normalise_name as normalise_name

_KNOWN_LISTED: Final = 60
"""Known field names an error message lists at most."""


@dataclass(frozen=True)
class FieldRules:
    """The field names an edit is checked against: ``mapped`` (local fields some mapping names) and
    ``owner_fields`` (local fields whose mapping targets the CRM's owner property)."""

    mapped: frozenset[str] = field(default_factory=frozenset)
    owner_fields: frozenset[str] = field(default_factory=frozenset)

    def refuse_owner(self, names: Iterable[str], *, new: bool = False) -> None:
        """Raise OwnerReadOnlyError when one of ``names`` is the owner under any name (``new``: for a new
        contact, which its creator owns)."""
        for name in names:
            if is_owner_name(name) or name in self.owner_fields:
                how = "" if is_owner_name(name) else " (mapped to the CRM's owner property)"
                if new:
                    raise OwnerReadOnlyError(f"{name}{how}: a new contact is owned by its creator; change owners in "
                                             "the CRM")
                raise OwnerReadOnlyError(f"{name}{how}: the owner comes from the CRM: change the owner in the CRM "
                                         "and it reaches leadsync at the next sync")

    async def require_known(self, store: Store, contact: Contact, names: Iterable[str]) -> None:
        """Raise ValidationError, listing the known field names, when one of ``names`` is a field the store
        does not know (see the module docstring)."""
        for name in names:
            if name in STANDARD_FIELDS or name in self.mapped or name in contact.fields:
                continue
            if await contact_rows.holds_custom_field(store, name):
                continue
            known = sorted({*STANDARD_FIELDS, *self.mapped, *await contact_rows.custom_field_names(store)})
            listed = ", ".join(known[:_KNOWN_LISTED]) + (", ..." if len(known) > _KNOWN_LISTED else "")
            raise ValidationError(
                f"{name}: no such field; the known fields are {listed}. A new custom field comes with "
                "contacts.create or an import, or map it first (mappings.update)", data={"known_fields": known})


def rules_for(connector: Connector | None, mappings: Iterable[FieldMapping]) -> FieldRules:
    """The rules under ``mappings`` of the connected CRM (``connector`` None: not connected, no mappings)."""
    if connector is None:
        return FieldRules()
    owner = connector.capabilities.owner_property
    chosen = tuple(mappings)
    return FieldRules(mapped=frozenset(m.local for m in chosen),
                      owner_fields=frozenset(m.local for m in chosen if m.targets(owner)))


def rules_of(agent: Runtime) -> FieldRules:
    """The rules under the field mappings in force for the agent's CRM connection."""
    connector = agent.connector
    return rules_for(connector, agent.mappings(connector) if connector is not None else ())
