"""The id ranges of a split full pull and its checkpoint (the ``"split"`` cursor of
:mod:`~leadsync.agent.connectors.hubspot.pull`; the walkers are in :mod:`.split_pull`).

The id space is cut into segments ``[lo, end)``; the last one has no ``end`` and is shared with the search
walker, which pages down from the highest id (``below``: every id ``>= below`` is the search's). Each
segment has a list chain paging ``GET /crm/v3/objects/contacts`` upwards from ``lo``: its ``high`` is the
highest id it holds, ``after`` where the list resumes. A segment is done when its chain reached ``end`` (or,
the last one, met ``below``), or the list ended. When a chain is done, it takes half of the largest segment
left (a third of the last, which the search shares): the segment ends where the new one begins.

Two views are kept with the same shape: what the walkers *fetched* (walkers stop, and segments split, by
it) and what the pull *yielded* (the checkpoint). Every page is trimmed, when yielded, to the ids of its
segment the pull did not yield yet, so a crash anywhere resumes with no gap and no duplicate.

The list's ``after`` is an id in HubSpot (and the sandbox: the next id; some clients see the last one); a
chain starting at ``lo`` asks ``after = lo - 1`` and keeps ids ``>= lo``, which is right either way. HubSpot
documents ``after`` as an opaque cursor, though: when the walkers see it is not an id (:mod:`.split_pull`
checks), the view stops taking ids for ``after`` (``by_id`` False, saved in the checkpoint as
``after_is_id``): no more cuts, a segment none of whose ids are held goes to the chain of the segment below
it (:meth:`View.merge_down`), or is walked from the start of the list, and ``after`` only ever comes from
HubSpot's ``paging.next.after``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from leadsync.agent.connectors.base import CrmRecord
from leadsync.agent.connectors.hubspot.pull_paging import object_id

__all__ = ["Segment", "SplitCheckpoint", "View"]

SPLIT_MIN_IDS = 400
"""A segment with fewer ids left than this is not split (a new chain would cost more pages than it saves)."""


@dataclass(slots=True)
class Segment:
    """Ids ``[lo, end)`` (``end`` None: up to the search's ``below``); the chain holds every id of the segment
    ``<= high`` (None: none yet) and resumes the list at ``after`` (None: at ``lo``); ``done``: nothing left."""

    lo: int
    end: int | None = None
    after: str | None = None
    high: int | None = None
    done: bool = False
    walking: bool = False

    def start_after(self, by_id: bool = True) -> str | None:
        """The ``after`` of this segment's next list request (``by_id`` False: never one made from ``lo``;
        None, the start of the list, then)."""
        if self.after is not None:
            return self.after
        return str(self.lo - 1) if self.lo > 1 and by_id else None

    def next_id(self) -> int:
        """The lowest id the segment does not hold yet."""
        return self.lo if self.high is None else max(self.lo, self.high + 1)

    def as_json(self) -> dict[str, Any]:
        return {"lo": self.lo, "end": self.end, "after": self.after, "high": self.high, "done": self.done}


@dataclass(slots=True)
class View:
    """What is held (fetched or yielded): the segments not done, in id order (the last has no end, and is
    kept even when done), and the search's ``below`` (None: nothing yet); ``search_end``: it reached the
    bottom; ``by_id``: the list's ``after`` is taken for an object id (False once it showed it is not)."""

    segments: list[Segment] = field(default_factory=lambda: [Segment(0)])
    below: int | None = None
    search_end: bool = False
    by_id: bool = True

    @property
    def last(self) -> Segment:
        return self.segments[-1]

    def find(self, lo: int) -> Segment | None:
        """The segment starting at ``lo`` (None: it is done and gone)."""
        return next((s for s in self.segments if s.lo == lo), None)

    def take_list(self, lo: int, records: list[CrmRecord], after: str | None) -> list[CrmRecord]:
        """Records of a list page of the segment at ``lo`` that it did not hold, and hold them."""
        segment = self.find(lo)
        if segment is None or segment.done:
            return []
        top = segment.end if segment.end is not None else self.below
        first = segment.next_id()
        kept = [r for r in records if first <= object_id(r) and (top is None or object_id(r) < top)]
        if kept:
            segment.high = max(object_id(r) for r in kept)
        segment.after = after
        reached = top is not None and (
            any(object_id(r) >= top for r in records) or segment.next_id() >= top
            or (self.by_id and after is not None and after.isdigit() and int(after) >= top))
        if after is None or reached:
            self._finish(segment)
        return kept

    def take_search(self, records: list[CrmRecord], *, end: bool) -> list[CrmRecord]:
        """Records of a search page (downwards) the pull did not hold, and hold them."""
        last = self.last
        if last.done or self.search_end:
            return []
        floor = last.next_id()
        kept = [r for r in records if object_id(r) >= floor and (self.below is None or object_id(r) < self.below)]
        ids = [object_id(r) for r in records]
        if ids:
            self.below = max(floor, min(ids)) if self.below is None else max(floor, min(self.below, min(ids)))
        if end:
            self.search_end = True
        if end or (self.below is not None and self.below <= floor):
            self._finish(last)
        return kept

    def done(self) -> bool:
        return all(s.done for s in self.segments)

    def split(self) -> Segment | None:
        """A new segment cut from the one with the most ids left per walker (None: none is worth it)."""
        best: tuple[float, int] | None = None
        for index, segment in enumerate(self.segments):
            top = segment.end if segment.end is not None else self.below
            if segment.done or top is None or not segment.walking:
                continue
            left = top - segment.next_id()
            share = left / 2 if segment.end is None else left
            if left >= SPLIT_MIN_IDS and (best is None or share > best[0]):
                best = (share, index)
        if best is None:
            return None
        segment = self.segments[best[1]]
        top = segment.end if segment.end is not None else self.below
        assert top is not None
        cut = segment.next_id() + (top - segment.next_id()) // (3 if segment.end is None else 2)
        fresh = Segment(cut, segment.end)
        segment.end = cut
        self.segments.insert(best[1] + 1, fresh)
        return fresh

    def cut_at(self, cut: int) -> None:
        """Make the cut a split on the other view made (at ``cut``, in the segment holding it)."""
        for index, segment in enumerate(self.segments):
            if segment.lo < cut and (segment.end is None or cut < segment.end):
                self.segments.insert(index + 1, Segment(cut, segment.end))
                segment.end = cut
                return

    def merge_down(self, lo: int) -> bool:
        """Give the ids of the segment at ``lo`` (it must hold none) to the segment just below it, when that one
        is not done (its chain walks on up to the end of both); False when there is no such segment."""
        index = next((i for i, s in enumerate(self.segments) if s.lo == lo), 0)
        if index == 0 or self.segments[index].done:
            return False
        below, segment = self.segments[index - 1], self.segments[index]
        if below.end != lo or below.done:
            return False
        below.end = segment.end
        del self.segments[index]
        return True

    def _finish(self, segment: Segment) -> None:
        segment.done = True
        if segment is not self.last:
            self.segments.remove(segment)


@dataclass(slots=True)
class SplitCheckpoint:
    """What a split pull has yielded: ``view`` (its segments and ``below``); ``started``: the wall clock
    (epoch ms) when the pull started; ``newest``: the newest modified time yielded."""

    started: int
    newest: int | None = None
    view: View = field(default_factory=View)

    @classmethod
    def from_cursor(cls, cursor: Mapping[str, Any]) -> SplitCheckpoint | None:
        """The checkpoint a ``"split"`` cursor saved (this module's, or the two-walker one before it: one
        segment, ``after``/``list_high``); None when it is not one of those."""
        started, newest, below = cursor.get("started_at_ms"), cursor.get("newest_ms"), cursor.get("below")
        if not _int(started) or not (newest is None or _int(newest)) or not (below is None or _int(below)):
            return None
        raw = cursor.get("segments")
        if raw is None:  # the two-walker cursor
            after, high = cursor.get("after"), cursor.get("list_high")
            if not (after is None or isinstance(after, str)) or not (high is None or _int(high)):
                return None
            if high is not None and after is None:
                return None  # the list yielded its last page: that pull was done
            raw = [{"lo": 0, "end": None, "after": after, "high": high}]
        segments = [_segment(s) for s in raw] if isinstance(raw, list) and raw else [None]
        if any(s is None for s in segments):
            return None
        held = [s for s in segments if s is not None]
        if held[-1].end is not None or any(s.end is None for s in held[:-1]):
            return None
        assert isinstance(started, int)
        return cls(started, newest if isinstance(newest, int) else None,
                   View(held, below if isinstance(below, int) else None, by_id=cursor.get("after_is_id") is not False))

    def cursor(self) -> dict[str, Any]:
        """The ``"split"`` cursor to save."""
        return {"mode": "split", "started_at_ms": self.started, "newest_ms": self.newest, "below": self.view.below,
                "segments": [s.as_json() for s in self.view.segments], "after_is_id": self.view.by_id}

    def note(self, records: list[CrmRecord]) -> None:
        """Keep the newest modified time of ``records`` (yielded)."""
        for record in records:
            if self.newest is None or record.updated_at_ms > self.newest:
                self.newest = record.updated_at_ms


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _segment(raw: object) -> Segment | None:
    if not isinstance(raw, dict):
        return None
    lo, end, after, high = raw.get("lo"), raw.get("end"), raw.get("after"), raw.get("high")
    if not _int(lo) or not all(v is None or _int(v) for v in (end, high)):
        return None
    if not (after is None or isinstance(after, str)):
        return None
    assert isinstance(lo, int)
    return Segment(lo, end if isinstance(end, int) else None, after, high if isinstance(high, int) else None,
                   raw.get("done") is True)
