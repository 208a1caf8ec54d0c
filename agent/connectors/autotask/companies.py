"""Companies, as far as contacts need them: their names and owners, and finding or creating one by name.

Every Autotask contact belongs to a Company (``companyID``, required). leadsync's local contact has only
a company *name*, so the connector carries it in the pseudo-property ``companyName``:

- reading contacts, each page's Companies are read in one query (``id in [...]``) and every contact gets
  its Company's ``companyName`` and ``ownerResourceID``;
- pushing a new contact, its ``companyName`` is looked up (``companyName in [...]``: Autotask compares
  without regard to case; leadsync then picks the exact match after trimming and lower-casing, an active
  Company before an inactive one, the oldest first); when none exists the Company is created with
  ``POST /V1.0/Companies`` — ``companyName``, ``companyType`` (default 2, *Lead*), ``ownerResourceID``
  and ``phone`` are required there ("Companies" entity, Autotask REST API).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from leadsync.agent.connectors.autotask.errors import CRM
from leadsync.agent.connectors.autotask.query import MAX_IN_VALUES, Post, body, cond, query_all
from leadsync.agent.connectors.autotask.wire import (
    COMPANY_NAME,
    ID,
    IS_ACTIVE,
    OWNER,
    chunks,
    company_of,
    wire_id,
)
from leadsync.common.errors import CrmProtocolError

LEAD_COMPANY_TYPE: Final = "2"
"""The system ``companyType`` picklist value *Lead*: a Company leadsync creates is a lead's company."""
COMPANY_FIELDS: Final = (ID, COMPANY_NAME, OWNER, IS_ACTIVE)

Create = Callable[[str, dict[str, Any]], Awaitable[Any]]
"""``await create(path, body)`` -> the decoded answer of a POST that must not be replayed."""


def company_key(name: str) -> str:
    """How company names are matched: trimmed, inner whitespace collapsed, lower-cased."""
    return " ".join(name.split()).lower()


@dataclass(frozen=True, slots=True)
class Company:
    """A Company as contacts see it."""

    id: str
    name: str
    owner_id: str | None
    active: bool = True

    def pseudo(self) -> dict[str, str | None]:
        """The pseudo-properties it gives its contacts."""
        return {COMPANY_NAME: self.name, OWNER: self.owner_id}


def _company(item: Mapping[str, Any]) -> Company:
    company_id = wire_id(item.get(ID))
    if company_id is None:
        raise CrmProtocolError("Autotask returned a company without an id", crm=CRM)
    names = company_of(item)
    return Company(id=company_id, name=names[COMPANY_NAME] or "", owner_id=names[OWNER],
                   active=item.get(IS_ACTIVE) is not False)


class Companies:
    """Company look-ups and creation through one connection (``post`` queries, ``create`` POSTs)."""

    def __init__(self, *, post: Post, create: Create, zone_url: Callable[[], Awaitable[str]]) -> None:
        self._post = post
        self._create = create
        self._zone_url = zone_url

    async def _query(self, conditions: list[dict[str, Any]]) -> list[Company]:
        items = await query_all(self._post, "Companies", body(conditions, COMPANY_FIELDS),
                                zone_url=await self._zone_url())
        return [_company(item) for item in items]

    async def by_ids(self, ids: Sequence[str]) -> dict[str, Company]:
        """Companies by id (ids that are not integers or do not resolve are absent)."""
        numeric = sorted({int(i) for i in ids if i.isdigit()})
        found: dict[str, Company] = {}
        for chunk in chunks([str(i) for i in numeric], MAX_IN_VALUES):
            for company in await self._query([cond(ID, "in", [int(i) for i in chunk])]):
                found[company.id] = company
        return found

    async def pseudo_by_ids(self, ids: Sequence[str]) -> dict[str, dict[str, str | None]]:
        """``{company id: {companyName, ownerResourceID}}`` for contacts' pseudo-properties."""
        return {cid: company.pseudo() for cid, company in (await self.by_ids(ids)).items()}

    async def by_names(self, names: Sequence[str]) -> dict[str, Company]:
        """The Company for each name, keyed by :func:`company_key`; names without one are absent."""
        wanted = {company_key(n): n.strip() for n in names if company_key(n)}
        found: dict[str, Company] = {}
        for chunk in chunks(sorted(wanted), MAX_IN_VALUES):
            rows = await self._query([cond(COMPANY_NAME, "in", [wanted[key] for key in chunk])])
            for company in sorted(rows, key=lambda c: (not c.active, int(c.id) if c.id.isdigit() else 0)):
                key = company_key(company.name)
                if key in wanted:
                    found.setdefault(key, company)
        return found

    async def create(self, name: str, *, owner_id: str, phone: str, defaults: Mapping[str, Any]) -> Company:
        """Create a Company (``POST /V1.0/Companies``), type *Lead* unless ``defaults`` says otherwise;
        raises the CrmError Autotask answered. The POST is never replayed (a Company has no unique key)."""
        payload: dict[str, Any] = {"companyType": int(LEAD_COMPANY_TYPE), **defaults, COMPANY_NAME: name.strip(),
                                   OWNER: int(owner_id) if owner_id.isdigit() else owner_id, "phone": phone}
        answer = await self._create("/V1.0/Companies", payload)
        company_id = wire_id(answer.get("itemId")) if isinstance(answer, dict) else None
        if company_id is None:
            raise CrmProtocolError("Autotask created a company without answering its itemId", crm=CRM)
        return Company(id=company_id, name=name.strip(), owner_id=owner_id)
