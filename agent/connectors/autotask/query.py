"""Autotask queries: the JSON filter body and following ``nextPageUrl``.

``POST /V1.0/{Entity}/query`` takes ``{"MaxRecords": n, "IncludeFields": [...], "filter": [{"op",
"field", "value"}]}`` (conditions in ``filter`` are ANDed; ``{"op": "or", "items": [...]}`` groups) and
answers ``{"items": [...], "pageDetails": {"count", "requestCount", "prevPageUrl", "nextPageUrl"}}``,
at most 500 items a page ("Making basic query calls to the REST API", "Advanced query features of the
REST API"). The next page is fetched from ``nextPageUrl`` **with the same method and the same body**: a
GET on the URL of a POSTed query answers 405 (case B04). Values travel as JSON (msgspec encodes them),
so quotes, backslashes and non-ASCII text in an email need no escaping of their own; no filter is ever
built by pasting text into a string.

:func:`query_pages` refuses a ``nextPageUrl`` outside the zone (the request would carry the credentials
elsewhere) and one seen before (a loop) with :class:`~leadsync.common.errors.CrmProtocolError`; a page
that keeps failing raises whatever the HTTP layer raised after its retries — the query never ends quietly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from leadsync.agent.connectors.autotask.errors import CRM
from leadsync.agent.connectors.autotask.wire import items_of
from leadsync.common.errors import CrmProtocolError

MAX_RECORDS: Final = 500
"""Autotask's largest query page."""
MAX_IN_VALUES: Final = 500
"""Autotask refuses more than 500 OR conditions in one query; an ``in`` list counts each value."""

Post = Callable[[str, dict[str, Any]], Awaitable[Any]]
"""``await post(url, body)`` -> the decoded answer; ``url`` is a path under the zone or an absolute URL."""


def cond(field: str, op: str, value: Any = None) -> dict[str, Any]:
    """One filter condition: ``{"op": op, "field": field, "value": value}`` (no value for isNull/isNotNull)."""
    condition: dict[str, Any] = {"op": op, "field": field}
    if value is not None:
        condition["value"] = value
    return condition


def body(conditions: Sequence[dict[str, Any]], fields: Sequence[str] = (), *,
         max_records: int = MAX_RECORDS) -> dict[str, Any]:
    """A query body; an empty ``fields`` returns every field."""
    out: dict[str, Any] = {"MaxRecords": max_records}
    if fields:
        out["IncludeFields"] = list(dict.fromkeys(fields))
    out["filter"] = list(conditions)
    return out


@dataclass(frozen=True, slots=True)
class QueryPage:
    """One answer of a query: its items and the ``nextPageUrl`` (None on the last page)."""

    items: list[dict[str, Any]]
    next_url: str | None


def _next_url(answer: Any, zone_url: str, seen: set[str], entity: str) -> str | None:
    details = answer.get("pageDetails") if isinstance(answer, dict) else None
    url = details.get("nextPageUrl") if isinstance(details, dict) else None
    if url is None or url == "":
        return None
    if not isinstance(url, str):
        raise CrmProtocolError(f"Autotask sent a {entity} nextPageUrl that is not text: {url!r}", crm=CRM)
    given, zone = urlsplit(url), urlsplit(zone_url)
    if given.netloc and (given.scheme, given.netloc.lower()) != (zone.scheme, zone.netloc.lower()):
        raise CrmProtocolError(f"Autotask sent a {entity} nextPageUrl outside the zone {zone_url}: {url}",
                               crm=CRM)
    if url in seen:
        raise CrmProtocolError(f"Autotask sent the {entity} nextPageUrl {url} twice; stopping instead of "
                               "looping", crm=CRM)
    seen.add(url)
    return url


async def query_pages(post: Post, entity: str, query: dict[str, Any], *, zone_url: str) -> AsyncIterator[QueryPage]:
    """Every page of ``POST /V1.0/{entity}/query`` with ``query``, following ``nextPageUrl`` by POSTing
    the same body, until a page has none."""
    seen: set[str] = set()
    answer = await post(f"/V1.0/{entity}/query", query)
    while True:
        page = QueryPage(items_of(answer, entity), _next_url(answer, zone_url, seen, entity))
        yield page
        if page.next_url is None:
            return
        answer = await post(page.next_url, query)


async def query_all(post: Post, entity: str, query: dict[str, Any], *, zone_url: str) -> list[dict[str, Any]]:
    """Every item of a query, all pages."""
    return [item async for page in query_pages(post, entity, query, zone_url=zone_url) for item in page.items]
