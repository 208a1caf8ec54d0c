"""Column widths that fit the window: each column has a minimum, the space left is shared by weight.

The columns are ordered most telling first; when the window is narrower than every minimum together, the
first columns keep their minimum and the last ones scroll off the right edge (so at 80 columns the
contact table still shows name, email, owner and stage). Cells wider than their column are cut with an
ellipsis by the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey


@dataclass(frozen=True)
class FitColumn:
    """A column: ``key``, header ``label``, ``min_width`` (cells, without padding), ``weight`` of the extra space
    it takes (0: it stays at its minimum)."""

    key: str
    label: str
    min_width: int
    weight: int = 0


def fit_widths(columns: Sequence[FitColumn], width: int, *, padding: int = 1) -> dict[str, int]:
    """Each column's width for a table ``width`` cells wide (its scrollbar already taken off); ``padding`` is
    the table's cell padding on each side of a cell."""
    needed = sum(c.min_width + 2 * padding for c in columns)
    extra = max(0, width - needed)
    weights = sum(c.weight for c in columns)
    widths = {c.key: c.min_width + (extra * c.weight // weights if weights else 0) for c in columns}
    flexible = [c for c in columns if c.weight]
    if flexible:  # the cells the integer division left over go to the first flexible column
        widths[flexible[0].key] += extra - sum(widths[c.key] - c.min_width for c in columns)
    return widths


def add_columns(table: DataTable[Any], columns: Sequence[FitColumn]) -> None:
    for column in columns:
        table.add_column(column.label, key=column.key, width=column.min_width)


def fit_table(table: DataTable[Any], columns: Sequence[FitColumn]) -> None:
    """Give ``table`` the widths of :func:`fit_widths` for its current width (a vertical scrollbar kept free).
    Call it after a layout (``call_after_refresh`` from a resize): the table's size is only known then."""
    usable = table.size.width - table.styles.scrollbar_size_vertical
    widths = fit_widths(columns, usable, padding=table.cell_padding)
    changed = False
    for key, new in widths.items():
        column = table.columns.get(ColumnKey(key))
        if column is not None and column.width != new:
            column.width = new
            changed = True
    if changed:
        # DataTable has no public call for "the column widths changed": these two are what add_column does.
        table._require_update_dimensions = True
        table._clear_caches()
        table.refresh()
