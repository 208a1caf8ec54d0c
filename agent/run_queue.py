"""The agent's sync requests: the ones waiting to run (urgent pushes first) and the one running; equal
requests join, a full run in progress covers a full run asked for (case S12)."""

from __future__ import annotations

import asyncio
from typing import Any

from leadsync.agent.runtime import Job
from leadsync.common.errors import LeadsyncError
from leadsync.common.models import SyncRun

URGENT_TRIGGERS = frozenset({"manual", "threshold", "todo"})

RequestKey = tuple[str, bool, bool, frozenset[int] | None]
"""What a sync request asks for: (trigger, pull, push, contact ids or None for all)."""


class RunRequest:
    """A queued sync request: its key, the job that runs instead of a sync (None: a sync) and its outcome."""

    def __init__(self, key: RequestKey, future: asyncio.Future[SyncRun], *, job: Job | None = None) -> None:
        self.key = key
        self.future = future
        self.job = job

    @property
    def urgent(self) -> bool:
        """Pushes of given contacts asked for by a person or an event, not bulk work."""
        return self.key[0] in URGENT_TRIGGERS and self.key[3] is not None

    def covers(self, key: RequestKey) -> bool:
        """True when running this request also does everything ``key`` asks for (a job never does)."""
        if self.job is not None:
            return False
        _, pull, push, ids = self.key
        _, want_pull, want_push, want_ids = key
        return (pull or not want_pull) and (push or not want_push) and ids is None and want_ids is None


class RunQueue:
    """The requests waiting to run, in order (urgent ones before the rest), and ``running``: the request
    whose run is in progress (set by the agent while it runs one). ``len()`` counts the waiting ones."""

    def __init__(self) -> None:
        self._waiting: list[RunRequest] = []
        self.running: RunRequest | None = None

    def __len__(self) -> int:
        return len(self._waiting)

    def add_sync(self, key: RequestKey) -> asyncio.Future[SyncRun]:
        """The outcome of a sync asked for by ``key``: the running request's when it covers ``key``, else an
        equal waiting sync's, else a new request's (urgent ones after the urgent ones waiting, others last)."""
        if self.running is not None and self.running.covers(key):
            return self.running.future
        queued = next((r for r in self._waiting if r.key == key and r.job is None), None)
        if queued is None:
            queued = RunRequest(key, asyncio.get_running_loop().create_future())
            if queued.urgent:
                self._waiting.insert(sum(1 for r in self._waiting if r.urgent), queued)
            else:
                self._waiting.append(queued)
        return queued.future

    def add_job(self, trigger: str, job: Job) -> asyncio.Future[SyncRun]:
        """The outcome of ``job`` run as a run of ``trigger``, queued last and never joined with another."""
        request = RunRequest((trigger, False, False, None), asyncio.get_running_loop().create_future(), job=job)
        self._waiting.append(request)
        return request.future

    def pop(self) -> RunRequest | None:
        """The next request to run, taken off the queue; None when none waits."""
        return self._waiting.pop(0) if self._waiting else None

    def pop_urgent(self) -> RunRequest | None:
        """The first urgent request waiting, taken off the queue; None when none waits."""
        urgent = next((r for r in self._waiting if r.urgent), None)
        if urgent is not None:
            self._waiting.remove(urgent)
        return urgent

    def fail_waiting(self, reason: str) -> None:
        """Empty the queue, ending each waiting request with a LeadsyncError saying ``reason`` (its waiters
        must not wait forever)."""
        for queued in self._waiting:
            if not queued.future.done():
                queued.future.set_exception(LeadsyncError(reason))
                queued.future.exception()  # retrieved: nobody may be waiting for it
        self._waiting.clear()

    def status(self) -> list[dict[str, Any]]:
        """The waiting requests: trigger, pull, push, contacts (count, None for all), urgent."""
        return [{"trigger": r.key[0], "pull": r.key[1], "push": r.key[2],
                 "contacts": None if r.key[3] is None else len(r.key[3]), "urgent": r.urgent}
                for r in self._waiting]
