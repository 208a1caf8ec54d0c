"""Text search of contacts (a filter's ``q``): ``contacts_search``, one trigram-indexed document per contact
(first and last name, email, company, phone as written and as digits; migration 9, kept in step by
triggers), searched for the fragment anywhere in it, case-insensitively.

A fragment of 3+ characters is a phrase query on the trigram index. A shorter one cannot be: it is first looked
for by reading the documents of the next :data:`SCAN_WINDOW` ids (a common fragment fills the page there),
else through the index's vocabulary (``contacts_search_terms``: the trigrams that begin with it, since every
fragment of a value is followed by a character in the document) when those are rare, else by reading on.
Either way the cost does not grow with the store for a fragment few contacts have. Source: SQLite's FTS5
documentation, "The Trigram Tokenizer" and "The fts5vocab Virtual Table Module".

While the index has a backlog (contacts from an id up left out during a large pull, built in bulk after it:
:mod:`~leadsync.agent.store.search_index`), the contacts in it are found by reading their documents
(:func:`backlog_condition`: the same document, folded to lower case, holding the fragment); slower, but the
same answers."""

from __future__ import annotations

from typing import Any

import aiosqlite

from leadsync.agent.store.migrations import SEARCH_DOC

INDEXED_CHARS = 3
"""The shortest fragment the trigram index answers directly."""
RARE_SHORT_DOCS = 5000
"""A 1-2 character fragment whose trigrams are in at most this many documents is looked up through them."""
SCAN_WINDOW = 5000
"""A 1-2 character fragment is first looked for in this many ids from the page's start: a common one fills
the page there (a fragment in more than 2% of contacts), and the vocabulary is not read."""


def search_text(q: str) -> str:
    """``q`` as searched: trimmed, inner whitespace runs as one space, lower case."""
    return " ".join(q.split()).lower()


def _phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _likes(text: str) -> tuple[str, list[Any]]:
    """``doc LIKE`` patterns for ``text`` in any case: SQLite's LIKE folds ASCII letters only, so each
    other letter of a short fragment is tried in both its cases (at most 4 patterns for 2 characters)."""
    variants = [""]
    for char in text:
        cases = sorted({char} if char.isascii() else {char.lower(), char.upper()})
        variants = [v + c for v in variants for c in cases]
    patterns = ["%" + v.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for v in variants]
    return "(" + " OR ".join(["doc LIKE ? ESCAPE '\\'"] * len(patterns)) + ")", patterns


def backlog_condition(text: str, table: str = "c") -> tuple[str, list[Any]]:
    """The condition on ``contacts`` (as ``table``) true when the contact's search document holds ``text``
    (:func:`search_text` applied), read from the row itself: for the contacts not indexed yet."""
    return f"instr(leadsync_fold({SEARCH_DOC.format(p=table)}), ?) > 0", [text]


def matching_ids(text: str) -> tuple[str, list[Any]]:
    """A condition on ``contacts c`` (and its params) true for the contacts whose document holds ``text``
    (:func:`search_text` applied): for counts, smart lists and sharing rules. The index answers for the
    contacts in it, :func:`backlog_condition` for those of its backlog (none when it is in step)."""
    backlog, text_param = backlog_condition(text, "contacts")
    rest = f"SELECT id FROM contacts WHERE id >= (SELECT pending_from FROM search_backlog) AND {backlog}"
    if len(text) >= INDEXED_CHARS:
        return (f"c.id IN (SELECT rowid FROM contacts_search WHERE contacts_search MATCH ? UNION ALL {rest})",
                [_phrase(text), *text_param])
    condition, patterns = _likes(text)
    return f"c.id IN (SELECT rowid FROM contacts_search WHERE {condition} UNION ALL {rest})", [*patterns, *text_param]


def indexed_condition(text: str) -> tuple[str, list[Any]]:
    """The condition on ``contacts_search s`` for a fragment of :data:`INDEXED_CHARS`+ characters: a
    phrase query on the trigram index."""
    return "contacts_search MATCH ?", [_phrase(text)]


def scan_condition(text: str) -> tuple[str, list[Any]]:
    """The condition on ``contacts_search s`` that reads each document (any length of ``text``)."""
    return _likes(text)


async def short_condition(db: aiosqlite.Connection, text: str) -> tuple[str, list[Any]]:
    """The condition on ``contacts_search s`` for a 1-2 character fragment that did not fill a page in
    the first :data:`SCAN_WINDOW` ids: the trigrams beginning with it when they are in at most
    :data:`RARE_SHORT_DOCS` documents (``"0"`` when there are none: nothing holds it), else a scan."""
    async with db.execute("SELECT term, doc FROM contacts_search_terms WHERE term >= ? AND term < ?",
                          (text, text + "\U0010ffff")) as cur:
        terms = [(row[0], row[1]) for row in await cur.fetchall()]
    if not terms:
        return "0", []
    if sum(docs for _, docs in terms) > RARE_SHORT_DOCS:
        return scan_condition(text)
    return "contacts_search MATCH ?", [" OR ".join(_phrase(term) for term, _ in terms)]
