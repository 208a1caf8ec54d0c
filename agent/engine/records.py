"""Work on given CRM records outside a full sync (a retry's re-read, an undo): the run's context with the
CRM's property metadata, and reading records again to apply them as a pulled page."""

from __future__ import annotations

from collections.abc import Sequence

from leadsync.agent.connectors.base import Connector, ObjectType
from leadsync.agent.engine.context import RunContext
from leadsync.agent.engine.pull import apply_pull_page
from leadsync.agent.store.queries import links
from leadsync.agent.store.store import Store
from leadsync.common.answers import FieldMapping


async def records_context(connector: Connector, run_id: int, mappings: tuple[FieldMapping, ...],
                          fallback_owner: str | None = None) -> RunContext:
    """The context of sync run ``run_id`` working on single records: the property metadata of every object
    type the CRM syncs, read now (one ``list_properties`` call per object type)."""
    ctx = RunContext(run_id=run_id, connector=connector, mappings=mappings, properties={},
                     fallback_owner=fallback_owner)
    caps = connector.capabilities
    for object_type in dict.fromkeys((*caps.object_types, caps.new_lead_object)):
        metas = await connector.list_properties(object_type)
        ctx.object_fields[object_type] = frozenset(m.name.lower() for m in metas)
        for meta in metas:
            ctx.properties.setdefault(meta.name, meta)
    return ctx


async def reread(store: Store, ctx: RunContext, crm_ids: Sequence[str]) -> list[str]:
    """Read the CRM records ``crm_ids`` again and apply them as a pulled page (one transaction per object
    type): the open pull errors of a record read without them close, those it still has are counted again.
    A record is looked for in the object type it is linked as, else in each the CRM syncs. Returns the ids
    the CRM no longer has."""
    linked = await links.object_types_of(store.reader, ctx.crm, crm_ids)
    remaining = list(dict.fromkeys(crm_ids))
    known = ctx.connector.capabilities.object_types
    types: list[ObjectType] = list(dict.fromkeys([*(t for t in known if t in linked.values()), *known]))
    for object_type in types:
        wanted = [i for i in remaining if linked.get(i, object_type) == object_type]
        if not wanted:
            continue
        found = await ctx.connector.read(object_type, wanted, properties=ctx.crm_properties(object_type))
        records = [r for r in found.values() if r is not None]
        if records:
            async with store.transaction() as db:
                await apply_pull_page(db, ctx, records, None, object_type)
        remaining = [i for i in remaining if i not in {r.id for r in records}]
    return remaining
