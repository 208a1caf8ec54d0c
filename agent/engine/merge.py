"""The three-way merge of one field: local value, CRM value, and the base (last synced) value.

- changed in the CRM only -> the local value takes the CRM's;
- changed locally only -> nothing here (the push sends it);
- changed on both sides to the same value -> the base catches up;
- changed on both sides to different values -> a conflict, decided by the mapping's policy and
  recorded with both values so a person can restore the loser.
A blank (None) is a value like any other: clearing is a change (cases S01, B19).

The lifecycle stage never goes backwards by accident (:func:`hold_demotion`): a CRM value that would set
the local stage back (a customer to lead) is not applied, whatever the policy; it is recorded as a
conflict (policy ``no_demotion``) with both values, so a person sees it and can restore it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leadsync.agent import lifecycle
from leadsync.common.answers import FieldMapping

KEEP: Any = object()  # "leave as it is"


@dataclass(frozen=True)
class FieldDecision:
    """What to do with one field. ``local``/``base`` are new values or :data:`KEEP`; ``winner`` is
    set (crm, local or none) when the field was in conflict; ``policy`` names the rule that decided it
    when not the mapping's policy (``no_demotion``)."""

    local: Any = KEEP
    base: Any = KEEP
    winner: str | None = None
    policy: str | None = None

    @property
    def conflict(self) -> bool:
        return self.winner is not None


def merge_field(mapping: FieldMapping, base: Any, local: Any, crm: Any,
                local_changed_at: int | None, crm_changed_at: int, base_at: int | None = None) -> FieldDecision:
    """Decide one field of a pulled record (times: epoch ms UTC; ``local_changed_at`` None when the
    local value was never edited locally; ``base_at`` when the base was last synced). A local value equal
    to the base is unchanged unless it was edited after the base was synced (changed, then changed back):
    then it is a change like any other and meets the CRM's as a conflict."""
    if crm == base:
        return FieldDecision()
    edited_back = local_changed_at is not None and base_at is not None and local_changed_at > base_at
    if local == base and not edited_back:
        return FieldDecision(local=crm, base=crm)
    if local == crm:
        return FieldDecision(base=crm)
    winner = decide(mapping, crm, local_changed_at, crm_changed_at)
    if winner == "crm":
        return FieldDecision(local=crm, base=crm, winner="crm")
    if winner == "local":
        return FieldDecision(base=crm, winner="local")  # local stays ahead of the base: the push sends it
    return FieldDecision(winner="none")  # undecided: nothing is written either way


def decide(mapping: FieldMapping, crm: Any, local_changed_at: int | None, crm_changed_at: int) -> str:
    """The winner of a conflict by the mapping's policy: ``crm``, ``local`` or ``none`` (undecided)."""
    if mapping.policy == "crm_wins":
        return "crm"
    if mapping.policy == "local_wins":
        return "local"
    if mapping.policy == "crm_unless_blank":
        return "local" if crm is None else "crm"
    if local_changed_at is None:
        return "crm"
    gap = local_changed_at - crm_changed_at
    if abs(gap) <= mapping.skew_ms:
        return "none"
    return "local" if gap > 0 else "crm"


def first_link(crm: Any, local: Any) -> FieldDecision:
    """A local contact linked to a CRM record for the first time (matched by email): the CRM wins
    unless blank; a local-only value stays to be pushed; a different local value loses and is
    recorded as a conflict (restorable)."""
    if crm is None:
        return FieldDecision(base=None)
    if local is None or local == crm:
        return FieldDecision(local=crm, base=crm)
    return FieldDecision(local=crm, base=crm, winner="crm")


def hold_demotion(field: str, decision: FieldDecision, local: Any, *, link: bool = False) -> FieldDecision:
    """``decision`` unless it would move the lifecycle stage backwards (``field`` is the stage and the CRM's
    stage ranks below ``local``, :func:`leadsync.agent.lifecycle.is_demotion`). Then, a conflict with
    policy ``no_demotion`` and both values, never a silent demotion; which one depends on the merge:

    - a linked record whose stage was set back in the CRM (a sales rep's edit, a lossy value map, a new
      mapping): neither side is written and the base stays, an undecided conflict that waits for a person
      (``conflicts.resolve``: ``crm`` takes the earlier stage, ``local`` pushes the later one); the local
      stage is not pushed back over the CRM's meanwhile (the push skips undecided fields);
    - a first link (``link``: the same person on both sides, met by email): the later stage wins on both
      sides, as HubSpot's own merge of two contacts keeps the stage furthest down the funnel; the local
      stage is pushed (a forward move in the CRM) and the CRM's is kept in the conflict, restorable.
    """
    if field != lifecycle.FIELD or decision.local is KEEP or not lifecycle.is_demotion(local, decision.local):
        return decision
    if link:
        return FieldDecision(base=decision.local, winner="local", policy="no_demotion")
    return FieldDecision(winner="none", policy="no_demotion")
