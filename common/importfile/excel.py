"""What Excel does to contact data, and reading ``.xlsx`` workbooks directly.

- The **guard apostrophe** Excel users type to keep ``+44…`` or ``00123`` as text (and that our own
  export writes before formula-like text, see :mod:`leadsync.agent.exporting`) is removed.
- **Scientific notation** (``4.41E+11``) in a phone or id column means Excel turned the number into a
  float and the digits are gone: flagged for review, the value kept as written.
- A **ZIP code shorter than 5 digits** most likely lost its leading zero (Excel read ``01067`` as a
  number): flagged, unless the row's country writes 4-digit codes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from leadsync.common.errors import ValidationError

_GUARDED = re.compile(r"^'(?=['=+\-@\t\r0-9])")
_SCIENTIFIC = re.compile(r"^[+-]?\d(?:[.,]\d+)?E\+?\d+$", re.IGNORECASE)
_SHORT_ZIP = re.compile(r"^\d{3,4}$")
# countries whose postal codes have 4 digits (a 4-digit ZIP there is right)
FOUR_DIGIT_ZIP_COUNTRIES = frozenset({
    "at", "austria", "österreich", "ch", "switzerland", "schweiz", "suisse", "be", "belgium", "belgien",
    "dk", "denmark", "dänemark", "no", "norway", "au", "australia", "nz", "new zealand", "hu", "hungary",
    "lu", "luxembourg", "si", "slovenia", "za", "south africa", "ph", "philippines", "li", "liechtenstein"})


def strip_guard(text: str) -> str:
    """``'+44 20…`` -> ``+44 20…``; text without a guard apostrophe is returned as is."""
    return text[1:] if _GUARDED.match(text) else text


def artefact(value_kind: str, text: str, country: str | None) -> tuple[str, str] | None:
    """``(kind, message)`` when ``text`` in a column of ``value_kind`` (phone, id, zip, ...) looks like
    something Excel changed; None otherwise."""
    if value_kind in ("phone", "id") and _SCIENTIFIC.match(text):
        return ("scientific_notation", "looks like Excel's scientific notation: the digits after the first few "
                "are lost; kept as written, check the source file")
    if value_kind == "zip" and _SHORT_ZIP.match(text) and (country or "").strip().lower() not in \
            FOUR_DIGIT_ZIP_COUNTRIES:
        return ("lost_leading_zero", f"a {len(text)}-digit ZIP code: Excel may have dropped a leading zero "
                f"(0{text}?); kept as written")
    return None


def xlsx_records(path: Path, sheet: str | None) -> tuple[Callable[[], Iterator[tuple[int, list[str]]]], str]:
    """A way to stream a workbook sheet's rows as ``(row number, cell texts)``, and the sheet's name.

    Opens read-only (rows stream, the workbook is not loaded whole). Numbers keep their digits
    (``441234567890``, not ``4.41E+11``); a number formatted with leading zeros (``00000``) gets them
    back; dates become ISO text. Raises ValidationError for a sheet that is not there."""
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        names = workbook.sheetnames
        if sheet is not None and sheet not in names:
            raise ValidationError(f"--sheet: {path.name} has no sheet {sheet!r} (sheets: {', '.join(names)})")
        name = sheet or names[0]
    finally:
        workbook.close()

    def records() -> Iterator[tuple[int, list[str]]]:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            for number, row in enumerate(book[name].iter_rows(), start=1):
                yield number, [cell_text(cell.value, getattr(cell, "number_format", "General")) for cell in row]
        finally:
            book.close()

    return records, name


def cell_text(value: Any, number_format: str = "General") -> str:
    """A cell's value as the text a CSV export would hold (see :func:`xlsx_records`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time() and not any(c in number_format.lower() for c in "hs"):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        value = int(value)
    if isinstance(value, int):
        text = str(value)
        if re.fullmatch(r"0+", number_format or ""):
            text = text.zfill(len(number_format))
        return text
    return str(value)
