"""How long the push backlog will take: the push rate measured live during a run, else from past runs.

A push costs more than its write calls (Salesforce and Zoho look emails up before creating; Autotask
finds companies), so the estimate is measured in contacts per second, never derived from the batch size
alone (case S12: the user sees a drain time they can trust).
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from leadsync.agent.connectors.base import Connector
from leadsync.agent.engine.push_phase import chunk_size
from leadsync.agent.store.queries.contacts import pending_push
from leadsync.agent.store.queries.sync_runs import recent_push_totals
from leadsync.agent.store.store import Store

MIN_RATE_SPAN_S = 2.0
"""Seconds of push progress a live rate is measured over at the least: the first batches go out as fast as the
rate limiter's empty window admits them (HubSpot's 100 per rolling 10 s, ``connectors/ratelimit``), and a rate
taken over that opening alone is many times the pace that follows."""


class PushRate:
    """Contacts per second pushed by the running sync run, from its ``progress`` events (``phase`` push,
    ``done`` contacts so far). Times are monotonic seconds."""

    def __init__(self) -> None:
        self._run: int | None = None
        self._first: tuple[int, float] | None = None
        self._last: tuple[int, float] | None = None

    def note(self, event: dict[str, Any]) -> None:
        """Take one agent event; only push progress and run ends matter."""
        kind = event.get("type")
        if kind == "run_finished":
            self._run = self._first = self._last = None
        elif kind == "progress" and event.get("phase") == "push" and isinstance(event.get("done"), int):
            sample = (int(event["done"]), time.monotonic())
            if event.get("run_id") != self._run or self._first is None:
                self._run, self._first = event.get("run_id"), sample
            self._last = sample

    def per_second(self) -> float | None:
        """The running run's push rate, once it has pushed something over at least :data:`MIN_RATE_SPAN_S`;
        None before."""
        if self._first is None or self._last is None:
            return None
        done, seconds = self._last[0] - self._first[0], self._last[1] - self._first[1]
        return done / seconds if done > 0 and seconds >= MIN_RATE_SPAN_S else None

    def chunk_elapsed_s(self) -> float | None:
        """Seconds the running push has spent on its first chunk (:func:`~leadsync.agent.engine.push_phase.chunk_size`
        contacts), still unfinished; None otherwise."""
        if self._first is None or self._last is None or self._last[0] > self._first[0]:
            return None
        return time.monotonic() - self._first[1]


async def drain_estimate(store: Store, connector: Connector | None, rate: PushRate, pending: int) -> float | None:
    """Seconds (s) to push ``pending`` contacts; None without a CRM. Uses, in order: the running run's
    measured rate; the time per pushed contact of recent runs that pushed; else the requests the push needs
    (its write batches and the ``link_first`` email look-ups, e.g. Salesforce's SOQL query per 100 emails
    and Zoho's search per 10: :class:`~leadsync.agent.connectors.base.Capabilities`) times the measured
    seconds per API call (at least 0.1 s a call), or the chunks it needs times the time the running run's
    first chunk has taken so far, when that is longer."""
    if connector is None:
        return None
    if pending == 0:
        return 0.0
    live = rate.per_second()
    if live is not None:
        return round(pending / live, 1)
    totals = await recent_push_totals(store)
    pushed, elapsed_ms, calls = totals.pushed, totals.elapsed_ms, totals.api_calls
    caps = connector.capabilities
    if pushed and pushed >= caps.batch_size and elapsed_ms:
        return round(float(pending * elapsed_ms / 1000 / pushed), 1)
    lookups = len(caps.link_first) * -(-pending // caps.emails_per_lookup) if caps.emails_per_lookup else 0
    requests = -(-pending // caps.batch_size) + lookups
    per_call_s = max(0.1, (elapsed_ms or 0) / 1000 / calls) if calls else 0.1
    # a first chunk still under way has taken this long already: no chunk will be quicker (look-ups included)
    chunks = -(-pending // chunk_size(caps))
    return round(max(requests * per_call_s, chunks * (rate.chunk_elapsed_s() or 0.0)), 1)


class Backlog(msgspec.Struct, kw_only=True):
    """The push backlog: contacts waiting for a push, the oldest local change among them (epoch ms UTC)
    and the seconds (s) to push them all (None without a CRM)."""

    pending_push: int
    oldest_changed_at: int | None
    estimated_drain_s: float | None


async def measure(store: Store, connector: Connector | None, rate: PushRate) -> Backlog:
    """The push backlog now, with its drain estimate (see :func:`drain_estimate`)."""
    pending = await pending_push(store)
    return Backlog(pending_push=pending.count, oldest_changed_at=pending.oldest_changed_at,
                   estimated_drain_s=await drain_estimate(store, connector, rate, pending.count))
