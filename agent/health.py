"""What ``sync.health`` reports: the connection, the API budget, the push backlog, the last runs and the open
errors grouped by cause; each problem with the next thing to do, as a sentence.

The budget comes from the agent's :class:`~leadsync.agent.connectors.usage.ApiUsage` (the rate-limit windows
of the connected CRM's limiters, the day's calls, the CRM's own quota count when it reports one, calls per
hour over the last 24 hours). Times are epoch ms UTC; durations in seconds.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final, Literal

import msgspec

from leadsync.agent.backlog import Backlog
from leadsync.agent.connectors.usage import UsageSnapshot
from leadsync.agent.runtime import Runtime
from leadsync.agent.store.queries import crm_connection, sync_errors, sync_runs
from leadsync.agent.store.queries.sync_errors import ErrorGroupRow, is_transient
from leadsync.agent.sync_status import read_status
from leadsync.common.instants import now_ms
from leadsync.common.models import SyncError, SyncRun

RUNS: Final = 10
"""The last runs shown."""
QUOTA_WARN: Final = 0.9
"""A reported day quota used this much or more is a problem."""
PROBLEM_STATUSES: Final = frozenset({"partial", "failed", "interrupted"})

State = Literal["ok", "needs_reauth", "quota_spent", "not_connected"]


class Problem(msgspec.Struct, kw_only=True):
    """One thing that needs a person: ``area`` (connection, budget, backlog, runs, errors), what is wrong
    (``message``) and what to do next (``next_step``), each a sentence."""

    area: str
    message: str
    next_step: str


class ConnectionHealth(msgspec.Struct, kw_only=True):
    """``state``: ok, needs_reauth (the CRM refused the stored credentials), quota_spent (syncs wait until
    ``quota_blocked_until``) or not_connected; which CRM, where, as whom."""

    state: State
    crm: str | None = None
    base_url: str | None = None
    user_email: str | None = None
    quota_blocked_until: int | None = None


class RunOutcome(msgspec.Struct, kw_only=True):
    """A past run: its counts (``pushed``: created plus updated in the CRM), ``problem`` when it ended
    partial, failed or interrupted."""

    id: int
    trigger: str
    status: str
    started_at: int
    finished_at: int | None
    pulled: int
    pushed: int
    failed: int
    api_calls: int
    error: str | None
    problem: bool


class ErrorGroup(msgspec.Struct, kw_only=True):
    """Open errors of one cause (``code``; None when the CRM gave none): how many errors and contacts, the
    newest one as a ``sample``, the soonest automatic retry, the ``errors.retry`` params that retry them all
    (``retry``) and what to do next."""

    code: str | None
    errors: int
    contacts: int
    sample: SyncError
    transient: bool
    next_retry_at: int | None
    retry: dict[str, Any]
    next_step: str


class Health(msgspec.Struct, kw_only=True):
    """The answer of ``sync.health`` (see the module docstring); ``problems`` lists every problem of every
    section, the most pressing first."""

    checked_at: int
    connection: ConnectionHealth
    budget: UsageSnapshot
    backlog: Backlog
    push_enabled: bool
    held_with_errors: int
    interval_minutes: int
    runs: list[RunOutcome]
    errors: list[ErrorGroup]
    problems: list[Problem]


def _utc(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


async def read_health(agent: Runtime) -> Health:
    """The agent's sync health now."""
    status = await read_status(agent)
    connection = await _connection(agent)
    runs = [_outcome(r) for r in await sync_runs.history(agent.store, before=None, limit=RUNS)]
    groups = [await _group(agent, row) for row in await sync_errors.open_groups(agent.store)]
    health = Health(checked_at=now_ms(), connection=connection, budget=agent.api_usage.snapshot(),
                    backlog=status.backlog, push_enabled=status.push_enabled, held_with_errors=status.held_with_errors,
                    interval_minutes=status.interval_minutes, runs=runs, errors=groups, problems=[])
    health.problems = [*_connection_problems(connection), *_budget_problems(health.budget),
                       *_run_problems(status.last_problem, status.last), *_backlog_problems(health),
                       *(Problem(area="errors", message=_group_message(g), next_step=g.next_step) for g in groups)]
    return health


async def _connection(agent: Runtime) -> ConnectionHealth:
    current = await crm_connection.get(agent.store)
    if current is None:
        return ConnectionHealth(state="not_connected")
    blocked = agent.quota_blocked_until_ms
    blocked = blocked if blocked is not None and blocked > now_ms() else None
    state: State = "needs_reauth" if current.status == "needs_reauth" else "quota_spent" if blocked else "ok"
    return ConnectionHealth(state=state, crm=current.crm, base_url=current.base_url, user_email=current.user_email,
                            quota_blocked_until=blocked)


def _connection_problems(connection: ConnectionHealth) -> list[Problem]:
    if connection.state == "not_connected":
        return [Problem(area="connection", message="No CRM is connected, so nothing syncs.",
                        next_step="Connect one: leadsync call crm.connect - < crm.json (README, Using it).")]
    if connection.state == "needs_reauth":
        return [Problem(area="connection", message=f"{connection.crm} refused the stored credentials; syncs "
                        "stop until they are replaced.",
                        next_step="Reconnect with new credentials: leadsync call crm.reauth - < credentials.json "
                        "(links, cursors and history stay).")]
    if connection.state == "quota_spent" and connection.quota_blocked_until is not None:
        return [Problem(area="connection", message=f"{connection.crm}'s API quota is spent; syncs wait until "
                        f"{_utc(connection.quota_blocked_until)}.",
                        next_step="Nothing to do: syncs start again by themselves then; if it happens often, "
                        "lengthen sync_interval_minutes or look at other integrations using the same quota.")]
    return []


def _budget_problems(budget: UsageSnapshot) -> list[Problem]:
    quota = budget.quota
    if quota is None or not quota.limit or quota.used < QUOTA_WARN * quota.limit:
        return []
    return [Problem(area="budget", message=f"The CRM reports {quota.used:,} of its {quota.limit:,} daily API "
                    f"requests used ({quota.left:,} left).",
                    next_step="Syncs stop when it is spent: lengthen sync_interval_minutes, or find the other "
                    "integrations spending the same quota.")]


def _outcome(run: SyncRun) -> RunOutcome:
    return RunOutcome(id=run.id, trigger=run.trigger, status=run.status, started_at=run.started_at,
                      finished_at=run.finished_at, pulled=run.pulled, pushed=run.created_crm + run.updated_crm,
                      failed=run.failed, api_calls=run.api_calls, error=run.error,
                      problem=run.status in PROBLEM_STATUSES)


def _run_problems(problem: SyncRun | None, last: SyncRun | None) -> list[Problem]:
    """The last partial or failed run while its work is not done (see ``sync_status.last_problem``), and the
    last run when it was interrupted."""
    found = []
    if problem is not None:
        if problem.status == "failed":
            message = f"Sync #{problem.id} failed: {problem.error or 'no reason recorded'}."
            step = ("Fix what the error says, then run leadsync sync (the next interval run also tries "
                    "again); leadsync status shows when it passes.")
        else:
            message = f"Sync #{problem.id} ended partial: {problem.failed:,} records failed" + (
                f" ({problem.error})." if problem.error else ".")
            step = "See the open errors below, fix their cause and retry them."
        found.append(Problem(area="runs", message=message, next_step=step))
    if last is not None and last.status == "interrupted":
        found.append(Problem(area="runs", message=f"Sync #{last.id} was interrupted ({last.error or 'stopped'}).",
                             next_step="Run leadsync sync: it goes on from the saved cursors."))
    return found


def _backlog_problems(health: Health) -> list[Problem]:
    backlog = health.backlog
    if not backlog.pending_push:
        return []
    if not health.push_enabled:
        return [Problem(area="backlog", message=f"Push is off: {backlog.pending_push:,} contacts wait to be "
                        "written to the CRM.",
                        next_step="Check what would be sent (leadsync call sync.plan), then turn push on: "
                        "leadsync call settings.update '{\"push_enabled\": true}'.")]
    waited_ms = now_ms() - backlog.oldest_changed_at if backlog.oldest_changed_at else 0
    if health.connection.state == "ok" and waited_ms > 2 * health.interval_minutes * 60_000:
        return [Problem(area="backlog", message=f"{backlog.pending_push:,} contacts have waited to push longer "
                        f"than two sync intervals (the oldest since {_utc(backlog.oldest_changed_at or 0)}).",
                        next_step="Run leadsync sync now; if they stay, the last run's error says why.")]
    return []


async def _group(agent: Runtime, row: ErrorGroupRow) -> ErrorGroup:
    sample = (await sync_errors.errors_by_ids(agent.store, [row.sample_id]))[0]
    retry: dict[str, Any] = ({"code": row.code} if row.code is not None
                             else {"ids": await sync_errors.open_ids_without_code(agent.store)})
    transient = is_transient(row.code)
    return ErrorGroup(code=row.code, errors=row.errors, contacts=row.contacts, sample=sample, transient=transient,
                      next_retry_at=row.next_retry_at, retry=retry,
                      next_step=_group_step(row, sample, transient, agent.settings.push_enabled))


def _group_step(row: ErrorGroupRow, sample: SyncError, transient: bool, push_enabled: bool) -> str:
    retry = f"leadsync errors retry --code {row.code}" if row.code is not None else "leadsync errors retry --all"
    if not push_enabled and sample.operation not in ("pull", "link"):
        return f"Push is off, so these wait; turn push on (settings push_enabled), then: {retry}."
    if row.code == "no_owner":
        return ("Their creators have no active CRM owner: match each user to a CRM owner by email (leadsync call "
                f"users.list) or set the fallback_owner setting, then: {retry}.")
    if sample.operation == "undo":
        return "The CRM refused part of an undo: run leadsync undo again for that sync run."
    if transient:
        when = f" (next at {_utc(row.next_retry_at)})" if row.next_retry_at else ""
        return f"The CRM could not take these just then; they retry on their own{when}, or now: {retry}."
    if sample.operation in ("pull", "link"):
        return f"Reading these CRM records failed (the sample's reason says why); read them again with: {retry}."
    return (f"The CRM refused these values: correct the field the sample's reason names on each contact "
            f"(a change retries it), or once fixed: {retry}.")


def _group_message(group: ErrorGroup) -> str:
    errors = f"{group.errors:,} open error{'s' if group.errors != 1 else ''}"
    contacts = f" on {group.contacts:,} contact{'s' if group.contacts != 1 else ''}" if group.contacts else ""
    return f"{errors} of cause {group.code or '(no code)'}{contacts}."
