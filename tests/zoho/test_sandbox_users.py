"""The sandbox org's users: a role is one id shared by its users (Zoho's role hierarchy is the sharing unit
leadsync reads as the owner's team), so owners of one role are teammates and owners of others are not."""

from __future__ import annotations

from leadsync.agent.connectors.zoho.client import ZohoConnector
from leadsync.agent.connectors.zoho.sandbox import SandboxState


async def test_users_of_one_role_share_its_id_and_come_back_as_one_team(state: SandboxState,
                                                                        connector: ZohoConnector) -> None:
    roles = {u["role"]["name"]: u["role"]["id"] for u in state.users.values()}
    assert len(set(roles.values())) == len(roles) > 1  # one id per role, distinct between roles
    state.add_user("second.ceo@example.com", "Second", "Ceo", profile="Administrator", role="CEO")
    assert len({u["role"]["id"] for u in state.users.values() if u["role"]["name"] == "CEO"}) == 1

    owners = await connector.list_owners()

    teams = {o.email: o.teams[0].id for o in owners}
    by_role = {u["email"]: u["role"]["name"] for u in state.users.values()}
    for email, team in teams.items():
        assert [e for e, t in teams.items() if t == team] == [e for e, r in by_role.items()
                                                              if r == by_role[email]]
