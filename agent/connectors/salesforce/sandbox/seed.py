"""Deterministic, realistic seed data for the sandbox org.

Same ``seed`` -> same profiles, roles, users, leads and contacts (times are relative to the state's clock
at seeding). Faker builds small pools of names, companies, titles and cities once; a
``random.Random(seed)`` then draws every record from them, so seeding a few thousand records takes well
under a second.

- Profiles: "System Administrator" (Modify All Data, View All Data), "Standard User", "Marketing User",
  "Sales Operations" (View All Data only).
- Roles: CEO > VP Sales > Sales Manager > Sales Rep; CEO > Marketing Manager.
- 8 users: the first is the System Administrator (the user the sandbox token and the default refresh
  token act as), the last is inactive yet still owns records.
- Leads and Contacts: created up to two years ago, last modified within 90 days, ids in creation order;
  about 5% of the Leads converted (each to a new Contact with its email), about 1% of each object in the
  Recycle Bin (deleted within the last 10 days).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

from faker import Faker

from .ids import PROFILE_PREFIX, ROLE_PREFIX, USER_PREFIX, make_id
from .schema import CONTACT, INDUSTRIES, INTERESTS, LEAD, LEAD_SOURCES, LEAD_STATUSES, PROFILE, RATINGS, USER, USER_ROLE
from .state import SandboxState
from .timefmt import DAY_MS, ms_to_date, to_second

PROFILES = (("System Administrator", True, True), ("Standard User", False, False), ("Marketing User", False, False),
            ("Sales Operations", False, True))
ROLES = (("CEO", None), ("VP Sales", "CEO"), ("Sales Manager", "VP Sales"), ("Sales Rep", "Sales Manager"),
         ("Marketing Manager", "CEO"))
USERS = (  # (profile, role, title)
    ("System Administrator", "CEO", "Salesforce Administrator"),
    ("Standard User", "VP Sales", "VP of Sales"),
    ("Standard User", "Sales Manager", "Sales Manager"),
    ("Standard User", "Sales Rep", "Account Executive"),
    ("Standard User", "Sales Rep", "Account Executive"),
    ("Sales Operations", "VP Sales", "Sales Operations Analyst"),
    ("Marketing User", "Marketing Manager", "Marketing Manager"),
    ("Standard User", "Sales Rep", "Account Executive"),  # inactive
)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower()) or "x"


def seed_directory(state: SandboxState, *, seed: int = 42) -> list[str]:
    """Profiles, roles and the 8 users; sets ``state.api_user_id`` to the administrator. Returns user ids."""
    fake = Faker("en_US")
    fake.seed_instance(seed + 1)
    rng = random.Random(seed)
    domain = f"{_slug(fake.last_name())}-{_slug(fake.word())}.com"
    now = state.now()
    profiles: dict[str, str] = {}
    for n, (name, modify_all, view_all) in enumerate(PROFILES, start=1):
        row = state.insert_row(PROFILE, {"Name": name, "PermissionsModifyAllData": modify_all,
                                         "PermissionsViewAllData": view_all, "UserType": "Standard"},
                               record_id=make_id(PROFILE_PREFIX, 100 + n), at_ms=now - 800 * DAY_MS)
        profiles[name] = str(row["Id"])
    roles: dict[str, str] = {}
    for n, (name, parent) in enumerate(ROLES, start=1):
        row = state.insert_row(USER_ROLE, {"Name": name, "DeveloperName": name.replace(" ", "_"),
                                           "ParentRoleId": roles.get(parent) if parent else None},
                               record_id=make_id(ROLE_PREFIX, 200 + n), at_ms=now - 800 * DAY_MS)
        roles[name] = str(row["Id"])
    users: list[str] = []
    zones = ("America/Los_Angeles", "America/New_York", "Europe/London", "Asia/Kolkata")
    for n, (profile, role, title) in enumerate(USERS):
        first, last = fake.first_name(), fake.last_name()
        email = f"{_slug(first)}.{_slug(last)}@{domain}"
        created = now - rng.randint(400, 900) * DAY_MS
        row = state.insert_row(USER, {
            "Username": f"{email}.sandbox", "FirstName": first, "LastName": last, "Email": email, "Title": title,
            "Department": "Sales" if "Sales" in role else role, "IsActive": n != len(USERS) - 1,
            "UserRoleId": roles[role], "ProfileId": profiles[profile], "UserType": "Standard",
            "TimeZoneSidKey": zones[n % len(zones)],
        }, record_id=make_id(USER_PREFIX, 300 + n), at_ms=created if n != len(USERS) - 1 else now - 30 * DAY_MS,
            created_ms=created)
        users.append(str(row["Id"]))
    state.api_user_id = users[0]
    return users


class _Pools:
    """Faker-made pools that records draw from."""

    def __init__(self, seed: int) -> None:
        fake = Faker("en_US")
        fake.seed_instance(seed)
        self.first = [fake.first_name() for _ in range(300)]
        self.last = [fake.last_name() for _ in range(500)]
        self.companies = [fake.company() for _ in range(200)]
        self.domains = [
            "-".join(_slug(w) for w in re.split(r"[\s,]+", c)[:2] if _slug(w) != "x") + (".com", ".io", ".net")[n % 3]
            for n, c in enumerate(self.companies)
        ]
        self.titles = [fake.job()[:128] for _ in range(100)]
        self.cities = [(fake.city(), fake.state_abbr(), fake.postcode()) for _ in range(150)]
        self.streets = [fake.street_address() for _ in range(200)]
        self.departments = ["Sales", "Marketing", "Finance", "Operations", "IT", "Engineering", "Procurement"]


def _phone(rng: random.Random) -> str:
    return f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"


def _times(rng: random.Random, now: int) -> tuple[int, int]:
    created = now - DAY_MS - rng.randrange(730 * DAY_MS)
    low = max(created, now - 90 * DAY_MS)
    return to_second(created), to_second(low + rng.randrange(max(1, now - low)))


def _interests(rng: random.Random) -> str | None:
    chosen = [i for i in INTERESTS if rng.random() < 0.25]
    return ";".join(chosen) or None


def _lead(rng: random.Random, pools: _Pools, n: int, owners: list[str]) -> dict[str, Any]:
    first, last = rng.choice(pools.first), rng.choice(pools.last)
    company = rng.randrange(len(pools.companies))
    city, state_code, postcode = rng.choice(pools.cities)
    status = rng.choices(LEAD_STATUSES[:2] + LEAD_STATUSES[3:], weights=(50, 35, 15))[0]
    return {
        "FirstName": first, "LastName": last, "Salutation": rng.choice((None, "Mr.", "Ms.", "Dr.")),
        "Company": pools.companies[company], "Title": rng.choice(pools.titles),
        "Email": f"{_slug(first)}.{_slug(last)}{n}@{pools.domains[company]}",
        "Phone": _phone(rng), "MobilePhone": _phone(rng) if rng.random() < 0.4 else None,
        "Street": rng.choice(pools.streets), "City": city, "State": state_code, "PostalCode": postcode,
        "Country": "United States", "Website": f"https://www.{pools.domains[company]}",
        "LeadSource": rng.choice(LEAD_SOURCES), "Status": status, "Industry": rng.choice(INDUSTRIES),
        "Rating": rng.choice((None, *RATINGS)), "AnnualRevenue": float(rng.randrange(1, 500) * 100_000),
        "NumberOfEmployees": rng.randrange(1, 5000), "OwnerId": rng.choice(owners),
        "HasOptedOutOfEmail": rng.random() < 0.05, "IsUnreadByOwner": rng.random() < 0.2,
        "Lead_Score__c": float(rng.randrange(0, 101)), "Interests__c": _interests(rng),
    }


def _contact(rng: random.Random, pools: _Pools, n: int, owners: list[str], now: int) -> dict[str, Any]:
    first, last = rng.choice(pools.first), rng.choice(pools.last)
    company = rng.randrange(len(pools.companies))
    city, state_code, postcode = rng.choice(pools.cities)
    birth = now - rng.randrange(22 * 365, 65 * 365) * DAY_MS
    return {
        "FirstName": first, "LastName": last, "Salutation": rng.choice((None, "Mr.", "Ms.", "Mrs.", "Dr.")),
        "Title": rng.choice(pools.titles), "Department": rng.choice(pools.departments),
        "Email": f"{_slug(first)}.{_slug(last)}.c{n}@{pools.domains[company]}",
        "Phone": _phone(rng), "MobilePhone": _phone(rng) if rng.random() < 0.5 else None,
        "MailingStreet": rng.choice(pools.streets), "MailingCity": city, "MailingState": state_code,
        "MailingPostalCode": postcode, "MailingCountry": "United States", "LeadSource": rng.choice(LEAD_SOURCES),
        "Birthdate": ms_to_date(birth) if rng.random() < 0.3 else None, "OwnerId": rng.choice(owners),
        "HasOptedOutOfEmail": rng.random() < 0.05, "DoNotCall": rng.random() < 0.03,
        "Lead_Score__c": float(rng.randrange(0, 101)), "Interests__c": _interests(rng),
    }


def seed_state(state: SandboxState, *, leads: int = 3000, contacts: int = 2000, seed: int = 42) -> None:
    """Fill ``state`` with the seeded directory, ``leads`` Leads and ``contacts`` Contacts (see the module)."""
    with state.lock:
        users = seed_directory(state, seed=seed)
        owners = users[1:]  # the administrator owns what it creates, not the seeded pipeline
        rng = random.Random(seed * 7919 + 1)
        pools = _Pools(seed)
        now = state.now()
        planned: list[tuple[int, int, str, dict[str, Any]]] = []
        for n in range(leads):
            created, modified = _times(rng, now)
            planned.append((created, modified, "Lead", _lead(rng, pools, n, owners)))
        for n in range(contacts):
            created, modified = _times(rng, now)
            planned.append((created, modified, "Contact", _contact(rng, pools, n, owners, now)))
        planned.sort(key=lambda p: p[0])
        inserted: list[tuple[str, str, int]] = []
        for created, modified, kind, values in planned:
            obj = LEAD if kind == "Lead" else CONTACT
            row = state.insert_row(obj, {k: v for k, v in values.items() if v is not None}, user_id=values["OwnerId"],
                                   at_ms=modified, created_ms=created)
            inserted.append((kind, str(row["Id"]), modified))
        for kind, record_id, modified in inserted:
            draw = rng.random()
            if kind == "Lead" and draw < 0.05:
                lead = state.table("Lead").get(record_id)
                assert lead is not None
                if lead.get("Status") != "Closed - Not Converted" and state.lookup(lead.get("OwnerId")) is not None:
                    state.convert_lead(record_id, at_ms=modified)
            elif draw > 0.99:
                state.delete_record(kind, record_id, at_ms=now - rng.randrange(10 * DAY_MS))


def build_state(*, leads: int = 3000, contacts: int = 2000, seed: int = 42,
                clock: Callable[[], int] | None = None) -> SandboxState:
    """A new :class:`SandboxState` seeded with ``leads`` Leads and ``contacts`` Contacts from ``seed``."""
    state = SandboxState(clock=clock)
    seed_state(state, leads=leads, contacts=contacts, seed=seed)
    return state
