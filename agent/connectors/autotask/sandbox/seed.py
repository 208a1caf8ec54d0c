"""Deterministic, realistic seed data for the sandbox database.

Same ``seed`` -> same resources, companies and contacts (times relative to the state's clock at seeding).
Faker builds pools of names, companies and titles once; a ``random.Random(seed)`` then draws every record
from them, so a few thousand contacts take well under a second.

- Resources: the API user first (``userName`` = the sandbox user name), then ``resources - 1`` people;
  the last one is inactive (it still owns companies).
- Companies: ``companies`` (default one per five contacts, at least one), type Customer, Lead or Prospect,
  each owned by an active or the inactive resource, with a phone.
- Contacts: spread over the companies, created up to two years ago, last modified within 90 days, ids in
  creation order, ``isActive`` 0 for about 3%, a few without an email.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from faker import Faker

from .state import DEFAULT_USERNAME, AutotaskState

DAY_MS = 86_400_000


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower()) or "x"


def _phone(rng: random.Random) -> str:
    return f"{rng.randrange(200, 999)}-555-{rng.randrange(10_000):04d}"


def seed_state(state: AutotaskState, *, contacts: int = 2000, companies: int | None = None, resources: int = 8,
               seed: int = 42) -> AutotaskState:
    """Fill ``state`` (see the module docstring); returns it."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    now = state.clock()
    firsts = [fake.first_name() for _ in range(200)]
    lasts = [fake.last_name() for _ in range(300)]
    titles = [fake.job() for _ in range(60)]
    domains = [_slug(fake.domain_word()) for _ in range(300)]
    cities = [fake.city() for _ in range(100)]
    api_id = state.add_resource({"userName": state.api_username or DEFAULT_USERNAME, "email": state.api_username,
                                 "firstName": "API", "lastName": "User (system)", "title": "API user"})
    owners = [api_id]
    for n in range(max(resources - 1, 0)):
        first, last = rng.choice(firsts), rng.choice(lasts)
        owners.append(state.add_resource({
            "userName": f"{first[0]}{last}".lower()[:32], "email": f"{_slug(first)}.{_slug(last)}@msp.example",
            "firstName": first, "lastName": last, "title": rng.choice(titles), "isActive": n < resources - 2}))
    company_ids: list[int] = []
    names = [fake.unique.company() for _ in range(min(500, companies if companies is not None else 500))]
    for n in range(companies if companies is not None else max(1, contacts // 5)):
        name = names[n] if n < len(names) else f"{rng.choice(names)} {n // len(names) + 1}"
        company_ids.append(state.add_company({
            "companyName": name, "companyType": rng.choice((1, 1, 2, 3)),
            "ownerResourceID": rng.choice(owners[1:] or owners), "phone": _phone(rng),
            "webAddress": f"https://www.{rng.choice(domains)}.example", "city": rng.choice(cities)},
            created_at=now - rng.randrange(700) * DAY_MS))
    for n in range(contacts):
        first, last = rng.choice(firsts), rng.choice(lasts)
        company = rng.choice(company_ids)
        created = now - rng.randrange(90, 730) * DAY_MS - rng.randrange(DAY_MS)
        modified = now - rng.randrange(90) * DAY_MS - rng.randrange(DAY_MS)
        email = f"{_slug(first)}.{_slug(last)}{n}@{rng.choice(domains)}.example" if rng.random() > 0.02 else None
        state.add_contact({"companyID": company, "firstName": first, "lastName": last, "emailAddress": email,
                           "title": rng.choice(titles), "phone": _phone(rng),
                           "isActive": 0 if rng.random() < 0.03 else 1},
                          created_at=created, modified_at=modified)
    return state


def build_state(*, contacts: int = 2000, companies: int | None = None, resources: int = 8, seed: int = 42,
                clock: Callable[[], int] | None = None) -> AutotaskState:
    """A new :class:`AutotaskState` seeded by :func:`seed_state` (``clock``: epoch ms, e.g. a ManualClock)."""
    return seed_state(AutotaskState(clock=clock), contacts=contacts, companies=companies, resources=resources,
                      seed=seed)
