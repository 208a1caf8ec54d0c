"""Time values as HubSpot's CRM v3 writes and reads them.

All instants are epoch milliseconds (UTC) inside the sandbox. On the wire HubSpot uses:

- ``createdAt`` / ``updatedAt`` / ``archivedAt`` and datetime property values: ISO-8601 with
  milliseconds and ``Z`` (``2024-01-17T19:55:04.281Z``);
- date property values: ``YYYY-MM-DD`` (a date is midnight UTC);
- search filter values for date/datetime properties: epoch ms *or* ISO-8601 (any offset).

Docs followed: HubSpot "CRM search" guide (filter values) and "Properties" guide (date = midnight UTC).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta

from leadsync.agent.connectors.sandbox.clock import system_clock as system_clock  # re-exported

MS_PER_DAY = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INT_RE = re.compile(r"-?\d+")


def ms_to_iso(ms: int) -> str:
    """Format epoch ms as HubSpot's ISO-8601 instant, e.g. ``2024-01-17T19:55:04.281Z``."""
    secs, milli = divmod(ms, 1000)
    t = time.gmtime(secs)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{milli:03d}Z"
    )


def ms_to_date(ms: int) -> str:
    """Format epoch ms as a ``YYYY-MM-DD`` date (UTC)."""
    t = time.gmtime(ms // 1000)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"


def parse_instant_ms(value: str) -> int | None:
    """Parse an epoch-ms string or an ISO-8601 date/datetime into epoch ms.

    A naive ISO value is taken as UTC; an offset (``+02:00``, ``Z``) is honoured. Returns ``None``
    when the value is neither form.
    """
    text = value.strip()
    if not text:
        return None
    if _INT_RE.fullmatch(text):
        return int(text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (parsed - _EPOCH) // timedelta(milliseconds=1)


def parse_date_ms(value: str) -> int | None:
    """Parse a date property value (``YYYY-MM-DD`` or epoch ms at midnight UTC) into epoch ms.

    Returns ``None`` when the value is not a date or the epoch ms is not midnight UTC (HubSpot
    refuses such values for date properties).
    """
    text = value.strip()
    if _INT_RE.fullmatch(text):
        ms = int(text)
        return ms if ms % MS_PER_DAY == 0 else None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return (datetime(day.year, day.month, day.day, tzinfo=UTC) - _EPOCH) // timedelta(milliseconds=1)
