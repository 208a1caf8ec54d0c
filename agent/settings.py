"""Agent settings (stored in the ``settings`` table) with their defaults and allowed ranges."""

from __future__ import annotations

from typing import Any

import msgspec

from leadsync.agent.store.queries import sync_errors
from leadsync.agent.store.store import Store
from leadsync.agent.users import resolve_active_owner
from leadsync.common.errors import ValidationError
from leadsync.common.importfile.dates import time_zone

INTERVAL_MIN, INTERVAL_MAX = 10, 1440
WATCH_MIN_S, WATCH_MAX_S = 15, 600
# named interest levels and the lead score each one starts at
INTEREST_LEVELS: dict[str, int] = {"cold": 0, "warm": 40, "hot": 70, "very_hot": 90}


class Settings(msgspec.Struct, kw_only=True):
    """``sync_interval_minutes``: 10..1440 (10 min to 24 h); ``push_enabled``: the master switch for every
    outbound write; ``score_threshold``: a lead score at or above which a contact is pushed at once (None:
    off); ``fallback_owner``: CRM owner id for pushed contacts whose creator has no active CRM owner;
    ``crm_delete_enabled``: lets ``contacts.delete`` with ``also_in_crm`` archive the CRM record (off: a
    local delete never deletes in the CRM); ``time_zone``: the account's IANA time zone, in which imported
    date-times without a zone are read; ``watch_interval_seconds``: how often the watch pull asks the CRM
    for records changed since the cursor between syncs (15..600 s, 0: off; :mod:`leadsync.agent.watch`);
    ``backup_interval_hours``: a backup of the store every so many hours (1..720; None: no scheduled backup)
    into ``backup_dir`` (an absolute path; None: ``<data dir>/backups``), keeping the ``backup_keep`` newest
    (1..1000)."""

    sync_interval_minutes: int = 60
    watch_interval_seconds: int = 60
    push_enabled: bool = True
    score_threshold: int | str | None = None
    fallback_owner: str | None = None
    crm_delete_enabled: bool = False
    time_zone: str = "UTC"
    backup_interval_hours: int | None = None
    backup_dir: str | None = None
    backup_keep: int = 7

    def threshold_score(self) -> int | None:
        """The threshold as a lead score (a named interest level is mapped by ``INTEREST_LEVELS``)."""
        if isinstance(self.score_threshold, str):
            return INTEREST_LEVELS[self.score_threshold]
        return self.score_threshold


class SettingsUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    sync_interval_minutes: int | None = None
    watch_interval_seconds: int | None = None
    push_enabled: bool | None = None
    score_threshold: int | str | None = None
    fallback_owner: str | None = None
    crm_delete_enabled: bool | None = None
    time_zone: str | None = None
    backup_interval_hours: int | None = None
    backup_dir: str | None = None
    backup_keep: int | None = None
    clear: list[str] = []


CLEARABLE = ("score_threshold", "fallback_owner", "backup_interval_hours", "backup_dir")
BACKUP_HOURS_MAX, BACKUP_KEEP_MAX = 720, 1000


def _backup_changes(update: SettingsUpdate) -> dict[str, Any]:
    """The scheduled-backup settings in ``update``, checked: ValidationError naming the allowed range."""
    changes: dict[str, Any] = {}
    if update.backup_interval_hours is not None:
        if not 1 <= update.backup_interval_hours <= BACKUP_HOURS_MAX:
            raise ValidationError(f"backup_interval_hours: 1 to {BACKUP_HOURS_MAX} hours (30 days)")
        changes["backup_interval_hours"] = update.backup_interval_hours
    if update.backup_dir is not None:
        if not update.backup_dir.startswith("/"):
            raise ValidationError("backup_dir: an absolute path")
        changes["backup_dir"] = update.backup_dir
    if update.backup_keep is not None:
        if not 1 <= update.backup_keep <= BACKUP_KEEP_MAX:
            raise ValidationError(f"backup_keep: keep 1 to {BACKUP_KEEP_MAX} backups")
        changes["backup_keep"] = update.backup_keep
    return changes


def apply_update(current: Settings, update: SettingsUpdate) -> dict[str, Any]:
    """Validate ``update`` against ``current``; returns the changed keys and values.

    Raises ValidationError naming the allowed range for an out-of-range interval."""
    changes: dict[str, Any] = {}
    if update.sync_interval_minutes is not None:
        minutes = update.sync_interval_minutes
        if not INTERVAL_MIN <= minutes <= INTERVAL_MAX:
            raise ValidationError(
                f"sync_interval_minutes: {minutes} is out of range; allowed {INTERVAL_MIN} to {INTERVAL_MAX} "
                "minutes (10 minutes to 24 hours)"
            )
        changes["sync_interval_minutes"] = minutes
    if update.watch_interval_seconds is not None:
        seconds = update.watch_interval_seconds
        if seconds != 0 and not WATCH_MIN_S <= seconds <= WATCH_MAX_S:
            raise ValidationError(f"watch_interval_seconds: {seconds} is out of range; allowed {WATCH_MIN_S} to "
                                  f"{WATCH_MAX_S} seconds, or 0 to turn the watch pull off")
        changes["watch_interval_seconds"] = seconds
    if update.push_enabled is not None:
        changes["push_enabled"] = update.push_enabled
    if update.crm_delete_enabled is not None:
        changes["crm_delete_enabled"] = update.crm_delete_enabled
    if update.score_threshold is not None:
        level = update.score_threshold
        if isinstance(level, str) and level not in INTEREST_LEVELS:
            raise ValidationError(f"score_threshold: {level!r} is not an interest level; one of "
                                  + ", ".join(f"{k} ({v})" for k, v in INTEREST_LEVELS.items()) + ", or a lead score")
        if isinstance(level, int) and not 0 <= level <= 1_000_000:
            raise ValidationError("score_threshold: a lead score from 0 to 1000000")
        changes["score_threshold"] = level
    if update.time_zone is not None:
        time_zone(update.time_zone.strip())  # raises ValidationError for an unknown zone
        changes["time_zone"] = update.time_zone.strip()
    if update.fallback_owner is not None:
        changes["fallback_owner"] = update.fallback_owner.strip()
    changes.update(_backup_changes(update))
    for key in update.clear:
        if key not in CLEARABLE:
            raise ValidationError(f"clear: only {', '.join(CLEARABLE)} can be cleared, not {key!r}")
        changes[key] = None
    return changes


async def save_update(store: Store, current: Settings, update: SettingsUpdate) -> dict[str, Any]:
    """Validate and store ``update``; returns the changed keys and values as stored.

    A fallback owner given as an email is stored as that active CRM owner's id, and a new one lets the
    contacts held for want of an owner be retried. Raises ValidationError (ranges, an unknown or inactive
    owner)."""
    changes = apply_update(current, update)
    if changes.get("fallback_owner"):
        changes["fallback_owner"] = await resolve_active_owner(store, changes["fallback_owner"])
    await store.put_settings(changes)
    if "fallback_owner" in changes:
        async with store.transaction() as db:
            await sync_errors.retry_no_owner(db)
    return changes


def load(values: dict[str, Any]) -> Settings:
    known = {k: v for k, v in values.items() if k in Settings.__struct_fields__}
    return msgspec.convert(known, Settings)
