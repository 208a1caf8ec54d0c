"""The incremental pull of Contacts: which query to send, how to page, what cursor to save.

Autotask queries cannot be sorted: their pages come in ``id`` order, whatever the filter. So a pull is
one *window* of modification time, read in id order::

    POST /V1.0/Contacts/query
    {"MaxRecords": 500, "IncludeFields": [...],
     "filter": [{"op": "gte", "field": "lastModifiedDate", "value": "<S>"},
                {"op": "lt",  "field": "lastModifiedDate", "value": "<T>"},
                {"op": "gt",  "field": "id", "value": <after>}]}

- ``S`` is the saved cursor (none for a full pull, which has no time bounds at all, so contacts with no
  ``lastModifiedDate`` arrive too); ``T`` is the wall clock when the pull started, so the window is
  fixed while the CRM keeps changing (later edits belong to the next pull);
- the pages are followed through ``nextPageUrl`` with POST and the same body (case B04);
- ``after`` resumes a window that was interrupted: after every page but the last, the checkpoint is
  ``{"since_ms": S, "upper_ms": T, "after_id": <last id>}`` — the same window, continued after the last
  contact applied — provided the ids really came in ascending order (if a page breaks that order the
  checkpoints are None until the window ends; nothing is skipped, a resume re-reads the window);
- after the last page the checkpoint is ``{"since_ms": max(S, T - overlap)}`` and the page is ``done``
  (the rule of :mod:`~leadsync.agent.connectors.incremental`, the window read to its end).

The first request of a window is ``POST /V1.0/Contacts/query/count`` with the same filter, for
``PullPage.total``. Each page's Companies are read in one query for the pseudo-properties
``companyName`` and ``ownerResourceID`` (see :mod:`~.wire`). Every time in a filter is written by
:func:`~.wire.instant_literal` in UTC, so the filters are the same under any time zone (case B09).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from leadsync.agent.connectors.autotask.query import Post, body, cond, query_pages
from leadsync.agent.connectors.autotask.wire import (
    COMPANY_ID,
    CONTACT_FIELDS,
    ID,
    MODIFIED,
    PSEUDO,
    contact_from_wire,
    instant_literal,
    wire_id,
)
from leadsync.agent.connectors.base import PullPage
from leadsync.agent.connectors.incremental import DEFAULT_OVERLAP_MS, first_descent, since_checkpoint
from leadsync.common.errors import ValidationError
from leadsync.common.instants import NowMs

Companies = Callable[[Sequence[str]], Awaitable[Mapping[str, Mapping[str, str | None]]]]
"""``await companies(company_ids)`` -> pseudo-properties by company id (see :func:`~.wire.company_of`)."""
Count = Callable[[dict[str, Any]], Awaitable[int | None]]
"""``await count(query)`` -> how many contacts the query matches (``/query/count``), None if unknown."""


@dataclass(frozen=True, slots=True)
class Window:
    """Where a pull stands: ``since_ms`` (None: a full pull), ``upper_ms`` (None: not started yet) and the
    last contact id applied in this window."""

    since_ms: int | None
    upper_ms: int | None = None
    after_id: int | None = None


def _int_or_none(cursor: Mapping[str, Any], key: str) -> int | None:
    value = cursor.get(key)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise ValidationError(f"not an Autotask pull cursor ({key} is {value!r}): {dict(cursor)!r}")


def window_of(cursor: Mapping[str, Any] | None) -> Window:
    """The :class:`Window` a saved cursor (None: a full pull) stands for; ValidationError for a cursor this
    module did not write."""
    if cursor is None:
        return Window(None)
    if not isinstance(cursor, Mapping) or "since_ms" not in cursor:
        raise ValidationError(f"not an Autotask pull cursor: {cursor!r}")
    return Window(_int_or_none(cursor, "since_ms"), _int_or_none(cursor, "upper_ms"), _int_or_none(cursor, "after_id"))


def window_filter(window: Window, upper_ms: int) -> list[dict[str, Any]]:
    """The filter of a window (see the module docstring)."""
    conditions: list[dict[str, Any]] = []
    if window.since_ms is not None:
        conditions.append(cond(MODIFIED, "gte", instant_literal(window.since_ms)))
        conditions.append(cond(MODIFIED, "lt", instant_literal(upper_ms)))
    if window.after_id is not None:
        conditions.append(cond(ID, "gt", window.after_id))
    if not conditions:
        conditions.append(cond(ID, "gte", 0))  # Autotask wants a filter; this one matches every contact
    return conditions


class ContactPull:
    """One pull of Contacts as an async iterator of :class:`PullPage` (see the module docstring)."""

    def __init__(self, *, post: Post, zone_url: str, properties: Sequence[str], companies: Companies, count: Count,
                 now_ms: NowMs, overlap_ms: int = DEFAULT_OVERLAP_MS) -> None:
        self._post = post
        self._zone_url = zone_url
        self.fields = [*CONTACT_FIELDS, *(p for p in properties if p not in PSEUDO)]
        self._companies = companies
        self._count = count
        self._now_ms = now_ms
        self.overlap_ms = overlap_ms
        self.queries: list[dict[str, Any]] = []

    def pages(self, cursor: Mapping[str, Any] | None) -> AsyncIterator[PullPage]:
        """Pages from ``cursor`` (None: a full pull) to the end; the last one has ``done=True``."""
        return self._pages(window_of(cursor))

    async def _pages(self, window: Window) -> AsyncIterator[PullPage]:
        upper = window.upper_ms if window.upper_ms is not None else self._now_ms()
        query = body(window_filter(window, upper), self.fields)
        self.queries.append(query)
        total = await self._count(query)
        last_id = window.after_id
        ordered = True
        async for page in query_pages(self._post, "Contacts", query, zone_url=self._zone_url):
            ids: list[int] = []
            for item in page.items:
                value = item.get(ID)
                ids.append(value if isinstance(value, int) and not isinstance(value, bool) else -1)
            ordered = ordered and first_descent(ids, last_id, strict=True) is None
            last_id = ids[-1] if ids else last_id
            company_ids = {cid for item in page.items if (cid := wire_id(item.get(COMPANY_ID))) is not None}
            companies = await self._companies(sorted(company_ids)) if company_ids else {}
            records = [contact_from_wire(item, companies.get(wire_id(item.get(COMPANY_ID)) or ""))
                       for item in page.items]
            if page.next_url is None:
                final = since_checkpoint(window.since_ms, upper, upper, self.overlap_ms)
                yield PullPage(records=records, cursor=final, done=True, total=total)
                return
            checkpoint = {"since_ms": window.since_ms, "upper_ms": upper, "after_id": last_id} \
                if ordered and last_id is not None else None
            yield PullPage(records=records, cursor=checkpoint, done=False, total=total)
