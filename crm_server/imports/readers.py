"""Reading an uploaded file into a header row and data rows, whatever its kind: .xlsx, .xls and .ods
with python-calamine, .csv in UTF-8 (with or without BOM), UTF-16, or a Windows code page found by
reading the text, its delimiter sniffed.

What real sheets bring, and what happens to it:
- title rows above the header (often one merged cell across the table) are passed over: the header
  is the first row with at least two filled cells (or the first filled row of a one-column sheet);
- a header cell merged across several columns names each of them ("Phone", "Phone (2)");
  an empty header cell is named by its column letter ("Column D");
- blank rows are not rows; spaces around a value are not part of it;
- a "Total" row at the bottom (a cell reading Total, Totals, Grand total, Sum) is not data.
Each data row keeps its row number as a spreadsheet shows it (header row = its own number)."""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from crm_server.errors import ValidationFailed

Cell = str | float | int | bool | date | datetime | time | timedelta | None
CSV_SHEET = "CSV"
# Code pages tried for a .csv that is not UTF-8, in order of how common they are (a tie keeps the first).
CODE_PAGES = ("cp1252", "cp1250", "cp1251", "cp1257", "cp1254", "cp1253", "iso8859_2", "iso8859_15")
_TOTAL = re.compile(r"^\s*(grand\s+)?(totals?|sum|subtotal|total\s+general|summe|gesamt)\s*:?\s*$", re.IGNORECASE)


@dataclass
class Sheet:
    name: str
    headers: list[str]
    rows: list[tuple[int, list[Cell]]] = field(default_factory=list)  # (row number, cells)
    header_row: int = 1


def sheet_names(data: bytes, file_name: str) -> list[str]:
    kind = file_kind(file_name)
    if kind == "csv":
        return [CSV_SHEET]
    return list(_workbook(data).sheet_names)


def file_kind(file_name: str) -> str:
    lower = file_name.lower()
    for ext in ("xlsx", "xlsm", "xls", "ods", "csv", "txt"):
        if lower.endswith("." + ext):
            return "csv" if ext == "txt" else ext
    raise ValidationFailed(
        "This kind of file cannot be imported: use .xlsx, .xls, .ods or .csv.", field="file_name", code="file_type"
    )


def _workbook(data: bytes) -> Any:
    from python_calamine import CalamineWorkbook  # loaded on the first import, not at server start

    try:
        return CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises its own errors for every kind of broken file
        raise ValidationFailed(
            f"The file could not be read as a spreadsheet ({exc.__class__.__name__}); save it again and upload it.",
            field="file",
            code="unreadable_file",
        ) from None


def read(data: bytes, file_name: str, sheet: str | None) -> Sheet:
    """The sheet's header and data rows (a .csv has one sheet)."""
    if file_kind(file_name) == "csv":
        grid: list[list[Cell]] = list(_csv_rows(data))
        return _shape(CSV_SHEET, grid, [])
    book = _workbook(data)
    names = list(book.sheet_names)
    name = sheet if sheet is not None else (names[0] if names else None)
    if name is None or name not in names:
        raise ValidationFailed(f"The file has no sheet named {sheet!r}.", field="sheet", code="no_such_sheet")
    try:
        found = book.get_sheet_by_name(name)
        cells: list[list[Cell]] = found.to_python(skip_empty_area=False)
        merged = list(found.merged_cell_ranges or [])
    except Exception as exc:
        raise ValidationFailed(
            f"The sheet {name!r} could not be read ({exc.__class__.__name__}).", field="sheet", code="unreadable_file"
        ) from None
    return _shape(str(name), cells, merged)


def _blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _shape(name: str, grid: list[list[Cell]], merged: list[Any]) -> Sheet:
    width = max((len(r) for r in grid), default=0)
    filled = [sum(not _blank(c) for c in r) for r in grid]
    header_at = next((i for i, n in enumerate(filled) if n >= 2), None)
    if header_at is None:
        header_at = next((i for i, n in enumerate(filled) if n >= 1), None)
    if header_at is None:
        return Sheet(name=name, headers=[])
    raw = list(grid[header_at]) + [None] * (width - len(grid[header_at]))
    spans = [(c0, c1) for (r0, c0), (r1, c1) in merged if r0 <= header_at <= r1 and c1 > c0 and c0 < width]
    below = list(grid[header_at + 1]) + [None] * width if header_at + 1 < len(grid) else []
    # Two header rows: "Contact" merged over the "Email" and "Phone" under it. The row below names
    # the merged columns when it holds text in each of them.
    two_rows = bool(spans) and all(
        all(not _blank(below[c]) and isinstance(below[c], str) for c in range(c0, min(c1, width - 1) + 1))
        for c0, c1 in spans
    )
    for c0, c1 in spans:  # otherwise a header merged across columns names each of them
        for c in range(c0, min(c1, width - 1) + 1):
            raw[c] = below[c] if two_rows else raw[c0]
    if two_rows:
        header_at += 1
    # Columns past the last filled header cell that hold nothing are dropped.
    last = max((i for i, c in enumerate(raw) if not _blank(c)), default=-1)
    used = max([last] + [max((i for i, c in enumerate(r) if not _blank(c)), default=-1) for r in grid[header_at + 1 :]])
    raw = raw[: used + 1]
    headers = _unique([_text(c) or f"Column {_column_letter(i)}" for i, c in enumerate(raw)])
    rows: list[tuple[int, list[Cell]]] = []
    width = len(headers)
    for i in range(header_at + 1, len(grid)):
        cells = grid[i]
        grid[i] = _GONE  # each row is held once: the grid's row lets go as the sheet's row is made
        if len(cells) != width:
            cells = cells[:width] + [None] * (width - len(cells))
        if all(_blank(c) for c in cells):
            continue
        rows.append((i + 1, cells))
    while rows and _is_total(rows[-1][1]):
        rows.pop()
    return Sheet(name=name, headers=headers, rows=rows, header_row=header_at + 1)


_GONE: list[Cell] = []


def _is_total(cells: list[Cell]) -> bool:
    return any(isinstance(c, str) and _TOTAL.match(c) for c in cells)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())


# --- csv -----------------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """The text of a .csv: UTF-8 (BOM or not), UTF-16 with its BOM, else the Windows code page
    whose reading looks most like words."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best, best_score = "", None
    for page in CODE_PAGES:
        try:
            text = data.decode(page)
        except UnicodeDecodeError:
            continue
        score = _wordlike(text)
        if best_score is None or score > best_score:
            best, best_score = text, score
    return best if best_score is not None else data.decode("cp1252", errors="replace")


def _script(ch: str) -> str:
    return unicodedata.name(ch, "?").split(" ", 1)[0]


def _wordlike(text: str) -> int:
    """How much a reading looks like words: letters beyond ASCII score when they are letters of the
    script the word around them is written in; symbols and mixed scripts cost."""
    score = 0
    previous = ""
    ascii_in_word = False
    for ch in text:
        if ch.isascii():
            previous = "LATIN" if ch.isalpha() else ""
            ascii_in_word = ch.isalpha()
            continue
        if not ch.isalpha():
            score -= 2
            previous, ascii_in_word = "", False
            continue
        script = _script(ch)
        score += 1 if not previous or previous == script else -1
        # A word of letters beyond ASCII alone is more likely Cyrillic or Greek than accented Latin.
        if not ascii_in_word and script != "LATIN":
            score += 1
        previous = script
    return score


def _csv_rows(data: bytes) -> list[list[Cell]]:
    text = decode(data).replace("\x00", "")
    sample = text[:65536]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        counts = {d: sample.count(d) for d in ",;\t|"}
        delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","

        class _Dialect(csv.excel):
            pass

        _Dialect.delimiter = delimiter
        dialect = _Dialect
    return [list(r) for r in csv.reader(io.StringIO(text, newline=""), dialect)]
