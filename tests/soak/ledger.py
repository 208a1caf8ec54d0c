"""What the soak wrote, and what must hold at its end.

Every write the soak makes to a mapped field is recorded by the contact's email (emails are never edited, so
they name one contact on both sides): which side, which value, when, and in which *sync gap*. A gap ends when a
sync the soak asked for finishes ``ok`` with no failed record (it saw every earlier write on both sides).

The expected final value of a field follows architecture.md's merge rules: the writes of the field's last gap
decide. Written on one side only: that side's last value. Written on both (a conflict): the field's policy:
``crm_wins`` / ``local_wins`` the last value of that side; ``newest_wins`` the later write, or either value when
the two last writes are within the mapping's ``skew_ms`` (plus ``CLOCK_MARGIN_S``) of each other: the agent
leaves such a conflict undecided and the soak resolves it at the end as a person would. A contact the agent
pushed on its own in that gap (to-do, score threshold) may end with either side's last value: the push settled
the local write, so a later CRM write is no conflict. A field whose conflict the agent left undecided ends with
the value a person picked (the soak, at random): any value written to it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from leadsync.agent.connectors.registry import DEFAULT_MAPPINGS

SideName = Literal["local", "crm"]
CLOCK_MARGIN_S = 1.0
"""Added to a mapping's ``skew_ms`` (within which ``newest_wins`` leaves a conflict undecided, for a person)."""


@dataclass(frozen=True)
class Write:
    """One write of one field: ``gap`` index, ``side``, the value as text (None: cleared), wall time (s)."""

    gap: int
    side: SideName
    value: str | None
    at: float


def text(value: Any) -> str | None:
    """A field value as comparable text: None for blank, ints for whole floats (a score of 40.0 is 40)."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass
class Ledger:
    """The writes made so far, by email then field (see the module docstring)."""

    crm: str
    gap: int = 0
    writes: dict[str, dict[str, list[Write]]] = field(default_factory=dict)
    pushes: set[tuple[str, int]] = field(default_factory=set)
    """(email, gap) of contacts the agent pushed on its own (a to-do, a score at the threshold) in that gap."""
    person_decided: set[tuple[str, str]] = field(default_factory=set)
    """(email, field) of conflicts the agent left undecided (``winner: none``) and the soak resolved."""

    def record(self, side: SideName, email: str, values: dict[str, Any]) -> None:
        fields = self.writes.setdefault(email.strip().lower(), {})
        now = time.time()
        for name, value in values.items():
            fields.setdefault(name, []).append(Write(self.gap, side, text(value), now))

    def pushed(self, email: str) -> None:
        """The agent may push this contact now, on its own: that settles its local writes so far."""
        self.pushes.add((email.strip().lower(), self.gap))

    def synced(self) -> None:
        """A sync asked for by the soak finished ok with nothing failed: every earlier write is settled."""
        self.gap += 1

    def expected(self, email: str, name: str) -> set[str | None] | None:
        """The values the field may end with (one, or two for a near tie); None if the soak never wrote it."""
        writes = self.writes.get(email, {}).get(name)
        if not writes:
            return None
        if (email, name) in self.person_decided:  # a person's pick, possibly of an older value of either side
            return {w.value for w in writes}
        last_gap = [w for w in writes if w.gap == writes[-1].gap]
        local = [w for w in last_gap if w.side == "local"]
        crm = [w for w in last_gap if w.side == "crm"]
        if not local or not crm:
            return {last_gap[-1].value}
        if (email, writes[-1].gap) in self.pushes:  # a push between the writes may have settled the local one
            return {local[-1].value, crm[-1].value}
        mapping = next(m for m in DEFAULT_MAPPINGS[self.crm] if m.local == name)
        if mapping.policy == "crm_wins":
            return {crm[-1].value}
        if mapping.policy == "local_wins":
            return {local[-1].value}
        if abs(local[-1].at - crm[-1].at) <= mapping.skew_ms / 1000 + CLOCK_MARGIN_S:
            return {local[-1].value, crm[-1].value}
        return {max(local[-1], crm[-1], key=lambda w: w.at).value}


def duplicates(emails: Iterable[str | None]) -> dict[str, int]:
    """Emails (trimmed, case-insensitive) held more than once, with their counts."""
    counts = Counter((e or "").strip().lower() for e in emails if e)
    return {e: n for e, n in counts.items() if n > 1}


@dataclass
class Verdict:
    """The invariants at the end of a soak: each name -> a list of what broke it (empty: it held)."""

    broken: dict[str, list[str]] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)

    def check(self, name: str, problems: list[str]) -> None:
        self.broken[name] = problems

    @property
    def ok(self) -> bool:
        return not any(self.broken.values())
