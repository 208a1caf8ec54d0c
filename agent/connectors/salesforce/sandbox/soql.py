"""A parser for the subset of SOQL the sandbox answers ("SOQL and SOSL Reference"):

    SELECT field [, field ...] FROM object
    [WHERE condition] [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST] [, ...]] [LIMIT n] [OFFSET n]

- fields are API names or relationship paths (``Owner.Email``, ``Profile.Name``), any case;
- conditions: ``field op value`` with ``=``, ``!=``, ``<>``, ``<``, ``<=``, ``>``, ``>=``; ``field [NOT] IN
  (value, ...)``; ``field LIKE 'pattern'``; ``AND``, ``OR``, ``NOT`` and parentheses (mixing AND and OR
  without parentheses is refused, as SOQL does);
- values: string literals in single quotes with SOQL's escapes (``\\n \\N \\r \\R \\t \\T \\b \\B \\f \\F
  \\" \\' \\\\ \\uXXXX``, and ``\\% \\_`` in LIKE only; any other backslash is an error), numbers,
  ``true``/``false``/``null``, unquoted dateTime literals (``2024-03-11T07:00:00Z``, ``...+05:30``,
  optional fractional seconds) and date literals (``2024-03-11``).

Anything else (aggregates, subqueries, date functions, relative date literals such as ``TODAY``,
``INCLUDES``) answers 400 ``MALFORMED_QUERY`` like a syntax error, naming what the sandbox does not
support.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from .errors import Problem, SalesforceError, malformed_query
from .timefmt import parse_date, parse_instant

_TOKEN: Final = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\dT]))
  | (?P<number>[+-]?\d+(?:\.\d+)?(?![\w.]))
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
""", re.VERBOSE)
_ESCAPES: Final = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
KEYWORDS: Final = frozenset({"select", "from", "where", "and", "or", "not", "in", "like", "order", "by", "asc",
                             "desc", "nulls", "first", "last", "limit", "offset", "true", "false", "null",
                             "includes", "excludes", "group", "having", "with", "for", "using", "typeof"})
MAX_OFFSET: Final = 2000


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    column: int


@dataclass(frozen=True, slots=True)
class Literal:
    """A value: ``kind`` is string, number, boolean, null, datetime (``value`` epoch ms) or date
    (``value`` ``YYYY-MM-DD``); ``raw`` is the source text (a string literal's undecoded body)."""

    kind: str
    value: Any
    raw: str


@dataclass(frozen=True, slots=True)
class Compare:
    path: str
    op: str
    value: Literal


@dataclass(frozen=True, slots=True)
class InList:
    path: str
    values: tuple[Literal, ...]
    negate: bool


@dataclass(frozen=True, slots=True)
class Like:
    path: str
    regex: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class Junction:
    op: str  # "and" | "or"
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Condition


Condition = Compare | InList | Like | Junction | Not


@dataclass(frozen=True, slots=True)
class OrderItem:
    path: str
    descending: bool
    nulls_last: bool


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed SELECT."""

    fields: tuple[str, ...]
    object_name: str
    where: Condition | None
    order: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None


def tokenize(text: str) -> list[Token]:
    """Tokens of ``text``; MALFORMED_QUERY for characters SOQL does not know or an unterminated string."""
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            snippet = text[position:position + 20]
            if snippet.startswith("'"):
                raise malformed_query(f"unterminated string literal at Row:1:Column:{position + 1}")
            raise malformed_query(f"unexpected token: '{snippet.split()[0] if snippet.split() else snippet}' "
                                  f"at Row:1:Column:{position + 1}")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), position + 1))
        position = match.end()
    return tokens


def decode_string(body: str, *, like: bool = False) -> str:
    """The text of a string literal's body (between the quotes), escapes resolved. In LIKE context
    ``\\%`` and ``\\_`` stay escaped (``\\x00%``/``\\x00_`` markers) for :func:`like_regex`.
    MALFORMED_QUERY for any other backslash."""
    out: list[str] = []
    n = 0
    while n < len(body):
        char = body[n]
        if char != "\\":
            out.append(char)
            n += 1
            continue
        nxt = body[n + 1] if n + 1 < len(body) else ""
        if nxt in ('"', "'", "\\"):
            out.append(nxt)
            n += 2
        elif nxt and nxt.lower() in "nrtbf":
            out.append(_ESCAPES[nxt.lower()])
            n += 2
        elif nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", body[n + 2:n + 6]):
            out.append(chr(int(body[n + 2:n + 6], 16)))
            n += 6
        elif like and nxt in ("%", "_"):
            out.append("\x00" + nxt)
            n += 2
        else:
            raise malformed_query(f"Invalid string literal '{body}'. Illegal character sequence '\\{nxt}' in "
                                  "string literal.")
    return "".join(out)


def like_regex(pattern: str) -> re.Pattern[str]:
    """A case-insensitive regex for a decoded LIKE pattern (``%`` any run, ``_`` one character)."""
    parts: list[str] = []
    n = 0
    while n < len(pattern):
        char = pattern[n]
        if char == "\x00" and n + 1 < len(pattern):
            parts.append(re.escape(pattern[n + 1]))
            n += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        n += 1
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.at = 0

    def peek(self, offset: int = 0) -> Token | None:
        n = self.at + offset
        return self.tokens[n] if n < len(self.tokens) else None

    def is_keyword(self, word: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token.kind == "name" and token.text.lower() == word

    def fail(self, expected: str | None = None) -> SalesforceError:
        token = self.peek()
        if token is None:
            return malformed_query(f"unexpected token: <EOF>{f' (expecting {expected})' if expected else ''}")
        return malformed_query(f"unexpected token: '{token.text}' at Row:1:Column:{token.column}"
                               f"{f' (expecting {expected})' if expected else ''}")

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.fail()
        self.at += 1
        return token

    def expect_keyword(self, word: str) -> None:
        if not self.is_keyword(word):
            raise self.fail(f"'{word.upper()}'")
        self.at += 1

    def expect_punct(self, char: str) -> None:
        if not self.punct_next(char):
            raise self.fail(f"'{char}'")
        self.at += 1

    def name(self, what: str) -> str:
        token = self.peek()
        if token is None or token.kind != "name" or (token.text.lower() in KEYWORDS and "." not in token.text):
            if token is not None and token.kind == "punct" and token.text == "(":
                raise malformed_query("the sandbox does not support subqueries, aggregate or date functions")
            raise self.fail(what)
        self.at += 1
        if self.punct_next("("):
            raise malformed_query(f"the sandbox does not support functions such as {token.text}()")
        return token.text

    def punct_next(self, char: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "punct" and token.text == char

    def parse(self) -> Query:
        self.expect_keyword("select")
        fields = [self.name("a field name")]
        while self.punct_next(","):
            self.at += 1
            fields.append(self.name("a field name"))
        self.expect_keyword("from")
        object_name = self.name("an object name")
        if "." in object_name:
            raise malformed_query(f"sObject type '{object_name}' is not supported.")
        where = None
        if self.is_keyword("where"):
            self.at += 1
            where = self.condition()
        order: list[OrderItem] = []
        if self.is_keyword("order"):
            self.at += 1
            self.expect_keyword("by")
            order.append(self.order_item())
            while self.punct_next(","):
                self.at += 1
                order.append(self.order_item())
        limit = offset = None
        if self.is_keyword("limit"):
            self.at += 1
            limit = self.count("LIMIT")
        if self.is_keyword("offset"):
            self.at += 1
            offset = self.count("OFFSET")
            if offset > MAX_OFFSET:
                raise SalesforceError(400, [Problem("NUMBER_OUTSIDE_VALID_RANGE",
                                                    f"Maximum SOQL offset allowed is {MAX_OFFSET}")])
        if self.peek() is not None:
            token = self.peek()
            assert token is not None
            if token.kind == "name" and token.text.lower() in ("group", "having", "with", "for", "using"):
                raise malformed_query(f"the sandbox does not support {token.text.upper()} clauses")
            raise self.fail()
        return Query(tuple(fields), object_name, where, tuple(order), limit, offset)

    def count(self, clause: str) -> int:
        token = self.take()
        if token.kind != "number" or not token.text.isdigit():
            raise malformed_query(f"{clause} needs a non-negative whole number, not '{token.text}'")
        return int(token.text)

    def order_item(self) -> OrderItem:
        path = self.name("a field name")
        descending = False
        if self.is_keyword("asc") or self.is_keyword("desc"):
            descending = self.take().text.lower() == "desc"
        nulls_last = False
        if self.is_keyword("nulls"):
            self.at += 1
            if not (self.is_keyword("first") or self.is_keyword("last")):
                raise self.fail("FIRST or LAST")
            nulls_last = self.take().text.lower() == "last"
        return OrderItem(path, descending, nulls_last)

    def condition(self) -> Condition:
        first = self.unary()
        op: str | None = None
        items = [first]
        while self.is_keyword("and") or self.is_keyword("or"):
            word = self.take().text.lower()
            if op is not None and word != op:
                raise malformed_query("unexpected token: '" + word.upper() + "': use parentheses to mix AND and OR")
            op = word
            items.append(self.unary())
        return first if op is None else Junction(op, tuple(items))

    def unary(self) -> Condition:
        if self.is_keyword("not"):
            self.at += 1
            return Not(self.unary())
        if self.punct_next("("):
            self.at += 1
            inner = self.condition()
            self.expect_punct(")")
            return inner
        return self.predicate()

    def predicate(self) -> Condition:
        path = self.name("a field name")
        if self.is_keyword("not") and self.is_keyword("in", 1):
            self.at += 2
            return InList(path, self.values(), negate=True)
        if self.is_keyword("in"):
            self.at += 1
            return InList(path, self.values(), negate=False)
        if self.is_keyword("like"):
            self.at += 1
            token = self.take()
            if token.kind != "string":
                raise malformed_query(f"LIKE needs a quoted pattern, not '{token.text}'")
            return Like(path, like_regex(decode_string(token.text[1:-1], like=True)))
        if self.is_keyword("includes") or self.is_keyword("excludes"):
            raise malformed_query("the sandbox does not support INCLUDES/EXCLUDES")
        op = self.peek()
        if op is None or op.kind != "op":
            raise self.fail("an operator")
        self.at += 1
        return Compare(path, "!=" if op.text == "<>" else op.text, self.literal())

    def values(self) -> tuple[Literal, ...]:
        self.expect_punct("(")
        token = self.peek()
        if token is not None and token.kind == "name" and token.text.lower() == "select":
            raise malformed_query("the sandbox does not support semi-join subqueries")
        values = [self.literal()]
        while self.punct_next(","):
            self.at += 1
            values.append(self.literal())
        self.expect_punct(")")
        return tuple(values)

    def literal(self) -> Literal:
        token = self.take()
        if token.kind == "string":
            body = token.text[1:-1]
            return Literal("string", decode_string(body), body)
        if token.kind == "number":
            return Literal("number", float(token.text), token.text)
        if token.kind == "datetime":
            instant = parse_instant(token.text)
            if instant is None:
                raise malformed_query(f"line 1:{token.column} no viable alternative at character '{token.text}'")
            return Literal("datetime", instant, token.text)
        if token.kind == "date":
            day = parse_date(token.text)
            if day is None:
                raise malformed_query(f"invalid date: {token.text}")
            return Literal("date", day, token.text)
        if token.kind == "name" and token.text.lower() in ("true", "false"):
            return Literal("boolean", token.text.lower() == "true", token.text)
        if token.kind == "name" and token.text.lower() == "null":
            return Literal("null", None, token.text)
        if token.kind == "name":
            raise malformed_query(f"the sandbox does not support date literals such as {token.text}")
        raise malformed_query(f"unexpected token: '{token.text}' at Row:1:Column:{token.column}")


def parse(text: str) -> Query:
    """Parse one SELECT; raises :class:`SalesforceError` (400 ``MALFORMED_QUERY``) for anything else."""
    if not text.strip():
        raise malformed_query("unexpected token: <EOF>")
    return _Parser(text).parse()
