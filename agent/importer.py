"""``contacts.import``: CSV rows validated one by one; good rows are imported, bad ones reported.

Rows are matched to existing contacts by email (trimmed, case-insensitive, case C09), so importing
the same file again updates instead of duplicating, and changes nothing when nothing changed. New
contacts are owned by the importing user and marked for push as leads.
"""

from __future__ import annotations

from typing import Any

import msgspec

from leadsync.agent.contacts import record_provenance
from leadsync.agent.store.store import Store, dumps, loads
from leadsync.agent.users import owner_for_user
from leadsync.agent.validation import clean_contact_fields
from leadsync.common.csvio import ImportRow, map_header
from leadsync.common.emails import normalize_email
from leadsync.common.errors import ValidationError
from leadsync.common.instants import now_ms
from leadsync.common.models import STANDARD_FIELDS

_STD = frozenset(STANDARD_FIELDS)


class RowError(msgspec.Struct):
    line: int
    reason: str


class ImportReport(msgspec.Struct, kw_only=True):
    """What an import did: counts, the bad rows with line number and reason, rows naming a contact an
    earlier row of the same call already named (skipped, so a value never flips between rows), and
    the columns not imported."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[RowError] = msgspec.field(default_factory=list)
    unmapped_columns: list[str] = msgspec.field(default_factory=list)
    duplicates: list[RowError] = msgspec.field(default_factory=list)


def _row_values(row: ImportRow, mapping: dict[int, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for index, field in mapping.items():
        raw = row.values[index] if index < len(row.values) else ""
        text = raw.strip() if field != "street" else raw
        if text == "":
            continue
        if field == "lead_score":
            try:
                values[field] = int(float(text))
            except ValueError:
                raise ValidationError(f"lead_score: {text!r} is not a number") from None
        else:
            values[field] = text
    return values


async def import_rows(store: Store, user_id: int, header: list[str], rows: list[ImportRow],
                      report: ImportReport | None = None) -> ImportReport:
    """Import one batch of rows as user ``user_id``; adds to ``report`` (for multi-batch imports).

    Raises ValidationError only for a header that cannot be imported (no email column, a column twice).
    """
    report = report or ImportReport()
    mapping, unmapped = map_header(header)
    report.unmapped_columns = unmapped
    matched = await owner_for_user(store, user_id)
    owner = matched[0] if matched else None
    stamp = now_ms()
    seen: dict[str, int] = {}  # email key -> the line that named it first
    async with store.transaction() as db:
        for row in rows:
            report.rows += 1
            try:
                if len(row.values) > len(header):
                    raise ValidationError(f"the row has {len(row.values)} values but the header has {len(header)} "
                                          "columns (an unquoted comma or a broken quote?)")
                values = clean_contact_fields(_row_values(row, mapping))
                if not values.get("email"):
                    raise ValidationError("email: is required")
                key = normalize_email(values["email"])
            except ValidationError as exc:
                report.failed.append(RowError(row.line, exc.message))
                continue
            if key in seen:
                report.duplicates.append(RowError(row.line, f"the same contact as line {seen[key]} (emails match "
                                                            "trimmed and case-insensitively); skipped"))
                continue
            seen[key] = row.line
            async with db.execute(f"SELECT id, {', '.join(STANDARD_FIELDS)}, fields FROM contacts "
                                  "WHERE email_norm = ?", (key,)) as cur:
                existing = await cur.fetchone()
            std = {f: values.pop(f) for f in list(values) if f in _STD}
            if existing is None:
                std.setdefault("lifecycle_stage", "lead")
                cols = list(std)
                await db.execute(
                    f"INSERT INTO contacts({', '.join(cols)}, email_norm, owner_id, created_by, source, fields, "
                    f"created_at, updated_at, push_wanted) VALUES ({', '.join('?' * len(cols))}, ?, ?, ?, "
                    "'import', ?, ?, ?, 1)",
                    [*std.values(), key, owner, user_id, dumps(values), stamp, stamp])
                report.created += 1
                continue
            changed = {f: v for f, v in std.items() if existing[f] != v and f != "email"}
            extra = loads(existing["fields"]) or {}
            extra_changed = {f: v for f, v in values.items() if extra.get(f) != v}
            if not changed and not extra_changed:
                report.unchanged += 1
                continue
            sets = [f"{f} = ?" for f in changed] + ["fields = json_patch(fields, ?)", "updated_at = ?"]
            await db.execute(f"UPDATE contacts SET {', '.join(sets)}, local_rev = local_rev + 1 WHERE id = ?",
                             [*changed.values(), dumps(extra_changed), stamp, existing["id"]])
            previous = {f: existing[f] for f in changed} | {f: extra.get(f) for f in extra_changed}
            await record_provenance(db, existing["id"], previous, "import", None, stamp)
            report.updated += 1
    return report
