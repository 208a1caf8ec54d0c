"""One file row -> the contact's standard fields, custom fields and owner, or the reason it fails.

Per value: trimmed (a street keeps its spacing and line breaks), Excel's guard apostrophe removed and
Excel artefacts flagged (:mod:`.excel`); lead scores as whole numbers (``42``, ``42.0``, ``42,0``);
lifecycle stages as the labels CRMs export (``Marketing Qualified Lead``) or internal names
(``marketingqualifiedlead``); dates in the column's order (:mod:`.dates`); multi-valued columns as
lists (``a;b``, or ``"vip","trade show"``). A blank cell sets nothing (it never clears a value).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from typing import Any

import msgspec

from leadsync.agent import lifecycle
from leadsync.agent.importing.owners import OwnerIndex, OwnerMatch
from leadsync.agent.validation import clean_contact_fields
from leadsync.common.csvio import ImportRow
from leadsync.common.errors import ValidationError
from leadsync.common.importfile import dates
from leadsync.common.importfile.columns import OWNER, value_kind
from leadsync.common.importfile.excel import artefact, strip_guard
from leadsync.common.importfile.report import ColumnInfo, ImportReport, Problem, RowError
from leadsync.common.models import STANDARD_FIELDS

LIFECYCLE_STAGES = lifecycle.STAGES
_WHOLE = re.compile(r"^[+]?\d+(?:[.,]0+)?$")


class ParsedRow(msgspec.Struct, kw_only=True):
    """A row ready to write: ``key`` is the email match key (trimmed, lower case)."""

    line: int
    key: str
    standard: dict[str, Any]
    custom: dict[str, Any]
    owner: OwnerMatch | None = None
    owner_column: str | None = None
    owner_value: str | None = None


def split_list(text: str) -> list[str]:
    """``"a; b"`` -> ``["a", "b"]``; ``'"vip","trade show"'`` -> ``["vip", "trade show"]``."""
    if ";" in text:
        parts = text.split(";")
    elif "," in text:
        parts = next(csv.reader([text], skipinitialspace=True))
    else:
        parts = [text]
    return [p.strip() for p in parts if p.strip()]


def lifecycle_stage(text: str) -> str:
    key = re.sub(r"[^a-z]", "", text.lower())
    return key if key in LIFECYCLE_STAGES else text


def lead_score(text: str) -> int:
    if not _WHOLE.match(text):
        kind = "whole number" if re.fullmatch(r"[+-]?\d+(?:[.,]\d+)?", text) else "number"
        raise ValidationError(f"lead_score: {text!r} is not a {kind}")
    return int(re.split(r"[.,]", text.lstrip("+"))[0])


class RowReader:
    """Reads rows under one column plan; problems go to ``report`` (failed rows, warnings)."""

    def __init__(self, plan: list[ColumnInfo], report: ImportReport, owners: OwnerIndex, *,
                 date_orders: dict[str, dates.Order], zone: dt.tzinfo) -> None:
        self.plan = plan
        self.report = report
        self.owners = owners
        self.orders = date_orders
        self.zone = zone
        self.kinds = [value_kind(c.column, c.field) for c in plan]
        self.column_of = {c.field: c.column for c in plan if c.field}
        self.country_index = next((c.index for c in plan if c.field == "country"), None)
        self.pending: list[Problem] = []  # the warnings of the row being read

    def read(self, row: ImportRow) -> ParsedRow | None:
        """The parsed row, or None when it failed (reported; its warnings are not)."""
        self.pending = []
        parsed = self._read(row)
        if parsed is not None:
            self.report.warnings += self.pending
        return parsed

    def _read(self, row: ImportRow) -> ParsedRow | None:
        values = row.values
        extra = [v for v in values[len(self.plan):] if v.strip()]
        if extra:
            self._fail(row.line, None, None, f"the row has {len(values)} values but the header has "
                       f"{len(self.plan)} columns (an unquoted delimiter or a broken quote?)")
            return None
        country = values[self.country_index] if self.country_index is not None and self.country_index < len(values) \
            else None
        fields: dict[str, Any] = {}
        texts: dict[str, str] = {}  # field -> the text it was read from, to report
        owners: list[tuple[str, str]] = []
        try:
            for col in self.plan:
                raw = values[col.index] if col.index < len(values) else ""
                text = raw if col.field == "street" else raw.strip()
                if not text.strip() or col.kind in ("skipped", "managed"):
                    continue
                if col.kind == "headerless":
                    self._warn(row.line, f"column {col.index + 1} (no header)", text, "headerless_value",
                               "a value in a column without a header: not imported (add a header to keep it)")
                    continue
                text = strip_guard(text)
                found = artefact(self.kinds[col.index], text, country)
                if found:
                    self._warn(row.line, col.column, text, *found)
                if col.field == OWNER:
                    owners.append((col.column, text))
                elif col.field:
                    texts[col.field] = text
                    fields[col.field] = self._value(row.line, col, text)
            clean = clean_contact_fields(fields)
        except ValidationError as exc:
            field = exc.message.split(":", 1)[0]
            self._fail(row.line, self.column_of.get(field), texts.get(field), exc.message)
            return None
        if not clean.get("email"):
            self._fail(row.line, self.column_of.get("email"), None, "email: is required")
            return None
        parsed = ParsedRow(line=row.line, key=clean["email"].strip().lower(),
                           standard={f: clean.pop(f) for f in list(clean) if f in STANDARD_FIELDS}, custom=clean)
        if owners:
            matches = [(column, text, self.owners.match(text)) for column, text in owners]
            # a match, else the most telling problem (a queue or a deactivated owner before "no match")
            matches.sort(key=lambda m: 0 if m[2].problem is None else 2 if m[2].problem[0] == "owner_unmatched" else 1)
            parsed.owner_column, parsed.owner_value, parsed.owner = matches[0]
        return parsed

    def _value(self, line: int, col: ColumnInfo, text: str) -> Any:
        assert col.field is not None
        if col.field == "lead_score":
            return lead_score(text)
        if col.field == "lifecycle_stage":
            return lifecycle_stage(text)
        order = self.orders.get(col.column)
        if order is not None:
            try:
                return dates.parse(text, order, self.zone)
            except ValueError:
                self._warn(line, col.column, text, "not_a_date", f"not a date in this column's order ({order}): "
                           "kept as text")
        return split_list(text) if col.multi else text

    def _warn(self, line: int, column: str, value: str, kind: str, message: str) -> None:
        self.pending.append(Problem(line=line, column=column, value=value, kind=kind, message=message))

    def _fail(self, line: int, column: str | None, value: str | None, message: str) -> None:
        self.report.failed.append(RowError(line=line, column=column, value=value, message=message))
