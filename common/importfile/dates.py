"""Dates and date-times as CRMs and spreadsheets write them, read into one local form.

Accepted: ISO 8601 (``2024-03-05``, ``2024-03-05 14:22``, ``2024-03-05T14:22:10.5+01:00``, ``…Z``),
and numeric day/month orders with ``/``, ``-`` or ``.`` and a 2- or 4-digit year, optionally with a
time (``3/5/2024 2:22 PM``, ``05.03.2024 14:22``) and a zone (``Z``, ``UTC``, ``GMT``, ``+01:00``).

The day/month order is decided per column (:class:`OrderVote`): a value with a day above 12 proves
its order; dotted dates are day-first (the European convention). A column whose values are all
ambiguous (``03/04/2024``) needs ``--date-format``; one that mixes both orders is refused.

Local form (as :mod:`leadsync.agent.engine.mapping` expects for text values): a date is
``YYYY-MM-DD``; a date-time is UTC ``YYYY-MM-DDTHH:MM:SSZ``. A time without a zone is read in the
account's time zone (the ``time_zone`` setting).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Literal

from leadsync.common.errors import ValidationError

Order = Literal["YMD", "DMY", "MDY"]
ORDERS: tuple[Order, ...] = ("YMD", "DMY", "MDY")
_TIME = r"(?:[T ,]\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*([AaPp][Mm])?\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})?)?"
_ISO = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})" + _TIME + "$")
_NUMERIC = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})" + _TIME + "$")


def evidence(text: str) -> frozenset[Order] | None:
    """The orders ``text`` can be read in (one when it proves its order), or None when it is no date."""
    text = text.strip()
    if _ISO.match(text):
        return frozenset({"YMD"})
    match = _NUMERIC.match(text)
    if not match:
        return None
    first, sep, second = int(match.group(1)), match.group(2), int(match.group(3))
    if sep == ".":
        return frozenset({"DMY"}) if _valid(first, second) else None
    orders: set[Order] = set()
    if _valid(first, second):
        orders.add("DMY")
    if _valid(second, first):
        orders.add("MDY")
    return frozenset(orders) or None


def _valid(day: int, month: int) -> bool:
    return 1 <= day <= 31 and 1 <= month <= 12


class OrderVote:
    """Collects a column's values (:meth:`add`) and decides its order (:meth:`decide`)."""

    def __init__(self, column: str) -> None:
        self.column = column
        self.proof: dict[Order, str] = {}
        self.ambiguous: str | None = None
        self.dates = 0
        self.others = 0

    def add(self, text: str, line: int) -> None:
        orders = evidence(text)
        if orders is None:
            self.others += 1
            return
        self.dates += 1
        numeric = orders - {"YMD"}
        if len(numeric) == 1:
            self.proof.setdefault(next(iter(numeric)), f"{text!r} on line {line}")
        elif len(numeric) > 1 and self.ambiguous is None:
            self.ambiguous = f"{text!r} on line {line}"

    def decide(self, date_format: Order | None) -> Order:
        """The column's order. Raises ValidationError when its rows disagree, or when they are all
        ambiguous and no ``date_format`` was given."""
        if "DMY" in self.proof and "MDY" in self.proof:
            raise ValidationError(f"column {self.column!r} mixes day-first ({self.proof['DMY']}) and month-first "
                                  f"({self.proof['MDY']}) dates; fix the file or --map the column to text")
        if self.proof:
            return next(iter(self.proof))
        if self.ambiguous is not None:
            if date_format is None:
                raise ValidationError(f"column {self.column!r}: dates such as {self.ambiguous} can be read day-first "
                                      "or month-first and no row decides it: give --date-format DMY or MDY")
            return date_format
        return "YMD"


def parse_date_format(text: str) -> Order:
    """``DMY``, ``dd.mm.yyyy``, ``%m/%d/%Y``, ``MM/DD/YYYY``... -> the order of day, month and year.
    Raises ValidationError for anything else."""
    letters = [c for c in text.upper().replace("%", "") if c in "DMY"]
    named: dict[str, Order] = {o: o for o in ORDERS}
    order = named.get("".join(dict.fromkeys(letters)))
    if order is None:
        raise ValidationError(f"date_format: {text!r} is not a day/month/year order; give DMY, MDY or YMD "
                              "(or a pattern such as DD.MM.YYYY)")
    return order


def time_zone(name: str) -> dt.tzinfo:
    """The zone named ``name`` (IANA, e.g. ``Europe/Berlin``); raises ValidationError."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"time_zone: {name!r} is not an IANA time zone (such as Europe/Berlin or UTC)") from None


def parse(text: str, order: Order, zone: dt.tzinfo) -> str:
    """``text`` in the local form (module doc). Raises ValueError when it is no date in ``order``."""
    text = text.strip()
    iso = _ISO.match(text)
    numeric = None if iso else _NUMERIC.match(text)
    if iso:
        year, month, day = int(iso.group(1)), int(iso.group(2)), int(iso.group(3))
        time_parts = iso.groups()[3:]
    elif numeric and order != "YMD":
        first, second, year = int(numeric.group(1)), int(numeric.group(3)), int(numeric.group(4))
        year += 2000 if year < 100 else 0
        day, month = (first, second) if order == "DMY" or numeric.group(2) == "." else (second, first)
        time_parts = numeric.groups()[4:]
    else:
        raise ValueError(text)
    day_value = dt.date(year, month, day)
    hour, minute, second_s, meridiem, zone_text = time_parts
    if hour is None:
        return day_value.isoformat()
    hours = int(hour)
    if meridiem:
        if not 1 <= hours <= 12:
            raise ValueError(text)
        hours = hours % 12 + (12 if meridiem.lower() == "pm" else 0)
    moment = dt.datetime.combine(day_value, dt.time(hours, int(minute), int(second_s or 0)))
    moment = moment.replace(tzinfo=_zone(zone_text) if zone_text else zone)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _zone(text: str) -> dt.tzinfo:
    if text.upper() in ("Z", "UTC", "GMT"):
        return dt.UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
