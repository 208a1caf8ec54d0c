"""Rows as Structs: a ``sqlite3.Row`` read into a msgspec Struct by column name."""

from __future__ import annotations

from typing import TypeVar

import aiosqlite
import msgspec

S = TypeVar("S", bound=msgspec.Struct)


def to_struct(row: aiosqlite.Row, cls: type[S]) -> S:
    """``row``'s columns as a ``cls`` (columns the Struct lacks are ignored; SQLite's 0/1 become bools).

    Raises msgspec.ValidationError when a column does not fit its field (a schema out of step)."""
    return msgspec.convert({k: row[k] for k in row.keys()}, cls, strict=False)
