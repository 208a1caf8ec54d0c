"""The ``ceilings`` benchmark (``make bench BENCH_ARGS="--only ceilings"``): Salesforce, Zoho CRM and Autotask
at their ceiling, what leadsync reaches of it, and the rate-limit refusals served vs reaching the user.

Each CRM's real ceiling is a long window: Salesforce's API request allocation per rolling 24 h (15,000 to
100,000s per org, ``Sforce-Limit-Info`` on every answer, 403 ``REQUEST_LIMIT_EXCEEDED`` past it), Zoho's API
credits per rolling 24 h (5,000 on Free to millions; 1 credit a call; 429 ``TOO_MANY_REQUESTS`` past it),
Autotask's 10,000 requests per rolling hour per database (``ThresholdInformation``; 429 + ``Retry-After``). A
run at that ceiling would take a day, so each sandbox is **scaled down**: a quota of :attr:`Ceiling.quota`
requests per rolling :data:`WINDOW_S` seconds, enforced by the sandbox the way the CRM enforces its own (same
window rule, error body and headers), and the connector told the same window (Salesforce learns the quota
from ``Sforce-Limit-Info``, Autotask from ``ThresholdInformation``; Zoho's credits are configured, as Zoho
reports none). Records per request are the CRM's own (query pages of 2,000 / 200 / 500; writes of 200 / 100 /
1). The sandbox runs in the benchmark's process behind an ASGI transport (no sockets), with
:data:`LATENCY_MS` of latency per answer, and so does the Agent (driven through its socket).

Per CRM: a full pull of :attr:`Ceiling.contacts` records, then a push of :attr:`Ceiling.push` new leads
(``contacts.import``), each after one empty window. Figures: requests the sandbox counted ``R`` over the run's
``T`` seconds; the allowance a rolling window gives in ``T`` is ``quota x (floor(T / W) + 1)`` (the first
window's burst, then one window's worth per window), so ``R`` over it is the share of the ceiling reached;
also requests/s against ``quota / W``, records/s, 403/429s the sandbox served and what reached the user (the
run not ``ok``, or records failed).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leadsync.agent.daemon import Agent
from leadsync.common.rpc import RpcClient
from tests.crm_worlds import BASE_URLS, SocketLikeTransport, make_side

WINDOW_S = 10
"""The scaled-down window (s) every sandbox and connector use here (the CRMs': 86,400 s, 86,400 s, 3,600 s)."""
LATENCY_MS = 50
AGENT_KIND = "in-proc"


@dataclass(frozen=True)
class Ceiling:
    """One CRM at its (scaled) ceiling: ``quota`` requests per :data:`WINDOW_S`; the records a read and a
    write request carry; the sandbox's switches and the connector's options that make it so."""

    crm: str
    real: str
    quota: int
    read_records: int
    write_records: int
    switches: dict[str, Any]
    options: dict[str, Any]
    contacts: int
    push: int
    quick: dict[str, int] = field(default_factory=dict)


CEILINGS = (
    Ceiling("salesforce", "API requests per rolling 24 h (org allocation, e.g. 100,000 + per license)", quota=3,
            read_records=2000, write_records=200,
            switches={"daily_limit": 3, "quota_window_s": WINDOW_S},
            options={"quota_window_s": float(WINDOW_S)}, contacts=24_000, push=1_000,
            quick={"contacts": 6_000, "push": 400}),
    Ceiling("zoho", "API credits per rolling 24 h (5,000 Free ... 50,000 + per license), 1 a call", quota=6,
            read_records=200, write_records=100,
            switches={"daily_limit": 6, "credits_window_s": WINDOW_S},
            options={"credits_per_day": 6, "credits_window_s": float(WINDOW_S)}, contacts=1_200, push=200,
            quick={"contacts": 600, "push": 100}),
    Ceiling("autotask", "10,000 requests per rolling hour per database", quota=6, read_records=500,
            write_records=1, switches={"hourly_threshold": 6, "threshold_window_s": WINDOW_S},
            options={"threshold_window_s": float(WINDOW_S), "company_defaults": {"phone": "+1 555 0100"}},
            contacts=6_000, push=12, quick={"contacts": 3_000, "push": 6}),
)


@dataclass
class Measured:
    """One run at the ceiling: the run's answer, its wall seconds, what the sandbox counted."""

    run: dict[str, Any]
    seconds: float
    requests: int
    refused: int
    by_route: dict[str, int]


async def _measure(client: RpcClient, side: Any, params: dict[str, Any]) -> Measured:
    await asyncio.sleep(WINDOW_S + 0.5)  # an empty window first: what came before does not count
    side.reset()
    started = time.perf_counter()
    run: dict[str, Any] = await client.call("sync.run", {"wait": True, **params}, timeout_s=None)
    seconds = time.perf_counter() - started
    counts = side.state.status_counts
    by_route = {f"{method} {path}": n for (method, path), n in sorted(side.state.requests.items())}
    return Measured(run, seconds, side.requests(), counts[403] + counts[429], by_route)


def _row(bench: Any, ceiling: Ceiling, kind: str, records: int, m: Measured) -> Any:
    from tests.bench import Row

    run, quota = m.run, ceiling.quota
    allowance = quota * (math.floor(m.seconds / WINDOW_S) + 1)
    share = m.requests / allowance
    per_s = m.requests / m.seconds if m.seconds else 0.0
    reaching = 0 if run["status"] == "ok" and not run["failed"] else f"run {run['status']}: {run.get('error')}"
    per_request = ceiling.read_records if kind == "pull" else ceiling.write_records
    records_ceiling = per_request * quota / WINDOW_S  # had every request carried a full page or batch
    records_per_s = records / m.seconds if m.seconds else 0.0
    notes = (f"{share:.0%} of the allowance ({m.requests} requests in {m.seconds:.1f} s; a rolling "
             f"{WINDOW_S} s window allows {allowance}), {per_s:.2f} requests/s of {quota / WINDOW_S:g}; "
             f"{records_per_s / records_ceiling:.0%} of the {records_ceiling:,.0f} records/s that full "
             f"{'pages' if kind == 'pull' else 'writes'} of {per_request:,} would bring; rate-limit refusals "
             f"served {m.refused}, reaching the user {reaching}")
    row = Row(key=f"ceilings.{ceiling.crm}.{kind}.{records}", group="ceilings",
              title=f"{ceiling.crm} at its ceiling: {kind} {records:,}", agent=AGENT_KIND, records=records,
              seconds=m.seconds, api_calls=run["api_calls"],
              floor=f"{quota} req / {WINDOW_S} s (real: {ceiling.real})", notes=notes,
              figures={"run": run, "seconds": m.seconds, "sandbox_requests": m.requests,
                       "sandbox_requests_by_route": m.by_route, "refused_served": m.refused,
                       "reaching_user": reaching, "allowance": allowance, "share_of_allowance": share,
                       "requests_per_s": per_s, "allowed_per_s": quota / WINDOW_S,
                       "records_per_s": records_per_s, "records_ceiling_per_s": records_ceiling,
                       "quota": quota, "window_s": WINDOW_S, "records_per_request": per_request})
    return bench.add(row)


async def ceiling_runs(bench: Any, ceiling: Ceiling) -> None:
    """The pull and the push of one CRM at its scaled ceiling (rows added to ``bench``)."""
    from tests.bench import import_leads, matched_user

    quick = bench.sizes.small < 100_000
    contacts = ceiling.quick.get("contacts", ceiling.contacts) if quick else ceiling.contacts
    push = ceiling.quick.get("push", ceiling.push) if quick else ceiling.push
    side = make_side(ceiling.crm, contacts=contacts, **{**ceiling.switches, "latency_ms": LATENCY_MS})
    work = Path(bench.work) / f"ceilings-{ceiling.crm}"
    agent = Agent(work / "data", work / "agent.sock", watch=False,
                  connector_options={"transport": SocketLikeTransport(side.app), **ceiling.options})
    await agent.start()
    try:
        async with RpcClient(agent.socket_path, timeout_s=None) as client:
            await client.call("crm.connect", {"crm": ceiling.crm, "base_url": BASE_URLS[ceiling.crm],
                                              "credentials": side.credentials()})
            pulled = await _measure(client, side, {})
            _row(bench, ceiling, "pull", pulled.run["pulled"], pulled)
            user_id, _ = await matched_user(client)
            await import_leads(client, user_id, push, f"ceilings-{ceiling.crm}.leadsync-bench.example")
            pushed = await _measure(client, side, {"pull": False, "push": True})
            _row(bench, ceiling, "push", pushed.run["created_crm"], pushed)
    finally:
        await agent.stop()


async def phase_ceilings(bench: Any) -> None:
    """Salesforce, Zoho and Autotask at their (scaled) ceilings, one after another."""
    print(f"phase ceilings: Salesforce, Zoho, Autotask sandboxes at a quota per rolling {WINDOW_S} s, "
          f"{LATENCY_MS} ms latency", flush=True)
    for ceiling in CEILINGS:
        await ceiling_runs(bench, ceiling)
