"""Dry runs (``sync.plan``): the writes a sync would make, per record and field, without making them.

A dry run executes the real engine inside a store transaction that is rolled back, against a
:class:`PlanningConnector` that lets reads reach the CRM and answers writes itself. So the plan is
what the next run does (case S16), computed by the same code, not by a second model of it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec

from leadsync.agent.connectors.base import (
    ConnectionInfo,
    Connector,
    CrmOwner,
    CrmRecord,
    ObjectType,
    PropertyMeta,
    PullPage,
    WriteInput,
    WriteResult,
)
from leadsync.common.answers import Plan, PlanItem

MAX_ITEMS = 1000


class PlanRecorder:
    """Collects :class:`PlanItem` s during a dry run."""

    def __init__(self) -> None:
        self.items: list[PlanItem] = []
        self.total = 0
        self.counts: dict[str, Counter[str]] = {"local": Counter(), "crm": Counter()}
        self.field_counts: dict[str, Counter[str]] = {"local": Counter(), "crm": Counter()}
        self.held = 0
        self.kept: Counter[str] = Counter()

    def add(self, side: str, op: str, contact_id: int | None, crm_id: str | None,
            fields: dict[str, list[Any]], note: str | None = None) -> None:
        self.total += 1
        self.counts[side][op] += 1
        self.field_counts[side].update(fields.keys())
        self.kept[side] += 1
        if self.kept[side] <= MAX_ITEMS:
            self.items.append(PlanItem(side=side, op=op, contact_id=contact_id, crm_id=crm_id, fields=fields,
                                       note=note))

    def result(self, api_calls: int, push_enabled: bool) -> Plan:
        """The plan; with ``push_enabled`` False its CRM writes are marked ``push_disabled`` (not sent)."""
        items = self.items if push_enabled else [
            msgspec.structs.replace(i, push_disabled=True) if i.side == "crm" else i for i in self.items]
        return Plan(counts={s: dict(c) for s, c in self.counts.items()},
                    field_counts={s: dict(c) for s, c in self.field_counts.items()}, held=self.held,
                    items=items, truncated=self.total > len(self.items), api_calls=api_calls,
                    push_enabled=push_enabled, push_disabled=not push_enabled)


class PlanningConnector:
    """A connector for dry runs: reads reach the CRM through ``inner``; writes never do.

    Creates and upserts are answered as the CRM would: an upsert whose email already exists in the CRM
    (looked up with a read) is reported as an update of that record (a link), otherwise as a create.
    """

    def __init__(self, inner: Connector) -> None:
        self.inner = inner
        self.name = inner.name
        self.base_url = inner.base_url
        self.capabilities = inner.capabilities

    @property
    def api_calls(self) -> int:
        return self.inner.api_calls

    async def connection_info(self) -> ConnectionInfo:
        return await self.inner.connection_info()

    async def list_owners(self) -> list[CrmOwner]:
        return await self.inner.list_owners()

    async def list_properties(self, object_type: ObjectType) -> list[PropertyMeta]:
        return await self.inner.list_properties(object_type)

    def pull_changes(self, object_type: ObjectType, cursor: dict[str, Any] | None, *,
                     properties: Sequence[str]) -> AsyncIterator[PullPage]:
        return self.inner.pull_changes(object_type, cursor, properties=properties)

    def list_archived(self, object_type: ObjectType, *, properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        return self.inner.list_archived(object_type, properties=properties)

    async def read(self, object_type: ObjectType, ids: Sequence[str], *,
                   properties: Sequence[str]) -> dict[str, CrmRecord | None]:
        return await self.inner.read(object_type, ids, properties=properties)

    async def find_by_email(self, object_type: ObjectType, emails: Sequence[str], *,
                            properties: Sequence[str]) -> dict[str, CrmRecord]:
        return await self.inner.find_by_email(object_type, emails, properties=properties)

    async def create(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        """As the CRM would answer: an email that already exists there (looked up with a read) is refused
        with its ``existing_id`` (the engine then links to it), any other input is created."""
        email = self.capabilities.email_property
        emails = [i.properties.get(email, "") for i in inputs]
        found = await self.inner.find_by_email(object_type, [e for e in emails if e], properties=[email])
        results = []
        for item, address in zip(inputs, emails, strict=True):
            existing = found.get(address)
            if existing is not None:
                results.append(WriteResult(ref=item.ref, ok=False, error="exists", error_code="CONFLICT",
                                           existing_id=existing.id))
            else:
                results.append(WriteResult(ref=item.ref, ok=True, id=f"planned:{item.ref}", created=True))
        return results

    async def update(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        return [WriteResult(ref=i.ref, ok=True, id=i.id) for i in inputs]

    async def upsert(self, object_type: ObjectType, inputs: Sequence[WriteInput]) -> list[WriteResult]:
        return [WriteResult(ref=i.ref, ok=True, id=i.id or f"planned:{i.ref}", created=i.id is None) for i in inputs]

    async def archive(self, object_type: ObjectType, ids: Sequence[str]) -> list[WriteResult]:
        return [WriteResult(ref=i, ok=True, id=i) for i in ids]

    async def aclose(self) -> None:
        """Nothing to close: the inner connector belongs to the agent."""
