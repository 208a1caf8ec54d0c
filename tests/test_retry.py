"""Failed writes tried again (issue 18): one open error per record and problem, counted across runs; reasons
as sentences with the CRM's raw answer as ``detail``; ``errors.retry`` by id, ids or code; automatic retries
with backoff for transient failures only, under a controllable clock. On every CRM's sandbox, each refusing
the write the way that CRM does (a scripted answer to the next update)."""

from __future__ import annotations

from typing import Any

import pytest

from leadsync.agent.connectors.registry import spec_for
from leadsync.common.instants import now_ms
from leadsync.common.rpc import RpcClient, RpcError
from tests.conftest import SideWorld
from tests.test_merge import pick

REFUSALS: dict[str, tuple[str, str, int, Any, str]] = {
    # CRM: (route, method, status, body, code), a validation failure of the phone, as each CRM words one
    "hubspot": ("*/batch/update", "POST", 400, {
        "status": "error", "message": "Property values were not valid", "category": "VALIDATION_ERROR",
        "errors": [{"message": "not a valid phone number", "code": "INVALID_PHONE_NUMBER",
                    "context": {"propertyName": ["phone"]}}], "context": {"propertyName": ["phone"]}},
                "VALIDATION_ERROR"),
    "salesforce": ("*/composite/sobjects", "PATCH", 200, [{"id": None, "success": False, "errors": [
        {"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "Phone: not a valid phone number.",
         "fields": ["Phone"]}]}], "FIELD_CUSTOM_VALIDATION_EXCEPTION"),
    "zoho": ("/crm/*", "PUT", 400, {"data": [{"code": "INVALID_DATA", "message": "not a valid phone number",
                                             "status": "error", "details": {"api_name": "Phone"}}]},
             "INVALID_DATA"),
    "autotask": ("*/Contacts", "PATCH", 500, {"errors": ["The phone is not a valid phone number."]},
                 "AUTOTASK_REFUSED"),
}
TRANSIENT: dict[str, tuple[str, str, int, Any, str]] = {
    # a failure a retry fixes: HubSpot's batch answer leaves the record out; Salesforce cannot lock the row
    "hubspot": ("*/batch/update", "POST", 200, {"status": "COMPLETE", "results": []}, "NO_RESULT"),
    "salesforce": ("*/composite/sobjects", "PATCH", 200, [{"id": None, "success": False, "errors": [
        {"statusCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access to this record",
         "fields": []}]}], "UNABLE_TO_LOCK_ROW"),
}
MINUTE = 60_000


def refuse_next(world: SideWorld, refusal: tuple[str, str, int, Any, str], times: int = 1) -> None:
    route, method, status, body, _ = refusal
    world.faults.fail_next(route, method, status, times=times, body=body)


async def sync(client: RpcClient) -> dict[str, Any]:
    run: dict[str, Any] = await client.call("sync.run", {"wait": True})
    return run


async def open_errors(client: RpcClient, contact_id: int) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = await client.call("errors.list", {"contact_id": contact_id})
    return errors


async def test_a_refused_write_is_one_open_error_counted_across_runs_and_closes_when_retried(
        crm_synced: SideWorld, crm_client: RpcClient) -> None:
    crm = crm_synced.crm.crm
    contact = await pick(crm_client, 2)
    await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"phone": "+1 555 0199"}})
    refuse_next(crm_synced, REFUSALS[crm], times=2)
    run = await sync(crm_client)
    assert (run["status"], run["failed"]) == ("partial", 1)
    [error] = await open_errors(crm_client, contact["id"])
    assert error["reason"].startswith(f"{spec_for(crm).display_name} refused the ") and "not a valid phone number" in \
        error["reason"], error
    assert error["code"] == REFUSALS[crm][4] and error["count"] == 1 and error["next_retry_at"] is None
    assert error["detail"] and "not a valid phone number" in str(error["detail"])
    assert "token" not in str(error["detail"]).lower()
    assert crm_synced.crm.get(contact["crm_id"])["phone"] != "+1 555 0199"
    # not retried on its own (a validation failure): the next run leaves it held
    assert (await sync(crm_client))["failed"] == 0 and (await open_errors(crm_client, contact["id"]))[0]["count"] == 1

    again = await crm_client.call("errors.retry", {"ids": [error["id"]], "wait": True})
    assert (again["retried"], again["contacts"], again["still_open"]) == ([error["id"]], [contact["id"]],
                                                                        [error["id"]])
    assert again["run"]["trigger"] == "retry" and again["run"]["failed"] == 1
    [same] = await open_errors(crm_client, contact["id"])  # the same problem: the same open error, counted
    assert (same["id"], same["count"]) == (error["id"], 2) and same["last_seen_at"] >= error["last_seen_at"]
    assert same["created_at"] == error["created_at"]

    closed = await crm_client.call("errors.retry", {"code": error["code"], "all": True, "wait": True})
    assert closed["retried"] == [error["id"]] and closed["closed"] == [error["id"]] and closed["run"]["failed"] == 0
    assert await open_errors(crm_client, contact["id"]) == []
    assert crm_synced.crm.get(contact["crm_id"])["phone"] == "+1 555 0199"
    [resolved] = await crm_client.call("errors.list", {"contact_id": contact["id"], "include_resolved": True})
    assert resolved["resolved_at"] is not None and resolved["count"] == 2


async def test_retry_refuses_an_unclear_choice_and_skips_resolved_errors(crm_synced: SideWorld,
                                                                         crm_client: RpcClient) -> None:
    for params in ({}, {"id": 1, "all": True}, {"ids": []}):
        with pytest.raises(RpcError):
            await crm_client.call("errors.retry", params)
    answer = await crm_client.call("errors.retry", {"id": 999_999})
    assert answer["retried"] == [] and answer["skipped"] == [{"id": 999_999, "reason": "no such error"}]


@pytest.mark.parametrize("crm_name", sorted(TRANSIENT))
async def test_a_transient_failure_is_retried_on_its_own_with_backoff(crm_synced: SideWorld,
                                                                     crm_client: RpcClient) -> None:
    agent, crm = crm_synced.agent, crm_synced.crm.crm
    offset = [0]
    agent.store.clock = lambda: now_ms() + offset[0]
    contact = await pick(crm_client, 3)
    await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"job_title": "Retried"}})
    refuse_next(crm_synced, TRANSIENT[crm], times=2)
    assert (await sync(crm_client))["failed"] == 1
    [error] = await open_errors(crm_client, contact["id"])
    assert error["code"] == TRANSIENT[crm][4] and error["next_retry_at"] == error["last_seen_at"] + MINUTE

    offset[0] = 30_000  # not due yet: nothing runs, and a sync leaves it alone too
    assert await agent.auto_retry.run_due() is None
    assert (await sync(crm_client))["updated_crm"] == 0
    offset[0] = MINUTE + 1_000  # due: retried without a person; fails again, so the next try waits 5 minutes
    run = await agent.auto_retry.run_due()
    assert run is not None and (run.trigger, run.failed) == ("auto_retry", 1)
    [again] = await open_errors(crm_client, contact["id"])
    assert again["count"] == 2 and again["next_retry_at"] == again["last_seen_at"] + 5 * MINUTE
    offset[0] += 2 * MINUTE
    assert await agent.auto_retry.run_due() is None
    offset[0] += 5 * MINUTE
    run = await agent.auto_retry.run_due()
    assert run is not None and (run.failed, run.updated_crm) == (0, 1)
    assert await open_errors(crm_client, contact["id"]) == []
    assert crm_synced.crm.get(contact["crm_id"])["job_title"] == "Retried"


async def test_a_failure_a_retry_cannot_fix_is_never_retried_on_its_own(crm_synced: SideWorld,
                                                                         crm_client: RpcClient) -> None:
    agent = crm_synced.agent
    contact = await pick(crm_client, 4)
    await crm_client.call("contacts.update", {"id": contact["id"], "fields": {"phone": "+1 555 0198"}})
    refuse_next(crm_synced, REFUSALS[crm_synced.crm.crm])
    assert (await sync(crm_client))["failed"] == 1
    agent.store.clock = lambda: now_ms() + 24 * 60 * MINUTE
    assert await agent.auto_retry.run_due() is None
    assert (await sync(crm_client))["updated_crm"] == 0
    assert len(await open_errors(crm_client, contact["id"])) == 1


@pytest.mark.parametrize("crm_name", ["hubspot", "salesforce"])
async def test_a_pull_error_is_retried_by_reading_the_record_again(crm_synced: SideWorld,
                                                                  crm_client: RpcClient) -> None:
    side = crm_synced.crm
    contact = await pick(crm_client, 6)
    if side.crm == "hubspot":
        side.set(contact["crm_id"], {"lead_score": "lots"})  # not a number: the pull cannot take it
    else:
        side.state.update_record("Lead" if contact["crm_id"].startswith("00Q") else "Contact", contact["crm_id"],
                                 {"Lead_Score__c": "lots"})
    await sync(crm_client)
    [error] = [e for e in await open_errors(crm_client, contact["id"]) if e["operation"] == "pull"]
    assert error["code"] == "conversion" and error["next_retry_at"] is None and "lots" in error["reason"]
    again = await crm_client.call("errors.retry", {"id": error["id"], "wait": True})
    assert again["reread"] == [contact["crm_id"]] and again["still_open"] == [error["id"]]
    assert again["reread_run"]["trigger"] == "retry" and again["run"] is None
    [same] = await open_errors(crm_client, contact["id"])
    assert (same["id"], same["count"]) == (error["id"], 2)
    side.set(contact["crm_id"], {"lead_score": 12})  # fixed in the CRM: read again, the error closes
    closed = await crm_client.call("errors.retry", {"id": error["id"], "wait": True})
    assert closed["closed"] == [error["id"]] and await open_errors(crm_client, contact["id"]) == []
    assert (await crm_client.call("contacts.get", {"id": contact["id"]}))["lead_score"] == 12
