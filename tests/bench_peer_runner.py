"""Run meltano-tap-hubspot's ``contacts`` stream against a HubSpot sandbox (run by the peer's own Python).

``python bench_peer_runner.py BASE_URL TOKEN OUT`` writes the tap's Singer messages to OUT, as
``tap-hubspot --config ... --catalog ...`` would to stdout, and its own peak resident set (``VmHWM`` of
``/proc/self/status``, kB) to OUT.hwm: what ``wait4`` says of a child is at least the peak of the parent
that started it (Linux carries the parent's high-water mark into the child's at ``exec``), here the
benchmark's own. The tap hard-codes ``https://api.hubapi.com``: this script points each stream's
``url_base`` at BASE_URL (wrapping the tap's own property, the tap itself is not edited) and selects the
contacts stream alone. Run by :mod:`tests.bench_peer` in the peer's venv, so it imports nothing of leadsync.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from typing import Any

HUBSPOT = "https://api.hubapi.com"


def point_at(base: str) -> None:
    """Every tap_hubspot stream class's ``url_base`` with ``https://api.hubapi.com`` replaced by ``base``."""
    from tap_hubspot import client, streams

    for module in (client, streams):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            prop = cls.__dict__.get("url_base")
            if isinstance(prop, property) and prop.fget is not None:
                original = prop.fget

                def url_base(self: Any, _original: Any = original) -> str:
                    return str(_original(self)).replace(HUBSPOT, base.rstrip("/"))

                cls.url_base = property(url_base)


def contacts_only(catalog: dict[str, Any]) -> dict[str, Any]:
    """``catalog`` with the contacts stream selected (the only one the runner's tap discovers)."""
    for stream in catalog["streams"]:
        selected = stream["tap_stream_id"] == "contacts"
        for entry in stream.get("metadata", []):
            if entry.get("breadcrumb") == []:
                entry["metadata"]["selected"] = selected
    return catalog


def main(argv: list[str]) -> int:
    base, token, out = argv
    point_at(base)
    from tap_hubspot.streams import ContactStream
    from tap_hubspot.tap import TapHubspot

    class ContactsTap(TapHubspot):  # type: ignore[misc]  # the tap, knowing its contacts stream only
        def discover_streams(self) -> list[Any]:
            return [ContactStream(self)]

    config = {"access_token": token}
    catalog = contacts_only(ContactsTap(config=config).catalog_dict)
    with open(out, "w") as sink, contextlib.redirect_stdout(sink):
        ContactsTap(config=config, catalog=catalog).sync_all()
    with open("/proc/self/status", encoding="ascii") as status, open(out + ".hwm", "w") as hwm:
        hwm.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
