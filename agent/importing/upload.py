"""The client side of ``leadsync import``: a file streamed to ``contacts.import`` in chunks.

The file is read twice, never whole: once to decide each date column's day/month order over every
row (:func:`.values.decide_orders`), then to send the rows in chunks under one ``import_id`` (so
duplicates are found across chunks). A chunk stays well under the socket's frame limit. The chunk
answers add up to one answer in the :class:`.report.ImportReport` shape, with the file's detected
layout in ``file`` and its title and footer lines in ``skipped_lines``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from leadsync.agent.importing import dates
from leadsync.agent.importing.columns import plan_columns
from leadsync.agent.importing.reading import open_table
from leadsync.agent.importing.report import merge_answers
from leadsync.agent.importing.values import decide_orders
from leadsync.common.csvio import ImportRow
from leadsync.common.rpc import MAX_FRAME_BYTES

CHUNK_BYTES = MAX_FRAME_BYTES // 4
CHUNK_ROWS = 2000
Call = Callable[[str, dict[str, Any]], Any]


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


def import_file(call: Call, path: str, *, as_user: str, dry_run: bool = False, mapping: dict[str, str] | None = None,
                skip: list[str] | None = None, date_format: str | None = None, sheet: str | None = None,
                encoding: str | None = None) -> dict[str, Any]:
    """Import (or preview) a CSV or ``.xlsx`` file through ``call`` (method, params -> answer).

    Raises ValidationError for a file or option that cannot be imported, before anything is sent."""
    table = open_table(path, sheet=sheet, encoding=encoding)
    plan = plan_columns(table.header, mapping=mapping, skip=skip)
    fallback = dates.parse_date_format(date_format) if date_format else None
    orders = decide_orders(plan, table.rows(), fallback)
    params: dict[str, Any] = {"as_user": as_user, "header": table.header, "dry_run": dry_run,
                              "import_id": uuid.uuid4().hex, "mapping": mapping, "skip": skip,
                              "date_format": date_format, "date_columns": orders}
    total: dict[str, Any] | None = None
    for batch in chunks(table.rows(), max_bytes=CHUNK_BYTES, max_rows=CHUNK_ROWS):
        total = merge_answers(total, call("contacts.import", {**params, "rows": [[r.line, r.values] for r in batch]}))
    if total is None:  # a header and no rows: the agent still checks the header and shows the plan
        total = call("contacts.import", {**params, "rows": []})
    total["skipped_lines"] = [*total.get("skipped_lines", []),
                              *({"line": p.line, "column": p.column, "value": p.value, "message": p.message,
                                 "kind": p.kind} for p in table.skipped)]
    total["skipped"] = total.get("skipped", 0) + sum(1 for p in table.skipped if p.kind != "sep_line")
    total["file"] = {"name": table.path.name, "encoding": table.encoding, "delimiter": table.delimiter,
                     "header_line": table.header_line, "sheet": table.sheet}
    return total
