"""``mappings.*``: the field mappings between local fields and CRM properties."""

from __future__ import annotations

from leadsync.agent import mappings
from leadsync.agent.api.registry import ApiContext, NoParams, method
from leadsync.agent.mappings import MappingUpdate
from leadsync.common.answers import FieldMapping, MappingCheck, Plan


@method("mappings.list", NoParams)
async def mappings_list(ctx: ApiContext, _: NoParams) -> tuple[FieldMapping, ...]:
    """The field mappings in force: local field, CRM property, direction, conflict policy, skew, value map."""
    return ctx.agent.mappings(ctx.agent.require_connector())


@method("mappings.update", MappingUpdate)
async def mappings_update(ctx: ApiContext, p: MappingUpdate) -> tuple[FieldMapping, ...]:
    """Change (or add, or remove) one field mapping; run mappings.check and sync.plan after."""
    connector = ctx.agent.require_connector()
    known = None if p.remove else await mappings.crm_properties(connector, ctx.agent.cached_properties(connector))
    result = await mappings.update_mapping(ctx.store, connector.name, p,
                                           owner_property=connector.capabilities.owner_property, properties=known)
    await ctx.agent.reload_mappings()
    return result


@method("mappings.preview", MappingUpdate)
async def mappings_preview(ctx: ApiContext, p: MappingUpdate) -> Plan:
    """What the next sync would write with this mapping change (the params of mappings.update), per side and
    field, from a dry run: nothing is saved or written (see sync.plan). Ask before mappings.update."""
    connector = ctx.agent.require_connector()
    known = None if p.remove else await mappings.crm_properties(connector, ctx.agent.cached_properties(connector))
    changed = await mappings.changed_mappings(ctx.store, connector.name, p,
                                              owner_property=connector.capabilities.owner_property, properties=known)
    return await ctx.agent.plan(changed)


@method("mappings.check", NoParams)
async def mappings_check(ctx: ApiContext, _: NoParams) -> MappingCheck:
    """Check mapped fields against the CRM's field list: unknown properties, type mismatches, read-only
    targets, required CRM fields with no source, enumeration values with no match."""
    connector = ctx.agent.require_connector()
    return await mappings.check_mappings(ctx.store, connector, ctx.agent.mappings(connector))
