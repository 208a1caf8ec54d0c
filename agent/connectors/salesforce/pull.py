"""The incremental pull of Leads or Contacts: which SOQL to send, how to page, what cursor to save.

Every pull is one or more *windows*, each a single ``queryAll`` ("Execute a SOQL Query that Includes
Deleted Items", REST API Developer Guide)::

    SELECT <fields> FROM Lead
    WHERE <lower bound> AND SystemModstamp < <T>
    ORDER BY SystemModstamp ASC, Id ASC LIMIT <window>

- ``queryAll`` returns rows in the Recycle Bin too (``IsDeleted = true``): they come back
  ``archived=True``, so deletes arrive with the changes (a delete moves ``SystemModstamp``);
- ``T`` is the wall clock when the pull started (an upper bound, so a pull ends even while the CRM keeps
  changing; later edits belong to the next pull);
- the first window's lower bound is ``SystemModstamp >= S`` (the cursor, floored to the second since
  ``SystemModstamp`` has whole seconds) or none for a full pull; each further window continues after the
  last row seen by keyset, ``(SystemModstamp > t OR (SystemModstamp = t AND Id > 'id'))``, so no query is
  trusted for more than ``window`` rows and none depends on a query locator that may expire
  (15 minutes idle) during a long pull;
- inside a window the answer comes in pages (2,000 rows by default, "page sizes vary"): each page is
  ``{totalSize, done, records, nextRecordsUrl}`` and the next one is fetched from ``nextRecordsUrl``
  exactly as given until ``done`` is true. A page with ``done: false`` and no ``nextRecordsUrl`` (case
  B03), a ``nextRecordsUrl`` seen before, or rows going back in ``SystemModstamp`` raise
  :class:`~leadsync.common.errors.CrmProtocolError`: the run fails clearly instead of ending quietly.

Cursor: ``{"since_ms": S}``, epoch ms UTC. The checkpoint after each page is ``max(S, min(t_last, T) -
overlap)`` where ``t_last`` is the newest ``SystemModstamp`` yielded (the rule of
:mod:`~leadsync.agent.connectors.incremental`). Every literal is written in UTC by
:func:`~leadsync.agent.connectors.salesforce.soql.datetime_literal`: the SOQL is the same under any time
zone (case B09).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from leadsync.agent.connectors.base import CrmRecord, ObjectType, PullPage
from leadsync.agent.connectors.incremental import DEFAULT_OVERLAP_MS, first_descent, since_checkpoint, since_of
from leadsync.agent.connectors.salesforce.errors import CRM
from leadsync.agent.connectors.salesforce.soql import datetime_literal, field_list, quote
from leadsync.agent.connectors.salesforce.wire import (
    ID,
    MODSTAMP,
    SYSTEM_FIELDS,
    record_from_wire,
    records_of,
    sobject,
)
from leadsync.common.errors import CrmProtocolError
from leadsync.common.instants import NowMs

DEFAULT_WINDOW: Final = 50_000

Query = Callable[[str], Awaitable[Mapping[str, Any]]]
"""``await query(soql)`` -> the first page of ``GET .../queryAll?q=<soql>``."""
QueryMore = Callable[[str], Awaitable[Mapping[str, Any]]]
"""``await more(next_records_url)`` -> the page at that URL (relative to the instance URL)."""


@dataclass(frozen=True, slots=True)
class PullSettings:
    """``overlap_ms``: how far a pull reaches back before its cursor; ``window``: rows per query."""

    overlap_ms: int = DEFAULT_OVERLAP_MS
    window: int = DEFAULT_WINDOW


def window_query(object_name: str, fields: Sequence[str], *, since_ms: int | None, after: tuple[int, str] | None,
                 upper_ms: int, limit: int) -> str:
    """The SOQL of one window (see the module docstring); ``after`` is the keyset ``(t_ms, id)``."""
    conditions: list[str] = []
    if after is not None:
        t = datetime_literal(after[0])
        conditions.append(f"({MODSTAMP} > {t} OR ({MODSTAMP} = {t} AND {ID} > {quote(after[1])}))")
    elif since_ms is not None:
        conditions.append(f"{MODSTAMP} >= {datetime_literal(since_ms - since_ms % 1000)}")
    conditions.append(f"{MODSTAMP} < {datetime_literal(upper_ms)}")
    return (f"SELECT {', '.join(fields)} FROM {object_name} WHERE {' AND '.join(conditions)} "
            f"ORDER BY {MODSTAMP} ASC, {ID} ASC LIMIT {int(limit)}")


class IncrementalPull:
    """One pull of one object type as an async iterator of :class:`PullPage` (see the module docstring).

    ``properties`` are the caller's field names; the :data:`SYSTEM_FIELDS` of the object are always
    selected too. Raises ValidationError for a bad cursor or field name, CrmProtocolError for answers that
    break the paging contract, and whatever ``query``/``more`` raise.
    """

    def __init__(self, object_type: ObjectType, *, properties: Sequence[str], query: Query, more: QueryMore,
                 now_ms: NowMs, settings: PullSettings | None = None) -> None:
        self.object_type = object_type
        self.object_name = sobject(object_type)
        self.fields = field_list(SYSTEM_FIELDS[object_type], properties)
        self._query = query
        self._more = more
        self._now_ms = now_ms
        self.settings = settings or PullSettings()
        self.queries: list[str] = []

    def pages(self, cursor: Mapping[str, Any] | None) -> AsyncIterator[PullPage]:
        """Pages from ``cursor`` (None: a full pull) to the end; the last one has ``done=True``."""
        return self._pages(since_of(cursor, "Salesforce"))

    async def _pages(self, since: int | None) -> AsyncIterator[PullPage]:
        upper = self._now_ms()
        window = self.settings.window
        after: tuple[int, str] | None = None
        newest: int | None = None
        total: int | None = None
        first_window = True
        at_newest: set[str] = set()  # ids yielded at exactly ``newest``: a repeat means a broken keyset
        while True:
            soql = window_query(self.object_name, self.fields, since_ms=since, after=after, upper_ms=upper,
                                limit=window)
            self.queries.append(soql)
            page = await self._query(soql)
            if first_window:
                size = page.get("totalSize")
                total = size if isinstance(size, int) and not isinstance(size, bool) and size < window else None
            first_window = False
            rows = 0
            seen_urls: set[str] = set()
            while True:
                records = [record_from_wire(obj, self.object_type) for obj in records_of(page)]
                rows += len(records)
                descent = first_descent([r.updated_at_ms for r in records], newest)
                for index, record in enumerate(records):
                    if index == descent:
                        raise CrmProtocolError(
                            f"Salesforce returned {self.object_name} {record.id} out of SystemModstamp order",
                            crm=CRM)
                    if record.updated_at_ms != newest:
                        at_newest = set()
                    elif record.id in at_newest:
                        raise CrmProtocolError(
                            f"Salesforce returned {self.object_name} {record.id} twice in one pull", crm=CRM)
                    at_newest.add(record.id)
                    newest = record.updated_at_ms
                    after = (record.updated_at_ms, record.id)
                next_url = _next_records_url(page, seen_urls, self.object_name)
                last = next_url is None and rows < window
                checkpoint = since_checkpoint(since, newest, upper, self.settings.overlap_ms)
                yield PullPage(records=records, cursor=checkpoint, done=last, total=total)
                if next_url is None:
                    break
                page = await self._more(next_url)
            if rows < window:
                return


def _next_records_url(page: Mapping[str, Any], seen: set[str], object_name: str) -> str | None:
    """The page's ``nextRecordsUrl`` when ``done`` is false, None when done; CrmProtocolError for a
    page that says more follows without saying where, or that points back to a page already read."""
    done = page.get("done")
    if done is True:
        return None
    if done is not False:
        raise CrmProtocolError(f"Salesforce answered a {object_name} query page without 'done'", crm=CRM)
    url = page.get("nextRecordsUrl")
    if not isinstance(url, str) or not url:
        raise CrmProtocolError(
            f"Salesforce said more {object_name} records follow (done: false) but gave no nextRecordsUrl; "
            "the pull stops here instead of ending quietly with records missing", crm=CRM)
    if url in seen:
        raise CrmProtocolError(f"Salesforce sent the nextRecordsUrl {url} twice", crm=CRM)
    seen.add(url)
    return url


def records_in(pages: Sequence[PullPage]) -> list[CrmRecord]:
    """Every record of ``pages``, in order (a test and debugging helper)."""
    return [record for page in pages for record in page.records]
