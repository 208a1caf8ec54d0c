"""Text search (a filter's ``q``) on the trigram index: what it finds (name, full name, email, company,
phone as written and as digits, any case), every path a fragment can take (3+ characters through the
index; 1-2 characters in the next ids, through the vocabulary, or by reading on), keyset paging through
matches, the index kept in step with edits, and migration 9 indexing a store made before it. Each path is
checked against a plain substring search of the same values."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from leadsync.agent.contacts import list_contacts
from leadsync.agent.store.migrations import MIGRATIONS
from leadsync.agent.store.queries import contact_search
from leadsync.agent.store.store import Store
from leadsync.common.answers import ContactFilter

PEOPLE = [
    ("Ada", "Lovelace", "ada@example.org", "Analytical Engines", "+44 20 7946 0958"),
    ("Grace", "Hopper", "GRACE.hopper@navy.mil", "US Navy", "(202) 555-0143"),
    ("Jürgen", "Großmann", "jg@beispiel.de", "Bäckerei 100% Bio_Korn", "0351 123456"),
    ("Zoë", "O'Neil \"Zed\"", "zoe@qz.example", "Qzar Ltd", None),
    ("Bo", None, "bo@x.io", None, "+1.415.555.0100"),
    ("Élise", "Ökonom", "elise@ärzte.example", "ÄRZTE ohne Grenzen", "+33 1 23 45 67 89"),
]


def values_of(person: tuple[Any, ...]) -> str:
    first, last, email, company, phone = person
    digits = "".join(c for c in phone if c.isdigit()) if phone else ""
    return " ".join([first or "", last or "", email or "", company or "", phone or "", digits]) + " "


async def add(store: Store, people: list[tuple[Any, ...]]) -> None:
    async with store.transaction() as db:
        await db.executemany(
            "INSERT INTO contacts(email, email_norm, first_name, last_name, company, phone, source, created_at, "
            "updated_at) VALUES (?, lower(?), ?, ?, ?, ?, 'api', 1, 1)",
            [(e, e, f, last, c, p) for f, last, e, c, p in people])


async def found(store: Store, q: str, **filters: Any) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        page = await list_contacts(store, ContactFilter(q=q, **filters), after=after, limit=2)
        ids += [c.email or "" for c in page.contacts]
        if page.next_after is None:
            return ids
        after = page.next_after


def expected(people: list[tuple[Any, ...]], q: str) -> list[str]:
    text = " ".join(q.split()).lower()
    return [p[2] for p in people if text in values_of(p).lower()]


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    store = await Store.open(tmp_path / "store.db")
    await add(store, PEOPLE)
    yield store
    await store.close()


@pytest.mark.parametrize("q", ["love", "ADA LOVE", "ada  lovelace", "navy.mil", "hopper", "engines", "7946 0958",
                               "2025550143", "555-0143", "4155550100", "großm", "100% bio_k", "o'neil \"zed",
                               "qz", "q", "ä", "Ö", "öK", "élise ök", "ärzte", "@", "zz", "nobody", "%", "_", "\"",
                               " lovelace ", ""])
async def test_a_fragment_finds_what_a_substring_search_finds(store: Store, q: str) -> None:
    want = expected(PEOPLE, q) if q.strip() else [p[2] for p in PEOPLE]
    assert await found(store, q) == want


async def test_every_path_of_a_short_fragment_answers_the_same(store: Store,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    queries = ["a", "o", "qz", "ze", "55", "ü", "zz", "%", "ä", "Ö", "öK", "É"]
    for window, rare in ((5000, 5000), (0, 5000), (0, 0)):  # next ids; vocabulary; reading on
        monkeypatch.setattr(contact_search, "SCAN_WINDOW", window)
        monkeypatch.setattr(contact_search, "RARE_SHORT_DOCS", rare)
        for q in queries:
            assert await found(store, q) == expected(PEOPLE, q), (window, rare, q)


async def test_random_fragments_on_many_contacts_match_a_substring_search(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(5)
    letters = "abcdeqxz 0159@."
    people = [("".join(rng.choice(letters) for _ in range(rng.randint(0, 9))), rng.choice(["Lee", "Qi", None]),
               f"p{n}@{rng.choice(['a.io', 'zq.org'])}", rng.choice(["", "Acme", "Zed Co"]),
               rng.choice([None, f"+1 {rng.randint(100, 999)} {rng.randint(1000, 9999)}"])) for n in range(300)]
    monkeypatch.setattr(contact_search, "SCAN_WINDOW", 40)  # short fragments take every path on 300 contacts
    monkeypatch.setattr(contact_search, "RARE_SHORT_DOCS", 60)
    store = await Store.open(tmp_path / "many.db")
    try:
        await add(store, people)
        for _ in range(150):
            source = values_of(rng.choice(people))
            start = rng.randrange(len(source))
            q = source[start:start + rng.randint(1, 6)] if rng.random() < 0.8 else rng.choice(letters) * 2
            want = expected(people, q) if q.strip() else [p[2] for p in people]
            page = await list_contacts(store, ContactFilter(q=q), limit=500)
            assert [c.email for c in page.contacts] == want, q
    finally:
        await store.close()


async def test_the_index_follows_edits_and_deletes_and_other_filters_apply(store: Store) -> None:
    async with store.transaction() as db:
        await db.execute("UPDATE contacts SET last_name = 'Byron', phone = '020 1111 2222' WHERE email = ?",
                         ("ada@example.org",))
        await db.execute("DELETE FROM contacts WHERE email = 'bo@x.io'")
        await db.execute("UPDATE contacts SET owner_id = 'O1' WHERE email = 'GRACE.hopper@navy.mil'")
    assert await found(store, "lovelace") == []
    assert await found(store, "ada byron") == ["ada@example.org"]
    assert await found(store, "02011112222") == ["ada@example.org"]
    assert await found(store, "bo@x") == []
    assert await found(store, "o", owner="O1") == ["GRACE.hopper@navy.mil"]


async def test_migration_9_indexes_the_contacts_of_an_older_store(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    async with aiosqlite.connect(path, isolation_level=None) as db:  # a store at schema v8
        for statements in MIGRATIONS[:8]:
            for statement in statements:
                await db.execute(statement)
        await db.execute("PRAGMA user_version = 8")
        await db.execute("INSERT INTO contacts(email, email_norm, first_name, last_name, source, created_at, "
                         "updated_at) VALUES ('old@example.org', 'old@example.org', 'Olden', 'Days', 'crm', 1, 1)")
    store = await Store.open(path)
    try:
        assert await found(store, "olden d") == ["old@example.org"]
        assert await found(store, "ol") == ["old@example.org"]
    finally:
        await store.close()
