"""Connection info, owners (B17), properties and archived listing, against canned HubSpot answers."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from leadsync.agent.connectors.base import Connector
from leadsync.agent.connectors.hubspot.client import HubSpotConnector
from leadsync.common.errors import CrmAuthError

from .fakes import FakeClock, Recorder, hubspot_error_body, json_response

TOKEN = "CJSP5qf1KhICAQEYs-gDIIGOBii1hQIyGQAf3xBKmlwHjX7OIpuIFEavB2-qYAGQsF4"


def connect(handler: Any) -> tuple[HubSpotConnector, Recorder]:
    clock = FakeClock()
    recorder = Recorder(handler, clock)
    connector = HubSpotConnector("https://api.hubapi.com", TOKEN, transport=recorder.transport(),
                                 sleep=clock.sleep, clock=clock.monotonic, now_ms=clock.now_ms)
    return connector, recorder


def test_the_connector_satisfies_the_protocol() -> None:
    connector, _ = connect(lambda request, body: json_response(200, {}))
    assert isinstance(connector, Connector)
    assert connector.name == "hubspot"
    assert connector.capabilities.batch_size == 100 and connector.capabilities.supports_upsert


async def test_connection_info_reads_the_token_owner_and_admin_flag(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def handler(request: httpx.Request, body: Any) -> httpx.Response:
        if request.url.path == f"/oauth/v1/access-tokens/{TOKEN}":
            return json_response(200, {"token": TOKEN, "user": "admin@corp.com", "hub_id": 4242,
                                       "user_id": 123, "app_id": 1, "scopes": [], "token_type": "access"})
        if request.url.path == "/settings/v3/users/123":
            return json_response(200, {"id": "123", "email": "admin@corp.com", "superAdmin": True})
        return json_response(404, hubspot_error_body("nope", "OBJECT_NOT_FOUND"))

    connector, _ = connect(handler)

    info = await connector.connection_info()

    assert (info.user_email, info.user_id, info.is_admin, info.account_id) == ("admin@corp.com", "123", True, "4242")
    assert TOKEN not in caplog.text


async def test_connection_info_without_user_scope_is_not_admin() -> None:
    def handler(request: httpx.Request, body: Any) -> httpx.Response:
        if request.url.path.startswith("/oauth/v1/access-tokens/"):
            return json_response(200, {"user": "rep@corp.com", "hub_id": 4242, "user_id": 7})
        return json_response(403, hubspot_error_body("missing scopes", "MISSING_SCOPES"))

    connector, _ = connect(handler)
    info = await connector.connection_info()
    assert info.user_email == "rep@corp.com" and not info.is_admin


async def test_connection_info_with_a_bad_token_is_an_auth_error_without_the_token() -> None:
    def handler(request: httpx.Request, body: Any) -> httpx.Response:
        return json_response(401, hubspot_error_body(f"token {TOKEN} is expired", "EXPIRED_AUTHENTICATION"))

    connector, _ = connect(handler)
    with pytest.raises(CrmAuthError) as caught:
        await connector.connection_info()
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value.data)


async def test_b17_owners_include_archived_ones_as_inactive() -> None:
    def handler(request: httpx.Request, body: Any) -> httpx.Response:
        params = request.url.params
        assert params["limit"] == "500"
        if params["archived"] == "true":
            return json_response(200, {"results": [{"id": "2", "email": "bob@corp.com", "firstName": "Bob",
                                                    "lastName": "Gone", "userId": None, "archived": True,
                                                    "teams": []}]})
        if params.get("after") is None:
            return json_response(200, {"results": [{"id": "1", "email": "ann@corp.com", "userId": 11,
                                                    "archived": False,
                                                    "teams": [{"id": "5", "name": "West", "primary": True}]}],
                                       "paging": {"next": {"after": "1", "link": "..."}}})
        return json_response(200, {"results": [{"id": "3", "email": "cy@corp.com", "userId": 13,
                                                "archived": False, "teams": []}]})

    connector, recorder = connect(handler)

    owners = {o.id: o for o in await connector.list_owners()}

    assert set(owners) == {"1", "2", "3"}
    assert owners["2"].email == "bob@corp.com" and not owners["2"].active and owners["2"].user_id is None
    assert owners["1"].active and owners["1"].teams[0].name == "West" and owners["1"].user_id == "11"
    assert len(recorder.sent) == 3


async def test_list_properties_maps_metadata() -> None:
    connector, recorder = connect(lambda request, body: json_response(200, {"results": [
        {"name": "email", "label": "Email", "type": "string", "fieldType": "text", "hasUniqueValue": True},
        {"name": "hs_lead_status", "label": "Lead status", "type": "enumeration", "fieldType": "select",
         "options": [{"value": "NEW", "label": "New"}]},
    ]}))

    props = await connector.list_properties("contact")

    assert [p.name for p in props] == ["email", "hs_lead_status"]
    assert props[0].unique and props[1].options[0].value == "NEW"
    assert recorder.sent[0].path == "/crm/v3/properties/contacts"


async def test_b22_archived_contacts_are_listed_page_by_page() -> None:
    def handler(request: httpx.Request, body: Any) -> httpx.Response:
        assert request.url.params["archived"] == "true"
        record = {"id": "777", "properties": {"email": "gone@example.com"}, "createdAt": "2024-01-01T00:00:00Z",
                  "updatedAt": "2024-01-02T00:00:00Z", "archived": True, "archivedAt": "2024-02-01T00:00:00Z"}
        return json_response(200, {"results": [record]})

    connector, _ = connect(handler)

    pages = [page async for page in connector.list_archived("contact", properties=["email"])]

    assert len(pages) == 1 and pages[0][0].id == "777" and pages[0][0].archived


async def test_archive_sends_ids_in_batches() -> None:
    connector, recorder = connect(lambda request, body: httpx.Response(204))

    results = await connector.archive("contact", [str(n) for n in range(150)])

    assert all(r.ok for r in results) and [r.ref for r in results] == [str(n) for n in range(150)]
    assert [len(s.body["inputs"]) for s in recorder.sent] == [100, 50]
