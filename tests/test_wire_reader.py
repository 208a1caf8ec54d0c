"""A property's wire reader (agent/engine/mapping.py ``wire_reader``) converts exactly as ``from_wire``."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from leadsync.agent.connectors.base import PropertyMeta
from leadsync.agent.engine.mapping import ConversionError, from_wire, wire_reader
from leadsync.common.answers import FieldMapping

KINDS = ("string", "number", "bool", "date", "datetime", "enumeration")

metas = st.one_of(st.none(), st.builds(
    lambda kind, multi: PropertyMeta(name="prop", label="Prop", type=kind, multi=multi),
    st.sampled_from(KINDS), st.booleans()))
mappings = st.one_of(st.none(), st.builds(
    lambda value_map: FieldMapping(local="stage", crm="prop", value_map=value_map),
    st.dictionaries(st.sampled_from(["lead", "customer", "x;y", ""]), st.sampled_from(["LEAD", "CUST", "a", "b"]))))
wire_values = st.one_of(
    st.none(), st.just(""), st.sampled_from(["LEAD", "CUST", "a;b", "a", "true", "False", "2026-12-07",
                                             "1733529600000", "2026-12-07T10:00:00Z", "1.5", "12", "1e3", "x"]),
    st.text(max_size=12))  # from_wire takes wire text (or None)


def outcome(convert: Any, value: Any) -> tuple[str, Any]:
    try:
        return "value", convert(value)
    except ConversionError as exc:
        return "error", str(exc)


@given(metas, mappings, wire_values)
def test_the_reader_gives_what_from_wire_gives_value_or_error(meta: PropertyMeta | None,
                                                              mapping: FieldMapping | None, value: Any) -> None:
    expected = outcome(lambda v: from_wire(v, meta, mapping), value)
    assert outcome(wire_reader(meta, mapping), value) == expected


def test_a_text_property_reads_blanks_as_none_and_maps_crm_options_back_to_local_values() -> None:
    meta = PropertyMeta(name="lifecyclestage", label="Lifecycle stage", type="enumeration")
    read = wire_reader(meta, FieldMapping(local="lifecycle_stage", crm="lifecyclestage",
                                          value_map={"customer": "CUSTOMER_STAGE"}))
    assert [read(v) for v in ("", None, "CUSTOMER_STAGE", "lead")] == [None, None, "customer", "lead"]
    assert wire_reader(None)(0) == 0  # not a blank: kept as from_wire keeps it
