"""How the TUI writes times, durations, counts and missing values.

Times from the agent are epoch milliseconds, UTC; they are shown in UTC so the same data always
reads the same (tests replace :func:`format_time` to freeze the clock-dependent values).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from leadsync.common.models import SyncRun

MISSING = "—"


def format_time(ms: int | None) -> str:
    """``2024-05-01 14:03 UTC`` style (minutes), or a dash for None."""
    if ms is None:
        return MISSING
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def format_duration(start_ms: int | None, end_ms: int | None) -> str:
    """``850 ms``, ``12.4 s`` or ``3 min 05 s``; a dash when either end is unknown."""
    if start_ms is None or end_ms is None:
        return MISSING
    ms = max(0, end_ms - start_ms)
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(ms // 1000, 60)
    return f"{minutes} min {seconds:02d} s"


def format_value(value: Any) -> str:
    """A field value as text: a dash for None/empty, yes/no for booleans, thousands separators."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_interval(minutes: int) -> str:
    """``45 min``, ``2 h``, ``1 h 30 min``, ``24 h``."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" if not rest else f"{hours} h {rest} min"


def person(first: str | None, last: str | None) -> str:
    return " ".join(x for x in (first, last) if x)


def run_summary(run: SyncRun) -> str:
    """``#3 ok (manual): pulled 1,200, created in CRM 25, updated in CRM 0, failed 0``."""
    text = (f"#{run.id} {run.status} ({run.trigger}): pulled {run.pulled:,}, created here {run.created_local:,}, "
            f"created in CRM {run.created_crm:,}, updated in CRM {run.updated_crm:,}, failed {run.failed:,}")
    return text + (f" — {run.error}" if run.error else "")
