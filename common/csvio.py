"""The row shape ``contacts.import`` takes, and reading CSV text into it.

Files from disk are read by :mod:`leadsync.common.importfile.reading` (any encoding and delimiter,
title and footer lines); :func:`read_csv` is the small in-memory form for UTF-8 text with a comma:
a byte-order mark is dropped (case C01) and quoted fields may hold line breaks (C03).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import msgspec

from leadsync.common.errors import ValidationError


class ImportRow(msgspec.Struct, array_like=True):
    """One CSV record: ``line`` is the line number where it starts (the header is line 1)."""

    line: int
    values: list[str]


def read_csv(text: str) -> tuple[list[str], Iterator[ImportRow]]:
    """The header (BOM and quotes removed) and the records with their starting line numbers."""
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ValidationError("the file is empty: a header row is needed") from None

    def rows() -> Iterator[ImportRow]:
        start = reader.line_num + 1
        for values in reader:
            if any(v.strip() for v in values):
                yield ImportRow(start, values)
            start = reader.line_num + 1

    return header, rows()
