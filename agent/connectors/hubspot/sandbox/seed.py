"""Deterministic, realistic seed data for the sandbox CRM.

Same ``seed`` -> same owners, teams, users and contacts (times are relative to the state's clock
at seeding). Faker builds small pools of names, companies and job titles once; each contact's
values are then a pure function of ``(seed, contact id)`` (a SplitMix64 hash picks from the
pools), computed on read. A million contacts therefore cost only their ids, timestamps and index
keys: seeding 1,000,000 takes a few seconds and a few hundred MB.

Owners follow case B17: 8 owners in 3 teams, the first one the account's super admin, the last
one deactivated (``archived`` with ``userId`` null) yet still owning contacts.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence

from faker import Faker

from .state import SandboxState

_MASK = (1 << 64) - 1
_DAY_MS = 86_400_000
_SEEDED_EMAIL = re.compile(r"^[a-z]+\.[a-z]+(\d+)@")

LIFECYCLE_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("subscriber", 30),
    ("lead", 30),
    ("marketingqualifiedlead", 15),
    ("salesqualifiedlead", 10),
    ("opportunity", 8),
    ("customer", 7),
)
TEAM_NAMES = ("Inbound Sales", "Outbound Sales", "Customer Success")
FIRST_CONTACT_ID = 1001


def mix64(value: int) -> int:
    """SplitMix64 finaliser: a fast, well-spread 64-bit hash of ``value``."""
    x = (value + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower()) or "x"


class SeedRecipe:
    """Lazily computed property values of seeded contacts (implements ``PropertySource``).

    Contact ``first_id + i`` gets: ``firstname``/``lastname``/``company``/``jobtitle`` from the
    pools, ``email`` ``first.last<i>@<company domain>`` (unique), a US ``phone``, a weighted
    ``lifecyclestage``, ``lead_score`` 0..100, and ``hubspot_owner_id`` (5% unassigned).
    """

    def __init__(
        self,
        seed: int,
        first_id: int,
        count: int,
        owner_ids: Sequence[str],
        *,
        locale: str = "en_US",
    ) -> None:
        """Build the pools from Faker seeded with ``seed``."""
        fake = Faker(locale)
        fake.seed_instance(seed)
        self.seed = seed
        self.first_id = first_id
        self.count = count
        self._salt = mix64(seed)
        self.first_names = [fake.first_name() for _ in range(400)]
        self.last_names = [fake.last_name() for _ in range(600)]
        self.first_slugs = [_slug(n) for n in self.first_names]
        self.last_slugs = [_slug(n) for n in self.last_names]
        self.companies = [fake.company() for _ in range(250)]
        tlds = (".com", ".io", ".net", ".co", ".org")
        self.domains = [
            "-".join(_slug(w) for w in re.split(r"[\s,]+", c)[:2] if _slug(w) != "x") + tlds[n % len(tlds)]
            for n, c in enumerate(self.companies)
        ]
        self.job_titles = [fake.job() for _ in range(120)]
        self.owner_ids = list(owner_ids)
        self.scores = [str(n) for n in range(101)]
        stages: list[str] = []
        for stage, weight in LIFECYCLE_WEIGHTS:
            stages += [stage] * weight
        self.stages = stages
        self._fields: dict[str, Callable[[int, int, int], str | None]] = {
            "firstname": lambda h, h2, i: self.first_names[h % 400],
            "lastname": lambda h, h2, i: self.last_names[(h >> 12) % 600],
            "email": self._email,
            "company": lambda h, h2, i: self.companies[(h >> 24) % 250],
            "jobtitle": lambda h, h2, i: self.job_titles[(h >> 36) % 120],
            "phone": self._phone,
            "lifecyclestage": lambda h, h2, i: self.stages[(h2 >> 34) % 100],
            "lead_score": lambda h, h2, i: self.scores[(h2 >> 41) % 101],
            "hubspot_owner_id": self._owner,
        }

    def _email(self, h: int, h2: int, i: int) -> str:
        first = self.first_slugs[h % 400]
        last = self.last_slugs[(h >> 12) % 600]
        return f"{first}.{last}{i}@{self.domains[(h >> 24) % 250]}"

    def _phone(self, h: int, h2: int, i: int) -> str:
        return f"+1 {200 + h2 % 800:03d}-{100 + (h2 >> 10) % 900:03d}-{(h2 >> 20) % 10000:04d}"

    def _owner(self, h: int, h2: int, i: int) -> str | None:
        if not self.owner_ids or (h2 >> 48) % 100 < 5:
            return None
        return self.owner_ids[(h2 >> 52) % len(self.owner_ids)]

    def _hashes(self, contact_id: int) -> tuple[int, int, int]:
        h = mix64(self._salt ^ contact_id)
        return h, mix64(h), contact_id - self.first_id

    def value(self, contact_id: int, name: str) -> str | None:
        """Return seeded property ``name`` of ``contact_id`` (``None`` for other properties)."""
        field = self._fields.get(name)
        if field is None:
            return None
        return field(*self._hashes(contact_id))

    def values(self, contact_id: int) -> dict[str, str | None]:
        """Return all seeded properties of ``contact_id``."""
        h, h2, i = self._hashes(contact_id)
        return {name: field(h, h2, i) for name, field in self._fields.items()}

    def times(self, now_ms: int) -> Iterator[tuple[int, int]]:
        """Yield ``(created_ms, updated_ms)`` per contact: created up to ~2 years ago, last
        modified within the past ~90 days (and never before creation)."""
        span_created = 730 * _DAY_MS
        span_updated = 90 * _DAY_MS
        salt = mix64(self._salt ^ 0x5EED)
        for offset in range(self.count):
            h = mix64(salt ^ offset)
            created = now_ms - _DAY_MS - h % span_created
            low = max(created, now_ms - span_updated)
            updated = low + (h >> 20) % (now_ms - low + 1)
            yield created, updated

    def resolve_email(self, email: str) -> int | None:
        """Map a normalized seeded email back to its contact id, or ``None``."""
        match = _SEEDED_EMAIL.match(email)
        if match is None:
            return None
        index = int(match.group(1))
        if index >= self.count:
            return None
        contact_id = self.first_id + index
        return contact_id if self.value(contact_id, "email") == email else None


def seed_directory(state: SandboxState, *, seed: int = 42, owners: int = 8) -> list[str]:
    """Create 3 teams, ``owners`` owners spread over them (first = super admin, last =
    deactivated) and their users; return the owner ids (active and deactivated)."""
    fake = Faker("en_US")
    fake.seed_instance(seed + 1)
    rng = random.Random(seed)
    domain = _slug(fake.last_name()) + "-" + _slug(fake.word()) + ".com"
    teams = [state.add_team(name, team_id=str(rng.randint(1_000_000, 9_999_999))) for name in TEAM_NAMES]
    now = state.clock()
    ids: list[str] = []
    for n in range(owners):
        first, last = fake.first_name(), fake.last_name()
        owner = state.add_owner(
            f"{_slug(first)}.{_slug(last)}@{domain}",
            first,
            last,
            owner_id=str(rng.randint(10_000_000, 99_999_999)),
            team_ids=[teams[n % len(teams)].id],
            archived=n == owners - 1 and owners > 1,
            super_admin=n == 0,
            created_at_ms=now - rng.randint(400, 900) * _DAY_MS,
        )
        ids.append(owner.id)
    return ids


def seed_state(state: SandboxState, *, contacts: int = 10_000, seed: int = 42, owners: int = 8) -> SeedRecipe:
    """Fill ``state`` with the seeded directory and ``contacts`` seeded contacts.

    Contact ids start at 1001 (or above any existing id). Returns the :class:`SeedRecipe`.
    """
    owner_ids = seed_directory(state, seed=seed, owners=owners)
    existing = state.live_contact_ids()
    first_id = max([FIRST_CONTACT_ID - 1, *(int(x) for x in existing)]) + 1
    recipe = SeedRecipe(seed, first_id, contacts, owner_ids)
    state.bulk_add_seeded(recipe, first_id, recipe.times(state.clock()))
    state.set_email_resolver(recipe.resolve_email)
    return recipe


def build_state(
    *, contacts: int = 10_000, seed: int = 42, clock: Callable[[], int] | None = None
) -> SandboxState:
    """Return a new :class:`SandboxState` seeded with ``contacts`` contacts from ``seed``."""
    state = SandboxState(clock=clock)
    seed_state(state, contacts=contacts, seed=seed)
    return state
