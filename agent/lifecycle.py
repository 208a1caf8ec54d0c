"""Lifecycle stages and the rule that a stage never goes backwards by accident.

The order is HubSpot's default lifecycle stages (HubSpot "Use lifecycle stages"; the ``lifecyclestage``
property's options): subscriber < lead < marketingqualifiedlead < salesqualifiedlead < opportunity <
customer < evangelist. ``other`` and any value outside the list (a CRM's own status that no value map
names) are outside the order: moving to or from them is never a demotion, and neither is clearing the
stage (``None``) or setting one where there was none. HubSpot's own API works the same way: a stage only
moves forward unless it is cleared first.

Where the rule holds: ``contacts.mark_lead`` and ``contacts.update`` refuse a demotion unless ``force``;
an import leaves the stage as it is and warns for that line; a pull that would demote is held as a
conflict (:func:`leadsync.agent.engine.merge.hold_demotion`: undecided for a linked record, the later
stage for a first link); a deliberate (forced) demotion is pushed to HubSpot as a clear, then the set.
"""

from __future__ import annotations

from typing import Any, Final

from leadsync.common.errors import ValidationError

FIELD: Final = "lifecycle_stage"
"""The local field that holds the stage."""

ORDER: Final = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer",
                "evangelist")
"""The stages in order, earliest first."""

STAGES: Final = (*ORDER, "other")
"""Every stage leadsync knows (``other`` is outside the order)."""

_RANK: Final = {stage: n for n, stage in enumerate(ORDER)}


def rank(stage: Any) -> int | None:
    """The stage's place in :data:`ORDER` (0 = subscriber); None for ``other``, None and unknown values."""
    return _RANK.get(stage) if isinstance(stage, str) else None


def is_demotion(current: Any, new: Any) -> bool:
    """Whether setting the stage ``current`` to ``new`` moves it backwards (both in the order, ``new`` earlier)."""
    before, after = rank(current), rank(new)
    return before is not None and after is not None and after < before


class StageDemotionError(ValidationError):
    """A change that would move a contact's lifecycle stage backwards, refused; ``data`` names the
    contact's current stage (``{"lifecycle_stage": ...}``)."""


def check_stage_change(current: Any, new: Any, *, force: bool) -> None:
    """Refuse moving the stage from ``current`` to ``new`` backwards unless ``force``.

    Raises :class:`StageDemotionError` (a ValidationError) with the current stage in the message."""
    if force or not is_demotion(current, new):
        return
    raise StageDemotionError(
        f"lifecycle_stage: the contact is already {current}, past {new}; a lifecycle stage only moves forward "
        f"(give force: true to set it back to {new})", data={FIELD: current})
