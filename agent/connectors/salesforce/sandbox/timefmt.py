"""Time values as the Salesforce REST API writes and reads them.

Inside the sandbox every instant is epoch milliseconds (UTC) from the state's clock. On the wire:

- dateTime values in records: ``2024-03-11T07:30:00.000+0000`` (always UTC, ``+0000`` without a colon);
- date values: ``2024-03-11``;
- ``start``/``end`` of ``/updated`` and ``/deleted``: ISO-8601 with an offset (``2024-03-11T07:30:00+00:00``);
- SOQL dateTime literals: ``2024-03-11T07:30:00Z``, ``...+05:30``, optional fractional seconds.

``SystemModstamp`` and the other audit fields have whole seconds on Salesforce, so the sandbox stores
them floored to the second (:func:`to_second`).
"""

from __future__ import annotations

import datetime as dt

from leadsync.agent.connectors.sandbox.clock import system_clock as system_clock  # re-exported

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)
DAY_MS = 86_400_000


def to_second(ms: int) -> int:
    """``ms`` floored to the whole second."""
    return ms - ms % 1000


def ms_to_wire(ms: int) -> str:
    """``2024-03-11T07:30:00.000+0000``."""
    instant = _EPOCH + dt.timedelta(milliseconds=ms)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}+0000"


def ms_to_date(ms: int) -> str:
    """``YYYY-MM-DD`` (UTC) of an instant."""
    return (_EPOCH + dt.timedelta(milliseconds=ms)).strftime("%Y-%m-%d")


def parse_instant(text: str) -> int | None:
    """Epoch ms of an ISO-8601 dateTime with ``Z`` or an offset (``+0000``, ``+05:30``); a naive time is
    UTC. None when ``text`` is not one."""
    try:
        instant = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    return (instant - _EPOCH) // _MS


def parse_date(text: str) -> str | None:
    """``text`` if it is a ``YYYY-MM-DD`` calendar date, else None."""
    try:
        return dt.date.fromisoformat(text).isoformat() if len(text) == 10 else None
    except ValueError:
        return None
