"""What one sync run knows while it runs: the connector, the mappings, property metadata, counts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from leadsync.agent.connectors.base import Connector, PropertyMeta
from leadsync.agent.engine.planning import PlanRecorder
from leadsync.common.answers import FieldMapping


async def _nothing() -> None:
    return None


@dataclass
class RunCounts:
    """Counts of one sync run, as ``sync.history`` shows them."""

    pulled: int = 0
    created_local: int = 0
    updated_local: int = 0
    created_crm: int = 0
    updated_crm: int = 0
    linked: int = 0
    failed: int = 0


@dataclass
class RunContext:
    """Everything the pull and push steps of one sync run share.

    ``fallback_owner``: CRM owner id used when a pushed contact's creator has no active CRM owner
    (None: such a contact is held with an error). ``progress`` receives event dicts. ``plan`` is set in a
    dry run and collects the planned writes. ``object_fields`` holds each object type's property names
    (lower case) from the CRM's metadata: a mapped property an object lacks is neither asked for nor
    sent to it. ``between_batches`` is awaited after every pulled page and
    pushed batch: the agent uses it to run urgent pushes (threshold, to-do, manual) ahead of bulk work.
    """

    run_id: int
    connector: Connector
    mappings: tuple[FieldMapping, ...]
    properties: dict[str, PropertyMeta]
    fallback_owner: str | None = None
    progress: Callable[[dict[str, Any]], None] = lambda event: None
    counts: RunCounts = field(default_factory=RunCounts)
    plan: PlanRecorder | None = None
    between_batches: Callable[[], Awaitable[None]] = _nothing
    object_fields: dict[str, frozenset[str]] = field(default_factory=dict)
    not_sent: int = 0
    """Writes of this run that could not get through to the CRM (counted in ``counts.failed`` too)."""

    @property
    def crm(self) -> str:
        return self.connector.name

    @property
    def pull_mappings(self) -> tuple[FieldMapping, ...]:
        return tuple(m for m in self.mappings if m.pulls)

    @property
    def push_mappings(self) -> tuple[FieldMapping, ...]:
        """The mappings a push sends; never one that targets the owner property (ownership comes from the
        CRM: ``mappings.update`` refuses such a mapping, and one saved before is not sent either)."""
        owner = self.connector.capabilities.owner_property
        return tuple(m for m in self.mappings if m.pushes and not m.targets(owner))

    def unknown_properties(self) -> list[tuple[str, str]]:
        """(local field, CRM property) of the mappings in use whose property the CRM's metadata does not list
        on any object (deleted in the CRM since it was mapped); empty while the metadata is not known."""
        if not self.properties:
            return []
        return [(m.local, name) for m in self.mappings if m.direction != "off"
                for name in m.crm_names if name not in self.properties]

    def crm_properties(self, object_type: str | None = None) -> list[str]:
        """CRM properties a pull asks for: every mapped one plus the owner property; for ``object_type``,
        only those that object has (Salesforce Contacts have no ``Company``), when its fields are known."""
        names = [n for m in self.mappings if m.direction != "off"
                 for n in ((m.crm_for(object_type),) if object_type else m.crm_names)]
        names.append(self.connector.capabilities.owner_property)
        return sorted(n for n in set(names) if self.has_property(object_type, n))

    def has_property(self, object_type: str | None, name: str) -> bool:
        """Whether ``object_type`` has CRM property ``name`` (case-insensitive); True when not known."""
        known = self.object_fields.get(object_type or "")
        return known is None or name.lower() in known
