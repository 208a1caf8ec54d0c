"""A deliberately small in-memory HubSpot (contacts list + search) for connector unit tests.

Only what the pull needs: ``GET /crm/v3/objects/contacts`` paged by id, and
``POST /crm/v3/objects/contacts/search`` with EQ/GT/GTE/LT/LTE/IN filters, one sort, ``limit`` and
offset ``after``, refusing (400) any page that reaches past ``cap`` results, like HubSpot.
The faithful sandbox lives in ``leadsync.agent.connectors.hubspot.sandbox``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from leadsync.agent.connectors.hubspot.wire import iso_utc

from .fakes import json_response


@dataclass
class FakeContact:
    id: int
    updated_ms: int
    props: dict[str, str | None] = field(default_factory=dict)


@dataclass
class FakeHubSpot:
    cap: int = 10_000
    contacts: dict[int, FakeContact] = field(default_factory=dict)
    searches: list[dict[str, Any]] = field(default_factory=list)
    lists: int = 0
    reads: int = 0
    next_id: int = 1
    after_hook: Any = None  # called after each answered page: hook(kind, n)

    def add(self, updated_ms: int, **props: str | None) -> FakeContact:
        contact = FakeContact(self.next_id, updated_ms, dict(props))
        self.contacts[contact.id] = contact
        self.next_id += 1
        return contact

    def edit(self, contact_id: int, updated_ms: int, **props: str | None) -> None:
        contact = self.contacts[contact_id]
        contact.updated_ms = updated_ms
        contact.props.update(props)

    def wire(self, c: FakeContact, properties: list[str]) -> dict[str, Any]:
        values: dict[str, str | None] = {**c.props, "hs_object_id": str(c.id),
                                         "lastmodifieddate": iso_utc(c.updated_ms)}
        return {"id": str(c.id), "properties": {p: values.get(p) for p in properties},
                "createdAt": iso_utc(0), "updatedAt": iso_utc(c.updated_ms), "archived": False}

    def value(self, c: FakeContact, name: str) -> int | str | None:
        if name == "lastmodifieddate":
            return c.updated_ms
        if name == "hs_object_id":
            return c.id
        return c.props.get(name)

    def matches(self, c: FakeContact, f: dict[str, Any]) -> bool:
        actual = self.value(c, f["propertyName"])
        op = f["operator"]
        if op == "IN":
            return isinstance(actual, str) and actual.lower() in f["values"]
        if actual is None:
            return False
        wanted: int | str = int(f["value"]) if isinstance(actual, int) else f["value"]
        ops = {"EQ": actual == wanted, "GT": actual > wanted, "GTE": actual >= wanted,  # type: ignore[operator]
               "LT": actual < wanted, "LTE": actual <= wanted}  # type: ignore[operator]
        return ops[op]

    def search(self, body: dict[str, Any]) -> httpx.Response:
        self.searches.append(body)
        limit = body.get("limit", 10)
        offset = int(body.get("after") or 0)
        if offset + limit > self.cap:
            return json_response(400, {"status": "error", "category": "VALIDATION_ERROR",
                                       "message": "paging past 10,000 results is not allowed"})
        hits = [c for c in self.contacts.values()
                if any(all(self.matches(c, f) for f in g["filters"]) for g in body["filterGroups"])]
        (sort,) = body.get("sorts") or [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
        hits.sort(key=lambda c: (self.value(c, sort["propertyName"]) or 0, c.id),
                  reverse=sort["direction"] == "DESCENDING")
        page = hits[offset:offset + limit]
        answer: dict[str, Any] = {"total": len(hits), "results": [self.wire(c, body["properties"]) for c in page]}
        if offset + limit < len(hits):
            answer["paging"] = {"next": {"after": str(offset + limit)}}
        if self.after_hook:
            self.after_hook("search", len(self.searches))
        return json_response(200, answer)

    def list_page(self, params: httpx.QueryParams) -> httpx.Response:
        self.lists += 1
        limit = int(params.get("limit", "10"))
        after = int(params.get("after", "0"))
        properties = params.get_list("properties")
        ids = sorted(i for i in self.contacts if i > after)
        page = ids[:limit]
        answer: dict[str, Any] = {"results": [self.wire(self.contacts[i], properties) for i in page]}
        if len(ids) > limit:
            answer["paging"] = {"next": {"after": str(page[-1]), "link": "..."}}
        if self.after_hook:
            self.after_hook("list", self.lists)
        return json_response(200, answer)

    def batch_read(self, body: dict[str, Any]) -> httpx.Response:
        self.reads += 1
        found = [self.contacts[int(i["id"])] for i in body["inputs"] if int(i["id"]) in self.contacts]
        return json_response(200, {"results": [self.wire(c, body["properties"]) for c in found]})

    def handler(self, request: httpx.Request, body: Any) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/crm/v3/objects/contacts/search":
            if len(request.content) > 3_000:
                return json_response(400, {"status": "error", "message": "body too long"})
            return self.search(body)
        if request.method == "POST" and request.url.path == "/crm/v3/objects/contacts/batch/read":
            return self.batch_read(body)
        if request.method == "GET" and request.url.path == "/crm/v3/objects/contacts":
            return self.list_page(request.url.params)
        return json_response(404, {"status": "error", "message": "no such endpoint"})
