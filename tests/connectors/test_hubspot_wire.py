"""HubSpot wire format: times (B09), records, properties, owners."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from leadsync.agent.connectors.hubspot.client import HubSpotConnector
from leadsync.agent.connectors.hubspot.wire import (
    iso_utc,
    owner_from_wire,
    parse_instant_ms,
    property_from_wire,
    record_from_wire,
)
from leadsync.common.errors import CrmProtocolError

from .fakes import FakeClock, Recorder, json_response

A = "2024-03-10T23:30:00-08:00"  # 2024-03-11T07:30Z
B = "2024-03-11T05:00:00+05:30"  # 2024-03-10T23:30Z
C = "2024-03-11T07:00:00Z"  # 2024-03-11T07:00Z
OVERLAP = 5 * 60 * 1000


def utc_ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


@pytest.fixture
def set_tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def apply(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield apply
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata", "UTC"])
def test_b09_offsets_are_converted_to_the_same_utc_instant_in_any_time_zone(set_tz: Any, zone: str) -> None:
    set_tz(zone)
    assert parse_instant_ms(A) == utc_ms(2024, 3, 11, 7, 30)
    assert parse_instant_ms(B) == utc_ms(2024, 3, 10, 23, 30)
    assert parse_instant_ms(C) == utc_ms(2024, 3, 11, 7, 0)
    ordered = sorted([A, B, C], key=lambda v: parse_instant_ms(v) or 0)
    assert ordered == [B, C, A]
    assert sorted([A, B, C]) != ordered  # string order would be wrong


def test_parse_instant_forms() -> None:
    assert parse_instant_ms("1710142200000") == 1_710_142_200_000
    assert parse_instant_ms("2024-01-17T19:55:04.281Z") == 1_705_521_304_281
    assert parse_instant_ms("2024-01-17T19:55:04") == 1_705_521_304_000  # naive: UTC
    assert parse_instant_ms(None) is None and parse_instant_ms("") is None
    assert iso_utc(1_705_521_304_281) == "2024-01-17T19:55:04.281Z"
    with pytest.raises(CrmProtocolError):
        parse_instant_ms("yesterday")


async def b09_pull(zone: str, set_tz: Any) -> tuple[list[Any], list[Any], dict[str, Any] | None]:
    set_tz(zone)
    results = [
        {"id": str(n), "properties": {"lastmodifieddate": when, "hs_object_id": str(n)},
         "createdAt": "2024-01-01T00:00:00Z", "updatedAt": when, "archived": False}
        for n, when in ((1, B), (2, C), (3, A))
    ]
    recorder = Recorder(lambda request, body: json_response(200, {"total": 3, "results": results}))
    clock = FakeClock(utc_ms(2024, 3, 11, 12, 0))
    connector = HubSpotConnector("https://api.hubapi.com", "tok", transport=recorder.transport(),
                                 sleep=clock.sleep, clock=clock.monotonic, now_ms=clock.now_ms)
    since = utc_ms(2024, 3, 10, 0, 0)
    pages = [p async for p in connector.pull_changes("contact", {"mode": "search", "since_ms": since},
                                                     properties=["email"])]
    await connector.aclose()
    return [s.body for s in recorder.sent], [r for p in pages for r in p.records], pages[-1].cursor


async def test_b09_filters_and_cursor_are_identical_under_any_time_zone(set_tz: Any) -> None:
    bodies_ny, records_ny, cursor_ny = await b09_pull("America/New_York", set_tz)
    bodies_in, records_in, cursor_in = await b09_pull("Asia/Kolkata", set_tz)

    assert bodies_ny == bodies_in
    filters = bodies_ny[0]["filterGroups"][0]["filters"]
    assert filters[0] == {"propertyName": "lastmodifieddate", "operator": "GTE",
                          "value": str(utc_ms(2024, 3, 10, 0, 0))}
    assert all(isinstance(f["value"], str) and f["value"].isdigit() for f in filters)
    assert cursor_ny == cursor_in == {"mode": "search", "since_ms": utc_ms(2024, 3, 11, 7, 30) - OVERLAP}
    assert [r.updated_at_ms for r in records_ny] == [r.updated_at_ms for r in records_in]
    assert [r.updated_at_ms for r in records_ny] == sorted(r.updated_at_ms for r in records_ny)


def test_record_from_wire_reads_properties_and_merged_ids() -> None:
    record = record_from_wire({
        "id": "201", "archived": False, "createdAt": "2024-01-01T00:00:00Z",
        "updatedAt": "2024-02-01T00:00:00.5Z",
        "properties": {"email": " John.Doe@Example.COM\n", "phone": "", "fax": None,
                       "hs_merged_object_ids": "202;150"},
    }, "contact")
    assert record.id == "201"
    assert record.updated_at_ms == utc_ms(2024, 2, 1) + 500
    assert record.created_at_ms == utc_ms(2024, 1, 1)
    assert record.properties["phone"] == "" and record.properties["fax"] is None
    assert record.merged_ids == ("202", "150")


def test_property_metadata_mapping() -> None:
    multi = property_from_wire({"name": "interests", "label": "Interests", "type": "enumeration",
                                "fieldType": "checkbox", "hasUniqueValue": False,
                                "options": [{"value": "a", "label": "A", "hidden": False},
                                            {"value": "b", "label": "B", "hidden": True}],
                                "modificationMetadata": {"readOnlyValue": False}})
    assert multi.type == "enumeration" and multi.multi
    assert [o.value for o in multi.options] == ["a", "b"] and multi.options[1].hidden
    single_bool = property_from_wire({"name": "opt_in", "label": "Opt in", "type": "bool",
                                      "fieldType": "booleancheckbox"})
    assert single_bool.type == "bool" and not single_bool.multi
    read_only = property_from_wire({"name": "hs_object_id", "label": "Record ID", "type": "number",
                                    "fieldType": "number", "hasUniqueValue": True,
                                    "modificationMetadata": {"readOnlyValue": True}})
    assert read_only.read_only and read_only.unique and read_only.type == "number"
    phone = property_from_wire({"name": "phone", "label": "Phone", "type": "phone_number", "fieldType": "phonenumber"})
    assert phone.type == "string"


def test_b17_archived_owner_is_inactive_and_keeps_teams() -> None:
    owner = owner_from_wire({"id": "2", "email": "bob@corp.com", "firstName": "Bob", "lastName": "Left",
                             "userId": None, "archived": True,
                             "teams": [{"id": "7", "name": "East", "primary": True}]}, archived=True)
    assert not owner.active and owner.user_id is None
    assert owner.teams[0].name == "East" and owner.teams[0].primary


def test_connector_repr_hides_the_token() -> None:
    connector = HubSpotConnector("https://api.hubapi.com", "pat-secret-123",
                                 transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    assert "pat-secret-123" not in repr(connector)
    assert "pat-secret-123" not in repr(vars(connector))
