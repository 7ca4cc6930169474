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
from collections.abc import Callable, Iterator
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
    count: int = 0  # data rows
    end: int = -1  # the grid index of the last data row


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


@dataclass
class _Source:
    """A sheet's rows, readable more than once without holding them all as Python objects: the grid
    from the top row and from column A (what to_python(skip_empty_area=False) would give)."""

    name: str
    merged: list[Any]
    rows: Callable[[], Iterator[list[Cell]]]


def _source(data: bytes, file_name: str, sheet: str | None) -> _Source:
    if file_kind(file_name) == "csv":
        grid: list[list[Cell]] = list(_csv_rows(data))
        return _Source(CSV_SHEET, [], lambda: iter(grid))
    book = _workbook(data)
    names = list(book.sheet_names)
    name = sheet if sheet is not None else (names[0] if names else None)
    if name is None or name not in names:
        raise ValidationFailed(f"The file has no sheet named {sheet!r}.", field="sheet", code="no_such_sheet")
    try:
        found = book.get_sheet_by_name(name)
        merged = list(found.merged_cell_ranges or [])
        start, end = found.start, found.end
    except Exception as exc:
        raise _unreadable(str(name), exc) from None
    if start is None or end is None:
        return _Source(str(name), merged, lambda: iter([]))
    top = end[0] + 1  # iter_rows gives the rows from the top, the columns from the first used one

    def rows() -> Iterator[list[Cell]]:
        try:
            produced = found.iter_rows()
            first = next(produced, None)
            if first is None:
                return
            left = [""] * (end[1] + 1 - len(first))
            yield left + first if left else first
            for row in produced:
                yield left + row if left else row
        except Exception as exc:
            raise _unreadable(str(name), exc) from None

    probe = sum(1 for _ in rows())
    if probe != top:  # a calamine that starts at the first used row: the rows above it are blank
        above = top - probe
        inner = rows

        def rows() -> Iterator[list[Cell]]:
            for _ in range(above):
                yield []
            yield from inner()

    return _Source(str(name), merged, rows)


def _unreadable(name: str, exc: Exception) -> ValidationFailed:
    return ValidationFailed(
        f"The sheet {name!r} could not be read ({exc.__class__.__name__}).", field="sheet", code="unreadable_file"
    )


def read(data: bytes, file_name: str, sheet: str | None) -> Sheet:
    """The sheet's header and data rows (a .csv has one sheet)."""
    source = _source(data, file_name, sheet)
    found = _layout(source)
    found.rows = list(rows_of(source, found))
    return found


def open_sheet(data: bytes, file_name: str, sheet: str | None) -> tuple[Sheet, Iterator[tuple[int, list[Cell]]]]:
    """The sheet's header and its number of data rows (`count`; `rows` stays empty), and an
    iterator over its data rows: a large sheet is never held whole as Python objects."""
    source = _source(data, file_name, sheet)
    found = _layout(source)
    return found, rows_of(source, found)


def _blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _last_filled(row: list[Cell]) -> int:
    for i in range(len(row) - 1, -1, -1):
        if not _blank(row[i]):
            return i
    return -1


_TRAILING = 64  # the last rows kept by the first pass, for the totals at the bottom


def _layout(source: _Source) -> Sheet:
    """The first pass over the rows: the header (title rows above it passed over, merged cells
    named), the columns in use, the number of data rows and where they end (blank rows and a total
    row at the bottom are not data)."""
    name, merged = source.name, source.merged
    width = 0
    first_one: int | None = None
    first_two: int | None = None
    kept: dict[int, list[Cell]] = {}
    last_filled: list[int] = []
    for i, row in enumerate(source.rows()):
        width = max(width, len(row))
        last = _last_filled(row)
        last_filled.append(last)
        if last >= 0 and (first_two is None or i <= first_two + 1):
            filled = sum(not _blank(c) for c in row)
            if first_one is None and filled >= 1:
                first_one = i
            if first_two is None and filled >= 2:
                first_two = i
        if (first_one is not None and i <= first_one + 2) or (first_two is not None and i <= first_two + 2):
            kept[i] = row
    header_at = first_two if first_two is not None else first_one
    if header_at is None:
        return Sheet(name=name, headers=[])
    raw = list(kept[header_at]) + [None] * (width - len(kept[header_at]))
    spans = [(c0, c1) for (r0, c0), (r1, c1) in merged if r0 <= header_at <= r1 and c1 > c0 and c0 < width]
    below = list(kept.get(header_at + 1, [])) + [None] * width if header_at + 1 < len(last_filled) else []
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
    used = max([last, *last_filled[header_at + 1 :]])
    raw = raw[: used + 1]
    headers = _unique([_text(c) or f"Column {_column_letter(i)}" for i, c in enumerate(raw)])
    data = [i for i in range(header_at + 1, len(last_filled)) if last_filled[i] >= 0]
    found = Sheet(name=name, headers=headers, header_row=header_at + 1)
    found.end = data[-1] if data else header_at
    found.count = len(data)
    if data:
        # A total row at the bottom (or several) is not data: the last rows are read again to see.
        tail = set(data[-_TRAILING:])
        totals = 0
        trailing = [(i, row) for i, row in enumerate(source.rows()) if i in tail]
        for i, row in reversed(trailing):
            if not _is_total(row):
                found.end = i
                break
            totals += 1
        else:
            found.end = data[-len(trailing) - 1] if len(data) > len(trailing) else header_at
        found.count -= totals
    return found


def rows_of(source: _Source, sheet: Sheet) -> Iterator[tuple[int, list[Cell]]]:
    """The data rows (row number as a spreadsheet shows it, cells under the headers), from the top."""
    width = len(sheet.headers)
    if not width:
        return
    for i, row in enumerate(source.rows()):
        if i < sheet.header_row:
            continue
        if i > sheet.end:
            break
        cells = row[:width] if len(row) >= width else row + [None] * (width - len(row))
        if all(_blank(c) for c in cells):
            continue
        yield i + 1, cells


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
