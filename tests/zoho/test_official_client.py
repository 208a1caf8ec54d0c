"""Fidelity: Zoho's official Python SDK (``zohocrmsdk8-0``) drives the sandbox served on loopback.

The SDK takes a :class:`DataCenter.Environment` (API URL, accounts token URL, file-upload URL), so it can be
pointed at the sandbox: it refreshes its token at the accounts URL, reads users, org and field metadata for
its own checks, then makes the calls below and parses the answers into its own models.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leadsync.agent.connectors.zoho.sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    RunningServer,
    SandboxState,
    build_state,
    create_app,
    serve_in_thread,
)

sdk = pytest.importorskip("zohocrmsdk.src.com.zoho.crm.api.initializer")
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken  # noqa: E402
from zohocrmsdk.src.com.zoho.api.authenticator.store import FileStore  # noqa: E402
from zohocrmsdk.src.com.zoho.crm.api import HeaderMap, ParameterMap  # noqa: E402
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter  # noqa: E402
from zohocrmsdk.src.com.zoho.crm.api.record import (  # noqa: E402
    ActionWrapper,
    APIException,
    BodyWrapper,
    DeletedRecordsWrapper,
    GetDeletedRecordsParam,
    GetRecordsHeader,
    GetRecordsParam,
    Record,
    RecordOperations,
    ResponseWrapper,
    SearchRecordsParam,
    SuccessResponse,
)
from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig  # noqa: E402


@pytest.fixture
def org() -> SandboxState:
    return build_state(leads=45, contacts=10, seed=11)


@pytest.fixture
def server(org: SandboxState, tmp_path: Path) -> Iterator[RunningServer]:
    with serve_in_thread(create_app(org, token=None)) as running:
        environment = DataCenter.Environment(running.url, f"{running.url}/oauth/v2/token", running.url)
        token = OAuthToken(client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET,
                           refresh_token=DEFAULT_REFRESH_TOKEN)
        sdk.Initializer.initialize(environment=environment, token=token, store=FileStore(str(tmp_path / "tokens")),
                                   sdk_config=SDKConfig(auto_refresh_fields=False, pick_list_validation=False),
                                   resource_path=str(tmp_path))
        yield running


def _records(response: Any) -> tuple[list[Any], Any]:
    assert response.get_status_code() == 200, response.get_status_code()
    wrapper = response.get_object()
    assert isinstance(wrapper, ResponseWrapper), getattr(wrapper, "get_message", lambda: wrapper)()
    return wrapper.get_data(), wrapper.get_info()


def test_the_sdk_pages_through_leads_with_page_tokens(server: RunningServer, org: SandboxState) -> None:
    seen: list[str] = []
    token: str | None = None
    while True:
        params = ParameterMap()
        params.add(GetRecordsParam.fields, "Email,Last_Name,Modified_Time")
        params.add(GetRecordsParam.per_page, 20)
        if token:
            params.add(GetRecordsParam.page_token, token)
        data, info = _records(RecordOperations("Leads").get_records(params, HeaderMap()))
        seen += [str(r.get_id()) for r in data]
        if not info.get_more_records():
            break
        token = info.get_next_page_token()
    assert sorted(seen) == sorted(r.id for r in org.ordered("Leads", False))


def test_the_sdk_reads_only_records_modified_since_a_time(server: RunningServer, org: SandboxState) -> None:
    since = max(r.modified_ms for r in org.rows["Leads"].values()) + 5_000
    changed = org.add_record("Leads", {"Last_Name": "Recent", "Email": "recent@example.com"}, modified=since + 60_000)
    params = ParameterMap()
    params.add(GetRecordsParam.fields, "Email,Last_Name")
    headers = HeaderMap()
    headers.add(GetRecordsHeader.if_modified_since, dt.datetime.fromtimestamp(since / 1000, tz=dt.UTC))
    data, _ = _records(RecordOperations("Leads").get_records(params, headers))
    assert [str(r.get_id()) for r in data] == [changed]
    assert data[0].get_key_value("Email") == "recent@example.com"
    headers = HeaderMap()
    headers.add(GetRecordsHeader.if_modified_since, dt.datetime.fromtimestamp(since / 1000 + 120, tz=dt.UTC))
    assert RecordOperations("Leads").get_records(params, headers).get_status_code() == 204


def test_the_sdk_reads_one_result_per_record_of_a_partly_failed_insert(server: RunningServer,
                                                                       org: SandboxState) -> None:
    body = BodyWrapper()
    records = []
    for email in ("good@example.com", "not-an-email", "fine@example.com"):
        record = Record()
        record.add_key_value("Last_Name", "Sdk")
        record.add_key_value("Company", "Acme")
        record.add_key_value("Email", email)
        records.append(record)
    body.set_data(records)
    response = RecordOperations("Leads").create_records(body, HeaderMap())
    assert response.get_status_code() == 207
    wrapper = response.get_object()
    assert isinstance(wrapper, ActionWrapper)
    results = wrapper.get_data()
    assert [type(r) for r in results] == [SuccessResponse, APIException, SuccessResponse]
    assert results[1].get_code().get_value() == "INVALID_DATA"
    assert results[1].get_details()["api_name"] == "Email"
    assert str(results[0].get_details()["id"]) in org.rows["Leads"]


def test_the_sdk_searches_with_escaped_criteria(server: RunningServer, org: SandboxState) -> None:
    target = org.add_record("Contacts", {"Last_Name": "Paren", "Email": "a(b),c@example.com"})
    params = ParameterMap()
    params.add(SearchRecordsParam.criteria, "(Email:equals:a\\(b\\)\\,c@example.com)")
    data, _ = _records(RecordOperations("Contacts").search_records(params, HeaderMap()))
    assert [str(r.get_id()) for r in data] == [target]
    params = ParameterMap()
    params.add(SearchRecordsParam.email, "nobody@example.com")
    assert RecordOperations("Contacts").search_records(params, HeaderMap()).get_status_code() == 204


def test_the_sdk_lists_deleted_records(server: RunningServer, org: SandboxState) -> None:
    doomed = next(iter(org.rows["Contacts"]))
    org.delete_record("Contacts", doomed)
    params = ParameterMap()
    params.add(GetDeletedRecordsParam.type, "all")
    response = RecordOperations("Contacts").get_deleted_records(params, HeaderMap())
    assert response.get_status_code() == 200
    wrapper = response.get_object()
    assert isinstance(wrapper, DeletedRecordsWrapper)
    assert doomed in {str(d.get_id()) for d in wrapper.get_data()}
