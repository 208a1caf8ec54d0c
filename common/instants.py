"""Instants as leadsync holds them: integer epoch milliseconds, UTC (in the store, the API and cursors)."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from typing import Final

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS: Final = dt.timedelta(milliseconds=1)
_FRACTION: Final = re.compile(r"(\.\d{6})\d+")
"""Fractional seconds beyond microseconds (.NET ticks have seven digits): cut to six."""

NowMs = Callable[[], int]
"""A wall clock: ``now_ms()`` -> epoch milliseconds, UTC (:func:`now_ms`, or a test's clock)."""


def now_ms() -> int:
    """Wall-clock time as epoch milliseconds, UTC."""
    return time.time_ns() // 1_000_000


def parse_instant_ms(value: object) -> int | None:
    """Epoch milliseconds (UTC) of an instant: an int (already epoch ms), text of epoch ms digits, or ISO-8601
    text with ``Z`` or any offset (a naive time is UTC; up to seven fractional digits, the rest cut to the
    millisecond below). None and ``""`` -> None.

    ``"2024-03-10T23:30:00-08:00"`` -> 1710142200000, whatever the machine's time zone (case B09).
    Raises ValueError for a bool, another type, or text that is not an instant.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{value!r} is not an instant")
    if isinstance(value, int):
        return value
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:  # Python 3.11+ reads Z, offsets and long fractions (cut to microseconds) itself: no regex pass
        instant = dt.datetime.fromisoformat(text)
    except ValueError:
        instant = dt.datetime.fromisoformat(_FRACTION.sub(r"\1", text))
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    return (instant - _EPOCH) // _MS
