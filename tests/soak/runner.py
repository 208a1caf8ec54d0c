"""One soak run against one CRM: set up (connect, first sync, users), a simulated week of random operations in
``minutes`` of wall time (a sync at the end of each day), a final quiet sync with every fault off, and the
invariants (:mod:`tests.soak.checks`)."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leadsync.common.rpc import RpcError
from tests.soak import actions
from tests.soak.actions import SCORE_THRESHOLD, Soak
from tests.soak.checks import Snapshot, check_all
from tests.soak.ledger import Ledger, Verdict
from tests.soak.world import World, credentials

DAYS = 7
QUIET_RUNS = 6
CHANGE_KEYS = ("created_local", "updated_local", "created_crm", "updated_crm", "linked")


@dataclass(frozen=True)
class Options:
    """One soak: which CRM, how long (minutes of wall time for the whole week), the seed, the seeded size."""

    crm: str
    minutes: float
    seed: int
    contacts: int = 600
    without: frozenset[str] = frozenset()
    """Names of operations (``actions`` functions, e.g. ``todo``) left out of this soak."""


@dataclass
class Result:
    """What a soak did and found."""

    options: Options
    done: dict[str, int]
    sync_status: dict[str, int]
    refused: dict[str, int]
    faults: dict[str, int]
    token_grants: int
    quiet_runs: int
    seconds: float
    verdict: Verdict
    figures: dict[str, Any] = field(default_factory=dict)


async def set_up(soak: Soak) -> None:
    world = soak.world
    await world.start_agent()
    await world.call("crm.connect", {"crm": world.crm, "base_url": world.url,
                                     "credentials": credentials(world.crm, world.side)})
    await world.call("settings.update", {"score_threshold": SCORE_THRESHOLD})
    await actions.sync(soak)
    owners = [o for o in (await world.call("users.list"))["unmatched_owners"] if o["active"]]
    for owner in owners[:3]:
        soak.users.append((await world.call("users.create", {"email": owner["email"]}))["id"])
    await actions.refresh_contacts(soak)


async def week(soak: Soak, seconds: float, refused: dict[str, int]) -> None:
    """Random operations by ``actions.WEIGHTS`` until ``seconds`` have passed, in ``DAYS`` days; each day may
    bring the rarer events of ``actions.DAILY`` at random times, and ends with a sync."""
    ops = [op for op in actions.WEIGHTS if op.__name__ not in soak.without]
    weights = [actions.WEIGHTS[op] for op in ops]
    day_s = seconds / DAYS
    start = time.monotonic()
    for day in range(DAYS):
        events = sorted((day_s * (day + soak.rng.random()), op) for op, chance in actions.DAILY.items()
                        if soak.rng.random() < chance and op.__name__ not in soak.without)
        while (elapsed := time.monotonic() - start) < day_s * (day + 1):
            op = events.pop(0)[1] if events and events[0][0] <= elapsed else soak.rng.choices(ops, weights)[0]
            try:
                await op(soak)
            except RpcError as exc:  # a refusal is an answer, not a failure; counted and shown
                key = f"{op.__name__}: {exc.message[:70]}"
                refused[key] = refused.get(key, 0) + 1
        await actions.sync(soak)
        soak.done["simulated day"] += 1


async def quiet(soak: Soak) -> tuple[int, dict[str, Any]]:
    """Faults off, open errors retried, then syncs until one changes nothing and no conflict waits for a
    person (at most ``QUIET_RUNS``); before each, the soak resolves the conflicts the agent left undecided
    (``newest_wins`` within its skew) by picking a side at random, as a person would."""
    await soak.world.switch_faults({"error_429_rate": 0.0, "error_5xx_rate": 0.0, "drop_connection_rate": 0.0,
                                    "latency_ms": 0})
    await soak.world.call("errors.retry", {"all": True})
    run: dict[str, Any] = {}
    for n in range(1, QUIET_RUNS + 1):
        undecided = [c for c in await soak.world.call("conflicts.list", {"limit": 1000}) if c["winner"] == "none"]
        for conflict in undecided:
            await soak.world.call("conflicts.resolve", {"id": conflict["id"],
                                                        "choice": soak.rng.choice(["local", "crm"])})
        soak.done["undecided conflict resolved"] += len(undecided)
        run = await actions.sync(soak)
        if not undecided and run.get("status") == "ok" and not any(run.get(k) for k in CHANGE_KEYS):
            return n, run
    return QUIET_RUNS + 1, run


async def mark_person_decided(soak: Soak) -> None:
    """Tell the ledger which fields a person decided (every undecided conflict of the soak)."""
    emails = {c["id"]: (c["email"] or "").strip().lower() for c in soak.contacts}
    for conflict in await soak.world.call("conflicts.list", {"limit": 100_000, "include_resolved": True}):
        if conflict["winner"] == "none" and conflict["contact_id"] in emails:
            soak.ledger.person_decided.add((emails[conflict["contact_id"]], conflict["field"]))


async def run_soak(options: Options, tmp: Path) -> Result:
    """The whole soak of ``options`` in ``tmp`` (a short path: it holds the agent's socket)."""
    world = await World.open(options.crm, tmp, contacts=options.contacts, seed=options.seed)
    soak = Soak(world, Ledger(options.crm), random.Random(options.seed), without=options.without)
    refused: dict[str, int] = {}
    began = time.monotonic()
    try:
        await set_up(soak)
        before = await Snapshot.take(soak)
        loop_start = time.monotonic() - world.started
        await week(soak, options.minutes * 60, refused)
        loop_end = time.monotonic() - world.started
        quiet_runs, last_run = await quiet(soak)
        await mark_person_decided(soak)
        after = await Snapshot.take(soak)
        verdict = check_all(soak, before, after, (loop_start, loop_end), quiet_runs <= QUIET_RUNS, last_run)
        status = world.side.state.status_counts
        faults = {"429": int(status.get(429, 0)), "5xx": sum(int(n) for s, n in status.items() if s >= 500)}
        grants = await world.token_grants()
    finally:
        await world.close()
    return Result(options, dict(soak.done), dict(soak.sync_status), refused, faults, grants, quiet_runs,
                  time.monotonic() - began, verdict, dict(verdict.figures))
