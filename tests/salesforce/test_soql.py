"""``soql.quote`` and friends: every literal escaped (case B13), datetimes in UTC (case B09), names checked.

The sandbox's SOQL parser is the judge of what a literal means, and simple-salesforce's own
``format_soql`` the judge of how Salesforce's official client escapes."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from simple_salesforce.format import format_soql

from leadsync.agent.connectors.salesforce.sandbox.errors import SalesforceError
from leadsync.agent.connectors.salesforce.sandbox.soql import Compare, InList, Like, decode_string, parse
from leadsync.agent.connectors.salesforce.soql import (
    datetime_literal,
    field_list,
    field_name,
    in_list,
    object_name,
    quote,
    quote_like,
)
from leadsync.common.errors import ValidationError


def test_b13_apostrophe_is_escaped_backslash_first() -> None:
    assert quote("o'brien@example.com") == "'o\\'brien@example.com'"
    assert quote("back\\slash'quote") == "'back\\\\slash\\'quote'"  # \ -> \\ first, then ' -> \'
    assert quote("\\'") == "'\\\\\\''"  # a backslash-quote pair does not turn into an escaped quote


def test_b13_quote_agrees_with_the_official_client() -> None:
    for text in ("o'brien@example.com", 'say "hi"', "tab\there", "line\nbreak", "c:\\path", "100%_done"):
        assert quote(text) == format_soql("{}", text)


def test_line_breaks_tabs_and_control_characters_never_reach_the_query_raw() -> None:
    assert quote("a\nb\rc\td\be\ff") == "'a\\nb\\rc\\td\\be\\ff'"
    assert quote("bell\x07") == "'bell\\u0007'"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_b13_any_text_round_trips_through_a_soql_parser_as_one_literal(text: str) -> None:
    query = parse(f"SELECT Id FROM Lead WHERE Email = {quote(text)} AND LastName = 'x'")
    assert query.where is not None
    first = query.where.items[0]  # type: ignore[union-attr]
    assert isinstance(first, Compare) and first.value.value == text


def test_an_injection_attempt_stays_a_literal() -> None:
    hostile = "x' OR Email != '"
    query = parse(f"SELECT Id FROM Lead WHERE Email = {quote(hostile)}")
    assert isinstance(query.where, Compare) and query.where.value.value == hostile


def test_like_patterns_escape_wildcards() -> None:
    query = parse(f"SELECT Id FROM Lead WHERE Email LIKE {quote_like('100%_x')}")
    assert isinstance(query.where, Like)
    assert query.where.regex.fullmatch("100%_x") and not query.where.regex.fullmatch("100abx")


def test_in_lists_quote_every_value_and_refuse_empty_lists() -> None:
    emails = ["a@b.c", "o'b@c.d"]
    assert in_list(emails) == "('a@b.c', 'o\\'b@c.d')"
    query = parse(f"SELECT Id FROM Lead WHERE Email IN {in_list(emails)}")
    assert isinstance(query.where, InList) and [v.value for v in query.where.values] == emails
    with pytest.raises(ValidationError):
        in_list([])


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata", "UTC"])
def test_b09_datetime_literals_are_utc_whatever_the_time_zone(zone: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        instant = dt.datetime(2024, 3, 10, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-8)))
        ms = int(instant.timestamp() * 1000)
        assert datetime_literal(ms) == "2024-03-11T07:30:00.000Z"
        assert datetime_literal(ms + 1) == "2024-03-11T07:30:00.001Z"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_field_and_object_names_are_checked() -> None:
    assert field_name("Owner.Email") == "Owner.Email"
    assert field_name("Lead_Score__c") == "Lead_Score__c"
    for bad in ("Email, (SELECT Id FROM User)", "Email FROM Lead --", "1st", "", "a..b"):
        with pytest.raises(ValidationError):
            field_name(bad)
    assert object_name("Lead") == "Lead"
    with pytest.raises(ValidationError):
        object_name("Lead WHERE")


def test_field_lists_drop_case_insensitive_duplicates() -> None:
    assert field_list(["Id", "Email"], ["email", "FirstName", "ID"]) == ["Id", "Email", "FirstName"]


def test_the_sandbox_parser_refuses_illegal_escapes_like_salesforce() -> None:
    with pytest.raises(SalesforceError) as caught:
        decode_string("a\\qb")
    assert caught.value.problems[0].code == "MALFORMED_QUERY"
    with pytest.raises(SalesforceError):
        decode_string("100\\%")  # \% only in LIKE
    assert decode_string("\\N\\T\\u00e9") == "\n\t\u00e9"

