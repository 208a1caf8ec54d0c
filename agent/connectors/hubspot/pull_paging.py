"""What every mode of the HubSpot pull shares: the fetch functions, reading an answer page, search bodies
and filters, the handover cursor and prefetching (the modes: :mod:`~leadsync.agent.connectors.hubspot.pull`).

A page is a ``GET /crm/v3/objects/contacts`` or ``POST .../search`` answer: ``results`` (objects),
``paging.next.after`` when more follow, ``total`` (search only); decoded by :func:`.pages.decode_page`, typed
when its body has HubSpot's documented types, plain JSON otherwise (read here as it always was). Every filter
value is epoch milliseconds (UTC) as a string, identical under any time zone (case B09).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, Literal

import msgspec

from leadsync.agent.connectors.base import CrmRecord, ObjectType, PullPage
from leadsync.agent.connectors.hubspot import wire
from leadsync.agent.connectors.hubspot.pages import Page, WirePage, record_from_object
from leadsync.agent.connectors.hubspot.wire import MODIFIED_PROPERTY, record_from_wire
from leadsync.agent.connectors.incremental import checkpoint_ms
from leadsync.common.errors import CrmProtocolError

MAX_SEARCH_BODY_CHARS: Final = 3_000
"""HubSpot refuses a search request body longer than this."""

ListPage = Callable[[str | None], Awaitable[Page]]
"""``await list_page(after)`` -> a ``GET /crm/v3/objects/contacts`` answer."""
SearchPage = Callable[[dict[str, Any]], Awaitable[Page]]
"""``await search(body)`` -> a ``POST /crm/v3/objects/contacts/search`` answer."""
Hydrate = Callable[[list[CrmRecord]], Awaitable[list[CrmRecord]]]
"""``await hydrate(records)`` -> the same records (those still there) with every wanted property."""


def next_after(page: Page) -> str | None:
    """The ``after`` of the next page, None on the last; CrmProtocolError when "more" comes without one."""
    if isinstance(page, WirePage):
        nxt = page.paging.next if page.paging is not None else None
        if nxt is None:
            return None
        if not nxt.after:
            raise CrmProtocolError("HubSpot said more results follow but gave no 'after'", crm="hubspot")
        return nxt.after
    return wire.next_after(page)


def page_records(page: Page, object_type: ObjectType) -> list[CrmRecord]:
    """The page's ``results`` as records; CrmProtocolError for a page without ``results``."""
    if isinstance(page, WirePage):
        return [record_from_object(obj, object_type) for obj in page.results]
    results = page.get("results")
    if not isinstance(results, list):
        raise CrmProtocolError("HubSpot answered a page without 'results'", crm="hubspot")
    return [record_from_wire(r, object_type) for r in results if isinstance(r, dict)]


def page_total(page: Page) -> int | None:
    """A search answer's ``total`` (the results its query matches); None when it has none."""
    total = page.total if isinstance(page, WirePage) else page.get("total")
    return total if isinstance(total, int) else None


def object_id(record: CrmRecord) -> int:
    """The record's ``hs_object_id`` as a number; CrmProtocolError when it is not numeric."""
    try:
        return int(record.id)
    except ValueError:
        raise CrmProtocolError(f"HubSpot object id {record.id!r} is not numeric", crm="hubspot") from None


def search_filter(prop: str, operator: str, value: str) -> dict[str, str]:
    """One search filter, ``{"propertyName", "operator", "value"}``."""
    return {"propertyName": prop, "operator": operator, "value": value}


def search_body(
    filters: Sequence[Mapping[str, str]], sort_property: str, properties: Sequence[str], limit: int,
    direction: Literal["ASCENDING", "DESCENDING"] = "ASCENDING",
) -> dict[str, Any]:
    """A search request body: one filter group (AND), one sort (ascending by default), no ``after``."""
    return {
        "filterGroups": [{"filters": [dict(f) for f in filters]}],
        "sorts": [{"propertyName": sort_property, "direction": direction}],
        "properties": list(properties),
        "limit": limit,
    }


def search_fits(properties: Sequence[str], limit: int) -> bool:
    """Whether a pull's search body asking for ``properties`` stays under HubSpot's 3,000 characters."""
    widest = [search_filter(MODIFIED_PROPERTY, "GTE", "9" * 13), search_filter(MODIFIED_PROPERTY, "LT", "9" * 13)]
    body = search_body(widest, MODIFIED_PROPERTY, properties, limit)
    return len(msgspec.json.encode(body)) <= MAX_SEARCH_BODY_CHARS - 100


def handover(started: int, newest: int | None, overlap_ms: int) -> dict[str, Any]:
    """The search-mode cursor a full pull ends with: its list (or split) walk read everything up to the
    newest modified time seen (``newest``; None: no record), and nothing after ``started``."""
    reached = started if newest is None else newest
    return {"mode": "search", "since_ms": checkpoint_ms(None, reached, started, overlap_ms)}


async def prefetch(source: AsyncIterator[PullPage], depth: int) -> AsyncIterator[PullPage]:
    """``source``'s pages in order, fetched by a task at most ``depth`` pages ahead of the caller."""
    queue: asyncio.Queue[PullPage | BaseException | None] = asyncio.Queue(max(1, depth))

    async def run() -> None:
        try:
            async for page in source:
                await queue.put(page)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await queue.put(exc)
            return
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        await queue.put(None)

    task = asyncio.ensure_future(run())
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
            if item.done:
                return
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
