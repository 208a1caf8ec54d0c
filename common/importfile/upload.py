"""The client side of ``leadsync import``: a file streamed to ``contacts.import`` in chunks.

The file is read twice, never whole: once to decide each date column's day/month order over every
row (:func:`.columns.decide_orders`), counting them, then to send the rows in chunks under one ``import_id`` (so
duplicates are found across chunks). A chunk stays well under the socket's frame limit. The chunk
answers add up to one answer in the :class:`.report.ImportReport` shape, with the file's detected
layout in ``file`` and its title and footer lines in ``skipped_lines``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from leadsync.common.csvio import ImportRow
from leadsync.common.importfile import dates
from leadsync.common.importfile.columns import decide_orders, plan_columns
from leadsync.common.importfile.reading import open_table
from leadsync.common.importfile.report import merge_answers
from leadsync.common.rpc import MAX_FRAME_BYTES

CHUNK_BYTES = MAX_FRAME_BYTES // 4
CHUNK_ROWS = 2000
Call = Callable[[str, dict[str, Any]], Any]
# (rows answered so far, rows in the file): called once before the first chunk and after each
Progress = Callable[[int, int], None]


def chunks(rows: Iterable[ImportRow], *, max_bytes: int = CHUNK_BYTES, max_rows: int = CHUNK_ROWS
           ) -> Iterator[list[ImportRow]]:
    """Rows in lists of at most ``max_rows`` rows and about ``max_bytes`` of JSON (a longer single row
    goes alone)."""
    batch: list[ImportRow] = []
    size = 0
    for row in rows:
        cost = 16 + sum(len(v.encode()) + 4 for v in row.values)
        if batch and (size + cost > max_bytes or len(batch) >= max_rows):
            yield batch
            batch, size = [], 0
        batch.append(row)
        size += cost
    if batch:
        yield batch


def import_file(call: Call, path: str, *, as_user: int | str, dry_run: bool = False,
                mapping: dict[str, str] | None = None, skip: list[str] | None = None, date_format: str | None = None,
                sheet: str | None = None, encoding: str | None = None,
                progress: Progress | None = None) -> dict[str, Any]:
    """Import (or preview) a CSV or ``.xlsx`` file through ``call`` (method, params -> answer);
    ``progress`` hears how many rows were answered (see :data:`Progress`).

    Raises ValidationError for a file or option that cannot be imported, before anything is sent;
    whatever ``call`` or ``progress`` raises stops the import there (chunks already sent stay)."""
    table = open_table(path, sheet=sheet, encoding=encoding)
    plan = plan_columns(table.header, mapping=mapping, skip=skip)
    fallback = dates.parse_date_format(date_format) if date_format else None
    count = [0]
    orders = decide_orders(plan, _counted(table.rows(), count), fallback)
    done, rows = 0, count[0]
    if progress is not None:
        progress(done, rows)
    params: dict[str, Any] = {"as_user": as_user, "header": table.header, "dry_run": dry_run,
                              "import_id": uuid.uuid4().hex, "mapping": mapping, "skip": skip,
                              "date_format": date_format, "date_columns": orders}
    total: dict[str, Any] | None = None
    for batch, last in _with_last(chunks(table.rows(), max_bytes=CHUNK_BYTES, max_rows=CHUNK_ROWS)):
        total = merge_answers(total, call("contacts.import", {**params, "last": last,
                                                             "rows": [[r.line, r.values] for r in batch]}))
        done += len(batch)
        if progress is not None:
            progress(done, rows)
    if total is None:  # a header and no rows: the agent still checks the header and shows the plan
        total = call("contacts.import", {**params, "rows": [], "last": True})
    total["skipped_lines"] = [*total.get("skipped_lines", []),
                              *({"line": p.line, "column": p.column, "value": p.value, "message": p.message,
                                 "kind": p.kind} for p in table.skipped)]
    total["skipped"] = total.get("skipped", 0) + sum(1 for p in table.skipped if p.kind != "sep_line")
    total["file"] = {"name": table.path.name, "encoding": table.encoding, "delimiter": table.delimiter,
                     "header_line": table.header_line, "sheet": table.sheet}
    return total


def _with_last(batches: Iterator[list[ImportRow]]) -> Iterator[tuple[list[ImportRow], bool]]:
    """Each batch with whether it is the last one (one batch of lookahead)."""
    current = next(batches, None)
    while current is not None:
        following = next(batches, None)
        yield current, following is None
        current = following


def _counted(rows: Iterable[ImportRow], count: list[int]) -> Iterator[ImportRow]:
    for row in rows:
        count[0] += 1
        yield row
