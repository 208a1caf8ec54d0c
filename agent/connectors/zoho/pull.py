"""The incremental pull of Leads or Contacts: which lists to request, how to page, what cursor to save.

Each request is a records list ("Get Records", Zoho CRM API v8)::

    GET /crm/v8/Leads?fields=Email,Owner,Modified_Time,...&per_page=200&sort_by=Modified_Time
        &sort_order=asc&converted=both&page=1
    If-Modified-Since: 2024-03-11T06:59:59+00:00

answered ``{data: [...], info: {more_records, next_page_token, ...}}``, or 204 with no body when nothing
changed. ``converted=both`` (Leads) brings converted Leads too, marked ``$converted: true``.

Paging is by keyset, not by offset: every next request starts a fresh list from the newest
``Modified_Time`` seen (``If-Modified-Since`` one second earlier, since Zoho compares whole seconds and
"modified after"), and the records of that boundary second already yielded are skipped by id. An edit made
while the pull runs moves a record to the end of the list instead of shifting the pages under the reader,
so nothing is skipped; no page token can expire mid-pull. Only when more than a page of records share one
second does the pull page within a list (``next_page_token``, else ``page=N``). Rows going back in time, or
a list that says more records follow without a way to reach them, raise
:class:`~leadsync.common.errors.CrmProtocolError`: the run fails instead of ending quietly.

Cursor: ``{"since_ms": S}``, epoch ms UTC. After each page it is ``max(S, min(t_newest, T) - overlap)``,
``T`` being the wall clock when the pull started (the rule of :mod:`~leadsync.agent.connectors.incremental`).
``done`` is True only on the page after which Zoho said ``more_records: false``. Every instant sent is UTC
(``+00:00``), so the requests are the same under any time zone (case B09). Deleted records are not in these
lists: see ``list_archived`` (``/deleted``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from leadsync.agent.connectors.base import CrmRecord, ObjectType, PullPage
from leadsync.agent.connectors.incremental import DEFAULT_OVERLAP_MS, first_descent, since_checkpoint, since_of
from leadsync.agent.connectors.zoho.errors import CRM
from leadsync.agent.connectors.zoho.wire import (
    MODIFIED,
    data_of,
    format_instant,
    module,
    more_records,
    record_from_wire,
)
from leadsync.common.errors import CrmProtocolError
from leadsync.common.instants import NowMs

PAGE_SIZE: Final = 200
"""Zoho's largest ``per_page``."""
PAGE_LIMIT: Final = 2000
"""Records a list reaches with ``page`` alone; beyond, only ``page_token`` goes on."""

Fetch = Callable[[dict[str, str], str | None], Awaitable[Any]]
"""``await fetch(params, if_modified_since)`` -> the decoded list answer (None for 204)."""
Resolve = Callable[[list[CrmRecord]], Awaitable[list[CrmRecord]]]
"""``await resolve(records)`` -> the same records, converted Leads completed with their Contact."""


@dataclass(frozen=True, slots=True)
class PullSettings:
    """``overlap_ms``: how far a pull reaches back before its cursor; ``page_size``: records a request."""

    overlap_ms: int = DEFAULT_OVERLAP_MS
    page_size: int = PAGE_SIZE


@dataclass(slots=True)
class _Keyset:
    """Where the next list starts: the newest second seen and the ids already yielded at it."""

    second_ms: int | None
    seen: set[str]

    def header(self) -> str | None:
        return None if self.second_ms is None else format_instant(self.second_ms - 1000)

    def is_new(self, record: CrmRecord) -> bool:
        if self.second_ms is None:
            return True
        second = record.updated_at_ms - record.updated_at_ms % 1000
        return second > self.second_ms or (second == self.second_ms and record.id not in self.seen)

    def advance(self, records: Sequence[CrmRecord]) -> bool:
        """Note ``records`` as yielded; True when the boundary second moved (a fresh list may start)."""
        moved = False
        for record in records:
            second = record.updated_at_ms - record.updated_at_ms % 1000
            if self.second_ms is None or second > self.second_ms:
                self.second_ms, self.seen, moved = second, set(), True
            if second == self.second_ms:
                self.seen.add(record.id)
        return moved


class IncrementalPull:
    """One pull of one object type as an async iterator of :class:`PullPage` (see the module docstring).

    ``fields`` are sent as ``fields=`` (the caller filters them to the module's fields). ``resolve``
    completes converted Leads. Raises ValidationError for a bad cursor, CrmProtocolError for answers that
    break the paging contract, and whatever ``fetch`` raises.
    """

    def __init__(self, object_type: ObjectType, *, fields: Sequence[str], fetch: Fetch, resolve: Resolve,
                 now_ms: NowMs, settings: PullSettings | None = None) -> None:
        self.object_type = object_type
        self.fields = list(dict.fromkeys(fields))
        self._fetch = fetch
        self._resolve = resolve
        self._now_ms = now_ms
        self.settings = settings or PullSettings()
        self.requests: list[tuple[dict[str, str], str | None]] = []

    def pages(self, cursor: Mapping[str, Any] | None) -> AsyncIterator[PullPage]:
        """Pages from ``cursor`` (None: a full pull) to the end; the last one has ``done=True``."""
        return self._pages(since_of(cursor, "Zoho"))

    def _params(self, page: int, token: str | None) -> dict[str, str]:
        params = {"fields": ",".join(self.fields), "per_page": str(self.settings.page_size),
                  "sort_by": MODIFIED, "sort_order": "asc"}
        if self.object_type == "lead":
            params["converted"] = "both"
        if token is not None:
            params["page_token"] = token
        else:
            params["page"] = str(page)
        return params

    async def _pages(self, since: int | None) -> AsyncIterator[PullPage]:
        upper = self._now_ms()
        keyset = _Keyset(None if since is None else since - since % 1000, set())
        newest: int | None = None
        page, token = 1, None
        tokens: set[str] = set()
        name = module(self.object_type)
        while True:
            params = self._params(page, token)
            header = keyset.header()
            self.requests.append((params, header))
            answer = await self._fetch(params, header)
            records = [record_from_wire(obj, self.object_type) for obj in data_of(answer)]
            descent = first_descent([r.updated_at_ms for r in records])
            if descent is not None:
                raise CrmProtocolError(f"Zoho listed {name} {records[descent].id} out of Modified_Time order", crm=CRM)
            fresh = await self._resolve([r for r in records if keyset.is_new(r)])
            more, next_token = more_records(answer)
            moved = keyset.advance(fresh)
            if fresh:
                newest = max(newest or 0, fresh[-1].updated_at_ms)
            yield PullPage(records=fresh, cursor=since_checkpoint(since, newest, upper, self.settings.overlap_ms),
                           done=not more)
            if not more:
                return
            if moved:  # a fresh list from the new boundary: no offset to shift under the reader
                page, token = 1, None
                continue
            if next_token is not None and next_token not in tokens:
                tokens.add(next_token)
                page, token = page + 1, next_token
            elif token is None and page * self.settings.page_size < PAGE_LIMIT:
                page += 1
            else:
                raise CrmProtocolError(
                    f"Zoho said more {name} records follow (more_records: true) but gave no usable "
                    "next_page_token; the pull stops here instead of ending quietly with records missing", crm=CRM)
