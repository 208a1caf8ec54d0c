"""The checkpoint rule, the saved cursor and the order check every CRM's incremental pull shares."""

import pytest

from leadsync.agent.connectors.incremental import checkpoint_ms, first_descent, since_checkpoint, since_of
from leadsync.common.errors import ValidationError

T = 1_710_000_000_000  # when the pull started
OVERLAP = 300_000


def test_the_next_pull_starts_an_overlap_before_the_newest_time_applied() -> None:
    assert checkpoint_ms(T - 3_600_000, T - 60_000, T, OVERLAP) == T - 60_000 - OVERLAP


def test_a_record_stamped_after_the_pull_started_never_moves_the_cursor_past_the_start() -> None:
    assert checkpoint_ms(None, T + 3_600_000, T, OVERLAP) == T - OVERLAP


def test_the_cursor_never_goes_back_before_where_the_pull_started() -> None:
    assert checkpoint_ms(T - 100, T - 50, T, OVERLAP) == T - 100


def test_nothing_yielded_keeps_the_cursor_and_a_full_pull_has_none_yet() -> None:
    assert checkpoint_ms(T - 100, None, T, OVERLAP) == T - 100
    assert since_checkpoint(None, None, T, OVERLAP) is None
    assert since_checkpoint(None, T - 1_000, T, OVERLAP) == {"since_ms": T - 1_000 - OVERLAP}


def test_a_saved_cursor_is_read_back_and_anything_else_is_refused() -> None:
    assert since_of({"since_ms": T}, "Zoho") == T
    assert since_of(None, "Zoho") is None
    for bad in ({"since_ms": True}, {"mode": "search"}, {"since_ms": T, "after": "x"}, ["since_ms"]):
        with pytest.raises(ValidationError, match="not a Zoho pull cursor"):
            since_of(bad, "Zoho")  # type: ignore[arg-type]


def test_the_first_key_going_back_is_found() -> None:
    assert first_descent([1, 2, 2, 3]) is None
    assert first_descent([1, 3, 2, 4]) == 2
    assert first_descent([5, 6], after=7) == 0
    assert first_descent([1, 2, 2], strict=True) == 2
    assert first_descent([4, 5], after=4, strict=True) == 0
