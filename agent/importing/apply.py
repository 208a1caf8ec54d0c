"""``contacts.import``: rows (``[line, values]`` under a header) read, matched and written, or with
``dry_run`` the same decisions made and rolled back (:meth:`Store.dry_run`), so a preview is exact.

Rows match existing contacts by email (trimmed, case-insensitive, case C09): importing the same file
again changes nothing; blank cells never clear a value; a value equal to the stored one as text (an
exported ``42`` against a stored number 42) is no change. New contacts are created as the owner the
file names when it matches a user (:mod:`.owners`), else as the importing user, and marked for push
as leads. Owners of existing contacts are never changed (the CRM decides them). A file sent in
chunks shares an ``import_id``, so an email on two lines of one file is found across chunks: the
first line wins and the later one is reported in ``duplicates`` (a chunk sent again is not its own
duplicate). A lead score reaching the
threshold triggers the same urgent push as ``contacts.score`` (:func:`leadsync.agent.pushes.score_changed`).
A row that would move an existing contact's lifecycle stage backwards (a customer back to lead) leaves
the stage as it is, with a ``stage_not_demoted`` warning for that line; the rest of the row is imported
(:mod:`leadsync.agent.lifecycle`).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import aiosqlite

from leadsync.agent import lifecycle
from leadsync.agent.contacts import record_provenance
from leadsync.agent.exporting import plain_text
from leadsync.agent.importing.owners import OwnerIndex
from leadsync.agent.importing.values import ParsedRow, RowReader, split_list
from leadsync.agent.pushes import score_changed
from leadsync.agent.runtime import Runtime
from leadsync.agent.store.queries import contacts_local as local_rows
from leadsync.agent.store.queries import import_lines
from leadsync.agent.store.queries.contacts_local import ImportMatch
from leadsync.agent.store.store import Store
from leadsync.agent.users import find_user
from leadsync.common.csvio import ImportRow
from leadsync.common.importfile import dates
from leadsync.common.importfile.columns import decide_orders, plan_columns
from leadsync.common.importfile.report import ImportReport, Problem, RowError
from leadsync.common.instants import now_ms


async def _first_lines(store: Store, import_id: str | None, parsed: list[ParsedRow], last: bool) -> dict[str, int]:
    """Email key -> the first line it is on in the file (across the chunks of ``import_id``, else in
    this chunk); with ``last`` the file's keys are forgotten once read."""
    if import_id is None:
        first: dict[str, int] = {}
        for item in parsed:
            first.setdefault(item.key, item.line)
        return first
    async with store.transaction() as db:
        first = await import_lines.claim_lines(db, import_id, [(p.key, p.line) for p in parsed], time.monotonic())
        if last:
            await import_lines.forget_file(db, import_id)
    return first


async def import_contacts(agent: Runtime, *, as_user: int | str, header: list[str], rows: list[ImportRow],
                          dry_run: bool = False, import_id: str | None = None, mapping: dict[str, str] | None = None,
                          skip: list[str] | None = None, date_format: str | None = None,
                          date_columns: dict[str, str] | None = None, last: bool = False) -> ImportReport:
    """Import (or preview) one batch of rows as user ``as_user`` (id or email).

    ``mapping``/``skip``: see :func:`.columns.plan_columns`. ``date_format``: DMY, MDY or YMD for
    columns no row decides. ``date_columns``: column -> order decided over the whole file (the CLI
    sends it); without it the date columns and their orders are decided from these rows. ``import_id``:
    the file's chunks share it, so an email on two lines is found across chunks (kept on disk, see
    :mod:`~leadsync.agent.store.queries.import_lines`); ``last``: this is its final chunk.
    Raises ValidationError for a header or option that cannot be imported (nothing is written) and
    NotFoundError for an unknown user; bad rows come back in ``failed``."""
    store = agent.store
    user = await find_user(store, as_user)
    plan = plan_columns(header, mapping=mapping, skip=skip)
    zone_name = agent.settings.time_zone
    fallback = dates.parse_date_format(date_format) if date_format else None
    orders = ({c: dates.parse_date_format(o) for c, o in date_columns.items()} if date_columns is not None
              else decide_orders(plan, rows, fallback))
    report = ImportReport(dry_run=dry_run, columns=plan, time_zone=zone_name, date_orders=dict(orders),
                          unmapped_columns=[c.column for c in plan if c.field is None])
    owners = await OwnerIndex.load(store)
    reader = RowReader(plan, report, owners, date_orders=orders, zone=dates.time_zone(zone_name))
    read: list[ParsedRow] = []
    for row in rows:
        report.rows += 1
        item = reader.read(row)
        if item is not None:
            read.append(item)
    first = await _first_lines(store, import_id, read, last)
    parsed: list[ParsedRow] = []
    for item in read:
        if first[item.key] != item.line:
            report.duplicates.append(RowError(
                line=item.line, column=reader.column_of.get("email"), value=item.key, kind="duplicate",
                message=f"the same contact as line {first[item.key]} (emails match trimmed and "
                        f"case-insensitively); skipped: line {first[item.key]} wins"))
            continue
        parsed.append(item)
    report.skipped = len(report.duplicates)
    view = store.dry_run() if dry_run else contextlib.nullcontext(store)
    async with view as target:
        scores = await _write(target, parsed, user.id, owners, report)
    if not dry_run:
        for contact_id, old, new in scores:
            report.threshold_pushes += bool(await score_changed(agent, contact_id, old, new))
        agent.emit({"type": "contacts_imported", "created": report.created, "updated": report.updated})
    return report


async def _write(store: Store, parsed: list[ParsedRow], importer_id: int, owners: OwnerIndex,
                 report: ImportReport) -> list[tuple[int, int | None, int | None]]:
    """Create or update each row; returns (contact id, old score, new score) for rows setting a score."""
    scores: list[tuple[int, int | None, int | None]] = []
    stamp = now_ms()
    async with store.transaction() as db:
        existing = await local_rows.contacts_by_email_keys(db, [p.key for p in parsed])
        for item in parsed:
            found = existing.get(item.key)
            if found is None:
                contact_id = await _create(db, item, importer_id, owners, report, stamp)
                report.created += 1
                if item.standard.get("lead_score") is not None:
                    scores.append((contact_id, None, item.standard["lead_score"]))
            elif await _update(db, item, found, owners, report, stamp):
                report.updated += 1
                if "lead_score" in item.standard:
                    scores.append((found.id, found.standard["lead_score"], item.standard["lead_score"]))
            else:
                report.unchanged += 1
    return scores


def _owner_problem(item: ParsedRow, kind: str, message: str) -> Problem:
    return Problem(line=item.line, column=item.owner_column, value=item.owner_value, kind=kind, message=message)


async def _create(db: aiosqlite.Connection, item: ParsedRow, importer_id: int, owners: OwnerIndex,
                  report: ImportReport, stamp: int) -> int:
    creator = importer_id
    if item.owner is not None:
        if item.owner.problem is not None:
            report.warnings.append(_owner_problem(item, *item.owner.problem))
        creator = item.owner.user_id or importer_id
    return await local_rows.insert_contact(db, local_rows.NewContact(
        standard={"lifecycle_stage": "lead", **item.standard}, email_norm=item.key,
        owner_id=owners.owner_for(creator), created_by=creator, source="import", fields=item.custom, stamp=stamp,
        push=True))


def _stage_kept(item: ParsedRow, current: str, refused: str, report: ImportReport) -> Problem:
    column = next((c.column for c in report.columns if c.field == lifecycle.FIELD), None)
    return Problem(line=item.line, column=column, value=refused, kind="stage_not_demoted",
                   message=f"the contact is already {current}, past {refused}: a lifecycle stage only moves forward, "
                           "so it stays (set it back with contacts.update and force: true)")


def _same(stored: Any, new: Any) -> bool:
    return bool(stored == new or (stored is not None and plain_text(stored) == plain_text(new)))


async def _update(db: aiosqlite.Connection, item: ParsedRow, found: ImportMatch, owners: OwnerIndex,
                  report: ImportReport, stamp: int) -> bool:
    """Apply a row to an existing contact; False when nothing changed."""
    if item.owner is not None and item.owner.owner_id != found.owner_id:
        report.warnings.append(_owner_problem(item, "owner_not_changed", (
            f"the contact's owner stays {found.owner_id or 'unassigned'}: ownership comes from the CRM "
            "(change it there)")))
    stored = found.standard
    changed = {f: v for f, v in item.standard.items() if f != "email" and not _same(stored[f], v)}
    if lifecycle.is_demotion(stored[lifecycle.FIELD], changed.get(lifecycle.FIELD)):
        report.warnings.append(_stage_kept(item, stored[lifecycle.FIELD], changed.pop(lifecycle.FIELD), report))
    extra = found.fields
    custom = {f: split_list(v) if isinstance(extra.get(f), list) and isinstance(v, str) else v
              for f, v in item.custom.items()}
    extra_changed = {f: v for f, v in custom.items() if not _same(extra.get(f), v)}
    if not changed and not extra_changed:
        return False
    await local_rows.edit_contact(db, found.id, changed, fields_patch=extra_changed, stamp=stamp)
    previous = {f: stored[f] for f in changed} | {f: extra.get(f) for f in extra_changed}
    await record_provenance(db, found.id, previous, "import", None, stamp)
    return True
