"""What every CRM's incremental pull shares (architecture invariant 5: never skip a record).

- The checkpoint rule: a pull that started at ``T`` (its upper bound, the wall clock) and has yielded every
  record modified up to ``t`` saves ``max(S, min(t, T) - overlap)``, ``S`` being the cursor it started
  from. The next pull thus starts a little before the newest time applied: the overlap (5 minutes by
  default) covers clock skew between leadsync and the CRM, writes committed late and search-index lag;
  records seen again inside it are harmless (the engine ignores values equal to its base).
- The cursor most CRMs save: ``{"since_ms": S}`` (:class:`SinceCursor`), epoch ms UTC.
- The order check: a CRM asked for records by modified time (or id) that answers out of that order would
  make a checkpoint skip records, so the pull fails instead (:func:`first_descent`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, overload

import msgspec

from leadsync.common.errors import ValidationError

DEFAULT_OVERLAP_MS: Final = 5 * 60 * 1000
"""How far before the newest time applied the next pull starts, by default (5 minutes)."""


class SinceCursor(msgspec.Struct, forbid_unknown_fields=True):
    """The saved cursor ``{"since_ms": S}``: the next pull asks for records modified at or after ``S`` (epoch
    ms UTC)."""

    since_ms: int


def since_of(cursor: Mapping[str, Any] | None, crm: str) -> int | None:
    """The ``since_ms`` of a :class:`SinceCursor` (None: a full pull is due). Raises ValidationError naming
    ``crm`` (the CRM's display name) for any other cursor."""
    if cursor is None:
        return None
    try:
        return msgspec.convert(cursor, SinceCursor, strict=True).since_ms
    except (msgspec.ValidationError, TypeError):
        raise ValidationError(f"not a {crm} pull cursor: {cursor!r}") from None


@overload
def checkpoint_ms(since: int, reached: int | None, upper: int, overlap_ms: int) -> int: ...
@overload
def checkpoint_ms(since: int | None, reached: int, upper: int, overlap_ms: int) -> int: ...
@overload
def checkpoint_ms(since: int | None, reached: int | None, upper: int, overlap_ms: int) -> int | None: ...
def checkpoint_ms(since: int | None, reached: int | None, upper: int, overlap_ms: int) -> int | None:
    """Where the next pull starts (epoch ms UTC): ``overlap_ms`` before ``min(reached, upper)``, never before
    ``since`` (the cursor this pull started from; None: a full pull). ``reached`` is the newest modified time
    yielded so far (pass ``upper`` once a window is read to its end); None: nothing yet, so ``since`` stays."""
    if reached is None:
        return since
    mark = min(reached, upper) - overlap_ms
    return mark if since is None else max(since, mark)


def since_checkpoint(since: int | None, reached: int | None, upper: int, overlap_ms: int) -> dict[str, Any] | None:
    """The :class:`SinceCursor` at :func:`checkpoint_ms`, as saved (a dict); None while there is none."""
    mark = checkpoint_ms(since, reached, upper, overlap_ms)
    return None if mark is None else {"since_ms": mark}


def first_descent(keys: Sequence[int], after: int | None = None, *, strict: bool = False) -> int | None:
    """The index of the first of ``keys`` that goes back (below the key before it, or below ``after`` for the
    first one; ``strict``: not above it), or None when ``keys`` are in order."""
    previous = after
    for index, key in enumerate(keys):
        if previous is not None and (key <= previous if strict else key < previous):
            return index
        previous = key
    return None
