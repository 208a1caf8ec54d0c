"""Values between the engine's canonical text and Salesforce's JSON field types."""

from __future__ import annotations

from leadsync.agent.connectors.salesforce.wire import wire_value


def test_engine_epoch_ms_dates_are_sent_as_iso() -> None:
    assert wire_value("1710028800000", "date") == ("2024-03-10", None)
    assert wire_value("1710030600000", "datetime") == ("2024-03-10T00:30:00.000Z", None)
    assert wire_value("2024-03-10", "date") == ("2024-03-10", None)
    assert wire_value("99999999999999999999", "date")[1] is not None
