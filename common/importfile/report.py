"""The one shape of an import's answer, how chunk answers add up, and how the CLI prints it.

Every problem is a :class:`Problem`: ``line`` (the file's line number), ``column`` (the header name, or
``column N (no header)``), ``value`` (as in the file), ``message`` and a short ``kind`` to group by
(``scientific_notation``, ``owner_unmatched``...). ``failed`` rows were not imported (their items also
carry ``reason``, the message, as they always did); ``warnings`` rows were imported with something to
review; ``duplicates`` and ``skipped_lines`` were left out on purpose.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import msgspec


class Problem(msgspec.Struct, kw_only=True):
    line: int
    column: str | None = None
    value: str | None = None
    message: str
    kind: str = "invalid"


class RowError(Problem, kw_only=True):
    """A row not imported; ``reason`` repeats ``message`` (the name scripts have always read)."""

    reason: str = ""

    def __post_init__(self) -> None:
        self.reason = self.reason or self.message


class ColumnInfo(msgspec.Struct, kw_only=True):
    """Where one column goes: ``field`` (a contact field, ``owner``, a custom field, or None when not
    imported), ``kind`` (standard, custom, owner, skipped, managed, headerless) and a note."""

    index: int
    column: str
    field: str | None
    kind: str
    multi: bool = False
    note: str = ""


class ImportReport(msgspec.Struct, kw_only=True):
    """What an import did, or would do with ``dry_run``: counts, the column plan, and every problem.

    ``time_zone`` is the zone date-times without one were read in (the ``time_zone`` setting);
    ``date_orders`` the day/month order used per date column (YMD, DMY or MDY); ``threshold_pushes``
    how many imported contacts reached the lead score threshold and were queued for an urgent push.
    The CLI adds ``file`` (encoding, delimiter, header line, sheet)."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    dry_run: bool = False
    failed: list[RowError] = msgspec.field(default_factory=list)
    warnings: list[Problem] = msgspec.field(default_factory=list)
    duplicates: list[RowError] = msgspec.field(default_factory=list)
    skipped_lines: list[Problem] = msgspec.field(default_factory=list)
    unmapped_columns: list[str] = msgspec.field(default_factory=list)
    columns: list[ColumnInfo] = msgspec.field(default_factory=list)
    time_zone: str = "UTC"
    date_orders: dict[str, str] = msgspec.field(default_factory=dict)
    threshold_pushes: int = 0
    file: dict[str, Any] | None = None


_COUNTS = ("rows", "created", "updated", "unchanged", "skipped", "threshold_pushes")
_LISTS = ("failed", "warnings", "duplicates", "skipped_lines")


def merge_answers(total: dict[str, Any] | None, part: dict[str, Any]) -> dict[str, Any]:
    """Add one chunk's answer (a decoded :class:`ImportReport`) to the running total; returns it."""
    if total is None:
        return dict(part)
    for key in _COUNTS:
        total[key] = total.get(key, 0) + part.get(key, 0)
    for key in _LISTS:
        total[key] = [*total.get(key, []), *part.get(key, [])]
    return total


def render(answer: dict[str, Any], *, limit_per_kind: int = 20) -> list[str]:
    """Readable lines for a (merged) answer: the file and column plan, the counts, then the problems,
    at most ``limit_per_kind`` of each kind (the JSON answer has them all)."""
    lines: list[str] = []
    if answer.get("file"):
        lines.append(layout_line(answer["file"]))
    for col in answer.get("columns", []):
        target = col["field"] if col["field"] else "not imported"
        extra = f" ({col['note']})" if col.get("note") else ""
        lines.append(f"  {col['column'] or '(no header)'!s:<30} -> {target}{' [list]' if col.get('multi') else ''}"
                     f"{extra}")
    if answer.get("date_orders"):
        lines.append(dates_line(answer))
    lines.append(counts_line(answer))
    if answer.get("threshold_pushes"):
        lines.append(f"{answer['threshold_pushes']} contacts reached the lead score threshold: pushed now")
    for title, key in (("failed (not imported)", "failed"), ("warnings (imported; review)", "warnings"),
                       ("duplicates (skipped)", "duplicates"), ("lines skipped", "skipped_lines")):
        items = answer.get(key) or []
        if items:
            lines.append(f"{title}:")
            lines += _grouped(items, limit_per_kind)
    return lines


def layout_line(info: dict[str, Any]) -> str:
    """``name.csv: encoding utf-8, delimiter ',', header on line 1`` (a sheet's name for ``.xlsx``),
    from an answer's ``file``."""
    where = f"sheet {info['sheet']!r}" if info.get("sheet") else \
        f"encoding {info.get('encoding')}, delimiter {info.get('delimiter')!r}"
    return f"{info.get('name')}: {where}, header on line {info.get('header_line')}"


def dates_line(answer: dict[str, Any]) -> str:
    """The day/month order each date column was read in, and the zone of times without one."""
    orders = ", ".join(f"{c}: {o}" for c, o in answer.get("date_orders", {}).items())
    return f"dates read as {orders}; times without a zone read in {answer.get('time_zone', 'UTC')}"


def counts_line(answer: dict[str, Any]) -> str:
    """``10 rows: 8 created, 1 updated, ...``, prefixed with what a dry run means."""
    prefix = "DRY RUN, nothing written: would be " if answer.get("dry_run") else ""
    return (f"{prefix}{answer['rows']} rows: {answer['created']} created, {answer['updated']} updated, "
            f"{answer['unchanged']} unchanged, {answer.get('skipped', 0)} skipped, "
            f"{len(answer['failed'])} failed, {len(answer.get('warnings', []))} warnings")


def _grouped(items: list[dict[str, Any]], limit: int) -> list[str]:
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        by_kind[item.get("kind", "invalid")].append(item)
    out: list[str] = []
    for group in by_kind.values():
        for item in group[:limit]:
            where = f"{item['column']} " if item.get("column") else ""
            value = f"{item['value']!r}: " if item.get("value") not in (None, "") else (": " if where else "")
            out.append(f"  line {item['line']}: {where}{value}{item['message']}")
        if len(group) > limit:
            out.append(f"  ... and {len(group) - limit} more like these (--json lists them all)")
    return out
