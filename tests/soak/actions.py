"""The soak's operations, one coroutine per kind, each recording its field writes in the ledger and its count in
``Soak.done``: edits on both sides, new contacts on both sides, imports, to-dos, lead score changes, syncs,
restarts, kill -9 during a sync, fault storms, quota exhaustion and OAuth token expiry.

Every written value is new (a running sequence number in it), so no write is a no-op that the merge rules would
rightly ignore. CRM-side edits change the sandbox's records directly between requests, as a person in the
CRM's own UI would (:mod:`tests.crm_worlds`); the soak's RPC calls go through the agent's socket API.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from leadsync.common.rpc import RpcError
from tests.soak.ledger import Ledger
from tests.soak.world import QUOTA_SWITCH, World

IMPORT_HEADER = ["Email", "First Name", "Last Name", "Company", "Job Title", "Phone"]
IMPORT_FIELDS = ["email", "first_name", "last_name", "company", "job_title", "phone"]
SCORE_THRESHOLD = 60


@dataclass
class Soak:
    """The state of one soak run: its world, ledger, seeded generator and what it has done so far."""

    world: World
    ledger: Ledger
    rng: random.Random
    done: Counter[str] = field(default_factory=Counter)
    users: list[int] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)  # local id, email, crm_id (refreshed on sync)
    seq: int = 0
    sync_status: Counter[str] = field(default_factory=Counter)
    without: frozenset[str] = frozenset()  # operations left out (runner.Options.without)

    @property
    def crm(self) -> str:
        return self.world.crm

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def edit_fields(self) -> list[str]:
        """Text fields both sides may edit (company only on HubSpot: elsewhere it is a Lead's or a Company's)."""
        return ["first_name", "last_name", "job_title", "phone", *(["company"] if self.crm == "hubspot" else [])]

    def value(self, name: str) -> str:
        n = self.next_seq()
        return {"first_name": f"Ann{n}", "last_name": f"Lee{n}", "job_title": f"Title {n}", "company": f"Co {n}",
                "phone": f"+1 555 {n % 10_000:04d} {n // 10_000}"}[name]

    def maps_score(self) -> bool:
        return "lead_score" in self.world.side.names

    def new_contact(self, tag: str) -> dict[str, str]:
        n = self.next_seq()
        return {"email": f"soak.{tag}.{n}@example.org", "first_name": f"New{n}", "last_name": f"Lead{n}",
                "company": f"Soak Co {n % 7}", "job_title": f"Title {n}", "phone": f"+1 555 {n % 10_000:04d} 9"}


async def refresh_contacts(soak: Soak) -> None:
    """Reload the local contacts (id, email, crm_id) the edits pick from."""
    out: list[dict[str, Any]] = []
    after = None
    while True:
        page = await soak.world.call("contacts.list", {"limit": 500, "after": after})
        out += [{"id": c["id"], "email": c["email"], "crm_id": c["crm_id"]} for c in page["contacts"] if c["email"]]
        after = page["next_after"]
        if after is None:
            soak.contacts = out
            return


async def local_edit(soak: Soak) -> None:
    for contact in soak.rng.sample(soak.contacts, min(len(soak.contacts), soak.rng.randint(1, 5))):
        names = soak.rng.sample(soak.edit_fields(), soak.rng.randint(1, 2))
        values = {name: soak.value(name) for name in names}
        await soak.world.call("contacts.update", {"id": contact["id"], "fields": values})
        soak.ledger.record("local", contact["email"], values)
        soak.done["local edit"] += 1


async def crm_edit(soak: Soak) -> None:
    side = soak.world.side
    for crm_id in soak.rng.sample(side.ids(), soak.rng.randint(1, 5)):
        names = soak.rng.sample(soak.edit_fields(), soak.rng.randint(1, 2))
        values = {name: soak.value(name) for name in names}
        email = side.get(crm_id)["email"]
        if not email:
            continue
        side.set(crm_id, values)
        soak.ledger.record("crm", email, values)
        soak.done["CRM edit"] += 1


async def local_create(soak: Soak) -> None:
    for _ in range(soak.rng.randint(1, 4)):
        fields = soak.new_contact("local")
        answer = await soak.world.call("contacts.create", {"created_by": soak.rng.choice(soak.users),
                                                           "fields": fields})
        soak.contacts.append({"id": answer["id"], "email": fields["email"], "crm_id": None})
        soak.ledger.record("local", fields["email"], fields)
        soak.done["local create"] += 1


async def crm_create(soak: Soak) -> None:
    for _ in range(soak.rng.randint(1, 3)):
        fields = soak.new_contact("crm")
        soak.world.side.add(fields)
        soak.ledger.record("crm", fields["email"], fields)
        soak.done["CRM create"] += 1


async def import_rows(soak: Soak) -> None:
    """An import of a few new contacts and a few existing ones (new job titles and phones for those)."""
    rows: list[tuple[str, dict[str, str]]] = [(f["email"], f) for f in
                                              (soak.new_contact("import") for _ in range(soak.rng.randint(2, 6)))]
    for contact in soak.rng.sample(soak.contacts, min(len(soak.contacts), soak.rng.randint(1, 4))):
        rows.append((contact["email"], {"email": contact["email"], "job_title": soak.value("job_title"),
                                        "phone": soak.value("phone")}))
    if soak.crm != "hubspot":  # an existing contact's company is not the import's to move off HubSpot
        rows = [(e, f) if e.startswith("soak.import.") else (e, {k: v for k, v in f.items() if k != "company"})
                for e, f in rows]
    lines = [[i + 2, [f.get(name, "") for name in IMPORT_FIELDS]] for i, (_, f) in enumerate(rows)]
    answer = await soak.world.call("contacts.import", {"as_user": soak.rng.choice(soak.users),
                                                       "header": IMPORT_HEADER, "rows": lines})
    failed = {f["line"] for f in answer.get("failed", [])}
    for i, (email, fields) in enumerate(rows):
        if i + 2 not in failed:
            soak.ledger.record("local", email, fields)
    soak.done["import"] += 1
    soak.done["imported row"] += len(rows) - len(failed)
    soak.done["import row refused"] += len(failed)


async def todo(soak: Soak) -> None:
    if not soak.contacts:
        return
    contact = soak.rng.choice(soak.contacts)
    await soak.world.call("todos.assign", {"contact_id": contact["id"], "assignee": soak.rng.choice(soak.users),
                                           "title": f"Call back #{soak.next_seq()}"})
    soak.ledger.pushed(contact["email"])
    soak.done["to-do"] += 1


async def score(soak: Soak) -> None:
    for contact in soak.rng.sample(soak.contacts, min(len(soak.contacts), soak.rng.randint(1, 3))):
        value = (soak.next_seq() * 37) % 100
        await soak.world.call("contacts.score", {"id": contact["id"], "score": value})
        if soak.maps_score():
            soak.ledger.record("local", contact["email"], {"lead_score": value})
        soak.ledger.pushed(contact["email"])
        soak.done["score change"] += 1


async def crm_score(soak: Soak) -> None:
    if not soak.maps_score():
        return
    side = soak.world.side
    for crm_id in soak.rng.sample(side.ids(), soak.rng.randint(1, 3)):
        value = (soak.next_seq() * 41) % 100
        email = side.get(crm_id)["email"]
        side.set(crm_id, {"lead_score": value})
        soak.ledger.record("crm", email, {"lead_score": value})
        soak.done["CRM score change"] += 1


async def sync(soak: Soak) -> dict[str, Any]:
    """A sync asked for and waited on; an ok run with nothing failed closes the ledger's gap."""
    try:
        run = await soak.world.call("sync.run", {"wait": True}, timeout_s=300)
    except RpcError as exc:
        soak.sync_status[f"refused: {exc.message[:60]}"] += 1
        return {"status": "refused"}
    soak.done["sync"] += 1
    soak.sync_status[str(run["status"])] += 1
    if run["status"] == "ok" and run["failed"] == 0:
        soak.ledger.synced()
    await refresh_contacts(soak)
    return dict(run)


async def restart(soak: Soak) -> None:
    await soak.world.stop_agent(kill=False)
    await soak.world.start_agent()
    soak.done["restart"] += 1


async def kill9(soak: Soak) -> None:
    """SIGKILL the agent at a random point of a sync it was asked for, then start it again."""
    await soak.world.call("sync.run", {"wait": False})
    await asyncio.sleep(soak.rng.uniform(0.0, 1.0))
    await soak.world.stop_agent(kill=True)
    await soak.world.start_agent()
    soak.done["kill -9"] += 1


async def fault_storm(soak: Soak) -> None:
    """429s, 5xx, dropped connections and latency on a share of requests for a sync and some edits."""
    rates = {"error_429_rate": soak.rng.uniform(0.05, 0.3), "error_5xx_rate": soak.rng.uniform(0.05, 0.2),
             "drop_connection_rate": soak.rng.uniform(0.0, 0.05), "latency_ms": soak.rng.randint(0, 40),
             "seed": soak.rng.randint(0, 2**31)}
    await soak.world.switch_faults(rates)
    try:
        await sync(soak)
        await local_edit(soak)
        await crm_edit(soak)
        await sync(soak)
    finally:
        await soak.world.switch_faults({"error_429_rate": 0.0, "error_5xx_rate": 0.0, "drop_connection_rate": 0.0,
                                        "latency_ms": 0})
    soak.done["fault storm"] += 1


async def quota_exhausted(soak: Soak) -> None:
    """The CRM's request quota used up for a sync and some local edits, then a new quota period: the agent
    holds syncs until the quota resets by its own clock, which the soak cannot move, so a restart stands in
    for the next day (the hold is not kept across restarts; the first request finds out again)."""
    switch = QUOTA_SWITCH[soak.crm]
    await soak.world.switch_faults({switch: 1})
    try:
        await sync(soak)
        await local_edit(soak)
        await sync(soak)
    finally:
        await soak.world.switch_faults({switch: None})
    await soak.world.stop_agent(kill=False)
    await soak.world.start_agent()
    soak.done["quota exhausted"] += 1


async def oauth_expiry(soak: Soak) -> None:
    """Every access token expires in the sandbox; the next sync must refresh and carry on."""
    if await soak.world.expire_tokens():
        await sync(soak)
        soak.done["token expiry"] += 1


WEIGHTS = {local_edit: 8, crm_edit: 8, local_create: 3, crm_create: 2, import_rows: 1.5, todo: 1.5, score: 3,
           crm_score: 1.5, sync: 5, fault_storm: 1, oauth_expiry: 1}
"""How often each everyday operation is picked per step (relative weights)."""
DAILY = {kill9: 1.0, restart: 0.5, quota_exhausted: 0.3}
"""The chance of each rarer event on a simulated day (at a random time of that day)."""
