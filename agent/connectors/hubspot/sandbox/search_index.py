"""The search index of the sandbox and its lag behind writes.

The index is a ``SortedList`` of int keys ``lastmodifieddate_ms << 40 | id`` (see
``search_key``), one per searchable contact (not archived, not merged away). Searches sorted by
``lastmodifieddate`` within a time range are a bisect plus a slice.

HubSpot's search guide ("Limits"): new or updated records take a few moments to appear in search.
With a lag > 0 (``search_lag_source``, seconds) a write reaches the index ``lag`` seconds later;
until then search sees the record as it was before the write (a snapshot in ``_stale``) or, for
a new record, not at all.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from sortedcontainers import SortedList

from .records import Contact

KEY_SHIFT = 40
ID_MASK = (1 << KEY_SHIFT) - 1


def search_key(updated_ms: int, contact_id: int) -> int:
    """Encode ``(lastmodifieddate ms, id)`` as one sortable int (ids must be < 2**40)."""
    return (updated_ms << KEY_SHIFT) | contact_id


class SearchIndex:
    """Mixin of ``SandboxState`` keeping the search index in step with contact writes.

    Writers call ``_before_change(contact)`` before mutating a contact and
    ``_after_change(contact)`` after; ``search_index()`` applies writes whose lag has passed.
    """

    lock: threading.RLock
    clock: Callable[[], int]

    def _init_search_index(self) -> None:
        self.search_lag_source: Callable[[], float] = lambda: 0.0
        self._search: Any = SortedList()
        self._stale: dict[int, Contact] = {}
        self._unindexed: set[int] = set()
        self._pending: deque[tuple[int, int]] = deque()
        self._pending_due: dict[int, int] = {}

    def contact(self, contact_id: int) -> Contact | None:
        """The contact with this id in any state (provided by ``SandboxState``)."""
        raise NotImplementedError

    def search_view(self, contact_id: int) -> Contact:
        """Return the contact as the search index sees it (a pre-write snapshot while lagging)."""
        view = self._stale.get(contact_id) or self.contact(contact_id)
        assert view is not None, contact_id
        return view

    def search_index(self) -> Any:
        """Bring the index up to date with due writes and return it (``SortedList`` of keys)."""
        now = self.clock()
        while self._pending and self._pending[0][0] <= now:
            due, contact_id = self._pending.popleft()
            if self._pending_due.get(contact_id) != due:
                continue
            del self._pending_due[contact_id]
            self._reindex(contact_id)
        return self._search

    def _lag_ms(self) -> int:
        return int(self.search_lag_source() * 1000)

    def _before_change(self, contact: Contact) -> None:
        """Keep what search sees of ``contact`` while a write waits for the lag."""
        cid = contact.id
        lagging = cid in self._pending_due
        if self._lag_ms() > 0 or lagging:
            if not lagging and cid not in self._unindexed and cid not in self._stale:
                self._stale[cid] = contact.clone()
        else:
            self._search.discard(search_key(contact.updated_ms, cid))

    def _after_change(self, contact: Contact) -> None:
        cid = contact.id
        lag = self._lag_ms()
        if lag > 0 or cid in self._pending_due:
            due = self.clock() + lag
            self._pending_due[cid] = due
            self._pending.append((due, cid))
            if len(self._pending) > 1 and self._pending[-2][0] > due:
                self._pending = deque(sorted(self._pending))
        elif not contact.archived and contact.merged_into is None:
            self._search.add(search_key(contact.updated_ms, cid))

    def _reindex(self, contact_id: int) -> None:
        stale = self._stale.pop(contact_id, None)
        if contact_id in self._unindexed:
            self._unindexed.discard(contact_id)
        else:
            indexed = stale or self.search_view(contact_id)
            self._search.discard(search_key(indexed.updated_ms, contact_id))
        contact = self.search_view(contact_id)
        if not contact.archived and contact.merged_into is None:
            self._search.add(search_key(contact.updated_ms, contact_id))
