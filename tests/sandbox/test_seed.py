"""Seed data: deterministic, realistic, unique emails, the B17 owner who left, large sizes."""

from __future__ import annotations

import re

from leadsync.agent.connectors.hubspot.sandbox import ManualClock, build_state
from leadsync.agent.connectors.hubspot.sandbox.properties import LIFECYCLE_STAGES


def test_same_seed_gives_the_same_account() -> None:
    first = build_state(contacts=2_000, seed=11, clock=ManualClock())
    second = build_state(contacts=2_000, seed=11, clock=ManualClock())
    other = build_state(contacts=2_000, seed=12, clock=ManualClock())
    ids = first.live_contact_ids()
    assert ids == second.live_contact_ids()
    assert [first.get_contact(i) for i in ids] == [second.get_contact(i) for i in ids]
    assert [o.email for o in first.owners.values()] == [o.email for o in second.owners.values()]
    assert [first.get_contact(i) for i in ids[:20]] != [other.get_contact(i) for i in ids[:20]]


def test_seeded_contacts_look_like_crm_contacts() -> None:
    clock = ManualClock()
    state = build_state(contacts=3_000, seed=5, clock=clock)
    snapshots = [state.get_contact(i) for i in state.live_contact_ids()]
    emails = [s.properties["email"] for s in snapshots if s]
    assert len(set(emails)) == 3_000
    stages = {s.properties["lifecyclestage"] for s in snapshots if s}
    assert stages <= {value for value, _ in LIFECYCLE_STAGES} and len(stages) == 6
    owners = set(state.owners)
    assert {s.properties["hubspot_owner_id"] for s in snapshots if s} - {None} <= owners
    for snapshot in snapshots[:200]:
        assert snapshot is not None
        assert re.fullmatch(r"\d{1,3}", snapshot.properties["lead_score"] or "")
        assert snapshot.properties["firstname"] and snapshot.properties["company"]
        assert clock() - 90 * 86_400_000 <= snapshot.updated_at_ms <= clock()
        assert snapshot.created_at_ms <= snapshot.updated_at_ms


def test_directory_has_teams_a_super_admin_and_one_owner_who_left() -> None:
    state = build_state(contacts=10, seed=1, clock=ManualClock())
    assert len(state.owners) == 8 and len(state.teams) == 3
    left = [o for o in state.owners.values() if o.archived]
    assert len(left) == 1 and left[0].user_id is None and left[0].user_id_including_inactive
    assert [u.super_admin for u in state.users.values()].count(True) == 1
    assert len(state.users) == 7


def test_two_hundred_thousand_contacts_seed_and_search() -> None:
    state = build_state(contacts=200_000, seed=2, clock=ManualClock())
    assert state.contact_count() == 200_000
    last = state.live_contact_ids()[-1]
    snapshot = state.get_contact(last)
    assert snapshot is not None and state.find_contact_by_email(snapshot.properties["email"] or "") == last
