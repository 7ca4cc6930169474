"""contract/spreadsheet.py's cell rules written in SQL, for the files PostgreSQL writes itself
(COPY ... TO STDOUT CSV): the same text must come out whether Python or PostgreSQL wrote the cell.

Plain SQL functions, no regular expressions: `translate` swaps each control character for U+FFFD and
`left(.., 1)` decides the quote, so a million rows cost PostgreSQL well under a second more."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, case, func, literal
from sqlalchemy.sql.elements import ColumnElement

from crm_server.contract.spreadsheet import FORMULA_STARTS, REPLACEMENT

# What an .xlsx cannot hold (spreadsheet._UNWRITABLE): PostgreSQL text never holds NUL itself.
_CONTROLS = "".join(chr(c) for c in (*range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)))


def safe_text(expression: Any) -> ColumnElement[str]:
    """spreadsheet.safe_text in SQL: control characters become U+FFFD; a formula-like start is
    quoted. NULL stays NULL (an empty cell). Replacing a control character never changes whether
    the text starts like a formula, so the first character is read before the swap."""
    cleaned = func.translate(expression, literal(_CONTROLS, String), literal(REPLACEMENT * len(_CONTROLS), String))
    starts = func.left(expression, 1).in_([literal(c, String) for c in FORMULA_STARTS])
    return case((starts, literal("'", String) + cleaned), else_=cleaned)


def utc_time(expression: Any) -> ColumnElement[str]:
    """A timestamptz as "2026-12-06 14:05:00", UTC, no zone (the header says UTC)."""
    return func.to_char(func.timezone("UTC", expression), "YYYY-MM-DD HH24:MI:SS")
