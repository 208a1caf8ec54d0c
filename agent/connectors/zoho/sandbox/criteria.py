"""Zoho search ``criteria`` as the sandbox reads them ("Search Records").

``(Email:equals:a@b.c)``, ``((Email:equals:a)or(Last_Name:starts_with:Sm))``; ``and``/``or`` between
parenthesised terms, nested; at most 10 terms. In a value, ``\\(``, ``\\)``, ``\\,`` and ``\\\\`` stand for
the character itself; an unescaped ``,`` separates alternatives (``(Email:equals:a,b)`` matches either).
Operators: ``equals`` and ``starts_with``, both case-insensitive. Anything else raises :class:`CriteriaError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

MAX_TERMS: Final = 10
OPERATORS: Final = ("equals", "starts_with")

Lookup = Callable[[str], str | None]
"""``lookup(field)`` -> the record's value of that field as text (None: not set)."""


class CriteriaError(ValueError):
    """Criteria the sandbox cannot read (Zoho answers 400 ``INVALID_QUERY``)."""


@dataclass(frozen=True, slots=True)
class Term:
    field: str
    operator: str
    values: tuple[str, ...]

    def matches(self, lookup: Lookup) -> bool:
        actual = (lookup(self.field) or "").lower()
        if self.operator == "equals":
            return any(actual == v.lower() for v in self.values)
        return any(actual.startswith(v.lower()) for v in self.values)


@dataclass(frozen=True, slots=True)
class Group:
    joiner: str
    parts: tuple[Term | Group, ...]

    def matches(self, lookup: Lookup) -> bool:
        results = (p.matches(lookup) for p in self.parts)
        return all(results) if self.joiner == "and" else any(results)


def _split_value(raw: str) -> tuple[str, ...]:
    values, current, escaped = [], [], False
    for char in raw:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            values.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        raise CriteriaError("a value ends with a lone backslash")
    values.append("".join(current))
    return tuple(values)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.terms = 0

    def expect(self, char: str) -> None:
        if self.pos >= len(self.text) or self.text[self.pos] != char:
            raise CriteriaError(f"expected {char!r} at {self.pos}")
        self.pos += 1

    def node(self) -> Term | Group:
        self.expect("(")
        if self.text.startswith("(", self.pos):
            parts = [self.node()]
            joiner = ""
            while not self.text.startswith(")", self.pos):
                word = next((w for w in ("and", "or") if self.text.lower().startswith(w, self.pos)), None)
                if word is None or (joiner and word != joiner):
                    raise CriteriaError(f"expected 'and' or 'or' at {self.pos}")
                joiner, self.pos = word, self.pos + len(word)
                parts.append(self.node())
            self.expect(")")
            return parts[0] if len(parts) == 1 else Group(joiner, tuple(parts))
        start, escaped = self.pos, False
        while self.pos < len(self.text) and (escaped or self.text[self.pos] != ")"):
            escaped = not escaped and self.text[self.pos] == "\\"
            self.pos += 1
        raw = self.text[start:self.pos]
        self.expect(")")
        field, _, rest = raw.partition(":")
        operator, _, value = rest.partition(":")
        if not field or operator not in OPERATORS:
            raise CriteriaError(f"unsupported term {raw!r}")
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise CriteriaError(f"more than {MAX_TERMS} criteria")
        return Term(field.strip(), operator, _split_value(value))


def parse(text: str) -> Term | Group:
    """The criteria tree of ``text``; CriteriaError when it is not well formed."""
    parser = _Parser(text.strip())
    tree = parser.node()
    if parser.pos != len(parser.text):
        raise CriteriaError(f"unexpected text after the criteria at {parser.pos}")
    return tree
