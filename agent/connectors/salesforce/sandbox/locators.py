"""Query locators of the sandbox org: a query's answer kept behind a locator and served page by page at the
``nextRecordsUrl`` it issues, as Salesforce's REST ``query``/``queryAll`` do ("Query Locator" limits).

:class:`QueryLocators` is a mixin of :class:`~.state.SandboxState`, which must have ``lock`` (an RLock) and
``clock`` (epoch ms) and call ``_init_locators()`` from its ``__init__``. Open locators are at most
``MAX_CURSORS`` (opening one more closes the oldest); one idle for ``LOCATOR_IDLE_MS`` expires.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from .errors import error, not_found
from .ids import LOCATOR_PREFIX, make_id

LOCATOR_IDLE_MS: Final = 15 * 60 * 1000
"""A query locator expires after 15 minutes without use ("Query Locator" limits)."""
MAX_CURSORS: Final = 50
"""Open query locators kept; opening one more closes the oldest."""
MAX_REMEMBERED_CURSORS: Final = 1000
"""Locators (expired ones too) remembered, so a page URL they issued is answered 400, not 404."""


@dataclass(slots=True)
class Cursor:
    """A query locator: the answer's rows (projected at query time), the page URLs issued for it and
    the page sizes to serve (the last size repeats)."""

    locator: str
    endpoint: str
    version: str
    rows: list[dict[str, Any]]
    sizes: tuple[int, ...]
    touched_ms: int
    issued: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    expired: bool = False

    def expire(self) -> None:
        """Close the locator: its rows go, the URLs it issued are remembered (to answer them 400)."""
        self.expired = True
        self.rows = []


class QueryLocators:
    """Mixin: the org's query locators (see the module docstring)."""

    lock: threading.RLock
    clock: Callable[[], int]

    def _init_locators(self) -> None:
        self.cursors: dict[str, Cursor] = {}
        self._next_locator = 1

    def open_cursor(self, rows: list[dict[str, Any]], *, endpoint: str, version: str,
                    sizes: Iterable[int]) -> dict[str, Any]:
        """Keep ``rows`` behind a new query locator and return the first page's answer."""
        with self.lock:
            now = self.clock()
            live = [c for c in self.cursors.values() if not c.expired]
            for cursor in live:
                if now - cursor.touched_ms > LOCATOR_IDLE_MS:
                    cursor.expire()
            live = [c for c in live if not c.expired]
            for cursor in live[:max(0, len(live) - MAX_CURSORS + 1)]:
                cursor.expire()  # the oldest open locators close first, as Salesforce's per-user cap does
            while len(self.cursors) > MAX_REMEMBERED_CURSORS:
                del self.cursors[next(iter(self.cursors))]
            locator = make_id(LOCATOR_PREFIX, self._next_locator)
            self._next_locator += 1
            cursor = Cursor(locator, endpoint, version, rows, tuple(max(1, s) for s in sizes) or (2000,), now)
            self.cursors[locator] = cursor
            return self._page(cursor, 0)

    def next_page(self, path: str) -> dict[str, Any]:
        """The page a ``nextRecordsUrl`` names. 404 ``NOT_FOUND`` for any URL the sandbox did not issue,
        400 ``INVALID_QUERY_LOCATOR`` for an issued one whose locator was idle for more than 15 minutes."""
        with self.lock:
            locator = path.rsplit("/", 1)[-1].split("-", 1)[0]
            cursor = self.cursors.get(locator)
            if cursor is None or path not in cursor.issued:
                raise not_found()
            if not cursor.expired and self.clock() - cursor.touched_ms > LOCATOR_IDLE_MS:
                cursor.expire()
            if cursor.expired:
                raise error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            cursor.touched_ms = self.clock()
            return self._page(cursor, cursor.issued[path])

    def _page(self, cursor: Cursor, start: int) -> dict[str, Any]:
        size = cursor.sizes[min(cursor.pages, len(cursor.sizes) - 1)]
        cursor.pages += 1
        end = min(start + size, len(cursor.rows))
        done = end >= len(cursor.rows)
        answer: dict[str, Any] = {"totalSize": len(cursor.rows), "done": done}
        if not done:
            url = f"/services/data/{cursor.version}/{cursor.endpoint}/{cursor.locator}-{end}"
            cursor.issued[url] = end
            answer["nextRecordsUrl"] = url
        answer["records"] = cursor.rows[start:end]
        return answer
