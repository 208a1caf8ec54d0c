"""A ContactFilter (owner, lifecycle stage, minimum lead score, creator, text, sync state) as SQL conditions
on ``contacts c``: what listing, smart lists and visibility select contacts by (the text ``q``: name,
email, company or phone fragment, see :mod:`.contact_search`)."""

from __future__ import annotations

from typing import Any

from leadsync.agent.store.queries.contact_search import matching_ids, search_text
from leadsync.common.answers import ContactFilter
from leadsync.common.emails import normalize_email
from leadsync.common.errors import ValidationError

MAX_QUERY_CHARS = 200
"""The longest text a filter's ``q`` may search for."""

SYNC_STATES = {
    "local": "c.crm_state = 'none'",
    "pending": "c.crm_state != 'none' AND c.local_rev > c.synced_rev",
    "synced": "c.crm_state != 'none' AND c.local_rev <= c.synced_rev",
    "error": "EXISTS (SELECT 1 FROM sync_errors e WHERE e.contact_id = c.id AND e.resolved_at IS NULL)",
    "archived": "c.crm_state = 'archived'",
}
"""The condition (on ``contacts c``) of each sync state a filter can ask for."""


def filter_sql(flt: ContactFilter, *, text_search: bool = True) -> tuple[list[str], list[Any]]:
    """SQL conditions (on ``contacts c``, to join with AND) and their params for a filter; raises
    ValidationError (``q`` over :data:`MAX_QUERY_CHARS`, an unknown sync state). ``text_search`` False:
    ``q`` is checked but left out (the caller reads the page through the search table instead, see
    :mod:`.contact_search`)."""
    where: list[str] = []
    params: list[Any] = []
    if flt.owner is not None:
        if "@" in flt.owner:
            where.append("c.owner_id = (SELECT crm_id FROM owners WHERE email_norm = ? LIMIT 1)")
            params.append(normalize_email(flt.owner))
        else:
            where.append("c.owner_id = ?")
            params.append(flt.owner)
    if flt.lifecycle_stage is not None:
        where.append("c.lifecycle_stage = ?")
        params.append(flt.lifecycle_stage)
    if flt.min_score is not None:
        where.append("c.lead_score >= ?")
        params.append(flt.min_score)
    if flt.created_by is not None:
        where.append("c.created_by = ?")
        params.append(flt.created_by)
    if flt.q:
        if len(flt.q.strip()) > MAX_QUERY_CHARS:
            raise ValidationError(f"q: at most {MAX_QUERY_CHARS} characters")
        if text_search:
            condition, values = matching_ids(search_text(flt.q))
            where.append(condition)
            params += values
    if flt.sync_state is not None:
        if flt.sync_state not in SYNC_STATES:
            raise ValidationError(f"sync_state: one of {', '.join(SYNC_STATES)}")
        where.append(SYNC_STATES[flt.sync_state])
    return where, params
