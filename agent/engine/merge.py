"""The three-way merge of one field: local value, CRM value, and the base (last synced) value.

- changed in the CRM only -> the local value takes the CRM's;
- changed locally only -> nothing here (the push sends it);
- changed on both sides to the same value -> the base catches up;
- changed on both sides to different values -> a conflict, decided by the mapping's policy and
  recorded with both values so a person can restore the loser.
A blank (None) is a value like any other: clearing is a change (cases S01, B19).

The lifecycle stage never goes backwards by accident (:func:`hold_demotion`): a CRM value that would set
the local stage back (a customer to lead) is not applied, whatever the policy; it is recorded as an
undecided conflict (policy ``no_demotion``) with both values, so a person sees it and decides.
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


def hold_demotion(field: str, decision: FieldDecision, local: Any) -> FieldDecision:
    """``decision`` unless it would move the lifecycle stage backwards (``field`` is the stage and the CRM's
    stage ranks below ``local``, :func:`leadsync.agent.lifecycle.is_demotion`).

    Then neither side is written and the base stays: an undecided conflict (policy ``no_demotion``) that
    waits for a person. That is what a RevOps team expects from a marketing system: a CRM value that sets a
    customer back to lead (a sales rep's edit, a lossy value map, a new mapping) is shown, never applied
    silently; resolving it with ``crm`` takes the earlier stage, with ``local`` pushes the later one. The
    local stage is not pushed back over the CRM's meanwhile (the push skips undecided fields)."""
    if field != lifecycle.FIELD or decision.local is KEEP or not lifecycle.is_demotion(local, decision.local):
        return decision
    return FieldDecision(winner="none", policy="no_demotion")
