"""``store.*``: the local store itself (backups while the agent runs)."""

from __future__ import annotations

from pathlib import Path

from leadsync.agent.api.registry import ApiContext, Params, method
from leadsync.agent.backups import BackupAnswer, backup_store


class StoreBackup(Params):
    path: str


@method("store.backup", StoreBackup)
async def store_backup(ctx: ApiContext, p: StoreBackup) -> BackupAnswer:
    """Back the store up to path (absolute; a directory gets a dated leadsync-<UTC time>.db) with SQLite's
    online backup API, also while a sync writes; the copy (0600) passes integrity_check before it is put in
    place. Answers path, bytes and took_ms; DISK_FULL when the target's disk is full. Secrets are not in it.

    Restore with ``leadsync restore PATH`` while the agent is stopped."""
    return await backup_store(ctx.store.path, Path(p.path))
