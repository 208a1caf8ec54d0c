"""``sync_errors``: records a sync could not write, with the reason; open until resolved.

One open error per record and problem: the same ``operation`` and ``code`` on the same contact (or CRM
record) again is counted on the open row (``count``, ``last_seen_at``, the latest reason and ``detail``)
instead of a new row (the unique index ``sync_errors_one_open``). An error of a transient kind
(:func:`is_transient`: no answer, a lock, a rate limit, an outage) gets ``next_retry_at``, the time an
automatic retry is due, after :data:`RETRY_DELAYS_MS`; one a retry cannot fix (a refused value, a missing
owner) waits for a change or a person (``errors.retry``).

These are the sync engine's statements (a pull or push records errors; a confirmed write resolves them) and
those of ``errors.list`` and ``errors.retry``. Times are epoch ms UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

import aiosqlite
import msgspec

from leadsync.agent.store.queries.rows import to_struct
from leadsync.agent.store.store import IN_JSON, Store, dumps, json_list, loads
from leadsync.common.models import SyncError

RETRY_DELAYS_MS: Final = (60_000, 300_000, 1_800_000, 7_200_000, 21_600_000)
"""How long after its 1st, 2nd, ... failure a transient error is retried on its own: 1 min, 5 min, 30 min,
2 h, then every 6 h (the last delay repeats), as HubSpot's own integrations retry failed records."""

TRANSIENT_CODES: Final = frozenset({
    "NO_RESULT",  # leadsync: the CRM's answer did not mention the record
    "RATE_LIMITS", "INTERNAL_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT",  # HubSpot categories
    "UNABLE_TO_LOCK_ROW", "REQUEST_RUNNING_TOO_LONG", "SERVER_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED",  # Salesforce
    "TOO_MANY_REQUESTS", "LIMIT_REACHED",  # Zoho
})
"""Error codes a retry can fix: the CRM could not take the record just then, nothing is wrong with it."""

_KEY: Final = "coalesce(contact_id, -1), coalesce(crm_id, ''), operation, coalesce(code, '')"
"""The expressions of ``sync_errors_one_open`` (migration 7): one open error per record and problem."""


def is_transient(code: str | None) -> bool:
    """Whether an error with ``code`` is retried on its own: no code (the CRM gave no answer for the record),
    :data:`TRANSIENT_CODES`, or an HTTP 429 / 5xx status named as the code (``HTTP_503``)."""
    if code is None:
        return True
    return code in TRANSIENT_CODES or code == "HTTP_429" or code.startswith("HTTP_5")


def retry_delay_ms(count: int) -> int:
    """The wait before the automatic retry of a transient error seen ``count`` times (see RETRY_DELAYS_MS)."""
    return RETRY_DELAYS_MS[min(max(count, 1), len(RETRY_DELAYS_MS)) - 1]


def _delay_sql(count: str) -> str:
    """:func:`retry_delay_ms` of the SQL expression ``count``."""
    cases = " ".join(f"WHEN {count} <= {n} THEN {d}" for n, d in enumerate(RETRY_DELAYS_MS[:-1], start=1))
    return f"(CASE {cases} ELSE {RETRY_DELAYS_MS[-1]} END)"


class NewSyncError(msgspec.Struct, frozen=True):
    """Sync run ``sync_run_id`` could not ``operation`` (pull, link, create, update, ...) contact
    ``contact_id`` / CRM record ``crm_id``: ``code`` (the CRM's or leadsync's) and ``reason``; ``local_rev``
    is the contact's revision then (retried once it changes); ``created_at`` epoch ms UTC; ``detail`` the
    CRM's raw answer (JSON-ready, secrets left out; None: none)."""

    sync_run_id: int
    contact_id: int | None
    crm_id: str | None
    operation: str
    code: str | None
    reason: str
    local_rev: int | None
    created_at: int
    detail: Any = None

    @property
    def key(self) -> tuple[int, str, str, str]:
        """The record and problem (as ``sync_errors_one_open`` compares them)."""
        return (-1 if self.contact_id is None else self.contact_id, self.crm_id or "", self.operation,
                self.code or "")


def _folded(errors: Sequence[NewSyncError]) -> list[NewSyncError]:
    """``errors`` with one per record and problem: the last, its reason joined with the others' (in order)."""
    by_key: dict[tuple[int, str, str, str], NewSyncError] = {}
    for error in errors:
        seen = by_key.get(error.key)
        if seen is not None and error.reason not in seen.reason.split("; "):
            error = msgspec.structs.replace(error, reason=f"{seen.reason}; {error.reason}")
        by_key[error.key] = error
    return list(by_key.values())


async def insert_sync_errors(db: aiosqlite.Connection, errors: Sequence[NewSyncError], *,
                             supersede: bool = False) -> None:
    """Record ``errors``: each a new open error, or one more sighting of the open error of the same record
    and problem (``count`` + 1, ``last_seen_at``, reason, detail, run and revision replaced). A transient one
    (:func:`is_transient`) is due for an automatic retry after :func:`retry_delay_ms` of its count.

    ``supersede``: the errors are the outcome of a new attempt at their contacts, which resolves those
    contacts' other open errors (at the error's time), but a refused owner (:data:`OWNER_OPERATION`)."""
    folded = _folded(errors)
    if supersede:
        await db.executemany(
            f"UPDATE sync_errors SET resolved_at = ?, next_retry_at = NULL WHERE contact_id = ? "
            f"AND resolved_at IS NULL AND ({_KEY}) != (?, ?, ?, ?) AND operation != '{OWNER_OPERATION}'",
            [(e.created_at, e.contact_id, *e.key) for e in folded if e.contact_id is not None])
    await db.executemany(
        "INSERT INTO sync_errors(sync_run_id, contact_id, crm_id, operation, code, reason, local_rev, created_at, "
        "last_seen_at, detail, count, next_retry_at) "
        f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, CASE WHEN ? THEN ? + {RETRY_DELAYS_MS[0]} END) "
        f"ON CONFLICT({_KEY}) WHERE resolved_at IS NULL DO UPDATE SET count = count + 1, "
        "last_seen_at = excluded.last_seen_at, reason = excluded.reason, detail = excluded.detail, "
        "sync_run_id = excluded.sync_run_id, local_rev = excluded.local_rev, next_retry_at = CASE WHEN "
        f"excluded.next_retry_at IS NULL THEN NULL ELSE excluded.last_seen_at + {_delay_sql('count + 1')} END",
        [(e.sync_run_id, e.contact_id, e.crm_id, e.operation, e.code, e.reason, e.local_rev, e.created_at,
          e.created_at, None if e.detail is None else dumps(e.detail), is_transient(e.code), e.created_at)
         for e in folded],
    )


async def record_pulled(db: aiosqlite.Connection, crm_ids: Sequence[str], errors: Sequence[NewSyncError],
                        stamp: int) -> None:
    """Record the errors of a pulled page (``errors``) and resolve, at ``stamp``, the open pull and link
    errors of the page's records (``crm_ids``) that did not come back: the record was read without them."""
    again = {e.key for e in errors}
    async with db.execute(
            f"SELECT id, {_KEY} FROM sync_errors WHERE resolved_at IS NULL AND operation IN ('pull', 'link') "
            f"AND crm_id IN {IN_JSON}", [json_list(crm_ids)]) as cur:
        open_rows = await cur.fetchall()
    gone = [(stamp, row[0]) for row in open_rows if tuple(row[1:]) not in again]
    await db.executemany("UPDATE sync_errors SET resolved_at = ?, next_retry_at = NULL WHERE id = ?", gone)
    await insert_sync_errors(db, errors)


OWNER_OPERATION = "owner"
"""The operation of a to-do's owner the CRM refused for good: open until an owner push of that contact is
confirmed, not closed by the contact's other writes (its fields went through without the owner)."""


async def resolve_open_errors(db: aiosqlite.Connection, contact_ids: Iterable[int | None], stamp: int) -> None:
    """Mark every open error of each of ``contact_ids`` resolved at ``stamp`` (one ``executemany``), but a
    refused owner (:data:`OWNER_OPERATION`)."""
    await db.executemany("UPDATE sync_errors SET resolved_at = ?, next_retry_at = NULL WHERE contact_id = ? "
                         f"AND resolved_at IS NULL AND operation != '{OWNER_OPERATION}'",
                         [(stamp, contact_id) for contact_id in contact_ids])


async def resolve_owner_errors(db: aiosqlite.Connection, contact_ids: Iterable[int], stamp: int) -> None:
    """The refused-owner errors of ``contact_ids``, whose owner push the CRM has now confirmed, resolved."""
    await db.executemany("UPDATE sync_errors SET resolved_at = ?, next_retry_at = NULL WHERE contact_id = ? "
                         f"AND resolved_at IS NULL AND operation = '{OWNER_OPERATION}'",
                         [(stamp, contact_id) for contact_id in contact_ids])


async def resolve_gone(db: aiosqlite.Connection, crm_ids: Sequence[str], stamp: int) -> None:
    """The open pull and link errors of CRM records the CRM no longer has (``crm_ids``) are resolved at ``stamp``."""
    await db.executemany("UPDATE sync_errors SET resolved_at = ?, next_retry_at = NULL WHERE crm_id = ? "
                         "AND operation IN ('pull', 'link') AND resolved_at IS NULL", [(stamp, i) for i in crm_ids])


def _error(row: aiosqlite.Row) -> SyncError:
    error = to_struct(row, SyncError)
    error.detail = loads(row["detail"])
    return error


async def list_errors(store: Store, *, include_resolved: bool, contact_id: int | None, limit: int,
                      code: str | None = None) -> list[SyncError]:
    """Newest first (by last sighting): open errors (all with ``include_resolved``), of one contact or of
    every record, of one ``code`` or of any."""
    where = ["1=1"] if include_resolved else ["resolved_at IS NULL"]
    params: list[Any] = []
    if contact_id is not None:
        where.append("contact_id = ?")
        params.append(contact_id)
    if code is not None:
        where.append("code = ?")
        params.append(code)
    rows = await store.fetchall(
        f"SELECT * FROM sync_errors WHERE {' AND '.join(where)} ORDER BY last_seen_at DESC, id DESC LIMIT ?",
        [*params, limit])
    return [_error(r) for r in rows]


async def errors_by_ids(store: Store, ids: Sequence[int]) -> list[SyncError]:
    """The errors ``ids`` (open or not), in id order; ids that name none are left out."""
    if not ids:
        return []
    rows = await store.fetchall(f"SELECT * FROM sync_errors WHERE id IN ({','.join('?' * len(ids))}) ORDER BY id",
                                list(ids))
    return [_error(r) for r in rows]


async def open_errors(store: Store, code: str | None = None) -> list[SyncError]:
    """Every open error (of ``code``, when given), in id order."""
    sql = "SELECT * FROM sync_errors WHERE resolved_at IS NULL" + (" AND code = ?" if code is not None else "")
    return [_error(r) for r in await store.fetchall(sql + " ORDER BY id", [code] if code is not None else [])]


async def count_held_contacts(store: Store) -> int:
    """Contacts with an open error (held until they change)."""
    return int(await store.scalar("SELECT count(DISTINCT contact_id) FROM sync_errors WHERE resolved_at IS NULL "
                                  "AND contact_id IS NOT NULL"))


async def retry_contacts(db: aiosqlite.Connection, contact_ids: Sequence[int]) -> None:
    """Let the next run retry these contacts' open errors even if the contacts did not change."""
    await db.execute(f"UPDATE sync_errors SET local_rev = NULL WHERE resolved_at IS NULL AND contact_id IN "
                     f"({','.join('?' * len(contact_ids))})", list(contact_ids))


async def retry_no_owner(db: aiosqlite.Connection) -> None:
    """Let the next run retry every contact held for want of a CRM owner (code ``no_owner``)."""
    await db.execute("UPDATE sync_errors SET local_rev = NULL WHERE code = 'no_owner' AND resolved_at IS NULL")


async def due_retries(store: Store) -> list[int]:
    """The contacts whose automatic retry is due (``next_retry_at`` reached by the store's clock)."""
    rows = await store.fetchall("SELECT DISTINCT contact_id FROM sync_errors WHERE resolved_at IS NULL "
                                "AND next_retry_at <= leadsync_now_ms() AND contact_id IS NOT NULL "
                                "ORDER BY contact_id")
    return [int(r[0]) for r in rows]


async def postpone_due(db: aiosqlite.Connection) -> None:
    """Errors still due after an automatic retry (the CRM was unreachable, or the contact no longer waits for a
    push) are due again after the delay of their count, by the store's clock: a retry never spins."""
    await db.execute(f"UPDATE sync_errors SET next_retry_at = leadsync_now_ms() + {_delay_sql('count')} "
                     "WHERE resolved_at IS NULL AND next_retry_at <= leadsync_now_ms()")


async def next_retry_at(store: Store) -> int | None:
    """When the next automatic retry is due (epoch ms UTC); None when none is."""
    value = await store.scalar("SELECT min(next_retry_at) FROM sync_errors WHERE resolved_at IS NULL")
    return None if value is None else int(value)


class ErrorGroupRow(msgspec.Struct, frozen=True):
    """Open errors of one ``code`` (None: the CRM gave none): how many, of how many contacts, the newest one
    (``sample_id``) and the soonest automatic retry (epoch ms UTC; None: none due)."""

    code: str | None
    errors: int
    contacts: int
    sample_id: int
    next_retry_at: int | None


async def open_groups(store: Store) -> list[ErrorGroupRow]:
    """Open errors grouped by code, the largest group first."""
    rows = await store.fetchall(
        "SELECT code, count(*) AS errors, count(DISTINCT contact_id) AS contacts, max(id) AS sample_id, "
        "min(next_retry_at) AS next_retry_at FROM sync_errors WHERE resolved_at IS NULL "
        "GROUP BY code ORDER BY errors DESC, coalesce(code, '')")
    return [to_struct(r, ErrorGroupRow) for r in rows]


async def open_ids_without_code(store: Store) -> list[int]:
    """Ids of the open errors that carry no code (``errors.retry`` takes them as ids, not as a code)."""
    rows = await store.fetchall("SELECT id FROM sync_errors WHERE resolved_at IS NULL AND code IS NULL ORDER BY id")
    return [int(r[0]) for r in rows]
