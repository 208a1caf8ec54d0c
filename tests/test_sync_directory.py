"""The CRM directory a run needs (owners, property metadata, the archived-records check) and what each run
refreshes: owners and properties are reused for 10 minutes by every run, deletions are checked by every
manual run (issue 8: a no-change manual sync costs <= 3 calls) and by interval runs every 10 minutes."""

from __future__ import annotations

from collections import Counter

from leadsync.agent.daemon import DIRECTORY_TTL_MS
from leadsync.common.rpc import RpcClient
from tests.conftest import CrmWorld

OWNERS = ("GET", "/crm/v3/owners")
PROPERTIES = ("GET", "/crm/v3/properties/contacts")
LIST = ("GET", "/crm/v3/objects/contacts")  # the archived check lists archived=true
SEARCH = ("POST", "/crm/v3/objects/contacts/search")


def requests(world: CrmWorld) -> Counter[tuple[str, str]]:
    return Counter(world.state.requests)


def age_directory(world: CrmWorld, ms: int) -> None:
    cache = world.agent.directory.cache
    assert cache.refreshed_at_ms is not None and cache.archived_at_ms is not None
    cache.refreshed_at_ms -= ms
    cache.archived_at_ms -= ms


async def test_a_manual_sync_with_nothing_to_do_checks_deletions_and_reuses_owners(
        synced_agent: CrmWorld, world_client: RpcClient) -> None:
    synced_agent.state.reset_counters()

    run = await world_client.call("sync.run", {"wait": True})

    assert run["status"] == "ok" and run["api_calls"] == 2
    assert requests(synced_agent) == Counter({SEARCH: 1, LIST: 1})


async def test_a_deletion_reaches_the_store_on_the_next_manual_sync(synced_agent: CrmWorld,
                                                                     world_client: RpcClient) -> None:
    contacts = (await world_client.call("contacts.list", {"limit": 5}))["contacts"]
    synced_agent.state.archive_contact(contacts[2]["crm_id"])

    run = await world_client.call("sync.run", {"wait": True})

    assert run["api_calls"] == 2
    assert (await world_client.call("contacts.get", {"id": contacts[2]["id"]}))["crm_state"] == "archived"


async def test_owners_and_properties_are_refreshed_once_ten_minutes_old(synced_agent: CrmWorld,
                                                                         world_client: RpcClient) -> None:
    age_directory(synced_agent, DIRECTORY_TTL_MS)
    synced_agent.state.reset_counters()

    run = await world_client.call("sync.run", {"wait": True})

    assert run["api_calls"] == 5
    assert requests(synced_agent) == Counter({SEARCH: 1, LIST: 1, PROPERTIES: 1, OWNERS: 2})


async def test_an_interval_run_reuses_the_whole_directory_for_ten_minutes(synced_agent: CrmWorld) -> None:
    synced_agent.state.reset_counters()

    run = await synced_agent.agent.request_sync("interval", wait=True)

    assert run.api_calls == 1 and requests(synced_agent) == Counter({SEARCH: 1})
    age_directory(synced_agent, DIRECTORY_TTL_MS)
    synced_agent.state.reset_counters()
    again = await synced_agent.agent.request_sync("interval", wait=True)
    assert again.api_calls == 5


async def test_a_push_only_run_leaves_the_archived_check_to_the_next_pull(world: CrmWorld,
                                                                          world_client: RpcClient) -> None:
    world.state.reset_counters()
    pushed = await world_client.call("sync.run", {"wait": True, "pull": False, "push": True})
    assert pushed["status"] == "ok"
    assert requests(world) == Counter({PROPERTIES: 1, OWNERS: 2})
    world.state.reset_counters()

    run = await world.agent.request_sync("interval", wait=True)

    assert run.status == "ok"
    assert requests(world)[LIST] >= 2 and OWNERS not in requests(world)  # the full pull and the archived check


async def test_a_new_connection_starts_a_new_directory(synced_agent: CrmWorld, world_client: RpcClient) -> None:
    before = synced_agent.agent.directory
    await world_client.call("crm.disconnect")
    await world_client.call("crm.connect", {"crm": "hubspot", "base_url": "http://sandbox.test",
                                            "credentials": {"token": "sandbox-token"}})
    synced_agent.state.reset_counters()

    await world_client.call("sync.run", {"wait": True})

    assert synced_agent.agent.directory is not before
    assert requests(synced_agent)[OWNERS] == 2 and requests(synced_agent)[PROPERTIES] == 1


async def test_the_first_pull_into_an_empty_store_makes_no_archived_check(world: CrmWorld,
                                                                          world_client: RpcClient) -> None:
    world.state.reset_counters()
    run = await world_client.call("sync.run", {"wait": True})
    assert run["status"] == "ok" and run["pulled"] > 0
    pages = -(-run["pulled"] // 100)  # the full pull's own list pages of 100
    assert requests(world)[LIST] == pages, requests(world)  # no list call of archived records on top
    assert world.agent.directory.cache.archived_at_ms is not None  # the (empty) check counts as done
    local = await world_client.call("users.create", {"email": "later@corp.com"})
    await world_client.call("contacts.create", {"created_by": local["id"], "fields": {"email": "x@example.org"}})
    world.state.reset_counters()
    await world_client.call("sync.run", {"wait": True})
    assert requests(world)[LIST] == 1  # with contacts in the store a manual run checks deletions again
