"""How every export writes a cell, on the server (leads .xlsx, audit.csv) and on the desktop
(crm_desktop/widgets/excel_export.py): text stays text.

Text from outside (a website form, a Facebook lead, an e-mail) may look like a formula. As OWASP's
"CSV Injection" page advises, a text cell that starts with = + - @, a tab or a carriage return gets a
single quote in front, so a spreadsheet shows it and never runs it; in .xlsx the cell is also typed
as a string, so it is never a formula. Characters an .xlsx cannot hold (control characters other
than tab, line feed and carriage return: openpyxl refuses them) become U+FFFD, never a failed export.
Numbers, dates and empty cells are written as they are."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
REPLACEMENT = "\ufffd"
# What XML 1.0 (and so openpyxl) cannot hold; tab, line feed and carriage return are fine.
_UNWRITABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def safe_text(value: str) -> str:
    """`value` as a harmless text cell: unwritable characters replaced, a formula-like start quoted."""
    cleaned = _UNWRITABLE.sub(REPLACEMENT, value)
    return "'" + cleaned if cleaned.startswith(FORMULA_STARTS) else cleaned


def csv_row(values: Iterable[Any]) -> list[Any]:
    """A row for csv.writer: text neutralised, everything else as it is."""
    return [safe_text(v) if isinstance(v, str) else v for v in values]


def xlsx_row(sheet: Any, values: Iterable[Any]) -> list[Any]:
    """A row for an openpyxl sheet (write-only too): each text is a cell typed as a string."""
    from openpyxl.cell import WriteOnlyCell

    row: list[Any] = []
    for value in values:
        if isinstance(value, str):
            cell = WriteOnlyCell(sheet, value=safe_text(value))
            cell.data_type = "s"  # a string, whatever it looks like: never a formula
            row.append(cell)
        else:
            row.append(value)
    return row
