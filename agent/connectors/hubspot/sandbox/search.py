"""``POST /crm/v3/objects/contacts/search``: request validation and evaluation.

Follows HubSpot's "CRM search" guide (filters: see ``search_filters``):

- ``filterGroups`` are OR-ed, filters within a group AND-ed; at most 5 groups, 6 filters per
  group, 18 in total (else 400 ``VALIDATION_ERROR``).
- One sort (``[{propertyName, direction}]`` or ``["prop"]`` / ``["-prop"]``); default order is
  creation order (id ascending). Within equal values, id ascending (reversed for DESCENDING).
- ``limit`` 1..200 (default 10); ``after`` is an integer offset; a page reaching past the
  10,000th result (``after + limit > 10000``) is refused with 400; the request body may not
  exceed 3,000 characters; ``query`` searches firstname, lastname, email, phone, company, fax.
- Archived (and merged-away) contacts never appear; fresh writes appear after the index lag.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Any

from .errors import HubSpotError, bad_request
from .properties import PropertyDef
from .records import Contact
from .search_filters import Group, compile_group, extractor
from .state import ID_MASK, KEY_SHIFT, SandboxState

MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
MAX_LIMIT = 200
DEFAULT_LIMIT = 10
RESULT_CAP = 10_000
MAX_BODY_CHARS = 3_000
QUERY_PROPERTIES = ("firstname", "lastname", "email", "phone", "company", "fax", "hs_additional_emails")


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed search request: ``groups`` are OR-ed (none = everything); ``sort`` is
    ``(property, descending)`` or ``None`` (creation order = id ascending)."""

    groups: list[Group]
    sort: tuple[PropertyDef, bool] | None
    properties: list[str] | None
    limit: int
    after: int
    query: str | None


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One answer page: ``total`` matches, this page's contacts, the next ``after`` or ``None``."""

    total: int
    contacts: list[Contact]
    next_after: int | None


def _parse_sort(raw: Any, defs: Mapping[str, PropertyDef]) -> tuple[PropertyDef, bool] | None:
    if raw is None or raw == []:
        return None
    if not isinstance(raw, list):
        raise bad_request("'sorts' must be a list.")
    if len(raw) > 1:
        raise bad_request("Only one sort is supported.")
    item = raw[0]
    if isinstance(item, str):
        descending = item.startswith("-")
        name = item.lstrip("-+")
    elif isinstance(item, dict):
        name = str(item.get("propertyName", ""))
        direction = str(item.get("direction", "ASCENDING")).upper()
        if direction not in ("ASCENDING", "DESCENDING"):
            raise bad_request(f"Unknown sort direction '{direction}'.")
        descending = direction == "DESCENDING"
    else:
        raise bad_request("Each sort must be a property name or {propertyName, direction}.")
    definition = defs.get(name)
    if definition is None:
        raise bad_request(f"Unable to sort by unknown property '{name}'.")
    return definition, descending


def parse_search(body: Any, raw_text: str, defs: Mapping[str, PropertyDef]) -> SearchQuery:
    """Validate a search request body; raises ``HubSpotError`` (400) like HubSpot does."""
    if len(raw_text) > MAX_BODY_CHARS:
        raise bad_request(f"The request body exceeds the maximum of {MAX_BODY_CHARS} characters.")
    if not isinstance(body, dict):
        raise bad_request("Invalid input JSON: expected an object.")
    raw_groups = body.get("filterGroups")
    if raw_groups is None and isinstance(body.get("filters"), list):
        raw_groups = [{"filters": body["filters"]}]
    raw_groups = raw_groups or []
    if not isinstance(raw_groups, list):
        raise bad_request("'filterGroups' must be a list.")
    if len(raw_groups) > MAX_GROUPS:
        raise bad_request(f"Too many filter groups: {len(raw_groups)} (maximum {MAX_GROUPS}).")
    total_filters = 0
    groups: list[Group] = []
    for raw_group in raw_groups:
        filters = raw_group.get("filters") if isinstance(raw_group, dict) else None
        if not isinstance(filters, list):
            raise bad_request("Each filter group needs a 'filters' list.")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise bad_request(f"Too many filters in a group: {len(filters)} (maximum {MAX_FILTERS_PER_GROUP}).")
        total_filters += len(filters)
        groups.append(compile_group(filters, defs))
    if total_filters > MAX_FILTERS:
        raise bad_request(f"Too many filters: {total_filters} (maximum {MAX_FILTERS}).")
    limit = body.get("limit", DEFAULT_LIMIT)
    if limit is None:
        limit = DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int | str) or not str(limit).isdigit():
        raise bad_request(f"'limit' must be an integer, got {limit!r}.")
    limit = int(limit)
    if limit < 1 or limit > MAX_LIMIT:
        raise bad_request(f"'limit' must be between 1 and {MAX_LIMIT}, got {limit}.")
    after_raw = body.get("after")
    after = 0
    if after_raw not in (None, ""):
        if isinstance(after_raw, bool) or not str(after_raw).isdigit():
            raise bad_request(f"'after' must be an integer, got {after_raw!r}.")
        after = int(str(after_raw))
    if after + limit > RESULT_CAP:
        raise HubSpotError(
            400,
            "VALIDATION_ERROR",
            f"Search results are limited to {RESULT_CAP} per query; after={after} with limit={limit} "
            f"would page past result {RESULT_CAP}. Narrow the query instead.",
            context={"after": [str(after)], "limit": [str(limit)]},
        )
    properties = body.get("properties")
    if properties is not None and not (isinstance(properties, list) and all(isinstance(p, str) for p in properties)):
        raise bad_request("'properties' must be a list of property names.")
    query = body.get("query")
    return SearchQuery(
        groups=groups,
        sort=_parse_sort(body.get("sorts"), defs),
        properties=list(properties) if properties else None,
        limit=limit,
        after=after,
        query=str(query).strip().lower() if query else None,
    )


def _matches_query(contact: Contact, query: str) -> bool:
    for name in QUERY_PROPERTIES:
        value = contact.get(name)
        if value and query in value.lower():
            return True
    return False


def _spans(index: Any, groups: list[Group]) -> list[tuple[int, int]]:
    """Disjoint, ascending index position ranges covering every group's ``lastmodifieddate``
    bounds (the whole index when a group is unbounded)."""
    if not groups:
        return [(0, len(index))]
    spans: list[tuple[int, int]] = []
    for group in groups:
        lo = 0 if group.low is None else index.bisect_left(group.low << KEY_SHIFT)
        hi = len(index) if group.high is None else index.bisect_right((group.high << KEY_SHIFT) | ID_MASK)
        spans.append((lo, max(lo, hi)))
    spans.sort()
    merged = [spans[0]]
    for lo, hi in spans[1:]:
        last_lo, last_hi = merged[-1]
        if lo <= last_hi:
            merged[-1] = (last_lo, max(last_hi, hi))
        else:
            merged.append((lo, hi))
    return merged


def _pinned_keys(state: SandboxState, index: Any, group: Group) -> set[int]:
    """Index keys of the records a group's email/id EQ/IN filters can match."""
    ids: set[int] = set(group.ids or [])
    for email in group.emails or []:
        contact = state.contact_by_email(email)
        if contact is not None:
            ids.add(contact.id)
    keys: set[int] = set()
    for contact_id in ids:
        if state.contact(contact_id) is None:
            continue
        key = (state.search_view(contact_id).updated_ms << KEY_SHIFT) | contact_id
        if key in index:
            keys.add(key)
    return keys


def run_search(state: SandboxState, q: SearchQuery) -> SearchPage:
    """Evaluate ``q`` against the search index (caller holds ``state.lock``).

    A ``lastmodifieddate`` range sorted by ``lastmodifieddate`` is a bisect and a slice; other
    filters on ``lastmodifieddate``/``hs_object_id`` are checked on index keys; email/id EQ/IN
    filters look the records up directly; anything else scans the (narrowed) index.
    """
    index = state.search_index()
    spans = _spans(index, q.groups)
    by_modified = q.sort is not None and q.sort[0].name == "lastmodifieddate"
    descending = q.sort is not None and q.sort[1]
    single = q.groups[0] if len(q.groups) == 1 else None
    if by_modified and single is not None and single.range_only and q.query is None:
        return _range_page(state, q, index, spans, descending)
    accept, view = _matcher(state, q)
    candidates = _candidates(state, index, q.groups, spans, reverse=by_modified and descending)
    if by_modified:
        return _page_in_index_order(state, q, candidates, accept)
    return _sorted_page(state, q, [key for key in candidates if accept(key)], view)


def _range_page(
    state: SandboxState, q: SearchQuery, index: Any, spans: list[tuple[int, int]], descending: bool
) -> SearchPage:
    """A single ``lastmodifieddate`` range in that order: the page is a slice of the index."""
    start, end = spans[0] if len(spans) == 1 else (0, 0)
    total = end - start
    count = max(0, min(q.limit, total - q.after))
    if descending:
        keys = [index[end - 1 - q.after - n] for n in range(count)]
    else:
        keys = list(index.islice(start + q.after, start + q.after + count))
    return _page(state, q, total, keys)


def _matcher(state: SandboxState, q: SearchQuery) -> tuple[Callable[[int], bool], Callable[[int], Contact]]:
    """``(accept, view)``: whether an index key matches ``q``, and the key's record (each read once)."""
    groups = q.groups
    cache: dict[int, Contact] = {}

    def view(key: int) -> Contact:
        contact = cache.get(key)
        if contact is None:
            contact = cache[key] = state.search_view(key & ID_MASK)
        return contact

    single = groups[0] if len(groups) == 1 else None
    if single is not None and not single.contact_checks and q.query is None:
        key_checks = single.key_checks

        def accept_keys(key: int) -> bool:  # the span already enforces the group's time bounds
            for check in key_checks:
                if not check(key):
                    return False
            return True

        return accept_keys, view

    def group_accepts(group: Group, key: int) -> bool:
        ms = key >> KEY_SHIFT
        if (group.low is not None and ms < group.low) or (group.high is not None and ms > group.high):
            return False
        if not all(check(key) for check in group.key_checks):
            return False
        return not group.contact_checks or all(check(view(key)) for check in group.contact_checks)

    def accept(key: int) -> bool:
        if groups and not any(group_accepts(group, key) for group in groups):
            return False
        return q.query is None or _matches_query(view(key), q.query)

    return accept, view


def _candidates(
    state: SandboxState, index: Any, groups: list[Group], spans: list[tuple[int, int]], *, reverse: bool
) -> Iterable[int]:
    """The index keys worth checking: the pinned records when every group pins emails or ids (sorted),
    else the spans' keys in index order (``reverse``: newest first)."""
    if groups and all(g.emails is not None or g.ids is not None for g in groups):
        pinned: set[int] = set()
        for group in groups:
            pinned |= _pinned_keys(state, index, group)
        return sorted(pinned, reverse=reverse)
    ordered = reversed(spans) if reverse else spans
    return chain.from_iterable(index.islice(lo, hi, reverse=reverse) for lo, hi in ordered)


def _page_in_index_order(
    state: SandboxState, q: SearchQuery, candidates: Iterable[int], accept: Callable[[int], bool]
) -> SearchPage:
    """Sorted by ``lastmodifieddate``: the candidates are in order already; count every match, keep the page."""
    total = 0
    keys = []
    for key in candidates:
        if accept(key):
            if q.after <= total < q.after + q.limit:
                keys.append(key)
            total += 1
    return _page(state, q, total, keys)


def _sorted_page(
    state: SandboxState, q: SearchQuery, matched: list[int], view: Callable[[int], Contact]
) -> SearchPage:
    """Sorted by id (the default) or another property: records without a value last, ties by id."""
    if q.sort is None or q.sort[0].name == "hs_object_id":
        matched.sort(key=lambda k: k & ID_MASK, reverse=bool(q.sort and q.sort[1]))
    else:
        extract = extractor(q.sort[0])
        present = [k for k in matched if extract(view(k)) is not None]
        missing = [k for k in matched if extract(view(k)) is None]
        present.sort(key=lambda k: (extract(view(k)), k & ID_MASK), reverse=q.sort[1])
        missing.sort(key=lambda k: k & ID_MASK)
        matched = present + missing
    return _page(state, q, len(matched), matched[q.after : q.after + q.limit])


def _page(state: SandboxState, q: SearchQuery, total: int, keys: list[int]) -> SearchPage:
    contacts = [state.search_view(key & ID_MASK) for key in keys]
    next_after = q.after + q.limit if q.after + q.limit < total else None
    return SearchPage(total, contacts, next_after)
