"""leadsync benchmarks: figures, not timed tests.

``make bench`` runs ``python -m tests.bench``; flags:

- ``--quick``: small sizes (10,000 and 20,000 contacts; under a minute on 2 cores);
- ``--only NAME`` (repeatable or comma-separated): pull, incremental, push, limit, api, tui, baseline, import,
  socket (``contacts.list`` p99 idle vs while the socket is abused, :mod:`tests.bench_socket`), ceilings
  (Salesforce, Zoho and Autotask at their quota, scaled down to a 10 s window: :mod:`tests.bench_ceilings`);
  a benchmark's setup (e.g. the full pull that fills the store) runs and is reported too;
- ``--json PATH`` (default ``bench-results/latest.json``);
- ``--sandbox-as-is``: serve the sandbox with ``leadsync sandbox`` itself (see :mod:`tests.bench_procs`: in
  trees whose sandbox lacks ``TCP_NODELAY``, every answer on a kept-alive connection then waits ~40 ms);
- ``--keep``: keep the work directory (stores, logs);
- ``--sizes SMALL,LARGE``: contacts in the small and large phases instead of the mode's;
- ``--repeat N``: N rounds of the peer comparison (each a fresh leadsync full pull, then the peer's).

Every CRM is a sandbox in its own process; every agent is its own process driven through its socket
with :class:`~leadsync.common.rpc.RpcClient`, like a script, so its CPU time and peak RSS can be read
from ``/proc``. Three phases:

``small``  (100,000 CRM contacts; quick 10,000), unlimited sandbox, ``leadsync agent`` with its request
    limit lifted by ``LEADSYNC_HUBSPOT_RATE_LIMIT_PER_10S`` (or :mod:`tests.bench_procs`' agent where the
    registry does not read that variable); searches keep the connector's 5 per s:
    full pull, incremental without and with 1,000 CRM changes, push of 10,000 new leads imported with
    ``contacts.import``, and the baseline script (:mod:`tests.bench_baseline`) on the same sandbox.
``large``  (1,000,000; quick 20,000), same setup: full pull, incrementals, ``contacts.list`` latency,
    TUI start to first table, and the no-change incremental of an *interval* run (in-process Agent:
    only the scheduler starts interval runs, and interval runs reuse owners/properties for 10 min).
``limit``  (30,000; quick 3,000), sandbox at HubSpot's 100 requests per 10 s (5 searches per s) with
    150 ms latency and the real ``leadsync agent`` (its default limits): pull and push as a fraction of
    the ceiling (100 records x 10 requests/s); before them, a full pull into another fresh agent with the
    sandbox at HubSpot's higher tier, 190 per 10 s (the agent still declares 100 and learns 190 from the answers'
    ``X-HubSpot-RateLimit-Max`` / ``-Interval-Milliseconds``, as a real user's would). Each pull row gives
    its share of the request budget (requests/s over the 10 or 19 allowed).

Pull floors are honest about page sizes: a full pull's floor counts the records its searches can have
brought at 200 a page (``split_floor``: as many as its search calls hold) and the rest at the list's
100, plus one owners page; the notes also give the floor had every record come by search.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from leadsync.agent.connectors.hubspot.sandbox.seed import FIRST_CONTACT_ID
from leadsync.agent.connectors.registry import DEFAULT_MAPPINGS
from leadsync.common.rpc import RpcClient
from tests import bench_baseline, bench_peer
from tests.bench_procs import UNLIMITED, Child, Usage, start_agent, start_sandbox

NAMES = ("pull", "incremental", "push", "limit", "api", "tui", "baseline", "import", "socket", "peer", "ceilings")
TOKEN = "sandbox-token"
LIST_PAGE = 100  # HubSpot's list endpoint: at most 100 contacts a page
SEARCH_PAGE = 200  # HubSpot's search endpoint: at most 200 a page
BATCH = 100  # HubSpot's batch endpoints: at most 100 inputs
LIMIT_PER_10S = 100
HIGHER_LIMIT_PER_10S = 190  # HubSpot's higher tiers (Professional, Enterprise): 190 requests per 10 s
LIMIT_LATENCY_MS = 150
SEARCH_PER_S = 5  # HubSpot's search limit (the sandbox's at the limit; the connector keeps to 4 a second)
CEILING_RECORDS_PER_S = BATCH * LIMIT_PER_10S / 10
UNLIMITED_FAULTS = {"rate_limit_per_10s": None, "search_rate_limit_per_s": None, "daily_limit": None,
                    "latency_ms": 0}
ROOT = Path(__file__).resolve().parent.parent
RATE_LIMIT_ENV = "LEADSYNC_HUBSPOT_RATE_LIMIT_PER_10S"
START_GRACE_S = 1.0
"""Seconds after a run's end within which the search index's build after it says it began (it starts at once)."""

AGENT_CLI = "CLI"
AGENT_CLI_ENV = "CLI+env"
AGENT_BENCH = "bench"
AGENT_IN_PROCESS = "in-proc"
AGENT_SCRIPT = "script"
AGENT_PEER = "peer"
AGENT_KINDS = {
    AGENT_CLI: "`leadsync agent` (HubSpot's default limits: 100 requests per 10 s, 5 searches per s)",
    AGENT_CLI_ENV: f"`{RATE_LIMIT_ENV}={UNLIMITED} leadsync agent`: request limit off, searches still "
                   "5 per s",
    AGENT_BENCH: "`python -m tests.bench_procs agent --rate-limit-per-10s 0`: the same Agent in its own process, "
                 "request limit off, searches still 5 per s (this tree's registry reads no rate-limit variable)",
    AGENT_IN_PROCESS: "Agent in the benchmark's process (only the scheduler starts interval runs)",
    AGENT_SCRIPT: "the baseline script: hubspot-api-client v12, one record per call",
    AGENT_PEER: "the pull peer: meltano-tap-hubspot 0.10.1 in its own venv, contacts stream to a file",
}


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big each benchmark is (contacts or calls)."""

    small: int
    large: int
    changes: int
    push: int
    limit_pull: int
    limit_push: int
    limit_changes: int
    list_calls: int
    by_id: int
    baseline_push: int
    tui_runs: int
    import_rows: int


FULL = Sizes(small=100_000, large=1_000_000, changes=1_000, push=10_000, limit_pull=30_000, limit_push=10_000,
             limit_changes=10_000, list_calls=500, by_id=5_000, baseline_push=10_000, tui_runs=3,
             import_rows=100_000)
QUICK = Sizes(small=10_000, large=20_000, changes=1_000, push=2_000, limit_pull=3_000, limit_push=2_000,
              limit_changes=1_000, list_calls=200, by_id=1_000, baseline_push=2_000, tui_runs=2,
              import_rows=10_000)


@dataclass
class Row:
    """One line of the results table; ``figures`` holds the raw numbers (JSON)."""

    key: str
    group: str
    title: str
    agent: str
    records: int | None = None
    seconds: float | None = None
    api_calls: int | None = None
    floor: str = ""
    cpu_per_10k_s: float | None = None
    peak_rss_mb: float | None = None
    notes: str = ""
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def per_second(self) -> float | None:
        if self.records is None or not self.seconds:
            return None
        return self.records / self.seconds


@dataclass
class Target:
    """A target from issue #8 and whether this run met it."""

    target: str
    figure: str
    met: bool | None  # None: not measured in this run


@dataclass
class Measured:
    """One sync run as the benchmark saw it: the run, wall seconds, agent and sandbox usage."""

    run: dict[str, Any]
    seconds: float
    agent_before: Usage | None
    agent_after: Usage | None
    sandbox: dict[str, Any]
    indexed_s: float | None = None
    """Seconds from the run's start until its search index was built (a first full pull's bulk build goes on
    after the run's end); the agent's CPU and peak RSS are read then, so they include the build."""

    @property
    def cpu_s(self) -> float | None:
        if self.agent_before is None or self.agent_after is None:
            return None
        return self.agent_after.cpu_s - self.agent_before.cpu_s

    def figures(self) -> dict[str, Any]:
        return {"run": self.run, "seconds": self.seconds, "indexed_s": self.indexed_s, "agent_cpu_s": self.cpu_s,
                "agent_peak_rss_mb": self.agent_after.peak_rss_mb if self.agent_after else None,
                "sandbox_requests": self.sandbox.get("requests_total"),
                "sandbox_requests_by_route": self.sandbox.get("requests"),
                "sandbox_429s": self.sandbox.get("rate_limited"),
                "sandbox_write_requests": self.sandbox.get("write_requests")}


@dataclass
class Bench:
    """State shared by the phases."""

    sizes: Sizes
    only: frozenset[str]
    work: Path
    as_is: bool
    http: httpx.AsyncClient
    rows: list[Row] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    unlimited: str = field(default_factory=lambda: unlimited_agent_kind())
    repeat: int = 1
    """Rounds of the peer comparison (``--repeat``)."""

    def wants(self, *names: str) -> bool:
        return any(n in self.only for n in names)

    def start_unlimited_agent(self, data: Path, sock: Path, log: Path) -> Child:
        """An agent whose connector does not pace requests (searches keep HubSpot's pace)."""
        if self.unlimited == AGENT_CLI_ENV:
            return start_agent(data, sock, log, env={RATE_LIMIT_ENV: str(UNLIMITED)})
        return start_agent(data, sock, log, rate_limit_per_10s=0)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        print(f"  {row.title}: {_row_line(row)}", flush=True)
        return row


# -- sandbox and agent helpers -------------------------------------------------------------------------


def unlimited_agent_kind() -> str:
    """``CLI+env`` when ``registry.make_connector`` reads the rate-limit variable, else ``bench``."""
    from leadsync.agent.connectors import registry

    return AGENT_CLI_ENV if getattr(registry, "RATE_LIMIT_ENV", None) == RATE_LIMIT_ENV else AGENT_BENCH


async def set_faults(bench: Bench, url: str, switches: dict[str, Any]) -> None:
    answer = await bench.http.post(f"{url}/__sandbox/faults", json=switches)
    answer.raise_for_status()


async def reset_stats(bench: Bench, url: str) -> None:
    (await bench.http.post(f"{url}/__sandbox/stats/reset")).raise_for_status()


async def get_stats(bench: Bench, url: str) -> dict[str, Any]:
    answer = await bench.http.get(f"{url}/__sandbox/stats")
    answer.raise_for_status()
    stats: dict[str, Any] = answer.json()
    return stats


async def measure_sync(bench: Bench, client: RpcClient, url: str, agent: Child | None,
                       params: dict[str, Any] | None = None, *, require_ok: bool = True) -> Measured:
    """Run ``sync.run`` (waiting for it) and measure it; raises when the run does not end ``ok`` (unless
    ``require_ok`` is False)."""
    await reset_stats(bench, url)
    async with RpcClient(client.path, timeout_s=None) as events:
        await events.call("events.subscribe")
        before = agent.usage() if agent else None
        started = time.perf_counter()
        run: dict[str, Any] = await client.call("sync.run", {"wait": True, **(params or {})}, timeout_s=None)
        seconds = time.perf_counter() - started
        indexed_s = await search_index_built(events, started)
        after = agent.usage() if agent else None
    measured = Measured(run, seconds, before, after, await get_stats(bench, url), indexed_s)
    if require_ok and run["status"] != "ok":
        raise RuntimeError(f"sync run #{run['id']} ended {run['status']}: {run.get('error')}")
    return measured


async def search_index_built(events: RpcClient, started: float, timeout_s: float = 900.0) -> float | None:
    """After a sync run: wait for the end of the search index's bulk build a first full pull leaves to after the
    run's end, on ``events`` (a client subscribed before the run): the build's first ``search_index`` progress
    event comes within ``START_GRACE_S`` of the run's end, its last has ``done`` equal to ``total``. The seconds
    from ``started`` (a ``perf_counter``) until that last one, or None when no build began. Only events: asking
    ``agent.status`` (whose ``search_backlog`` counts the backlog's rows through the reader's page cache) would
    add to the agent's CPU and memory figures. TimeoutError after ``timeout_s``."""
    stream = events.events()

    async def next_build_event() -> dict[str, Any]:
        async for event in stream:
            if event.get("phase") == "search_index":
                return event
        raise RuntimeError("the agent closed the event stream during its search index's build")

    try:
        event = await asyncio.wait_for(next_build_event(), START_GRACE_S)
    except TimeoutError:
        return None
    async with asyncio.timeout(timeout_s):
        while event.get("done", 0) < (event.get("total") or 0):
            event = await next_build_event()
    return time.perf_counter() - started


async def connect(client: RpcClient, url: str) -> None:
    await client.call("crm.connect", {"crm": "hubspot", "base_url": url, "credentials": {"token": TOKEN}})


async def change_in_crm(bench: Bench, url: str, count: int, contacts: int) -> list[int]:
    """Change ``jobtitle`` of ``count`` contacts spread over the CRM, through ``batch/update`` (100 a call)."""
    step = max(1, contacts // count)
    ids = [FIRST_CONTACT_ID + k * step for k in range(count)]
    stamp = int(time.time())
    for start in range(0, len(ids), BATCH):
        inputs = [{"id": str(i), "properties": {"jobtitle": f"Benchmark change {stamp}-{i}"}}
                  for i in ids[start:start + BATCH]]
        answer = await bench.http.post(f"{url}/crm/v3/objects/contacts/batch/update", json={"inputs": inputs},
                                       headers={"Authorization": f"Bearer {TOKEN}"})
        answer.raise_for_status()
    return ids


def lead_fields(n: int, domain: str) -> dict[str, str]:
    """The fields of new lead ``n`` (deterministic, unique email at ``domain``)."""
    first = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John")[n % 8]
    last = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus")[n // 8 % 8]
    return {"email": f"{first}.{last}.{n}@{domain}".lower(), "first_name": first, "last_name": last,
            "company": f"Company {n % 97}", "job_title": "Head of Benchmarks", "lead_score": str(n % 101)}


async def matched_user(client: RpcClient) -> tuple[int, str]:
    """A leadsync user matched (by email) to an active CRM owner; returns (user id, owner id)."""
    users = await client.call("users.list")
    for user in users["users"]:
        if user.get("crm_owner_id") and user.get("owner_active"):
            return int(user["id"]), str(user["crm_owner_id"])
    owner = next(o for o in users["unmatched_owners"] if o["active"])
    user = await client.call("users.create", {"email": owner["email"], "name": "Benchmark"})
    return int(user["id"]), str(owner["crm_id"])


async def import_leads(client: RpcClient, user_id: int, count: int, domain: str) -> tuple[float, int]:
    """Create ``count`` local leads with ``contacts.import``, 500 rows a call; returns (seconds, calls)."""
    header = ["Email", "First Name", "Last Name", "Company", "Job Title", "Lead Score"]
    keys = ["email", "first_name", "last_name", "company", "job_title", "lead_score"]
    started = time.perf_counter()
    calls = 0
    for start in range(0, count, 500):
        rows = [[n + 2, [lead_fields(n, domain)[k] for k in keys]] for n in range(start, min(count, start + 500))]
        report = await client.call("contacts.import", {"as_user": user_id, "header": header, "rows": rows},
                                   timeout_s=None)
        calls += 1
        if report["failed"] or report["created"] != len(rows):
            raise RuntimeError(f"contacts.import refused rows: {report['failed'][:3]}")
    return time.perf_counter() - started, calls


def hubspot_properties() -> list[str]:
    """The CRM properties leadsync pulls by default (its mappings plus the owner), for the baseline."""
    names = {m.crm for m in DEFAULT_MAPPINGS["hubspot"] if m.direction != "off"} | {"hubspot_owner_id"}
    return sorted(names)


def pull_floor(contacts: int) -> int:
    """The fewest calls a list-only full pull can take: list pages of 100, plus one owners page."""
    return math.ceil(contacts / LIST_PAGE) + 1


SEARCH_ROUTE = "POST /crm/v3/objects/contacts/search"


def split_floor(contacts: int, searches: int) -> tuple[int, int, int]:
    """The fewest calls for a full pull that made ``searches`` searches: records by search at 200 a page (at
    most 200 a search, so as many as possible), the rest by list at 100, plus one owners page. Returns
    (floor, list pages, search pages); with no searches this is :func:`pull_floor`."""
    by_search = min(contacts, SEARCH_PAGE * searches)
    list_pages = math.ceil((contacts - by_search) / LIST_PAGE)
    search_pages = math.ceil(by_search / SEARCH_PAGE)
    return list_pages + search_pages + 1, list_pages, search_pages


def percentile(values: Sequence[float], pct: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


# -- phases -----------------------------------------------------------------------------------------


def pull_row(size: int, measured: Measured, agent: str) -> Row:
    run = measured.run
    searches = (measured.sandbox.get("requests") or {}).get(SEARCH_ROUTE, 0)
    floor, list_pages, search_pages = split_floor(size, searches)
    by_search_only = math.ceil(size / SEARCH_PAGE) + 1
    over = (run["api_calls"] - floor) / floor
    over_search_only = (run["api_calls"] - by_search_only) / by_search_only
    cpu = measured.cpu_s
    return Row(
        key=f"pull.{size}", group="pull", title=f"Full pull, {size:,} contacts", agent=agent, records=run["pulled"],
        seconds=measured.seconds, api_calls=run["api_calls"], floor=f"{floor:,} ({over:+.1%})",
        cpu_per_10k_s=None if cpu is None else cpu / (size / 10_000),
        peak_rss_mb=measured.agent_after.peak_rss_mb if measured.agent_after else None,
        notes=f"floor: {list_pages:,} list pages of {LIST_PAGE} + {search_pages:,} searches of {SEARCH_PAGE} + 1 "
              f"owners page; all by search it would be {by_search_only:,} ({over_search_only:+.0%}), at 5 searches/s"
              + _indexed_note(measured),
        figures={**measured.figures(), "floor": floor, "over_floor": over, "floor_list_pages": list_pages,
                 "floor_search_pages": search_pages, "floor_search_only": by_search_only,
                 "over_floor_search_only": over_search_only})


def _indexed_note(measured: Measured) -> str:
    """Where the search index was built after the run: when, and that the CPU and RSS include it."""
    if measured.indexed_s is None:
        return ""
    return (f"; search index built {measured.indexed_s:.2f} s after the run's start, in the background after its "
            "end (CPU and RSS include it)")


async def quiet_incremental(bench: Bench, client: RpcClient, url: str, agent: Child, size: int) -> None:
    """A manual incremental sync with nothing changed since the full pull."""
    quiet = await measure_sync(bench, client, url, agent)
    bench.add(Row(
        key=f"incremental.none.{size}", group="incremental", title=f"Incremental, no change, {size:,}",
        agent=bench.unlimited, seconds=quiet.seconds, api_calls=quiet.run["api_calls"], floor="1",
        notes=f"manual sync.run; {_routes(quiet.sandbox)}; {quiet.run['pulled']} records inside the "
              "5-min overlap re-read", figures=quiet.figures()))


async def changed_incremental(bench: Bench, client: RpcClient, url: str, agent: Child, size: int) -> None:
    """``changes`` CRM changes (``batch/update``), then the manual incremental sync that brings them."""
    count = bench.sizes.changes
    await change_in_crm(bench, url, count, size)
    changed = await measure_sync(bench, client, url, agent)
    floor = math.ceil(count / SEARCH_PAGE)
    note = (f"{changed.run['updated_local']:,} contacts updated locally; {_routes(changed.sandbox)}"
            + ("" if changed.run["updated_local"] == count else f" (expected {count:,} updates)"))
    bench.add(Row(
        key=f"incremental.changes.{size}", group="incremental", title=f"Incremental, {count:,} changes, {size:,}",
        agent=bench.unlimited, records=count, seconds=changed.seconds, api_calls=changed.run["api_calls"],
        floor=f"{floor} (searches of {SEARCH_PAGE})", notes=note, figures=changed.figures()))


async def phase_small(bench: Bench) -> None:
    sizes = bench.sizes
    size = sizes.small
    print(f"phase small: sandbox with {size:,} contacts", flush=True)
    sandbox, url = start_sandbox(size, bench.work / "small-sandbox.log", as_is=bench.as_is)
    agent: Child | None = None
    try:
        await set_faults(bench, url, UNLIMITED_FAULTS)
        sock = bench.work / "small.sock"
        agent = bench.start_unlimited_agent(bench.work / "small-data", sock, bench.work / "small-agent.log")
        async with RpcClient(sock, timeout_s=None) as client:
            await connect(client, url)
            pulled = await measure_sync(bench, client, url, agent)
            bench.add(pull_row(size, pulled, bench.unlimited))
            if bench.wants("peer"):
                await peer_pull(bench, url, size, pulled)
            if bench.wants("incremental"):
                await quiet_incremental(bench, client, url, agent, size)
                await changed_incremental(bench, client, url, agent, size)
            if bench.wants("baseline"):
                await baseline_pulls(bench, url, size, pulled)
            if bench.wants("push", "baseline"):
                pushed = await push(bench, client, url, agent, sizes.push, bench.unlimited, key="push")
                if bench.wants("baseline"):
                    await baseline_push(bench, url, pushed)
    finally:
        if agent is not None:
            agent.stop()
        sandbox.stop()


async def push(bench: Bench, client: RpcClient, url: str, agent: Child | None, count: int, agent_kind: str, *,
               key: str) -> Row:
    """Import ``count`` new leads (500 rows a ``contacts.import``) and push them with a push-only sync."""
    user_id, owner_id = await matched_user(client)
    import_s, import_calls = await import_leads(client, user_id, count, f"{key}.leadsync-bench.example")
    measured = await measure_sync(bench, client, url, agent, {"pull": False, "push": True})
    run = measured.run
    if run["created_crm"] != count:
        raise RuntimeError(f"push created {run['created_crm']} of {count} leads")
    writes = measured.sandbox.get("write_requests", 0)
    floor = math.ceil(count / BATCH)
    row = Row(
        key=f"{key}.{count}", group="push" if key == "push" else "limit", title=f"Push, {count:,} new leads",
        agent=agent_kind, records=count, seconds=measured.seconds, api_calls=run["api_calls"],
        floor=f"{floor} (batches of {BATCH})",
        cpu_per_10k_s=None if measured.cpu_s is None else measured.cpu_s / (count / 10_000),
        peak_rss_mb=measured.agent_after.peak_rss_mb if measured.agent_after else None,
        notes=f"{run['api_calls'] / count:.4f} calls/contact ({writes} batch writes, "
              f"{run['api_calls'] - writes} owners/properties/archived reads); import: {count:,} rows in "
              f"{import_calls} contacts.import calls, {import_s:.1f} s",
        figures={**measured.figures(), "calls_per_contact": run["api_calls"] / count, "import_s": import_s,
                 "import_calls": import_calls, "owner_id": owner_id})
    return bench.add(row) if key == "push" else row


async def baseline_pulls(bench: Bench, url: str, size: int, leadsync: Measured) -> None:
    props = hubspot_properties()
    await reset_stats(bench, url)
    paged = await asyncio.to_thread(bench_baseline.pull_by_page, url, TOKEN, props, bench.work / "script-pages.db")
    stats = await get_stats(bench, url)
    bench.add(_baseline_row("baseline.pull.pages", f"Script pull, get_page, {size:,}", paged, paged.records,
                            leadsync, stats, "one get_page (100 contacts) per call"))
    sample = bench.sizes.by_id
    step = max(1, size // sample)
    ids = [str(FIRST_CONTACT_ID + k * step) for k in range(sample)]
    await reset_stats(bench, url)
    by_id = await asyncio.to_thread(bench_baseline.pull_by_id, url, TOKEN, ids, props, bench.work / "script-ids.db")
    stats = await get_stats(bench, url)
    scale = size / sample
    scaled = bench_baseline.ScriptRun(size, round(by_id.calls * scale), by_id.seconds * scale)
    bench.add(_baseline_row("baseline.pull.by_id", f"Script pull, get_by_id, {size:,}", scaled, size, leadsync,
                            stats, f"measured on {sample:,} contacts ({by_id.seconds:.1f} s), scaled ×{scale:g}",
                            measured=by_id))


async def baseline_push(bench: Bench, url: str, leadsync: Row) -> None:
    count = bench.sizes.baseline_push
    owner = leadsync.figures["owner_id"]
    leads = []
    for n in range(count):
        f = lead_fields(n, "script.leadsync-bench.example")
        leads.append({"email": f["email"], "firstname": f["first_name"], "lastname": f["last_name"],
                      "company": f["company"], "jobtitle": f["job_title"], "lead_score": f["lead_score"],
                      "lifecyclestage": "lead", "hubspot_owner_id": owner})
    await reset_stats(bench, url)
    run = await asyncio.to_thread(bench_baseline.push_one_by_one, url, TOKEN, leads)
    stats = await get_stats(bench, url)
    assert leadsync.api_calls is not None and leadsync.seconds is not None and leadsync.records is not None
    scale = leadsync.records / count
    leadsync_floor_s = leadsync.api_calls / scale / 10
    calls_ratio = run.calls * scale / leadsync.api_calls
    time_ratio = run.seconds * scale / leadsync.seconds
    bench.add(Row(
        key="baseline.push", group="baseline", title=f"Script push, create per lead, {count:,}", agent=AGENT_SCRIPT,
        records=run.records, seconds=run.seconds, api_calls=run.calls, floor=f"{math.ceil(count / BATCH)}",
        notes=f"vs leadsync push: {calls_ratio:.0f}× calls, {time_ratio:.1f}× time; at HubSpot's 100/10 s "
              f"≥ {_duration(run.calls / 10)} (leadsync ≥ {_duration(leadsync_floor_s)})",
        figures={**asdict(run), "sandbox_requests": stats.get("requests_total"), "calls_ratio": calls_ratio,
                 "time_ratio": time_ratio}))


def _baseline_row(key: str, title: str, run: bench_baseline.ScriptRun, records: int, leadsync: Measured,
                  stats: dict[str, Any], how: str, measured: bench_baseline.ScriptRun | None = None) -> Row:
    calls_ratio = run.calls / leadsync.run["api_calls"]
    time_ratio = run.seconds / leadsync.seconds
    return Row(
        key=key, group="baseline", title=title, agent=AGENT_SCRIPT, records=records, seconds=run.seconds,
        api_calls=run.calls, floor=f"{pull_floor(records) - 1:,}",
        notes=f"{how}; vs leadsync full pull: {calls_ratio:.1f}× calls, {time_ratio:.1f}× time; at HubSpot's "
              f"100/10 s ≥ {_duration(run.calls / 10)} (leadsync ≥ {_duration(leadsync.run['api_calls'] / 10)})",
        figures={**asdict(run), "measured": asdict(measured) if measured else None,
                 "sandbox_requests": stats.get("requests_total"), "calls_ratio": calls_ratio,
                 "time_ratio": time_ratio})


async def fresh_pull(bench: Bench, url: str, name: str) -> Measured:
    """A full pull of the sandbox at ``url`` by a new unlimited agent with an empty store (then stopped)."""
    sock = bench.work / f"{name}.sock"
    agent = bench.start_unlimited_agent(bench.work / f"{name}-data", sock, bench.work / f"{name}-agent.log")
    try:
        async with RpcClient(sock, timeout_s=None) as client:
            await connect(client, url)
            return await measure_sync(bench, client, url, agent)
    finally:
        agent.stop()


@dataclass(frozen=True)
class PeerRound:
    """One round of the peer comparison: leadsync's full pull, then the peer's, of the same sandbox."""

    leadsync_s: float
    leadsync_cpu_s: float | None
    leadsync_peak_rss_mb: float | None
    peer: bench_peer.PeerRun

    @property
    def time_ratio(self) -> float:
        return self.leadsync_s / self.peer.seconds


def _spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """min / median / max of ``values`` (one value alone when there is one)."""
    if len(values) == 1:
        return fmt.format(values[0])
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


async def peer_pull(bench: Bench, url: str, size: int, leadsync: Measured) -> None:
    """The peer (:mod:`tests.bench_peer`) pulls the sandbox leadsync just pulled; with ``--repeat N``, N-1 more
    rounds of a fresh leadsync pull then the peer's. Its row gives the ratios (min / median / max of the
    rounds) and the median round's figures."""
    title = f"Peer pull, meltano-tap-hubspot, {size:,}"
    python, why_not = await asyncio.to_thread(bench_peer.peer_python)
    if python is None:
        bench.add(Row(key=f"peer.pull.{size}", group="peer", title=title, agent=AGENT_PEER,
                      notes=f"skipped: {why_not}", figures={"skipped": why_not}))
        return
    rounds: list[PeerRound] = []
    stats: dict[str, Any] = {}
    for number in range(bench.repeat):
        if number:
            leadsync = await fresh_pull(bench, url, f"peer-{size}-round{number}")
        await reset_stats(bench, url)
        peer = await asyncio.to_thread(bench_peer.run_peer, python, url, TOKEN, bench.work / f"peer-{size}.jsonl")
        stats = await get_stats(bench, url)
        rounds.append(PeerRound(leadsync.seconds, leadsync.cpu_s,
                                leadsync.agent_after.peak_rss_mb if leadsync.agent_after else None, peer))
    middle = sorted(rounds, key=lambda r: r.time_ratio)[len(rounds) // 2]
    peer, ours_rss = middle.peer, max((r.leadsync_peak_rss_mb or 0 for r in rounds), default=0) or None
    peer_rss = min(r.peer.peak_rss_mb for r in rounds)
    cpu_ratios = [r.leadsync_cpu_s / r.peer.cpu_s for r in rounds if r.leadsync_cpu_s is not None]
    rss = "–" if ours_rss is None else f"{ours_rss:.0f} MB vs its {peer_rss:.0f} MB"
    how = "" if len(rounds) == 1 else f" (min / median / max of {len(rounds)} rounds, leadsync then the peer each)"
    bench.add(Row(
        key=f"peer.pull.{size}", group="peer", title=title, agent=AGENT_PEER, records=peer.records,
        seconds=peer.seconds, api_calls=stats.get("requests_total"), cpu_per_10k_s=peer.cpu_s / (size / 10_000),
        peak_rss_mb=peer_rss,
        notes=f"list pages of 100 with every property, Singer JSON to a file; leadsync's pull of the same sandbox"
              f"{how}: {_spread([r.time_ratio for r in rounds])}x its time "
              f"({_spread([r.leadsync_s for r in rounds])} s vs {_spread([r.peer.seconds for r in rounds])} s), "
              f"{_spread(cpu_ratios) if cpu_ratios else '–'}x its CPU, peak RSS {rss} (highest vs lowest)"
              + ("" if peer.records == size else f"; the peer wrote {peer.records:,} of {size:,}"),
        figures={**asdict(peer), "sandbox_requests": stats.get("requests_total"), "leadsync_seconds": middle.leadsync_s,
                 "leadsync_cpu_s": middle.leadsync_cpu_s, "leadsync_peak_rss_mb": ours_rss,
                 "time_ratio": middle.time_ratio, "cpu_ratio": statistics.median(cpu_ratios) if cpu_ratios else None,
                 "size": size, "rounds": [{**asdict(r), "time_ratio": r.time_ratio} for r in rounds]}))


async def phase_large(bench: Bench) -> None:
    size = bench.sizes.large
    print(f"phase large: sandbox with {size:,} contacts", flush=True)
    sandbox, url = start_sandbox(size, bench.work / "large-sandbox.log", as_is=bench.as_is)
    agent: Child | None = None
    data = bench.work / "large-data"
    sock = bench.work / "large.sock"

    def start() -> Child:
        return bench.start_unlimited_agent(data, sock, bench.work / "large-agent.log")

    try:
        await set_faults(bench, url, UNLIMITED_FAULTS)
        agent = start()
        async with RpcClient(sock, timeout_s=None) as client:
            await connect(client, url)
            pulled = await measure_sync(bench, client, url, agent)
            bench.add(pull_row(size, pulled, bench.unlimited))
            bench.extra["large_sandbox"] = asdict(sandbox.usage())
            if bench.wants("peer"):
                await peer_pull(bench, url, size, pulled)
            if bench.wants("incremental"):
                await quiet_incremental(bench, client, url, agent, size)
            if bench.wants("api"):
                await list_latency(bench, client, size)
                await search_latency(bench, client, size)
        if bench.wants("tui"):
            await tui_first_table(bench, sock, size)
        if not bench.wants("incremental"):
            return
        agent.stop()  # the in-process agent takes over the store for the interval runs
        agent = None
        await interval_incremental(bench, data, url, size)
        agent = start()
        async with RpcClient(sock, timeout_s=None) as client:
            await changed_incremental(bench, client, url, agent, size)
    finally:
        if agent is not None:
            agent.stop()
        sandbox.stop()


async def list_latency(bench: Bench, client: RpcClient, size: int) -> None:
    """``contacts.list`` pages (100 contacts, owner filter, keyset paging) timed at the client."""
    owners = (await client.call("users.list"))["unmatched_owners"]
    owner = max((o for o in owners if o["active"]), key=lambda o: o["contacts_owned"], default=None)
    if owner is None:  # every owner matched to a user: take any owner id the store knows
        owner = {"crm_id": (await client.call("contacts.list", {"limit": 1}))["contacts"][0]["owner_id"],
                 "contacts_owned": None}
    latencies: list[float] = []
    after: int | None = None
    returned = 0
    for _ in range(bench.sizes.list_calls):
        started = time.perf_counter()
        page = await client.call("contacts.list", {"filter": {"owner": owner["crm_id"]}, "after": after,
                                                   "limit": 100})
        latencies.append((time.perf_counter() - started) * 1000)
        returned += len(page["contacts"])
        after = page["next_after"]
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    bench.add(Row(
        key=f"api.contacts_list.{size}", group="api", title=f"contacts.list page, owner filter, {size:,}",
        agent=bench.unlimited, notes=f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(latencies):.2f} ms over "
                                 f"{len(latencies)} consecutive pages of 100 (owner with "
                                 f"{owner['contacts_owned']:,} contacts), timed at the client",
        figures={"p50_ms": p50, "p99_ms": p99, "max_ms": max(latencies), "mean_ms": statistics.fmean(latencies),
                 "calls": len(latencies), "contacts_returned": returned, "owner_contacts": owner["contacts_owned"]}))


def search_queries(contacts: list[dict[str, Any]], rng: random.Random) -> list[tuple[str, str]]:
    """(kind, q) pairs: fragments of sampled contacts' values as people type them (last name start, email
    local part, company start, phone tail as written and as digits, first name and the start of the last),
    fragments no contact has, and 1-2 character ones."""
    queries: list[tuple[str, str]] = []
    for c in contacts:
        phone = c.get("phone") or ""
        queries += [("last name", (c.get("last_name") or "")[:5]), ("email", (c.get("email") or "").split("@")[0]),
                    ("company", (c.get("company") or "")[:8]), ("phone", phone[-7:]),
                    ("phone digits", "".join(ch for ch in phone if ch.isdigit())[-6:]),
                    ("full name", f"{c.get('first_name') or ''} {(c.get('last_name') or '')[:3]}")]
    queries += [("no match", "".join(rng.choice("qxzjkvw") for _ in range(n)))
                for n in (3, 4, 5, 6, 8) for _ in range(8)]
    queries += [("short", q) for q in ("a", "e", "7", "@", "jo", "qz", "xq", "zz", "ß", "ö")]
    return [(kind, q) for kind, q in queries if q.strip()]


async def search_latency(bench: Bench, client: RpcClient, size: int) -> None:
    """``contacts.list`` with ``q`` (one page of up to 100) for fragments people type, timed at the client."""
    rng = random.Random(17)
    sampled: list[dict[str, Any]] = []
    for _ in range(40):
        after = rng.randrange(size)
        sampled += (await client.call("contacts.list", {"after": after, "limit": 1}))["contacts"]
    queries = search_queries(sampled, rng)
    latencies: dict[str, list[float]] = {}
    for _ in range(2):  # the second round is the one people see after the first look-up warmed the cache
        for kind, q in queries:
            started = time.perf_counter()
            await client.call("contacts.list", {"filter": {"q": q}, "limit": 100})
            latencies.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
    every = [ms for values in latencies.values() for ms in values]
    p50, p99 = percentile(every, 50), percentile(every, 99)
    worst = {kind: max(values) for kind, values in latencies.items()}
    bench.add(Row(
        key=f"api.contacts_search.{size}", group="api", title=f"contacts.list q search, {size:,}",
        agent=bench.unlimited, notes=f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(every):.2f} ms over "
                                 f"{len(every)} searches ({len(queries)} fragments twice: names, emails, "
                                 f"companies, phones, no-match, 1-2 chars); slowest kind "
                                 f"{max(worst, key=lambda k: worst[k])} {max(worst.values()):.1f} ms",
        figures={"p50_ms": p50, "p99_ms": p99, "max_ms": max(every), "calls": len(every),
                 "max_ms_by_kind": worst}))


async def tui_first_table(bench: Bench, sock: Path, size: int) -> None:
    """``LeadsyncApp(socket).run_test()``: time from start to the contacts table holding rows (and painted)."""
    try:
        from textual.widgets import DataTable

        from leadsync.tui.app import LeadsyncApp
    except ImportError as exc:
        bench.add(Row(key="tui.first_table", group="tui", title="TUI start to first table", agent=bench.unlimited,
                      notes=f"skipped: the TUI is not importable ({exc})"))
        return
    runs: list[tuple[float, float]] = []
    try:
        for _ in range(bench.sizes.tui_runs):
            app = LeadsyncApp(sock)
            started = time.perf_counter()
            async with app.run_test(size=(160, 48)) as pilot:
                table = app.query_one("#contacts-table", DataTable)
                while table.row_count == 0:
                    if time.perf_counter() - started > 60:
                        raise TimeoutError("the contacts table had no rows after 60 s")
                    await asyncio.sleep(0.002)
                rows_at = time.perf_counter()
                await pilot.pause()
                runs.append((rows_at - started, time.perf_counter() - started))
    except Exception as exc:  # the TUI is still being built: report and move on
        bench.add(Row(key="tui.first_table", group="tui", title="TUI start to first table", agent=bench.unlimited,
                      notes=f"skipped: {type(exc).__name__}: {exc}"))
        return
    rows_s = statistics.median(r for r, _ in runs)
    painted_s = statistics.median(p for _, p in runs)
    bench.add(Row(
        key=f"tui.first_table.{size}", group="tui", title=f"TUI start to first table, {size:,}", agent=bench.unlimited,
        seconds=painted_s,
        notes=f"median of {len(runs)}: rows in the table after {rows_s * 1000:.0f} ms, painted after "
              f"{painted_s * 1000:.0f} ms (run_test 160×48, polled every 2 ms)",
        figures={"runs": [{"rows_s": r, "painted_s": p} for r, p in runs], "rows_s": rows_s,
                 "painted_s": painted_s}))


async def interval_incremental(bench: Bench, data: Path, url: str, size: int) -> None:
    """The no-change incremental an *interval* run makes (owners and properties reused for 10 min)."""
    from leadsync.agent.daemon import Agent

    agent = Agent(data, bench.work / "interval.sock", connector_options={"rate_limit_per_10s": UNLIMITED})
    await agent.start()
    try:
        await agent.request_sync("interval", wait=True)  # refreshes owners, properties, archived
        await asyncio.sleep(1.0)  # interval runs are >= 10 min apart: let the search limiter's bucket drain
        await reset_stats(bench, url)
        started = time.perf_counter()
        run = await agent.request_sync("interval", wait=True)
        seconds = time.perf_counter() - started
        stats = await get_stats(bench, url)
    finally:
        await agent.stop()
    if run.status != "ok":
        raise RuntimeError(f"interval run ended {run.status}: {run.error}")
    bench.add(Row(
        key=f"incremental.interval.{size}", group="incremental", title=f"Incremental, no change, {size:,}, interval",
        agent=AGENT_IN_PROCESS, seconds=seconds, api_calls=run.api_calls, floor="1",
        notes=f"second interval run (owners/properties/archived cached 10 min); {_routes(stats)}",
        figures={"run": {k: getattr(run, k) for k in run.__struct_fields__}, "seconds": seconds,
                 "sandbox_requests": stats.get("requests_total")}))


async def phase_limit(bench: Bench) -> None:
    sizes = bench.sizes
    size = sizes.limit_pull
    print(f"phase limit: sandbox with {size:,} contacts at {HIGHER_LIMIT_PER_10S}, then {LIMIT_PER_10S} requests "
          f"per 10 s, {LIMIT_LATENCY_MS} ms latency", flush=True)
    sandbox, url = start_sandbox(size, bench.work / "limit-sandbox.log", as_is=bench.as_is)
    agent: Child | None = None
    try:
        limited = {"rate_limit_per_10s": LIMIT_PER_10S, "search_rate_limit_per_s": SEARCH_PER_S, "daily_limit": None,
                   "latency_ms": LIMIT_LATENCY_MS}
        await limit_pull_higher(bench, url, size, limited)  # first: an idle agent's watch pull would take the
        await set_faults(bench, url, limited)  # incremental's changes before it is measured
        await asyncio.sleep(10.5)  # the window of the pull at 190 empties
        sock = bench.work / "limit.sock"
        agent = start_agent(bench.work / "limit-data", sock, bench.work / "limit-agent.log")
        async with RpcClient(sock, timeout_s=None) as client:
            await connect(client, url)
            pulled = await measure_sync(bench, client, url, agent)
            bench.add(_limit_row(pull_row(size, pulled, AGENT_CLI), pulled, "pull"))
            await limit_incremental(bench, client, url, agent, limited)  # before the push: its new leads
            pushed_row = await push(bench, client, url, agent, sizes.limit_push, AGENT_CLI, key="limit.push")
            measured = pushed_row.figures  # would fall inside the next pull's 5-min overlap
            bench.add(_limit_row(pushed_row, None, "push", measured))
    finally:
        if agent is not None:
            agent.stop()
        sandbox.stop()


async def limit_pull_higher(bench: Bench, url: str, size: int, limited: dict[str, Any]) -> None:
    """A full pull into a second, fresh ``leadsync agent`` with the sandbox at ``HIGHER_LIMIT_PER_10S``: the
    agent declares HubSpot's default 100 and takes 190 from the answers' rate-limit headers (the owners page
    before the pull brings them), as a real user's agent would. Its row: share of the 19 requests/s."""
    await set_faults(bench, url, {**limited, "rate_limit_per_10s": HIGHER_LIMIT_PER_10S})
    sock = bench.work / "limit-higher.sock"
    log = bench.work / "limit-higher-agent.log"
    agent = start_agent(bench.work / "limit-higher-data", sock, log)
    try:
        async with RpcClient(sock, timeout_s=None) as client:
            await connect(client, url)
            pulled = await measure_sync(bench, client, url, agent)
        row = _limit_row(pull_row(size, pulled, AGENT_CLI), pulled, "pull", limit_per_10s=HIGHER_LIMIT_PER_10S)
        chains = [line.strip() for line in log.read_text(errors="replace").splitlines() if "list chains" in line]
        row.notes += f"; agent log: {chains[-1].split(': ', 1)[-1] if chains else 'no chains line'}"
        bench.add(row)
    finally:
        agent.stop()


async def limit_incremental(bench: Bench, client: RpcClient, url: str, agent: Child, limited: dict[str, Any]) -> None:
    """``limit_changes`` CRM changes (made with the limits off, then 10 s for the sandbox's window to empty),
    then the incremental that brings them at the limit: search only, as the list endpoint cannot filter."""
    count = bench.sizes.limit_changes
    await set_faults(bench, url, UNLIMITED_FAULTS)
    await change_in_crm(bench, url, count, bench.sizes.limit_pull)
    await set_faults(bench, url, limited)
    await asyncio.sleep(10.5)
    changed = await measure_sync(bench, client, url, agent)
    if changed.run["updated_local"] != count:
        raise RuntimeError(f"the incremental updated {changed.run['updated_local']} contacts, not {count}")
    row = Row(key="limit.incremental", group="limit", title="", agent=AGENT_CLI, records=changed.run["pulled"],
              seconds=changed.seconds, api_calls=changed.run["api_calls"], figures=changed.figures())
    bench.add(_limit_row(row, changed, "incremental"))


def _limit_row(row: Row, measured: Measured | None, kind: str, figures: dict[str, Any] | None = None, *,
               limit_per_10s: int = LIMIT_PER_10S) -> Row:
    floors = {k: v for k, v in row.figures.items() if k.startswith(("floor", "over_floor"))}
    figures = dict(measured.figures() if measured else figures or {})
    rate = row.per_second or 0.0
    ceiling = BATCH * limit_per_10s / 10
    fraction = rate / ceiling
    served_429 = figures.get("sandbox_429s") or 0
    run = figures["run"]
    requests_by_route: dict[str, int] = figures.get("sandbox_requests_by_route") or {}
    calls = figures.get("sandbox_requests") or 0
    higher = limit_per_10s != LIMIT_PER_10S
    row.key = f"limit.{kind}{limit_per_10s if higher else ''}.{row.records}"
    row.group = "limit"
    row.title = f"At the CRM's limit: {kind} {row.records:,}{f' at {limit_per_10s}/10 s' if higher else ''}"
    row.floor = f"{ceiling:,.0f} rec/s ceiling"
    searches = requests_by_route.get(SEARCH_ROUTE, 0)
    requests_per_s = calls / row.seconds if row.seconds else 0.0
    allowed = limit_per_10s / 10
    row.notes = (f"{fraction:.0%} of the ceiling ({requests_per_s:.1f} requests/s of {allowed:g} allowed: "
                 f"{requests_per_s / allowed:.0%} of the request budget, "
                 f"{searches / row.seconds if row.seconds else 0:.1f} of them searches); 429s served {served_429}, "
                 f"reaching the user {0 if run['status'] == 'ok' else 'run ' + run['status']}; "
                 f"{len(requests_by_route)} routes")
    row.figures = {**figures, **floors, "fraction_of_ceiling": fraction, "records_per_s": rate,
                   "requests_per_s": requests_per_s, "limit_per_10s": limit_per_10s,
                   "budget_share": requests_per_s / allowed}
    if kind == "pull":
        most = SEARCH_PAGE * SEARCH_PER_S + LIST_PAGE * (allowed - SEARCH_PER_S)
        row.notes += (f"; calls {run['api_calls']} vs floor {floors['floor']} ({floors['over_floor']:+.1%}; all by "
                      f"search {floors['floor_search_only']}); {rate / most:.0%} of the {most:,.0f} rec/s that "
                      f"{SEARCH_PER_S} searches/s of {SEARCH_PAGE} + the other requests as list pages of "
                      f"{LIST_PAGE} would bring")
        row.figures["fraction_of_search_ceiling"] = rate / most
    row.cpu_per_10k_s = None
    row.peak_rss_mb = None
    return row


# -- output -----------------------------------------------------------------------------------------


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def _routes(stats: dict[str, Any]) -> str:
    by_route: dict[str, int] = stats.get("requests") or {}
    short = {k.replace("/crm/v3/objects/contacts", "contacts").replace("/crm/v3/", ""): v
             for k, v in by_route.items()}
    return ", ".join(f"{v} {k}" for k, v in sorted(short.items())) or "no requests"


def _num(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _row_line(row: Row) -> str:
    parts = []
    if row.seconds is not None:
        parts.append(f"{row.seconds:.2f} s")
    if row.per_second is not None:
        parts.append(f"{row.per_second:,.0f}/s")
    if row.api_calls is not None:
        parts.append(f"{row.api_calls:,} calls")
    if row.notes:
        parts.append(row.notes)
    return "; ".join(parts)


def results_table(rows: Sequence[Row]) -> str:
    lines = ["| Benchmark | Agent | Records | Seconds | Records/s | API calls | Floor / ceiling | "
             "Agent CPU s per 10k | Agent peak RSS MB | Notes |",
             "|---|---|--:|--:|--:|--:|--:|--:|--:|---|"]
    for r in rows:
        lines.append(f"| {r.title} | {r.agent} | {_num(r.records)} | {_num(r.seconds, 2)} | {_num(r.per_second)} | "
                     f"{_num(r.api_calls)} | {r.floor} | {_num(r.cpu_per_10k_s, 2)} | {_num(r.peak_rss_mb)} | "
                     f"{r.notes} |")
    return "\n".join(lines)


def budget_targets(limit_rows: Sequence[Row]) -> list[Target]:
    """The full pull's share of the request budget (requests/s over those allowed): >= 95% at HubSpot's 100
    per 10 s, >= 90% at 190 (issue 15, every CRM's ceiling)."""
    targets = []
    for limit, share in ((LIMIT_PER_10S, 0.95), (HIGHER_LIMIT_PER_10S, 0.90)):
        title = f"Full pull uses ≥ {share:.0%} of the request budget at {limit}/10 s"
        row = next((r for r in limit_rows if r.key.startswith("limit.pull")
                    and r.figures.get("limit_per_10s") == limit), None)
        if row is None:
            targets.append(Target(title, "–", None))
            continue
        used = row.figures["budget_share"]
        targets.append(Target(title, f"{used:.1%} ({row.figures['requests_per_s']:.1f} of {limit / 10:g} "
                                     f"requests/s, {row.records:,} contacts)", used >= share))
    return targets


def targets_table(targets: Sequence[Target]) -> str:
    lines = ["| Target | Figure | Met |", "|---|---|---|"]
    for t in targets:
        verdict = "not measured" if t.met is None else ("met" if t.met else "**not met**")
        lines.append(f"| {t.target} | {t.figure} | {verdict} |")
    return "\n".join(lines)


def evaluate(rows: Sequence[Row], sizes: Sizes) -> list[Target]:
    by_key = {r.key: r for r in rows}
    targets: list[Target] = []
    pulls = [r for r in rows if r.group == "pull" or r.key.startswith("limit.pull")]
    calls_target = "Full pull API calls within 5% of the minimum for its pages (list 100, search 200)"
    if pulls:
        worst = max(pulls, key=lambda r: r.figures["over_floor"])
        targets.append(Target(calls_target, "; ".join(
            f"{r.records:,}{' at ' + str(r.figures['limit_per_10s']) + '/10 s' if r.group == 'limit' else ''}: "
            f"{r.api_calls:,} vs "
            f"{r.figures['floor']:,} ({r.figures['over_floor']:+.1%})" for r in pulls),
            worst.figures["over_floor"] <= 0.05))
    else:
        targets.append(Target(calls_target, "–", None))
    push_row = next((r for r in rows if r.group == "push"), None)
    targets.append(Target("Push ≤ 0.011 API calls per contact",
                          f"{push_row.figures['calls_per_contact']:.4f} ({push_row.api_calls} calls for "
                          f"{push_row.records:,})" if push_row else "–",
                          None if push_row is None else push_row.figures["calls_per_contact"] <= 0.011))
    quiet = by_key.get(f"incremental.none.{sizes.large}")
    interval = by_key.get(f"incremental.interval.{sizes.large}")
    if quiet is not None:
        figure = f"manual sync.run: {quiet.api_calls} calls, {quiet.seconds:.2f} s"
        if interval is not None:
            figure += f"; interval run: {interval.api_calls} call(s), {interval.seconds:.2f} s"
        assert quiet.api_calls is not None and quiet.seconds is not None
        targets.append(Target(f"No-change incremental on {sizes.large:,}: ≤ 3 API calls and < 1 s", figure,
                              quiet.api_calls <= 3 and quiet.seconds < 1))
    else:
        targets.append(Target(f"No-change incremental on {sizes.large:,}: ≤ 3 API calls and < 1 s", "–", None))
    changes = [r for r in rows if r.key.startswith("incremental.changes.")]
    if len(changes) == 2:
        small, large = sorted(changes, key=lambda r: r.key.rsplit(".", 1)[1] == str(sizes.large))
        assert small.api_calls is not None and large.api_calls is not None
        assert small.seconds is not None and large.seconds is not None
        # the pull's searches are what the changes cost; directory reads (owners, properties: 0 or 3 calls)
        # depend on how old the agent's cache is (the 1,000,000 run follows an agent restart)
        searches = [(r.figures.get("sandbox_requests_by_route") or {}).get(SEARCH_ROUTE, 0) for r in (small, large)]
        targets.append(Target(
            f"{sizes.changes:,} changes cost in proportion to the changes, not the store",
            f"{sizes.small:,}: {searches[0]} searches ({small.api_calls} calls), {small.seconds:.2f} s; "
            f"{sizes.large:,}: {searches[1]} searches ({large.api_calls} calls), {large.seconds:.2f} s",
            searches[1] <= searches[0] + 1 and large.seconds <= 2 * small.seconds + 0.5))
    limit_rows = [r for r in rows if r.group == "limit"]
    ceiling_rows = [r for r in limit_rows if not r.key.startswith("limit.incremental")
                    and r.figures.get("limit_per_10s") == LIMIT_PER_10S]
    if ceiling_rows:
        fractions = {r.title.split(": ", 1)[1]: r.figures["fraction_of_ceiling"] for r in ceiling_rows}
        targets.append(Target("≥ 90% of the rate-limit ceiling (1,000 records/s)",
                              "; ".join(f"{k}: {v:.0%}" for k, v in fractions.items()),
                              all(v >= 0.9 for v in fractions.values())))
        for r in limit_rows:
            if r.key.startswith("limit.incremental"):
                targets.append(Target("Large incremental at the limit (search only, one at a time: "
                                      "5 searches/s × 200 = 100% at most)",
                                      f"{r.records:,} changes: {r.figures['fraction_of_ceiling']:.0%} of the ceiling",
                                      r.figures["fraction_of_ceiling"] >= 0.9))
        targets.extend(budget_targets(limit_rows))
        leaked = [r for r in limit_rows if r.figures["run"]["status"] != "ok"]
        served = sum(r.figures.get("sandbox_429s") or 0 for r in limit_rows)
        targets.append(Target("Zero 429s reach the user at the limit",
                              f"{served} 429s served by the sandbox; runs "
                              f"{', '.join(r.figures['run']['status'] for r in limit_rows)}", not leaked))
    else:
        targets.append(Target("≥ 90% of the rate-limit ceiling (1,000 records/s)", "–", None))
        targets.extend(budget_targets([]))
    peers = [r for r in rows if r.group == "peer" and "skipped" not in r.figures]
    peer_target = "Full pull ≤ 0.5x the peer's (meltano-tap-hubspot) wall time at ≤ its peak memory"
    if peers:
        targets.append(Target(peer_target, "; ".join(
            f"{r.figures['size']:,}: {r.figures['time_ratio']:.2f}x, {r.figures['leadsync_peak_rss_mb'] or 0:.0f} "
            f"vs {r.peak_rss_mb or 0:.0f} MB" for r in peers),
            all(r.figures["time_ratio"] <= 0.5 and (r.figures["leadsync_peak_rss_mb"] or 0) <= (r.peak_rss_mb or 0)
                for r in peers)))
    else:
        skipped = next((r.notes for r in rows if r.group == "peer"), "–")
        targets.append(Target(peer_target, skipped, None))
    big_pull = by_key.get(f"pull.{sizes.large}")
    targets.append(Target(f"Agent peak RSS < 250 MB for the {sizes.large:,} pull",
                          f"{big_pull.peak_rss_mb:.0f} MB" if big_pull and big_pull.peak_rss_mb else "–",
                          None if big_pull is None or big_pull.peak_rss_mb is None else big_pull.peak_rss_mb < 250))
    listing = by_key.get(f"api.contacts_list.{sizes.large}")
    targets.append(Target(f"contacts.list p99 < 20 ms on {sizes.large:,}",
                          f"p99 {listing.figures['p99_ms']:.2f} ms (p50 {listing.figures['p50_ms']:.2f} ms)"
                          if listing else "–", None if listing is None else listing.figures["p99_ms"] < 20))
    searching = by_key.get(f"api.contacts_search.{sizes.large}")
    targets.append(Target(f"contacts.list q search p99 < 20 ms on {sizes.large:,}",
                          f"p99 {searching.figures['p99_ms']:.2f} ms (p50 {searching.figures['p50_ms']:.2f} ms)"
                          if searching else "–", None if searching is None else searching.figures["p99_ms"] < 20))
    abused = by_key.get("api.contacts_list.socket_abuse")
    targets.append(Target("contacts.list p99 under socket abuse within 2x idle",
                          f"p99 {abused.figures['abused']['p99_ms']:.2f} ms vs {abused.figures['idle']['p99_ms']:.2f}"
                          f" ms idle ({abused.figures['p99_ratio']:.2f}x)" if abused else "–",
                          None if abused is None else abused.figures["p99_ratio"] <= 2))
    return targets


def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "agent", "common"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        commit += " + uncommitted changes in agent/ or common/" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {"nproc": len(os.sched_getaffinity(0)), "cpu": model, "ram_gb": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "platform": platform.platform(), "commit": commit,
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")}


# -- main -------------------------------------------------------------------------------------------


def parse_only(values: Sequence[str] | None) -> frozenset[str]:
    if not values:
        return frozenset(NAMES)
    names = {n.strip() for v in values for n in v.split(",") if n.strip()}
    unknown = names - set(NAMES)
    if unknown:
        raise SystemExit(f"--only: unknown benchmark(s) {', '.join(sorted(unknown))}; one of {', '.join(NAMES)}")
    return frozenset(names)


async def phase_import(bench: Bench) -> None:
    """``leadsync import`` of a HubSpot-style CSV into an agent with no CRM (see :mod:`tests.bench_import`)."""
    from tests.bench_import import import_rows_benchmark

    size = bench.sizes.import_rows
    print(f"phase import: a {size:,}-row CSV", flush=True)
    figures = await import_rows_benchmark(bench.work, size)
    bench.add(Row(key="import", group="import", title=f"import {size:,}-row CSV (leadsync import)",
                  agent=AGENT_CLI, records=size, seconds=figures["seconds"], peak_rss_mb=figures["agent_peak_rss_mb"],
                  notes=f"importing side peak {figures['client_peak_mb']:.1f} MB "
                        f"({figures['client_peak_mb_tenth_size']:.1f} MB at a tenth the size: streamed); "
                        f"file {figures['file_mb']:.1f} MB; agent RSS after two previews "
                        f"{' / '.join(f'{mb:.0f}' for mb in figures['agent_rss_mb_after_previews'])} MB, "
                        f"after the import {figures['agent_rss_mb_after_import']:.0f} MB", figures=figures))


async def phase_socket(bench: Bench) -> None:
    """``contacts.list`` idle and while another process abuses the socket (see :mod:`tests.bench_socket`)."""
    from tests.bench_socket import socket_abuse_benchmark

    calls = bench.sizes.list_calls
    print(f"phase socket: contacts.list, {calls} calls idle and {calls} under abuse", flush=True)
    f = await socket_abuse_benchmark(bench.work, calls)
    idle, abused, abuse = f["idle"], f["abused"], f["abuse"]
    bench.add(Row(key="api.contacts_list.socket_abuse", group="api", agent=AGENT_CLI,
                  peak_rss_mb=f["agent_peak_rss_mb"],
                  title=f"contacts.list p99 idle vs socket abuse, {f['contacts']:,}",
                  notes=f"p99 {idle['p99_ms']:.2f} ms idle, {abused['p99_ms']:.2f} ms under abuse "
                        f"({f['p99_ratio']:.2f}x; p50 {idle['p50_ms']:.2f} / {abused['p50_ms']:.2f} ms); bursts "
                        f"{abuse.get('bursts', 0)}: {abuse.get('burst_served', 0)} served, "
                        f"{abuse.get('burst_refused', 0)} refused with an error, "
                        f"{sum(v for k, v in abuse.items() if k.startswith('burst_') and 'fail' in k)} failed; "
                        f"slowloris cut {abuse.get('slowloris_cut_at_deadline', 0)}, subscribers dropped "
                        f"{abuse.get('subscribers_dropped', 0)}; agent CPU {f['agent_cpu_share_under_abuse']:.0%} "
                        "of a core while abused", figures=f))


async def phase_ceilings(bench: Bench) -> None:
    """Salesforce, Zoho and Autotask at their ceilings, scaled down (see :mod:`tests.bench_ceilings`)."""
    from tests import bench_ceilings

    await bench_ceilings.phase_ceilings(bench)


async def run(bench: Bench) -> None:
    phases: list[tuple[str, Callable[[Bench], Awaitable[None]], tuple[str, ...]]] = [
        ("small", phase_small, ("pull", "incremental", "push", "baseline", "peer")),
        ("large", phase_large, ("pull", "incremental", "api", "tui", "peer")),
        ("limit", phase_limit, ("limit",)),
        ("import", phase_import, ("import",)),
        ("socket", phase_socket, ("socket",)),
        ("ceilings", phase_ceilings, ("ceilings",)),
    ]
    for name, phase, needs in phases:
        if not bench.wants(*needs):
            continue
        started = time.perf_counter()
        try:
            await phase(bench)
        except Exception as exc:
            bench.errors.append(f"phase {name}: {type(exc).__name__}: {exc}")
            traceback.print_exc()
        bench.extra[f"phase_{name}_s"] = round(time.perf_counter() - started, 1)
        print(f"phase {name} took {bench.extra[f'phase_{name}_s']:.0f} s", flush=True)


def _two_sizes(text: str) -> tuple[int, int]:
    try:
        small, large = (int(part.replace("_", "")) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give two contact counts, as 10000,100000") from None
    if min(small, large) < 1_000:
        raise argparse.ArgumentTypeError(f"{text!r}: each phase needs 1,000 contacts or more")
    return small, large


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description="leadsync benchmarks (figures).")
    parser.add_argument("--quick", action="store_true", help="small sizes (10k/20k contacts)")
    parser.add_argument("--only", action="append", metavar="NAME", help=f"one of {', '.join(NAMES)} (repeatable)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results" / "latest.json")
    parser.add_argument("--sandbox-as-is", action="store_true",
                        help="serve the sandbox with `leadsync sandbox` itself (same once its kit sets TCP_NODELAY)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--sizes", metavar="SMALL,LARGE", type=_two_sizes,
                        help="contacts in the small and large phases (e.g. 10000,100000)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="rounds of the peer comparison (a fresh leadsync pull, then the peer's)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.sizes:
        sizes = dataclasses.replace(sizes, small=args.sizes[0], large=args.sizes[1])
    only = parse_only(args.only)
    work = Path(tempfile.mkdtemp(prefix="lsbench-"))
    info = machine()
    print(f"leadsync benchmarks ({'quick' if args.quick else 'full'}) on {info['nproc']} × {info['cpu']}, "
          f"{info['ram_gb']} GB, Python {info['python']}; work dir {work}", flush=True)
    started = time.perf_counter()

    async def go() -> Bench:
        async with httpx.AsyncClient(timeout=60) as http:
            bench = Bench(sizes=sizes, only=only, work=work, as_is=args.sandbox_as_is, http=http,
                          repeat=max(1, args.repeat))
            await run(bench)
            return bench

    try:
        bench = asyncio.run(go())
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - started
    bench.extra["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    targets = evaluate(bench.rows, sizes)
    print()
    print(results_table(bench.rows))
    print()
    print(targets_table(targets))
    print()
    for kind, text in AGENT_KINDS.items():
        if any(r.agent == kind for r in bench.rows):
            print(f"- {kind}: {text}")
    sandbox = "`leadsync sandbox` as is" if args.sandbox_as_is else "`python -m tests.bench_procs sandbox` " \
        "(= leadsync sandbox, whose kit sets TCP_NODELAY itself)"
    print(f"- CRM: {sandbox}; total {elapsed / 60:.1f} min")
    for error in bench.errors:
        print(f"ERROR {error}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "mode": "quick" if args.quick else "full", "machine": info, "sizes": asdict(sizes), "only": sorted(only),
        "sandbox": sandbox, "duration_s": round(elapsed, 1), "rows": [asdict(r) | {"per_second": r.per_second}
                                                                       for r in bench.rows],
        "targets": [asdict(t) for t in targets], "agents": AGENT_KINDS, "extra": bench.extra,
        "errors": bench.errors}, indent=2, default=str), encoding="utf-8")
    print(f"results written to {args.json}")
    return 1 if bench.errors else 0


if __name__ == "__main__":
    sys.exit(main())
