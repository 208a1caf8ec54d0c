"""When a CRM's spent daily API quota frees up again, and how a person reads that instant."""

from __future__ import annotations

import datetime as dt

from leadsync.common.instants import now_ms


def quota_free_at_ms(retry_after_s: float | None) -> int:
    """When the quota frees up (epoch ms UTC): ``retry_after_s`` from now when the CRM said (a
    ``Retry-After`` or its reset header), else the next midnight UTC (HubSpot's daily quota resets then)."""
    if retry_after_s is not None:
        return now_ms() + int(retry_after_s * 1000)
    midnight = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.timestamp() * 1000)


def utc_text(epoch_ms: int) -> str:
    """``epoch_ms`` as ``YYYY-MM-DD HH:MM UTC``."""
    return dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
