"""``settings.*``: the agent's settings (interval, push switch, threshold, fallback owner, deletes)."""

from __future__ import annotations

from leadsync.agent import settings
from leadsync.agent.api.registry import ApiContext, NoParams, method
from leadsync.agent.settings import Settings, SettingsUpdate


@method("settings.get", NoParams)
async def settings_get(ctx: ApiContext, _: NoParams) -> Settings:
    """Current settings."""
    return ctx.agent.settings


@method("settings.update", SettingsUpdate)
async def settings_update(ctx: ApiContext, p: SettingsUpdate) -> Settings:
    """Change settings; an interval outside 10..1440 minutes (or a watch interval outside 15..600 s, 0: off)
    is refused with the allowed range; the fallback owner is a CRM owner id or email of an active owner."""
    changes = await settings.save_update(ctx.store, ctx.agent.settings, p)
    await ctx.agent.apply_settings(changes)
    ctx.agent.emit({"type": "settings_changed", "changes": changes})
    return ctx.agent.settings
