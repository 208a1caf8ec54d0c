"""A storm does not fail a run, and no run hides what it left undone (issue 18), on every CRM: under transient
faults a push goes on batch by batch; a batch that exhausts its retries stays queued and the run ends
partial; ``sync.status`` keeps showing that run until a later one finishes the work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leadsync.agent.connectors.http import RetryPolicy
from leadsync.common.rpc import RpcClient
from tests.conftest import SideWorld, connect_side
from tests.crm_worlds import make_side
from tests.test_sync import all_contacts, new_user

WRITE_ROUTES = {"hubspot": ("/crm/v3/objects/contacts/batch/update", "POST"),
                "salesforce": ("/services/data/*/composite/sobjects", "PATCH"),
                "zoho": ("/crm/*", "PUT"),
                "autotask": ("/atservicesrest/V1.0/Companies/*/Contacts", "PATCH")}
"""Each CRM's update request (a batch; one contact on Autotask)."""


async def _no_wait(seconds: float) -> None:
    return None


async def _edit_and_create(world: SideWorld, client: RpcClient, edits: int, creates: int, tag: str = "") -> tuple[
        list[dict[str, Any]], list[str]]:
    """Edit the job title of the first ``edits`` linked contacts (``Storm <tag> <id>``) and create ``creates``
    new leads (``storm<tag>-<n>@example.org``); returns the contacts edited and the new emails."""
    contacts = [c for c in await all_contacts(client) if c["crm_id"]][:edits]
    for contact in contacts:
        await client.call("contacts.update", {"id": contact["id"], "fields": {
            "job_title": " ".join(p for p in ("Storm", tag, str(contact["id"])) if p)}})
    user = await new_user(client)
    emails = [f"storm{tag}-{n}@example.org" for n in range(creates)]
    for email in emails:
        await client.call("contacts.create", {"created_by": user["id"], "fields": {
            "email": email, "first_name": "Storm", "last_name": email.split("@")[0], "company": "Stormco",
            "phone": "+1 555 0111"}})
    return contacts, emails


async def test_a_push_under_twenty_percent_transient_faults_writes_everything_and_no_run_fails(
        short_tmp: Path, crm_name: str) -> None:
    side = make_side(crm_name, contacts=300)
    world = await connect_side(short_tmp, side, sleep=_no_wait)
    try:
        async with RpcClient(world.agent.socket_path) as client:
            assert (await client.call("sync.run", {"wait": True}))["status"] == "ok"
            live = side.count()
            world.faults.update({"error_429_rate": 0.07, "error_5xx_rate": 0.07, "drop_connection_rate": 0.06,
                                 "seed": 7})
            runs: list[dict[str, Any]] = []
            edited: list[dict[str, Any]] = []
            emails: list[str] = []
            for round_ in range(4):  # edits and new leads keep coming while the storm lasts
                edits = 30 if crm_name == "autotask" else 250  # Autotask writes one contact a request
                more_edited, more_emails = await _edit_and_create(world, client, edits, 10, f"r{round_}")
                edited, emails = more_edited, emails + more_emails
                for _ in range(8):
                    run = await client.call("sync.run", {"wait": True})
                    runs.append(run)
                    if run["status"] == "ok" and (await client.call("sync.status"))["pending_push"] == 0:
                        break
            world.faults.update({"error_429_rate": 0.0, "error_5xx_rate": 0.0, "drop_connection_rate": 0.0})
            faulted = sum(n for status, n in side.state.status_counts.items() if status in (0, 429, 503))
            assert faulted >= 4, (faulted, runs)  # the storm did hit
            assert [r["status"] for r in runs if r["status"] not in ("ok", "partial")] == [], runs
            assert runs[-1]["status"] == "ok" and (await client.call("sync.status"))["pending_push"] == 0, runs
            assert sum(r["created_crm"] + r["linked"] for r in runs) == 40 and side.count() == live + 40, runs
            for contact in edited:
                assert side.get(contact["crm_id"])["job_title"] == f"Storm r3 {contact['id']}"
            for email in emails:
                assert side.find(email) is not None, email
            assert await client.call("errors.list", {}) == []
            assert (await client.call("sync.status"))["last_problem"] is None
    finally:
        await world.agent.stop()


async def test_a_batch_that_exhausts_its_retries_stays_queued_and_the_run_goes_on(short_tmp: Path,
                                                                                 crm_name: str) -> None:
    side = make_side(crm_name, contacts=200)
    world = await connect_side(short_tmp, side, sleep=_no_wait, retry=RetryPolicy(max_attempts=2))
    try:
        async with RpcClient(world.agent.socket_path) as client:
            assert (await client.call("sync.run", {"wait": True}))["status"] == "ok"
            edited, _ = await _edit_and_create(world, client, edits=200, creates=0)
            route, method = WRITE_ROUTES[crm_name]
            world.faults.fail_next(route, method, 503, times=2)  # the first update request, and its retry
            run = await client.call("sync.run", {"wait": True})
            assert run["status"] == "partial" and "stay queued" in run["error"], run
            assert run["failed"] > 0 and run["updated_crm"] > 0, run
            assert run["failed"] + run["updated_crm"] == len(edited), run
            errors = await client.call("errors.list", {"limit": 500})
            assert len(errors) == run["failed"] and all("queued for the next run" in e["reason"] for e in errors)
            status = await client.call("sync.status")
            assert status["pending_push"] == run["failed"] and status["last"]["id"] == run["id"]
            # an ok run that leaves the queue as it is does not hide the partial one
            plain = await client.call("sync.run", {"wait": True, "push": False})
            assert plain["status"] == "ok"
            status = await client.call("sync.status")
            assert (status["last"]["id"], status["last_problem"]["id"]) == (plain["id"], run["id"])
            again = await client.call("sync.run", {"wait": True})
            assert (again["status"], again["updated_crm"], again["failed"]) == ("ok", run["failed"], 0), again
            for contact in edited:
                assert side.get(contact["crm_id"])["job_title"] == f"Storm {contact['id']}"
            assert (await client.call("sync.status"))["last_problem"] is None
            assert await client.call("errors.list", {}) == []
    finally:
        await world.agent.stop()
