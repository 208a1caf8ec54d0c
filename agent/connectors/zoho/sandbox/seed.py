"""Deterministic, realistic seed data for the sandbox org.

Same ``seed`` -> same users, Leads and Contacts (times relative to the state's clock at seeding). Faker
builds small pools of names, companies, titles and cities once; a ``random.Random(seed)`` draws every record
from them, so a few thousand records take well under a second.

- 6 users: the first is the Administrator (the static token and the default refresh token act as them),
  the last is deactivated yet still owns records.
- Leads and Contacts: created up to two years ago, modified within 90 days; about 5% of the Leads converted
  (each to a new Contact), about 1% of each module deleted within the last 10 days.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from faker import Faker

from leadsync.agent.connectors.sandbox.clock import system_clock

from .schema import LEAD_SOURCES, LEAD_STATUSES
from .state import SandboxState

DAY_MS = 86_400_000
USERS = (("Administrator", "CEO"), ("Standard", "Sales Manager"), ("Standard", "Sales Rep"),
         ("Standard", "Sales Rep"), ("Standard", "Marketing Manager"), ("Standard", "Sales Rep"))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower()) or "x"


def seed_state(state: SandboxState, *, leads: int = 300, contacts: int = 200, seed: int = 42) -> SandboxState:
    """Fill ``state`` with users, ``leads`` Leads and ``contacts`` Contacts (before conversions and deletes)."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    domain = f"{_slug(fake.last_name())}-{_slug(fake.word())}.com"
    users = []
    for n, (profile, role) in enumerate(USERS):
        first, last = fake.first_name(), fake.last_name()
        users.append(state.add_user(f"{_slug(first)}.{_slug(last)}@{domain}", first, last, profile=profile,
                                    role=role, active=n < len(USERS) - 1))
    owners = users[1:]
    companies = [fake.company() for _ in range(60)]
    titles = [fake.job() for _ in range(40)]
    now = state.now()
    for module, total in (("Leads", leads), ("Contacts", contacts)):
        for _ in range(total):
            first, last = fake.first_name(), fake.last_name()
            company = rng.choice(companies)
            values: dict[str, object] = {
                "First_Name": first, "Last_Name": last,
                "Email": f"{_slug(first)}.{_slug(last)}{rng.randint(1, 999)}@{_slug(company)[:20]}.example.com",
                "Phone": f"+1-{rng.randint(200, 989)}-555-{rng.randint(1000, 9999)}",
                "Lead_Source": rng.choice(LEAD_SOURCES), "Lead_Score": rng.randint(0, 100),
                "Email_Opt_Out": rng.random() < 0.05,
            }
            if module == "Leads":
                values.update(Company=company, Designation=rng.choice(titles), Lead_Status=rng.choice(LEAD_STATUSES))
            else:
                values.update(Title=rng.choice(titles))
            created = now - rng.randint(1, 730) * DAY_MS
            state.add_record(module, values, owner_id=rng.choice(owners), created_ms=created,
                             modified=max(created, now - rng.randint(0, 90 * DAY_MS)))
    for lead in list(state.rows["Leads"].values()):
        if rng.random() < 0.05:
            state.convert_lead(lead.id)
            lead.modified_ms = now - rng.randint(0, 30 * DAY_MS)
    for module in ("Leads", "Contacts"):
        for row in list(state.rows[module].values()):
            if rng.random() < 0.01 and not row.converted:
                state.delete_record(module, row.id)
                state.deleted[-1].deleted_ms = now - rng.randint(0, 10 * DAY_MS)
    return state


def build_state(*, leads: int = 300, contacts: int = 200, seed: int = 42,
                clock: Callable[[], int] | None = None) -> SandboxState:
    """A new org seeded by :func:`seed_state` (``clock`` returns epoch ms; default the wall clock)."""
    return seed_state(SandboxState(clock=clock or system_clock), leads=leads, contacts=contacts, seed=seed)
