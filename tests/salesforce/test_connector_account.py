"""SalesforceConnector account calls: owners (inactive users stay owners), who is connected and whether
they administer the org, field metadata (case S13), capabilities."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette

from leadsync.agent.connectors.base import Connector
from leadsync.agent.connectors.salesforce.client import CAPABILITIES, SalesforceConnector
from leadsync.agent.connectors.salesforce.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxState
from leadsync.common.errors import ValidationError
from tests.salesforce.conftest import MakeConnector


def test_the_connector_satisfies_the_protocol_and_names_its_capabilities(connector: SalesforceConnector) -> None:
    assert isinstance(connector, Connector)
    assert (CAPABILITIES.batch_size, CAPABILITIES.object_types, CAPABILITIES.new_lead_object) == \
        (200, ("lead", "contact"), "lead")
    assert (CAPABILITIES.email_property, CAPABILITIES.owner_property, CAPABILITIES.cursor) == \
        ("Email", "OwnerId", "SystemModstamp + Id")


def test_credentials_and_api_version_are_checked() -> None:
    with pytest.raises(ValidationError):
        SalesforceConnector("https://login.salesforce.com", {"client_id": "x"})
    with pytest.raises(ValidationError):
        SalesforceConnector("https://login.salesforce.com", {"access_token": "t"}, api_version="sixty")
    assert SalesforceConnector("https://x.my.salesforce.com", {"access_token": "t"}, api_version="59.0").api_version \
        == "v59.0"


async def test_owners_include_the_inactive_user(connector: SalesforceConnector, state: SandboxState) -> None:
    owners = await connector.list_owners()
    assert [o.id for o in owners] == state.ids("User")
    inactive = [o for o in owners if not o.active]
    assert len(inactive) == 1 and inactive[0].email and inactive[0].user_id == inactive[0].id
    assert owners[0].teams[0].name == "CEO" and owners[0].teams[0].primary
    assert all(o.email == o.email.strip() and "@" in o.email for o in owners)


async def test_connection_info_of_the_administrator(connector: SalesforceConnector, state: SandboxState) -> None:
    info = await connector.connection_info()
    admin = state.get_record(state.api_user_id)
    assert admin is not None
    assert (info.user_email, info.user_id, info.is_admin, info.note) == (admin["Email"], admin["Id"], True, None)
    assert info.account_id == state.org_id


@pytest.mark.parametrize(("profile", "note"), [("Standard User", "only the records"),
                                               ("Sales Operations", "view all data")])
async def test_connection_info_flags_a_non_admin(make_connector: MakeConnector, app: Starlette, state: SandboxState,
                                                 profile: str, note: str) -> None:
    profile_id = state.find_ids("Profile", "Name", profile)[0]
    user_id = state.find_ids("User", "ProfileId", profile_id)[0]
    app.state.oauth.add_refresh_token(f"rt-{user_id}", user_id)
    connector = make_connector({"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET,
                                "refresh_token": f"rt-{user_id}"})
    info = await connector.connection_info()
    assert info.user_id == user_id and info.is_admin is False
    assert info.note is not None and note in info.note


async def test_s13_describe_reports_what_a_lead_and_a_contact_require(connector: SalesforceConnector) -> None:
    lead = {p.name: p for p in await connector.list_properties("lead")}
    assert sorted(n for n, p in lead.items() if p.required) == ["Company", "LastName"]
    contact = {p.name: p for p in await connector.list_properties("contact")}
    assert sorted(n for n, p in contact.items() if p.required) == ["LastName"]
    assert (lead["Email"].type, lead["Email"].field_type) == ("string", "email")
    assert (lead["HasOptedOutOfEmail"].type, lead["AnnualRevenue"].type, lead["ConvertedDate"].type) == \
        ("bool", "number", "date")
    assert lead["SystemModstamp"].type == "datetime" and lead["SystemModstamp"].read_only
    assert lead["Interests__c"].multi and lead["Interests__c"].type == "enumeration"
    assert lead["Status"].options[0].value == "Open - Not Contacted"
    assert lead["IsConverted"].read_only and lead["ConvertedContactId"].read_only and lead["Name"].read_only
    assert not lead["OwnerId"].required and not lead["Status"].required  # defaulted on create
