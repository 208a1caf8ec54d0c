"""The baseline: the same pull and push done the way a typical script does it.

A script built on HubSpot's official ``hubspot-api-client`` (v12, synchronous, urllib3 underneath),
one record per call where the API offers a per-record call:

- :func:`pull_by_page`: ``crm.contacts.basic_api.get_page(limit=100, after=...)`` until the last page
  (what most scripts do; 100 is the list endpoint's page maximum), each page upserted into a SQLite
  table and committed;
- :func:`pull_by_id`: ``basic_api.get_by_id`` per contact (a script syncing known ids one at a time),
  upserted and committed every 100;
- :func:`push_one_by_one`: ``basic_api.create`` per new lead.

Each returns a :class:`ScriptRun` (records, HTTP calls, wall seconds). Calls are counted here; the
benchmark checks them against the sandbox's own request counters.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubspot import HubSpot
from hubspot.crm.contacts import SimplePublicObjectInputForCreate


@dataclass(frozen=True, slots=True)
class ScriptRun:
    """What one baseline run did: ``records`` moved, ``calls`` made, ``seconds`` of wall time."""

    records: int
    calls: int
    seconds: float


def _client(base_url: str, token: str) -> Any:
    return HubSpot(access_token=token, host=base_url)


def _store(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS contacts (id TEXT PRIMARY KEY, email TEXT, properties TEXT, "
               "updated_at TEXT)")
    return db


def _row(obj: Any) -> tuple[str, str | None, str, str]:
    props: dict[str, Any] = obj.properties or {}
    return (str(obj.id), props.get("email"), json.dumps(props), str(obj.updated_at))


def pull_by_page(base_url: str, token: str, properties: Sequence[str], store: Path) -> ScriptRun:
    """Every live contact through ``get_page`` (100 a page) into the SQLite file ``store``."""
    client = _client(base_url, token)
    db = _store(store)
    calls = records = 0
    after: str | None = None
    started = time.perf_counter()
    while True:
        page = client.crm.contacts.basic_api.get_page(limit=100, after=after, properties=list(properties))
        calls += 1
        rows = [_row(obj) for obj in page.results]
        db.executemany("INSERT OR REPLACE INTO contacts VALUES (?, ?, ?, ?)", rows)
        db.commit()
        records += len(rows)
        if page.paging is None or page.paging.next is None:
            break
        after = page.paging.next.after
    seconds = time.perf_counter() - started
    db.close()
    return ScriptRun(records, calls, seconds)


def pull_by_id(base_url: str, token: str, ids: Sequence[str], properties: Sequence[str], store: Path) -> ScriptRun:
    """The contacts ``ids`` through one ``get_by_id`` each into the SQLite file ``store``."""
    client = _client(base_url, token)
    db = _store(store)
    calls = 0
    started = time.perf_counter()
    for n, contact_id in enumerate(ids, 1):
        obj = client.crm.contacts.basic_api.get_by_id(contact_id, properties=list(properties))
        calls += 1
        db.execute("INSERT OR REPLACE INTO contacts VALUES (?, ?, ?, ?)", _row(obj))
        if n % 100 == 0:
            db.commit()
    db.commit()
    seconds = time.perf_counter() - started
    db.close()
    return ScriptRun(len(ids), calls, seconds)


def push_one_by_one(base_url: str, token: str, leads: Sequence[dict[str, str]]) -> ScriptRun:
    """Create each lead (HubSpot properties) with one ``basic_api.create`` call."""
    client = _client(base_url, token)
    calls = 0
    started = time.perf_counter()
    for properties in leads:
        client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties=properties))
        calls += 1
    return ScriptRun(len(leads), calls, time.perf_counter() - started)
