"""``common.instants.parse_instant_ms``: ISO-8601 text read by ``fromisoformat`` first, the fraction regex only
when that refuses it; either way a long fraction is cut to the millisecond below, never rounded up."""

from __future__ import annotations

import pytest

from leadsync.common.instants import parse_instant_ms

SECOND = 1764437521000  # 2025-11-29T17:32:01Z


@pytest.mark.parametrize(("text", "ms"), [
    ("2025-11-29T17:32:01.123Z", SECOND + 123),
    ("2025-11-29T17:32:01.9999999Z", SECOND + 999),  # .NET's seven digits: cut, not rounded to the next second
    ("2025-11-29T17:32:01.999999999+00:00", SECOND + 999),
    ("2025-11-29T19:32:01.5+02:00", SECOND + 500),
    ("2025-11-29T17:32:01", SECOND),  # naive: UTC
    (" 2025-11-29T17:32:01Z ", SECOND),
    (str(SECOND), SECOND),
    ("", None),
])
def test_instants_parse_to_epoch_ms(text: str, ms: int | None) -> None:
    assert parse_instant_ms(text) == ms


@pytest.mark.parametrize("text", ["yesterday", "2025-13-01T00:00:00Z", "2025-11-29T17:32:01.5z"])
def test_text_that_is_not_an_instant_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_instant_ms(text)
