"""Connection, owners, field metadata, zone discovery, credentials and the hourly request threshold."""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette

from leadsync.agent.connectors.autotask.client import CAPABILITIES, GLOBAL_URL, AutotaskConnector
from leadsync.agent.connectors.autotask.sandbox import DEFAULT_SECRET, AutotaskState, FaultSwitches, create_app
from leadsync.agent.connectors.base import WriteInput
from leadsync.common.errors import CrmAuthError, CrmQuotaExhaustedError, CrmRateLimitedError, ValidationError

from .conftest import CREDENTIALS, ZONE, ConnectorFactory, ManualClock


async def test_owners_are_every_resource_active_or_not_matched_by_email(state: AutotaskState,
                                                                        connector: AutotaskConnector) -> None:
    owners = await connector.list_owners()
    resources = state.rows("Resources")
    assert [(o.id, o.email, o.active) for o in owners] == [
        (str(r["id"]), r["email"], r["isActive"]) for r in resources]
    assert [o.active for o in owners].count(False) == 1


async def test_every_contact_s_owner_is_its_company_s_owner(state: AutotaskState,
                                                            connector: AutotaskConnector) -> None:
    records = [r async for page in connector.pull_changes("contact", None, properties=()) for r in page.records]
    owner_of = {c["id"]: str(c["ownerResourceID"]) for c in state.rows("Companies")}
    assert all(r.properties[CAPABILITIES.owner_property] == owner_of[int(r.properties["companyID"] or 0)]
               for r in records)


async def test_field_metadata_comes_from_entity_information(connector: AutotaskConnector) -> None:
    fields = {p.name: p for p in await connector.list_properties("contact")}
    assert fields["lastName"].required and not fields["lastName"].read_only
    assert fields["lastModifiedDate"].read_only and fields["lastModifiedDate"].type == "datetime"
    assert fields["namePrefix"].type == "enumeration"
    assert [(o.value, o.label) for o in fields["namePrefix"].options][:2] == [("1", "Mr."), ("2", "Mrs.")]
    assert fields["isActive"].type == "number"
    assert fields["companyName"].required and fields["companyName"].field_type == "pseudo"
    assert fields["ownerResourceID"].read_only
    # required by Autotask, filled by the connector (companyID from companyName, isActive 1 on create): no
    # mapping needs to source them, so mappings.check reports nothing for them
    assert not fields["companyID"].required and fields["companyID"].read_only
    assert not fields["isActive"].required and not fields["isActive"].read_only


async def test_connection_info_names_the_api_user_and_the_database(state: AutotaskState,
                                                                   connector: AutotaskConnector) -> None:
    info = await connector.connection_info()
    api_user = state.rows("Resources")[0]
    assert (info.user_email, info.user_id, info.account_id) == (api_user["email"], str(api_user["id"]), "4242")
    assert info.is_admin and info.note


async def test_the_zone_is_discovered_from_the_global_url(state: AutotaskState,
                                                          make_connector: ConnectorFactory) -> None:
    zone = "https://webservices14.autotask.net/atservicesrest"
    app = create_app(state, zone_url=zone)
    connector = make_connector(base_url=GLOBAL_URL, transport=httpx.ASGITransport(app=app))

    owners = await connector.list_owners()

    assert owners and await connector.zone_url() == zone
    zone_calls = [r for r in state.request_log if r.path.endswith("/zoneInformation")]
    assert len(zone_calls) == 1 and zone_calls[0].query == "user=" + quote(CREDENTIALS["username"])


async def test_a_zone_outside_autotask_is_refused(make_connector: ConnectorFactory) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"url": "https://evil.example/atservicesrest/", "ci": 1})

    connector = make_connector(base_url="https://webservices.autotask.net/atservicesrest",
                               transport=httpx.MockTransport(answer))
    with pytest.raises(Exception, match="unexpected zone URL"):
        await connector.list_owners()
    assert connector.api_calls == 1


async def test_missing_credentials_are_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="missing: secret, integration_code"):
        AutotaskConnector(ZONE, {"username": "api@example.com"})


async def test_a_wrong_secret_raises_auth_error_and_is_never_logged(app: Starlette, make_connector: ConnectorFactory,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    wrong = "wrong-secret-abcdef"
    connector = AutotaskConnector(ZONE, {**CREDENTIALS, "secret": wrong}, transport=httpx.ASGITransport(app=app))
    caplog.set_level(logging.DEBUG)
    try:
        with pytest.raises(CrmAuthError) as raised:
            await connector.create("contact", [WriteInput(ref="a", properties={"emailAddress": "a@b.example"})])
        assert raised.value.status == 401
        assert wrong not in caplog.text and wrong not in repr(connector)
        assert DEFAULT_SECRET not in caplog.text
    finally:
        await connector.aclose()


async def test_the_threshold_read_from_threshold_information_is_waited_for_and_never_drawn(
        state: AutotaskState, clock: ManualClock, faults: FaultSwitches, make_connector: ConnectorFactory) -> None:
    faults.hourly_threshold = 3
    connector = make_connector()  # configured for 100,000 an hour: the database's 3 wins
    for _ in range(2):
        await connector.list_owners()  # + the ThresholdInformation asked first: the hour's 3 requests
    clock.advance(3_600_000 - 30_000)  # the first requests leave the rolling hour in 30 s

    owners = await connector.list_owners()

    assert owners
    assert state.status_counts[429] == 0
    assert connector.time.sleeps == [30.0]  # type: ignore[attr-defined]


async def test_a_spent_threshold_stops_with_when_it_resumes_and_no_429(
        state: AutotaskState, clock: ManualClock, faults: FaultSwitches, make_connector: ConnectorFactory) -> None:
    faults.hourly_threshold = 3
    connector = make_connector()
    for _ in range(2):
        await connector.list_owners()

    with pytest.raises(CrmQuotaExhaustedError) as raised:
        await connector.list_owners()

    assert raised.value.message == ("autotask: API quota spent (3 of 3 requests in the rolling 1 h); "
                                    "resumes at 01:00 UTC")
    assert raised.value.retry_after_s == 3600
    assert state.status_counts[429] == 0 and connector.time.sleeps == []  # type: ignore[attr-defined]
    clock.advance(3_600_000)
    assert await connector.list_owners()


async def test_requests_other_integrations_made_hold_places_of_the_hour(
        state: AutotaskState, faults: FaultSwitches, client: httpx.AsyncClient,
        make_connector: ConnectorFactory) -> None:
    faults.hourly_threshold = 4
    for _ in range(2):  # another integration of the same database
        (await client.get("/V1.0/Resources/29682885")).raise_for_status()
    connector = make_connector()
    await connector.list_owners()  # ThresholdInformation says 3 counted (itself included), then the query

    with pytest.raises(CrmQuotaExhaustedError):
        await connector.list_owners()
    assert state.status_counts[429] == 0


async def test_a_long_retry_after_is_raised_with_its_wait_instead_of_sleeping(
        faults: FaultSwitches, make_connector: ConnectorFactory) -> None:
    faults.fail_next("/atservicesrest/V1.0/Resources/query", "POST", 429, retry_after=1800)
    connector = make_connector()
    with pytest.raises(CrmRateLimitedError) as raised:
        await connector.list_owners()
    assert raised.value.retry_after_s == 1800 and raised.value.policy == "HOURLY"
    assert connector.time.sleeps == []  # type: ignore[attr-defined]


def test_capabilities_say_one_contact_per_write_and_pages_of_500() -> None:
    assert (CAPABILITIES.batch_size, CAPABILITIES.page_size, CAPABILITIES.object_types,
            CAPABILITIES.new_lead_object, CAPABILITIES.link_first) == (1, 500, ("contact",), "contact", ())
