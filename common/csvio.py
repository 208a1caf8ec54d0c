"""CSV import parsing and export writing, shared by the CLI and the TUI.

Reads files as exported by HubSpot or Salesforce, or made by hand: UTF-8 with or without a
byte-order mark (case C01), quoted fields holding line breaks (C03), header names matched to
contact fields case- and punctuation-insensitively. A header that names the same column twice stops
the import with a message naming it (C05): one value never silently overwrites another.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from leadsync.common.errors import ValidationError

# normalised header -> contact field
HEADER_ALIASES: dict[str, str] = {
    "email": "email", "emailaddress": "email", "mail": "email",
    "firstname": "first_name", "first": "first_name", "givenname": "first_name",
    "lastname": "last_name", "last": "last_name", "surname": "last_name", "familyname": "last_name",
    "company": "company", "companyname": "company", "accountname": "company", "organization": "company",
    "jobtitle": "job_title", "title": "job_title",
    "phone": "phone", "phonenumber": "phone", "mobilephone": "phone", "mobile": "phone",
    "lifecyclestage": "lifecycle_stage", "leadscore": "lead_score", "score": "lead_score",
    "hubspotscore": "lead_score", "interestlevel": "lead_score",
    "street": "street", "streetaddress": "street", "address": "street", "city": "city",
    "country": "country", "countryregion": "country", "zip": "zip", "postalcode": "zip",
}


class ImportRow(msgspec.Struct, array_like=True):
    """One CSV record: ``line`` is the line number where it starts (the header is line 1)."""

    line: int
    values: list[str]


def normalise_header(name: str) -> str:
    """``" E-Mail Address"`` -> ``"emailaddress"``: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", name.strip().lower())


def map_header(header: list[str]) -> tuple[dict[int, str], list[str]]:
    """Column index -> contact field, and the header names left unmapped.

    Raises ValidationError naming the column when two columns map to the same field (case C05).
    """
    mapping: dict[int, str] = {}
    seen: dict[str, str] = {}
    unmapped: list[str] = []
    for index, name in enumerate(header):
        field = HEADER_ALIASES.get(normalise_header(name))
        if field is None:
            unmapped.append(name)
            continue
        if field in seen:
            raise ValidationError(
                f"the header names {field!r} twice: columns {seen[field]!r} and {name!r} "
                f"(column {index + 1}); remove or rename one so no value is overwritten")
        seen[field] = name
        mapping[index] = field
    if "email" not in seen:
        raise ValidationError(f"the header has no email column (found: {', '.join(header)})")
    return mapping, unmapped


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


def batches(rows: Iterable[ImportRow], size: int = 500) -> Iterator[list[ImportRow]]:
    batch: list[ImportRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


EXPORT_COLUMNS = ("id", "email", "first_name", "last_name", "company", "job_title", "phone",
                  "lifecycle_stage", "lead_score", "owner_id", "created_by", "crm_id", "sync_state")


def write_csv(handle: io.TextIOBase | Any, contacts: Iterable[dict[str, Any]]) -> int:
    """Write contacts (``contacts.list`` items) with a header row; returns the number written."""
    writer = csv.writer(handle)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for contact in contacts:
        writer.writerow(["" if contact.get(c) is None else contact.get(c) for c in EXPORT_COLUMNS])
        count += 1
    return count
